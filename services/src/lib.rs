//! The service edge of incontra: the gRPC `MatchService`, the conversions
//! between protobuf and engine types, and the start-up of a node (data
//! directory, recovery, health, reflection).
pub mod access;
pub mod admission;
pub mod auth;
pub mod convert;
pub mod group_commit;
pub mod issued;
pub mod learn;
pub mod lists;
pub mod node;
pub mod outcome_metrics;
pub mod policy;
pub mod ratelimit;
pub mod server;
