//! Reference data (placeholder until delivered).
