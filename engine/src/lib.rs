//! Domain model, event folding and explained scoring.
pub mod codice_fiscale;
pub mod reference;
