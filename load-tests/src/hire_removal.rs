//! `incontra-hire-removal`: how long after a hire CO is ingested the worker
//! is gone from `MatchCandidates`. For each of `--samples` vacancies of the
//! demo world it lists the candidates, sends a full-time open-ended hire of
//! the top one (through Kafka, or `Ingest` on an embedded node), then asks
//! for the list again until the worker is absent, and reports percentiles.
//!
//! Start the node first (`incontra demo` for `--via ingest`, `incontra serve
//! --kafka ...` fed with the demo world for `--via kafka`).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use incontra_datagen::{Generator, GeneratorConfig};
use incontra_engine::codice_fiscale::generate_partita_iva;
use incontra_engine::reference::ReferenceData;
use incontra_proto::events::v1 as ev;
use incontra_proto::matching::v1::match_service_client::MatchServiceClient;
use incontra_proto::matching::v1::MatchCandidatesRequest;
use prost::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

#[derive(Clone, Copy, ValueEnum)]
enum Via {
    Kafka,
    Ingest,
}

#[derive(Parser)]
#[command(name = "incontra-hire-removal")]
struct Cli {
    #[arg(long, value_enum, default_value = "kafka")]
    via: Via,
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    #[arg(long, default_value = "incontra.co.v1")]
    topic_co: String,
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    target: String,
    /// Candidates of the demo world the node holds (vacancies are a tenth).
    #[arg(long, default_value_t = GeneratorConfig::demo().candidates)]
    candidates: u64,
    #[arg(long, default_value_t = 50)]
    samples: usize,
    /// The node's `--as-of` day, `YYYY-MM-DD` (hires start the day after).
    #[arg(long)]
    as_of: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let as_of = chrono::NaiveDate::parse_from_str(&cli.as_of, "%Y-%m-%d")
        .context("--as-of must be YYYY-MM-DD")?;
    let today = i32::try_from(
        as_of
            .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).context("epoch")?)
            .num_days(),
    )?;
    let reference = ReferenceData::embedded()?;
    let config = GeneratorConfig::demo().with_candidates(cli.candidates);
    let generator = Generator::new(&reference, config.clone());
    let mut client = MatchServiceClient::connect(cli.target.clone()).await?;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &cli.bootstrap)
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()?;
    let employer = ev::Employer {
        fiscal_code: generate_partita_iva(9_876_543_210),
        name: "Misura Assunzioni S.r.l.".into(),
        ateco_code: "56.10.11".into(),
        employees: 12,
    };
    let mut acked_to_gone = Vec::new();
    let mut sent_to_gone = Vec::new();
    let mut polls = Vec::new();
    let mut i = 0;
    while acked_to_gone.len() < cli.samples && i < config.vacancies {
        let vacancy = generator.vacancy_id(i);
        i += 1;
        let request = |personal: bool| MatchCandidatesRequest {
            vacancy_id: vacancy.clone(),
            limit: 50,
            include_personal_data: personal,
            ..Default::default()
        };
        let list = client.match_candidates(request(true)).await?.into_inner();
        let (Some(top), Some(personal)) = (list.matches.first(), list.personal_data.first()) else {
            continue;
        };
        let worker = top.candidate_id.clone();
        let cf = personal.codice_fiscale.to_ascii_uppercase();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let envelope = ev::Envelope {
            event_id: format!("hire-removal-{now_ms}-{i}"),
            entity_id: cf.clone(),
            // Above any version the generator used for this worker.
            entity_version: u64::try_from(now_ms)?,
            occurred_at_ms: now_ms,
            source: "COMMAX".into(),
            schema_version: 1,
            payload: Some(ev::envelope::Payload::Co(ev::ComunicazioneObbligatoria {
                code: format!("HR{now_ms:014}"),
                previous_code: String::new(),
                action: ev::CoAction::Original as i32,
                datore: Some(employer.clone()),
                workplace_comune: "001272".into(),
                lavoratore_codice_fiscale: cf.clone(),
                lavoratore_pseudonym: String::new(),
                quadro: Some(ev::comunicazione_obbligatoria::Quadro::Assunzione(
                    ev::Assunzione {
                        start_day: today + 1,
                        end_day: 0,
                        contract_code: "A.01.00".into(),
                        contract_type: ev::ContractType::Indeterminato as i32,
                        profession_code: "5.2.2.1.0".into(),
                        ccnl: String::new(),
                        hours_percent: 100,
                    },
                )),
            })),
        };
        let sent = Instant::now();
        match cli.via {
            Via::Kafka => {
                let bytes = envelope.encode_to_vec();
                let record = FutureRecord::to(&cli.topic_co).key(&cf).payload(&bytes);
                producer
                    .send(record, Duration::from_secs(10))
                    .await
                    .map_err(|(e, _)| e)?;
            }
            Via::Ingest => {
                let r = client
                    .ingest(tokio_stream::iter(vec![envelope]))
                    .await?
                    .into_inner();
                anyhow::ensure!(r.rejected.is_empty(), "hire rejected: {:?}", r.rejected);
            }
        }
        let acked = Instant::now();
        let mut n = 0;
        loop {
            n += 1;
            let now = client.match_candidates(request(false)).await?.into_inner();
            if now.matches.iter().all(|m| m.candidate_id != worker) {
                acked_to_gone.push(acked.elapsed());
                sent_to_gone.push(sent.elapsed());
                polls.push(n);
                break;
            }
            anyhow::ensure!(
                acked.elapsed() < Duration::from_secs(30),
                "{worker} still listed 30 s after the hire of {vacancy}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    anyhow::ensure!(!acked_to_gone.is_empty(), "no vacancy had a list");
    acked_to_gone.sort();
    sent_to_gone.sort();
    let show = |name: &str, d: &[Duration]| {
        println!(
            "{name}: n={} p50={:?} p90={:?} p99={:?} max={:?}",
            d.len(),
            percentile(d, 0.5),
            percentile(d, 0.9),
            percentile(d, 0.99),
            d[d.len() - 1]
        );
    };
    let via = match cli.via {
        Via::Kafka => "kafka (from the broker's ack)",
        Via::Ingest => "ingest (from the Ingest ack)",
    };
    show(
        &format!("hire CO -> out of MatchCandidates, {via}"),
        &acked_to_gone,
    );
    show("from the send", &sent_to_gone);
    println!(
        "MatchCandidates calls per sample: mean {:.1}",
        polls.iter().sum::<usize>() as f64 / polls.len() as f64
    );
    Ok(())
}
