//! Records issued lists on the lists topic. A Kafka replica takes no writes
//! into its own journal (the others would never see them), so the list it
//! issues goes to the topic every replica consumes, like any other event,
//! and outcomes are the same on all of them.

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::options::KafkaOptions;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("list not recorded on {topic}: {error}")]
    Delivery { topic: String, error: KafkaError },
    #[error(transparent)]
    Config(#[from] KafkaError),
}

pub struct ListPublisher {
    producer: FutureProducer,
    topic: String,
    timeout: Duration,
}

impl ListPublisher {
    pub fn new(options: &KafkaOptions) -> Result<ListPublisher, PublishError> {
        let producer: FutureProducer = options.producer_config().create()?;
        Ok(ListPublisher {
            producer,
            topic: options.topics.lists.clone(),
            timeout: Duration::from_secs(5),
        })
    }

    /// Sends one envelope keyed by the list id and waits for the broker's
    /// acknowledgement: a list is answered only once it is recorded.
    pub async fn publish(&self, list_id: &str, envelope: &[u8]) -> Result<(), PublishError> {
        let record = FutureRecord::to(&self.topic).key(list_id).payload(envelope);
        self.producer
            .send(record, self.timeout)
            .await
            .map(|_| ())
            .map_err(|(error, _)| PublishError::Delivery {
                topic: self.topic.clone(),
                error,
            })
    }
}
