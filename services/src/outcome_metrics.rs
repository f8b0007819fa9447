//! Outcome figures as Prometheus gauges, recomputed periodically from the
//! state (attribution is computed on demand, never stored; see
//! `incontra_engine::outcomes`).

use std::sync::Arc;
use std::time::Duration;

use incontra_engine::model::Day;
use incontra_engine::outcomes::{self, Figures};
use incontra_indexer::projection::ReadSide;

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

/// Computes the all-time report with the default window every
/// [`INTERVAL`], forever.
pub async fn run(read: Arc<ReadSide>, as_of: Option<Day>) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tick.tick().await;
        let read = read.clone();
        let today = crate::server::today(as_of);
        let report = tokio::task::spawn_blocking(move || {
            let state = read.state().ok()?;
            Some(outcomes::report(
                &state,
                Day::MIN,
                today,
                outcomes::DEFAULT_WINDOW_DAYS,
            ))
        })
        .await;
        let Ok(Some(report)) = report else {
            tracing::warn!("outcome metrics not computed this round");
            continue;
        };
        publish("overall", "all", &report.overall);
        for (kind, groups) in [
            ("cpi", &report.by_cpi),
            ("target_group", &report.by_target_group),
            ("channel", &report.by_channel),
        ] {
            for (key, f) in groups {
                publish(kind, key, f);
            }
        }
    }
}
