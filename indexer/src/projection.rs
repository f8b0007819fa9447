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
//! re-indexing from the final state every entity touched past `Pi`. The
//! lists journal (`crate::lists`) is replayed after the lists position the
//! snapshot includes.
//!
//! Write locks are short: a batch is applied in chunks of at most
//! [`APPLY_CHUNK`] events or [`APPLY_CHUNK_TIME`], the state's write lock
//! released between chunks, so a list waits for one chunk at most, never for
//! a whole batch. Every writer of the state holds the projection's lock
//! first (the `Mutex<Projection>` callers share), so a long reader that also
//! holds it (a snapshot, an outcome report) has no writer queued behind it
//! on the state's lock, and `std`'s writer-preferring lock then never makes
//! new readers wait.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use prost::Message;

use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::config::{ScoringConfig, TextConfig};
use incontra_engine::congruity::CongruityRules;
use incontra_engine::event::{EntityKind, Event, EventPayload};
use incontra_engine::model::{Candidate, Day, Vacancy};
use incontra_engine::reference::ReferenceData;
use incontra_engine::scoring::Context;
use incontra_engine::state::{Outcome, State};

use crate::checkpoint::{is_control, BatchHeader, ControlRecordError, SourceCheckpoint};
use crate::decode::{DecodeError, Decoder};
use crate::journal::{Journal, JournalError, JournalOptions};
use crate::keys::{KeysError, PersonKeys};
use crate::lists::{ListsJournal, ListsJournalError};
use crate::snapshot::{SnapshotError, SnapshotStore};
use crate::text_index::{analyse_query, DocScorer, TextIndex, TextIndexError};

/// Bumped whenever the snapshot's serialised shape changes (the `State`, or
/// what is stored beside it); an older snapshot is then ignored and the
/// journal replayed instead. 2: the source checkpoint follows the state. 4: candidate
/// profiles carry the patto's distance and the household's children under 14, vacancies their
/// CCNL and level. 5: the lists journal position follows the checkpoint. 6: personal data
/// sealed, candidates carry their demographics and whether they were erased.
const STATE_SCHEMA: u32 = 6;

/// At most this many events are applied under one hold of the state's write
/// lock...
pub const APPLY_CHUNK: usize = 256;
/// ...and for at most about this long (a CO burst of one employer can make
/// single events slow), so a list waits for one chunk at most.
pub const APPLY_CHUNK_TIME: Duration = Duration::from_millis(5);

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
    #[error("{0}")]
    Keys(#[from] KeysError),
    #[error("{0}")]
    Lists(#[from] ListsJournalError),
    #[error("journal control record: {0}")]
    Control(#[from] ControlRecordError),
    #[error("offerta congrua rules: {0}")]
    Congruity(#[from] incontra_engine::congruity::CongruityError),
    #[error("{what} is at position {found} but the journal ends at {journal}: the journal was lost or replaced")]
    AheadOfJournal {
        what: &'static str,
        found: u64,
        journal: u64,
    },
    #[error("a lock was poisoned by a panic in another thread")]
    Poisoned,
    #[error("cancelled: its caller went away")]
    Cancelled,
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
    /// Take a snapshot after at least this many applied events...
    pub snapshot_every: u64,
    /// ...and once the journal written since the last snapshot is at least
    /// this share of that snapshot's size. A snapshot of a million
    /// candidates is gigabytes: taken every N events, the bytes written for
    /// snapshots grow with the square of the history, while tying them to
    /// the journal keeps them within this multiple of it, and a restart
    /// never replays a tail much longer than the snapshot it starts from.
    pub snapshot_journal_share: f64,
    /// Commit the text index at most this often while ingesting.
    pub index_commit_interval: Duration,
    pub journal: JournalOptions,
    /// Issued lists are kept this many days before the newest (`None`: for
    /// ever): outcome attribution needs 90, a person's appeal against a list
    /// a few years; older ones leave the state and so the snapshots.
    pub lists_retention_days: Option<u32>,
}

impl Default for ProjectionOptions {
    fn default() -> Self {
        Self {
            snapshot_every: 250_000,
            snapshot_journal_share: 1.0,
            index_commit_interval: Duration::from_secs(1),
            journal: JournalOptions::default(),
            // Three years: the window of an administrative appeal, and far
            // beyond any attribution window.
            lists_retention_days: Some(1_095),
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
    /// Records of a source batch cut short by a crash, dropped from the
    /// journal's end (header included).
    pub unfinished_batch_records: u64,
    pub undecodable_on_replay: u64,
    /// Where consumption of the upstream log resumes (empty when fed only
    /// through the `Ingest` API).
    pub source_checkpoint: SourceCheckpoint,
    /// The lists journal: where the snapshot's lists end, where the journal
    /// ends, and how many lists were replayed between.
    pub snapshot_lists_position: u64,
    pub lists_position: u64,
    pub lists_replayed: u64,
    pub elapsed: Duration,
}

/// What the readers share.
pub struct ReadSide {
    state: RwLock<State>,
    /// Events-journal position of the state, stored under its write lock:
    /// read while holding a read guard, it is the position of what the
    /// guard sees.
    position: AtomicU64,
    pub index: TextIndex,
    pub reference: Arc<ReferenceData>,
    pub config: ScoringConfig,
    pub congruity: CongruityRules,
    /// Opens the personal data the state keeps sealed.
    pub keys: Arc<PersonKeys>,
}

impl ReadSide {
    pub fn state(&self) -> Result<RwLockReadGuard<'_, State>, ProjectionError> {
        Ok(self.state.read()?)
    }

    /// The events-journal position of the state; call while holding a
    /// guard from [`ReadSide::state`] (or a view) for the position of
    /// what it sees. Lists are in their own journal and not counted.
    pub fn applied_position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// The scoring context for judging eligibility on `today`.
    pub fn context(&self, today: Day) -> Context<'_> {
        Context {
            reference: &self.reference,
            config: &self.config,
            today,
            congruity: Some(&self.congruity),
        }
    }

    /// Candidates' text relevance to a vacancy, by slot; asked through
    /// [`crate::query::View`].
    pub(crate) fn candidate_scorer(
        &self,
        vacancy: &Vacancy,
        config: &TextConfig,
    ) -> Result<DocScorer, ProjectionError> {
        Ok(self
            .index
            .candidate_scorer(&self.vacancy_words(vacancy, config))?)
    }

    /// Open vacancies' text relevance to a candidate's profile, by slot.
    pub(crate) fn vacancy_scorer(
        &self,
        candidate: &Candidate,
        config: &TextConfig,
    ) -> Result<DocScorer, ProjectionError> {
        let words = analyse_query(
            &candidate_query_text(candidate, &self.reference),
            config.max_query_terms,
        );
        Ok(self.index.vacancy_scorer(&words)?)
    }

    /// The `limit` candidates most relevant to a vacancy's text in the whole
    /// index, by id: the evaluation's text-only ranking.
    pub(crate) fn best_candidates_by_text(
        &self,
        vacancy: &Vacancy,
        config: &TextConfig,
        limit: usize,
    ) -> Result<HashMap<String, f64>, ProjectionError> {
        Ok(self
            .index
            .best_candidates_by_text(&self.vacancy_words(vacancy, config), limit)?)
    }

    /// The analysed words of a vacancy that its candidates' text relevance
    /// is computed from.
    fn vacancy_words(&self, vacancy: &Vacancy, config: &TextConfig) -> Vec<String> {
        analyse_query(
            &vacancy_query_text(vacancy, &self.reference),
            config.max_query_terms,
        )
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

/// An event that passed validation, with the bytes the journal will hold.
#[derive(Debug, Clone)]
pub struct Prepared {
    bytes: Vec<u8>,
    event: Event,
}

impl Prepared {
    pub fn event(&self) -> &Event {
        &self.event
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn into_event(self) -> Event {
        self.event
    }
}

/// Decodes and validates events; cheap to clone, so a source can prepare a
/// batch on its own thread, outside the writer's lock.
///
/// Preparing seals personal data under the person's key: the bytes a
/// [`Prepared`] carries are what the journal keeps (no identifying data in
/// clear), and the keys it created are made durable before them
/// ([`Projection::append`]).
#[derive(Clone)]
pub struct Preparer {
    reference: Arc<ReferenceData>,
    pseudonymiser: Pseudonymiser,
    keys: Arc<PersonKeys>,
}

impl Preparer {
    pub fn prepare(&self, bytes: Vec<u8>) -> Result<Prepared, DecodeError> {
        let envelope = incontra_proto::events::v1::Envelope::decode(bytes.as_slice())
            .map_err(|e| DecodeError::Undecodable(e.to_string()))?;
        self.prepare_envelope(&envelope, bytes)
    }

    /// As [`Preparer::prepare`], for a caller that already decoded the
    /// envelope from `bytes` (to check it against its topic, say).
    pub fn prepare_envelope(
        &self,
        envelope: &incontra_proto::events::v1::Envelope,
        bytes: Vec<u8>,
    ) -> Result<Prepared, DecodeError> {
        let (event, bytes) = Decoder::new(&self.reference, &self.pseudonymiser, &self.keys)
            .decode_for_journal(envelope, bytes)?;
        Ok(Prepared { bytes, event })
    }
}

pub struct Projection {
    /// Held for the projection's life: two writers on one journal would
    /// interleave records and each believe its own positions.
    _lock: std::fs::File,
    read: Arc<ReadSide>,
    preparer: Preparer,
    journal: Journal,
    snapshots: SnapshotStore,
    options: ProjectionOptions,
    applied_position: u64,
    index_position: u64,
    snapshot_position: u64,
    /// Body size of the newest snapshot, and journal payload bytes appended
    /// since it, for [`ProjectionOptions::snapshot_journal_share`].
    snapshot_bytes: u64,
    journal_bytes_since_snapshot: u64,
    source_checkpoint: SourceCheckpoint,
    last_index_commit: Instant,
    /// Issued lists, journaled apart (`crate::lists`); the last lists
    /// position folded into the state, and the one the newest snapshot holds.
    lists: Arc<ListsJournal>,
    lists_applied_position: u64,
    snapshot_lists_position: u64,
    /// Candidacies erased since the last index commit, whose documents the
    /// commit after it merges away.
    erased_since_commit: Vec<String>,
}

/// Layout of a data directory.
fn paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    (
        dir.join("journal"),
        dir.join("snapshots"),
        dir.join("index"),
        dir.join("lists"),
    )
}

/// A source batch read back during recovery, applied only once all of its
/// events have been seen.
struct PendingBatch {
    header_position: u64,
    remaining: u32,
    checkpoint: SourceCheckpoint,
    events: Vec<(u64, Event)>,
}

/// Replays journal records into the state and the set of entities to
/// re-index, holding back the events of a source batch until the batch is
/// complete.
struct Replay<'a> {
    state: &'a mut State,
    touched: Touched,
    snapshot_position: u64,
    index_position: u64,
    checkpoint: SourceCheckpoint,
    pending: Option<PendingBatch>,
    replayed: u64,
    undecodable: u64,
    /// Candidacies whose erasure was replayed: their keys are destroyed
    /// again, which finishes an erasure a crash interrupted.
    erased: Vec<String>,
}

impl Replay<'_> {
    fn record(
        &mut self,
        position: u64,
        bytes: &[u8],
        decoder: &Decoder<'_>,
    ) -> Result<(), ProjectionError> {
        if is_control(bytes) {
            let header = BatchHeader::decode(bytes)?;
            if let Some(unfinished) = self.pending.take() {
                // Cannot happen with this build's recovery, which cuts an
                // unfinished batch before anything is appended after it.
                tracing::warn!(
                    header_position = unfinished.header_position,
                    missing = unfinished.remaining,
                    "a source batch is followed by another before it is complete; its events are skipped"
                );
            }
            self.pending = Some(PendingBatch {
                header_position: position,
                remaining: header.events,
                checkpoint: header.checkpoint,
                events: Vec::with_capacity(header.events.min(65_536) as usize),
            });
            self.finish_batch_if_complete();
            return Ok(());
        }
        let event = match decoder.decode_stored(bytes) {
            Ok(event) => Some(event),
            Err(error) => {
                // Validated before it was journaled; only a change of the
                // reference data or rules can make it fail now.
                tracing::warn!(position, %error, "journaled event no longer decodes; skipped");
                self.undecodable += 1;
                None
            }
        };
        match &mut self.pending {
            Some(batch) => {
                batch.remaining = batch.remaining.saturating_sub(1);
                if let Some(event) = event {
                    batch.events.push((position, event));
                }
                self.finish_batch_if_complete();
            }
            None => {
                if let Some(event) = event {
                    self.apply(position, &event);
                }
            }
        }
        Ok(())
    }

    fn finish_batch_if_complete(&mut self) {
        if self.pending.as_ref().is_some_and(|b| b.remaining == 0) {
            if let Some(batch) = self.pending.take() {
                for (position, event) in &batch.events {
                    self.apply(*position, event);
                }
                self.checkpoint = batch.checkpoint;
            }
        }
    }

    fn apply(&mut self, position: u64, event: &Event) {
        if position > self.snapshot_position {
            self.state.apply(event);
            self.replayed += 1;
        }
        if let EventPayload::Erasure(_) = event.payload {
            self.erased.push(event.meta.entity_id.clone());
        }
        if position > self.index_position {
            self.touched.add(event);
        }
    }
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
        let (journal_dir, snapshot_dir, index_dir, lists_dir) = paths(dir);
        let (mut journal, report) = Journal::open(&journal_dir, options.journal.clone())?;
        let keys = Arc::new(PersonKeys::open(&dir.join("keys"))?);
        let preparer = Preparer {
            reference: reference.clone(),
            pseudonymiser: pseudonymiser.clone(),
            keys: keys.clone(),
        };
        let (lists, _) = ListsJournal::open(&lists_dir, options.journal.clone(), preparer.clone())?;
        let journal_opened = started.elapsed();
        let snapshots = SnapshotStore::open(&snapshot_dir)?;
        let index = TextIndex::open(&index_dir)?;
        let mut journal_end = journal.last_position();
        let index_opened = started.elapsed();

        let loaded = snapshots.load_latest_mapped()?;
        let snapshot_read = started.elapsed();
        let (mut state, snapshot_checkpoint, snapshot_position, snapshot_bytes, snapshot_lists) =
            match loaded {
                Some((position, mapped)) => match decode_snapshot(mapped.body()) {
                    Ok((state, checkpoint, lists)) => (
                        state,
                        checkpoint,
                        position,
                        mapped.body().len() as u64,
                        lists,
                    ),
                    Err(reason) => {
                        tracing::warn!(%reason, "snapshot unusable; replaying the journal");
                        (State::new(), SourceCheckpoint::default(), 0, 0, 0)
                    }
                },
                None => (State::new(), SourceCheckpoint::default(), 0, 0, 0),
            };
        let snapshot_decoded = started.elapsed();
        state.rebuild_indexes();
        state.set_list_retention(options.lists_retention_days);
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
        let lists_end = lists.journal()?.last_position();
        if snapshot_lists > lists_end {
            return Err(ProjectionError::AheadOfJournal {
                what: "the snapshot's lists",
                found: snapshot_lists,
                journal: lists_end,
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

        let decoder = Decoder::new(&reference, &pseudonymiser, &keys);
        let from = snapshot_position.min(index_position);
        let reindex_all = index_position == 0 && snapshot_position > 0;
        let mut replay = Replay {
            state: &mut state,
            touched: Touched::default(),
            snapshot_position,
            index_position,
            checkpoint: snapshot_checkpoint,
            pending: None,
            replayed: 0,
            undecodable: 0,
            erased: Vec::new(),
        };
        for record in journal.read_after(from)? {
            let (position, bytes) = record?;
            replay.record(position, &bytes, &decoder)?;
        }
        let mut unfinished_batch_records = 0;
        if let Some(unfinished) = replay.pending.take() {
            // Snapshots and index commits are only taken between batches, so
            // both lie before the header and stay valid.
            let keep = unfinished.header_position - 1;
            unfinished_batch_records = journal.truncate_after(keep)?;
            tracing::warn!(
                header_position = unfinished.header_position,
                records = unfinished_batch_records,
                "dropped a source batch that a crash left unfinished; it will be consumed again"
            );
            journal_end = keep;
        }
        let Replay {
            touched,
            checkpoint: source_checkpoint,
            replayed,
            mut undecodable,
            erased,
            ..
        } = replay;
        shred_erased(&keys, &state, &erased)?;
        // Lists commute with every other event, so they are replayed after
        // the events whatever their interleaving was.
        let mut lists_replayed = 0;
        // Segments past the retention may be gone (`prune_lists_journal`):
        // a state rebuilt without either snapshot starts from what is left,
        // the lists it lacks being past the retention anyway.
        let first_list = lists.journal()?.first_position();
        let lists_from = if snapshot_lists + 1 < first_list {
            tracing::warn!(
                snapshot_lists,
                first_list,
                "recorded lists before the lists journal's first segment were removed by the retention"
            );
            first_list - 1
        } else {
            snapshot_lists
        };
        for record in lists.journal()?.read_after(lists_from)? {
            let (position, bytes) = record?;
            match decoder.decode_bytes(&bytes) {
                Ok(event) => {
                    state.apply(&event);
                    lists_replayed += 1;
                }
                Err(error) => {
                    tracing::warn!(position, %error, "journaled list no longer decodes; skipped");
                    undecodable += 1;
                }
            }
        }
        let read = Arc::new(ReadSide {
            state: RwLock::new(state),
            position: AtomicU64::new(journal_end),
            index,
            reference: reference.clone(),
            config,
            congruity: CongruityRules::embedded()?,
            keys,
        });
        let mut reindexed = 0;
        {
            let state = read.state()?;
            if reindex_all {
                reindexed += index_everything(&read.index, &state, &reference)?;
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
            preparer,
            journal,
            snapshots,
            options,
            applied_position: journal_end,
            index_position: journal_end,
            snapshot_position,
            snapshot_bytes,
            // The tail replayed at open is not counted: the next snapshot
            // comes at most one snapshot's worth of journal later.
            journal_bytes_since_snapshot: 0,
            source_checkpoint: source_checkpoint.clone(),
            last_index_commit: Instant::now(),
            lists: Arc::new(lists),
            lists_applied_position: lists_end,
            snapshot_lists_position: snapshot_lists,
            erased_since_commit: Vec::new(),
        };
        // Whatever the crash interrupted: every erased candidacy's words
        // leave the index's files (a no-op when no segment holds any).
        let erased_ids: Vec<String> = projection
            .read
            .state()?
            .candidates()
            .filter(|c| c.erased)
            .map(|c| c.id.clone())
            .collect();
        if !erased_ids.is_empty() {
            projection.read.index.purge_candidates(&erased_ids)?;
        }
        let info = RecoveryInfo {
            snapshot_position,
            index_position,
            journal_position: journal_end,
            replayed,
            reindexed,
            truncated_bytes: report.truncated_bytes,
            unfinished_batch_records,
            undecodable_on_replay: undecodable,
            source_checkpoint,
            snapshot_lists_position: snapshot_lists,
            lists_position: lists_end,
            lists_replayed,
            elapsed: started.elapsed(),
        };
        tracing::info!(?info, "projection recovered");
        Ok((projection, info))
    }

    pub fn read_side(&self) -> Arc<ReadSide> {
        self.read.clone()
    }

    /// A validator for events bound for [`Projection::append`].
    pub fn preparer(&self) -> Preparer {
        self.preparer.clone()
    }

    pub fn journal_position(&self) -> u64 {
        self.applied_position
    }

    pub fn snapshot_position(&self) -> u64 {
        self.snapshot_position
    }

    /// The lists journal, which records lists without this projection's
    /// lock ([`ListsJournal::record`]).
    /// A reader of the events journal from its first record, safe to use
    /// outside the projection's lock while appends go on (it sees what was
    /// durable when it was made): for [`read_side_at`].
    pub fn journal_reader(&self) -> Result<crate::journal::JournalReader, ProjectionError> {
        Ok(self.journal.read_after(0)?)
    }

    pub fn lists_journal(&self) -> Arc<ListsJournal> {
        self.lists.clone()
    }

    /// The last lists-journal position folded into the state.
    pub fn lists_applied_position(&self) -> u64 {
        self.lists_applied_position
    }

    /// Folds the lists recorded since the last call into the state, in
    /// chunks like [`Projection::append`]; returns how many were folded.
    /// Lists change no text and no eligibility: nothing is re-indexed.
    pub fn apply_recorded_lists(&mut self) -> Result<u64, ProjectionError> {
        let pending = self.lists.take_pending()?;
        let mut remaining = pending.iter().peekable();
        while remaining.peek().is_some() {
            let mut state = self.read.state.write()?;
            let started = Instant::now();
            for _ in 0..APPLY_CHUNK {
                let Some((position, event)) = remaining.next() else {
                    break;
                };
                if state.apply(event) != Outcome::Applied {
                    // A list id drawn twice (128 random bits) or a replayed
                    // record: already in the state.
                    metrics::counter!("incontra_lists_not_folded_total").increment(1);
                }
                self.lists_applied_position = self.lists_applied_position.max(*position);
                if started.elapsed() >= APPLY_CHUNK_TIME {
                    break;
                }
            }
        }
        Ok(pending.len() as u64)
    }

    /// Where the upstream log has been consumed up to.
    pub fn source_checkpoint(&self) -> &SourceCheckpoint {
        &self.source_checkpoint
    }

    /// Validates, journals (one fsync for the batch), applies and indexes a
    /// batch of encoded envelopes. When this returns, every event reported
    /// `Applied` or `Ignored` is durable.
    pub fn ingest(&mut self, batch: &[Vec<u8>]) -> Result<Vec<IngestResult>, ProjectionError> {
        let mut results = Vec::with_capacity(batch.len());
        let mut accepted = Vec::with_capacity(batch.len());
        for bytes in batch {
            // Issued lists are written by the nodes themselves (their lists
            // journal, the lists topic): one from outside would count in
            // the outcomes as if a node had answered it.
            let prepared =
                self.preparer
                    .prepare(bytes.clone())
                    .and_then(|p| match p.event.payload {
                        EventPayload::ListIssued(_) => Err(DecodeError::Invalid {
                            field: "payload".into(),
                            reason: "list_issued is written only by the nodes".into(),
                        }),
                        _ => Ok(p),
                    });
            match prepared {
                Ok(prepared) => {
                    accepted.push(prepared);
                    results.push(None);
                }
                Err(error) => results.push(Some(IngestResult::Rejected {
                    event_id: event_id_of(bytes),
                    error,
                })),
            }
        }
        let mut outcomes = self.append(accepted, None)?.into_iter();
        Ok(results
            .into_iter()
            .map(|r| match r {
                Some(rejected) => rejected,
                None => match outcomes.next() {
                    Some((position, Outcome::Applied)) => IngestResult::Applied { position },
                    Some((position, outcome)) => IngestResult::Ignored { position, outcome },
                    // `append` returns one outcome per prepared event.
                    None => IngestResult::Ignored {
                        position: self.applied_position,
                        outcome: Outcome::Ignored {
                            reason: "internal: missing outcome".into(),
                        },
                    },
                },
            })
            .collect())
    }

    /// Journals prepared events (one fsync), then applies and indexes them,
    /// returning each event's position and outcome in order.
    ///
    /// With a `checkpoint`, the events are written as one source batch: a
    /// header carrying the checkpoint, then the events, made durable
    /// together. The header is written even for an empty batch, so a batch
    /// of nothing but dead letters still moves the checkpoint past them.
    pub fn append(
        &mut self,
        events: Vec<Prepared>,
        checkpoint: Option<&SourceCheckpoint>,
    ) -> Result<Vec<(u64, Outcome)>, ProjectionError> {
        if let Some(checkpoint) = checkpoint {
            let header = BatchHeader {
                events: u32::try_from(events.len()).map_err(|_| {
                    std::io::Error::other("a source batch holds more than 2^32 events")
                })?,
                checkpoint: checkpoint.clone(),
            };
            let header = header.encode()?;
            self.journal.append(&header)?;
            self.journal_bytes_since_snapshot += header.len() as u64;
        } else if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut positions = Vec::with_capacity(events.len());
        for prepared in &events {
            positions.push(self.journal.append(&prepared.bytes)?);
            self.journal_bytes_since_snapshot += prepared.bytes.len() as u64;
        }
        // The keys these events were sealed with, before the events.
        self.read.keys.sync()?;
        self.journal.sync()?;

        let mut touched = Touched::default();
        let mut outcomes = Vec::with_capacity(events.len());
        let mut remaining = events.iter().zip(positions).peekable();
        while remaining.peek().is_some() {
            // One chunk per hold of the write lock: lists computed between
            // chunks see a prefix of the batch, and say which.
            let mut state = self.read.state.write()?;
            let started = Instant::now();
            let mut last = None;
            for _ in 0..APPLY_CHUNK {
                let Some((prepared, position)) = remaining.next() else {
                    break;
                };
                let outcome = state.apply(&prepared.event);
                if outcome == Outcome::Applied {
                    touched.add(&prepared.event);
                }
                outcomes.push((position, outcome));
                last = Some(position);
                if started.elapsed() >= APPLY_CHUNK_TIME {
                    break;
                }
            }
            if let Some(position) = last {
                self.read.position.store(position, Ordering::Release);
            }
        }
        self.applied_position = self.journal.last_position();
        self.read
            .position
            .store(self.applied_position, Ordering::Release);
        if let Some(checkpoint) = checkpoint {
            self.source_checkpoint = checkpoint.clone();
        }
        metrics::counter!("incontra_events_journaled_total").increment(events.len() as u64);
        {
            let state = self.read.state()?;
            touched.sync(&self.read.index, &state, &self.read.reference)?;
            // Events waiting for their entity: a steady rise means a producer
            // sends updates of entities it never creates.
            metrics::gauge!("incontra_events_waiting").set(state.waiting_count() as f64);
            let erased: Vec<String> = events
                .iter()
                .zip(&outcomes)
                .filter(|(p, (_, outcome))| {
                    *outcome == Outcome::Applied
                        && matches!(p.event.payload, EventPayload::Erasure(_))
                })
                .map(|(p, _)| p.event.meta.entity_id.clone())
                .collect();
            shred_erased(&self.read.keys, &state, &erased)?;
            self.erased_since_commit.extend(erased);
        }
        if self.last_index_commit.elapsed() >= self.options.index_commit_interval {
            self.commit_index()?;
        }
        if self.snapshot_due() {
            self.snapshot()?;
        }
        Ok(outcomes)
    }

    /// Makes everything applied so far searchable.
    pub fn commit_index(&mut self) -> Result<(), ProjectionError> {
        if self.index_position != self.applied_position {
            self.read.index.commit(self.applied_position)?;
            self.index_position = self.applied_position;
        }
        if !self.erased_since_commit.is_empty() {
            self.read
                .index
                .purge_candidates(&self.erased_since_commit)?;
            self.erased_since_commit.clear();
        }
        self.last_index_commit = Instant::now();
        Ok(())
    }

    fn snapshot_due(&self) -> bool {
        self.applied_position - self.snapshot_position >= self.options.snapshot_every
            && self.journal_bytes_since_snapshot as f64
                >= self.snapshot_bytes as f64 * self.options.snapshot_journal_share
    }

    /// Commits the index and writes a snapshot of the state, with the
    /// source checkpoint, at the current position; restart then replays
    /// only what comes after.
    pub fn snapshot(&mut self) -> Result<(), ProjectionError> {
        self.commit_index()?;
        self.apply_recorded_lists()?;
        if self.snapshot_position == self.applied_position
            && self.snapshot_lists_position == self.lists_applied_position
        {
            return Ok(());
        }
        {
            // Streamed to the file: a million candidates serialise to
            // hundreds of MB, which need not exist twice in memory. Lists
            // recorded meanwhile wait in the lists journal's queue; they
            // are past the lists position stored here.
            let state = self.read.state()?;
            let checkpoint = &self.source_checkpoint;
            let lists = self.lists_applied_position;
            self.snapshot_bytes = self.snapshots.write_with(self.applied_position, |out| {
                postcard::to_io(&(STATE_SCHEMA, &*state, checkpoint, lists), out)
                    .map(|_| ())
                    .map_err(std::io::Error::other)
            })?;
        }
        // The snapshot before this one is the fallback recovery may start
        // from: what it holds is the most the lists journal may lose.
        let fallback_lists = self.snapshot_lists_position;
        self.snapshot_lists_position = self.lists_applied_position;
        self.snapshot_position = self.applied_position;
        self.journal_bytes_since_snapshot = 0;
        self.prune_lists_journal(fallback_lists)?;
        Ok(())
    }

    /// Removes the lists journal's oldest segments once both kept snapshots
    /// hold their lists (`through`: the older snapshot's lists position) and
    /// their newest list is past the retention: the journal then stops
    /// growing with the history, as the state already did.
    fn prune_lists_journal(&mut self, through: u64) -> Result<(), ProjectionError> {
        let Some(cutoff) = self.read.state()?.list_cutoff() else {
            return Ok(());
        };
        let mut journal = self.lists.journal()?;
        let mut last_gone = 0;
        for (_, last) in journal.closed_segments() {
            if last > through {
                break;
            }
            // The segment's last list is its newest (lists are journaled as
            // they are answered).
            let newest = journal
                .read_after(last - 1)?
                .next()
                .transpose()?
                .and_then(|(_, bytes)| {
                    incontra_proto::events::v1::Envelope::decode(bytes.as_slice()).ok()
                })
                .and_then(|e| match e.payload {
                    Some(incontra_proto::events::v1::envelope::Payload::ListIssued(l)) => {
                        Some(l.issued_day)
                    }
                    _ => None,
                });
            match newest {
                Some(day) if day < cutoff => last_gone = last,
                _ => break,
            }
        }
        if last_gone > 0 {
            let removed = journal.remove_segments_through(last_gone)?;
            tracing::info!(
                removed,
                through = last_gone,
                "lists journal segments past the retention removed"
            );
        }
        Ok(())
    }
}

/// The state, source checkpoint and lists position of a snapshot body, or
/// why it cannot be used.
fn decode_snapshot(body: &[u8]) -> Result<(State, SourceCheckpoint, u64), String> {
    let (schema, rest) = postcard::take_from_bytes::<u32>(body).map_err(|e| e.to_string())?;
    match schema {
        STATE_SCHEMA => {
            postcard::from_bytes::<(State, SourceCheckpoint, u64)>(rest).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "state schema {schema}, this build reads {STATE_SCHEMA}"
        )),
    }
}

/// Best effort: the id of an event that failed to decode, for the rejection.
fn event_id_of(bytes: &[u8]) -> String {
    use prost::Message;
    incontra_proto::events::v1::Envelope::decode(bytes)
        .map(|e| e.event_id)
        .unwrap_or_default()
}

/// The read side as it was at events-journal position `position`, rebuilt
/// on a copy: the journal `reader` (from its first record) replayed into a
/// fresh state up to `position`, and a text index of that state written in
/// `scratch` (a directory the caller owns and removes afterwards). This is
/// how an issued list is computed again (`VerifyIssuedList`); the live
/// node is untouched, and this runs outside its locks. It costs a replay
/// and a re-index of everything up to `position`: seconds per hundred
/// thousand events.
///
/// `cancelled` is read every few thousand records: set, the work stops
/// with [`ProjectionError::Cancelled`] (its caller went away).
pub fn read_side_at(
    live: &ReadSide,
    preparer: &Preparer,
    reader: crate::journal::JournalReader,
    position: u64,
    scratch: &Path,
    cancelled: &std::sync::atomic::AtomicBool,
) -> Result<ReadSide, ProjectionError> {
    let decoder = Decoder::new(&preparer.reference, &preparer.pseudonymiser, &preparer.keys);
    let mut state = State::new();
    let mut reached = 0;
    for record in reader {
        let (at, bytes) = record?;
        if at > position {
            break;
        }
        if at % 4_096 == 0 && cancelled.load(Ordering::Relaxed) {
            return Err(ProjectionError::Cancelled);
        }
        reached = at;
        if is_control(&bytes) {
            continue;
        }
        // Journaled events decoded when written; one that no longer does
        // was skipped by the live node's recovery too.
        if let Ok(event) = decoder.decode_stored(&bytes) {
            state.apply(&event);
        }
    }
    if reached < position {
        return Err(ProjectionError::AheadOfJournal {
            what: "the list's log position",
            found: position,
            journal: reached,
        });
    }
    if cancelled.load(Ordering::Relaxed) {
        return Err(ProjectionError::Cancelled);
    }
    let index = TextIndex::open(scratch)?;
    index_everything(&index, &state, &live.reference)?;
    index.commit(position)?;
    Ok(ReadSide {
        state: RwLock::new(state),
        position: AtomicU64::new(position),
        index,
        reference: live.reference.clone(),
        config: live.config.clone(),
        congruity: live.congruity.clone(),
        keys: live.keys.clone(),
    })
}

/// Writes the document of every vacancy and candidate of `state` (or
/// deletes it, for one not to be searched); returns how many.
fn index_everything(
    index: &TextIndex,
    state: &State,
    reference: &ReferenceData,
) -> Result<u64, ProjectionError> {
    for v in state.vacancies() {
        sync_vacancy(index, state, &v.id, reference)?;
    }
    for c in state.candidates() {
        sync_candidate(index, state, &c.id, reference)?;
    }
    Ok((state.vacancy_count() + state.candidates().count()) as u64)
}

/// Destroys the keys of the people whose candidacies in `erased` were
/// erased (after the erasure is journaled and applied).
fn shred_erased(
    keys: &PersonKeys,
    state: &State,
    erased: &[String],
) -> Result<(), ProjectionError> {
    for id in erased {
        if let Some(c) = state.candidate(id).filter(|c| c.erased) {
            keys.shred(&c.person)?;
        }
    }
    Ok(())
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
            // An erased candidacy's document is deleted like a withdrawn one's.
            EntityKind::Candidacy | EntityKind::Erasure => {
                self.candidates.insert(event.meta.entity_id.clone());
            }
            // Employment changes no text; eligibility is read from the state.
            // Lists are outcome records: no text, and they change no
            // eligibility.
            EntityKind::List => {}
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
    let slotted = state
        .vacancy_slot(id)
        .and_then(|slot| Some((slot, state.vacancy_at(slot)?)));
    match slotted {
        // Open with positions its employer has not reported filled: the
        // documents lists of vacancies score against.
        Some((slot, v))
            if v.status == incontra_engine::model::VacancyStatus::Open
                && v.positions_filled < v.spec.positions =>
        {
            index.upsert_vacancy(id, slot, &v.spec.title, &vacancy_text(v, reference))?
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
    let slotted = state
        .candidate_slot(id)
        .and_then(|slot| Some((slot, state.candidate_at(slot)?.0)));
    match slotted {
        Some((slot, c)) if !c.withdrawn => {
            let (title, text) = candidate_text(c, reference);
            index.upsert_candidate(id, slot, &title, &text)?
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

    /// The first `n` events of the small generated world, encoded.
    fn generated(n: usize) -> Vec<Vec<u8>> {
        use prost::Message;
        let reference = ReferenceData::embedded().unwrap();
        let generator = incontra_datagen::Generator::new(
            &reference,
            incontra_datagen::GeneratorConfig::small(),
        );
        generator
            .events()
            .take(n)
            .map(|e| e.encode_to_vec())
            .collect()
    }

    fn prepare(p: &Projection, bytes: &[Vec<u8>]) -> Vec<Prepared> {
        let preparer = p.preparer();
        bytes
            .iter()
            .map(|b| preparer.prepare(b.clone()).unwrap())
            .collect()
    }

    fn checkpoint(offset: i64) -> SourceCheckpoint {
        let mut c = SourceCheckpoint::default();
        c.advance("incontra.co.v1", 0, offset);
        c
    }

    #[test]
    fn a_source_batch_cut_short_by_a_crash_is_dropped_whole() {
        let dir = tempfile::tempdir().unwrap();
        let events = generated(30);
        let digest_after_first_batch;
        {
            let (mut p, _) = open(dir.path()).unwrap();
            let batch = prepare(&p, &events[..10]);
            p.append(batch, Some(&checkpoint(10))).unwrap();
            assert_eq!(p.journal_position(), 11, "header + 10 events");
            digest_after_first_batch = p.read_side().state().unwrap().digest();
        }
        // A crash while the next batch was being written: its header and
        // 4 of its 10 events reached the file.
        {
            let (mut journal, _) =
                Journal::open(&dir.path().join("journal"), JournalOptions::default()).unwrap();
            let header = BatchHeader {
                events: 10,
                checkpoint: checkpoint(20),
            };
            journal.append(&header.encode().unwrap()).unwrap();
            for bytes in &events[10..14] {
                journal.append(bytes).unwrap();
            }
            journal.sync().unwrap();
        }
        let (mut p, info) = open(dir.path()).unwrap();
        assert_eq!(info.unfinished_batch_records, 5);
        assert_eq!(info.journal_position, 11);
        assert_eq!(info.source_checkpoint, checkpoint(10));
        assert_eq!(p.source_checkpoint(), &checkpoint(10));
        assert_eq!(
            p.read_side().state().unwrap().digest(),
            digest_after_first_batch
        );

        // Consumption resumes at offset 10 and the batch arrives whole.
        let batch = prepare(&p, &events[10..20]);
        let outcomes = p.append(batch, Some(&checkpoint(20))).unwrap();
        assert!(outcomes.iter().all(|(_, o)| *o == Outcome::Applied));
        let digest = p.read_side().state().unwrap().digest();
        drop(p);
        let (p, info) = open(dir.path()).unwrap();
        assert_eq!(info.unfinished_batch_records, 0);
        assert_eq!(info.journal_position, 22);
        assert_eq!(p.source_checkpoint(), &checkpoint(20));
        assert_eq!(p.read_side().state().unwrap().digest(), digest);
    }

    #[test]
    fn the_checkpoint_survives_in_the_snapshot_and_in_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let events = generated(20);
        {
            let (mut p, _) = open(dir.path()).unwrap();
            let batch = prepare(&p, &events[..10]);
            p.append(batch, Some(&checkpoint(10))).unwrap();
            p.snapshot().unwrap();
            // A batch of nothing but dead letters still moves the checkpoint.
            p.append(Vec::new(), Some(&checkpoint(13))).unwrap();
        }
        let (mut p, info) = open(dir.path()).unwrap();
        assert_eq!(info.snapshot_position, 11);
        assert_eq!(
            info.source_checkpoint,
            checkpoint(13),
            "journal after the snapshot"
        );
        p.snapshot().unwrap();
        drop(p);
        let (_, info) = open(dir.path()).unwrap();
        assert_eq!(info.snapshot_position, 12);
        assert_eq!(info.replayed, 0);
        assert_eq!(
            info.source_checkpoint,
            checkpoint(13),
            "from the snapshot alone"
        );
    }

    #[test]
    fn snapshots_wait_for_a_snapshot_worth_of_journal() {
        let dir = tempfile::tempdir().unwrap();
        let events = generated(400);
        let (mut p, _) = Projection::open(
            dir.path(),
            Arc::new(ReferenceData::embedded().unwrap()),
            ScoringConfig::embedded_default().unwrap(),
            Pseudonymiser::new(&[7u8; 32]),
            ProjectionOptions {
                snapshot_every: 1,
                ..ProjectionOptions::default()
            },
        )
        .unwrap();
        // The first append snapshots (no snapshot yet, so no size to wait for).
        p.append(prepare(&p, &events[..50]), None).unwrap();
        assert_eq!(p.snapshot_position(), 50);
        let snapshot_bytes = p.snapshot_bytes;
        assert!(snapshot_bytes > 0);

        // Appends one at a time: no snapshot until the journal since the
        // last one is as large as it, then one at once.
        let mut journaled = 0u64;
        for (i, bytes) in events[50..].iter().enumerate() {
            let prepared = prepare(&p, std::slice::from_ref(bytes));
            // What the journal holds: the sealed form, not the producer's.
            journaled += prepared[0].bytes.len() as u64;
            p.append(prepared, None).unwrap();
            let position = 51 + i as u64;
            if journaled < snapshot_bytes {
                assert_eq!(p.snapshot_position(), 50, "at {position}");
            } else {
                assert_eq!(p.snapshot_position(), position, "journaled {journaled}");
                return;
            }
        }
        panic!("400 events never outgrew a snapshot of {snapshot_bytes} bytes");
    }

    /// An encoded `ListIssued` envelope with id `id`.
    fn list(id: &str) -> Vec<u8> {
        use incontra_proto::events::v1 as ev;
        use prost::Message;
        ev::Envelope {
            event_id: id.into(),
            entity_id: id.into(),
            entity_version: 1,
            occurred_at_ms: 1_700_000_000_000,
            source: "incontra".into(),
            schema_version: 1,
            payload: Some(ev::envelope::Payload::ListIssued(ev::ListIssued {
                direction: ev::ListDirection::CandidatesForVacancy as i32,
                subject_id: "V1".into(),
                requester: None,
                issued_day: 19_700,
                log_position: 0,
                weights_version: "test".into(),
                rows: vec![ev::ListedRow {
                    id: "C1".into(),
                    score: 0.5,
                    similarities: Vec::new(),
                    packed_similarities: Vec::new(),
                }],
                query: None,
            })),
        }
        .encode_to_vec()
    }

    /// A `list` issued on `day`.
    fn list_on(id: &str, day: i32) -> Vec<u8> {
        use incontra_proto::events::v1 as ev;
        use prost::Message;
        let mut e = ev::Envelope::decode(list(id).as_slice()).unwrap();
        if let Some(ev::envelope::Payload::ListIssued(l)) = &mut e.payload {
            l.issued_day = day;
        }
        e.encode_to_vec()
    }

    #[test]
    fn a_past_state_is_rebuilt_on_a_copy_and_stops_when_cancelled() {
        use std::sync::atomic::AtomicBool;
        let dir = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let events = generated(60);
        let (mut p, _) = open(dir.path()).unwrap();
        p.ingest(&events[..30]).unwrap();
        let digest_at_30 = p.read_side().state().unwrap().digest();
        p.ingest(&events[30..]).unwrap();
        let live = p.read_side();
        let past = read_side_at(
            &live,
            &p.preparer(),
            p.journal_reader().unwrap(),
            30,
            &scratch.path().join("a"),
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(past.state().unwrap().digest(), digest_at_30);
        assert_eq!(past.applied_position(), 30);
        let stopped = read_side_at(
            &live,
            &p.preparer(),
            p.journal_reader().unwrap(),
            30,
            &scratch.path().join("b"),
            &AtomicBool::new(true),
        );
        assert!(matches!(stopped, Err(ProjectionError::Cancelled)));
    }

    #[test]
    fn lists_past_the_retention_leave_the_state_and_their_journal_segments() {
        let dir = tempfile::tempdir().unwrap();
        let options = || ProjectionOptions {
            lists_retention_days: Some(30),
            journal: JournalOptions {
                segment_bytes: 2_048,
                ..JournalOptions::default()
            },
            ..ProjectionOptions::default()
        };
        let open_with = |dir: &Path| {
            Projection::open(
                dir,
                Arc::new(ReferenceData::embedded().unwrap()),
                ScoringConfig::embedded_default().unwrap(),
                Pseudonymiser::new(&[7u8; 32]),
                options(),
            )
        };
        {
            let (mut p, _) = open_with(dir.path()).unwrap();
            let lists = p.lists_journal();
            // Forty old lists, several segments of them.
            let old: Vec<Vec<u8>> = (0..40)
                .map(|i| list_on(&format!("OLD{i}"), 19_000))
                .collect();
            assert!(lists.record(&old).unwrap().iter().all(|r| r.is_ok()));
            p.snapshot().unwrap();
            // A list a year later: the old ones are past the retention.
            lists.record(&[list_on("NEW1", 19_400)]).unwrap();
            p.snapshot().unwrap();
            lists.record(&[list_on("NEW2", 19_401)]).unwrap();
            p.snapshot().unwrap();
            let state = p.read_side().state().unwrap().lists().count();
            assert_eq!(state, 2, "only the lists within the retention");
            let first = lists.journal().unwrap().first_position();
            assert!(first > 1, "old segments removed");
            assert!(first <= 41, "never a segment with a list still kept");
        }
        // Recovery reads what is left, from the snapshot or without it.
        let (p, _) = open_with(dir.path()).unwrap();
        let mut kept: Vec<String> = p
            .read_side()
            .state()
            .unwrap()
            .lists()
            .map(|(id, _)| id.clone())
            .collect();
        kept.sort();
        assert_eq!(kept, vec!["NEW1", "NEW2"]);
        drop(p);
        std::fs::remove_dir_all(dir.path().join("snapshots")).unwrap();
        let (p, _) = open_with(dir.path()).unwrap();
        let mut kept: Vec<String> = p
            .read_side()
            .state()
            .unwrap()
            .lists()
            .map(|(id, _)| id.clone())
            .collect();
        kept.sort();
        assert_eq!(kept, vec!["NEW1", "NEW2"]);
    }

    #[test]
    fn lists_are_journaled_apart_folded_later_and_recovered_once() {
        let dir = tempfile::tempdir().unwrap();
        let events = generated(40);
        let digest;
        {
            let (mut p, _) = open(dir.path()).unwrap();
            p.ingest(&events[..20]).unwrap();
            let lists = p.lists_journal();
            let recorded = lists.record(&[list("L1"), list("L2")]).unwrap();
            assert!(recorded.iter().all(|r| r.is_ok()), "{recorded:?}");
            // Durable, not folded: the events journal did not move.
            assert_eq!(p.journal_position(), 20);
            assert!(p.read_side().state().unwrap().list("L1").is_none());
            assert_eq!(p.apply_recorded_lists().unwrap(), 2);
            assert!(p.read_side().state().unwrap().list("L2").is_some());
            assert_eq!(p.lists_applied_position(), 2);
            // The snapshot holds both lists; one more is recorded after it
            // and never folded before the process ends.
            p.snapshot().unwrap();
            p.ingest(&events[20..]).unwrap();
            let refused = lists.record(&[list("L3"), events[0].clone()]).unwrap();
            assert!(refused[0].is_ok());
            assert!(matches!(
                refused[1],
                Err(crate::lists::ListRejected::NotAList)
            ));
            p.apply_recorded_lists().unwrap();
            digest = p.read_side().state().unwrap().digest();
        }
        let (p, info) = open(dir.path()).unwrap();
        assert_eq!(info.snapshot_lists_position, 2);
        assert_eq!(info.lists_position, 3);
        assert_eq!(info.lists_replayed, 1, "only the list after the snapshot");
        let read = p.read_side();
        let state = read.state().unwrap();
        assert!(state.list("L3").is_some());
        assert_eq!(state.counters().duplicates, 0, "no list applied twice");
        assert_eq!(state.digest(), digest);
    }

    #[test]
    fn a_list_recorded_but_never_folded_is_recovered_from_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let events = generated(10);
        let digest;
        {
            let (mut p, _) = open(dir.path()).unwrap();
            p.ingest(&events).unwrap();
            p.lists_journal().record(&[list("L9")]).unwrap();
            // The state folding it gives, in memory only: no snapshot.
            p.apply_recorded_lists().unwrap();
            digest = p.read_side().state().unwrap().digest();
            // Dropped without a snapshot: the fold was in memory only.
        }
        let (p, info) = open(dir.path()).unwrap();
        assert_eq!(info.lists_replayed, 1);
        assert_eq!(p.read_side().state().unwrap().digest(), digest);
    }

    #[test]
    fn a_batch_is_applied_in_chunks_and_the_position_follows() {
        let dir = tempfile::tempdir().unwrap();
        let events = generated(3 * APPLY_CHUNK + 7);
        let (mut p, _) = open(dir.path()).unwrap();
        let results = p.ingest(&events).unwrap();
        assert_eq!(results.len(), events.len());
        let read = p.read_side();
        let _guard = read.state().unwrap();
        assert_eq!(read.applied_position(), events.len() as u64);
        drop(_guard);
        // The same events in one call or in many give the same state.
        let other = tempfile::tempdir().unwrap();
        let (mut q, _) = open(other.path()).unwrap();
        for chunk in events.chunks(100) {
            q.ingest(chunk).unwrap();
        }
        assert_eq!(
            q.read_side().state().unwrap().digest(),
            read.state().unwrap().digest()
        );
    }

    #[test]
    fn embedded_ingest_writes_no_headers() {
        let dir = tempfile::tempdir().unwrap();
        let events = generated(10);
        let (mut p, _) = open(dir.path()).unwrap();
        p.ingest(&events).unwrap();
        assert_eq!(p.journal_position(), 10);
        assert!(p.source_checkpoint().is_empty());
    }
}
