//! Match-quality evaluation of incontra.
//!
//! A synthetic Piemonte labour market is generated ([`world`]) and folded into
//! a real projection; employers then fill every open vacancy by a hidden
//! utility the engine does not know ([`market`]). The engine's preselection
//! lists, asked exactly as the gRPC server asks them, are scored against
//! those eventual hires ([`metrics`]) beside text-only and random rankings
//! ([`baselines`]), and every list is checked for its explanations
//! ([`explanations`]). [`report`] prints the table. See `docs/EVALUATION.md`.

pub mod baselines;
pub mod explanations;
pub mod market;
pub mod metrics;
pub mod report;
pub mod timesplit;
pub mod world;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use incontra_datagen::GeneratorConfig;
use incontra_engine::config::{BoostConfig, ConfigError, ScoringConfig};
use incontra_engine::matching::{ListRequest, MatchError};
use incontra_engine::reference::ReferenceError;
use incontra_indexer::projection::ProjectionError;
use incontra_indexer::query::QueryError;

use crate::market::MarketConfig;
use crate::metrics::Accumulator;
use crate::report::{Method, Misses, Report, Row, WorldSummary};
use crate::world::World;

/// Length of the lists asked of every method: the gRPC server's default
/// `limit` (`services::server::DEFAULT_LIMIT`), and the k of recall@50.
pub const LIST_LIMIT: usize = 50;

/// How deep the text-only baseline reads the index before it breaks ties
/// by id and keeps [`LIST_LIMIT`] (the index leaves out every candidate
/// tied at its cut-off, so it is asked for more than it keeps).
const BM25_DEPTH: usize = 2_000;

/// How many explanation problems an [`Evaluation`] keeps verbatim.
const PROBLEM_SAMPLES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("reference data: {0}")]
    Reference(#[from] ReferenceError),
    #[error("scoring configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("projection: {0}")]
    Projection(#[from] ProjectionError),
    #[error("matching: {0}")]
    Match(#[from] MatchError),
    #[error("query: {0}")]
    Query(#[from] QueryError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// What to evaluate on.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalConfig {
    pub world: GeneratorConfig,
    pub market: MarketConfig,
}

impl EvalConfig {
    /// The published table: the demo world.
    pub fn demo() -> Self {
        EvalConfig {
            world: GeneratorConfig::demo(),
            market: MarketConfig::default(),
        }
    }

    /// The CI world: a tenth of the demo.
    pub fn small() -> Self {
        EvalConfig {
            world: GeneratorConfig::small(),
            market: MarketConfig::default(),
        }
    }

    /// The CI world for comparisons with text-only ranking: the demo's
    /// 20,000 candidates (its density of job seekers) with the small world's
    /// first 100 vacancies. In the small world a profession has so few
    /// candidates in all Piemonte that BM25's top 50, blind to distance,
    /// holds nearly all of them, so it cannot tell a location-aware ranking
    /// from a text-only one; cost grows with vacancies, so few are kept.
    pub fn dense_ci() -> Self {
        EvalConfig {
            world: GeneratorConfig {
                candidates: GeneratorConfig::demo().candidates,
                vacancies: 100,
                ..GeneratorConfig::small()
            },
            market: MarketConfig::default(),
        }
    }
}

/// The report plus what the checks found and how long things took.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub report: Report,
    /// The first explanation problems found (the report counts them all).
    pub explanation_problems: Vec<String>,
    pub build_time: Duration,
    pub evaluation_time: Duration,
}

/// Builds the world, simulates the market and measures every method.
pub fn evaluate(config: &EvalConfig) -> Result<Evaluation, EvalError> {
    let world = World::build(&config.world)?;
    let started = Instant::now();
    let read = world.read();
    let today = world.today();
    let view = read.view(today)?;
    let state = view.state();
    // The same engine with the target-group boosts switched off: shows what
    // the policy priority costs in hires predicted.
    let unboosted_config = ScoringConfig {
        boosts: BoostConfig::default(),
        ..read.config.clone()
    };
    let unboosted = view.with_config(&unboosted_config);
    let market = market::simulate(state, &read.reference, today, &config.market);

    let mut active: Vec<String> = state
        .candidates()
        .filter(|c| !c.withdrawn)
        .map(|c| c.id.clone())
        .collect();
    active.sort();

    let mut accumulators: Vec<(Method, Accumulator)> = Method::ALL
        .iter()
        .map(|&m| (m, Accumulator::new()))
        .collect();
    let mut pool_union: HashSet<String> = HashSet::new();
    let mut problems = Vec::new();
    let mut problem_count = 0;
    let mut lists_checked = 0;
    let mut pool_sum = 0usize;
    let mut misses = Misses::default();
    let request = ListRequest {
        limit: LIST_LIMIT,
        ..ListRequest::default()
    };
    let seed = config.market.seed;
    for outcome in &market.outcomes {
        let Some(vacancy) = state.vacancy(&outcome.vacancy_id) else {
            continue;
        };
        let text = view.best_candidates_by_text(vacancy, BM25_DEPTH)?;
        let list = view.candidates_for(&outcome.vacancy_id, &request)?;
        lists_checked += 1;
        let found = explanations::check_list(&outcome.vacancy_id, &list);
        problem_count += found.len();
        problems.extend(
            found
                .into_iter()
                .take(PROBLEM_SAMPLES.saturating_sub(problems.len())),
        );

        if outcome.hires.is_empty() {
            continue;
        }
        let hires: HashSet<&str> = outcome.hires.iter().map(String::as_str).collect();
        pool_union.extend(outcome.pool.iter().cloned());
        pool_sum += outcome.pool.len();
        let engine: Vec<String> = list.items.into_iter().map(|m| m.id).collect();
        for hire in &outcome.hires {
            if engine.contains(hire) {
                continue;
            }
            let verdict = view.explain(&outcome.vacancy_id, hire)?;
            misses.record(&verdict);
        }
        let unboosted_list = unboosted.candidates_for(&outcome.vacancy_id, &request)?;
        for (method, acc) in &mut accumulators {
            let ranking = match method {
                Method::Engine => engine.clone(),
                Method::EngineWithoutBoosts => {
                    unboosted_list.items.iter().map(|m| m.id.clone()).collect()
                }
                Method::Bm25 => baselines::bm25_ranking(&text, LIST_LIMIT),
                Method::RandomAll => {
                    baselines::random_ranking(&active, LIST_LIMIT, seed, &outcome.vacancy_id)
                }
                Method::RandomPool => baselines::random_ranking(
                    &outcome.pool,
                    LIST_LIMIT,
                    seed ^ 1,
                    &outcome.vacancy_id,
                ),
            };
            acc.add(&ranking, &hires);
        }
    }

    let rows = accumulators
        .iter()
        .map(|(method, acc)| Row {
            method: *method,
            metrics: acc.finish(&pool_union),
        })
        .collect();
    let evaluated = market
        .outcomes
        .iter()
        .filter(|o| !o.hires.is_empty())
        .count();
    let summary = WorldSummary {
        generator_seed: config.world.seed,
        market_seed: config.market.seed,
        candidates: config.world.candidates,
        vacancies: config.world.vacancies,
        today,
        events: world.ingest_summary().events,
        rejected_events: world.ingest_summary().rejected,
        active_candidates: active.len(),
        open_vacancies: market.outcomes.len(),
        open_positions: market.outcomes.iter().map(|o| u64::from(o.positions)).sum(),
        evaluated_vacancies: evaluated,
        hires: market.hires(),
        mean_pool: pool_sum as f64 / evaluated.max(1) as f64,
        pool_union: pool_union.len(),
        lists_checked,
        explanation_problems: problem_count,
    };
    let evaluation_time = started.elapsed();
    Ok(Evaluation {
        report: Report {
            world: summary,
            rows,
            misses,
            market: market.stats.clone(),
        },
        explanation_problems: problems,
        build_time: world.build_time(),
        evaluation_time,
    })
}
