//! The read side's one query API: every list, explanation and status count
//! is answered here, from one view of the state taken under its read lock,
//! with the text relevance of the same view and the scoring context of the
//! day judged. The server, the demo's printout, the evaluation harness and
//! the benchmarks all ask through it, so a list is assembled one way only.
//!
//! ```no_run
//! # fn demo(read: &incontra_indexer::projection::ReadSide) -> Result<(), incontra_indexer::query::QueryError> {
//! use incontra_engine::matching::ListRequest;
//! let view = read.view(20_780)?;
//! let list = view.candidates_for("V00000002", &ListRequest { limit: 10, ..ListRequest::default() })?;
//! for row in &list.items {
//!     let explained = view.explain("V00000002", &row.id)?;
//!     assert_eq!(explained.score, row.score);
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::RwLockReadGuard;

use incontra_engine::config::ScoringConfig;
use incontra_engine::matching::{self, ListRequest, MatchError, RankedList};
use incontra_engine::model::PersonalData;
use incontra_engine::model::{Candidate, Day, Vacancy};
use incontra_engine::scoring::{Context, Evaluation};
use incontra_engine::state::State;

use crate::projection::{ProjectionError, ReadSide};
use crate::text_index::DocScorer;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// An unknown id or comune: the caller's to fix.
    #[error(transparent)]
    Match(#[from] MatchError),
    /// The node's own failure (a poisoned lock, an unreadable index).
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

/// Counts `GetStatus` reports, on the day judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusCounts {
    pub vacancies: u64,
    pub open_vacancies: u64,
    pub candidates: u64,
    /// Neither withdrawn nor declared unavailable, and not employed full
    /// time today.
    pub available_candidates: u64,
    pub employment_records: u64,
}

/// A consistent view for answering queries: the state under its read lock
/// and the scoring context of one day. Hold it only while answering; the
/// writer waits for it.
pub struct View<'r> {
    read: &'r ReadSide,
    state: StateRef<'r>,
    ctx: Context<'r>,
}

/// The state a view reads: under its own read lock, or another view's
/// (taking the read lock twice on one thread could wait behind a writer
/// queued in between, for ever).
enum StateRef<'r> {
    Locked(RwLockReadGuard<'r, State>),
    Borrowed(&'r State),
}

impl std::ops::Deref for StateRef<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        match self {
            StateRef::Locked(guard) => guard,
            StateRef::Borrowed(state) => state,
        }
    }
}

impl ReadSide {
    /// A view judging eligibility on `today` with the node's configuration.
    pub fn view(&self, today: Day) -> Result<View<'_>, ProjectionError> {
        self.view_with(today, &self.config)
    }

    /// A view scoring with another configuration (the evaluation's
    /// unboosted or learned weights), everything else the node's.
    pub fn view_with<'r>(
        &'r self,
        today: Day,
        config: &'r ScoringConfig,
    ) -> Result<View<'r>, ProjectionError> {
        Ok(View {
            read: self,
            state: StateRef::Locked(self.state()?),
            ctx: Context {
                config,
                ..self.context(today)
            },
        })
    }
}

impl<'r> View<'r> {
    /// The same view of the state scored with another configuration (the
    /// evaluation's unboosted or learned weights).
    pub fn with_config<'v>(&'v self, config: &'v ScoringConfig) -> View<'v> {
        View {
            read: self.read,
            state: StateRef::Borrowed(&self.state),
            ctx: Context {
                config,
                reference: self.ctx.reference,
                today: self.ctx.today,
                congruity: self.ctx.congruity,
            },
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// A candidate's personal data, opened with their key: `None` for an
    /// unknown candidate or an erased person.
    pub fn personal_data(&self, candidate_id: &str) -> Option<PersonalData> {
        self.read
            .keys
            .open_sealed(self.state.personal_data(candidate_id)?)
    }

    pub fn context(&self) -> &Context<'r> {
        &self.ctx
    }

    pub fn vacancy(&self, id: &str) -> Result<&Vacancy, QueryError> {
        self.state
            .vacancy(id)
            .ok_or_else(|| MatchError::UnknownVacancy(id.to_owned()).into())
    }

    pub fn candidate(&self, id: &str) -> Result<&Candidate, QueryError> {
        self.state
            .candidate(id)
            .ok_or_else(|| MatchError::UnknownCandidate(id.to_owned()).into())
    }

    /// Candidates' text relevance to a vacancy, computed for the slots
    /// asked (what a list asks for the pairs it scores).
    pub fn candidate_text(&self, vacancy: &Vacancy) -> Result<DocScorer, QueryError> {
        Ok(self.read.candidate_scorer(vacancy, &self.ctx.config.text)?)
    }

    /// Open vacancies' text relevance to a candidate's profile.
    pub fn vacancy_text(&self, candidate: &Candidate) -> Result<DocScorer, QueryError> {
        Ok(self.read.vacancy_scorer(candidate, &self.ctx.config.text)?)
    }

    /// The `limit` candidates most relevant to a vacancy's text in the whole
    /// index, by id, ignoring every other criterion: the evaluation's
    /// text-only baseline, never a list.
    pub fn best_candidates_by_text(
        &self,
        vacancy: &Vacancy,
        limit: usize,
    ) -> Result<HashMap<String, f64>, QueryError> {
        Ok(self
            .read
            .best_candidates_by_text(vacancy, &self.ctx.config.text, limit)?)
    }

    /// The preselection list of a vacancy.
    pub fn candidates_for(
        &self,
        vacancy_id: &str,
        request: &ListRequest,
    ) -> Result<RankedList, QueryError> {
        let mut text = self.candidate_text(self.vacancy(vacancy_id)?)?;
        Ok(matching::match_candidates(
            &self.state,
            &self.ctx,
            vacancy_id,
            request,
            &mut text,
        )?)
    }

    /// Open vacancies for a candidate, best first.
    pub fn vacancies_for(
        &self,
        candidate_id: &str,
        request: &ListRequest,
    ) -> Result<RankedList, QueryError> {
        let mut text = self.vacancy_text(self.candidate(candidate_id)?)?;
        Ok(matching::match_vacancies(
            &self.state,
            &self.ctx,
            candidate_id,
            request,
            &mut text,
        )?)
    }

    /// Everything about one pair, with the text relevance the vacancy's
    /// list gives the candidate: the same score as on the list.
    pub fn explain(&self, vacancy_id: &str, candidate_id: &str) -> Result<Evaluation, QueryError> {
        let mut text = self.candidate_text(self.vacancy(vacancy_id)?)?;
        let (_, evaluation) =
            matching::explain(&self.state, &self.ctx, vacancy_id, candidate_id, &mut text)?;
        Ok(evaluation)
    }

    /// The register's counts on the view's day.
    pub fn status(&self) -> StatusCounts {
        let today = self.ctx.today;
        let state = &self.state;
        StatusCounts {
            vacancies: state.vacancy_count() as u64,
            open_vacancies: state.vacancies().filter(|v| v.is_open_on(today)).count() as u64,
            candidates: state.candidate_count() as u64,
            available_candidates: state
                .candidates()
                .filter(|c| {
                    c.available
                        && !c.withdrawn
                        && state
                            .employment_of(c)
                            .is_none_or(|e| e.busy_hours_percent(today) < 100)
                })
                .count() as u64,
            employment_records: state.employment_count() as u64,
        }
    }
}
