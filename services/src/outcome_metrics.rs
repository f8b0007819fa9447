//! Outcome figures as Prometheus gauges, recomputed periodically from the
//! state (attribution is computed on demand, never stored; see
//! `incontra_engine::outcomes`), and the one way an outcome report is
//! computed on a serving node ([`report`], also behind `GetOutcomes`).
//!
//! A report at a million candidates reads the state for seconds. It is
//! computed holding the projection's lock as well as the state's read lock:
//! every writer of the state takes the projection's lock first, so none can
//! queue for the write lock meanwhile, and `std`'s writer-preferring lock
//! never makes the lists that arrive during the report wait for it. Ingest
//! waits instead (seconds a minute), which it can afford; lists cannot.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use incontra_engine::model::Day;
use incontra_engine::outcomes::{self, Figures, OutcomeReport};
use incontra_indexer::projection::{Projection, ProjectionError, ReadSide};

/// Often enough for a dashboard; rare enough that a replica of a million
/// candidates spends a negligible share of its read time on it.
const INTERVAL: Duration = Duration::from_secs(60);

fn publish(kind: &'static str, key: &str, f: &Figures) {
    let labels = [("by", kind.to_owned()), ("group", key.to_owned())];
    metrics::gauge!("incontra_outcome_lists", &labels).set(f.lists as f64);
    metrics::gauge!("incontra_outcome_listed", &labels).set(f.listed as f64);
    metrics::gauge!("incontra_outcome_attributed_hires", &labels).set(f.attributed_hires as f64);
    metrics::gauge!("incontra_outcome_match_to_hire_ratio", &labels).set(f.match_to_hire);
    metrics::gauge!("incontra_outcome_median_days_to_hire", &labels).set(f.median_days_to_hire);
    metrics::gauge!("incontra_outcome_hires", &labels).set(f.hires as f64);
    metrics::gauge!("incontra_outcome_intermediation_rate", &labels).set(f.intermediation_rate);
}

/// Whether `key` may be a label value: a CPI of the reference data, a
/// channel that is a role's name (what an authenticated node records) or
/// "campaign", a target group of the engine's. A requester's free text
/// (an unauthenticated node records what the client sent) would make the
/// label set, and Prometheus' memory, grow without bound.
fn bounded_label(kind: &str, key: &str, read: &ReadSide) -> bool {
    match kind {
        "cpi" => read.reference.cpi(key).is_some(),
        "channel" => {
            key == "campaign"
                || crate::policy::Role::ALL
                    .iter()
                    .any(|role| role.name() == key)
        }
        // The engine's own fixed list.
        _ => true,
    }
}

/// The outcome report of lists and hires in `from..=to`, every recorded
/// list folded in first (a list acknowledged before the call counts), with
/// no writer able to queue on the state's lock while it is computed.
/// Blocking.
pub fn report(
    projection: &Mutex<Projection>,
    read: &ReadSide,
    from: Day,
    to: Day,
    window_days: u32,
) -> Result<OutcomeReport, ProjectionError> {
    let mut p = projection.lock()?;
    p.apply_recorded_lists()?;
    let state = read.state()?;
    let report = outcomes::report(&state, from, to, window_days);
    drop(state);
    drop(p);
    Ok(report)
}

/// Computes the all-time report with the default window every
/// [`INTERVAL`], forever.
pub async fn run(projection: Arc<Mutex<Projection>>, read: Arc<ReadSide>, as_of: Option<Day>) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tick.tick().await;
        let reading = read.clone();
        let projection = projection.clone();
        let today = crate::server::today(as_of);
        let report = tokio::task::spawn_blocking(move || {
            report(
                &projection,
                &reading,
                Day::MIN,
                today,
                outcomes::DEFAULT_WINDOW_DAYS,
            )
        })
        .await;
        let report = match report {
            Ok(Ok(report)) => report,
            Ok(Err(error)) => {
                tracing::warn!(%error, "outcome metrics not computed this round");
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, "outcome metrics task failed");
                continue;
            }
        };
        publish("overall", "all", &report.overall);
        let mut unlabelled = 0u64;
        for (kind, groups) in [
            ("cpi", &report.by_cpi),
            ("target_group", &report.by_target_group),
            ("channel", &report.by_channel),
        ] {
            for (key, f) in groups {
                if bounded_label(kind, key, &read) {
                    publish(kind, key, f);
                } else {
                    unlabelled += 1;
                }
            }
        }
        // Groups named by a client's free text stay in GetOutcomes only.
        metrics::gauge!("incontra_outcome_groups_unlabelled").set(unlabelled as f64);
    }
}
