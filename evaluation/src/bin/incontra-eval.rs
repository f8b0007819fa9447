//! `incontra-eval`: measures the engine's preselection lists against the
//! hires of a simulated Piemonte labour market and prints the table (see
//! `docs/EVALUATION.md`).

use anyhow::{bail, Context as _};
use clap::Parser;
use incontra_datagen::GeneratorConfig;
use incontra_evaluation::market::{Biases, MarketConfig};
use incontra_evaluation::{evaluate, EvalConfig};

#[derive(Debug, Parser)]
#[command(
    name = "incontra-eval",
    about = "Match quality of incontra's preselection lists on a simulated labour market"
)]
struct Args {
    /// Candidates in the world (default: the demo's 20,000).
    #[arg(long)]
    candidates: Option<u64>,
    /// Vacancies in the world (default: the demo's, or a tenth of --candidates).
    #[arg(long)]
    vacancies: Option<u64>,
    /// Seed of the generated world (default: the demo's, 2026).
    #[arg(long)]
    seed: Option<u64>,
    /// Seed of the market's interview noise and acceptance draws (default:
    /// the one in MarketConfig::default()).
    #[arg(long)]
    market_seed: Option<u64>,
    /// Multiplies straight-line km in the market's pools and distance
    /// penalty (1 = straight line; the engine's road factor is 1.25).
    #[arg(long)]
    travel_km_factor: Option<f64>,
    /// Switch off the simulated employers' biases.
    #[arg(long)]
    no_biases: bool,
    /// Use the small CI world (GeneratorConfig::small()) as the base.
    #[arg(long)]
    small: bool,
    /// Print a Markdown table.
    #[arg(long)]
    markdown: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut world = if args.small {
        GeneratorConfig::small()
    } else {
        GeneratorConfig::demo()
    };
    if let Some(n) = args.candidates {
        if n == 0 {
            bail!("--candidates must be at least 1");
        }
        world = world.with_candidates(n);
    }
    if let Some(v) = args.vacancies {
        world.vacancies = v;
    }
    if let Some(seed) = args.seed {
        world.seed = seed;
    }
    let mut market = MarketConfig::default();
    if let Some(seed) = args.market_seed {
        market.seed = seed;
    }
    if let Some(f) = args.travel_km_factor {
        if !(f > 0.0 && f.is_finite()) {
            bail!("--travel-km-factor must be a positive number");
        }
        market.travel_km_factor = f;
    }
    if args.no_biases {
        market.biases = Biases::none();
    }
    let config = EvalConfig { world, market };
    let evaluation = evaluate(&config).context("evaluation failed")?;
    eprintln!(
        "world built in {:.1} s, evaluated in {:.1} s",
        evaluation.build_time.as_secs_f64(),
        evaluation.evaluation_time.as_secs_f64()
    );
    for problem in &evaluation.explanation_problems {
        eprintln!("explanation problem: {problem}");
    }
    if args.markdown {
        print!("{}", evaluation.report.to_markdown());
    } else {
        print!("{}", evaluation.report.to_text());
    }
    if evaluation.report.world.explanation_problems > 0 {
        bail!(
            "{} explanation problems in the engine's lists",
            evaluation.report.world.explanation_problems
        );
    }
    Ok(())
}
