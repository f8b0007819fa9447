//! Recording issued lists: every list `MatchCandidates` and `MatchVacancies`
//! return is first written as a `ListIssued` event, so hires can be
//! attributed to it and it can be reproduced from the log position it names.
//!
//! An embedded node journals the record itself, many lists to one fsync
//! (group commit: concurrent calls share a batch). A Kafka replica produces
//! it to the lists topic, which every replica consumes, so outcomes agree
//! across replicas. Either way a list is answered only once it is recorded.

use std::sync::{Arc, Mutex};

use incontra_engine::matching::Ranked;
use incontra_engine::scoring::Criterion;
use incontra_indexer::projection::{IngestResult, Projection};
use incontra_kafka::ListPublisher;
use incontra_proto::events::v1 as ev;
use prost::Message;
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

/// Lists recorded with one fsync at most.
const GROUP_COMMIT_MAX: usize = 256;

type Pending = (Vec<u8>, oneshot::Sender<Result<(), String>>);

#[derive(Clone)]
pub enum ListRecorder {
    Journal(mpsc::Sender<Pending>),
    Kafka(Arc<ListPublisher>),
}

impl ListRecorder {
    /// A recorder journaling into `projection`; call within a tokio runtime.
    pub fn journal(projection: Arc<Mutex<Projection>>) -> ListRecorder {
        let (tx, mut rx) = mpsc::channel::<Pending>(4 * GROUP_COMMIT_MAX);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < GROUP_COMMIT_MAX {
                    match rx.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let (bytes, waiters): (Vec<Vec<u8>>, Vec<_>) = batch.into_iter().unzip();
                let projection = projection.clone();
                let results = tokio::task::spawn_blocking(move || {
                    let mut p = projection
                        .lock()
                        .map_err(|_| "projection lock poisoned".to_owned())?;
                    p.ingest(&bytes).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                match results {
                    Ok(results) => {
                        for (result, waiter) in results.into_iter().zip(waiters) {
                            let _ = waiter.send(match result {
                                IngestResult::Rejected { error, .. } => Err(error.to_string()),
                                IngestResult::Applied { .. } | IngestResult::Ignored { .. } => {
                                    Ok(())
                                }
                            });
                        }
                    }
                    Err(error) => {
                        for waiter in waiters {
                            let _ = waiter.send(Err(error.clone()));
                        }
                    }
                }
            }
        });
        ListRecorder::Journal(tx)
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
            ListRecorder::Journal(tx) => {
                let (done_tx, done_rx) = oneshot::channel();
                tx.send((bytes, done_tx))
                    .await
                    .map_err(|_| unavailable("recorder stopped".into()))?;
                done_rx
                    .await
                    .map_err(|_| unavailable("recorder stopped".into()))?
                    .map_err(unavailable)?;
            }
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

/// A list id unique across replicas and restarts: 128 random bits.
fn new_list_id() -> String {
    format!("L{:032x}", rand::random::<u128>())
}

/// The rows of a ranked list as recorded: id, score and the per-criterion
/// similarities (the features weights are learned from).
pub fn rows(items: &[Ranked]) -> Vec<ev::ListedRow> {
    items
        .iter()
        .map(|r| ev::ListedRow {
            id: r.id.clone(),
            score: r.score,
            similarities: Criterion::ALL
                .iter()
                .map(|c| {
                    r.contributions
                        .iter()
                        .find(|x| x.criterion == *c)
                        .map_or(0.0, |x| x.similarity)
                })
                .collect(),
        })
        .collect()
}
