//! Dead letters: messages that cannot be applied, sent to `<topic>.dlq`
//! byte for byte with headers saying why and where they came from.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

/// Why a message was refused. `kind` is a short stable label (metrics,
/// headers); `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterReason {
    pub kind: &'static str,
    pub message: String,
}

impl DeadLetterReason {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> Self {
        DeadLetterReason {
            kind,
            message: message.into(),
        }
    }
}

/// One refused message and its origin.
pub(crate) struct DeadLetter<'m> {
    pub topic: &'m str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'m [u8]>,
    pub payload: Option<&'m [u8]>,
    pub reason: DeadLetterReason,
}

#[derive(Default)]
pub(crate) struct DeliveryLog {
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryLog {}

impl ProducerContext for DeliveryLog {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(error.to_string());
            }
        }
    }
}

pub(crate) struct DeadLetterProducer {
    producer: BaseProducer<DeliveryLog>,
    suffix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("dead letters not delivered: {0}")]
    Delivery(String),
    #[error("dead letters not delivered within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

impl DeadLetterProducer {
    pub(crate) fn new(producer: BaseProducer<DeliveryLog>, suffix: String) -> Self {
        DeadLetterProducer { producer, suffix }
    }

    /// Sends every letter and waits until the broker has acknowledged them
    /// all. Only then may the caller checkpoint past their offsets; if this
    /// fails the batch is retried and a letter may be sent twice, which
    /// its `source` headers make recognisable.
    pub(crate) fn deliver(
        &self,
        letters: &[DeadLetter<'_>],
        timeout: Duration,
    ) -> Result<(), DeadLetterError> {
        if letters.is_empty() {
            return Ok(());
        }
        let failed_before = self.producer.context().failed.load(Ordering::Relaxed);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let deadline = Instant::now() + timeout;
        for letter in letters {
            let topic = format!("{}{}", letter.topic, self.suffix);
            let partition = letter.partition.to_string();
            let offset = letter.offset.to_string();
            let headers = OwnedHeaders::new_with_capacity(5)
                .insert(Header {
                    key: "incontra.dlq.reason",
                    value: Some(&format!(
                        "{}: {}",
                        letter.reason.kind, letter.reason.message
                    )),
                })
                .insert(Header {
                    key: "incontra.dlq.source.topic",
                    value: Some(letter.topic),
                })
                .insert(Header {
                    key: "incontra.dlq.source.partition",
                    value: Some(&partition),
                })
                .insert(Header {
                    key: "incontra.dlq.source.offset",
                    value: Some(&offset),
                })
                .insert(Header {
                    key: "incontra.dlq.time",
                    value: Some(&now),
                });
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic).headers(headers);
            if let Some(key) = letter.key {
                record = record.key(key);
            }
            if let Some(payload) = letter.payload {
                record = record.payload(payload);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        if Instant::now() >= deadline {
                            return Err(DeadLetterError::Timeout(timeout));
                        }
                        record = back;
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((error, _)) => return Err(error.into()),
                }
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        self.producer.flush(remaining).map_err(|e| match e {
            KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut) => {
                DeadLetterError::Timeout(timeout)
            }
            other => other.into(),
        })?;
        let context = self.producer.context();
        if context.failed.load(Ordering::Relaxed) > failed_before {
            let last = context
                .last_error
                .lock()
                .ok()
                .and_then(|l| l.clone())
                .unwrap_or_default();
            return Err(DeadLetterError::Delivery(last));
        }
        // Counted once the broker has them: a retried batch is not counted
        // twice for letters it failed to deliver.
        for letter in letters {
            metrics::counter!(
                "incontra_kafka_dead_letters_total",
                "topic" => letter.topic.to_owned(),
                "reason" => letter.reason.kind
            )
            .increment(1);
        }
        Ok(())
    }
}
