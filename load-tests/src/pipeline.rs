//! The whole benchmark, phase by phase, in one run on one machine: scale
//! data on disk, the PostgreSQL peer loaded with the same world, an
//! `incontra` node fed through `Ingest`, list latency open and closed loop,
//! the engine and SQL lists side by side, restart from a snapshot, replay
//! from an empty state, lists while a snapshot is written and while a CO
//! burst is ingested ([`stall`]), memory and disk. Returns a [`Report`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use incontra_datagen::scale::{self, EventReader, Manifest, ScaleConfig};
use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::config::ScoringConfig;
use incontra_engine::model::{format_day, Day};
use incontra_engine::reference::ReferenceData;
use incontra_engine::state::State;
use incontra_indexer::decode::Decoder;
use incontra_proto::events::v1::Envelope;
use tokio_stream::wrappers::ReceiverStream;

use crate::baseline;
use crate::measure::{self, Rpc, Summary};
use crate::node::{dir_bytes, Client, Node};
use crate::pg::Postgres;
use crate::report::{Comparison, Report, StallPhase};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Holds `data/` (the scale world, reused when it matches), `node/`
    /// (the node's data directory, recreated) and the logs.
    pub work_dir: PathBuf,
    pub scale: ScaleConfig,
    pub incontra: PathBuf,
    /// Open-loop request rate of `MatchCandidates`.
    pub open_loop_rate: f64,
    /// Open-loop request rate of `MatchVacancies` (a portal page each).
    pub open_loop_rate_vacancies: f64,
    pub open_loop: Duration,
    /// Calls beyond this many unanswered are shed (counted as errors), so an
    /// overloaded node is measured, not buried under a queue it would work
    /// through for an hour after the run.
    pub max_in_flight: usize,
    pub closed_loop_callers: usize,
    pub closed_loop: Duration,
    /// Vacancies whose lists are compared with the SQL baseline.
    pub compare_queries: usize,
    /// Distinct ids the load phases cycle through.
    pub sample_ids: usize,
    pub request_timeout: Duration,
    /// Longest wait for a node to come up (replay of 10 M events included).
    pub start_timeout: Duration,
    pub pg_settings: Vec<(&'static str, String)>,
    /// Hire notices of the burst ingested while lists are asked (issue
    /// 12: 100 k).
    pub stall_co_burst: usize,
}

impl BenchConfig {
    /// Seconds, for CI: a few thousand candidates, every phase.
    pub fn quick(work_dir: PathBuf, incontra: PathBuf) -> Self {
        BenchConfig {
            work_dir,
            scale: ScaleConfig {
                co_events: 6_000,
                ..ScaleConfig::scaled(2_000)
            },
            incontra,
            open_loop_rate: 50.0,
            open_loop_rate_vacancies: 50.0,
            open_loop: Duration::from_secs(1),
            max_in_flight: 64,
            closed_loop_callers: 2,
            closed_loop: Duration::from_secs(1),
            compare_queries: 10,
            sample_ids: 200,
            request_timeout: Duration::from_secs(30),
            start_timeout: Duration::from_secs(120),
            pg_settings: vec![("fsync", "off".into()), ("full_page_writes", "off".into())],
            stall_co_burst: 2_000,
        }
    }

    /// The measurements at `scale`.
    pub fn full(work_dir: PathBuf, incontra: PathBuf, scale: ScaleConfig) -> Self {
        BenchConfig {
            scale,
            open_loop_rate: 300.0,
            open_loop_rate_vacancies: 500.0,
            open_loop: Duration::from_secs(60),
            max_in_flight: 256,
            closed_loop_callers: 8,
            closed_loop: Duration::from_secs(30),
            compare_queries: 50,
            sample_ids: 2_000,
            request_timeout: Duration::from_secs(60),
            start_timeout: Duration::from_secs(3_600),
            pg_settings: vec![
                // A load of derived data, rebuilt from the events at will:
                // durability buys nothing and costs the COPY.
                ("fsync", "off".into()),
                ("full_page_writes", "off".into()),
                ("synchronous_commit", "off".into()),
                ("shared_buffers", "2GB".into()),
                ("work_mem", "64MB".into()),
                ("maintenance_work_mem", "1GB".into()),
                ("max_wal_size", "2GB".into()),
            ],
            stall_co_burst: 100_000,
            ..Self::quick(work_dir, incontra)
        }
    }
}

fn iso_day(day: Day) -> String {
    let d = format_day(day);
    let parts: Vec<&str> = d.split('/').collect();
    match parts.as_slice() {
        [dd, mm, yyyy] => format!("{yyyy}-{mm}-{dd}"),
        _ => d,
    }
}

/// Picks `n` items spread evenly over `items` (deterministic).
fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

/// Folds the written world into a state in this process, as the node does
/// without journal or index: the facts the SQL tables are filled from.
fn fold(data: &Path, reference: &ReferenceData) -> anyhow::Result<(State, u64)> {
    // The key only names workers consistently within this fold.
    let pseudonymiser = Pseudonymiser::new(b"incontra-bench: fold of the scale world");
    let keys = incontra_indexer::keys::PersonKeys::in_memory();
    let decoder = Decoder::new(reference, &pseudonymiser, &keys);
    let mut state = State::new();
    let mut reader = EventReader::open(data)?;
    let mut rejected = 0;
    while let Some(bytes) = reader.next_bytes()? {
        match decoder.decode_bytes(bytes) {
            Ok(event) => {
                state.apply(&event);
            }
            Err(_) => rejected += 1,
        }
    }
    Ok((state, rejected))
}

/// Streams the written world into the node through one `Ingest` call.
async fn ingest(client: &mut Client, data: &Path) -> anyhow::Result<(u64, u64, Duration)> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Envelope>(8_192);
    let data = data.to_owned();
    let reader = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let mut sent = 0;
        for envelope in EventReader::open(&data)? {
            if tx.blocking_send(envelope?).is_err() {
                anyhow::bail!("the Ingest call ended after {sent} events");
            }
            sent += 1;
        }
        Ok(sent)
    });
    let started = Instant::now();
    let response = client
        .ingest(ReceiverStream::new(rx))
        .await
        .context("Ingest")?
        .into_inner();
    let elapsed = started.elapsed();
    let sent = reader.await??;
    anyhow::ensure!(
        response.accepted + response.rejected.len() as u64 == sent,
        "sent {sent} events, {} accepted and {} rejected",
        response.accepted,
        response.rejected.len()
    );
    Ok((response.accepted, response.rejected.len() as u64, elapsed))
}

async fn connections(node: &Node, n: usize) -> anyhow::Result<Vec<Client>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            Client::connect(format!("http://{}", node.addr))
                .await?
                .max_decoding_message_size(64 << 20),
        );
    }
    Ok(out)
}

/// Parses the node's "recovered DIR in 1.23s" line (the last one).
fn recovery_seconds(log: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.starts_with("recovered "))?;
    let after = line.split(" in ").nth(1)?;
    let value = after.split(':').next()?.trim();
    let (number, unit) = value
        .find(|c: char| c.is_ascii_alphabetic() || c == 'µ')
        .map(|i| value.split_at(i))?;
    let n: f64 = number.parse().ok()?;
    Some(match unit {
        "s" => n,
        "ms" => n / 1e3,
        "µs" | "us" => n / 1e6,
        "ns" => n / 1e9,
        _ => return None,
    })
}

/// Hands the freed in-process state back to the system. glibc keeps freed
/// small allocations in its arenas, so without this the bench process still
/// held the 1 M world's 12 GB while the node loaded its own copy, and the
/// kernel killed the bench.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's arenas to the
    // kernel; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs every phase; `progress` hears what is happening.
pub async fn run(config: &BenchConfig, progress: &dyn Fn(&str)) -> anyhow::Result<Report> {
    let reference = ReferenceData::embedded()?;
    let scoring = ScoringConfig::embedded_default()?;
    std::fs::create_dir_all(&config.work_dir)?;
    let data_dir = config.work_dir.join("data");
    let mut report = Report::default();

    // Scale data.
    let started = Instant::now();
    let manifest: Manifest = match scale::read_manifest(&data_dir)? {
        Some(m) if m.matches(&config.scale) => {
            progress("scale data: reusing the written world");
            report.data_reused = true;
            m
        }
        _ => {
            progress("scale data: generating");
            let reference = reference.clone();
            let (scale, dir) = (config.scale, data_dir.clone());
            tokio::task::spawn_blocking(move || scale::write(&reference, &scale, &dir)).await??
        }
    };
    report.data_seconds = started.elapsed().as_secs_f64();
    report.manifest = manifest.clone();
    let today = manifest.today;
    progress(&format!(
        "scale data: {} events ({} CO), {:.0} MiB",
        manifest.events(),
        manifest.co_events,
        manifest.bytes as f64 / 1048576.0
    ));

    // The same world in PostgreSQL, from an in-process fold.
    progress("fold: applying the world in-process for the SQL tables");
    let started = Instant::now();
    let (state, _) = {
        let (dir, reference) = (data_dir.clone(), reference.clone());
        tokio::task::spawn_blocking(move || fold(&dir, &reference)).await??
    };
    report.fold_seconds = started.elapsed().as_secs_f64();
    let mut open_vacancies: Vec<String> = state
        .vacancies()
        .filter(|v| v.is_open_on(today))
        .map(|v| v.id.clone())
        .collect();
    open_vacancies.sort();
    let mut active: Vec<String> = state
        .candidates()
        .filter(|c| !c.withdrawn && c.available)
        .map(|c| c.id.clone())
        .collect();
    active.sort();
    report.candidates = state.candidate_count() as u64;
    report.active_candidates = active.len() as u64;
    report.vacancies = state.vacancy_count() as u64;
    report.open_vacancies = open_vacancies.len() as u64;
    anyhow::ensure!(
        !open_vacancies.is_empty() && !active.is_empty(),
        "the world has no open vacancy or no active candidate"
    );
    let vacancy_sample = spread(&open_vacancies, config.sample_ids);
    let candidate_sample = spread(&active, config.sample_ids);
    let compare_ids = spread(&open_vacancies, config.compare_queries);

    progress("postgres: starting and loading");
    let pg = {
        let settings = config.pg_settings.clone();
        tokio::task::spawn_blocking(move || Postgres::start(&settings)).await??
    };
    report.pg_version = pg.version();
    let url = pg.url();
    let (load, state) = {
        let (reference, scoring) = (reference.clone(), scoring.clone());
        let url = url.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
            let load = baseline::load(&mut client, &state, &reference, &scoring)?;
            Ok((load, state))
        })
        .await??
    };
    // The node holds its own copy; two would only crowd its memory.
    drop(state);
    release_freed_memory();
    report.pg_load = load;
    report.pg_bytes = pg.data_bytes();

    // An empty node, then the world through Ingest.
    let node_dir = config.work_dir.join("node");
    let _ = std::fs::remove_dir_all(&node_dir);
    std::fs::create_dir_all(&node_dir)?;
    let log = config.work_dir.join("incontra.log");
    let _ = std::fs::remove_file(&log);
    let as_of = iso_day(today);
    progress("node: starting empty");
    let (node, mut client) = Node::start(
        &config.incontra,
        &node_dir,
        &as_of,
        &log,
        config.start_timeout,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.empty_memory = node.memory()?;
    progress("node: ingesting");
    let (accepted, rejected, elapsed) = ingest(&mut client, &data_dir).await?;
    report.ingest_events = accepted;
    report.ingest_rejected = rejected;
    report.ingest_seconds = elapsed.as_secs_f64();
    // The index commits within a second; lists before that miss text.
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.loaded_memory = node.memory()?;

    // Engine and SQL, the same vacancies, one at a time, after a warm-up.
    progress("compare: engine and SQL on the same vacancies");
    report.comparison = compare(&mut client, &url, &scoring, &compare_ids, today).await?;

    // Latency and throughput.
    let clients = connections(&node, 4).await?;
    let probe = candidate_sample[0].clone();
    let idle = probe_latency(&mut client, &probe).await;
    for rpc in [Rpc::MatchCandidates, Rpc::MatchVacancies] {
        let ids = match rpc {
            Rpc::MatchCandidates => &vacancy_sample,
            Rpc::MatchVacancies => &candidate_sample,
        };
        progress(&format!("{}: open loop", rpc.name()));
        let rate = match rpc {
            Rpc::MatchCandidates => config.open_loop_rate,
            Rpc::MatchVacancies => config.open_loop_rate_vacancies,
        };
        let open = measure::open_loop(
            &clients,
            rpc,
            ids,
            rate,
            config.open_loop,
            config.request_timeout,
            config.max_in_flight,
        )
        .await;
        wait_idle(&mut client, &probe, idle).await;
        progress(&format!("{}: closed loop", rpc.name()));
        let closed = measure::closed_loop(
            &clients,
            rpc,
            ids,
            config.closed_loop_callers,
            config.closed_loop,
        )
        .await;
        wait_idle(&mut client, &probe, idle).await;
        report.latency.push((rpc, open, closed));
    }
    drop(clients);
    drop(client);

    // Restart from the snapshot the clean stop writes.
    progress("node: stopping (final snapshot) and restarting");
    report.stop_seconds = node.stop(Duration::from_secs(1_800)).await?.as_secs_f64();
    report.journal_bytes = dir_bytes(&node_dir.join("journal"));
    report.snapshot_bytes = dir_bytes(&node_dir.join("snapshots"));
    report.index_bytes = dir_bytes(&node_dir.join("index"));
    let started = Instant::now();
    let (node, client) = Node::start(
        &config.incontra,
        &node_dir,
        &as_of,
        &log,
        config.start_timeout,
    )
    .await?;
    report.restore_seconds = started.elapsed().as_secs_f64();
    report.restore_recovery_seconds = recovery_seconds(&log);
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.restored_memory = node.memory()?;
    drop(client);
    node.stop(Duration::from_secs(1_800)).await?;

    // Replay from an empty state: the journal alone. The node then has no
    // snapshot, so its first append writes one (any append of at least
    // `--snapshot-every` events past position 0 does): the stall phase's
    // snapshot.
    progress("node: replaying the journal from an empty state");
    std::fs::remove_dir_all(node_dir.join("snapshots"))?;
    std::fs::remove_dir_all(node_dir.join("index"))?;
    let started = Instant::now();
    let (node, client) = Node::start_with(
        &config.incontra,
        &node_dir,
        &as_of,
        &log,
        config.start_timeout,
        &["--snapshot-every".to_owned(), "1000".to_owned()],
    )
    .await?;
    report.replay_seconds = started.elapsed().as_secs_f64();
    report.replay_recovery_seconds = recovery_seconds(&log);
    report.stall = stall(config, &node, &client, &data_dir, &vacancy_sample, progress).await?;
    drop(client);
    // Killed rather than stopped: a clean stop would write a snapshot we
    // do not need.
    drop(node);
    drop(pg);
    Ok(report)
}

/// Lists asked at the open-loop rate of `MatchCandidates` while the node
/// (i) writes a snapshot, triggered by the first event appended after a
/// replay from an empty state, and (ii) ingests a burst of
/// `stall_co_burst` hire notices through one `Ingest` call. The burst is
/// Commax-style (`incontra_datagen::hire_burst`: one employer, the world's
/// first hire notice as template, distinct workers with no candidacy), so
/// it leaves every list the same and takes nothing from the world the
/// other phases measured. Issue 12: no list slower than 100 ms, throughout.
async fn stall(
    config: &BenchConfig,
    node: &Node,
    client: &Client,
    data_dir: &Path,
    vacancies: &[String],
    progress: &dyn Fn(&str),
) -> anyhow::Result<Vec<StallPhase>> {
    let burst = {
        let data = data_dir.to_owned();
        let count = config.stall_co_burst.max(2);
        tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Envelope>> {
            let template =
                incontra_datagen::first_hire(EventReader::open(&data)?.filter_map(Result::ok))
                    .context("the world has no hire notice to copy")?;
            incontra_datagen::hire_burst(&template, "stall", count).context("not a hire notice")
        })
        .await??
    };
    let clients = connections(node, 4).await?;
    let status = || {
        let mut client = client.clone();
        async move {
            anyhow::Ok(
                client
                    .get_status(incontra_proto::matching::v1::GetStatusRequest {
                        include_digest: false,
                    })
                    .await?
                    .into_inner(),
            )
        }
    };
    let ingest = |events: Vec<Envelope>| {
        let mut client = client.clone();
        async move {
            let started = Instant::now();
            let n = events.len();
            let response = client
                .ingest(tokio_stream::iter(events))
                .await
                .context("Ingest")?
                .into_inner();
            anyhow::ensure!(
                response.accepted == n as u64,
                "{} of {n} burst events accepted: {:?}",
                response.accepted,
                response.rejected.first()
            );
            anyhow::Ok(started.elapsed())
        }
    };
    let mut phases = Vec::new();

    progress("stall: lists while a snapshot is written");
    let before = status().await?.snapshot_position;
    let (first, rest) = burst.split_at(1);
    let (lists, work) = measure::open_loop_during(
        &clients,
        Rpc::MatchCandidates,
        vacancies,
        config.open_loop_rate,
        config.request_timeout,
        config.max_in_flight,
        ingest(first.to_vec()),
    )
    .await;
    let work = work?;
    let after = status().await?.snapshot_position;
    anyhow::ensure!(
        after > before,
        "no snapshot was written (snapshot position {before}, then {after})"
    );
    phases.push(StallPhase {
        name: "snapshot",
        what: format!("snapshot at position {after}, written by the first append"),
        events: 1,
        work_seconds: work.as_secs_f64(),
        lists,
    });

    progress(&format!(
        "stall: lists while {} hire notices are ingested",
        rest.len() + 1
    ));
    let (lists, work) = measure::open_loop_during(
        &clients,
        Rpc::MatchCandidates,
        vacancies,
        config.open_loop_rate,
        config.request_timeout,
        config.max_in_flight,
        ingest(rest.to_vec()),
    )
    .await;
    let work = work?;
    phases.push(StallPhase {
        name: "co_burst",
        what: format!("{} hire notices in one `Ingest` call", rest.len()),
        events: rest.len() as u64,
        work_seconds: work.as_secs_f64(),
        lists,
    });
    Ok(phases)
}

/// Waits until the node is idle again: calls the client gave up on keep
/// running in the node's blocking pool, and the next phase must not share
/// the cores with them. Idle = a real list answers within twice its idle
/// latency (plus 20 ms of slack) twice in a row.
async fn wait_idle(client: &mut Client, probe: &str, idle: Duration) {
    let limit = idle * 2 + Duration::from_millis(20);
    let deadline = Instant::now() + Duration::from_secs(1_800);
    let mut quick = 0;
    while Instant::now() < deadline && quick < 2 {
        let t = Instant::now();
        let answered = measure::call(client, Rpc::MatchVacancies, probe, 50)
            .await
            .is_ok();
        if answered && t.elapsed() <= limit {
            quick += 1;
        } else {
            quick = 0;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The idle latency of the probe `wait_idle` uses: the median of five.
async fn probe_latency(client: &mut Client, probe: &str) -> Duration {
    let mut latencies = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let _ = measure::call(client, Rpc::MatchVacancies, probe, 50).await;
        latencies.push(t.elapsed());
    }
    latencies.sort();
    latencies[2]
}

async fn compare(
    client: &mut Client,
    url: &str,
    scoring: &ScoringConfig,
    ids: &[String],
    today: Day,
) -> anyhow::Result<Comparison> {
    use incontra_proto::matching::v1::MatchCandidatesRequest;
    let sql = baseline::match_candidates_sql(scoring);
    let url = url.to_owned();
    let ids_for_sql = ids.to_vec();
    // The SQL side on a thread of its own: the postgres client is
    // synchronous.
    let sql_side = tokio::task::spawn_blocking(
        move || -> anyhow::Result<(Vec<Duration>, Vec<Vec<baseline::SqlRow>>)> {
            let mut pg = postgres::Client::connect(&url, postgres::NoTls)?;
            let statement = pg.prepare(&sql)?;
            for id in ids_for_sql.iter().take(5) {
                baseline::match_candidates(&mut pg, &statement, id, today, 50)?;
            }
            let mut latencies = Vec::new();
            let mut lists = Vec::new();
            for id in &ids_for_sql {
                let t = Instant::now();
                lists.push(baseline::match_candidates(
                    &mut pg, &statement, id, today, 50,
                )?);
                latencies.push(t.elapsed());
            }
            Ok((latencies, lists))
        },
    );
    // Run one side at a time so neither steals the other's cores.
    let (sql_latencies, sql_lists) = sql_side.await??;

    let request = |id: &str| MatchCandidatesRequest {
        vacancy_id: id.to_owned(),
        limit: 50,
        ..Default::default()
    };
    for id in ids.iter().take(5) {
        client.match_candidates(request(id)).await?;
    }
    let mut engine_latencies = Vec::new();
    let mut engine_lists = Vec::new();
    for id in ids {
        let t = Instant::now();
        let response = client.match_candidates(request(id)).await?.into_inner();
        engine_latencies.push(t.elapsed());
        engine_lists.push(response.matches);
    }

    let total_weight = {
        let w = &scoring.weights;
        w.profession
            + w.skills
            + w.text
            + w.distance
            + w.experience
            + w.education
            + w.languages
            + w.licences
    };
    let mut c = Comparison {
        queries: ids.len(),
        ..Comparison::default()
    };
    let mut overlaps = Vec::new();
    for (engine, sql) in engine_lists.iter().zip(&sql_lists) {
        c.engine_empty += usize::from(engine.is_empty());
        c.sql_empty += usize::from(sql.is_empty());
        let e: HashSet<&str> = engine.iter().map(|m| m.candidate_id.as_str()).collect();
        let s: HashSet<&str> = sql.iter().map(|r| r.id.as_str()).collect();
        let denominator = e.len().max(s.len());
        if denominator > 0 {
            overlaps.push(e.intersection(&s).count() as f64 / denominator as f64);
        }
        // The two sides differ only in text relevance (BM25 against
        // ts_rank): without it, a pair both list must score the same.
        for m in engine {
            let Some(row) = sql.iter().find(|r| r.id == m.candidate_id) else {
                continue;
            };
            let engine_text: f64 = m
                .contributions
                .iter()
                .filter(|x| x.criterion == "text")
                .map(|x| x.contribution)
                .sum();
            let sql_text = scoring.weights.text * row.text / total_weight;
            let delta = ((m.score - engine_text) - (row.score - sql_text)).abs();
            c.max_non_text_delta = c.max_non_text_delta.max(delta);
            c.shared_pairs += 1;
        }
    }
    c.mean_overlap = if overlaps.is_empty() {
        0.0
    } else {
        overlaps.iter().sum::<f64>() / overlaps.len() as f64
    };
    c.min_overlap = overlaps.iter().copied().fold(f64::NAN, f64::min);
    c.engine = Summary::from_latencies(engine_latencies.clone(), 0, engine_latencies.iter().sum());
    c.sql = Summary::from_latencies(sql_latencies.clone(), 0, sql_latencies.iter().sum());
    Ok(c)
}
