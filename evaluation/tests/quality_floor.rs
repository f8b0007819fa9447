//! CI guard on match quality: the engine's preselection lists, measured
//! against the hires of the simulated market (`docs/EVALUATION.md`), must
//! stay explained, keep their recall above a recorded floor, and beat
//! text-only ranking by the margin.
//!
//! Everything is seeded, so the numbers are exact for a given engine,
//! generator and market: a failure means one of those changed. If a change
//! is meant to move the numbers, rerun `incontra-eval` and record the new
//! values here and in `docs/EVALUATION.md`.

use std::sync::OnceLock;

use incontra_evaluation::metrics::MethodMetrics;
use incontra_evaluation::report::Method;
use incontra_evaluation::{evaluate, EvalConfig, Evaluation};

/// Engine recall@50 on the small world (`EvalConfig::small()`): measured
/// 0.731 (108 vacancies with hires, 192 hires) with the engine of commit
/// 55a01a3 (boosts and offerta congrua in); the floor sits a bit below so
/// that only a real loss of quality trips it.
const SMALL_WORLD_RECALL_AT_50_FLOOR: f64 = 0.70;

/// The acceptance bar: engine recall@50 at least twice BM25's.
/// Measured 2.43 on `EvalConfig::dense_ci()` (engine 0.641, BM25 0.264).
const MIN_RECALL_AT_50_OVER_BM25: f64 = 2.0;

fn small() -> &'static Evaluation {
    static SMALL: OnceLock<Evaluation> = OnceLock::new();
    SMALL.get_or_init(|| evaluate(&EvalConfig::small()).expect("the small world evaluates"))
}

fn dense() -> &'static Evaluation {
    static DENSE: OnceLock<Evaluation> = OnceLock::new();
    DENSE.get_or_init(|| evaluate(&EvalConfig::dense_ci()).expect("the dense CI world evaluates"))
}

fn metrics(evaluation: &Evaluation, method: Method) -> &MethodMetrics {
    evaluation
        .report
        .metrics(method)
        .expect("every method has a row")
}

fn engine_recall_passes_floor(m: &MethodMetrics) -> bool {
    m.recall_at_50 >= SMALL_WORLD_RECALL_AT_50_FLOOR
}

fn beats_bm25(candidate: &MethodMetrics, bm25: &MethodMetrics) -> bool {
    candidate.recall_at_50 >= MIN_RECALL_AT_50_OVER_BM25 * bm25.recall_at_50
}

#[test]
fn every_returned_match_has_one_contribution_per_criterion_with_a_reason() {
    for (name, e) in [("small", small()), ("dense", dense())] {
        let w = &e.report.world;
        assert!(w.lists_checked > 0, "{name}: no engine list was checked");
        assert_eq!(
            w.explanation_problems, 0,
            "{name}: {} explanation problems, first: {:#?}",
            w.explanation_problems, e.explanation_problems
        );
    }
}

#[test]
fn engine_recall_at_50_stays_above_the_recorded_floor() {
    let e = small();
    println!("{}", e.report.to_text());
    println!(
        "small world built in {:.1} s, evaluated in {:.1} s",
        e.build_time.as_secs_f64(),
        e.evaluation_time.as_secs_f64()
    );
    let engine = metrics(e, Method::Engine);
    assert!(
        engine.vacancies >= 50,
        "only {} vacancies with hires: the small world no longer measures anything",
        engine.vacancies
    );
    assert!(
        engine_recall_passes_floor(engine),
        "engine recall@50 {:.3} fell below the recorded floor {SMALL_WORLD_RECALL_AT_50_FLOOR}",
        engine.recall_at_50
    );
}

#[test]
fn engine_recall_at_50_is_at_least_twice_text_only_bm25() {
    let e = dense();
    println!("{}", e.report.to_text());
    println!(
        "dense CI world built in {:.1} s, evaluated in {:.1} s",
        e.build_time.as_secs_f64(),
        e.evaluation_time.as_secs_f64()
    );
    let engine = metrics(e, Method::Engine);
    let bm25 = metrics(e, Method::Bm25);
    assert!(bm25.recall_at_50 > 0.0, "BM25 found no hire at all");
    assert!(
        beats_bm25(engine, bm25),
        "engine recall@50 {:.3} is {:.2} times BM25's {:.3}; the bar is {MIN_RECALL_AT_50_OVER_BM25}",
        engine.recall_at_50,
        engine.recall_at_50 / bm25.recall_at_50,
        bm25.recall_at_50
    );
}

/// The guards are not vacuous: rankings known to be poor fail them.
#[test]
fn the_guards_reject_poor_rankings() {
    let small_random = metrics(small(), Method::RandomPool);
    assert!(!engine_recall_passes_floor(small_random));
    let dense = dense();
    let bm25 = metrics(dense, Method::Bm25);
    assert!(!beats_bm25(metrics(dense, Method::RandomPool), bm25));
    assert!(!beats_bm25(bm25, bm25));
}
