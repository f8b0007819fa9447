//! A real Kafka-protocol broker for the tests: `tansu` with in-memory
//! storage, started on a free 127.0.0.1 port and killed when dropped.
//!
//! The binary is found through `INCONTRA_TANSU`, then the cache that
//! `scripts/install-test-deps` fills (`INCONTRA_CACHE`, by default
//! `~/.cache/incontra`), then `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::process::free_port;
use super::DEADLINE;

pub const TANSU_VERSION: &str = "0.6.0";

pub fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("INCONTRA_TANSU") {
        return PathBuf::from(path);
    }
    let cached = super::cache_dir().join(format!("tansu-{TANSU_VERSION}-dynostore/bin/tansu"));
    if cached.exists() {
        return cached;
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v tansu"]).output() {
        if out.status.success() {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!(
        "no tansu broker found: run scripts/install-test-deps (cargo install tansu@{TANSU_VERSION} \
         --features dynostore, about 15 minutes) or set INCONTRA_TANSU"
    );
}

pub struct Broker {
    child: Child,
    pub bootstrap: String,
    log: PathBuf,
}

impl Broker {
    /// Starts a broker and waits until it answers a metadata request.
    pub fn start(log: &Path) -> Broker {
        let binary = tansu_binary();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log_file = std::fs::File::create(log).expect("broker log");
        let child = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone().expect("log handle")))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut broker = Broker {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
            log: log.to_owned(),
        };
        broker.wait_ready();
        broker
    }

    fn wait_ready(&mut self) {
        let consumer: BaseConsumer = self
            .config()
            .set("group.id", "incontra-test-probe")
            .create()
            .expect("probe consumer");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("tansu exited with {status}: {}", self.log_tail());
            }
            if consumer
                .fetch_metadata(None, Duration::from_secs(1))
                .is_ok_and(|m| !m.brokers().is_empty())
            {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "tansu did not answer within {DEADLINE:?}: {}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        c
    }

    pub async fn create_topics(&self, names: &[&str], partitions: i32) {
        let admin: AdminClient<DefaultClientContext> =
            self.config().create().expect("admin client");
        let topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
            .collect();
        let results = admin
            .create_topics(
                &topics,
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .expect("create_topics");
        for r in results {
            if let Err((topic, code)) = r {
                panic!("creating topic {topic}: {code:?}");
            }
        }
    }

    pub fn producer(&self) -> FutureProducer {
        self.config()
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .create()
            .expect("producer")
    }

    /// Produces `(topic, key, value)` and waits for every acknowledgement.
    pub async fn produce(&self, producer: &FutureProducer, messages: &[(String, String, Vec<u8>)]) {
        let mut pending = Vec::with_capacity(messages.len());
        for (topic, key, value) in messages {
            let record = FutureRecord::to(topic).key(key.as_bytes()).payload(value);
            pending.push(producer.send_result(record).expect("enqueue"));
            // Keep the in-flight window bounded.
            if pending.len() >= 10_000 {
                for p in pending.drain(..) {
                    p.await.expect("delivery").expect("acknowledged");
                }
            }
        }
        for p in pending {
            p.await.expect("delivery").expect("acknowledged");
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: String = text
            .chars()
            .rev()
            .take(4_000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("--- broker log tail ---\n{tail}")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}
