//! The service edge of incontra: the gRPC `MatchService`, the conversions
//! between protobuf and engine types, and the start-up of a node (data
//! directory, recovery, health, reflection).
pub mod admission;
pub mod convert;
pub mod learn;
pub mod lists;
pub mod node;
pub mod outcome_metrics;
pub mod server;
