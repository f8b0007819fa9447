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
use incontra_engine::config::{ScoringConfig, Weights};
use incontra_engine::learning::{
    fit, weights_to_array, FitConfig, HeldOutMetrics, TrainingList, WeightsFile, WeightsMeta,
    DEFAULT_L2,
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

/// Rows in score order under `weights` (ties keep the issued order).
fn ranked(list: &TrainingList, weights: &Weights) -> Vec<bool> {
    let w = weights_to_array(weights);
    let mut rows: Vec<(usize, f64, bool)> = list
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let score = w.iter().zip(r.similarities).map(|(a, b)| a * b).sum();
            (i, score, r.hired)
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.into_iter().map(|(_, _, hired)| hired).collect()
}

/// Mean recall@k and NDCG@k (binary gains) over lists with a hire.
fn quality(lists: &[&TrainingList], weights: &Weights, k: usize) -> (f64, f64) {
    let mut recall = 0.0;
    let mut ndcg = 0.0;
    let mut n = 0.0;
    for list in lists {
        let order = ranked(list, weights);
        let hires = order.iter().filter(|h| **h).count();
        if hires == 0 {
            continue;
        }
        n += 1.0;
        recall += order.iter().take(k).filter(|h| **h).count() as f64 / hires as f64;
        let dcg: f64 = order
            .iter()
            .take(k)
            .enumerate()
            .filter(|(_, h)| **h)
            .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
            .sum();
        let ideal: f64 = (0..hires.min(k))
            .map(|i| 1.0 / ((i + 2) as f64).log2())
            .sum();
        ndcg += dcg / ideal;
    }
    if n == 0.0 {
        (0.0, 0.0)
    } else {
        (recall / n, ndcg / n)
    }
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
    let held_lists: Vec<&TrainingList> = held.iter().map(|l| &l.2).collect();
    let held_out = if held_lists.is_empty() {
        None
    } else {
        let (hand_r10, hand_n10) = quality(&held_lists, &config.weights, 10);
        let (learned_r10, learned_n10) = quality(&held_lists, &learned.weights, 10);
        let (hand_r50, _) = quality(&held_lists, &config.weights, 50);
        let (learned_r50, _) = quality(&held_lists, &learned.weights, 50);
        Some(HeldOutMetrics {
            from: iso(cut_day),
            to: iso(held.last().map_or(cut_day, |l| l.0)),
            vacancies: held_lists.len() as u64,
            hires: held_lists
                .iter()
                .map(|l| l.rows.iter().filter(|r| r.hired).count() as u64)
                .sum(),
            hand_recall_at_10: hand_r10,
            learned_recall_at_10: learned_r10,
            hand_recall_at_50: hand_r50,
            learned_recall_at_50: learned_r50,
            hand_ndcg_at_10: hand_n10,
            learned_ndcg_at_10: learned_n10,
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
