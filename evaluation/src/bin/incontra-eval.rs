//! `incontra-eval`: measures the engine's preselection lists against the
//! hires of a simulated Piemonte labour market and prints the table (see
//! `docs/EVALUATION.md`). With `--time-split`, fits the criterion weights to
//! the hires of the earlier vacancies and compares them with the hand-set
//! ones on the later vacancies (`docs/EVALUATION.md`, "Learning weights from
//! hires").

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Parser;
use incontra_datagen::GeneratorConfig;
use incontra_evaluation::market::{Biases, MarketConfig, Preferences};
use incontra_evaluation::timesplit::{time_split, TimeSplitConfig};
use incontra_evaluation::{evaluate, EvalConfig};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Employers {
    Documented,
    NearHires,
    SkillsFirst,
}

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
    /// What the simulated employers value: the default market, or one whose
    /// preferences the hand-set weights were not tuned on.
    #[arg(long, value_enum, default_value = "documented")]
    employers: Employers,
    /// Use the small CI world (GeneratorConfig::small()) as the base.
    #[arg(long)]
    small: bool,
    /// Print a Markdown table.
    #[arg(long)]
    markdown: bool,
    /// Instead of the method table: learn the weights from the hires of the
    /// vacancies published first and compare them with the hand-set weights
    /// on the vacancies published later.
    #[arg(long)]
    time_split: bool,
    /// With --time-split: share of the open vacancies, earliest published
    /// first, that trains (default 0.6).
    #[arg(long, requires = "time_split")]
    training_share: Option<f64>,
    /// With --time-split: rows of the hand-set lists recorded for training
    /// (default 100).
    #[arg(long, requires = "time_split")]
    training_list_limit: Option<usize>,
    /// With --time-split: strength of the pull towards the hand-set weights
    /// (default: chosen on the training period alone).
    #[arg(long, requires = "time_split")]
    l2: Option<f64>,
    /// With --time-split, a diagnostic: train on the held-out period itself,
    /// bounding what any reweighting could gain there (refuses
    /// --write-weights).
    #[arg(long, requires = "time_split", conflicts_with = "write_weights")]
    in_sample_bound: bool,
    /// With --time-split: write the learned weights to this versioned file
    /// (its stem is the version, e.g. config/weights/harness-2026-11-23-v1.toml).
    #[arg(long, requires = "time_split", value_name = "PATH")]
    write_weights: Option<PathBuf>,
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
    let market = market.with_preferences(match args.employers {
        Employers::Documented => Preferences::Documented,
        Employers::NearHires => Preferences::NearHires,
        Employers::SkillsFirst => Preferences::SkillsFirst,
    });
    let config = EvalConfig { world, market };
    if args.time_split {
        return run_time_split(&args, config);
    }
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

fn run_time_split(args: &Args, eval: EvalConfig) -> anyhow::Result<()> {
    let mut config = TimeSplitConfig::new(eval);
    if let Some(share) = args.training_share {
        if !(share > 0.0 && share < 1.0) {
            bail!("--training-share must be between 0 and 1");
        }
        config.training_share = share;
    }
    if let Some(limit) = args.training_list_limit {
        if limit < 2 {
            bail!("--training-list-limit must be at least 2");
        }
        config.training_list_limit = limit;
    }
    if let Some(l2) = args.l2 {
        if !(l2 > 0.0 && l2.is_finite()) {
            bail!("--l2 must be a positive number");
        }
        config.l2 = Some(l2);
    }
    config.in_sample_bound = args.in_sample_bound;
    let split = time_split(&config).context("time-split evaluation failed")?;
    eprintln!(
        "world built in {:.1} s, trained and evaluated in {:.1} s (lambda chosen and weights \
         fitted in {:.3} s)",
        split.build_time.as_secs_f64(),
        split.evaluation_time.as_secs_f64(),
        split.fit_time.as_secs_f64()
    );
    for problem in &split.problem_samples {
        eprintln!("explanation problem: {problem}");
    }
    let table = split.to_markdown();
    if args.markdown {
        print!("{table}");
    } else {
        // The Markdown is readable as text; strip the emphasis only.
        print!("{}", table.replace("**", ""));
    }
    if let Some(path) = &args.write_weights {
        write_weights(&split, path, &config)?;
    }
    if split.explanation_problems > 0 {
        bail!(
            "{} explanation problems in the lists ranked with learned weights",
            split.explanation_problems
        );
    }
    Ok(())
}

fn write_weights(
    split: &incontra_evaluation::timesplit::TimeSplit,
    path: &Path,
    config: &TimeSplitConfig,
) -> anyhow::Result<()> {
    let version = path
        .file_stem()
        .and_then(|s| s.to_str())
        .context("--write-weights needs a file name")?;
    let w = &config.eval.world;
    let note = format!(
        "Example trained on the synthetic harness (incontra-eval --time-split: {} candidates, \
         {} vacancies, generator seed {}, market seed {}); the hires are simulated, so these \
         weights are not for production use.",
        w.candidates, w.vacancies, w.seed, config.eval.market.seed
    );
    let file = split
        .weights_file(version, Some(note))
        .context("learned weights do not make a valid weights file")?;
    let text = file.to_toml()?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("learned weights written to {}", path.display());
    Ok(())
}
