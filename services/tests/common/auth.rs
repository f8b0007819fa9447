//! Helpers of the tests that call with tokens: a client that sends a
//! bearer token, and a node with authentication loaded with the small world.

use incontra_proto::events::v1 as ev;
use incontra_proto::matching::v1::match_service_client::MatchServiceClient;
use incontra_services::auth::LocalIssuer;
use incontra_services::node::NodeOptions;
use incontra_services::policy::Role;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::{channel, small_dataset, ServerThread};

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<String>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| tonic::Status::internal("token is not ASCII"))?;
            r.metadata_mut().insert("authorization", value);
        }
        Ok(r)
    }
}

pub type AuthClient = MatchServiceClient<InterceptedService<Channel, Bearer>>;

pub async fn client(addr: std::net::SocketAddr, token: Option<String>) -> AuthClient {
    MatchServiceClient::with_interceptor(channel(addr).await, Bearer(token))
        .max_decoding_message_size(64 << 20)
}

/// A node with authentication from the data directory's local key, loaded
/// with the small world by a producer.
pub async fn start(dir: &std::path::Path) -> (ServerThread, LocalIssuer) {
    let issuer = LocalIssuer::open_or_create(dir).expect("local issuer");
    let mut options = NodeOptions::new(dir);
    options.as_of = Some(small_dataset().today);
    options.auth_config = Some(issuer.config_path.clone());
    let server = ServerThread::start(options);
    (server, issuer)
}

pub async fn load(server: &ServerThread, issuer: &LocalIssuer) {
    let token = issuer
        .token("sil-producer", &[Role::Producer], &[], 600)
        .expect("token");
    let mut c = client(server.addr, Some(token)).await;
    for chunk in small_dataset().events.chunks(2_000) {
        let r = c
            .ingest(tokio_stream::iter(chunk.to_vec()))
            .await
            .expect("Ingest by a producer")
            .into_inner();
        assert!(r.rejected.is_empty(), "{:?}", r.rejected.first());
    }
}

pub fn purpose() -> Option<ev::Requester> {
    Some(ev::Requester {
        purpose: "preselezione per l'offerta".into(),
        ..Default::default()
    })
}

/// An open vacancy of the small world with room for two hires and a full
/// CP2011 code (no reserved quota), and the CPI whose catchment holds it.
pub fn open_vacancy() -> (String, ev::Vacancy, String) {
    let data = small_dataset();
    let specs = super::vacancy_specs(&data.events);
    let (id, spec) = data
        .vacancy_ids
        .iter()
        .filter_map(|id| specs.get(id).map(|v| (id.clone(), v.clone())))
        .find(|(_, v)| {
            v.reserved_quota == 0
                && v.valid_until_day >= data.today
                && v.positions >= 2
                && v.profession_code.len() >= 9
        })
        .expect("an open vacancy with two positions");
    let cpi = super::reference()
        .comune(&spec.workplace_comune)
        .expect("comune")
        .cpi_code
        .clone();
    (id, spec, cpi)
}

/// A registration of `id` that fits `spec` as well as anybody can.
pub fn perfect_fit(
    id: &str,
    personal: ev::PersonalData,
    spec: &ev::Vacancy,
    cpi: &str,
) -> ev::Envelope {
    let today = small_dataset().today;
    ev::Envelope {
        event_id: format!("registration-{id}"),
        entity_id: id.into(),
        entity_version: 1,
        occurred_at_ms: i64::from(today - 30) * 86_400_000,
        source: "SILP".into(),
        schema_version: 1,
        payload: Some(ev::envelope::Payload::Candidacy(ev::CandidacyEvent {
            kind: Some(ev::candidacy_event::Kind::Registered(
                ev::CandidacyRegistered {
                    personal: Some(personal),
                    did_day: today - 30,
                    profile: Some(ev::CandidateProfile {
                        domicile_comune: spec.workplace_comune.clone(),
                        max_distance_km: 30,
                        desired_professions: vec![spec.profession_code.clone()],
                        experience: vec![ev::WorkExperience {
                            profession_code: spec.profession_code.clone(),
                            months: 120,
                            ..Default::default()
                        }],
                        skills: spec.required_skills.clone(),
                        cpi_code: cpi.to_owned(),
                        summary: spec.title.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )),
        })),
    }
}
