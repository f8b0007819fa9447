//! The Kafka source: feeds incontra's projection from the event topics.
//!
//! One thread per replica consumes every partition of the vacancy,
//! candidacy, CO and issued-list topics (manual assignment, no consumer-group
//! rebalancing: every replica holds the whole state and answers any query).
//! It cuts the stream into batches, checks each message against its topic
//! and the envelope rules, sends what cannot be applied to `<topic>.dlq`
//! with the reason, and journals the rest together with the positions they
//! advance to (see `incontra_indexer::checkpoint`). Offsets are never
//! committed to Kafka: the journal is the only record of progress, so a
//! restart resumes exactly after the last durable batch.
//!
//! This crate owns the Kafka client settings, the consume loop, the dead
//! letter producer and the lag bookkeeping behind metrics and readiness, and the producer that
//! records issued lists on their topic. It
//! knows nothing of gRPC.

mod dead_letter;
mod list_publisher;
mod options;
mod source;
mod status;

pub use dead_letter::DeadLetterReason;
pub use list_publisher::{ListPublisher, PublishError};
pub use options::{KafkaOptions, Topics};
pub use source::{KafkaSource, SourceError};
pub use status::{PartitionView, SourceStatus, StatusView};
