//! Codice fiscale validation (placeholder until delivered).
