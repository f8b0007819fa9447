//! `incontra-scale-data`: writes a benchmark-scale world (by default the
//! issue's 1 M candidates, 200 k vacancies and 10 M CO) to a directory as
//! length-delimited envelopes, streamed, with a manifest.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use incontra_datagen::scale::{self, ScaleConfig};
use incontra_engine::reference::ReferenceData;

#[derive(Parser)]
#[command(name = "incontra-scale-data")]
struct Cli {
    /// Directory to write `events.bin` and `manifest.txt` into.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = ScaleConfig::full().candidates)]
    candidates: u64,
    /// Default: 35 % of the candidates (about 57 % of vacancies are open on
    /// the world's today, so 350 k gives the 200 k open).
    #[arg(long)]
    vacancies: Option<u64>,
    /// CO notices wanted (default: ten per candidate).
    #[arg(long)]
    co: Option<u64>,
    #[arg(long, default_value_t = ScaleConfig::full().seed)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = ScaleConfig::scaled(cli.candidates);
    config.seed = cli.seed;
    if let Some(v) = cli.vacancies {
        config.vacancies = v;
    }
    if let Some(co) = cli.co {
        config.co_events = co;
    }
    let reference = ReferenceData::embedded()?;
    let started = Instant::now();
    let m = scale::write(&reference, &config, &cli.out)?;
    println!(
        "{} events ({} vacancy, {} candidacy, {} CO), {:.1} MiB, in {:.1?}: {}",
        m.events(),
        m.vacancy_events,
        m.candidacy_events,
        m.co_events,
        m.bytes as f64 / (1 << 20) as f64,
        started.elapsed(),
        cli.out.display()
    );
    Ok(())
}
