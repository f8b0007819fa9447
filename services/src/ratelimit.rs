//! Calls per client: a token bucket for each caller (the token's subject,
//! or the peer address on a node without authentication), so one client
//! cannot take a node's capacity from everyone else. Admission control
//! (`admission`) bounds the work in progress; this bounds each caller's
//! share of it, before any work starts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Calls a second each caller may make, and how many at once after a quiet
/// spell; 0 calls a second turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    /// Far above what one operator, portal backend or producer needs (the
    /// benchmark's whole load, 500 lists a second, fits), low enough that a
    /// runaway client cannot hold every slot of a node.
    fn default() -> Self {
        RateLimit {
            per_second: 1_000.0,
            burst: 2_000.0,
        }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Past this many callers, buckets idle for a minute (full again) are
/// dropped: the map cannot grow without bound.
const MAX_CALLERS: usize = 100_000;
const IDLE: Duration = Duration::from_secs(60);

pub struct RateLimiter {
    limit: RateLimit,
    buckets: DashMap<String, Bucket>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: DashMap::new(),
        }
    }

    /// The key of a caller: their subject, or where they call from.
    pub fn key(subject: Option<&str>, peer: Option<SocketAddr>) -> String {
        match (subject, peer) {
            (Some(subject), _) => format!("sub:{subject}"),
            (None, Some(peer)) => format!("ip:{}", peer.ip()),
            (None, None) => "unknown".to_owned(),
        }
    }

    /// Takes one call from `key`'s bucket, or says how long until one is
    /// there.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.limit.per_second <= 0.0 {
            return Ok(());
        }
        if self.buckets.len() > MAX_CALLERS {
            self.buckets
                .retain(|_, b| now.saturating_duration_since(b.last) < IDLE);
        }
        let mut bucket = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.limit.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.limit.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_and_other_callers_untouched() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 5.0,
        });
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check("sub:a", t0).is_ok());
        }
        let wait = limiter.check("sub:a", t0).expect_err("burst spent");
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(limiter.check("sub:b", t0).is_ok(), "another caller");
        // A tenth of a second later: one call more, not two.
        let t1 = t0 + Duration::from_millis(100);
        assert!(limiter.check("sub:a", t1).is_ok());
        assert!(limiter.check("sub:a", t1).is_err());
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.0,
            burst: 0.0,
        });
        let now = Instant::now();
        for _ in 0..10_000 {
            assert!(limiter.check("ip:127.0.0.1", now).is_ok());
        }
    }
}
