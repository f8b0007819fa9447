//! Helpers shared by the integration tests: the generated demo data, an
//! in-process server on its own thread and runtime, gRPC clients over real
//! TCP, and bounded waits.
//!
//! Every wait here has a deadline; every RPC has a per-request timeout.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod auth;
pub mod broker;
pub mod process;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use incontra_datagen::{Generator, GeneratorConfig};
use incontra_engine::model::Day;
use incontra_engine::reference::ReferenceData;
use incontra_proto::events::v1::{self as ev, envelope::Payload, Envelope};
use incontra_proto::matching::v1 as pb;
use incontra_proto::matching::v1::match_service_client::MatchServiceClient;
use incontra_services::node::{Node, NodeOptions};
use tonic::transport::{Channel, Endpoint};

/// Longest any single wait or RPC may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub type Client = MatchServiceClient<Channel>;

/// Where `scripts/install-test-deps` keeps the test broker and Python venv.
pub fn cache_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("INCONTRA_CACHE") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    std::path::Path::new(&home).join(".cache/incontra")
}

/// The embedded reference data, parsed once per test binary.
pub fn reference() -> Arc<ReferenceData> {
    static REFERENCE: OnceLock<Arc<ReferenceData>> = OnceLock::new();
    REFERENCE
        .get_or_init(|| Arc::new(ReferenceData::embedded().expect("embedded reference data")))
        .clone()
}

/// The small generated world, in stream order, with a few facts about it.
pub struct Dataset {
    pub today: Day,
    pub events: Vec<Envelope>,
    pub vacancy_ids: Vec<String>,
    pub candidate_ids: Vec<String>,
}

/// `GeneratorConfig::small()`'s events, generated once per test binary.
pub fn small_dataset() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let reference = reference();
        let today = GeneratorConfig::small().today;
        let generator = Generator::new(&reference, GeneratorConfig::small());
        let events: Vec<Envelope> = generator.events().collect();
        let mut vacancies = BTreeSet::new();
        let mut candidates = BTreeSet::new();
        for e in &events {
            match &e.payload {
                Some(Payload::Vacancy(ev::VacancyEvent {
                    kind: Some(ev::vacancy_event::Kind::Published(_)),
                })) => {
                    vacancies.insert(e.entity_id.clone());
                }
                Some(Payload::Candidacy(ev::CandidacyEvent {
                    kind: Some(ev::candidacy_event::Kind::Registered(_)),
                })) => {
                    candidates.insert(e.entity_id.clone());
                }
                _ => {}
            }
        }
        assert!(!events.is_empty(), "the generator produced no events");
        Dataset {
            today,
            events,
            vacancy_ids: vacancies.into_iter().collect(),
            candidate_ids: candidates.into_iter().collect(),
        }
    })
}

/// A [`Day`] as `YYYY-MM-DD`, the form `--as-of` takes.
pub fn iso_day(day: Day) -> String {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (epoch + chrono::Duration::days(i64::from(day)))
        .format("%Y-%m-%d")
        .to_string()
}

/// Opens a channel to `addr`, retrying until the deadline.
pub async fn channel(addr: SocketAddr) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .timeout(DEADLINE);
    let started = Instant::now();
    loop {
        match endpoint.connect().await {
            Ok(channel) => return channel,
            Err(e) if started.elapsed() < DEADLINE => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("could not connect to {addr} within {DEADLINE:?}: {e}"),
        }
    }
}

pub async fn client(addr: SocketAddr) -> Client {
    MatchServiceClient::new(channel(addr).await)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// One client-streaming `Ingest` call carrying `events`.
pub async fn ingest(
    client: &mut Client,
    events: &[Envelope],
) -> Result<pb::IngestResponse, tonic::Status> {
    let stream = tokio_stream::iter(events.to_vec());
    client.ingest(stream).await.map(|r| r.into_inner())
}

/// Ingests `events` in calls of `per_call`, asserting each call accepts
/// everything it carried.
pub async fn ingest_all(client: &mut Client, events: &[Envelope], per_call: usize) -> u64 {
    let mut position = 0;
    for chunk in events.chunks(per_call) {
        let r = ingest(client, chunk).await.expect("Ingest");
        assert!(
            r.rejected.is_empty(),
            "generated events rejected: {:?}",
            &r.rejected[..r.rejected.len().min(5)]
        );
        assert_eq!(r.accepted, chunk.len() as u64, "accepted of one call");
        position = r.journal_position;
    }
    position
}

pub async fn status(client: &mut Client) -> pb::GetStatusResponse {
    client
        .get_status(pb::GetStatusRequest {
            include_digest: true,
        })
        .await
        .expect("GetStatus")
        .into_inner()
}

/// The ids and scores of a preselection list, for comparing two lists.
pub fn list_key(list: &pb::MatchCandidatesResponse) -> Vec<(String, f64)> {
    list.matches
        .iter()
        .map(|m| (m.candidate_id.clone(), m.score))
        .collect()
}

/// A `MatchService` (with health and reflection) served in-process on
/// 127.0.0.1:0, on a thread of its own with its own runtime, so it outlives
/// any one test's runtime and never depends on a test's futures being `Send`.
pub struct ServerThread {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    done: std::sync::Mutex<std::sync::mpsc::Receiver<Result<(), String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    pub fn start(options: NodeOptions) -> ServerThread {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("incontra-test-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("server runtime");
                let result = runtime.block_on(async move {
                    let node = match Node::open(&options) {
                        Ok(node) => node,
                        Err(e) => {
                            let _ = addr_tx.send(Err(format!("{e:#}")));
                            return Err(format!("{e:#}"));
                        }
                    };
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = addr_tx.send(Err(e.to_string()));
                            return Err(e.to_string());
                        }
                    };
                    let addr = listener.local_addr().expect("local addr");
                    let _ = addr_tx.send(Ok(addr));
                    incontra_services::server::serve_on(&node, listener, async {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .map_err(|e| format!("{e:#}"))
                });
                let _ = done_tx.send(result);
            })
            .expect("spawning the server thread");
        let addr = addr_rx
            .recv_timeout(DEADLINE)
            .expect("server did not start in time")
            .expect("server failed to start");
        ServerThread {
            addr,
            shutdown: Some(shutdown_tx),
            done: std::sync::Mutex::new(done_rx),
            thread: Some(thread),
        }
    }

    /// Stops serving (which commits the index and writes a snapshot) and
    /// waits, with a deadline, for the thread to finish.
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), String> {
        let Some(shutdown) = self.shutdown.take() else {
            return Ok(());
        };
        let _ = shutdown.send(());
        let done = match self.done.lock() {
            Ok(done) => done.recv_timeout(DEADLINE),
            Err(_) => return Err("server handle poisoned".into()),
        };
        match done {
            Ok(result) => {
                // The thread sent its result as its last act.
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
                result
            }
            Err(e) => Err(format!("server did not stop within {DEADLINE:?}: {e}")),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        // Best effort; a test that cares calls `stop` and checks the result.
        let _ = self.stop_inner();
    }
}

/// Node options for a test node pinned to the generated world's date.
pub fn node_options(dir: &std::path::Path, today: Day) -> NodeOptions {
    let mut options = NodeOptions::new(dir);
    options.as_of = Some(today);
    options
}

/// Highest `entity_version` per `entity_id` seen in `events` (CO entities
/// upper-cased, as codici fiscali are case-insensitive).
pub fn max_versions(events: &[Envelope]) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for e in events {
        let key = match e.payload {
            Some(Payload::Co(_)) => e.entity_id.trim().to_ascii_uppercase(),
            _ => e.entity_id.clone(),
        };
        let v = out.entry(key).or_default();
        *v = (*v).max(e.entity_version);
    }
    out
}

/// The latest published or updated spec of every vacancy in `events`.
pub fn vacancy_specs(events: &[Envelope]) -> HashMap<String, ev::Vacancy> {
    let mut specs = HashMap::new();
    for e in events {
        if let Some(Payload::Vacancy(ev::VacancyEvent {
            kind: Some(ev::vacancy_event::Kind::Published(v) | ev::vacancy_event::Kind::Updated(v)),
        })) = &e.payload
        {
            specs.insert(e.entity_id.clone(), v.clone());
        }
    }
    specs
}
