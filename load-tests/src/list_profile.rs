//! `incontra-list-profile`: the read path alone, in this process, at scale:
//! a world of the bench's proportions folded once into a data directory
//! (journal, snapshot, text index), then lists asked through the query
//! API one after another, with the time and the work of each, text
//! relevance included. No gRPC, no recording: what is left is what a list
//! costs the engine, for `perf`.
//!
//! ```sh
//! cargo run --release -p incontra-load-tests --bin incontra-list-profile -- \
//!     --dir prof-work --candidates 1000000 --lists 500
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use incontra_datagen::scale::{self, EventReader, ScaleConfig};
use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::config::ScoringConfig;
use incontra_engine::matching::{ListRequest, RankedList};
use incontra_engine::reference::ReferenceData;
use incontra_indexer::projection::{Projection, ProjectionOptions};
use incontra_indexer::query::QueryError;

#[derive(Parser)]
#[command(name = "incontra-list-profile")]
struct Cli {
    /// Holds `data/` (the world) and `node/` (the folded data directory);
    /// both are reused when present.
    #[arg(long, default_value = "./prof-work")]
    dir: PathBuf,
    #[arg(long, default_value_t = 200_000)]
    candidates: u64,
    /// Lists of each direction.
    #[arg(long, default_value_t = 300)]
    lists: usize,
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Only `candidates` or `vacancies`; both by default.
    #[arg(long)]
    only: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let reference = Arc::new(ReferenceData::embedded()?);
    let scale_config = ScaleConfig::scaled(cli.candidates);
    let data = cli.dir.join("data");
    let manifest = match scale::read_manifest(&data)? {
        Some(m) if m.matches(&scale_config) => m,
        _ => {
            let t = Instant::now();
            let m = scale::write(&reference, &scale_config, &data)?;
            eprintln!("world written in {:.1?}", t.elapsed());
            m
        }
    };
    let today = manifest.today;
    let node = cli.dir.join("node");
    let fresh = !node.join("snapshots").exists();
    let options = ProjectionOptions {
        // One snapshot at the end, not dozens on the way.
        snapshot_every: u64::MAX,
        ..ProjectionOptions::default()
    };
    let t = Instant::now();
    let (mut projection, _) = Projection::open(
        &node,
        reference.clone(),
        ScoringConfig::embedded_default()?,
        Pseudonymiser::new(b"incontra-list-profile: not a secret key"),
        options,
    )
    .context("opening the data directory")?;
    eprintln!("opened in {:.1?}", t.elapsed());
    if fresh {
        let t = Instant::now();
        let mut reader = EventReader::open(&data)?;
        let mut batch = Vec::with_capacity(4_096);
        let mut n = 0u64;
        loop {
            let next = reader.next_bytes()?.map(<[u8]>::to_vec);
            let done = next.is_none();
            batch.extend(next);
            if batch.len() == 4_096 || (done && !batch.is_empty()) {
                n += batch.len() as u64;
                projection.ingest(&std::mem::take(&mut batch))?;
            }
            if done {
                break;
            }
        }
        projection.snapshot()?;
        eprintln!("{n} events folded in {:.1?}", t.elapsed());
    }
    let read = projection.read_side();
    let view = read.view(today)?;
    let request = ListRequest {
        limit: cli.limit,
        ..ListRequest::default()
    };
    let state = view.state();
    let vacancies: Vec<String> = state
        .vacancies()
        .filter(|v| v.is_open_on(today))
        .map(|v| v.id.clone())
        .collect();
    let candidates: Vec<String> = state.candidates().map(|c| c.id.clone()).collect();
    let spread = |ids: &[String]| -> Vec<String> {
        let n = cli.lists.min(ids.len());
        (0..n).map(|i| ids[i * ids.len() / n].clone()).collect()
    };
    // A searcher computes a query term's statistics (its weight, its best
    // score) the first time a list asks for it and keeps them until the
    // next commit: the first pass pays them, the second shows a list alone.
    if cli.only.as_deref() != Some("vacancies") {
        let ids = spread(&vacancies);
        for pass in ["first ask", "again"] {
            time_lists(&format!("candidates_for, {pass}"), &ids, |id| {
                view.candidates_for(id, &request)
            })?;
        }
    }
    if cli.only.as_deref() != Some("candidates") {
        let ids = spread(&candidates);
        for pass in ["first ask", "again"] {
            time_lists(&format!("vacancies_for, {pass}"), &ids, |id| {
                view.vacancies_for(id, &request)
            })?;
        }
    }
    // Freeing a million candidates' state takes seconds and would sit in
    // every profile of the lists: leave it to the operating system.
    drop(view);
    std::mem::forget(read);
    std::mem::forget(projection);
    Ok(())
}

/// Asks the list of each id in turn and reports the time and work of each.
fn time_lists(
    name: &str,
    ids: &[String],
    ask: impl Fn(&str) -> Result<RankedList, QueryError>,
) -> anyhow::Result<()> {
    let mut times = Vec::with_capacity(ids.len());
    let (mut visited, mut bounded, mut scored) = (0u64, 0u64, 0u64);
    for id in ids {
        let t = Instant::now();
        let list = ask(id)?;
        times.push(t.elapsed());
        visited += list.visited;
        bounded += list.bounded;
        scored += list.scored;
    }
    let n = times.len().max(1) as u64;
    let work = format!(
        "visited {}, bounded {} and scored {} pairs per list",
        visited / n,
        bounded / n,
        scored / n
    );
    report(name, &mut times, &work);
    Ok(())
}

fn report(name: &str, times: &mut [Duration], work: &str) {
    times.sort();
    let n = times.len().max(1);
    let at = |p: f64| times[((n - 1) as f64 * p).round() as usize];
    let total: Duration = times.iter().sum();
    println!(
        "{name}: {} lists, mean {:.2?}, p50 {:.2?}, p99 {:.2?}, max {:.2?}; {work}",
        times.len(),
        total / n as u32,
        at(0.5),
        at(0.99),
        at(1.0),
    );
}
