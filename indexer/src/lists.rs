//! The issued-lists journal (`<data-dir>/lists/`): where an embedded node
//! records every list it answers, apart from the events journal, so that
//! answering a list waits for its own fsync and never for an ingest batch,
//! an index commit or a snapshot held under the projection's lock.
//!
//! This is sound because a `ListIssued` event commutes with every other
//! event: `State::apply` only adds it to the lists by id (plus the seen
//! event ids, versions and counters), and attribution reads the lists as a
//! set (`incontra_engine::outcomes`). So the lists may reach the state after
//! the events journaled around them, in whatever interleaving, and the
//! state is the same.
//!
//! Writing and folding are separate steps: [`ListsJournal::record`]
//! journals a group of lists with one fsync under this journal's own lock
//! and queues them; [`crate::projection::Projection::apply_recorded_lists`],
//! under the projection's lock, later folds the queue into the state. A
//! snapshot stores the lists position it includes; recovery replays this
//! journal after it.

use std::path::Path;
use std::sync::Mutex;

use incontra_engine::event::{Event, EventPayload};

use crate::decode::DecodeError;
use crate::journal::{Journal, JournalError, JournalOptions};
use crate::projection::Preparer;

/// Why one list was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ListRejected {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("not an issued list: only ListIssued events go to the lists journal")]
    NotAList,
}

#[derive(Debug, thiserror::Error)]
pub enum ListsJournalError {
    #[error("lists journal: {0}")]
    Journal(#[from] JournalError),
    #[error("a lock was poisoned by a panic in another thread")]
    Poisoned,
}

/// The lists journal and the lists recorded but not yet folded.
pub struct ListsJournal {
    preparer: Preparer,
    /// Held across append and fsync: records keep their positions' order.
    journal: Mutex<Journal>,
    /// Durable lists waiting for the fold, in position order. A lock of its
    /// own, so the fold never waits for an fsync in progress.
    pending: Mutex<Vec<(u64, Event)>>,
}

impl ListsJournal {
    pub(crate) fn open(
        dir: &Path,
        options: JournalOptions,
        preparer: Preparer,
    ) -> Result<(ListsJournal, u64), JournalError> {
        let (journal, report) = Journal::open(dir, options)?;
        if report.truncated_bytes > 0 {
            tracing::warn!(
                bytes = report.truncated_bytes,
                "cut a torn tail of the lists journal (a list never acknowledged)"
            );
        }
        Ok((
            ListsJournal {
                preparer,
                journal: Mutex::new(journal),
                pending: Mutex::new(Vec::new()),
            },
            report.truncated_bytes,
        ))
    }

    pub(crate) fn journal(&self) -> Result<std::sync::MutexGuard<'_, Journal>, ListsJournalError> {
        self.journal.lock().map_err(|_| ListsJournalError::Poisoned)
    }

    /// Validates, journals and fsyncs a group of encoded `ListIssued`
    /// envelopes (one fsync for all), and queues them for the fold. When
    /// this returns, every list reported `Ok` is durable; its position in
    /// the lists journal is returned.
    pub fn record(
        &self,
        batch: &[Vec<u8>],
    ) -> Result<Vec<Result<u64, ListRejected>>, ListsJournalError> {
        let mut results = Vec::with_capacity(batch.len());
        let mut accepted = Vec::with_capacity(batch.len());
        for bytes in batch {
            match self.preparer.prepare(bytes.clone()) {
                Ok(prepared) if matches!(prepared.event().payload, EventPayload::ListIssued(_)) => {
                    results.push(None);
                    accepted.push(prepared);
                }
                Ok(_) => results.push(Some(ListRejected::NotAList)),
                Err(error) => results.push(Some(ListRejected::Decode(error))),
            }
        }
        let mut positions = Vec::with_capacity(accepted.len());
        if !accepted.is_empty() {
            let mut journal = self.journal()?;
            for prepared in &accepted {
                positions.push(journal.append(prepared.bytes())?);
            }
            journal.sync()?;
            // Queued before the journal lock is released, so the queue is
            // in position order.
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| ListsJournalError::Poisoned)?;
            pending.extend(
                positions
                    .iter()
                    .copied()
                    .zip(accepted.into_iter().map(|p| p.into_event())),
            );
        }
        metrics::counter!("incontra_lists_journaled_total").increment(positions.len() as u64);
        let mut positions = positions.into_iter();
        Ok(results
            .into_iter()
            .map(|r| match r {
                Some(rejected) => Err(rejected),
                // One position per accepted list.
                None => positions.next().ok_or(ListRejected::NotAList),
            })
            .collect())
    }

    /// The last position written (durable once `record` returned).
    pub fn position(&self) -> Result<u64, ListsJournalError> {
        Ok(self.journal()?.last_position())
    }

    /// The durable lists not folded yet, in position order, taken out of
    /// the queue.
    pub(crate) fn take_pending(&self) -> Result<Vec<(u64, Event)>, ListsJournalError> {
        let mut pending = self
            .pending
            .lock()
            .map_err(|_| ListsJournalError::Poisoned)?;
        Ok(std::mem::take(&mut *pending))
    }
}
