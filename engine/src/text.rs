//! The contract between a list and the text index it reads relevance from.
//!
//! A list asks for the text relevance of the pairs it is about to score,
//! and only of those: a batch of slots of the side being ranked (candidate
//! slots for a preselection list, vacancy slots for a person's list). The
//! engine never sees the index; the read side implements this over its
//! postings. Relevance must be a function of the indexed documents alone
//! (not of segment layout or delete history), so replicas and replays rank
//! identically.

use std::collections::HashMap;

/// The text index failed (an unreadable segment): the node's fault, not the
/// caller's. The message names no person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("text relevance: {0}")]
pub struct TextError(pub String);

/// Text relevance of one query (a vacancy's words, or a person's) against
/// the documents of the ranked side.
pub trait TextRelevance {
    /// What no document can exceed: 1, or 0 when the query has no term
    /// that any document holds (then every relevance is 0, and the lists'
    /// bounds give the criterion no credit).
    fn ceiling(&self) -> f64;

    /// The relevance in `[0, ceiling]` of the documents at `slots`, in
    /// their order, into `out` (cleared first). A slot with no document
    /// scores 0.
    fn relevance_of(&mut self, slots: &[u32], out: &mut Vec<f64>) -> Result<(), TextError>;
}

/// Relevance given by slot, 0 elsewhere: for tools and tests that computed
/// it elsewhere, and for lists that take no text into account.
#[derive(Debug, Clone, Default)]
pub struct FixedRelevance(pub HashMap<u32, f64>);

impl TextRelevance for FixedRelevance {
    fn ceiling(&self) -> f64 {
        if self.0.values().any(|r| *r > 0.0) {
            1.0
        } else {
            0.0
        }
    }

    fn relevance_of(&mut self, slots: &[u32], out: &mut Vec<f64>) -> Result<(), TextError> {
        out.clear();
        out.extend(
            slots
                .iter()
                .map(|s| self.0.get(s).copied().unwrap_or(0.0).clamp(0.0, 1.0)),
        );
        Ok(())
    }
}
