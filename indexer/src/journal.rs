//! Journal (placeholder until delivered).
