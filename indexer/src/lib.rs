//! Durable projection of the event log.
