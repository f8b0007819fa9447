//! The evaluation's result: what world it ran on, one row of metrics per
//! ranking method, and the engine's recall@50 over BM25's (the issue's
//! acceptance bar is at least 2), printed as a plain or Markdown table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use incontra_engine::model::format_day;
use incontra_engine::scoring::Evaluation;

use crate::market::{MarketStats, ProfessionFit, Traits};
use crate::metrics::MethodMetrics;

/// A ranking method compared in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `match_candidates` with the server's default request.
    Engine,
    /// The same with the target-group boosts set to 0 (a diagnostic).
    EngineWithoutBoosts,
    /// BM25 of the vacancy text only, no filters.
    Bm25,
    /// Uniform draw from every active candidate.
    RandomAll,
    /// Uniform draw from the hidden applicant pool (knows the pool, which no
    /// real method does).
    RandomPool,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Engine,
        Method::EngineWithoutBoosts,
        Method::Bm25,
        Method::RandomAll,
        Method::RandomPool,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Method::Engine => "engine (match_candidates, default request)",
            Method::EngineWithoutBoosts => "engine, target-group boosts off (diagnostic)",
            Method::Bm25 => "BM25 text only, no filters",
            Method::RandomAll => "random, all active candidates",
            Method::RandomPool => "random within the hidden pool (oracle pool)",
        }
    }
}

/// The world and market the metrics were measured on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorldSummary {
    pub generator_seed: u64,
    pub market_seed: u64,
    pub candidates: u64,
    pub vacancies: u64,
    pub today: i32,
    pub events: u64,
    pub rejected_events: u64,
    /// Not withdrawn.
    pub active_candidates: usize,
    pub open_vacancies: usize,
    pub open_positions: u64,
    /// Open vacancies with at least one hire.
    pub evaluated_vacancies: usize,
    pub hires: usize,
    pub mean_pool: f64,
    pub pool_union: usize,
    /// Engine lists computed (every open vacancy) and checked for their
    /// explanations.
    pub lists_checked: usize,
    pub explanation_problems: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub method: Method,
    pub metrics: MethodMetrics,
}

/// Why eventual hires were missing from the engine's top 50: the first hard
/// filter they failed (as `Explain` reports it), or eligible but ranked
/// below the cut.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Misses {
    pub total: usize,
    pub ranked_below_cut: usize,
    pub by_filter: BTreeMap<&'static str, usize>,
}

impl Misses {
    pub fn record(&mut self, verdict: &Evaluation) {
        self.total += 1;
        match verdict.filters.iter().find(|f| !f.passed) {
            Some(failed) => *self.by_filter.entry(failed.filter.name()).or_default() += 1,
            None => self.ranked_below_cut += 1,
        }
    }

    fn parts(&self) -> Vec<(String, usize)> {
        let mut parts = vec![(
            "eligible, ranked below 50".to_owned(),
            self.ranked_below_cut,
        )];
        parts.extend(
            self.by_filter
                .iter()
                .map(|(name, n)| (format!("excluded by {name}"), *n)),
        );
        parts
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub world: WorldSummary,
    pub rows: Vec<Row>,
    pub misses: Misses,
    pub market: MarketStats,
}

fn share(n: usize, of: usize) -> f64 {
    100.0 * n as f64 / of.max(1) as f64
}

/// (trait, share of pool members, share of hires), in percent.
fn trait_shares(m: &MarketStats) -> Vec<(&'static str, f64, f64)> {
    let row = |name, f: fn(&Traits) -> usize| {
        (
            name,
            share(f(&m.pools), m.pools.people),
            share(f(&m.hires), m.hires.people),
        )
    };
    vec![
        row("women", |t| t.women),
        row("over 50", |t| t.over_50),
        row("long-term unemployed (DID > 12 months)", |t| {
            t.long_term_unemployed
        }),
        row("at most licenza media", |t| t.low_education),
    ]
}

impl Report {
    pub fn metrics(&self, method: Method) -> Option<&MethodMetrics> {
        self.rows
            .iter()
            .find(|r| r.method == method)
            .map(|r| &r.metrics)
    }

    /// Engine recall@50 divided by BM25's; `None` when BM25 found nobody.
    pub fn engine_over_bm25_recall_at_50(&self) -> Option<f64> {
        let engine = self.metrics(Method::Engine)?.recall_at_50;
        let bm25 = self.metrics(Method::Bm25)?.recall_at_50;
        (bm25 > 0.0).then(|| engine / bm25)
    }

    fn ratio_text(&self) -> String {
        match self.engine_over_bm25_recall_at_50() {
            Some(r) => format!("{r:.2}"),
            None => "n/a (BM25 recall@50 is 0)".to_owned(),
        }
    }

    /// A GitHub-flavoured Markdown table with the world described above it.
    pub fn to_markdown(&self) -> String {
        let w = &self.world;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "World: {} candidates, {} vacancies, generator seed {}, market seed {}, today {}; \
             {} events ingested ({} rejected).  ",
            w.candidates,
            w.vacancies,
            w.generator_seed,
            w.market_seed,
            format_day(w.today),
            w.events,
            w.rejected_events
        );
        let _ = writeln!(
            out,
            "Market: {} open vacancies with {} positions, {} with at least one hire, {} hires; \
             mean pool {:.0} candidates, {} in the union of the pools, {} active candidates.  ",
            w.open_vacancies,
            w.open_positions,
            w.evaluated_vacancies,
            w.hires,
            w.mean_pool,
            w.pool_union,
            w.active_candidates
        );
        let _ = writeln!(
            out,
            "Explanations: {} engine lists checked, {} problems.",
            w.lists_checked, w.explanation_problems
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| method | recall@10 | recall@50 | NDCG@10 | coverage | vacancies | hires |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        for row in &self.rows {
            let m = &row.metrics;
            let _ = writeln!(
                out,
                "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |",
                row.method.label(),
                m.recall_at_10,
                m.recall_at_50,
                m.ndcg_at_10,
                m.coverage,
                m.vacancies,
                m.hires
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Engine recall@50 / BM25 recall@50 = **{}** (acceptance bar: 2).",
            self.ratio_text()
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Hires missing from the engine's top 50: {}.",
            self.misses.total
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| why | hires | share |");
        let _ = writeln!(out, "|---|---:|---:|");
        for (why, n) in self.misses.parts() {
            let _ = writeln!(out, "| {why} | {n} | {:.1}% |", share(n, self.misses.total));
        }
        let m = &self.market;
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Who the simulated employers hired ({} hires; pools of the evaluated vacancies, \
             a person counted once per pool):",
            m.hires.people
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| | share of pool members | share of hires |");
        let _ = writeln!(out, "|---|---:|---:|");
        for (name, pool, hired) in trait_shares(m) {
            let _ = writeln!(out, "| {name} | {pool:.1}% | {hired:.1}% |");
        }
        for (fit, n) in ProfessionFit::ALL.iter().zip(m.hires_by_fit) {
            let _ = writeln!(
                out,
                "| hires who {} | | {:.1}% |",
                fit.label(),
                share(n, m.hires.people)
            );
        }
        let _ = writeln!(
            out,
            "| hires within their stated contract and hours | | {:.1}% |",
            share(m.hires_within_preferences, m.hires.people)
        );
        out
    }

    /// A fixed-width table for a terminal.
    pub fn to_text(&self) -> String {
        let w = &self.world;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "world: {} candidates ({} active), {} vacancies, seed {}, market seed {}, today {}, {} events ({} rejected)",
            w.candidates,
            w.active_candidates,
            w.vacancies,
            w.generator_seed,
            w.market_seed,
            format_day(w.today),
            w.events,
            w.rejected_events
        );
        let _ = writeln!(
            out,
            "market: {} open vacancies ({} positions), {} evaluated, {} hires, mean pool {:.0}, pool union {}",
            w.open_vacancies,
            w.open_positions,
            w.evaluated_vacancies,
            w.hires,
            w.mean_pool,
            w.pool_union
        );
        let _ = writeln!(
            out,
            "explanations: {} lists checked, {} problems",
            w.lists_checked, w.explanation_problems
        );
        let _ = writeln!(
            out,
            "{:<46} {:>9} {:>9} {:>8} {:>8} {:>9} {:>6}",
            "method", "recall@10", "recall@50", "NDCG@10", "coverage", "vacancies", "hires"
        );
        for row in &self.rows {
            let m = &row.metrics;
            let _ = writeln!(
                out,
                "{:<46} {:>9.3} {:>9.3} {:>8.3} {:>8.3} {:>9} {:>6}",
                row.method.label(),
                m.recall_at_10,
                m.recall_at_50,
                m.ndcg_at_10,
                m.coverage,
                m.vacancies,
                m.hires
            );
        }
        let _ = writeln!(
            out,
            "engine recall@50 / BM25 recall@50 = {} (acceptance bar: 2)",
            self.ratio_text()
        );
        let _ = writeln!(
            out,
            "hires missing from the engine's top 50: {}",
            self.misses.total
        );
        for (why, n) in self.misses.parts() {
            let _ = writeln!(
                out,
                "  {why:<40} {n:>6} {:>6.1}%",
                share(n, self.misses.total)
            );
        }
        let m = &self.market;
        let _ = writeln!(out, "who is hired: share of pool members -> share of hires");
        for (name, pool, hired) in trait_shares(m) {
            let _ = writeln!(out, "  {name:<40} {pool:>5.1}% -> {hired:>5.1}%");
        }
        for (fit, n) in ProfessionFit::ALL.iter().zip(m.hires_by_fit) {
            let _ = writeln!(
                out,
                "  hires who {:<30} {:>5.1}%",
                fit.label(),
                share(n, m.hires.people)
            );
        }
        let _ = writeln!(
            out,
            "  hires within stated contract and hours   {:>5.1}%",
            share(m.hires_within_preferences, m.hires.people)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(r50: f64) -> MethodMetrics {
        MethodMetrics {
            recall_at_10: r50 / 2.0,
            recall_at_50: r50,
            ndcg_at_10: 0.1,
            coverage: 0.2,
            vacancies: 3,
            hires: 4,
        }
    }

    #[test]
    fn ratio_and_tables() {
        let report = Report {
            misses: Misses::default(),
            market: MarketStats::default(),
            world: WorldSummary::default(),
            rows: vec![
                Row {
                    method: Method::Engine,
                    metrics: metrics(0.6),
                },
                Row {
                    method: Method::Bm25,
                    metrics: metrics(0.2),
                },
            ],
        };
        let ratio = report.engine_over_bm25_recall_at_50().unwrap_or(0.0);
        assert!((ratio - 3.0).abs() < 1e-12);
        let md = report.to_markdown();
        assert!(md.contains("| engine (match_candidates, default request) | 0.300 | 0.600 |"));
        assert!(md.contains("**3.00**"));
        assert!(report.to_text().contains("= 3.00"));
        let none = Report {
            rows: vec![Row {
                method: Method::Bm25,
                metrics: metrics(0.0),
            }],
            ..report
        };
        assert_eq!(none.engine_over_bm25_recall_at_50(), None);
    }
}
