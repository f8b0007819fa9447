//! The access log (`<data-dir>/access/`): one record for every answer that
//! held person-level data (a list, an explanation, personal data), written
//! durably before the answer leaves the node. Who (the token's subject,
//! the role the call was allowed under, the CPI), when, which RPC, why (the
//! stated purpose) and which people (candidate ids, never names or codici
//! fiscali). Append-only: nothing here rewrites or deletes a record.
//! `GetAccessLog` reads it for the data-protection officer (GDPR art. 15:
//! who saw this person's data, and why).
//!
//! It is kept apart from the events journal: access is not an event of the
//! labour market, a replica records the accesses it served, and reading the
//! log never waits for the fold.

use std::path::Path;
use std::sync::{Arc, Mutex};

use incontra_indexer::journal::{Journal, JournalError, JournalOptions};
use incontra_proto::matching::v1 as pb;
use prost::Message;

use crate::group_commit::GroupCommit;

/// Records written with one fsync at most.
const GROUP_COMMIT_MAX: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    #[error("access log: {0}")]
    Journal(#[from] JournalError),
    #[error("access log: a record does not decode at position {0}")]
    Corrupt(u64),
    #[error("a lock was poisoned by a panic in another thread")]
    Poisoned,
}

/// The journal of access records.
pub struct AccessLog {
    journal: Mutex<Journal>,
}

impl AccessLog {
    pub fn open(data_dir: &Path) -> Result<AccessLog, AccessLogError> {
        let (journal, report) = Journal::open(&data_dir.join("access"), JournalOptions::default())?;
        if report.truncated_bytes > 0 {
            tracing::warn!(
                bytes = report.truncated_bytes,
                "cut a torn tail of the access log (an access never answered)"
            );
        }
        Ok(AccessLog {
            journal: Mutex::new(journal),
        })
    }

    /// Appends encoded records and makes them durable with one fsync.
    fn append(&self, records: &[Vec<u8>]) -> Result<(), AccessLogError> {
        let mut journal = self.journal.lock().map_err(|_| AccessLogError::Poisoned)?;
        for record in records {
            journal.append(record)?;
        }
        journal.sync()?;
        Ok(())
    }

    /// The records about `candidate_id` (every record when empty) between
    /// `from_ms` and `to_ms` inclusive (0 = unbounded), oldest first, the
    /// latest `limit` of them.
    pub fn query(
        &self,
        candidate_id: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<pb::AccessRecord>, AccessLogError> {
        let reader = self
            .journal
            .lock()
            .map_err(|_| AccessLogError::Poisoned)?
            .read_after(0)?;
        let mut out = std::collections::VecDeque::with_capacity(limit.min(1_024));
        for record in reader {
            let (position, bytes) = record?;
            let r = pb::AccessRecord::decode(bytes.as_slice())
                .map_err(|_| AccessLogError::Corrupt(position))?;
            let in_period =
                (from_ms == 0 || r.at_ms >= from_ms) && (to_ms == 0 || r.at_ms <= to_ms);
            let about =
                candidate_id.is_empty() || r.candidate_ids.iter().any(|c| c == candidate_id);
            if in_period && about {
                if out.len() == limit {
                    out.pop_front();
                }
                if limit > 0 {
                    out.push_back(r);
                }
            }
        }
        Ok(out.into())
    }
}

/// Writes access records with group commit (call within a tokio runtime).
#[derive(Clone)]
pub struct AccessRecorder {
    log: Arc<AccessLog>,
    writer: GroupCommit,
}

impl AccessRecorder {
    pub fn new(log: Arc<AccessLog>) -> AccessRecorder {
        let target = log.clone();
        let writer = GroupCommit::spawn(
            GROUP_COMMIT_MAX,
            Box::new(move |records| {
                target
                    .append(&records)
                    .map(|()| records.iter().map(|_| Ok(())).collect())
                    .map_err(|e| e.to_string())
            }),
            || {},
        );
        AccessRecorder { log, writer }
    }

    pub fn log(&self) -> &Arc<AccessLog> {
        &self.log
    }

    /// Records one access; an error means it was not recorded, and the
    /// answer must not be given.
    pub async fn record(&self, record: pb::AccessRecord) -> Result<(), tonic::Status> {
        self.writer
            .write(record.encode_to_vec())
            .await
            .map_err(|e| tonic::Status::unavailable(format!("access not recorded: {e}")))?;
        metrics::counter!("incontra_access_records_total").increment(1);
        Ok(())
    }
}
