//! Recording issued lists: every list `MatchCandidates` and `MatchVacancies`
//! return is first written as a `ListIssued` event, so hires can be
//! attributed to it and it can be reproduced from the log position it names.
//!
//! An embedded node journals the record itself into the lists journal
//! (`incontra_indexer::lists`), many lists to one fsync (group commit:
//! concurrent calls share a batch), without the projection's lock: a list
//! waits for its own fsync, never for an ingest batch, an index commit or a
//! snapshot. Folding the recorded lists into the state is a second, later
//! step (a task that takes the projection's lock; lists commute with every
//! other event, so when does not matter). A Kafka replica produces it to
//! the lists topic, which every replica consumes, so outcomes agree across
//! replicas. Either way a list is answered only once it is recorded.

use std::sync::{Arc, Mutex};

use incontra_engine::matching::Ranked;
use incontra_engine::scoring::Criterion;
use incontra_indexer::lists::ListsJournal;
use incontra_indexer::projection::Projection;
use incontra_kafka::ListPublisher;
use incontra_proto::events::v1 as ev;
use prost::Message;
use tokio::sync::mpsc;
use tonic::Status;

use crate::group_commit::GroupCommit;

/// Lists recorded with one fsync at most.
const GROUP_COMMIT_MAX: usize = 256;

#[derive(Clone)]
pub enum ListRecorder {
    Journal(GroupCommit),
    Kafka(Arc<ListPublisher>),
}

impl ListRecorder {
    /// A recorder journaling into the lists journal of `projection`, and
    /// folding what it recorded into the projection afterwards; call within
    /// a tokio runtime.
    pub fn journal(
        projection: Arc<Mutex<Projection>>,
    ) -> Result<ListRecorder, incontra_indexer::projection::ProjectionError> {
        let lists: Arc<ListsJournal> = projection
            .lock()
            .map_err(|_| incontra_indexer::projection::ProjectionError::Poisoned)?
            .lists_journal();
        // One pending wake-up is enough: a fold takes every list recorded
        // before it. Ends with the recorder (the sender is its).
        let (recorded, wake) = mpsc::channel::<()>(1);
        tokio::spawn(fold(projection, wake));
        let writer = GroupCommit::spawn(
            GROUP_COMMIT_MAX,
            Box::new(move |bytes| {
                lists
                    .record(&bytes)
                    .map(|results| {
                        results
                            .into_iter()
                            .map(|r| r.map(|_| ()).map_err(|e| e.to_string()))
                            .collect()
                    })
                    .map_err(|e| e.to_string())
            }),
            move || {
                let _ = recorded.try_send(());
            },
        );
        Ok(ListRecorder::Journal(writer))
    }

    /// Records the list and returns its id; an error means it was not
    /// recorded and must not be answered.
    pub async fn record(
        &self,
        list: ev::ListIssued,
        occurred_at_ms: i64,
    ) -> Result<String, Status> {
        let id = new_list_id();
        let envelope = ev::Envelope {
            event_id: id.clone(),
            entity_id: id.clone(),
            entity_version: 1,
            occurred_at_ms,
            source: "incontra".into(),
            schema_version: 1,
            payload: Some(ev::envelope::Payload::ListIssued(list)),
        };
        let bytes = envelope.encode_to_vec();
        let unavailable = |e: String| Status::unavailable(format!("list not recorded: {e}"));
        match self {
            ListRecorder::Journal(writer) => writer.write(bytes).await.map_err(unavailable)?,
            ListRecorder::Kafka(publisher) => {
                publisher
                    .publish(&id, &bytes)
                    .await
                    .map_err(|e| unavailable(e.to_string()))?;
            }
        }
        metrics::counter!("incontra_lists_recorded_total").increment(1);
        Ok(id)
    }
}

/// Folds recorded lists into the state each time some are recorded. It
/// waits for the projection's lock as long as the holder needs (a snapshot
/// takes it for tens of seconds at a million candidates): no list waits for
/// this. Lists recorded meanwhile are folded together.
async fn fold(projection: Arc<Mutex<Projection>>, mut recorded: mpsc::Receiver<()>) {
    while recorded.recv().await.is_some() {
        let projection = projection.clone();
        let result = tokio::task::spawn_blocking(move || {
            projection
                .lock()
                .map_err(|_| "projection lock poisoned".to_owned())?
                .apply_recorded_lists()
                .map_err(|e| e.to_string())
        })
        .await;
        match result {
            Ok(Ok(_)) => {}
            // Recorded lists stay durable and queued; the next round (or a
            // snapshot, or a restart's replay) folds them.
            Ok(Err(error)) => tracing::error!(%error, "recorded lists not folded"),
            Err(error) => tracing::error!(%error, "list fold task failed"),
        }
    }
}

/// A list id unique across replicas and restarts: 128 random bits.
fn new_list_id() -> String {
    format!("L{:032x}", rand::random::<u128>())
}

/// The rows of a ranked list as recorded: id, score and the per-criterion
/// similarities (the features weights are learned from).
pub fn rows(items: &[Ranked]) -> Vec<ev::ListedRow> {
    items
        .iter()
        .map(|r| {
            let similarities: Vec<f64> = Criterion::ALL
                .iter()
                .map(|c| {
                    r.contributions
                        .iter()
                        .find(|x| x.criterion == *c)
                        .map_or(0.0, |x| x.similarity)
                })
                .collect();
            ev::ListedRow {
                id: r.id.clone(),
                score: r.score,
                similarities: Vec::new(),
                packed_similarities: incontra_indexer::decode::pack_similarities(&similarities),
            }
        })
        .collect()
}
