//! Settings of the Kafka source and the client configuration they become.

use std::time::Duration;

use rdkafka::ClientConfig;

/// The event topics: the three streams, and the lists the replicas issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub vacancies: String,
    pub candidacies: String,
    pub co: String,
    /// Issued lists (`ListIssued`), written by the replicas themselves.
    pub lists: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            vacancies: "incontra.vacancies.v1".into(),
            candidacies: "incontra.candidacies.v1".into(),
            co: "incontra.co.v1".into(),
            lists: "incontra.lists.v1".into(),
        }
    }
}

impl Topics {
    pub fn all(&self) -> [&str; 4] {
        [&self.vacancies, &self.candidacies, &self.co, &self.lists]
    }
}

#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    pub topics: Topics,
    /// librdkafka properties passed through to both the consumer and the
    /// dead-letter producer, applied last so they win (`security.protocol`,
    /// `sasl.mechanism`, `sasl.username`, `ssl.ca.location`, ...).
    pub client_config: Vec<(String, String)>,
    /// A batch closes at this many messages...
    pub batch_max_messages: usize,
    /// ...or this long after its first message, whichever comes first.
    pub batch_max_wait: Duration,
    /// Dead letters of topic `t` go to `t` + this suffix.
    pub dead_letter_suffix: String,
    /// The replica reports itself ready while its total lag is at most this
    /// many messages.
    pub ready_max_lag: u64,
    /// How often partitions are re-discovered (topics grow partitions).
    pub metadata_refresh: Duration,
}

impl KafkaOptions {
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        KafkaOptions {
            bootstrap_servers: bootstrap_servers.into(),
            topics: Topics::default(),
            client_config: Vec::new(),
            batch_max_messages: 5_000,
            batch_max_wait: Duration::from_millis(20),
            dead_letter_suffix: ".dlq".into(),
            ready_max_lag: 1_000,
            metadata_refresh: Duration::from_secs(30),
        }
    }

    pub(crate) fn consumer_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers)
            // Required by librdkafka even with manual assignment; nothing is
            // ever committed under it.
            .set("group.id", "incontra-replica")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            // Only reached for a partition with no checkpoint, or whose
            // checkpoint fell out of retention (logged as an error).
            .set("auto.offset.reset", "earliest")
            // Freshness: a hire must stop being proposed within a second.
            .set("fetch.wait.max.ms", "50")
            .set("statistics.interval.ms", "1000")
            .set("client.id", "incontra");
        for (k, v) in &self.client_config {
            c.set(k, v);
        }
        c
    }

    pub(crate) fn producer_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers)
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .set("client.id", "incontra-dlq");
        for (k, v) in &self.client_config {
            // Consumer-only settings would only draw warnings here.
            if !is_consumer_only(k) {
                c.set(k, v);
            }
        }
        c
    }
}

fn is_consumer_only(key: &str) -> bool {
    key.starts_with("fetch.")
        || key.starts_with("group.")
        || key.starts_with("auto.")
        || key.starts_with("enable.auto.")
        || key.starts_with("queued.")
        || matches!(
            key,
            "isolation.level" | "session.timeout.ms" | "max.poll.interval.ms"
        )
}
