//! Mutual TLS for service clients: a node started with a certificate and a
//! client CA answers a client presenting a certificate that CA signed, and
//! refuses one with no certificate, one with a certificate of another CA,
//! and one speaking plain HTTP/2.

mod common;

use std::time::Duration;

use common::ServerThread;
use incontra_proto::matching::v1 as pb;
use incontra_proto::matching::v1::match_service_client::MatchServiceClient;
use incontra_services::node::{NodeOptions, TlsFiles};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// A certificate and its key, in PEM.
struct Pem {
    cert: String,
    key: String,
}

fn ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
}

fn signed(ca: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> Pem {
    let key = KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let cert = CertificateParams::new(names)
        .expect("params")
        .signed_by(&key, ca)
        .expect("certificate");
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// One `GetStatus` over TLS, presenting `identity`; the error if the
/// handshake or the call fails.
async fn status(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    identity: Option<&Pem>,
) -> Result<pb::GetStatusResponse, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some(id) = identity {
        tls = tls.identity(Identity::from_pem(&id.cert, &id.key));
    }
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{}", addr.port()))
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    MatchServiceClient::new(channel)
        .get_status(pb::GetStatusRequest::default())
        .await
        .map(|r| r.into_inner())
        .map_err(|e| format!("call: {e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_clients_with_a_certificate_of_the_client_ca_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server_ca = ca();
    let client_ca = ca();
    let server = signed(&server_ca, &["localhost", "127.0.0.1"]);
    let producer = signed(&client_ca, &["sil-producer"]);
    let rogue = signed(&ca(), &["rogue"]);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let mut options = NodeOptions::new(dir.path().join("data"));
    options.tls = Some(TlsFiles {
        cert: write("server.pem", &server.cert),
        key: write("server.key", &server.key),
        client_ca: Some(write("clients-ca.pem", &client_ca.pem())),
    });
    let node = ServerThread::start(options);
    let ca_pem = server_ca.pem();

    let served = status(node.addr, &ca_pem, Some(&producer)).await;
    assert!(served.is_ok(), "a client of the CA: {served:?}");
    let anonymous = status(node.addr, &ca_pem, None).await;
    assert!(anonymous.is_err(), "no client certificate was served");
    let foreign = status(node.addr, &ca_pem, Some(&rogue)).await;
    assert!(foreign.is_err(), "another CA's certificate was served");
    let plain = Endpoint::from_shared(format!("http://{}", node.addr))
        .expect("endpoint")
        .timeout(Duration::from_secs(5));
    let plain = match plain.connect().await {
        Ok(channel) => MatchServiceClient::new(channel)
            .get_status(pb::GetStatusRequest::default())
            .await
            .map(|_| ()),
        Err(e) => Err(tonic::Status::unavailable(e.to_string())),
    };
    assert!(plain.is_err(), "plain HTTP/2 was served");
    node.stop().expect("clean stop");
}
