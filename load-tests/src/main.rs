//! `incontra-load`: drives a running node with concurrent `MatchCandidates`
//! and `MatchVacancies` calls over real gRPC connections and reports latency
//! percentiles and throughput.
//!
//! It knows the ids to ask for from the same deterministic generator the
//! demo used, so point it at a node started with `incontra demo`.

use std::time::{Duration, Instant};

use clap::Parser;
use incontra_datagen::{Generator, GeneratorConfig};
use incontra_engine::reference::ReferenceData;
use incontra_proto::matching::v1::match_service_client::MatchServiceClient;
use incontra_proto::matching::v1::{MatchCandidatesRequest, MatchVacanciesRequest};

#[derive(Parser)]
#[command(name = "incontra-load")]
struct Cli {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    target: String,
    /// Requests per RPC kind, in total.
    #[arg(long, default_value_t = 2_000)]
    requests: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Candidates of the demo population the node was loaded with.
    #[arg(long, default_value_t = GeneratorConfig::demo().candidates)]
    candidates: u64,
    /// Give up on the whole run after this many seconds.
    #[arg(long, default_value_t = 300)]
    max_seconds: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    Candidates,
    Vacancies,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let reference = ReferenceData::embedded()?;
    let config = GeneratorConfig::demo().with_candidates(cli.candidates);
    let generator = Generator::new(&reference, config.clone());
    let vacancy_ids: Vec<String> = (0..config.vacancies)
        .map(|i| generator.vacancy_id(i))
        .collect();
    let candidate_ids: Vec<String> = (0..config.candidates)
        .map(|i| generator.candidate_id(i))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(cli.max_seconds);
    for kind in [Kind::Candidates, Kind::Vacancies] {
        let ids = match kind {
            Kind::Candidates => &vacancy_ids,
            Kind::Vacancies => &candidate_ids,
        };
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..cli.concurrency {
            let mut client = MatchServiceClient::connect(cli.target.clone()).await?;
            let ids: Vec<String> = ids
                .iter()
                .skip(worker)
                .step_by(cli.concurrency.max(1))
                .take(cli.requests / cli.concurrency.max(1))
                .cloned()
                .collect();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(ids.len());
                let mut errors = 0usize;
                for id in ids {
                    if Instant::now() > deadline {
                        break;
                    }
                    let t = Instant::now();
                    let ok = match kind {
                        Kind::Candidates => client
                            .match_candidates(MatchCandidatesRequest {
                                vacancy_id: id,
                                limit: 50,
                                ..Default::default()
                            })
                            .await
                            .is_ok(),
                        Kind::Vacancies => client
                            .match_vacancies(MatchVacanciesRequest {
                                candidate_id: id,
                                limit: 50,
                                only_congrua: false,
                                ..Default::default()
                            })
                            .await
                            .is_ok(),
                    };
                    latencies.push(t.elapsed());
                    errors += usize::from(!ok);
                }
                (latencies, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await?;
            all.extend(l);
            errors += e;
        }
        let elapsed = started.elapsed();
        all.sort();
        let pct = |p: f64| -> Duration {
            all.get(((all.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        let name = match kind {
            Kind::Candidates => "MatchCandidates",
            Kind::Vacancies => "MatchVacancies",
        };
        println!(
            "{name}: {} requests ({errors} errors), concurrency {}, {:.0} req/s, p50 {:.2?}, p95 {:.2?}, p99 {:.2?}",
            all.len(),
            cli.concurrency,
            all.len() as f64 / elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.95),
            pct(0.99)
        );
    }
    Ok(())
}
