//! `incontra`: the matching service binary.
//!
//! `serve` opens a data directory (recovering journal, snapshot and index)
//! and serves the gRPC API; `demo` first fills an empty data directory with a
//! synthetic Piemonte labour market, prints one preselection list with its
//! reasons, and then serves.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use incontra_datagen::{Generator, GeneratorConfig};
use incontra_engine::matching::ListRequest;
use incontra_engine::model::Day;
use incontra_engine::scoring::HardFilter;
use incontra_indexer::projection::ProjectionOptions;
use incontra_kafka::{KafkaOptions, KafkaSource, Topics};
use incontra_services::auth::LocalIssuer;
use incontra_services::learn::{learn, LearnOptions};
use incontra_services::node::{Node, NodeOptions, TlsFiles};
use incontra_services::policy::Role;
use incontra_services::server;
use prost::Message;

// The state is millions of small strings and vectors; glibc's allocator
// spends a third of a snapshot restore growing and consolidating arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "incontra",
    version,
    about = "Explainable job matching for Piemonte's Centri per l'impiego"
)]
struct Cli {
    /// Log lines as text, or as one JSON object a line (for a log collector);
    /// a call's log lines carry its W3C `traceparent` trace id either way.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gRPC API over an existing (or new, empty) data directory,
    /// fed through `Ingest` or, with `--kafka`, from the event topics.
    Serve {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        kafka: KafkaArgs,
    },
    /// Load the demo population into an empty data directory, print an
    /// example preselection list, and serve.
    Demo {
        #[command(flatten)]
        common: Common,
        /// Candidates to generate (vacancies are a tenth of this).
        #[arg(long, default_value_t = GeneratorConfig::demo().candidates)]
        candidates: u64,
        /// Exit after printing the example instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Fit the scoring weights from the outcomes recorded in a data directory
    /// (issued lists and the hires attributed to them) and write a versioned
    /// weights file. Takes the directory's lock: run it on a stopped replica
    /// or a copy.
    Learn {
        #[command(flatten)]
        common: Common,
        /// Where to write the weights file.
        #[arg(long)]
        out: PathBuf,
        /// Version recorded in the file and in every list ranked with it.
        #[arg(long)]
        version: Option<String>,
        /// Attribution window, days.
        #[arg(long, default_value_t = incontra_engine::outcomes::DEFAULT_WINDOW_DAYS)]
        window_days: u32,
        /// Share of the lists, the latest, kept out of the fit to measure it.
        #[arg(long, default_value_t = 0.2)]
        held_out_share: f64,
    },
}

#[derive(Args)]
struct Common {
    /// Data directory: journal, snapshots, index and pseudonym key.
    #[arg(long, default_value = "./data-dir")]
    data_dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Scoring configuration (TOML); defaults to config/scoring.toml as built in.
    #[arg(long)]
    scoring_config: Option<PathBuf>,
    /// Versioned weights file (from `incontra learn`) replacing the
    /// configuration's weights; lists record its version.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Judge eligibility as of this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_parser = parse_day)]
    as_of: Option<Day>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Lists (`MatchCandidates`, `MatchVacancies`) computed at once
    /// [default: the number of cores].
    #[arg(long)]
    max_running_lists: Option<usize>,
    /// Lists waiting for a slot; beyond them a call is refused with
    /// RESOURCE_EXHAUSTED [default: 64 per core].
    #[arg(long)]
    max_queued_lists: Option<usize>,
    /// Calls a second each client may make (by token subject, or by address
    /// without authentication), with twice as many at once after a quiet
    /// spell; beyond, RESOURCE_EXHAUSTED with a retry hint. 0 turns it off.
    #[arg(long, default_value_t = incontra_services::ratelimit::RateLimit::default().per_second)]
    rate_limit: f64,
    /// Snapshot after at least this many events (and once the journal
    /// since the last snapshot is as large as it).
    #[arg(long, default_value_t = ProjectionOptions::default().snapshot_every)]
    snapshot_every: u64,
    /// Keep issued lists this many days before the newest (outcomes need 90,
    /// appeals against a list a few years); 0 keeps them for ever.
    #[arg(long, default_value_t = 1_095)]
    lists_retention_days: u32,
    /// Authentication (TOML: issuer, audience, JWKS file, claims to roles;
    /// see docs/SECURITY.md). Without it the node serves every caller
    /// unrestricted and refuses to listen beyond loopback. The demo makes
    /// a local key pair and its configuration in `<data-dir>/auth/`.
    #[arg(long)]
    auth_config: Option<PathBuf>,
    /// Serve over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: every client must present a certificate this CA (PEM)
    /// signed, as service clients (producers, the portal's backend) do.
    #[arg(long, requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
}

#[derive(Args)]
struct KafkaArgs {
    /// Consume the event topics from these brokers (`bootstrap.servers`)
    /// instead of accepting `Ingest`.
    #[arg(long, value_name = "BOOTSTRAP")]
    kafka: Option<String>,
    #[arg(long, default_value = "incontra.vacancies.v1", requires = "kafka")]
    kafka_topic_vacancies: String,
    #[arg(long, default_value = "incontra.candidacies.v1", requires = "kafka")]
    kafka_topic_candidacies: String,
    #[arg(long, default_value = "incontra.co.v1", requires = "kafka")]
    kafka_topic_co: String,
    /// Topic of issued lists: every replica records the lists it issues
    /// there and consumes everyone's, so outcomes agree across replicas.
    #[arg(long, default_value = "incontra.lists.v1", requires = "kafka")]
    kafka_topic_lists: String,
    /// A librdkafka property, `key=value` (repeatable), e.g.
    /// `security.protocol=SASL_SSL`. Applied after the built-in settings.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = parse_key_value, requires = "kafka")]
    kafka_options: Vec<(String, String)>,
    /// A file of librdkafka properties (`key=value` lines, `#` comments),
    /// for secrets that must not appear on a command line.
    #[arg(long, requires = "kafka")]
    kafka_config_file: Option<PathBuf>,
    /// Ready (gRPC health SERVING) while at most this many messages wait.
    #[arg(long, default_value_t = 1_000, requires = "kafka")]
    kafka_ready_max_lag: u64,
    /// Largest batch journaled with one fsync.
    #[arg(long, default_value_t = 5_000, requires = "kafka")]
    kafka_batch_max_messages: usize,
}

impl KafkaArgs {
    fn options(&self) -> anyhow::Result<Option<KafkaOptions>> {
        let Some(bootstrap) = &self.kafka else {
            return Ok(None);
        };
        let mut options = KafkaOptions::new(bootstrap);
        options.topics = Topics {
            vacancies: self.kafka_topic_vacancies.clone(),
            candidacies: self.kafka_topic_candidacies.clone(),
            co: self.kafka_topic_co.clone(),
            lists: self.kafka_topic_lists.clone(),
        };
        if let Some(path) = &self.kafka_config_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let pair = parse_key_value(line)
                    .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), n + 1))?;
                options.client_config.push(pair);
            }
        }
        options
            .client_config
            .extend(self.kafka_options.iter().cloned());
        options.ready_max_lag = self.kafka_ready_max_lag;
        anyhow::ensure!(
            self.kafka_batch_max_messages > 0,
            "--kafka-batch-max-messages must be positive"
        );
        options.batch_max_messages = self.kafka_batch_max_messages;
        Ok(Some(options))
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

fn parse_day(s: &str) -> Result<Day, String> {
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| e.to_string())?;
    incontra_engine::model::day_from_ymd(
        chrono::Datelike::year(&date),
        chrono::Datelike::month(&date),
        chrono::Datelike::day(&date),
    )
    .ok_or_else(|| format!("{s} is out of range"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tantivy=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: in a file or a log collector
        // they are noise around every field.
        .with_ansi(std::io::stderr().is_terminal());
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { common, kafka } => {
            let kafka = kafka.options()?;
            let node = open(&common, None).await?;
            let source = match kafka {
                Some(options) => {
                    eprintln!(
                        "consuming {} from {}",
                        options.topics.all().join(", "),
                        options.bootstrap_servers
                    );
                    Some(KafkaSource::start(node.projection.clone(), options)?)
                }
                None => None,
            };
            let listener = bind(&common).await?;
            serve(&node, listener, source).await
        }
        Command::Demo {
            common,
            candidates,
            no_serve,
        } => {
            let config = GeneratorConfig::demo().with_candidates(candidates);
            // The demo world has a fixed date; pin the node to it unless told.
            let as_of = common.as_of.or(Some(config.today));
            // Authenticated like production, with a key of its own: the
            // demo prints a token to call it with.
            let issuer = LocalIssuer::open_or_create(&common.data_dir)?;
            let mut common = common;
            if common.auth_config.is_none() {
                common.auth_config = Some(issuer.config_path.clone());
            }
            let node = open(&common, as_of).await?;
            load_demo(&node, config).await?;
            // Bound before the example is printed, so that its command names
            // the address really listened on (`--listen` may ask for port 0).
            let listener = if no_serve {
                None
            } else {
                Some(bind(&common).await?)
            };
            let listening = listener.as_ref().map(|l| l.local_addr()).transpose()?;
            print_example(&node, &issuer, &common, listening)?;
            let Some(listener) = listener else {
                let projection = node.projection.clone();
                tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                    let mut p = projection
                        .lock()
                        .map_err(|_| anyhow::anyhow!("lock poisoned"))?;
                    Ok(p.snapshot()?)
                })
                .await??;
                return Ok(());
            };
            serve(&node, listener, None).await
        }
        Command::Learn {
            common,
            out,
            version,
            window_days,
            held_out_share,
        } => {
            let node = open(&common, None).await?;
            let today = server::today(node.as_of);
            let options = LearnOptions {
                today,
                window_days,
                held_out_share,
                version: version.unwrap_or_else(|| {
                    format!("learned-{}", chrono::Utc::now().format("%Y-%m-%d"))
                }),
            };
            let read = node.read.clone();
            let learned = tokio::task::spawn_blocking(move || {
                let state = read.state().map_err(|e| anyhow::anyhow!("{e}"))?;
                learn(&state, &read.config, &options)
            })
            .await??;
            let text = learned.file.to_toml()?;
            std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "fitted on {} lists, measured on {} later ones; wrote {}",
                learned.train_lists,
                learned.held_out_lists,
                out.display()
            );
            print!("{text}");
            Ok(())
        }
    }
}

async fn open(common: &Common, as_of: Option<Day>) -> anyhow::Result<Node> {
    if let Some(addr) = common.metrics_listen {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .context("starting the Prometheus exporter")?;
    }
    let mut options = NodeOptions::new(&common.data_dir);
    options.scoring_config = common.scoring_config.clone();
    options.weights = common.weights.clone();
    options.as_of = as_of.or(common.as_of);
    options.auth_config = common.auth_config.clone();
    options.tls = match (&common.tls_cert, &common.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: common.tls_client_ca.clone(),
        }),
        _ => None,
    };
    if let Some(n) = common.max_running_lists {
        options.admission.running = n;
    }
    if let Some(n) = common.max_queued_lists {
        options.admission.queued = n;
    }
    anyhow::ensure!(
        common.rate_limit >= 0.0 && common.rate_limit.is_finite(),
        "--rate-limit must be 0 (off) or positive"
    );
    options.rate_limit = incontra_services::ratelimit::RateLimit {
        per_second: common.rate_limit,
        burst: common.rate_limit * 2.0,
    };
    anyhow::ensure!(
        common.snapshot_every > 0,
        "--snapshot-every must be positive"
    );
    options.projection.snapshot_every = common.snapshot_every;
    options.projection.lists_retention_days =
        (common.lists_retention_days > 0).then_some(common.lists_retention_days);
    let node = tokio::task::spawn_blocking(move || Node::open(&options)).await??;
    let r = &node.recovery;
    eprintln!(
        "recovered {} in {:.2?}: snapshot at {}, journal at {}, {} events replayed, {} documents re-indexed",
        common.data_dir.display(),
        r.elapsed,
        r.snapshot_position,
        r.journal_position,
        r.replayed,
        r.reindexed
    );
    Ok(node)
}

async fn bind(common: &Common) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(common.listen)
        .await
        .with_context(|| format!("listening on {}", common.listen))
}

async fn serve(
    node: &Node,
    listener: tokio::net::TcpListener,
    source: Option<KafkaSource>,
) -> anyhow::Result<()> {
    eprintln!("serving on {} (Ctrl-C to stop)", listener.local_addr()?);
    server::serve_with_source(node, listener, source, shutdown_signal()).await
}

/// Where a client on this machine reaches a server listening on `addr`: the
/// same port, and loopback for an address that means every interface (0.0.0.0
/// and :: name no host a client can connect to on every system).
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// "3000 candidati valutati; esclusi dai filtri: disponibilità 350, …", with
/// each filter by its Italian label (the keys stay in the API's fields).
fn considered_line(
    considered: u64,
    excluded: &std::collections::BTreeMap<&'static str, u64>,
) -> String {
    let mut counts: Vec<(&'static str, u64)> = excluded.iter().map(|(k, n)| (*k, *n)).collect();
    counts.sort_by_key(|(k, _)| incontra_engine::matching::filter_order(k));
    let counts: Vec<String> = counts
        .into_iter()
        .map(|(key, n)| {
            format!(
                "{} {n}",
                HardFilter::from_name(key).map_or(key, HardFilter::label)
            )
        })
        .collect();
    if counts.is_empty() {
        format!("{considered} candidati valutati; nessuno escluso dai filtri")
    } else {
        format!(
            "{considered} candidati valutati; esclusi dai filtri: {}",
            counts.join(", ")
        )
    }
}

/// Ctrl-C, or SIGTERM as an orchestrator sends it: both end in a clean stop
/// with a final snapshot.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops cleanly");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Fills an empty data directory; a non-empty one is left as it is.
async fn load_demo(node: &Node, config: GeneratorConfig) -> anyhow::Result<()> {
    let position = node
        .projection
        .lock()
        .map_err(|_| anyhow::anyhow!("lock poisoned"))?
        .journal_position();
    // Present from the first demo event journaled until the load ends: a
    // directory that has it was left half-loaded by an interrupted demo.
    let loading = node.data_dir.join("demo.loading");
    if position > 0 {
        anyhow::ensure!(
            !loading.exists(),
            "a previous demo load into {dir} was interrupted after {position} events, so it holds part of \
             the demo world. Remove the directory (rm -rf {dir}) and run the demo again.",
            dir = node.data_dir.display()
        );
        eprintln!("data directory already holds {position} events; not loading the demo again");
        return Ok(());
    }
    std::fs::write(&loading, b"").with_context(|| format!("writing {}", loading.display()))?;
    let projection = node.projection.clone();
    let reference = node.read.reference.clone();
    let started = std::time::Instant::now();
    let (events, rejected) = tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, u64)> {
        let generator = Generator::new(&reference, config);
        let mut p = projection
            .lock()
            .map_err(|_| anyhow::anyhow!("lock poisoned"))?;
        let mut batch = Vec::with_capacity(4096);
        let (mut events, mut rejected) = (0u64, 0u64);
        let mut flush = |batch: &mut Vec<Vec<u8>>,
                         p: &mut incontra_indexer::projection::Projection|
         -> anyhow::Result<()> {
            for r in p.ingest(batch)? {
                if let incontra_indexer::projection::IngestResult::Rejected { event_id, error } = r
                {
                    rejected += 1;
                    tracing::warn!(%event_id, %error, "demo event rejected");
                }
            }
            events += batch.len() as u64;
            batch.clear();
            Ok(())
        };
        for envelope in generator.events() {
            batch.push(envelope.encode_to_vec());
            if batch.len() == batch.capacity() {
                flush(&mut batch, &mut p)?;
            }
        }
        flush(&mut batch, &mut p)?;
        p.snapshot()?;
        Ok((events, rejected))
    })
    .await??;
    std::fs::remove_file(&loading).with_context(|| format!("removing {}", loading.display()))?;
    eprintln!(
        "demo loaded: {events} events ({rejected} rejected) in {:.1?}",
        started.elapsed()
    );
    Ok(())
}

/// Prints the preselection list of a vacancy in the Torino area with a full
/// list, as an operator would see it.
fn print_example(
    node: &Node,
    issuer: &LocalIssuer,
    common: &Common,
    listening: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let read = node.read.clone();
    let today = server::today(node.as_of);
    let view = read.view(today)?;
    let mut vacancies: Vec<_> = view
        .state()
        .vacancies()
        // An operator's token may not list reserved-quota vacancies.
        .filter(|v| {
            v.is_open_on(today)
                && v.spec.reserved_quota == incontra_engine::model::ReservedQuota::None
        })
        .collect();
    vacancies.sort_by(|a, b| a.id.cmp(&b.id));
    // An operator reading the list also wants to see who was left out.
    let request = ListRequest {
        limit: 10,
        count_exclusions: true,
        ..ListRequest::default()
    };
    let mut chosen = None;
    for v in vacancies.iter().take(200) {
        let list = view.candidates_for(&v.id, &request)?;
        if list.items.len() >= 10 {
            chosen = Some((*v, list));
            break;
        }
    }
    let Some((v, list)) = chosen else {
        eprintln!("no open vacancy has 10 eligible candidates yet");
        return Ok(());
    };
    let comune = read.reference.comune(&v.spec.workplace_comune);
    println!();
    println!(
        "Lista di preselezione per {} «{}» — {} ({})",
        v.id,
        v.spec.title,
        comune.map(|c| c.name.as_str()).unwrap_or("?"),
        v.spec.employer.name
    );
    println!("{}", considered_line(list.considered, &list.excluded));
    for (i, m) in list.items.iter().enumerate() {
        println!("{:>2}. {}  punteggio {:.3}", i + 1, m.id, m.score);
        for c in &m.contributions {
            // One column: a boost's own label is longer than the others.
            let name = if c.criterion.is_boost() {
                "priorità"
            } else {
                c.criterion.label()
            };
            println!("      {name:<11} {:+.3}  {}", c.contribution, c.reason);
        }
        if let Some(congruity) = &m.congruity {
            let failing: Vec<&str> = congruity
                .criteria
                .iter()
                .filter(|v| v.verdict == incontra_engine::congruity::Verdict::NotSatisfied)
                .map(|v| v.reason.as_str())
                .collect();
            if failing.is_empty() {
                println!(
                    "      offerta congrua ({}, {})",
                    congruity.pack_id, congruity.band
                );
            } else {
                println!("      offerta non congrua: {}", failing.join("; "));
            }
        }
    }
    println!();
    // An operator of the vacancy's CPI, for twelve hours; written beside
    // the key so scripts can read it.
    // The CPI handling it, or the one whose catchment holds the workplace
    // (the vacancy was published by the employer): either is the operator's.
    let cpi = match v.spec.cpi_code.as_str() {
        "" => comune.map_or("", |c| c.cpi_code.as_str()),
        handling => handling,
    };
    let token = issuer.token("operatore-demo", &[Role::Operator], &[cpi], 12 * 3_600)?;
    let token_path = common.data_dir.join("auth").join("operator.jwt");
    std::fs::write(&token_path, &token)
        .with_context(|| format!("writing {}", token_path.display()))?;
    println!(
        "Token of an operator of CPI {cpi} (12 hours; also in {}):",
        token_path.display()
    );
    println!("export TOKEN={token}");
    match listening {
        Some(addr) => println!(
            "Try: grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"vacancy_id\":\"{}\",\"limit\":10,\"requester\":{{\"purpose\":\"preselezione\"}}}}' {} incontra.match.v1.MatchService/MatchCandidates",
            v.id,
            reachable(addr)
        ),
        None => println!(
            "Not serving (--no-serve): start `incontra serve` on {} to call it.",
            common.data_dir.display()
        ),
    }
    Ok(())
}
