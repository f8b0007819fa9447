//! What a benchmark run measured, and its rendering as the markdown tables
//! of docs/BENCHMARKS.md, each figure beside the target.

use std::fmt::Write as _;
use std::time::Duration;

use incontra_datagen::scale::Manifest;

use crate::baseline::LoadStats;
use crate::measure::{Rpc, Summary};
use crate::node::Memory;

/// The engine and the SQL baseline on the same vacancies.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub queries: usize,
    pub engine: Summary,
    pub sql: Summary,
    /// Share of the larger top-50 list found in the other, averaged.
    pub mean_overlap: f64,
    pub min_overlap: f64,
    pub engine_empty: usize,
    pub sql_empty: usize,
    /// Pairs both lists hold, and the largest difference of their scores
    /// once text relevance (BM25 vs ts_rank) is taken out.
    pub shared_pairs: usize,
    pub max_non_text_delta: f64,
}

impl Comparison {
    /// SQL latency over engine latency, at the median.
    pub fn median_ratio(&self) -> f64 {
        ratio(self.sql.p50, self.engine.p50)
    }

    pub fn mean_ratio(&self) -> f64 {
        ratio(self.sql.mean, self.engine.mean)
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        f64::NAN
    } else {
        a.as_secs_f64() / b.as_secs_f64()
    }
}

/// Lists asked at a fixed rate while the node did something long.
#[derive(Debug, Clone, Default)]
pub struct StallPhase {
    /// "snapshot" or "co_burst".
    pub name: &'static str,
    pub what: String,
    /// Events ingested by the work (the burst's size).
    pub events: u64,
    /// How long the work took, from the client's side.
    pub work_seconds: f64,
    /// The lists sent while it ran.
    pub lists: Summary,
}

/// Issue 12: no list may take longer than this, whatever else the node does.
pub const STALL_LIMIT: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub manifest: Manifest,
    pub data_reused: bool,
    pub data_seconds: f64,
    pub fold_seconds: f64,
    pub candidates: u64,
    pub active_candidates: u64,
    pub vacancies: u64,
    pub open_vacancies: u64,
    pub pg_version: String,
    pub pg_load: LoadStats,
    pub pg_bytes: u64,
    pub empty_memory: Memory,
    pub loaded_memory: Memory,
    pub restored_memory: Memory,
    pub ingest_events: u64,
    pub ingest_rejected: u64,
    pub ingest_seconds: f64,
    pub comparison: Comparison,
    /// Per RPC: open loop, closed loop.
    pub latency: Vec<(Rpc, Summary, Summary)>,
    pub stop_seconds: f64,
    pub journal_bytes: u64,
    pub snapshot_bytes: u64,
    pub index_bytes: u64,
    pub restore_seconds: f64,
    pub restore_recovery_seconds: Option<f64>,
    pub replay_seconds: f64,
    pub replay_recovery_seconds: Option<f64>,
    /// Lists during a snapshot, then during a CO burst.
    pub stall: Vec<StallPhase>,
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / 1048576.0)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "missed"
    }
}

impl Report {
    pub fn ingest_rate(&self) -> f64 {
        self.ingest_events as f64 / self.ingest_seconds.max(1e-9)
    }

    /// Resident bytes per candidate over the empty node, after a restart
    /// from the snapshot: (VmRSS, RssAnon).
    pub fn bytes_per_candidate(&self) -> (f64, f64) {
        let n = self.candidates.max(1) as f64;
        let m = &self.restored_memory;
        let e = &self.empty_memory;
        (
            m.rss.saturating_sub(e.rss) as f64 / n,
            m.anon.saturating_sub(e.anon) as f64 / n,
        )
    }

    /// Whether every list of the stall phases answered within
    /// [`STALL_LIMIT`], none failed or shed (at any scale: whether the
    /// scale is the is said beside it).
    pub fn no_stall(&self) -> bool {
        !self.stall.is_empty()
            && self
                .stall
                .iter()
                .all(|p| p.lists.errors == 0 && p.lists.max <= STALL_LIMIT)
    }

    fn stall_phase(&self, name: &str) -> Option<&StallPhase> {
        self.stall.iter().find(|p| p.name == name)
    }

    fn open(&self, rpc: Rpc) -> Option<&Summary> {
        self.latency
            .iter()
            .find(|(r, _, _)| *r == rpc)
            .map(|(_, o, _)| o)
    }

    /// The targets table and the detail tables, in markdown.
    pub fn markdown(&self, rate: f64, rate_vacancies: f64, callers: usize) -> String {
        let mut s = String::new();
        let m = &self.manifest;
        let _ = writeln!(
            s,
            "World: {} candidates ({} available), {} vacancies ({} open), {} events of which {} CO ({} on disk).\n",
            self.candidates,
            self.active_candidates,
            self.vacancies,
            self.open_vacancies,
            m.events(),
            m.co_events,
            mib(m.bytes)
        );
        let _ = writeln!(s, "| Target | Measured | |\n|---|---|---|");
        if let Some(o) = self.open(Rpc::MatchCandidates) {
            let _ = writeln!(
                s,
                "| `MatchCandidates` p99 ≤ 10 ms at 300 req/s for 60 s over 1 M candidates, nothing shed | p99 {} at {rate:.0} req/s over {} candidates ({} of {} calls failed or shed) | {} |",
                ms(o.p99),
                self.candidates,
                o.errors,
                o.requests + o.errors,
                verdict(o.errors == 0 && o.p99 <= Duration::from_millis(10) && rate >= 300.0 && self.candidates >= 1_000_000)
            );
        }
        if let Some(o) = self.open(Rpc::MatchVacancies) {
            let _ = writeln!(
                s,
                "| `MatchVacancies` p99 ≤ 5 ms at 500 req/s, nothing shed | p99 {} at {rate_vacancies:.0} req/s ({} of {} calls failed or shed) | {} |",
                ms(o.p99),
                o.errors,
                o.requests + o.errors,
                verdict(o.errors == 0 && o.p99 <= Duration::from_millis(5) && rate_vacancies >= 500.0)
            );
        }
        if let Some(c) = self
            .latency
            .iter()
            .find(|(r, _, _)| *r == Rpc::MatchCandidates)
            .map(|(_, _, c)| c)
        {
            let _ = writeln!(
                s,
                "| Closed loop (8 callers) ≥ 400 `MatchCandidates`/s | {:.1}/s with {callers} callers | {} |",
                c.throughput(),
                verdict(c.throughput() >= 400.0 && callers >= 8)
            );
        }
        let _ = writeln!(
            s,
            "| Embedded ingest ≥ 100 k events/s | {:.0} events/s ({} events over gRPC `Ingest`) | {} |",
            self.ingest_rate(),
            self.ingest_events,
            verdict(self.ingest_rate() >= 100_000.0)
        );
        let _ = writeln!(
            s,
            "| Replay of 10 M events ≤ 120 s | {:.1} s for {} events, from an empty state (journal only; index rebuilt) | {} |",
            self.replay_seconds,
            self.ingest_events,
            verdict(self.replay_seconds <= 120.0 && self.ingest_events >= 10_000_000)
        );
        let (rss, anon) = self.bytes_per_candidate();
        let _ = writeln!(
            s,
            "| ≤ 2 KiB resident per candidate | {:.0} B (RssAnon), {:.0} B (VmRSS) per candidate after restart | {} |",
            anon,
            rss,
            verdict(anon <= 2048.0)
        );
        if let (Some(snap), Some(burst)) =
            (self.stall_phase("snapshot"), self.stall_phase("co_burst"))
        {
            let _ = writeln!(
                s,
                "| No `MatchCandidates` slower than 100 ms over 1 M candidates, also while a 100 k CO burst is ingested or a snapshot is written | max {} (p99 {}) during a {:.1} s snapshot; max {} (p99 {}) during {} CO in {:.1} s; at {rate:.0} req/s over {} candidates ({} calls failed or shed) | {} |",
                ms(snap.lists.max),
                ms(snap.lists.p99),
                snap.work_seconds,
                ms(burst.lists.max),
                ms(burst.lists.p99),
                burst.events,
                burst.work_seconds,
                self.candidates,
                snap.lists.errors + burst.lists.errors,
                verdict(self.no_stall() && self.candidates >= 1_000_000 && burst.events >= 100_000)
            );
        }
        let c = &self.comparison;
        let _ = writeln!(
            s,
            "| ≥ 100× faster than PostgreSQL on the same query, at the median | {:.1}× at the median ({:.1}× in mean), {} vacancies | {} |",
            c.median_ratio(),
            c.mean_ratio(),
            c.queries,
            verdict(c.median_ratio() >= 100.0)
        );

        let _ = writeln!(
            s,
            "\n**Engine vs PostgreSQL** ({}), the same {} open vacancies, one at a time, after a warm-up, top 50:\n",
            self.pg_version, c.queries
        );
        let _ = writeln!(
            s,
            "| | p50 | p95 | p99 | mean |\n|---|---|---|---|---|\n| incontra `MatchCandidates` (gRPC) | {} | {} | {} | {} |\n| PostgreSQL SQL | {} | {} | {} | {} |",
            ms(c.engine.p50),
            ms(c.engine.p95),
            ms(c.engine.p99),
            ms(c.engine.mean),
            ms(c.sql.p50),
            ms(c.sql.p95),
            ms(c.sql.p99),
            ms(c.sql.mean)
        );
        let _ = writeln!(
            s,
            "\nTop-50 overlap: {:.1} % on average (lowest {:.1} %); empty lists: engine {}, SQL {}. On the {} pairs both list, scores without the text criterion differ by at most {:.2e}.",
            c.mean_overlap * 100.0,
            if c.min_overlap.is_nan() { 0.0 } else { c.min_overlap * 100.0 },
            c.engine_empty,
            c.sql_empty,
            c.shared_pairs,
            c.max_non_text_delta
        );

        let _ = writeln!(
            s,
            "\n**Lists under load** (4 HTTP/2 connections; open loop at {rate:.0} req/s, latency from the scheduled send; closed loop with {callers} callers):\n"
        );
        let _ = writeln!(
            s,
            "| RPC | mode | calls | errors/shed | p50 | p95 | p99 | max | throughput |\n|---|---|---|---|---|---|---|---|---|"
        );
        for (rpc, open, closed) in &self.latency {
            for (mode, x) in [("open", open), ("closed", closed)] {
                let _ = writeln!(
                    s,
                    "| {} | {mode} | {} | {} | {} | {} | {} | {} | {:.1}/s |",
                    rpc.name(),
                    x.requests,
                    x.errors,
                    ms(x.p50),
                    ms(x.p95),
                    ms(x.p99),
                    ms(x.max),
                    x.throughput()
                );
            }
        }

        if !self.stall.is_empty() {
            let _ = writeln!(
                s,
                "\n**Lists while the node works** (`MatchCandidates`, open loop at {rate:.0} req/s for as long as the work runs, latency from the scheduled send; the target: none over {}):\n",
                ms(STALL_LIMIT)
            );
            let _ = writeln!(
                s,
                "| While | work | calls | errors/shed | p50 | p99 | max | ≤ 100 ms |\n|---|---|---|---|---|---|---|---|"
            );
            for p in &self.stall {
                let x = &p.lists;
                let _ = writeln!(
                    s,
                    "| {} | {:.1} s | {} | {} | {} | {} | {} | {} |",
                    p.what,
                    p.work_seconds,
                    x.requests,
                    x.errors,
                    ms(x.p50),
                    ms(x.p99),
                    ms(x.max),
                    verdict(x.errors == 0 && x.max <= STALL_LIMIT)
                );
            }
        }

        let rec = |x: Option<f64>| x.map(|v| format!("{v:.1} s")).unwrap_or("?".into());
        let _ = writeln!(s, "\n**Load, recovery, memory, disk:**\n");
        let _ = writeln!(s, "| Phase | Figure |\n|---|---|");
        let _ = writeln!(
            s,
            "| Scale data written | {} |",
            if self.data_reused {
                "reused from an earlier run".to_string()
            } else {
                format!("{:.1} s", self.data_seconds)
            }
        );
        let _ = writeln!(
            s,
            "| In-process fold of every event (no journal, no index) | {:.1} s ({:.0} events/s) |",
            self.fold_seconds,
            m.events() as f64 / self.fold_seconds.max(1e-9)
        );
        let _ = writeln!(
            s,
            "| Ingest over gRPC (journal + fsync + fold + index) | {:.1} s, {:.0} events/s, {} rejected |",
            self.ingest_seconds,
            self.ingest_rate(),
            self.ingest_rejected
        );
        let _ = writeln!(
            s,
            "| Clean stop (final snapshot) | {:.1} s |",
            self.stop_seconds
        );
        let _ = writeln!(
            s,
            "| Restart from snapshot, to answering | {:.1} s (node's own recovery: {}) |",
            self.restore_seconds,
            rec(self.restore_recovery_seconds)
        );
        let _ = writeln!(
            s,
            "| Replay from empty state (journal only), to answering | {:.1} s (node's own recovery: {}) |",
            self.replay_seconds,
            rec(self.replay_recovery_seconds)
        );
        let _ = writeln!(
            s,
            "| Resident memory: empty node / after ingest / after restart | {} / {} / {} (RssAnon {} / {} / {}) |",
            mib(self.empty_memory.rss),
            mib(self.loaded_memory.rss),
            mib(self.restored_memory.rss),
            mib(self.empty_memory.anon),
            mib(self.loaded_memory.anon),
            mib(self.restored_memory.anon)
        );
        let _ = writeln!(
            s,
            "| On disk: journal / snapshots / text index | {} / {} / {} |",
            mib(self.journal_bytes),
            mib(self.snapshot_bytes),
            mib(self.index_bytes)
        );
        let p = &self.pg_load;
        let _ = writeln!(
            s,
            "| PostgreSQL load: COPY ({} candidates, {} contracts, {} vacancies) / indexes / on disk | {:.1} s / {:.1} s / {} |",
            p.candidates,
            p.contracts,
            p.vacancies,
            p.copy_seconds,
            p.index_seconds,
            mib(self.pg_bytes)
        );
        s
    }
}
