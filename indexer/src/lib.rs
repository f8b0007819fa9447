//! The durable projection of incontra's event log: the embedded journal,
//! snapshots, the tantivy index, and the ingestion edge that decodes and
//! validates wire events before anything is written.
pub mod checkpoint;
pub mod decode;
mod fsync;
pub mod journal;
pub mod keys;
pub mod lists;
pub mod projection;
pub mod query;
pub mod redact;
pub mod snapshot;
pub mod text_index;
