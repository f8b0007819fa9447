//! `incontra learn`: fits the scoring weights from the outcomes this node
//! recorded (issued candidate lists, with the per-criterion similarities they
//! were ranked on, and the CO hires attributed to them) and writes a
//! versioned weights file for `--weights`.
//!
//! The lists are split by time: the fit sees the earlier ones, and the later
//! ones (`held_out_share` of them, whole days) measure hand-set against
//! learned weights by re-ranking each list's own rows, so the file states how
//! the weights did on a period they were not fitted on.

use anyhow::Context as _;
use incontra_engine::config::ScoringConfig;
use incontra_engine::learning::{
    fit, list_ndcg_at, list_recall_at, FitConfig, HeldOutMetrics, TrainingList, WeightsFile,
    WeightsMeta, DEFAULT_L2,
};
use incontra_engine::model::Day;
use incontra_engine::outcomes;
use incontra_engine::state::State;

pub struct LearnOptions {
    pub today: Day,
    pub window_days: u32,
    /// Share of the lists, the latest, kept out of the fit.
    pub held_out_share: f64,
    pub version: String,
}

pub struct Learned {
    pub file: WeightsFile,
    pub train_lists: usize,
    pub held_out_lists: usize,
}

fn iso(day: Day) -> String {
    chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub fn learn(
    state: &State,
    config: &ScoringConfig,
    options: &LearnOptions,
) -> anyhow::Result<Learned> {
    anyhow::ensure!(
        (0.0..1.0).contains(&options.held_out_share),
        "the held-out share must be in [0,1)"
    );
    let lists = outcomes::training_lists(state, Day::MIN, options.today, options.window_days);
    anyhow::ensure!(!lists.is_empty(), "no candidate list has been recorded");
    // Whole days on either side of the cut.
    let cut_index = ((lists.len() as f64) * (1.0 - options.held_out_share)).floor() as usize;
    let cut_day = lists
        .get(cut_index.min(lists.len() - 1))
        .map_or(Day::MAX, |l| l.0);
    let cut_day = if options.held_out_share == 0.0 {
        Day::MAX
    } else {
        cut_day
    };
    let (train, held): (Vec<_>, Vec<_>) = lists.iter().partition(|l| l.0 < cut_day);
    let train_lists: Vec<TrainingList> = train.iter().map(|l| l.2.clone()).collect();
    let learned = fit(&train_lists, &FitConfig::new(config.weights.clone()))
        .context("fitting the weights")?;
    let held_lists: Vec<TrainingList> = held.iter().map(|l| l.2.clone()).collect();
    let held_out = if held_lists.is_empty() {
        None
    } else {
        let (hand, learned_w) = (&config.weights, &learned.weights);
        Some(HeldOutMetrics {
            from: iso(cut_day),
            to: iso(held.last().map_or(cut_day, |l| l.0)),
            vacancies: held_lists.len() as u64,
            hires: held_lists
                .iter()
                .map(|l| l.rows.iter().filter(|r| r.hired).count() as u64)
                .sum(),
            hand_recall_at_10: list_recall_at(&held_lists, hand, 10),
            learned_recall_at_10: list_recall_at(&held_lists, learned_w, 10),
            hand_recall_at_50: list_recall_at(&held_lists, hand, 50),
            learned_recall_at_50: list_recall_at(&held_lists, learned_w, 50),
            hand_ndcg_at_10: list_ndcg_at(&held_lists, hand, 10),
            learned_ndcg_at_10: list_ndcg_at(&held_lists, learned_w, 10),
        })
    };
    let r = &learned.report;
    let meta = WeightsMeta {
        version: options.version.clone(),
        created: iso(options.today),
        method: format!(
            "pairwise logistic loss (RankNet) over the hired/not hired pairs of recorded lists, \
             L2 {DEFAULT_L2} towards the prior, weights non-negative and summing to 1; \
             held-out metrics re-rank each later list's own rows"
        ),
        training_from: iso(train.first().map_or(options.today, |l| l.0)),
        training_to: iso(train.last().map_or(options.today, |l| l.0)),
        lists: r.lists_used as u64,
        hires: r.hires as u64,
        pairs: r.pairs as u64,
        note: Some(format!(
            "fitted from outcomes recorded by this node (attribution window {} days)",
            options.window_days
        )),
        prior: config.weights.clone(),
        held_out,
    };
    Ok(Learned {
        file: WeightsFile::new(meta, learned.weights)?,
        train_lists: train_lists.len(),
        held_out_lists: held_lists.len(),
    })
}
