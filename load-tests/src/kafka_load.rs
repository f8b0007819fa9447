//! `incontra-kafka-load`: measures how fast a Kafka-fed replica absorbs
//! events. It produces the demo world (and optionally a Commax-style burst
//! of hire notices) to the three topics, keyed by entity id, while sampling
//! the replica's `GetStatus`, and reports the produce rate and the sustained
//! consume rate: messages applied per second between 10% and 90% of the
//! total, when the replica is busiest.
//!
//! Start the replica first: `incontra serve --kafka <bootstrap> ...`.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use incontra_datagen::{first_hire, hire_burst, Generator, GeneratorConfig};
use incontra_engine::reference::ReferenceData;
use incontra_proto::events::v1::{envelope::Payload, Envelope};
use incontra_proto::matching::v1::match_service_client::MatchServiceClient;
use incontra_proto::matching::v1::GetStatusRequest;
use prost::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

#[derive(Parser)]
#[command(name = "incontra-kafka-load")]
struct Cli {
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    /// The replica consuming the topics.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    target: String,
    /// Candidates of the generated world (vacancies are a tenth).
    #[arg(long, default_value_t = GeneratorConfig::demo().candidates)]
    candidates: u64,
    /// Extra hire notices produced after the world, as one burst.
    #[arg(long, default_value_t = 100_000)]
    co_burst: usize,
    #[arg(long, default_value = "incontra.vacancies.v1")]
    topic_vacancies: String,
    #[arg(long, default_value = "incontra.candidacies.v1")]
    topic_candidacies: String,
    #[arg(long, default_value = "incontra.co.v1")]
    topic_co: String,
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
}

fn consumed(status: &incontra_proto::matching::v1::GetStatusResponse) -> u64 {
    status.source.as_ref().map_or(0, |s| {
        s.partitions
            .iter()
            .map(|p| u64::try_from(p.next_offset).unwrap_or(0))
            .sum()
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let reference = ReferenceData::embedded()?;
    let config = GeneratorConfig::demo().with_candidates(cli.candidates);
    let generator = Generator::new(&reference, config);
    let mut events: Vec<Envelope> = generator.events().collect();
    if cli.co_burst > 0 {
        let template = first_hire(events.iter().cloned()).context("no hire notice to copy")?;
        let tag = format!("kl{}", std::process::id());
        events.extend(hire_burst(&template, &tag, cli.co_burst).context("template")?);
    }
    let total = events.len() as u64;

    let mut client = MatchServiceClient::connect(cli.target.clone()).await?;
    let status = |c: &mut MatchServiceClient<tonic::transport::Channel>| {
        let mut c = c.clone();
        async move {
            c.get_status(GetStatusRequest {
                include_digest: false,
            })
            .await
            .map(|r| r.into_inner())
        }
    };
    let base = consumed(&status(&mut client).await?);
    anyhow::ensure!(
        status(&mut client)
            .await?
            .source
            .is_some_and(|s| s.kind == "kafka"),
        "{} is not fed from Kafka",
        cli.target
    );

    // Sample progress on the side while producing.
    let deadline = Instant::now() + Duration::from_secs(cli.max_seconds);
    let started = Instant::now();
    let sampler = {
        let mut client = client.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let s = status(&mut client).await?;
                let done = consumed(&s).saturating_sub(base);
                samples.push((started.elapsed(), done));
                if done >= total || Instant::now() > deadline {
                    return anyhow::Ok(samples);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &cli.bootstrap)
        .set("acks", "all")
        .set("linger.ms", "10")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let produce = tokio::task::spawn_blocking({
        let (v, c, co) = (cli.topic_vacancies, cli.topic_candidacies, cli.topic_co);
        move || -> anyhow::Result<Duration> {
            let t = Instant::now();
            for e in &events {
                let topic = match e.payload {
                    Some(Payload::Vacancy(_)) => &v,
                    Some(Payload::Candidacy(_)) => &c,
                    _ => &co,
                };
                let bytes = e.encode_to_vec();
                let mut record = BaseRecord::to(topic).key(&e.entity_id).payload(&bytes);
                loop {
                    match producer.send(record) {
                        Ok(()) => break,
                        Err((_, back)) => {
                            record = back;
                            producer.poll(Duration::from_millis(5));
                        }
                    }
                }
            }
            producer.flush(Duration::from_secs(120))?;
            Ok(t.elapsed())
        }
    });
    let produced_in = produce.await??;
    let samples = sampler.await??;
    let (finished, done) = samples.last().copied().unwrap_or_default();
    anyhow::ensure!(
        done >= total,
        "replica applied {done} of {total} within {}s",
        cli.max_seconds
    );
    let at = |share: f64| {
        let target = (total as f64 * share) as u64;
        samples
            .iter()
            .find(|(_, n)| *n >= target)
            .copied()
            .unwrap_or((finished, done))
    };
    let (t10, n10) = at(0.1);
    let (t90, n90) = at(0.9);
    let sustained = (n90 - n10) as f64 / (t90 - t10).as_secs_f64().max(1e-9);
    println!(
        "produced {total} messages in {:.2?} ({:.0}/s); replica applied all {:.2?} after the first was sent; \
         sustained consume rate {:.0} messages/s (10%..90%)",
        produced_in,
        total as f64 / produced_in.as_secs_f64(),
        finished,
        sustained
    );
    Ok(())
}
