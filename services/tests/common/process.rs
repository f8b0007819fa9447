//! The real `incontra` binary as a child process: started on a free port,
//! waited for until SERVING, stopped by SIGINT or SIGKILL.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use incontra_engine::model::Day;
use tonic::transport::Endpoint;

use super::{Client, DEADLINE};

/// A running `incontra serve`; killed (and its log shown, if the test is
/// failing) when dropped.
pub struct Server {
    child: std::process::Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts `incontra serve` on `data_dir` and waits until it reports
    /// SERVING.
    pub async fn start(data_dir: &Path, today: Day, log: &Path) -> (Server, Client) {
        Server::start_with(data_dir, today, log, &[]).await
    }

    /// As [`Server::start`], with more arguments for `incontra serve`.
    /// A Kafka replica reports SERVING only once caught up, so this also
    /// waits for that.
    pub async fn start_with(
        data_dir: &Path,
        today: Day,
        log: &Path,
        extra: &[String],
    ) -> (Server, Client) {
        let mut last_error = String::new();
        for _attempt in 0..5 {
            let mut server = Server::spawn(data_dir, today, log, extra);
            match server.wait_serving().await {
                Ok(()) => {
                    let client = super::client(server.addr).await;
                    return (server, client);
                }
                // Someone took the port between our probe and the bind.
                Err(e) if e.contains("in use") => last_error = e,
                Err(e) => panic!("incontra serve did not come up: {e}\n{}", server.log_tail()),
            }
        }
        panic!("incontra serve could not bind a port: {last_error}");
    }

    /// Starts `incontra serve` without waiting for anything.
    pub fn spawn(data_dir: &Path, today: Day, log: &Path, extra: &[String]) -> Server {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let child = Command::new(env!("CARGO_BIN_EXE_incontra"))
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--as-of")
            .arg(super::iso_day(today))
            .args(extra)
            .env("RUST_LOG", "info,tantivy=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("spawning incontra serve");
        Server {
            child,
            addr,
            log: log.to_owned(),
        }
    }

    /// The gRPC health status of `service` ("" for the whole server), or
    /// `None` while the server does not answer.
    pub async fn health(&self, service: &str) -> Option<i32> {
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::HealthCheckRequest;
        let channel = Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(5))
            .connect()
            .await
            .ok()?;
        HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .ok()
            .map(|r| r.into_inner().status)
    }

    pub async fn wait_serving(&mut self) -> Result<(), String> {
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::HealthCheckRequest;
        let endpoint = Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(5));
        let started = Instant::now();
        while started.elapsed() < DEADLINE {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Err(format!("exited with {status}: {}", self.log_tail()));
            }
            if let Ok(channel) = endpoint.connect().await {
                let r = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: "incontra.match.v1.MatchService".into(),
                    })
                    .await;
                if r.is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("not SERVING within {DEADLINE:?}"))
    }

    /// SIGKILL: no shutdown hook runs.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGINT, as Ctrl-C: the server stops serving, commits and snapshots.
    pub async fn stop_clean(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -INT {pid} failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "clean stop exited with {status}");
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "incontra did not stop within {DEADLINE:?} of SIGINT"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(8_000)));
            let _ = f.read_to_string(&mut text);
        }
        format!("--- server log tail ---\n{text}")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probing a free port")
        .port()
}
