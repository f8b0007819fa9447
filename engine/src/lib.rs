//! Domain model, event folding and explained scoring.
