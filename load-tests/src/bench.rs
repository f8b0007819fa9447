//! `incontra-bench`: the benchmark of issue 6 in one run. Writes (or
//! reuses) a scale world, loads it into PostgreSQL and into an `incontra`
//! node over gRPC, measures lists, ingest, restart, replay, memory and disk,
//! and prints the markdown tables of docs/BENCHMARKS.md.
//!
//! `--quick` runs every phase on a few thousand candidates in seconds.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use incontra_datagen::scale::ScaleConfig;
use incontra_load_tests::node::incontra_binary;
use incontra_load_tests::pipeline::{self, BenchConfig};

#[derive(Parser)]
#[command(name = "incontra-bench")]
struct Cli {
    /// Working directory: scale data (kept and reused), the node's data
    /// directory and logs.
    #[arg(long, default_value = "./bench-work")]
    work_dir: PathBuf,
    /// Seconds-long smoke run on 2,000 candidates.
    #[arg(long)]
    quick: bool,
    #[arg(long, default_value_t = ScaleConfig::full().candidates)]
    candidates: u64,
    /// Default: 35 % of the candidates (about 200 k open at 1 M).
    #[arg(long)]
    vacancies: Option<u64>,
    /// CO notices (default: ten per candidate).
    #[arg(long)]
    co: Option<u64>,
    /// Open-loop request rate of `MatchCandidates`.
    #[arg(long)]
    rate: Option<f64>,
    /// Open-loop request rate of `MatchVacancies`.
    #[arg(long)]
    rate_vacancies: Option<f64>,
    /// Seconds of each open- and closed-loop phase.
    #[arg(long)]
    seconds: Option<u64>,
    /// Callers of the closed loop.
    #[arg(long)]
    callers: Option<usize>,
    /// Vacancies compared with the SQL baseline.
    #[arg(long)]
    compare: Option<usize>,
    /// Hire notices of the burst ingested while lists are asked (default:
    /// 100 k, 2 k with --quick).
    #[arg(long)]
    co_burst: Option<usize>,
    /// The `incontra` binary (default: beside this one).
    #[arg(long)]
    incontra: Option<PathBuf>,
    /// Also write the tables to this file.
    #[arg(long)]
    report: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let incontra = match cli.incontra {
        Some(path) => path,
        None => incontra_binary()?,
    };
    let mut config = if cli.quick {
        BenchConfig::quick(cli.work_dir.clone(), incontra)
    } else {
        let mut scale = ScaleConfig::scaled(cli.candidates);
        if let Some(v) = cli.vacancies {
            scale.vacancies = v;
        }
        if let Some(co) = cli.co {
            scale.co_events = co;
        }
        BenchConfig::full(cli.work_dir.clone(), incontra, scale)
    };
    if let Some(rate) = cli.rate {
        config.open_loop_rate = rate;
    }
    if let Some(rate) = cli.rate_vacancies {
        config.open_loop_rate_vacancies = rate;
    }
    if let Some(seconds) = cli.seconds {
        config.open_loop = Duration::from_secs(seconds);
        config.closed_loop = Duration::from_secs(seconds);
    }
    if let Some(callers) = cli.callers {
        config.closed_loop_callers = callers;
    }
    if let Some(n) = cli.compare {
        config.compare_queries = n;
    }
    if let Some(n) = cli.co_burst {
        config.stall_co_burst = n;
    }
    let started = std::time::Instant::now();
    let progress = |what: &str| eprintln!("[{:>7.1?}] {what}", started.elapsed());
    let report = pipeline::run(&config, &progress).await?;
    let command: Vec<String> = std::env::args().collect();
    let text = format!(
        "{}\nCommand: `{}` ({:.0} s in all).\n",
        report.markdown(
            config.open_loop_rate,
            config.open_loop_rate_vacancies,
            config.closed_loop_callers
        ),
        command.join(" "),
        started.elapsed().as_secs_f64()
    );
    println!("{text}");
    if let Some(path) = cli.report {
        std::fs::write(&path, &text)?;
    }
    Ok(())
}
