//! Snapshot files (placeholder until delivered).
