//! What the source has consumed and how far behind it is: the numbers
//! behind the lag metrics, `GetStatus` and readiness.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default, Clone, Copy)]
struct Partition {
    /// Next offset the projection will apply.
    next_offset: i64,
    /// Last known end of the partition; `None` until the broker said.
    high_watermark: Option<i64>,
}

#[derive(Debug, Default)]
struct Inner {
    partitions: BTreeMap<(String, i32), Partition>,
    assigned: bool,
    consumed: u64,
    dead_lettered: u64,
    last_error: Option<String>,
    fatal: Option<String>,
}

/// Shared between the consuming thread and whoever reports on it.
#[derive(Debug)]
pub struct SourceStatus {
    ready_max_lag: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionView {
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
    pub high_watermark: Option<i64>,
    pub lag: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    /// Every assigned partition's end is known and the total lag is within
    /// the readiness bound.
    pub caught_up: bool,
    pub total_lag: u64,
    pub partitions: Vec<PartitionView>,
    pub consumed: u64,
    pub dead_lettered: u64,
    pub last_error: Option<String>,
    /// Set when the source stopped for good (the journal failed, say).
    pub fatal: Option<String>,
}

fn lag(p: &Partition) -> Option<u64> {
    p.high_watermark
        .map(|hw| u64::try_from(hw - p.next_offset).unwrap_or(0))
}

impl SourceStatus {
    pub fn new(ready_max_lag: u64) -> Self {
        SourceStatus {
            ready_max_lag,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic elsewhere cannot leave these counters inconsistent in a
        // way that matters more than reporting them.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    pub(crate) fn assigned(&self, partitions: &[(String, i32, i64)]) {
        self.with(|s| {
            for (topic, partition, next) in partitions {
                let p = s.partitions.entry((topic.clone(), *partition)).or_default();
                p.next_offset = *next;
            }
            s.assigned = true;
        });
    }

    pub(crate) fn advanced(&self, topic: &str, partition: i32, next_offset: i64) {
        self.with(|s| {
            if let Some(p) = s.partitions.get_mut(&(topic.to_owned(), partition)) {
                p.next_offset = p.next_offset.max(next_offset);
                // The partition cannot end before what was just read.
                p.high_watermark = Some(p.high_watermark.unwrap_or(0).max(next_offset));
                publish_lag(topic, partition, p);
            }
        });
    }

    pub(crate) fn high_watermark(&self, topic: &str, partition: i32, high: i64) {
        if high < 0 {
            return;
        }
        self.with(|s| {
            if let Some(p) = s.partitions.get_mut(&(topic.to_owned(), partition)) {
                p.high_watermark = Some(high);
                publish_lag(topic, partition, p);
            }
        });
    }

    pub(crate) fn counted(&self, consumed: u64, dead_lettered: u64) {
        self.with(|s| {
            s.consumed += consumed;
            s.dead_lettered += dead_lettered;
        });
    }

    pub(crate) fn error(&self, error: Option<String>) {
        self.with(|s| s.last_error = error);
    }

    pub(crate) fn fatal(&self, error: String) {
        self.with(|s| s.fatal = Some(error));
    }

    pub fn view(&self) -> StatusView {
        self.with(|s| {
            let partitions: Vec<PartitionView> = s
                .partitions
                .iter()
                .map(|((topic, partition), p)| PartitionView {
                    topic: topic.clone(),
                    partition: *partition,
                    next_offset: p.next_offset,
                    high_watermark: p.high_watermark,
                    lag: lag(p),
                })
                .collect();
            let known = partitions.iter().all(|p| p.lag.is_some());
            let total_lag = partitions.iter().filter_map(|p| p.lag).sum();
            StatusView {
                caught_up: s.assigned
                    && s.fatal.is_none()
                    && known
                    && total_lag <= self.ready_max_lag,
                total_lag,
                partitions,
                consumed: s.consumed,
                dead_lettered: s.dead_lettered,
                last_error: s.last_error.clone(),
                fatal: s.fatal.clone(),
            }
        })
    }
}

fn publish_lag(topic: &str, partition: i32, p: &Partition) {
    if let Some(lag) = lag(p) {
        metrics::gauge!(
            "incontra_kafka_consumer_lag",
            "topic" => topic.to_owned(),
            "partition" => partition.to_string()
        )
        .set(lag as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caught_up_needs_every_end_known_and_lag_within_bound() {
        let s = SourceStatus::new(5);
        assert!(!s.view().caught_up, "nothing assigned yet");
        s.assigned(&[("a".into(), 0, 0), ("a".into(), 1, 10)]);
        assert!(!s.view().caught_up, "ends unknown");
        s.high_watermark("a", 0, 3);
        assert!(!s.view().caught_up, "partition 1's end still unknown");
        s.high_watermark("a", 1, 12);
        let v = s.view();
        assert_eq!(v.total_lag, 5);
        assert!(v.caught_up);
        s.high_watermark("a", 1, 13);
        assert!(!s.view().caught_up, "lag 6 > 5");
        s.advanced("a", 1, 13);
        s.advanced("a", 0, 3);
        let v = s.view();
        assert_eq!(v.total_lag, 0);
        assert!(v.caught_up);
        s.fatal("journal gone".into());
        assert!(!s.view().caught_up, "a dead source is never ready");
    }

    #[test]
    fn reading_past_a_stale_watermark_never_shows_negative_lag() {
        let s = SourceStatus::new(0);
        s.assigned(&[("a".into(), 0, 0)]);
        s.high_watermark("a", 0, 2);
        s.advanced("a", 0, 7);
        assert_eq!(s.view().partitions[0].lag, Some(0));
        assert_eq!(s.view().partitions[0].high_watermark, Some(7));
    }
}
