//! Durable projection of the event log.
pub mod journal;
pub mod snapshot;
