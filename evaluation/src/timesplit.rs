//! Time-split evaluation of weights learned from hires: the open vacancies
//! of the harness are split by publication day, the criterion weights are
//! fitted ([`incontra_engine::learning::fit`]) to the hires of the earlier
//! ones as the hand-set lists showed them, and both sets of weights rank the
//! later ones.
//!
//! Training sees what a deployed engine would record: the list it issued
//! with the hand-set weights (the top [`TRAINING_LIST_LIMIT`]) and which of
//! the listed people were hired. Hires the list missed are not in the data
//! (selection bias: the fit can only reorder what the hand-set ranking
//! already found). The held-out vacancies are ranked by `match_candidates`
//! twice, with the same request, text relevance, hard filters and boosts;
//! only `[weights]` differs, so the learned lists keep the engine's
//! explanations, which are checked like the default evaluation's.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use incontra_engine::config::{ScoringConfig, Weights};
use incontra_engine::learning::{
    fit, round_weights, select_l2, weights_to_array, FitConfig, HeldOutMetrics, L2Selection,
    LearnError, LearnedWeights, SelectError, TrainingList, TrainingRow, WeightsFile,
    WeightsFileError, WeightsMeta, CRITERIA, L2_GRID,
};
use incontra_engine::matching::{ListRequest, RankedList};
use incontra_engine::model::{format_day, Day};
use incontra_engine::scoring::Criterion;

use crate::metrics::{Accumulator, MethodMetrics};
use crate::world::World;
use crate::{explanations, market, EvalConfig, EvalError, LIST_LIMIT};

/// Rows per training list: twice what the server shows, so most lists hold
/// both hires and people passed over.
pub const TRAINING_LIST_LIMIT: usize = 100;

/// Share of the open vacancies, earliest published first, that trains.
pub const DEFAULT_TRAINING_SHARE: f64 = 0.6;

/// Share of the training lists, earliest published first, that λ is fitted
/// on when it is chosen; the rest validate.
pub const VALIDATION_SPLIT: f64 = 0.75;

/// Decimals the learned weights are rounded to before they are measured,
/// so the file written is exactly what the table reports.
const WEIGHT_DECIMALS: i32 = 4;

/// How many explanation problems are kept verbatim.
const PROBLEM_SAMPLES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum TimeSplitError {
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("learning: {0}")]
    Learn(#[from] LearnError),
    #[error("time split: {0}")]
    Split(String),
}

/// `?` converts one step only; the world's errors take two.
fn eval<T>(r: Result<T, impl Into<EvalError>>) -> Result<T, EvalError> {
    r.map_err(Into::into)
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimeSplitConfig {
    pub eval: EvalConfig,
    /// Share of open vacancies in the training period (by publication day;
    /// vacancies published on the cut day all go to the held-out period).
    pub training_share: f64,
    pub training_list_limit: usize,
    /// λ of [`FitConfig`]; `None` chooses it on the training period alone
    /// ([`select_l2`] over [`L2_GRID`]: fitted on the lists of the first
    /// [`VALIDATION_SPLIT`] of its vacancies, judged by the engine's
    /// recall@50 on the rest).
    pub l2: Option<f64>,
    /// Diagnostic: fit on the held-out period itself, to bound what any
    /// reweighting could gain there. Not a result: it has seen the answers.
    pub in_sample_bound: bool,
}

impl TimeSplitConfig {
    pub fn new(eval: EvalConfig) -> Self {
        TimeSplitConfig {
            eval,
            training_share: DEFAULT_TRAINING_SHARE,
            training_list_limit: TRAINING_LIST_LIMIT,
            l2: None,
            in_sample_bound: false,
        }
    }
}

/// The vacancies of one period, by publication day (inclusive).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Period {
    pub from: Day,
    pub to: Day,
    /// Open on the world's day and published in the period.
    pub vacancies: usize,
    /// Of those, filled at least once by the market.
    pub with_hires: usize,
    pub hires: usize,
}

/// What the split measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSplit {
    pub generator_seed: u64,
    pub market_seed: u64,
    pub candidates: u64,
    pub today: Day,
    pub training: Period,
    pub held_out: Period,
    /// Training hires that the hand-set list showed (the rest are unseen).
    pub training_hires_listed: usize,
    pub training_list_limit: usize,
    pub in_sample_bound: bool,
    /// λ used for the final fit on the whole training period.
    pub l2: f64,
    /// How λ was chosen, when it was.
    pub l2_selection: Option<L2Selection>,
    pub hand_weights: Weights,
    /// Rounded to four decimals; the report is the unrounded fit's.
    pub learned: LearnedWeights,
    pub hand: MethodMetrics,
    pub learned_metrics: MethodMetrics,
    /// Learned lists checked for their explanations, and what was found.
    pub lists_checked: usize,
    pub explanation_problems: usize,
    pub problem_samples: Vec<String>,
    pub build_time: Duration,
    /// Time spent choosing λ (its validation lists included) and fitting.
    pub fit_time: Duration,
    pub evaluation_time: Duration,
}

/// The day that leaves `share` of `days` (sorted) strictly before it.
fn cut_day(sorted_days: &[Day], share: f64) -> Option<Day> {
    let n = sorted_days.len();
    if n < 2 {
        return None;
    }
    let index = ((n as f64 * share).round() as usize).clamp(1, n - 1);
    sorted_days.get(index).copied()
}

/// One row per listed candidate: the similarities as the list's
/// contributions carry them, in the order of [`Criterion::ALL`].
fn training_list(list: &RankedList, hires: &HashSet<&str>) -> TrainingList {
    let rows = list
        .items
        .iter()
        .map(|item| {
            let mut similarities = [0.0; CRITERIA];
            for (slot, criterion) in similarities.iter_mut().zip(Criterion::ALL) {
                if let Some(c) = item.contributions.iter().find(|c| c.criterion == criterion) {
                    *slot = c.similarity;
                }
            }
            TrainingRow {
                similarities,
                hired: hires.contains(item.id.as_str()),
            }
        })
        .collect();
    TrainingList { rows }
}

/// Builds the world, simulates the market, fits on the training period and
/// measures both sets of weights on the held-out period.
pub fn time_split(config: &TimeSplitConfig) -> Result<TimeSplit, TimeSplitError> {
    if !(config.training_share > 0.0 && config.training_share < 1.0) {
        return Err(TimeSplitError::Split(format!(
            "training share {} is not in (0,1)",
            config.training_share
        )));
    }
    let world = World::build(&config.eval.world)?;
    let started = Instant::now();
    let read = world.read();
    let today = world.today();
    let hand = eval(read.view(today))?;
    let state = hand.state();
    let market = market::simulate(state, &read.reference, today, &config.eval.market);

    let mut dated: Vec<(Day, &market::VacancyOutcome)> = market
        .outcomes
        .iter()
        .filter_map(|o| Some((state.vacancy(&o.vacancy_id)?.spec.valid_from_day, o)))
        .collect();
    dated.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.vacancy_id.cmp(&b.1.vacancy_id))
    });
    let days: Vec<Day> = dated.iter().map(|(d, _)| *d).collect();
    let cut = cut_day(&days, config.training_share).ok_or_else(|| {
        TimeSplitError::Split(format!(
            "{} open vacancies cannot be split in two periods",
            days.len()
        ))
    })?;
    let (training, held_out): (Vec<_>, Vec<_>) = dated.into_iter().partition(|(d, _)| *d < cut);
    let training = if config.in_sample_bound {
        held_out.clone()
    } else {
        training
    };
    if training.is_empty() || held_out.is_empty() {
        return Err(TimeSplitError::Split(format!(
            "every open vacancy was published on one day ({cut})"
        )));
    }
    let period = |part: &[(Day, &market::VacancyOutcome)]| Period {
        from: part.first().map_or(0, |(d, _)| *d),
        to: part.last().map_or(0, |(d, _)| *d),
        vacancies: part.len(),
        with_hires: part.iter().filter(|(_, o)| !o.hires.is_empty()).count(),
        hires: part.iter().map(|(_, o)| o.hires.len()).sum(),
    };

    let request = ListRequest {
        limit: LIST_LIMIT,
        ..ListRequest::default()
    };
    // Training: the hand-set lists, as the server issued them, labelled.
    let training_request = ListRequest {
        limit: config.training_list_limit,
        ..ListRequest::default()
    };
    let mut lists = Vec::new();
    let mut list_days = Vec::new();
    let mut listed_vacancies = Vec::new();
    let mut listed = 0;
    for (day, outcome) in &training {
        if state.vacancy(&outcome.vacancy_id).is_none() || outcome.hires.is_empty() {
            continue;
        }
        let list = eval(hand.candidates_for(&outcome.vacancy_id, &training_request))?;
        let hires: HashSet<&str> = outcome.hires.iter().map(String::as_str).collect();
        let list = training_list(&list, &hires);
        listed += list.rows.iter().filter(|r| r.hired).count();
        lists.push(list);
        list_days.push(*day);
        listed_vacancies.push(*outcome);
    }
    let hand_weights = read.config.weights.clone();
    let fit_started = Instant::now();
    let base = FitConfig::new(hand_weights.clone());
    let (l2, l2_selection) = match config.l2 {
        Some(l2) => (l2, None),
        None => {
            // Lists are in publication order: fit on the earlier ones, and
            // judge each λ by the engine's own lists (as the held-out period
            // is judged) on the vacancies of the later ones.
            let cut = cut_day(&list_days, VALIDATION_SPLIT).ok_or_else(|| {
                TimeSplitError::Split("too few training lists to choose lambda".into())
            })?;
            let n = list_days.iter().filter(|d| **d < cut).count();
            let validation = &listed_vacancies[n..];
            let validate = |weights: &Weights| -> Result<f64, EvalError> {
                let scoring = ScoringConfig {
                    weights: weights.clone(),
                    ..read.config.clone()
                };
                let view = hand.with_config(&scoring);
                let mut acc = Accumulator::new();
                for outcome in validation {
                    let list = view.candidates_for(&outcome.vacancy_id, &request)?;
                    let hires: HashSet<&str> = outcome.hires.iter().map(String::as_str).collect();
                    let ids: Vec<String> = list.items.into_iter().map(|m| m.id).collect();
                    acc.add(&ids, &hires);
                }
                Ok(acc.finish(&HashSet::new()).recall_at_50)
            };
            let selection =
                select_l2(&lists[..n], &base, &L2_GRID, validate).map_err(|e| match e {
                    SelectError::Learn(e) => TimeSplitError::Learn(e),
                    SelectError::Validate(e) => TimeSplitError::Eval(e),
                })?;
            (selection.chosen, Some(selection))
        }
    };
    let mut learned = fit(&lists, &FitConfig { l2, ..base })?;
    let fit_time = fit_started.elapsed();
    learned.weights = round_weights(&learned.weights, WEIGHT_DECIMALS);

    // Held out: the same lists with only the weights changed.
    let learned_config = ScoringConfig {
        weights: learned.weights.clone(),
        ..read.config.clone()
    };
    let learned_view = hand.with_config(&learned_config);
    let mut hand_acc = Accumulator::new();
    let mut learned_acc = Accumulator::new();
    let mut pool_union: HashSet<String> = HashSet::new();
    let mut problems = Vec::new();
    let mut problem_count = 0;
    let mut lists_checked = 0;
    for (_, outcome) in &held_out {
        if state.vacancy(&outcome.vacancy_id).is_none() {
            continue;
        }
        let learned_list = eval(learned_view.candidates_for(&outcome.vacancy_id, &request))?;
        lists_checked += 1;
        let found = explanations::check_list(&outcome.vacancy_id, &learned_list);
        problem_count += found.len();
        problems.extend(
            found
                .into_iter()
                .take(PROBLEM_SAMPLES.saturating_sub(problems.len())),
        );
        if outcome.hires.is_empty() {
            continue;
        }
        let hand_list = eval(hand.candidates_for(&outcome.vacancy_id, &request))?;
        let hires: HashSet<&str> = outcome.hires.iter().map(String::as_str).collect();
        pool_union.extend(outcome.pool.iter().cloned());
        let ids = |l: &RankedList| l.items.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        hand_acc.add(&ids(&hand_list), &hires);
        learned_acc.add(&ids(&learned_list), &hires);
    }

    Ok(TimeSplit {
        generator_seed: config.eval.world.seed,
        market_seed: config.eval.market.seed,
        candidates: config.eval.world.candidates,
        today,
        training: period(&training),
        held_out: period(&held_out),
        training_hires_listed: listed,
        training_list_limit: config.training_list_limit,
        in_sample_bound: config.in_sample_bound,
        l2,
        l2_selection,
        hand_weights,
        learned,
        hand: hand_acc.finish(&pool_union),
        learned_metrics: learned_acc.finish(&pool_union),
        lists_checked,
        explanation_problems: problem_count,
        problem_samples: problems,
        build_time: world.build_time(),
        fit_time,
        evaluation_time: started.elapsed(),
    })
}

/// A day as an ISO date (YYYY-MM-DD), the form weights files use.
pub fn iso_day(day: Day) -> String {
    // format_day gives dd/mm/yyyy.
    let italian = format_day(day);
    let mut parts = italian.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(m), Some(y)) => format!("{y}-{m}-{d}"),
        _ => italian,
    }
}

impl TimeSplit {
    /// Learned recall@50 over hand-set recall@50; `None` when the hand-set
    /// weights found no held-out hire.
    pub fn recall_at_50_ratio(&self) -> Option<f64> {
        (self.hand.recall_at_50 > 0.0)
            .then(|| self.learned_metrics.recall_at_50 / self.hand.recall_at_50)
    }

    /// The learned weights as a versioned file, created on the world's day
    /// (the day the fit could have been made), with the held-out metrics.
    pub fn weights_file(
        &self,
        version: &str,
        note: Option<String>,
    ) -> Result<WeightsFile, WeightsFileError> {
        let r = &self.learned.report;
        WeightsFile::new(
            WeightsMeta {
                version: version.to_owned(),
                created: iso_day(self.today),
                method: format!(
                    "pairwise logistic loss (RankNet) over the 8 criterion similarities of the \
                     hand-set top-{} lists, every list weighted alike, L2 pull towards the \
                     hand-set weights (lambda {}{}), projected Newton, weights >= 0 normalised to 1",
                    self.training_list_limit,
                    self.l2,
                    if self.l2_selection.is_some() {
                        ", chosen on the last quarter of the training period's vacancies"
                    } else {
                        ""
                    }
                ),
                training_from: iso_day(self.training.from),
                training_to: iso_day(self.training.to),
                lists: r.lists_used as u64,
                hires: r.hires as u64,
                pairs: r.pairs as u64,
                note,
                prior: self.hand_weights.clone(),
                held_out: Some(HeldOutMetrics {
                    from: iso_day(self.held_out.from),
                    to: iso_day(self.held_out.to),
                    vacancies: self.hand.vacancies as u64,
                    hires: self.hand.hires as u64,
                    hand_recall_at_10: self.hand.recall_at_10,
                    learned_recall_at_10: self.learned_metrics.recall_at_10,
                    hand_recall_at_50: self.hand.recall_at_50,
                    learned_recall_at_50: self.learned_metrics.recall_at_50,
                    hand_ndcg_at_10: self.hand.ndcg_at_10,
                    learned_ndcg_at_10: self.learned_metrics.ndcg_at_10,
                }),
            },
            self.learned.weights.clone(),
        )
    }

    /// The split, the fit and both tables, as GitHub Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let period = |p: &Period| {
            format!(
                "published {} to {}: {} open vacancies, {} with at least one hire, {} hires",
                format_day(p.from),
                format_day(p.to),
                p.vacancies,
                p.with_hires,
                p.hires
            )
        };
        let r = &self.learned.report;
        if self.in_sample_bound {
            let _ = writeln!(
                out,
                "**Diagnostic: trained on the held-out period itself** (an upper bound on what \
                 reweighting can gain there, not a result).  "
            );
        }
        let _ = writeln!(
            out,
            "World: {} candidates, generator seed {}, market seed {}, today {}.  ",
            self.candidates,
            self.generator_seed,
            self.market_seed,
            format_day(self.today)
        );
        let _ = writeln!(out, "Training period: {}.  ", period(&self.training));
        let _ = writeln!(out, "Held-out period: {}.  ", period(&self.held_out));
        let _ = writeln!(
            out,
            "Fit: {} hand-set lists of up to {} rows, {} of them with a hire listed (and someone not hired); {} of the {} \
             training hires were on their list; {} pairs; prior scale {:.1}; pairwise accuracy \
             {:.3} (hand-set) to {:.3} (learned); loss {:.4} to {:.4}; {} Newton steps{}; lambda {}.  ",
            r.lists,
            self.training_list_limit,
            r.lists_used,
            self.training_hires_listed,
            self.training.hires,
            r.pairs,
            r.prior_scale,
            r.pairwise_accuracy_before,
            r.pairwise_accuracy_after,
            r.loss_before,
            r.loss_after,
            r.iterations,
            if r.converged { "" } else { " (not converged)" },
            self.l2
        );
        if let Some(selection) = &self.l2_selection {
            let trials: Vec<String> = selection
                .trials
                .iter()
                .map(|t| format!("{} → {:.3}", t.l2, t.validation))
                .collect();
            let _ = writeln!(
                out,
                "Lambda chosen on the training period alone: fitted on the lists of its first \
                 {:.0}% of vacancies, engine recall@{} on the rest (hand-set {:.3}): {}.  ",
                VALIDATION_SPLIT * 100.0,
                LIST_LIMIT,
                selection.prior_validation,
                trials.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "Explanations: {} learned lists checked, {} problems.",
            self.lists_checked, self.explanation_problems
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| held-out period | recall@10 | recall@50 | NDCG@10 | coverage | vacancies | hires |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        for (label, m) in [
            ("hand-set weights (config/scoring.toml)", &self.hand),
            ("learned weights", &self.learned_metrics),
        ] {
            let _ = writeln!(
                out,
                "| {label} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |",
                m.recall_at_10, m.recall_at_50, m.ndcg_at_10, m.coverage, m.vacancies, m.hires
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Learned / hand-set recall@50 = **{}**.",
            self.recall_at_50_ratio()
                .map_or("n/a".to_owned(), |x| format!("{x:.3}"))
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| criterion | hand-set | learned |");
        let _ = writeln!(out, "|---|---:|---:|");
        let hand = weights_to_array(&self.hand_weights);
        let learned = weights_to_array(&self.learned.weights);
        for ((criterion, h), l) in Criterion::ALL.iter().zip(hand).zip(learned) {
            let _ = writeln!(out, "| {} | {h:.4} | {l:.4} |", criterion.name());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_leaves_the_share_before_it_and_ties_after() {
        let days = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(cut_day(&days, 0.6), Some(7));
        assert_eq!(cut_day(&days, 0.01), Some(2));
        assert_eq!(cut_day(&days, 0.99), Some(10));
        assert_eq!(cut_day(&[3], 0.5), None);
        // Ties: every vacancy of the cut day goes to the held-out period.
        let tied = [1, 5, 5, 5, 9];
        let cut = cut_day(&tied, 0.5).unwrap();
        assert_eq!(tied.iter().filter(|d| **d < cut).count(), 1);
    }

    #[test]
    fn iso_days_are_year_month_day() {
        assert_eq!(iso_day(0), "1970-01-01");
        assert_eq!(
            iso_day(incontra_datagen::GeneratorConfig::demo().today),
            "2026-11-23"
        );
    }
}
