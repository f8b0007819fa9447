//! Latency and throughput of the two list RPCs over real gRPC connections:
//! open loop (requests sent on a fixed schedule whatever the answers do, and
//! latency counted from the scheduled send, so a slow server cannot hide its
//! queue) and closed loop (a fixed number of callers, each sending again as
//! soon as answered: throughput).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use incontra_proto::matching::v1::{MatchCandidatesRequest, MatchVacanciesRequest};

use crate::node::Client;

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    MatchCandidates,
    MatchVacancies,
}

impl Rpc {
    pub fn name(self) -> &'static str {
        match self {
            Rpc::MatchCandidates => "MatchCandidates",
            Rpc::MatchVacancies => "MatchVacancies",
        }
    }
}

/// One call; `id` is a vacancy for `MatchCandidates`, a candidate for
/// `MatchVacancies`. Returns the ids listed.
pub async fn call(
    client: &mut Client,
    rpc: Rpc,
    id: &str,
    limit: u32,
) -> Result<Vec<String>, tonic::Status> {
    match rpc {
        Rpc::MatchCandidates => Ok(client
            .match_candidates(MatchCandidatesRequest {
                vacancy_id: id.to_owned(),
                limit,
                ..Default::default()
            })
            .await?
            .into_inner()
            .matches
            .into_iter()
            .map(|m| m.candidate_id)
            .collect()),
        Rpc::MatchVacancies => Ok(client
            .match_vacancies(MatchVacanciesRequest {
                candidate_id: id.to_owned(),
                limit,
                ..Default::default()
            })
            .await?
            .into_inner()
            .matches
            .into_iter()
            .map(|m| m.vacancy_id)
            .collect()),
    }
}

/// Latencies of a run and what they add up to.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl Summary {
    pub fn from_latencies(mut latencies: Vec<Duration>, errors: usize, elapsed: Duration) -> Self {
        latencies.sort();
        let pct = |p: f64| -> Duration {
            if latencies.is_empty() {
                return Duration::ZERO;
            }
            // Nearest rank: the smallest latency at or above p of the calls.
            let rank = ((latencies.len() as f64) * p).ceil() as usize;
            latencies[rank.clamp(1, latencies.len()) - 1]
        };
        let total: Duration = latencies.iter().sum();
        Summary {
            requests: latencies.len(),
            errors,
            elapsed,
            p50: pct(0.50),
            p95: pct(0.95),
            p99: pct(0.99),
            max: latencies.last().copied().unwrap_or_default(),
            mean: if latencies.is_empty() {
                Duration::ZERO
            } else {
                total / latencies.len() as u32
            },
        }
    }

    pub fn throughput(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.requests as f64 / self.elapsed.as_secs_f64()
        }
    }
}

/// Open loop: `rate` requests a second for `duration`, spread over
/// `connections` channels, ids taken round-robin. A call that has not
/// answered `timeout` after its scheduled send counts as an error, and so
/// does one due while `max_in_flight` are unanswered (shed, never sent).
pub async fn open_loop(
    clients: &[Client],
    rpc: Rpc,
    ids: &[String],
    rate: f64,
    duration: Duration,
    timeout: Duration,
    max_in_flight: usize,
) -> Summary {
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let ids: Arc<[String]> = ids.into();
    let started = Instant::now();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(total);
    let mut errors = 0;
    for i in 0..total {
        let scheduled = started + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        if in_flight.load(Ordering::Relaxed) >= max_in_flight {
            errors += 1;
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let mut client = clients[i % clients.len()].clone();
        let ids = ids.clone();
        let in_flight = in_flight.clone();
        tasks.push(tokio::spawn(async move {
            let id = &ids[i % ids.len()];
            let ok = tokio::time::timeout(timeout, call(&mut client, rpc, id, 50))
                .await
                .map(|r| r.is_ok())
                .unwrap_or(false);
            in_flight.fetch_sub(1, Ordering::Relaxed);
            (scheduled.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        match task.await {
            Ok((latency, true)) => latencies.push(latency),
            _ => errors += 1,
        }
    }
    Summary::from_latencies(latencies, errors, started.elapsed())
}

/// Open loop for as long as `work` runs (an ingest burst, a snapshot):
/// `rate` requests a second, latency from the scheduled send, shed and
/// timed out calls counted as errors as in [`open_loop`]. Returns the
/// latencies of the calls sent before `work` finished, and its output.
#[allow(clippy::too_many_arguments)]
pub async fn open_loop_during<T>(
    clients: &[Client],
    rpc: Rpc,
    ids: &[String],
    rate: f64,
    timeout: Duration,
    max_in_flight: usize,
    work: impl std::future::Future<Output = T>,
) -> (Summary, T) {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let ids: Arc<[String]> = ids.into();
    let started = Instant::now();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let mut errors = 0;
    let mut work = std::pin::pin!(work);
    let mut i: u32 = 0;
    let output = loop {
        let scheduled = started + interval * i;
        tokio::select! {
            biased;
            output = &mut work => break output,
            () = tokio::time::sleep_until(scheduled.into()) => {}
        }
        let n = i as usize;
        i = i.saturating_add(1);
        if in_flight.load(Ordering::Relaxed) >= max_in_flight {
            errors += 1;
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let mut client = clients[n % clients.len()].clone();
        let ids = ids.clone();
        let in_flight = in_flight.clone();
        tasks.push(tokio::spawn(async move {
            let id = &ids[n % ids.len()];
            let ok = tokio::time::timeout(timeout, call(&mut client, rpc, id, 50))
                .await
                .map(|r| r.is_ok())
                .unwrap_or(false);
            in_flight.fetch_sub(1, Ordering::Relaxed);
            (scheduled.elapsed(), ok)
        }));
    };
    let elapsed = started.elapsed();
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok((latency, true)) => latencies.push(latency),
            _ => errors += 1,
        }
    }
    (Summary::from_latencies(latencies, errors, elapsed), output)
}

/// Closed loop: `callers` concurrent callers for `duration`.
pub async fn closed_loop(
    clients: &[Client],
    rpc: Rpc,
    ids: &[String],
    callers: usize,
    duration: Duration,
) -> Summary {
    let started = Instant::now();
    let deadline = started + duration;
    let ids: Arc<[String]> = ids.into();
    let mut tasks = Vec::new();
    for worker in 0..callers.max(1) {
        let mut client = clients[worker % clients.len()].clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut i = worker;
            while Instant::now() < deadline {
                let t = Instant::now();
                match call(&mut client, rpc, &ids[i % ids.len()], 50).await {
                    Ok(_) => latencies.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
                i += callers;
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok((l, e)) => {
                all.extend(l);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    Summary::from_latencies(all, errors, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let s = Summary::from_latencies((1..=100).map(ms).collect(), 0, Duration::from_secs(2));
        assert_eq!(s.p50, ms(50));
        assert_eq!(s.p95, ms(95));
        assert_eq!(s.p99, ms(99));
        assert_eq!(s.max, ms(100));
        assert_eq!(s.throughput(), 50.0);
        let one = Summary::from_latencies(vec![ms(7)], 1, Duration::from_secs(1));
        assert_eq!((one.p50, one.p99, one.errors), (ms(7), ms(7), 1));
    }
}
