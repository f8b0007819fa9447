//! The consume loop: assign, batch, check, dead-letter, journal with the
//! checkpoint, repeat.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use incontra_engine::event::EntityKind;
use incontra_engine::state::Outcome;
use incontra_indexer::checkpoint::SourceCheckpoint;
use incontra_indexer::decode::DecodeError;
use incontra_indexer::projection::{Prepared, Preparer, Projection, ProjectionError};
use incontra_proto::events::v1 as pb;
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::dead_letter::{DeadLetter, DeadLetterProducer, DeadLetterReason, DeliveryLog};
use crate::options::KafkaOptions;
use crate::status::SourceStatus;

/// Broker round trips (metadata, watermarks) give up after this long and
/// are retried by the loop.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait before retrying after a broker or dead-letter failure.
const RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// How often the loop looks at the stop flag while the topics are quiet.
const IDLE_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("kafka client: {0}")]
    Kafka(#[from] KafkaError),
    #[error("projection: {0}")]
    Projection(#[from] ProjectionError),
    #[error("projection lock poisoned by a panic")]
    Poisoned,
    #[error("the source thread panicked")]
    Panicked,
    #[error("the source thread could not start: {0}")]
    Spawn(std::io::Error),
    #[error(transparent)]
    Publish(#[from] crate::list_publisher::PublishError),
}

/// Feeds end-of-partition positions from librdkafka's periodic statistics
/// into the status, for lag.
struct StatsContext {
    status: Arc<SourceStatus>,
}

impl ClientContext for StatsContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (&partition, p) in &t.partitions {
                if partition < 0 {
                    continue; // librdkafka's internal unassigned partition
                }
                // Under read_committed (the default) consumers can only
                // reach the last stable offset.
                let end = if p.ls_offset >= 0 {
                    p.ls_offset
                } else {
                    p.hi_offset
                };
                self.status.high_watermark(topic, partition, end);
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "kafka client error");
        self.status.error(Some(format!("{error}: {reason}")));
    }
}

impl ConsumerContext for StatsContext {}

/// A running Kafka source; stop it before the final snapshot.
pub struct KafkaSource {
    stop: Arc<AtomicBool>,
    status: Arc<SourceStatus>,
    lists: Arc<crate::list_publisher::ListPublisher>,
    handle: Option<JoinHandle<Result<(), SourceError>>>,
}

impl KafkaSource {
    /// Where this replica records the lists it issues.
    pub fn list_publisher(&self) -> Arc<crate::list_publisher::ListPublisher> {
        self.lists.clone()
    }

    /// Creates the clients and starts consuming on a thread of its own;
    /// consumption resumes from the projection's checkpoint.
    pub fn start(
        projection: Arc<Mutex<Projection>>,
        options: KafkaOptions,
    ) -> Result<KafkaSource, SourceError> {
        let status = Arc::new(SourceStatus::new(options.ready_max_lag));
        let lists = Arc::new(crate::list_publisher::ListPublisher::new(&options)?);
        let consumer: BaseConsumer<StatsContext> =
            options
                .consumer_config()
                .create_with_context(StatsContext {
                    status: status.clone(),
                })?;
        let producer = options
            .producer_config()
            .create_with_context(DeliveryLog::default())?;
        let dead_letters = DeadLetterProducer::new(producer, options.dead_letter_suffix.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            consumer,
            dead_letters,
            projection,
            options,
            status: status.clone(),
            stop: stop.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("kafka-source".into())
            .spawn(move || {
                let status = worker.status.clone();
                let result = worker.run();
                if let Err(error) = &result {
                    tracing::error!(%error, "kafka source stopped");
                    status.fatal(error.to_string());
                }
                result
            })
            .map_err(SourceError::Spawn)?;
        Ok(KafkaSource {
            stop,
            status,
            lists,
            handle: Some(handle),
        })
    }

    pub fn status(&self) -> Arc<SourceStatus> {
        self.status.clone()
    }

    /// Finishes the batch in hand and stops.
    pub fn stop(mut self) -> Result<(), SourceError> {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.take() {
            Some(handle) => handle.join().map_err(|_| SourceError::Panicked)?,
            None => Ok(()),
        }
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

struct Worker {
    consumer: BaseConsumer<StatsContext>,
    dead_letters: DeadLetterProducer,
    projection: Arc<Mutex<Projection>>,
    options: KafkaOptions,
    status: Arc<SourceStatus>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Projection>, SourceError> {
        self.projection.lock().map_err(|_| SourceError::Poisoned)
    }

    fn run(self) -> Result<(), SourceError> {
        let (mut checkpoint, preparer) = {
            let p = self.lock()?;
            (p.source_checkpoint().clone(), p.preparer())
        };
        for (topic, partition, next) in checkpoint.iter() {
            tracing::info!(topic, partition, next, "resuming from checkpoint");
        }
        let mut assigned: BTreeSet<(String, i32)> = BTreeSet::new();
        let mut last_discovery: Option<Instant> = None;
        while !self.stopping() {
            if last_discovery.is_none_or(|t| t.elapsed() >= self.options.metadata_refresh) {
                match self.discover() {
                    Ok(found) => {
                        last_discovery = Some(Instant::now());
                        if found != assigned {
                            self.assign(&found, &checkpoint)?;
                            assigned = found;
                        }
                        self.status.error(None);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "waiting for the event topics");
                        self.status.error(Some(error));
                        std::thread::sleep(RETRY_BACKOFF);
                        continue;
                    }
                }
            }
            let batch = self.collect();
            if batch.is_empty() {
                continue;
            }
            let mut next = checkpoint.clone();
            if let Err(error) = self.process(&batch, &preparer, &mut next) {
                match error {
                    // The broker refused or lost dead letters: nothing of
                    // the batch was journaled, so rewind and read it again.
                    BatchError::DeadLetters(reason) => {
                        tracing::warn!(%reason, "dead letters not delivered; retrying the batch");
                        self.status.error(Some(reason));
                        std::thread::sleep(RETRY_BACKOFF);
                        self.assign(&assigned, &checkpoint)?;
                        continue;
                    }
                    BatchError::Fatal(e) => return Err(e),
                }
            }
            checkpoint = next;
        }
        tracing::info!("kafka source stopped");
        Ok(())
    }

    /// The partitions of the four topics, or why they are not there yet.
    fn discover(&self) -> Result<BTreeSet<(String, i32)>, String> {
        let mut found = BTreeSet::new();
        for topic in self.options.topics.all() {
            let metadata = self
                .consumer
                .fetch_metadata(Some(topic), BROKER_TIMEOUT)
                .map_err(|e| format!("metadata of {topic}: {e}"))?;
            let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
                return Err(format!("topic {topic} not in the broker's metadata"));
            };
            if let Some(error) = t.error() {
                return Err(format!(
                    "topic {topic}: {}",
                    rdkafka::types::RDKafkaErrorCode::from(error)
                ));
            }
            if t.partitions().is_empty() {
                return Err(format!("topic {topic} has no partitions"));
            }
            for p in t.partitions() {
                found.insert((topic.to_owned(), p.id()));
            }
        }
        Ok(found)
    }

    /// Assigns `partitions` at the checkpoint (the beginning where there is
    /// none) and learns where each ends. Re-assigning also discards
    /// whatever librdkafka had prefetched past the checkpoint.
    fn assign(
        &self,
        partitions: &BTreeSet<(String, i32)>,
        checkpoint: &SourceCheckpoint,
    ) -> Result<(), SourceError> {
        let mut list = TopicPartitionList::new();
        let mut starts = Vec::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            let next = checkpoint.next_offset(topic, *partition);
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            list.add_partition_offset(topic, *partition, offset)?;
            starts.push((topic.clone(), *partition, next.unwrap_or(0)));
        }
        self.consumer.assign(&list)?;
        self.status.assigned(&starts);
        for (topic, partition, next) in &starts {
            match self
                .consumer
                .fetch_watermarks(topic, *partition, BROKER_TIMEOUT)
            {
                Ok((low, high)) => {
                    if *next > 0 && *next < low {
                        tracing::error!(
                            topic, partition, next, low,
                            "checkpoint is older than the partition's retention: events were lost upstream"
                        );
                    }
                    self.status.high_watermark(topic, *partition, high);
                }
                // Statistics will fill it in; until then not ready.
                Err(error) => tracing::warn!(topic, partition, %error, "watermarks unavailable"),
            }
        }
        tracing::info!(partitions = starts.len(), "assigned");
        Ok(())
    }

    /// Up to `batch_max_messages`, waiting at most `batch_max_wait` after
    /// the first one; an empty batch when the topics are quiet.
    fn collect(&self) -> Vec<OwnedMessage> {
        let mut batch = Vec::new();
        let mut deadline = None;
        while batch.len() < self.options.batch_max_messages {
            let timeout = match deadline {
                None => IDLE_POLL,
                Some(d) => {
                    let left = d - Instant::now().min(d);
                    if left.is_zero() {
                        break;
                    }
                    left
                }
            };
            match self.consumer.poll(timeout) {
                Some(Ok(message)) => {
                    batch.push(message.detach());
                    deadline.get_or_insert_with(|| Instant::now() + self.options.batch_max_wait);
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "consume error");
                    metrics::counter!("incontra_kafka_consume_errors_total").increment(1);
                    self.status.error(Some(error.to_string()));
                }
                None if deadline.is_none() => break,
                None => {}
            }
        }
        batch
    }

    fn process(
        &self,
        batch: &[OwnedMessage],
        preparer: &Preparer,
        next: &mut SourceCheckpoint,
    ) -> Result<(), BatchError> {
        let started = Instant::now();
        let mut prepared: Vec<Prepared> = Vec::with_capacity(batch.len());
        let mut letters = Vec::new();
        let mut redelivered = 0u64;
        for message in batch {
            let (topic, partition, offset) =
                (message.topic(), message.partition(), message.offset());
            // Brokers may hand a record over again (a refetch after a
            // reconnect, a batch returned twice): what the checkpoint
            // already covers was applied once and is not looked at again.
            if next
                .next_offset(topic, partition)
                .is_some_and(|n| offset < n)
            {
                redelivered += 1;
                continue;
            }
            next.advance(topic, partition, offset + 1);
            match check(message, &self.options, preparer) {
                Ok(p) => prepared.push(p),
                Err(reason) => {
                    tracing::warn!(
                        topic = message.topic(),
                        partition = message.partition(),
                        offset = message.offset(),
                        kind = reason.kind,
                        reason = %reason.message,
                        "dead letter"
                    );
                    letters.push(DeadLetter {
                        topic: message.topic(),
                        partition: message.partition(),
                        offset: message.offset(),
                        key: message.key(),
                        payload: message.payload(),
                        reason,
                    });
                }
            }
        }
        // Delivered before the checkpoint moves past them, or not at all.
        self.dead_letters
            .deliver(&letters, BROKER_TIMEOUT)
            .map_err(|e| BatchError::DeadLetters(e.to_string()))?;

        let outcomes = {
            let mut p = self.lock().map_err(BatchError::Fatal)?;
            p.append(prepared, Some(next))
                .map_err(|e| BatchError::Fatal(e.into()))?
        };
        let mut duplicates = 0u64;
        let mut ignored = 0u64;
        for (_, outcome) in &outcomes {
            match outcome {
                // A waiting event is applied when its entity is created.
                Outcome::Applied | Outcome::Waiting => {}
                Outcome::DuplicateEvent | Outcome::StaleVersion { .. } => duplicates += 1,
                Outcome::Ignored { .. } => ignored += 1,
            }
        }
        // Freshness as users see it: from the producer's timestamp to the
        // moment queries can see the event (the state is updated by now;
        // text relevance follows at the next index commit, within a second).
        let now_ms = chrono::Utc::now().timestamp_millis();
        // Metric handles are looked up once per topic in the batch, not once
        // per message: labels allocate, and a batch holds thousands.
        let mut per_topic: Vec<(&str, u64, metrics::Histogram)> = Vec::new();
        for message in batch {
            let topic = message.topic();
            let i = match per_topic.iter().position(|(t, _, _)| *t == topic) {
                Some(i) => i,
                None => {
                    let ages = metrics::histogram!(
                        "incontra_kafka_produce_to_visible_seconds",
                        "topic" => topic.to_owned()
                    );
                    per_topic.push((topic, 0, ages));
                    per_topic.len() - 1
                }
            };
            let (_, consumed, ages) = &mut per_topic[i];
            *consumed += 1;
            if let Some(created) = message.timestamp().to_millis() {
                ages.record((now_ms - created).max(0) as f64 / 1_000.0);
            }
        }
        for (topic, consumed, _) in &per_topic {
            metrics::counter!("incontra_kafka_messages_consumed_total", "topic" => (*topic).to_owned())
                .increment(*consumed);
        }
        metrics::counter!("incontra_kafka_events_duplicate_total").increment(duplicates);
        metrics::counter!("incontra_kafka_messages_redelivered_total").increment(redelivered);
        metrics::counter!("incontra_kafka_events_ignored_total").increment(ignored);
        metrics::histogram!("incontra_kafka_batch_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("incontra_kafka_batch_messages").record(batch.len() as f64);
        for (topic, partition, offset) in next.iter() {
            self.status.advanced(topic, partition, offset);
        }
        self.status
            .counted(batch.len() as u64, letters.len() as u64);
        Ok(())
    }
}

enum BatchError {
    DeadLetters(String),
    Fatal(SourceError),
}

/// Which payload each topic may carry.
fn expected_kind(topic: &str, options: &KafkaOptions) -> Option<EntityKind> {
    let t = &options.topics;
    if topic == t.vacancies {
        Some(EntityKind::Vacancy)
    } else if topic == t.candidacies {
        Some(EntityKind::Candidacy)
    } else if topic == t.co {
        Some(EntityKind::Employment)
    } else if topic == t.lists {
        Some(EntityKind::List)
    } else {
        None
    }
}

fn payload_kind(envelope: &pb::Envelope) -> Option<EntityKind> {
    match envelope.payload {
        Some(pb::envelope::Payload::Vacancy(_)) => Some(EntityKind::Vacancy),
        // An erasure travels on the candidacies topic, keyed by candidate
        // id, so it is ordered after the candidacy's own events.
        Some(pb::envelope::Payload::Candidacy(_)) | Some(pb::envelope::Payload::Erasure(_)) => {
            Some(EntityKind::Candidacy)
        }
        Some(pb::envelope::Payload::Co(_)) => Some(EntityKind::Employment),
        Some(pb::envelope::Payload::ListIssued(_)) => Some(EntityKind::List),
        None => None,
    }
}

/// Everything a message must satisfy before it may be journaled.
fn check(
    message: &OwnedMessage,
    options: &KafkaOptions,
    preparer: &Preparer,
) -> Result<Prepared, DeadLetterReason> {
    let bytes = message
        .payload()
        .ok_or_else(|| DeadLetterReason::new("undecodable", "empty message (no value)"))?;
    let envelope = pb::Envelope::decode(bytes)
        .map_err(|e| DeadLetterReason::new("undecodable", format!("not an Envelope: {e}")))?;
    if let (Some(expected), Some(found)) = (
        expected_kind(message.topic(), options),
        payload_kind(&envelope),
    ) {
        if expected != found {
            return Err(DeadLetterReason::new(
                "wrong_topic",
                format!("a {found:?} payload on topic {}", message.topic()),
            ));
        }
    }
    if let Some(key) = message.key() {
        // Ordering per entity rests on the key; a mismatch means this
        // entity's events may be spread over partitions.
        if key != envelope.entity_id.as_bytes() {
            // Neither is quoted: both may be a codice fiscale.
            return Err(DeadLetterReason::new(
                "key_mismatch",
                "the message key differs from the envelope's entity_id",
            ));
        }
    }
    preparer
        .prepare_envelope(&envelope, bytes.to_vec())
        .map_err(|e| {
            let kind = match &e {
                DecodeError::Undecodable(_) => "undecodable",
                DecodeError::UnknownSchema(_) => "unknown_schema",
                DecodeError::Invalid { .. } => "invalid",
            };
            DeadLetterReason::new(kind, e.to_string())
        })
}
