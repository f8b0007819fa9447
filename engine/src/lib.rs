//! The matching core of incontra: domain model, event folding and explained
//! scoring. It knows nothing of Kafka, protobuf or gRPC; the edges convert.
//!
//! ```
//! use incontra_engine::{config::ScoringConfig, reference::ReferenceData, state::State};
//! let reference = ReferenceData::embedded().unwrap();
//! let config = ScoringConfig::embedded_default().unwrap();
//! let state = State::new();
//! assert_eq!(state.candidate_count(), 0);
//! assert!(reference.comune("001272").is_some()); // Torino
//! assert!(config.weights.profession > 0.0);
//! ```
pub mod availability;
pub mod codice_fiscale;
pub mod config;
pub mod congruity;
pub mod eligibility;
pub mod employment;
pub mod event;
pub mod features;
pub mod learning;
pub mod matching;
pub mod model;
pub mod outcomes;
pub mod profession_index;
pub mod reference;
pub mod scoring;
pub mod skills;
pub mod state;
pub mod text;
pub mod unemployment;
pub mod unilav;
