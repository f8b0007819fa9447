//! Ranking metrics against the eventual hires: recall@k, NDCG@k with binary
//! relevance (hired or not), and coverage (how many different people the
//! top-10 lists ever propose). Per-vacancy values are averaged over the
//! vacancies with at least one hire (macro average), so a campaign with ten
//! positions weighs like a one-position vacancy.

use std::collections::HashSet;

/// Share of `hires` found in the first `k` of `ranking`; 0 with no hires.
pub fn recall_at(ranking: &[String], hires: &HashSet<&str>, k: usize) -> f64 {
    if hires.is_empty() {
        return 0.0;
    }
    let found = ranking
        .iter()
        .take(k)
        .filter(|id| hires.contains(id.as_str()))
        .count();
    found as f64 / hires.len() as f64
}

/// Normalised discounted cumulative gain of the first `k` of `ranking` with
/// relevance 1 for a hire and 0 otherwise: DCG = sum over hired positions i
/// (1-based) of 1/log2(i+1), divided by the DCG of a list with every hire
/// on top.
pub fn ndcg_at(ranking: &[String], hires: &HashSet<&str>, k: usize) -> f64 {
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let ideal: f64 = (0..hires.len().min(k)).map(gain).sum();
    if ideal == 0.0 {
        return 0.0;
    }
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, id)| hires.contains(id.as_str()))
        .map(|(i, _)| gain(i))
        .sum();
    dcg / ideal
}

/// The metrics of one ranking method over the evaluated vacancies.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodMetrics {
    pub recall_at_10: f64,
    pub recall_at_50: f64,
    pub ndcg_at_10: f64,
    /// Distinct pool members proposed in any top-10 list, over the number
    /// of candidates in the union of the pools.
    pub coverage: f64,
    pub vacancies: usize,
    pub hires: usize,
}

/// Sums per-vacancy values for one method.
#[derive(Debug, Default)]
pub struct Accumulator {
    recall_10: f64,
    recall_50: f64,
    ndcg_10: f64,
    vacancies: usize,
    hires: usize,
    proposed: HashSet<String>,
}

impl Accumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one vacancy's ranking (best first, at least 50 long when the
    /// method has that many) against its hires; a vacancy without hires is
    /// not evaluated.
    pub fn add(&mut self, ranking: &[String], hires: &HashSet<&str>) {
        if hires.is_empty() {
            return;
        }
        self.recall_10 += recall_at(ranking, hires, 10);
        self.recall_50 += recall_at(ranking, hires, 50);
        self.ndcg_10 += ndcg_at(ranking, hires, 10);
        self.vacancies += 1;
        self.hires += hires.len();
        self.proposed.extend(ranking.iter().take(10).cloned());
    }

    /// Averages; coverage counts only proposals inside `pool_union`.
    pub fn finish(&self, pool_union: &HashSet<String>) -> MethodMetrics {
        let n = self.vacancies.max(1) as f64;
        let covered = self
            .proposed
            .iter()
            .filter(|id| pool_union.contains(*id))
            .count();
        MethodMetrics {
            recall_at_10: self.recall_10 / n,
            recall_at_50: self.recall_50 / n,
            ndcg_at_10: self.ndcg_10 / n,
            coverage: if pool_union.is_empty() {
                0.0
            } else {
                covered as f64 / pool_union.len() as f64
            },
            vacancies: self.vacancies,
            hires: self.hires,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn recall_counts_hires_within_the_cut() {
        let hires: HashSet<&str> = ["b", "z"].into_iter().collect();
        let r = ids(&["a", "b", "c"]);
        assert_eq!(recall_at(&r, &hires, 1), 0.0);
        assert_eq!(recall_at(&r, &hires, 2), 0.5);
        assert_eq!(recall_at(&r, &hires, 50), 0.5);
        assert_eq!(recall_at(&r, &HashSet::new(), 50), 0.0);
    }

    #[test]
    fn ndcg_is_one_for_hires_on_top_and_discounts_lower_ranks() {
        let hires: HashSet<&str> = ["a", "b"].into_iter().collect();
        assert!((ndcg_at(&ids(&["a", "b", "c"]), &hires, 10) - 1.0).abs() < 1e-12);
        assert!((ndcg_at(&ids(&["b", "a"]), &hires, 10) - 1.0).abs() < 1e-12);
        let lower = ndcg_at(&ids(&["c", "a", "b"]), &hires, 10);
        assert!(lower < 1.0 && lower > 0.0);
        // One hire at rank 2: 1/log2(3).
        let one: HashSet<&str> = ["a"].into_iter().collect();
        let v = ndcg_at(&ids(&["c", "a"]), &one, 10);
        assert!((v - 1.0 / 3f64.log2()).abs() < 1e-12);
        assert_eq!(ndcg_at(&ids(&["c", "d"]), &one, 10), 0.0);
    }

    #[test]
    fn accumulator_macro_averages_and_skips_vacancies_without_hires() {
        let mut acc = Accumulator::new();
        let one: HashSet<&str> = ["a"].into_iter().collect();
        acc.add(&ids(&["a", "x"]), &one);
        acc.add(&ids(&["y", "x"]), &one);
        acc.add(&ids(&["a"]), &HashSet::new());
        let pool: HashSet<String> = ids(&["a", "x", "y", "q"]).into_iter().collect();
        let m = acc.finish(&pool);
        assert_eq!(m.vacancies, 2);
        assert_eq!(m.hires, 2);
        assert_eq!(m.recall_at_50, 0.5);
        assert_eq!(m.coverage, 0.75);
    }
}
