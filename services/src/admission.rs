//! Admission control for the list RPCs (`MatchCandidates`,
//! `MatchVacancies`): how many lists compute at once, and how many may wait.
//!
//! A list is CPU-bound work on the blocking pool. Without a limit, a burst
//! beyond capacity queues there unboundedly, and a list whose caller has
//! gone (deadline passed, connection closed) still runs to the end: after
//! an overloaded minute a node spent most of the next one computing answers
//! nobody read. With it, a list waits for a slot as an async task, so a
//! caller that goes away takes its waiting list with it (tonic drops the
//! handler's future), and a call beyond the queue is refused at once with
//! `RESOURCE_EXHAUSTED`, which a client or load balancer retries elsewhere.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

/// Limits of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Lists computed at once; more than the cores only splits them.
    pub running: usize,
    /// Lists waiting for a slot beyond those running.
    pub queued: usize,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            running: cores,
            queued: 64 * cores,
        }
    }
}

/// Shared by every list RPC of a node.
#[derive(Debug)]
pub struct Admission {
    slots: Arc<Semaphore>,
    /// Running plus waiting.
    admitted: AtomicUsize,
    limits: AdmissionLimits,
}

/// Held for as long as a list runs: drop it when the list is done (move it
/// into the blocking closure, so an abandoned call still holds its slot
/// until the work actually stops).
#[derive(Debug)]
pub struct Ticket {
    _slot: OwnedSemaphorePermit,
    admission: Arc<Admission>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.admitted.fetch_sub(1, Ordering::AcqRel);
        self.admission.publish(1);
    }
}

/// Counts a waiting call until it gets its slot or goes away.
struct Waiting<'a>(&'a AtomicUsize, bool);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Arc<Self> {
        let limits = AdmissionLimits {
            running: limits.running.max(1),
            queued: limits.queued,
        };
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(limits.running)),
            admitted: AtomicUsize::new(0),
            limits,
        })
    }

    pub fn limits(&self) -> AdmissionLimits {
        self.limits
    }

    /// The admitted calls (computing and waiting) and the slots in use, as
    /// gauges; `leaving` slots are about to be given back.
    fn publish(&self, leaving: usize) {
        let admitted = self.admitted.load(Ordering::Acquire);
        let running =
            (self.limits.running - self.slots.available_permits()).saturating_sub(leaving);
        metrics::gauge!("incontra_admission_running").set(running as f64);
        metrics::gauge!("incontra_admission_waiting").set(admitted.saturating_sub(running) as f64);
    }

    /// Waits for a slot, or refuses at once when the queue is full.
    pub async fn enter(self: &Arc<Self>) -> Result<Ticket, Status> {
        let bound = self.limits.running + self.limits.queued;
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let mut waiting = Waiting(&self.admitted, true);
        if before >= bound {
            metrics::counter!("incontra_lists_refused_total").increment(1);
            return Err(Status::resource_exhausted(format!(
                "node busy: {} lists or explanations computing and {} waiting; retry later or on another replica",
                self.limits.running, self.limits.queued
            )));
        }
        self.publish(0);
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Status::unavailable("node shutting down"))?;
        // From here the ticket owns the count.
        waiting.1 = false;
        self.publish(0);
        Ok(Ticket {
            _slot: slot,
            admission: self.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_beyond_running_plus_queued_and_frees_on_drop() {
        let admission = Admission::new(AdmissionLimits {
            running: 1,
            queued: 1,
        });
        let first = admission.enter().await.expect("a free slot");
        // The second waits for the slot; poll it once so it is counted.
        let second = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.enter().await.map(drop) })
        };
        while admission.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        let third = admission.enter().await.expect_err("queue full");
        assert_eq!(third.code(), tonic::Code::ResourceExhausted);
        drop(first);
        second
            .await
            .expect("joined")
            .expect("admitted once the slot freed");
        assert_eq!(admission.admitted.load(Ordering::Acquire), 0);
        admission.enter().await.expect("free again");
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_leaves_the_queue() {
        let admission = Admission::new(AdmissionLimits {
            running: 1,
            queued: 1,
        });
        let held = admission.enter().await.expect("a free slot");
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.enter().await.map(drop) })
        };
        while admission.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        assert!(waiter.await.is_err(), "aborted");
        assert_eq!(admission.admitted.load(Ordering::Acquire), 1);
        drop(held);
        assert_eq!(admission.admitted.load(Ordering::Acquire), 0);
    }
}
