//! Quick mode of the benchmark as a test: every phase on a few thousand
//! candidates, with a real PostgreSQL and a real `incontra` process over
//! gRPC. It asserts that the pipeline runs and that its output is sane
//! (lists on both sides, the SQL twin scoring shared pairs as the engine
//! does), never how fast anything was.

use std::path::PathBuf;
use std::process::Command;

use incontra_load_tests::node::incontra_binary;
use incontra_load_tests::pipeline::{self, BenchConfig};

/// Builds the `incontra` binary of this profile: a test cannot depend on
/// another package's binary, and `cargo test -p incontra-load-tests` alone
/// would not build it. A no-op when it is fresh.
fn build_incontra() -> PathBuf {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-p", "incontra-services", "--bin", "incontra"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo build");
    assert!(status.success(), "cargo build of incontra failed");
    incontra_binary().expect("the incontra binary beside the test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_mode_runs_every_phase_against_postgres() {
    let incontra = build_incontra();
    let work = tempfile::tempdir().unwrap();
    let config = BenchConfig::quick(work.path().to_owned(), incontra);
    let report = pipeline::run(&config, &|what| eprintln!("{what}"))
        .await
        .expect("the quick benchmark runs");

    let m = &report.manifest;
    assert!(m.candidacy_events > 0 && m.vacancy_events > 0 && m.co_events > 0);
    assert_eq!(report.ingest_events, m.events(), "every event accepted");
    assert_eq!(report.ingest_rejected, 0);
    assert_eq!(report.candidates, config.scale.candidates);
    assert_eq!(report.pg_load.candidates, report.candidates);

    let c = &report.comparison;
    assert_eq!(c.queries, config.compare_queries);
    assert!(c.engine_empty < c.queries, "the engine lists candidates");
    assert!(c.sql_empty < c.queries, "the SQL baseline lists candidates");
    assert!(
        c.mean_overlap > 0.0,
        "the two top-50 lists share candidates"
    );
    assert!(c.shared_pairs > 0);
    assert!(
        c.max_non_text_delta < 1e-6,
        "SQL scores a shared pair as the engine does, text aside: off by {}",
        c.max_non_text_delta
    );

    assert_eq!(report.latency.len(), 2);
    for (rpc, open, closed) in &report.latency {
        assert!(open.requests > 0, "{} open loop answered", rpc.name());
        assert!(closed.requests > 0, "{} closed loop answered", rpc.name());
        assert!(open.p50 <= open.p99 && open.p99 <= open.max);
    }
    assert!(report.restored_memory.rss > report.empty_memory.rss / 2);
    assert!(report.index_bytes > 0 && report.journal_bytes > 0 && report.snapshot_bytes > 0);
    assert!(report.restore_recovery_seconds.is_some());
    assert!(report.replay_recovery_seconds.is_some());
    // Lists were asked during the snapshot and during the whole burst.
    let phases: Vec<&str> = report.stall.iter().map(|p| p.name).collect();
    assert_eq!(phases, ["snapshot", "co_burst"]);
    for p in &report.stall {
        assert!(
            p.lists.requests + p.lists.errors > 0,
            "{} saw no list",
            p.name
        );
        assert!(p.lists.p50 <= p.lists.p99 && p.lists.p99 <= p.lists.max);
    }
    assert_eq!(
        report.stall[1].events as usize + 1,
        config.stall_co_burst,
        "the burst, after the event that triggered the snapshot"
    );

    let text = report.markdown(
        config.open_loop_rate,
        config.open_loop_rate_vacancies,
        config.closed_loop_callers,
    );
    for needle in [
        "MatchCandidates",
        "MatchVacancies",
        "PostgreSQL",
        "Top-50 overlap",
        "Lists while the node works",
    ] {
        assert!(text.contains(needle), "report mentions {needle}:\n{text}");
    }
}
