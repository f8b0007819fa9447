//! Group commit: callers hand over one record each and wait; a task writes
//! every record waiting at once and makes them durable with one fsync,
//! then answers each caller. The issued lists and the access log both
//! record before they answer, at hundreds of calls a second, and an fsync
//! each would bound them at the disk's flush rate.

use tokio::sync::{mpsc, oneshot};

type Pending = (Vec<u8>, oneshot::Sender<Result<(), String>>);

/// Writes a batch durably: one result per record, in order, or an error
/// for the whole batch.
pub type WriteBatch =
    dyn Fn(Vec<Vec<u8>>) -> Result<Vec<Result<(), String>>, String> + Send + Sync + 'static;

/// The callers' side of a group-commit task.
#[derive(Clone)]
pub struct GroupCommit {
    tx: mpsc::Sender<Pending>,
}

impl GroupCommit {
    /// Starts the task (call within a tokio runtime): batches of at most
    /// `max` records go to `write` on the blocking pool; `written` runs
    /// after each durable batch. The task ends with the last sender.
    pub fn spawn(
        max: usize,
        write: Box<WriteBatch>,
        written: impl Fn() + Send + 'static,
    ) -> GroupCommit {
        let write: std::sync::Arc<WriteBatch> = write.into();
        let (tx, mut rx) = mpsc::channel::<Pending>(4 * max.max(1));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < max {
                    match rx.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let (bytes, waiters): (Vec<Vec<u8>>, Vec<_>) = batch.into_iter().unzip();
                let write = write.clone();
                let results = tokio::task::spawn_blocking(move || write(bytes))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r);
                match results {
                    Ok(results) => {
                        written();
                        for (result, waiter) in results.into_iter().zip(waiters) {
                            let _ = waiter.send(result);
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
        GroupCommit { tx }
    }

    /// Writes one record; returns once it is durable, or why not.
    pub async fn write(&self, bytes: Vec<u8>) -> Result<(), String> {
        let (done_tx, done_rx) = oneshot::channel();
        self.tx
            .send((bytes, done_tx))
            .await
            .map_err(|_| "writer stopped".to_owned())?;
        done_rx.await.map_err(|_| "writer stopped".to_owned())?
    }
}
