//! Learning the criterion weights from hires, and the versioned weights
//! files that carry the result to the engine at run time.
//!
//! The model is the engine's own: a list ranks by Σ wᵢ sᵢ / Σ wᵢ over the
//! per-criterion similarities sᵢ of [`crate::scoring::Similarities`]. Only
//! the weights are fitted, so a learned list is explained exactly like a
//! hand-set one (each contribution is still weight × similarity), and the
//! target-group boosts stay policy, added on top and never learned.
//!
//! [`fit`] is pairwise learning to rank (RankNet's logistic loss): within the
//! list issued for one vacancy, every (hired, not hired) pair should score
//! hired first. The loss is convex in the unnormalised weights v ≥ 0:
//!
//! ```text
//! L(v) = mean over lists [ mean over its pairs  ln(1 + exp(−v·(s_hired − s_other))) ]
//!        + (λ/2) ‖v/β − w₀‖²
//! ```
//!
//! where w₀ are the hand-set weights (normalised) and β is the scale at which
//! the hand-set direction alone fits the pairs best. The prior therefore pulls
//! towards the hand-set *direction* without fixing how sharp the logistic is,
//! and λ is measured in units of normalised weight. Every list counts alike
//! (the harness averages its metrics per vacancy too), whatever its number
//! of pairs. The minimiser is a projected Newton method (Bertsekas 1982) on
//! the non-negative orthant: eight unknowns, so an 8×8 Hessian per step and a
//! handful of steps. The result is normalised to sum to 1.
//!
//! How strongly to hold to the hand-set weights is a question for later
//! outcomes, not for the training loss: [`select_l2`] fits each λ of a grid
//! and keeps the one a caller-supplied validator (e.g. recall on vacancies
//! published after the training ones) rates best. Weights travel as
//! [`WeightsFile`]s (`config/weights/<version>.toml`), which a scoring
//! configuration takes as `ScoringConfig { weights: file.weights().clone(), .. }`.
//!
//! Pairs are sorted before any sum is taken, so the fit is a function of the
//! set of lists alone: the order of lists and rows changes nothing, bit for
//! bit, and replicas training on the same outcomes get the same file.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::config::Weights;
use crate::scoring::Criterion;

/// Number of weighted criteria ([`Criterion::ALL`]).
pub const CRITERIA: usize = 8;

/// Default strength of the pull towards the hand-set weights. Chosen before
/// any held-out period was looked at: a shift of 0.1 in one normalised
/// weight costs 0.005, about a percent of a typical pairwise loss.
pub const DEFAULT_L2: f64 = 1.0;

/// Keeps the prior's scale finite when the hand-set weights order every
/// pair correctly (the loss would then fall forever as the scale grows).
const SCALE_RIDGE: f64 = 1e-6;

/// One listed candidate: the similarities of the pair, in the order of
/// [`Criterion::ALL`], and whether the candidate was hired (attributed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingRow {
    pub similarities: [f64; CRITERIA],
    pub hired: bool,
}

/// The list issued for one vacancy. A list with no hire, or with nobody but
/// hires, says nothing about which of its rows should rank first: [`fit`]
/// skips it (and counts it in [`FitReport::lists`] only).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainingList {
    pub rows: Vec<TrainingRow>,
}

/// How to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// The hand-set weights: where the fit starts and what it is pulled
    /// towards.
    pub prior: Weights,
    /// λ, the strength of that pull (> 0: it also keeps the problem strictly
    /// convex, so the answer is unique).
    pub l2: f64,
    pub max_iterations: usize,
    /// Stop when no weight's projected gradient exceeds this.
    pub tolerance: f64,
}

impl FitConfig {
    pub fn new(prior: Weights) -> Self {
        FitConfig {
            prior,
            l2: DEFAULT_L2,
            max_iterations: 100,
            tolerance: 1e-9,
        }
    }
}

/// What a fit saw and did.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// Lists given, including those skipped.
    pub lists: usize,
    /// Lists with at least one hire and one candidate not hired.
    pub lists_used: usize,
    /// Rows and hires of the lists used.
    pub rows: usize,
    pub hires: usize,
    /// (hired, not hired) pairs of the lists used.
    pub pairs: usize,
    /// β: the scale of the hand-set weights that fits the pairs best.
    pub prior_scale: f64,
    /// Share of pairs ranked hired first (ties count half), by the hand-set
    /// weights and by the learned ones.
    pub pairwise_accuracy_before: f64,
    pub pairwise_accuracy_after: f64,
    /// The data part of the loss at the scaled prior and at the optimum.
    pub loss_before: f64,
    pub loss_after: f64,
    /// Newton steps taken.
    pub iterations: usize,
    /// Whether the projected gradient fell below the tolerance.
    pub converged: bool,
}

/// Learned weights, normalised to sum to 1, with how they were found.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedWeights {
    pub weights: Weights,
    pub report: FitReport,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LearnError {
    #[error("no list has both a hire and a candidate not hired: nothing to learn from")]
    NoPairs,
    #[error("list {list}, row {row}: {criterion} similarity {value} is not in [0,1]")]
    BadSimilarity {
        list: usize,
        row: usize,
        criterion: &'static str,
        value: f64,
    },
    #[error("prior: {0}")]
    Prior(WeightsError),
    #[error("fit configuration: {0}")]
    Config(&'static str),
    #[error("every learned weight is 0: the outcomes contradict every criterion")]
    Degenerate,
}

/// A set of weights that cannot rank: the key is the weight's full name in
/// its file (`weights.skills`, `meta.prior.text`).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WeightsError {
    #[error("{key}: missing")]
    Missing { key: String },
    #[error("{key}: not a criterion weight")]
    Unknown { key: String },
    #[error("{key}: not a number")]
    NotANumber { key: String },
    #[error("{key}: {value} is not finite")]
    NotFinite { key: String, value: f64 },
    #[error("{key}: {value} is negative")]
    Negative { key: String, value: f64 },
    #[error("{table}: every weight is 0")]
    AllZero { table: String },
}

/// The weights in the order of [`Criterion::ALL`].
pub fn weights_to_array(w: &Weights) -> [f64; CRITERIA] {
    [
        w.profession,
        w.skills,
        w.text,
        w.distance,
        w.experience,
        w.education,
        w.languages,
        w.licences,
    ]
}

/// The inverse of [`weights_to_array`].
pub fn weights_from_array(a: [f64; CRITERIA]) -> Weights {
    let [profession, skills, text, distance, experience, education, languages, licences] = a;
    Weights {
        profession,
        skills,
        text,
        distance,
        experience,
        education,
        languages,
        licences,
    }
}

/// Every weight finite and non-negative, and at least one positive; `table`
/// prefixes the key an error names.
pub fn validate_weights(w: &Weights, table: &str) -> Result<(), WeightsError> {
    let values = weights_to_array(w);
    for (criterion, value) in Criterion::ALL.iter().zip(values) {
        let key = || format!("{table}.{}", criterion.name());
        if !value.is_finite() {
            return Err(WeightsError::NotFinite { key: key(), value });
        }
        if value < 0.0 {
            return Err(WeightsError::Negative { key: key(), value });
        }
    }
    if values.iter().sum::<f64>() <= 0.0 {
        return Err(WeightsError::AllZero {
            table: table.to_owned(),
        });
    }
    Ok(())
}

/// The weights rescaled to sum to 1, then rounded to `decimals` places (a
/// file people read need not carry 17 digits; scores divide by the sum, so
/// rounding moves no list by more than the rounding).
pub fn round_weights(w: &Weights, decimals: i32) -> Weights {
    let a = weights_to_array(w);
    let total: f64 = a.iter().sum();
    let unit = 10f64.powi(decimals);
    weights_from_array(a.map(|x| {
        if total > 0.0 {
            (x / total * unit).round() / unit
        } else {
            x
        }
    }))
}

/// The pairs of the usable lists, as differences s_hired − s_other, each
/// with the weight that makes every list count alike.
struct Pairs<const N: usize> {
    diffs: Vec<[f64; N]>,
    weights: Vec<f64>,
}

impl<const N: usize> Pairs<N> {
    /// Σ weight × ln(1 + exp(−v·Δ)), with its gradient and Hessian.
    fn loss(&self, v: &[f64; N]) -> f64 {
        self.diffs
            .iter()
            .zip(&self.weights)
            .map(|(d, w)| w * softplus(-dot(v, d)))
            .sum()
    }

    fn derivatives(&self, v: &[f64; N]) -> ([f64; N], [[f64; N]; N]) {
        let mut g = [0.0; N];
        let mut h = [[0.0; N]; N];
        for (d, w) in self.diffs.iter().zip(&self.weights) {
            let m = dot(v, d);
            // d/dm ln(1+e^{−m}) = −σ(−m); second derivative σ(m)σ(−m).
            let p = sigmoid(-m);
            let curvature = w * p * (1.0 - p);
            for i in 0..N {
                g[i] -= w * p * d[i];
                for j in 0..=i {
                    h[i][j] += curvature * d[i] * d[j];
                }
            }
        }
        // Only the lower triangle was summed: mirror it.
        (
            g,
            std::array::from_fn(|i| {
                std::array::from_fn(|j| if j <= i { h[i][j] } else { h[j][i] })
            }),
        )
    }

    /// Share of pairs with a positive margin, ties counting half.
    fn accuracy(&self, v: &[f64; N]) -> f64 {
        if self.diffs.is_empty() {
            return 0.0;
        }
        let right: f64 = self
            .diffs
            .iter()
            .map(|d| {
                let m = dot(v, d);
                if m > 0.0 {
                    1.0
                } else if m == 0.0 {
                    0.5
                } else {
                    0.0
                }
            })
            .sum();
        right / self.diffs.len() as f64
    }
}

fn dot<const N: usize>(a: &[f64; N], b: &[f64; N]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// ln(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// A convex objective over v ≥ 0: the pairs' loss plus (ridge/2)‖v − centre‖².
struct Objective<'p, const N: usize> {
    pairs: &'p Pairs<N>,
    centre: [f64; N],
    ridge: f64,
}

impl<const N: usize> Objective<'_, N> {
    fn value(&self, v: &[f64; N]) -> f64 {
        let penalty: f64 = v
            .iter()
            .zip(&self.centre)
            .map(|(x, c)| (x - c) * (x - c))
            .sum();
        self.pairs.loss(v) + 0.5 * self.ridge * penalty
    }

    fn derivatives(&self, v: &[f64; N]) -> ([f64; N], [[f64; N]; N]) {
        let (mut g, mut h) = self.pairs.derivatives(v);
        for i in 0..N {
            g[i] += self.ridge * (v[i] - self.centre[i]);
            h[i][i] += self.ridge;
        }
        (g, h)
    }

    /// Projected Newton from `start`; returns the minimiser, the steps taken
    /// and whether the tolerance was reached.
    fn minimise(
        &self,
        start: [f64; N],
        max_iterations: usize,
        tolerance: f64,
    ) -> ([f64; N], usize, bool) {
        let mut v = start.map(|x| x.max(0.0));
        let mut f = self.value(&v);
        for iteration in 0..max_iterations {
            let (g, h) = self.derivatives(&v);
            // The projected gradient: zero exactly at the constrained optimum.
            let stationarity = v
                .iter()
                .zip(&g)
                .map(|(x, gi)| (x - (x - gi).max(0.0)).abs())
                .fold(0.0, f64::max);
            if stationarity <= tolerance {
                return (v, iteration, true);
            }
            // Weights at (or within ε of) zero whose gradient pushes them
            // below: held by the bound, moved along the gradient only.
            let epsilon = stationarity.min(1e-6);
            let held: [bool; N] = std::array::from_fn(|i| v[i] <= epsilon && g[i] > 0.0);
            let direction = newton_direction(&h, &g, &held);
            let mut step = 1.0;
            let mut moved = false;
            for _ in 0..60 {
                let next: [f64; N] = std::array::from_fn(|i| (v[i] + step * direction[i]).max(0.0));
                // Bertsekas' Armijo rule along the projection arc.
                let expected: f64 = (0..N)
                    .map(|i| {
                        if held[i] {
                            g[i] * (v[i] - next[i])
                        } else {
                            -step * g[i] * direction[i]
                        }
                    })
                    .sum();
                let f_next = self.value(&next);
                if f - f_next >= 1e-4 * expected && f_next <= f {
                    moved = next != v;
                    v = next;
                    f = f_next;
                    break;
                }
                step *= 0.5;
            }
            if !moved {
                // No representable step lowers the loss: v is optimal to
                // the precision of f64.
                return (v, iteration + 1, true);
            }
        }
        let (g, _) = self.derivatives(&v);
        let stationarity = v
            .iter()
            .zip(&g)
            .map(|(x, gi)| (x - (x - gi).max(0.0)).abs())
            .fold(0.0, f64::max);
        (v, max_iterations, stationarity <= tolerance)
    }
}

/// −H⁻¹g on the free weights (Cholesky), −g on the held ones; falls back to
/// −g everywhere should the free block not be positive definite (it is, with
/// a positive ridge, up to rounding).
fn newton_direction<const N: usize>(h: &[[f64; N]; N], g: &[f64; N], held: &[bool; N]) -> [f64; N] {
    let free: Vec<usize> = (0..N).filter(|&i| !held[i]).collect();
    let n = free.len();
    let mut l = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..=a {
            let mut sum = h[free[a]][free[b]];
            for k in 0..b {
                sum -= l[a * n + k] * l[b * n + k];
            }
            if a == b {
                if sum.is_nan() || sum <= 0.0 || sum.is_infinite() {
                    return g.map(|x| -x);
                }
                l[a * n + a] = sum.sqrt();
            } else {
                l[a * n + b] = sum / l[b * n + b];
            }
        }
    }
    // Solve L y = −g_F, then Lᵀ x = y.
    let mut y = vec![0.0; n];
    for a in 0..n {
        let mut sum = -g[free[a]];
        for k in 0..a {
            sum -= l[a * n + k] * y[k];
        }
        y[a] = sum / l[a * n + a];
    }
    let mut x = vec![0.0; n];
    for a in (0..n).rev() {
        let mut sum = y[a];
        for k in a + 1..n {
            sum -= l[k * n + a] * x[k];
        }
        x[a] = sum / l[a * n + a];
    }
    let mut d = g.map(|x| -x);
    for (a, &i) in free.iter().enumerate() {
        d[i] = x[a];
    }
    d
}

/// Sorts pairs so every later sum adds them in an order that depends on the
/// pairs alone.
fn canonical<const N: usize>(mut pairs: Vec<([f64; N], f64)>) -> Pairs<N> {
    pairs.sort_by(|a, b| {
        a.0.iter()
            .zip(&b.0)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.1.total_cmp(&b.1))
    });
    let (diffs, weights) = pairs.into_iter().unzip();
    Pairs { diffs, weights }
}

/// Fits the criterion weights to the hires of `lists` (see the module doc).
/// Lists without both a hire and a non-hire are skipped.
pub fn fit(lists: &[TrainingList], config: &FitConfig) -> Result<LearnedWeights, LearnError> {
    validate_weights(&config.prior, "prior").map_err(LearnError::Prior)?;
    if !(config.l2.is_finite() && config.l2 > 0.0) {
        return Err(LearnError::Config("l2 must be finite and > 0"));
    }
    if !(config.tolerance.is_finite() && config.tolerance > 0.0) {
        return Err(LearnError::Config("tolerance must be finite and > 0"));
    }
    let mut raw: Vec<([f64; CRITERIA], f64)> = Vec::new();
    let (mut lists_used, mut rows, mut hires) = (0, 0, 0);
    for (l, list) in lists.iter().enumerate() {
        for (r, row) in list.rows.iter().enumerate() {
            for (criterion, &value) in Criterion::ALL.iter().zip(&row.similarities) {
                if !(0.0..=1.0).contains(&value) {
                    return Err(LearnError::BadSimilarity {
                        list: l,
                        row: r,
                        criterion: criterion.name(),
                        value,
                    });
                }
            }
        }
        let hired: Vec<&TrainingRow> = list.rows.iter().filter(|r| r.hired).collect();
        let other: Vec<&TrainingRow> = list.rows.iter().filter(|r| !r.hired).collect();
        if hired.is_empty() || other.is_empty() {
            continue;
        }
        lists_used += 1;
        rows += list.rows.len();
        hires += hired.len();
        let weight = 1.0 / (hired.len() * other.len()) as f64;
        for h in &hired {
            for o in &other {
                let diff = std::array::from_fn(|i| h.similarities[i] - o.similarities[i]);
                raw.push((diff, weight));
            }
        }
    }
    if lists_used == 0 {
        return Err(LearnError::NoPairs);
    }
    for pair in &mut raw {
        pair.1 /= lists_used as f64;
    }
    let pairs = canonical(raw);

    let prior = weights_to_array(&config.prior);
    let total: f64 = prior.iter().sum();
    let w0 = prior.map(|x| x / total);

    // β: the best multiple of the hand-set weights, a one-unknown fit on
    // the margins those weights give each pair.
    let margins = Pairs {
        diffs: pairs.diffs.iter().map(|d| [dot(&w0, d)]).collect(),
        weights: pairs.weights.clone(),
    };
    let scale_fit = Objective {
        pairs: &margins,
        centre: [0.0],
        ridge: SCALE_RIDGE,
    };
    let ([beta], _, _) = scale_fit.minimise([1.0], config.max_iterations, config.tolerance);
    // A hand-set direction that ranks pairs no better than chance gives
    // β = 0; a unit scale still lets the prior say which way to lean.
    let beta = if beta > 0.0 { beta } else { 1.0 };
    let centre = w0.map(|x| x * beta);

    let objective = Objective {
        pairs: &pairs,
        centre,
        ridge: config.l2 / (beta * beta),
    };
    let (v, iterations, converged) =
        objective.minimise(centre, config.max_iterations, config.tolerance);
    let sum: f64 = v.iter().sum();
    if sum.is_nan() || sum <= 0.0 {
        return Err(LearnError::Degenerate);
    }
    Ok(LearnedWeights {
        weights: weights_from_array(v.map(|x| x / sum)),
        report: FitReport {
            lists: lists.len(),
            lists_used,
            rows,
            hires,
            pairs: pairs.diffs.len(),
            prior_scale: beta,
            pairwise_accuracy_before: pairs.accuracy(&w0),
            pairwise_accuracy_after: pairs.accuracy(&v),
            loss_before: pairs.loss(&centre),
            loss_after: pairs.loss(&v),
            iterations,
            converged,
        },
    })
}

/// Candidate values of λ for [`select_l2`], a decade apart: from weights
/// the outcomes move freely to weights that barely leave the hand-set ones.
pub const L2_GRID: [f64; 5] = [0.001, 0.01, 0.1, 1.0, 10.0];

/// Recall@k of `weights` re-ranking recorded lists: for each list with a
/// hire, the share of its hired rows among the first `k` once the rows are
/// ordered by Σ wᵢsᵢ (equal scores keep the recorded order), averaged over
/// those lists. Hires a list did not show are not in the data and do not
/// count; 0 when no list has a hire.
pub fn list_recall_at(lists: &[TrainingList], weights: &Weights, k: usize) -> f64 {
    mean_over_hired_lists(lists, weights, |order, hires| {
        order.iter().take(k).filter(|hired| **hired).count() as f64 / hires as f64
    })
}

/// As [`list_recall_at`], NDCG@k with a gain of 1 per hired row.
pub fn list_ndcg_at(lists: &[TrainingList], weights: &Weights, k: usize) -> f64 {
    let discount = |i: usize| 1.0 / ((i + 2) as f64).log2();
    mean_over_hired_lists(lists, weights, |order, hires| {
        let dcg: f64 = order
            .iter()
            .take(k)
            .enumerate()
            .filter(|(_, hired)| **hired)
            .map(|(i, _)| discount(i))
            .sum();
        let ideal: f64 = (0..hires.min(k)).map(discount).sum();
        dcg / ideal
    })
}

/// `metric(hired flags in rank order, hires)` averaged over the lists with a
/// hire, each list's rows ordered by Σ wᵢsᵢ (equal scores keep the recorded
/// order); 0 when no list has a hire.
fn mean_over_hired_lists(
    lists: &[TrainingList],
    weights: &Weights,
    metric: impl Fn(&[bool], usize) -> f64,
) -> f64 {
    let w = weights_to_array(weights);
    let mut sum = 0.0;
    let mut counted = 0usize;
    for list in lists {
        let hires = list.rows.iter().filter(|r| r.hired).count();
        if hires == 0 {
            continue;
        }
        let mut scored: Vec<(f64, bool)> = list
            .rows
            .iter()
            .map(|r| (dot(&w, &r.similarities), r.hired))
            .collect();
        // Stable: equal scores keep the recorded order.
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let order: Vec<bool> = scored.into_iter().map(|(_, hired)| hired).collect();
        sum += metric(&order, hires);
        counted += 1;
    }
    if counted == 0 {
        0.0
    } else {
        sum / counted as f64
    }
}

/// One λ tried by [`select_l2`].
#[derive(Debug, Clone, PartialEq)]
pub struct L2Trial {
    pub l2: f64,
    pub weights: Weights,
    /// What the validator said of those weights (higher is better).
    pub validation: f64,
}

/// What [`select_l2`] tried and chose.
#[derive(Debug, Clone, PartialEq)]
pub struct L2Selection {
    pub chosen: f64,
    /// The validator's verdict on the hand-set weights.
    pub prior_validation: f64,
    pub trials: Vec<L2Trial>,
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Learn(#[from] LearnError),
    #[error("validation: {0}")]
    Validate(E),
}

/// Chooses λ: fits `fit_lists` with each λ of `grid` and keeps the one
/// whose weights `validate` rates best (e.g. recall on vacancies published
/// after those of `fit_lists`, or [`list_recall_at`] on later lists); on a
/// tie, the largest λ, the weights closest to the hand-set ones.
pub fn select_l2<E: std::error::Error + 'static>(
    fit_lists: &[TrainingList],
    base: &FitConfig,
    grid: &[f64],
    mut validate: impl FnMut(&Weights) -> Result<f64, E>,
) -> Result<L2Selection, SelectError<E>> {
    let mut trials = Vec::with_capacity(grid.len());
    for &l2 in grid {
        let config = FitConfig { l2, ..base.clone() };
        let learned = fit(fit_lists, &config)?;
        trials.push(L2Trial {
            l2,
            validation: validate(&learned.weights).map_err(SelectError::Validate)?,
            weights: learned.weights,
        });
    }
    let chosen = trials
        .iter()
        .max_by(|a, b| {
            a.validation
                .total_cmp(&b.validation)
                .then_with(|| a.l2.total_cmp(&b.l2))
        })
        .map(|t| t.l2)
        .ok_or(LearnError::Config("the grid of l2 values is empty"))?;
    Ok(L2Selection {
        chosen,
        prior_validation: validate(&base.prior).map_err(SelectError::Validate)?,
        trials,
    })
}

/// Held-out metrics measured with the weights, when known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldOutMetrics {
    /// The held-out period, ISO dates (inclusive).
    pub from: String,
    pub to: String,
    pub vacancies: u64,
    pub hires: u64,
    pub hand_recall_at_10: f64,
    pub learned_recall_at_10: f64,
    pub hand_recall_at_50: f64,
    pub learned_recall_at_50: f64,
    pub hand_ndcg_at_10: f64,
    pub learned_ndcg_at_10: f64,
}

/// The `[meta]` table of a weights file: where the weights come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsMeta {
    pub version: String,
    /// ISO date the weights were fitted.
    pub created: String,
    /// How they were fitted (free text, e.g. the loss and λ).
    pub method: String,
    /// The training period, ISO dates (inclusive).
    pub training_from: String,
    pub training_to: String,
    /// Lists, hires and pairs the fit used.
    pub lists: u64,
    pub hires: u64,
    pub pairs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The hand-set weights the fit started from.
    pub prior: Weights,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_out: Option<HeldOutMetrics>,
}

/// `[meta]` without the tables parsed by hand (`prior`), for serde.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaFields {
    version: String,
    created: String,
    method: String,
    training_from: String,
    training_to: String,
    lists: u64,
    hires: u64,
    pairs: u64,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    held_out: Option<HeldOutMetrics>,
}

/// A versioned weights file (`config/weights/<version>.toml`): a `[meta]`
/// table and a `[weights]` table with exactly the keys of
/// `config/scoring.toml`'s `[weights]`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsFile {
    pub meta: WeightsMeta,
    weights: Weights,
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsFileError {
    #[error("weights file is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("weights file: {0}")]
    Weights(#[from] WeightsError),
    #[error("weights file: [meta]: {0}")]
    Meta(toml::de::Error),
    #[error("weights file: {key}: {value:?} is not an ISO date (YYYY-MM-DD)")]
    BadDate { key: &'static str, value: String },
    #[error("weights file: [{key}] is missing")]
    MissingTable { key: &'static str },
    #[error("weights file: {key} is not a table")]
    NotATable { key: &'static str },
    #[error("weights file: [{key}] is neither [meta] nor [weights]")]
    UnknownTable { key: String },
    #[error("weights file: meta.version is empty")]
    EmptyVersion,
    #[error("weights file: cannot be written as TOML: {0}")]
    Write(#[from] toml::ser::Error),
}

#[derive(Serialize)]
struct FileRepr<'a> {
    meta: &'a WeightsMeta,
    weights: &'a Weights,
}

impl WeightsFile {
    /// Checks the weights and the dates before anything can load them.
    pub fn new(meta: WeightsMeta, weights: Weights) -> Result<Self, WeightsFileError> {
        validate_weights(&weights, "weights")?;
        validate_weights(&meta.prior, "meta.prior")?;
        if meta.version.trim().is_empty() {
            return Err(WeightsFileError::EmptyVersion);
        }
        let mut dates = vec![
            ("meta.created", &meta.created),
            ("meta.training_from", &meta.training_from),
            ("meta.training_to", &meta.training_to),
        ];
        if let Some(h) = &meta.held_out {
            dates.push(("meta.held_out.from", &h.from));
            dates.push(("meta.held_out.to", &h.to));
        }
        for (key, value) in dates {
            if chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
                return Err(WeightsFileError::BadDate {
                    key,
                    value: value.clone(),
                });
            }
        }
        Ok(WeightsFile { meta, weights })
    }

    pub fn from_toml(text: &str) -> Result<Self, WeightsFileError> {
        let mut root: toml::Table = text.parse()?;
        let mut meta = take_table(&mut root, "meta", "meta")?;
        let weights = take_table(&mut root, "weights", "weights")?;
        if let Some(key) = root.keys().next() {
            return Err(WeightsFileError::UnknownTable { key: key.clone() });
        }
        let weights = weights_from_table(&weights, "weights")?;
        let prior = take_table(&mut meta, "prior", "meta.prior")?;
        let prior = weights_from_table(&prior, "meta.prior")?;
        let fields: MetaFields = toml::Value::Table(meta)
            .try_into()
            .map_err(WeightsFileError::Meta)?;
        WeightsFile::new(
            WeightsMeta {
                version: fields.version,
                created: fields.created,
                method: fields.method,
                training_from: fields.training_from,
                training_to: fields.training_to,
                lists: fields.lists,
                hires: fields.hires,
                pairs: fields.pairs,
                note: fields.note,
                prior,
                held_out: fields.held_out,
            },
            weights,
        )
    }

    /// The file's text, with a header saying what it is.
    pub fn to_toml(&self) -> Result<String, WeightsFileError> {
        let body = toml::to_string(&FileRepr {
            meta: &self.meta,
            weights: &self.weights,
        })?;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Scoring weights {} (incontra engine::learning). Replaces the [weights] of\n\
             # the scoring configuration; [meta] says how they were obtained.\n",
            self.meta.version
        );
        out.push_str(&body);
        Ok(out)
    }

    /// The weights, as `ScoringConfig::weights` takes them.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }
}

/// Removes the table `name` (called `key` in errors) from `table`.
fn take_table(
    table: &mut toml::Table,
    name: &str,
    key: &'static str,
) -> Result<toml::Table, WeightsFileError> {
    match table.remove(name) {
        Some(toml::Value::Table(t)) => Ok(t),
        Some(_) => Err(WeightsFileError::NotATable { key }),
        None => Err(WeightsFileError::MissingTable { key }),
    }
}

/// Exactly the eight criterion weights, each a number.
fn weights_from_table(table: &toml::Table, name: &str) -> Result<Weights, WeightsError> {
    if let Some(key) = table
        .keys()
        .find(|k| !Criterion::ALL.iter().any(|c| c.name() == k.as_str()))
    {
        return Err(WeightsError::Unknown {
            key: format!("{name}.{key}"),
        });
    }
    let mut values = [0.0; CRITERIA];
    for (slot, criterion) in values.iter_mut().zip(Criterion::ALL) {
        let key = || format!("{name}.{}", criterion.name());
        *slot = match table.get(criterion.name()) {
            None => return Err(WeightsError::Missing { key: key() }),
            Some(toml::Value::Float(x)) => *x,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(_) => return Err(WeightsError::NotANumber { key: key() }),
        };
    }
    let weights = weights_from_array(values);
    validate_weights(&weights, name)?;
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ScoringConfig, DEFAULT_SCORING_TOML};

    /// splitmix64: a seeded stream, so the synthetic outcomes are fixed.
    struct Stream(u64);

    impl Stream {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        /// Uniform in (0,1).
        fn uniform(&mut self) -> f64 {
            ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn gumbel(&mut self) -> f64 {
            -(-self.uniform().ln()).ln()
        }
    }

    fn hand() -> Weights {
        ScoringConfig::embedded_default().unwrap().weights
    }

    /// Lists whose hires are the best `hires` rows by `scale` × truth·s plus
    /// Gumbel noise: employers who weigh the criteria by `truth`.
    fn synthetic(
        truth: [f64; CRITERIA],
        lists: usize,
        rows: usize,
        seed: u64,
    ) -> Vec<TrainingList> {
        let mut rng = Stream(seed);
        let scale = 12.0;
        (0..lists)
            .map(|l| {
                let mut rows: Vec<(f64, TrainingRow)> = (0..rows)
                    .map(|_| {
                        let s: [f64; CRITERIA] = std::array::from_fn(|_| rng.uniform());
                        let u = scale * dot(&truth, &s) + rng.gumbel();
                        (
                            u,
                            TrainingRow {
                                similarities: s,
                                hired: false,
                            },
                        )
                    })
                    .collect();
                rows.sort_by(|a, b| b.0.total_cmp(&a.0));
                for (_, row) in rows.iter_mut().take(1 + l % 3) {
                    row.hired = true;
                }
                TrainingList {
                    rows: rows.into_iter().map(|(_, r)| r).collect(),
                }
            })
            .collect()
    }

    fn distance(a: &Weights, b: [f64; CRITERIA]) -> f64 {
        let a = weights_to_array(a);
        let total: f64 = a.iter().sum();
        a.iter()
            .zip(b)
            .map(|(x, y)| (x / total - y).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    const TRUTH: [f64; CRITERIA] = [0.10, 0.30, 0.0, 0.25, 0.20, 0.10, 0.0, 0.05];

    #[test]
    fn recovers_the_weights_the_hires_were_made_by() {
        let lists = synthetic(TRUTH, 800, 60, 1);
        let learned = fit(&lists, &FitConfig::new(hand())).unwrap();
        let r = &learned.report;
        let before = distance(&hand(), TRUTH);
        let after = distance(&learned.weights, TRUTH);
        assert!(r.converged, "{r:?}");
        assert!(
            after < before / 3.0,
            "learned {:?} is {after:.3} from the truth, the hand-set weights {before:.3}",
            learned.weights
        );
        assert!(
            r.pairwise_accuracy_after > r.pairwise_accuracy_before,
            "{r:?}"
        );
        assert!(r.loss_after < r.loss_before, "{r:?}");
        assert_eq!(r.lists_used, 800);
        assert_eq!(r.hires, (0..800).map(|l| 1 + l % 3).sum::<usize>());
        assert_eq!(
            r.pairs,
            (0..800)
                .map(|l| (1 + l % 3) * (60 - 1 - l % 3))
                .sum::<usize>()
        );
    }

    #[test]
    fn a_strong_prior_keeps_the_hand_set_weights() {
        let lists = synthetic(TRUTH, 200, 40, 2);
        let config = FitConfig {
            l2: 1e7,
            ..FitConfig::new(hand())
        };
        let learned = fit(&lists, &config).unwrap();
        assert!(distance(&learned.weights, weights_to_array(&hand())) < 1e-3);
        let weak = fit(
            &lists,
            &FitConfig {
                l2: 1e-3,
                ..FitConfig::new(hand())
            },
        )
        .unwrap();
        assert!(distance(&weak.weights, TRUTH) < distance(&learned.weights, TRUTH));
    }

    #[test]
    fn weights_stay_non_negative_and_sum_to_one() {
        // Employers who prefer *low* text similarity: the unconstrained
        // optimum has a negative text weight, the fit must stop at 0.
        let mut lists = synthetic([0.3, 0.3, 0.0, 0.2, 0.2, 0.0, 0.0, 0.0], 300, 50, 3);
        for list in &mut lists {
            for row in &mut list.rows {
                if row.hired {
                    row.similarities[2] = 0.05;
                }
            }
        }
        let learned = fit(
            &lists,
            &FitConfig {
                l2: 1e-3,
                ..FitConfig::new(hand())
            },
        )
        .unwrap();
        let w = weights_to_array(&learned.weights);
        assert!(w.iter().all(|x| *x >= 0.0), "{w:?}");
        assert_eq!(w[2], 0.0, "text weight {w:?}");
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_order_of_lists_and_rows_changes_nothing() {
        let lists = synthetic(TRUTH, 150, 30, 4);
        let a = fit(&lists, &FitConfig::new(hand())).unwrap();
        let mut shuffled = lists.clone();
        shuffled.reverse();
        let mut rng = Stream(9);
        for list in &mut shuffled {
            for i in (1..list.rows.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                list.rows.swap(i, j);
            }
        }
        assert_ne!(shuffled[0], lists[149]);
        let b = fit(&shuffled, &FitConfig::new(hand())).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn lists_without_pairs_are_skipped_and_counted() {
        let lists = synthetic(TRUTH, 100, 30, 5);
        let a = fit(&lists, &FitConfig::new(hand())).unwrap();
        let mut more = lists.clone();
        let mut no_hire = lists[0].clone();
        no_hire.rows.iter_mut().for_each(|r| r.hired = false);
        let mut only_hires = lists[1].clone();
        only_hires.rows.retain(|r| r.hired);
        more.push(no_hire.clone());
        more.push(only_hires);
        more.push(TrainingList::default());
        let b = fit(&more, &FitConfig::new(hand())).unwrap();
        assert_eq!(a.weights, b.weights);
        assert_eq!((b.report.lists, b.report.lists_used), (103, 100));
        assert_eq!(
            fit(&[no_hire], &FitConfig::new(hand())),
            Err(LearnError::NoPairs)
        );
    }

    #[test]
    fn bad_inputs_are_refused_with_their_place() {
        let mut lists = synthetic(TRUTH, 3, 5, 6);
        lists[2].rows[4].similarities[3] = 1.5;
        assert_eq!(
            fit(&lists, &FitConfig::new(hand())),
            Err(LearnError::BadSimilarity {
                list: 2,
                row: 4,
                criterion: "distance",
                value: 1.5
            })
        );
        lists[2].rows[4].similarities[3] = f64::NAN;
        assert!(matches!(
            fit(&lists, &FitConfig::new(hand())),
            Err(LearnError::BadSimilarity {
                list: 2,
                row: 4,
                ..
            })
        ));
        let mut prior = hand();
        prior.skills = -0.1;
        assert_eq!(
            fit(&lists, &FitConfig::new(prior)),
            Err(LearnError::Prior(WeightsError::Negative {
                key: "prior.skills".into(),
                value: -0.1
            }))
        );
        let zero_l2 = FitConfig {
            l2: 0.0,
            ..FitConfig::new(hand())
        };
        assert!(matches!(fit(&lists, &zero_l2), Err(LearnError::Config(_))));
    }

    #[test]
    fn fits_thousands_of_lists_quickly() {
        // The harness's order of magnitude: 2,000 lists of 100 rows.
        let lists = synthetic(TRUTH, 2_000, 100, 7);
        let started = std::time::Instant::now();
        let learned = fit(&lists, &FitConfig::new(hand())).unwrap();
        let elapsed = started.elapsed();
        assert!(learned.report.converged);
        // Generous for debug builds; release takes a small fraction.
        assert!(elapsed.as_secs_f64() < 30.0, "took {elapsed:?}");
    }

    #[test]
    fn list_recall_counts_hires_moved_into_the_cut() {
        let row = |s: f64, hired| TrainingRow {
            similarities: [s, 1.0 - s, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            hired,
        };
        let lists = vec![
            TrainingList {
                rows: vec![row(0.9, false), row(0.8, false), row(0.1, true)],
            },
            TrainingList {
                rows: vec![row(0.9, true), row(0.2, false)],
            },
            TrainingList {
                rows: vec![row(0.5, false)],
            },
        ];
        let on = |first: f64, second: f64| {
            let mut w = weights_from_array([0.0; CRITERIA]);
            w.profession = first;
            w.skills = second;
            w
        };
        // By the first criterion: list 1 puts its hire third, list 2 first.
        assert_eq!(list_recall_at(&lists, &on(1.0, 0.0), 1), 0.5);
        assert_eq!(list_recall_at(&lists, &on(1.0, 0.0), 2), 0.5);
        assert_eq!(list_recall_at(&lists, &on(1.0, 0.0), 3), 1.0);
        // By the second: list 1's hire comes first, list 2's second.
        assert_eq!(list_recall_at(&lists, &on(0.0, 1.0), 1), 0.5);
        assert_eq!(list_recall_at(&lists, &on(0.0, 1.0), 2), 1.0);
        // Equal scores keep the recorded order: the hire stays third.
        assert_eq!(list_recall_at(&lists, &on(0.0, 0.0), 2), 0.5);
        // No list with a hire.
        assert_eq!(list_recall_at(&lists[2..], &on(1.0, 0.0), 3), 0.0);
    }

    #[test]
    fn selecting_l2_prefers_free_weights_when_the_truth_is_far_from_the_prior() {
        let fit_lists = synthetic(TRUTH, 400, 50, 11);
        let on = |validation: Vec<TrainingList>| {
            select_l2(&fit_lists, &FitConfig::new(hand()), &[0.01, 1e6], |w| {
                Ok::<_, std::convert::Infallible>(list_recall_at(&validation, w, 10))
            })
            .unwrap()
        };
        let selection = on(synthetic(TRUTH, 200, 50, 12));
        assert_eq!(selection.trials.len(), 2);
        assert_eq!(selection.chosen, 0.01, "{selection:?}");
        assert!(selection.trials[0].validation > selection.prior_validation);
        // Later outcomes made by the hand-set weights: stay close to them.
        let selection = on(synthetic(weights_to_array(&hand()), 200, 50, 13));
        assert_eq!(selection.chosen, 1e6, "{selection:?}");
    }

    fn sample_file() -> WeightsFile {
        WeightsFile::new(
            WeightsMeta {
                version: "test-2026-11-23-v1".into(),
                created: "2026-11-23".into(),
                method: "pairwise logistic".into(),
                training_from: "2026-08-25".into(),
                training_to: "2026-10-30".into(),
                lists: 600,
                hires: 1000,
                pairs: 98_765,
                note: Some("synthetic".into()),
                prior: hand(),
                held_out: Some(HeldOutMetrics {
                    from: "2026-10-31".into(),
                    to: "2026-11-22".into(),
                    vacancies: 400,
                    hires: 700,
                    hand_recall_at_10: 0.3,
                    learned_recall_at_10: 0.35,
                    hand_recall_at_50: 0.6,
                    learned_recall_at_50: 0.65,
                    hand_ndcg_at_10: 0.2,
                    learned_ndcg_at_10: 0.25,
                }),
            },
            weights_from_array([0.3137, 0.2, 0.0, 0.17, 0.2, 0.05, 0.03, 0.0363]),
        )
        .unwrap()
    }

    #[test]
    fn a_weights_file_round_trips() {
        let file = sample_file();
        let text = file.to_toml().unwrap();
        assert!(text.starts_with("# Scoring weights test-2026-11-23-v1"));
        assert_eq!(WeightsFile::from_toml(&text).unwrap(), file);
        let mut bare = file.clone();
        bare.meta.note = None;
        bare.meta.held_out = None;
        let text = bare.to_toml().unwrap();
        assert!(!text.contains("held_out"));
        assert_eq!(WeightsFile::from_toml(&text).unwrap(), bare);
    }

    #[test]
    fn weights_tables_have_exactly_the_keys_of_the_scoring_configuration() {
        let config: toml::Table = DEFAULT_SCORING_TOML.parse().unwrap();
        let Some(toml::Value::Table(table)) = config.get("weights") else {
            panic!("config/scoring.toml has no [weights]");
        };
        assert_eq!(weights_from_table(table, "weights").unwrap(), hand());
    }

    #[test]
    fn the_committed_example_file_loads() {
        let text = include_str!("../../config/weights/harness-2026-11-23-v1.toml");
        let file = WeightsFile::from_toml(text).unwrap();
        assert_eq!(file.meta.version, "harness-2026-11-23-v1");
        assert_eq!(file.meta.prior, hand());
        assert!(file.meta.held_out.is_some());
        let sum: f64 = weights_to_array(file.weights()).iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "weights sum to {sum}");
    }

    fn refused(edit: impl Fn(String) -> String) -> WeightsFileError {
        let text = edit(sample_file().to_toml().unwrap());
        match WeightsFile::from_toml(&text) {
            Err(e) => e,
            Ok(_) => panic!("accepted:\n{text}"),
        }
    }

    #[test]
    fn a_bad_weights_file_is_refused_naming_the_key() {
        let weights_at = |text: &str| text.find("\n[weights]").unwrap() + 1;
        let e = refused(|t| {
            let at = weights_at(&t);
            format!("{}{}", &t[..at], t[at..].replace("skills = 0.2\n", ""))
        });
        assert_eq!(e.to_string(), "weights file: weights.skills: missing");
        let e = refused(|t| {
            let at = weights_at(&t);
            format!(
                "{}{}",
                &t[..at],
                t[at..].replace("text = 0.0", "text = -0.5")
            )
        });
        assert!(matches!(
            e,
            WeightsFileError::Weights(WeightsError::Negative { ref key, .. }) if key == "weights.text"
        ));
        let e = refused(|t| {
            let at = weights_at(&t);
            format!(
                "{}{}",
                &t[..at],
                t[at..].replace("text = 0.0", "text = nan")
            )
        });
        assert!(matches!(
            e,
            WeightsFileError::Weights(WeightsError::NotFinite { ref key, .. }) if key == "weights.text"
        ));
        let e = refused(|t| format!("{t}speed = 0.1\n"));
        assert!(matches!(
            e,
            WeightsFileError::Weights(WeightsError::Unknown { ref key }) if key == "weights.speed"
        ));
        let e = refused(|t| {
            let at = weights_at(&t);
            format!(
                "{}{}",
                &t[..at],
                t[at..].replace("text = 0.0", "text = \"high\"")
            )
        });
        assert!(matches!(
            e,
            WeightsFileError::Weights(WeightsError::NotANumber { ref key }) if key == "weights.text"
        ));
        let zero = "[weights]\nprofession = 0\nskills = 0\ntext = 0\ndistance = 0\n\
                    experience = 0\neducation = 0\nlanguages = 0\nlicences = 0\n";
        let e = refused(|t| format!("{}{zero}", &t[..weights_at(&t)]));
        assert!(matches!(
            e,
            WeightsFileError::Weights(WeightsError::AllZero { ref table }) if table == "weights"
        ));
        let e = refused(|t| t[..weights_at(&t)].to_owned());
        assert!(matches!(
            e,
            WeightsFileError::MissingTable { key: "weights" }
        ));
        let e = refused(|t| t.replace("profession = 0.28", "profession = -0.28"));
        assert!(matches!(
            e,
            WeightsFileError::Weights(WeightsError::Negative { ref key, .. }) if key == "meta.prior.profession"
        ));
        let e = refused(|t| t.replace("created = \"2026-11-23\"", "created = \"23/11/2026\""));
        assert!(matches!(
            e,
            WeightsFileError::BadDate {
                key: "meta.created",
                ..
            }
        ));
        let e = refused(|t| t.replace("pairs = 98765", "pairs = 98765\nseed = 3"));
        assert!(matches!(e, WeightsFileError::Meta(_)), "{e}");
        let e = refused(|t| format!("[extra]\nx = 1\n{t}"));
        assert!(matches!(e, WeightsFileError::UnknownTable { ref key } if key == "extra"));
    }
}
