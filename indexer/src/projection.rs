//! The projection: journal, folded state, text index and snapshots kept in
//! step, and the recovery that brings them back in step after a crash.
//!
//! Write path (one writer): decode and validate a batch, append it to the
//! journal, fsync, and only then apply it to the state and the index; the
//! caller acknowledges after `ingest` returns, so every acknowledged event is
//! durable. Read path: any number of readers share [`ReadSide`] behind a
//! read-write lock held only while a query computes.
//!
//! Recovery: the state comes from the newest valid snapshot (position `Ps`),
//! the index from its last commit (position `Pi`); the journal is replayed
//! from `min(Ps, Pi)`, applying to the state only what is past `Ps` and
//! re-indexing from the final state every entity touched past `Pi`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::config::ScoringConfig;
use incontra_engine::event::{EntityKind, Event, EventPayload};
use incontra_engine::model::{Candidate, Day, Vacancy};
use incontra_engine::reference::ReferenceData;
use incontra_engine::scoring::Context;
use incontra_engine::state::{Outcome, State};

use crate::decode::{DecodeError, Decoder};
use crate::journal::{Journal, JournalError, JournalOptions};
use crate::snapshot::{SnapshotError, SnapshotStore};
use crate::text_index::{TextIndex, TextIndexError};

/// Bumped whenever `State`'s serialised shape changes; an older snapshot is
/// then ignored and the journal replayed instead.
const STATE_SCHEMA: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("text index: {0}")]
    Index(#[from] TextIndexError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{what} is at position {found} but the journal ends at {journal}: the journal was lost or replaced")]
    AheadOfJournal {
        what: &'static str,
        found: u64,
        journal: u64,
    },
    #[error("a lock was poisoned by a panic in another thread")]
    Poisoned,
    #[error("data directory {0} is in use by another process")]
    InUse(String),
}

impl<T> From<PoisonError<T>> for ProjectionError {
    fn from(_: PoisonError<T>) -> Self {
        ProjectionError::Poisoned
    }
}

#[derive(Debug, Clone)]
pub struct ProjectionOptions {
    /// Take a snapshot after this many applied events.
    pub snapshot_every: u64,
    /// Commit the text index at most this often while ingesting.
    pub index_commit_interval: Duration,
    pub journal: JournalOptions,
}

impl Default for ProjectionOptions {
    fn default() -> Self {
        Self {
            snapshot_every: 250_000,
            index_commit_interval: Duration::from_secs(1),
            journal: JournalOptions::default(),
        }
    }
}

/// What `open` found and did.
#[derive(Debug, Clone, Default)]
pub struct RecoveryInfo {
    pub snapshot_position: u64,
    pub index_position: u64,
    pub journal_position: u64,
    pub replayed: u64,
    pub reindexed: u64,
    pub truncated_bytes: u64,
    pub undecodable_on_replay: u64,
    pub elapsed: Duration,
}

/// What the readers share.
pub struct ReadSide {
    state: RwLock<State>,
    pub index: TextIndex,
    pub reference: Arc<ReferenceData>,
    pub config: ScoringConfig,
}

/// Candidates (or vacancies) whose text relevance is computed for one
/// list; the rest score 0 on the text criterion.
pub const TEXT_RELEVANCE_DEPTH: usize = 2_000;

impl ReadSide {
    pub fn state(&self) -> Result<RwLockReadGuard<'_, State>, ProjectionError> {
        Ok(self.state.read()?)
    }

    /// The scoring context for judging eligibility on `today`.
    pub fn context(&self, today: Day) -> Context<'_> {
        Context {
            reference: &self.reference,
            config: &self.config,
            today,
        }
    }

    /// Text relevance of candidates to a vacancy, as lists and `Explain`
    /// use it.
    pub fn candidate_relevance(
        &self,
        vacancy: &Vacancy,
    ) -> Result<HashMap<String, f64>, ProjectionError> {
        Ok(self.index.candidate_relevance(
            &vacancy_query_text(vacancy, &self.reference),
            TEXT_RELEVANCE_DEPTH,
        )?)
    }

    /// Text relevance of open vacancies to a candidate's profile.
    pub fn vacancy_relevance(
        &self,
        candidate: &Candidate,
    ) -> Result<HashMap<String, f64>, ProjectionError> {
        Ok(self.index.vacancy_relevance(
            &candidate_query_text(candidate, &self.reference),
            TEXT_RELEVANCE_DEPTH,
        )?)
    }
}

/// The result of one event of an ingested batch.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestResult {
    Applied {
        position: u64,
    },
    Ignored {
        position: u64,
        outcome: Outcome,
    },
    Rejected {
        event_id: String,
        error: DecodeError,
    },
}

pub struct Projection {
    /// Held for the projection's life: two writers on one journal would
    /// interleave records and each believe its own positions.
    _lock: std::fs::File,
    read: Arc<ReadSide>,
    pseudonymiser: Pseudonymiser,
    journal: Journal,
    snapshots: SnapshotStore,
    options: ProjectionOptions,
    applied_position: u64,
    index_position: u64,
    snapshot_position: u64,
    last_index_commit: Instant,
}

/// Layout of a data directory.
fn paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("journal"),
        dir.join("snapshots"),
        dir.join("index"),
    )
}

impl Projection {
    pub fn open(
        dir: &Path,
        reference: Arc<ReferenceData>,
        config: ScoringConfig,
        pseudonymiser: Pseudonymiser,
        options: ProjectionOptions,
    ) -> Result<(Projection, RecoveryInfo), ProjectionError> {
        let started = Instant::now();
        std::fs::create_dir_all(dir)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ProjectionError::InUse(dir.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        let (journal_dir, snapshot_dir, index_dir) = paths(dir);
        let (journal, report) = Journal::open(&journal_dir, options.journal.clone())?;
        let journal_opened = started.elapsed();
        let snapshots = SnapshotStore::open(&snapshot_dir)?;
        let index = TextIndex::open(&index_dir)?;
        let journal_end = journal.last_position();
        let index_opened = started.elapsed();

        let loaded = snapshots.load_latest_mapped()?;
        let snapshot_read = started.elapsed();
        let (mut state, snapshot_position) = match loaded {
            Some((position, mapped)) => match postcard::from_bytes::<(u32, State)>(mapped.body()) {
                Ok((STATE_SCHEMA, state)) => (state, position),
                Ok((other, _)) => {
                    tracing::warn!(
                        other,
                        "snapshot has another state schema; replaying the journal"
                    );
                    (State::new(), 0)
                }
                Err(error) => {
                    tracing::warn!(%error, "snapshot does not decode; replaying the journal");
                    (State::new(), 0)
                }
            },
            None => (State::new(), 0),
        };
        let snapshot_decoded = started.elapsed();
        state.rebuild_indexes();
        tracing::info!(
            ?journal_opened,
            ?index_opened,
            ?snapshot_read,
            ?snapshot_decoded,
            indexes_rebuilt = ?started.elapsed(),
            "recovery phases (cumulative)"
        );
        if snapshot_position > journal_end {
            return Err(ProjectionError::AheadOfJournal {
                what: "the snapshot",
                found: snapshot_position,
                journal: journal_end,
            });
        }
        let mut index_position = index.committed_position()?;
        if index_position > journal_end {
            // The index reflects events the journal no longer has (a torn
            // tail was cut): rebuild it from the state.
            tracing::warn!(
                index_position,
                journal_end,
                "text index ahead of the journal; rebuilding it"
            );
            index.clear()?;
            index_position = 0;
        }

        let decoder = Decoder::new(&reference, &pseudonymiser);
        let from = snapshot_position.min(index_position);
        let mut touched = Touched::default();
        let mut replayed = 0;
        let mut undecodable = 0;
        let reindex_all = index_position == 0 && snapshot_position > 0;
        for record in journal.read_after(from)? {
            let (position, bytes) = record?;
            let event = match decoder.decode_bytes(&bytes) {
                Ok(event) => event,
                Err(error) => {
                    // Validated before it was journaled; only a change of the
                    // reference data or rules can make it fail now.
                    tracing::warn!(position, %error, "journaled event no longer decodes; skipped");
                    undecodable += 1;
                    continue;
                }
            };
            if position > snapshot_position {
                state.apply(&event);
                replayed += 1;
            }
            if position > index_position {
                touched.add(&event);
            }
        }
        let read = Arc::new(ReadSide {
            state: RwLock::new(state),
            index,
            reference: reference.clone(),
            config,
        });
        let mut reindexed = 0;
        {
            let state = read.state()?;
            if reindex_all {
                for v in state.vacancies() {
                    sync_vacancy(&read.index, &state, &v.id, &reference)?;
                    reindexed += 1;
                }
                for c in state.candidates() {
                    sync_candidate(&read.index, &state, &c.id, &reference)?;
                    reindexed += 1;
                }
            } else {
                reindexed += touched.sync(&read.index, &state, &reference)?;
            }
        }
        if reindexed > 0 || index_position < journal_end {
            read.index.commit(journal_end)?;
        }
        let projection = Projection {
            _lock: lock,
            read,
            pseudonymiser,
            journal,
            snapshots,
            options,
            applied_position: journal_end,
            index_position: journal_end,
            snapshot_position,
            last_index_commit: Instant::now(),
        };
        let info = RecoveryInfo {
            snapshot_position,
            index_position,
            journal_position: journal_end,
            replayed,
            reindexed,
            truncated_bytes: report.truncated_bytes,
            undecodable_on_replay: undecodable,
            elapsed: started.elapsed(),
        };
        tracing::info!(?info, "projection recovered");
        Ok((projection, info))
    }

    pub fn read_side(&self) -> Arc<ReadSide> {
        self.read.clone()
    }

    pub fn journal_position(&self) -> u64 {
        self.applied_position
    }

    pub fn snapshot_position(&self) -> u64 {
        self.snapshot_position
    }

    /// Validates, journals (one fsync for the batch), applies and indexes a
    /// batch of encoded envelopes. When this returns, every event reported
    /// `Applied` or `Ignored` is durable.
    pub fn ingest(&mut self, batch: &[Vec<u8>]) -> Result<Vec<IngestResult>, ProjectionError> {
        let reference = self.read.reference.clone();
        let decoder = Decoder::new(&reference, &self.pseudonymiser);
        let mut results = Vec::with_capacity(batch.len());
        let mut accepted: Vec<(u64, Event)> = Vec::with_capacity(batch.len());
        for bytes in batch {
            match decoder.decode_bytes(bytes) {
                Ok(event) => {
                    let position = self.journal.append(bytes)?;
                    accepted.push((position, event));
                    results.push(None);
                }
                Err(error) => results.push(Some(IngestResult::Rejected {
                    event_id: event_id_of(bytes),
                    error,
                })),
            }
        }
        if accepted.is_empty() {
            return Ok(results.into_iter().flatten().collect());
        }
        self.journal.sync()?;

        let mut touched = Touched::default();
        let mut outcomes = Vec::with_capacity(accepted.len());
        {
            let mut state = self.read.state.write()?;
            for (position, event) in &accepted {
                let outcome = state.apply(event);
                if outcome == Outcome::Applied {
                    touched.add(event);
                }
                outcomes.push((*position, outcome));
                self.applied_position = *position;
            }
        }
        metrics::counter!("incontra_events_journaled_total").increment(accepted.len() as u64);
        {
            let state = self.read.state()?;
            touched.sync(&self.read.index, &state, &reference)?;
        }
        let mut outcomes = outcomes.into_iter();
        let results = results
            .into_iter()
            .map(|r| match r {
                Some(rejected) => rejected,
                None => match outcomes.next() {
                    Some((position, Outcome::Applied)) => IngestResult::Applied { position },
                    Some((position, outcome)) => IngestResult::Ignored { position, outcome },
                    // Each `None` was pushed with one accepted event.
                    None => IngestResult::Ignored {
                        position: self.applied_position,
                        outcome: Outcome::Ignored {
                            reason: "internal: missing outcome".into(),
                        },
                    },
                },
            })
            .collect();

        if self.last_index_commit.elapsed() >= self.options.index_commit_interval {
            self.commit_index()?;
        }
        if self.applied_position - self.snapshot_position >= self.options.snapshot_every {
            self.snapshot()?;
        }
        Ok(results)
    }

    /// Makes everything applied so far searchable.
    pub fn commit_index(&mut self) -> Result<(), ProjectionError> {
        if self.index_position != self.applied_position {
            self.read.index.commit(self.applied_position)?;
            self.index_position = self.applied_position;
        }
        self.last_index_commit = Instant::now();
        Ok(())
    }

    /// Commits the index and writes a snapshot of the state at the current
    /// position; restart then replays only what comes after.
    pub fn snapshot(&mut self) -> Result<(), ProjectionError> {
        self.commit_index()?;
        if self.snapshot_position == self.applied_position {
            return Ok(());
        }
        {
            // Streamed to the file: a million candidates serialise to
            // hundreds of MB, which need not exist twice in memory.
            let state = self.read.state()?;
            self.snapshots.write_with(self.applied_position, |out| {
                postcard::to_io(&(STATE_SCHEMA, &*state), out)
                    .map(|_| ())
                    .map_err(std::io::Error::other)
            })?;
        }
        self.snapshot_position = self.applied_position;
        Ok(())
    }
}

/// Best effort: the id of an event that failed to decode, for the rejection.
fn event_id_of(bytes: &[u8]) -> String {
    use prost::Message;
    incontra_proto::events::v1::Envelope::decode(bytes)
        .map(|e| e.event_id)
        .unwrap_or_default()
}

/// Entities whose text documents need refreshing.
#[derive(Default)]
struct Touched {
    vacancies: BTreeSet<String>,
    candidates: BTreeSet<String>,
}

impl Touched {
    fn add(&mut self, event: &Event) {
        match event.kind() {
            EntityKind::Vacancy => {
                self.vacancies.insert(event.meta.entity_id.clone());
            }
            EntityKind::Candidacy => {
                self.candidates.insert(event.meta.entity_id.clone());
            }
            // Employment changes no text; eligibility is read from the state.
            EntityKind::Employment => {
                debug_assert!(matches!(event.payload, EventPayload::Employment(_)));
            }
        }
    }

    fn sync(
        &self,
        index: &TextIndex,
        state: &State,
        reference: &ReferenceData,
    ) -> Result<u64, ProjectionError> {
        for id in &self.vacancies {
            sync_vacancy(index, state, id, reference)?;
        }
        for id in &self.candidates {
            sync_candidate(index, state, id, reference)?;
        }
        Ok((self.vacancies.len() + self.candidates.len()) as u64)
    }
}

fn sync_vacancy(
    index: &TextIndex,
    state: &State,
    id: &str,
    reference: &ReferenceData,
) -> Result<(), ProjectionError> {
    match state.vacancy(id) {
        Some(v) if v.status == incontra_engine::model::VacancyStatus::Open => {
            index.upsert_vacancy(id, &v.spec.title, &vacancy_text(v, reference))?
        }
        _ => index.remove_vacancy(id)?,
    }
    Ok(())
}

fn sync_candidate(
    index: &TextIndex,
    state: &State,
    id: &str,
    reference: &ReferenceData,
) -> Result<(), ProjectionError> {
    match state.candidate(id) {
        Some(c) if !c.withdrawn => {
            let (title, text) = candidate_text(c, reference);
            index.upsert_candidate(id, &title, &text)?
        }
        _ => index.remove_candidate(id)?,
    }
    Ok(())
}

fn label<'r>(reference: &'r ReferenceData, code: &'r str) -> &'r str {
    reference.profession_label(code).unwrap_or("")
}

/// Everything searchable about a vacancy.
pub fn vacancy_text(v: &Vacancy, reference: &ReferenceData) -> String {
    let s = &v.spec;
    let comune = reference
        .comune(&s.workplace_comune)
        .map(|c| c.name.as_str())
        .unwrap_or("");
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}",
        s.title,
        s.description,
        label(reference, &s.profession_code),
        s.required_skills.join(", "),
        s.preferred_skills.join(", "),
        s.employer.name,
        comune
    )
}

/// The words of a vacancy that describe the work, for candidate relevance.
pub fn vacancy_query_text(v: &Vacancy, reference: &ReferenceData) -> String {
    let s = &v.spec;
    format!(
        "{} {} {} {}",
        s.title,
        label(reference, &s.profession_code),
        s.required_skills.join(" "),
        s.preferred_skills.join(" ")
    )
}

/// Title (desired professions) and full text of a candidate's profile.
pub fn candidate_text(c: &Candidate, reference: &ReferenceData) -> (String, String) {
    let p = &c.profile;
    let desired: Vec<&str> = p
        .desired_professions
        .iter()
        .map(|d| label(reference, d))
        .collect();
    let mut text = desired.join(", ");
    for e in &p.experience {
        text.push('\n');
        text.push_str(label(reference, &e.profession_code));
        text.push_str(": ");
        text.push_str(&e.description);
    }
    text.push('\n');
    text.push_str(&p.skills.join(", "));
    text.push('\n');
    text.push_str(&p.certified_skills.join(", "));
    text.push('\n');
    text.push_str(&p.summary);
    (desired.join(", "), text)
}

/// The words of a profile that describe the work sought, for vacancy relevance.
pub fn candidate_query_text(c: &Candidate, reference: &ReferenceData) -> String {
    let p = &c.profile;
    let desired: Vec<&str> = p
        .desired_professions
        .iter()
        .map(|d| label(reference, d))
        .collect();
    format!(
        "{} {} {}",
        desired.join(" "),
        p.skills.join(" "),
        p.certified_skills.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> Result<(Projection, RecoveryInfo), ProjectionError> {
        Projection::open(
            dir,
            Arc::new(ReferenceData::embedded().unwrap()),
            ScoringConfig::embedded_default().unwrap(),
            Pseudonymiser::new(&[7u8; 32]),
            ProjectionOptions::default(),
        )
    }

    #[test]
    fn a_data_directory_has_one_writer_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let (first, _) = open(dir.path()).unwrap();
        assert!(matches!(open(dir.path()), Err(ProjectionError::InUse(_))));
        drop(first);
        assert!(open(dir.path()).is_ok());
    }
}
