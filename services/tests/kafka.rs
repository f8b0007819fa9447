//! The Kafka source against a real broker (`tansu`, started per test on
//! 127.0.0.1) and the real `incontra` binary: produced events become
//! visible; kill -9 mid-consumption loses nothing and applies nothing twice;
//! poison messages land in `<topic>.dlq` with their reason while later
//! messages still apply; a burst of 100k CO is absorbed.

mod common;

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use common::broker::Broker;
use common::process::{free_port, Server};
use common::{Client, ServerThread, DEADLINE};
use incontra_proto::events::v1::{self as ev, envelope::Payload, Envelope};
use incontra_proto::matching::v1 as pb;
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

const VACANCIES: &str = "incontra.vacancies.v1";
const CANDIDACIES: &str = "incontra.candidacies.v1";
const CO: &str = "incontra.co.v1";
const LISTS: &str = "incontra.lists.v1";
const PARTITIONS: i32 = 3;

fn topic_of(e: &Envelope) -> &'static str {
    match e.payload {
        Some(Payload::Vacancy(_)) => VACANCIES,
        Some(Payload::Candidacy(_)) => CANDIDACIES,
        _ => CO,
    }
}

/// `(topic, key, value)` as a producer following the contract writes them.
fn messages(events: &[Envelope]) -> Vec<(String, String, Vec<u8>)> {
    events
        .iter()
        .map(|e| {
            (
                topic_of(e).to_owned(),
                e.entity_id.clone(),
                e.encode_to_vec(),
            )
        })
        .collect()
}

async fn broker_with_topics(dir: &Path) -> Broker {
    let broker = Broker::start(&dir.join("broker.log"));
    let dlq: Vec<String> = [VACANCIES, CANDIDACIES, CO]
        .iter()
        .map(|t| format!("{t}.dlq"))
        .collect();
    let mut names = vec![VACANCIES, CANDIDACIES, CO, LISTS];
    names.extend(dlq.iter().map(String::as_str));
    broker.create_topics(&names, PARTITIONS).await;
    broker
}

/// A data directory with a fixed pseudonym key, so two nodes fed the same
/// events hold byte-identical states.
fn data_dir(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("data dir");
    std::fs::write(dir.join("pseudonym.key"), [42u8; 32]).expect("key");
    dir
}

fn kafka_args(broker: &Broker, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--kafka".to_owned(),
        broker.bootstrap.clone(),
        "--kafka-ready-max-lag".to_owned(),
        "0".to_owned(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn consumed(source: &pb::SourceStatus) -> u64 {
    source
        .partitions
        .iter()
        .map(|p| u64::try_from(p.next_offset).unwrap_or(0))
        .sum()
}

/// Waits until the replica has applied every one of `messages` produced
/// messages and reports itself caught up.
async fn wait_consumed(client: &mut Client, messages: u64) -> pb::GetStatusResponse {
    let started = Instant::now();
    loop {
        let s = common::status(client).await;
        let source = s.source.clone().expect("source status");
        assert_eq!(source.kind, "kafka");
        if consumed(&source) >= messages && source.caught_up && source.lag == 0 {
            assert_eq!(
                consumed(&source),
                messages,
                "consumed more than was produced"
            );
            return s;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "replica consumed {} of {messages} within {DEADLINE:?}: {source:?}",
            consumed(&source)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An embedded node fed `events` through `Ingest`: the clean replay the
/// replica must equal.
async fn clean_replay(root: &Path, events: &[Envelope]) -> (ServerThread, Client) {
    let today = common::small_dataset().today;
    let server = ServerThread::start(common::node_options(&data_dir(root, "clean"), today));
    let mut client = common::client(server.addr).await;
    common::ingest_all(&mut client, events, 2_000).await;
    (server, client)
}

fn assert_same_state(replica: &pb::GetStatusResponse, clean: &pb::GetStatusResponse) {
    assert_eq!(
        replica.state_digest, clean.state_digest,
        "the replica's state differs from a clean replay"
    );
    // Equal counters: nothing applied twice, nothing lost, even where a
    // duplicate would leave the state alone.
    assert_eq!(
        (replica.events_applied, replica.events_ignored),
        (clean.events_applied, clean.events_ignored),
        "applied/ignored counters differ from a clean replay"
    );
    assert_eq!(
        (
            replica.vacancies,
            replica.candidates,
            replica.employment_records
        ),
        (clean.vacancies, clean.candidates, clean.employment_records)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produced_events_become_visible_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker_with_topics(dir.path()).await;
    let data = common::small_dataset();
    let (first, second) = data.events.split_at(data.events.len() / 2);

    // Half before the replica starts, half while it runs.
    let producer = broker.producer();
    broker.produce(&producer, &messages(first)).await;
    let (server, mut client) = start_replica(dir.path(), &broker, &[]).await;
    wait_consumed(&mut client, first.len() as u64).await;
    broker.produce(&producer, &messages(second)).await;
    let s = wait_consumed(&mut client, data.events.len() as u64).await;
    let source = s.source.clone().expect("source");
    assert_eq!(source.dead_lettered, 0, "{source:?}");
    assert_eq!(source.partitions.len(), 4 * PARTITIONS as usize);

    // A replica does not take writes of its own.
    let refused = common::ingest(&mut client, &data.events[..1])
        .await
        .expect_err("Ingest on a Kafka replica");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);

    let (_clean_server, mut clean) = clean_replay(dir.path(), &data.events).await;
    let c = common::status(&mut clean).await;
    assert_same_state(&s, &c);

    // And it answers with them.
    let mut listed = 0;
    for id in data.vacancy_ids.iter().take(20) {
        let request = pb::MatchCandidatesRequest {
            vacancy_id: id.clone(),
            limit: 50,
            ..Default::default()
        };
        let a = client
            .match_candidates(request.clone())
            .await
            .expect("MatchCandidates on the replica")
            .into_inner();
        let b = clean
            .match_candidates(request)
            .await
            .expect("MatchCandidates on the clean node")
            .into_inner();
        let ids = |r: &pb::MatchCandidatesResponse| {
            r.matches
                .iter()
                .map(|m| m.candidate_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b), "list of {id}");
        listed += a.matches.len();
    }
    assert!(listed > 0, "no vacancy listed any candidate");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_consumption_loses_nothing_and_applies_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker_with_topics(dir.path()).await;
    let data = common::small_dataset();
    let total = data.events.len() as u64;
    // One record per broker batch: tansu 0.6 answers a fetch from an offset
    // inside a batch with the batches that start after it, so a restart in
    // the middle of a multi-record batch would skip or stall on it. Kafka
    // returns the whole batch and lets the client skip.
    let producer = broker
        .config()
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    broker.produce(&producer, &messages(&data.events)).await;

    let replica_dir = data_dir(dir.path(), "replica");
    let log = dir.path().join("replica.log");
    // Small batches: many checkpoints, so kills land between and inside them.
    let args = kafka_args(&broker, &["--kafka-batch-max-messages", "64"]);
    let mut kills = 0;
    for share in [0.15, 0.4, 0.7] {
        let target = (total as f64 * share) as u64;
        let (mut server, mut client) = start_consuming(&replica_dir, &log, &args).await;
        let started = Instant::now();
        loop {
            let s = common::status(&mut client).await;
            let done = consumed(&s.source.expect("source"));
            if done >= target {
                break;
            }
            assert!(started.elapsed() < DEADLINE, "stuck at {done} of {target}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill_9();
        kills += 1;
        eprintln!("killed at {share:.2} of {total} messages");
    }
    assert_eq!(kills, 3);
    let (_server, mut client) = start_consuming(&replica_dir, &log, &args).await;
    let s = wait_consumed(&mut client, total).await;
    let (_clean_server, mut clean) = clean_replay(dir.path(), &data.events).await;
    let c = common::status(&mut clean).await;
    assert_same_state(&s, &c);
}

/// Starts `incontra serve --kafka` on `<root>/replica` (log in
/// `<root>/replica.log`) and waits until it is caught up and SERVING.
async fn start_replica(root: &Path, broker: &Broker, extra: &[&str]) -> (Server, Client) {
    Server::start_with(
        &data_dir(root, "replica"),
        common::small_dataset().today,
        &root.join("replica.log"),
        &kafka_args(broker, extra),
    )
    .await
}

/// Starts a replica without waiting for it to catch up (it is killed while
/// consuming).
async fn start_consuming(dir: &Path, log: &Path, args: &[String]) -> (Server, Client) {
    let mut args = args.to_vec();
    // Ready at once: the test watches progress through GetStatus instead.
    if let Some(i) = args.iter().position(|a| a == "--kafka-ready-max-lag") {
        args[i + 1] = u64::MAX.to_string();
    }
    Server::start_with(dir, common::small_dataset().today, log, &args).await
}

/// The messages of `topic` from the beginning, read until `expected` are in
/// hand (bounded by the deadline).
fn read_topic(
    broker: &Broker,
    topic: &str,
    expected: usize,
) -> Vec<rdkafka::message::OwnedMessage> {
    let consumer: BaseConsumer = broker
        .config()
        .set("group.id", "incontra-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&list).expect("assign");
    let mut out = Vec::new();
    let started = Instant::now();
    while out.len() < expected && started.elapsed() < DEADLINE {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.expect("dead letter readable").detach());
        }
    }
    // Anything more would be a duplicate or a stray letter.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            out.push(m.expect("readable").detach());
        }
    }
    out
}

fn header(m: &rdkafka::message::OwnedMessage, key: &str) -> String {
    m.headers()
        .and_then(|h| {
            h.iter()
                .find(|h| h.key == key)
                .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
        })
        .unwrap_or_default()
}

fn scrape(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("metrics endpoint");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).expect("response");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dead_letter_topic_and_the_partition_keeps_flowing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker_with_topics(dir.path()).await;
    let data = common::small_dataset();
    let good = &data.events[..600];

    let vacancy = data
        .events
        .iter()
        .find(|e| matches!(e.payload, Some(Payload::Vacancy(_))))
        .expect("a vacancy event")
        .clone();
    let candidacy = data
        .events
        .iter()
        .find(|e| matches!(e.payload, Some(Payload::Candidacy(_))))
        .expect("a candidacy event")
        .clone();
    let mut future_schema = candidacy.clone();
    future_schema.event_id = "poison-schema".into();
    future_schema.schema_version = 2;
    let mut bad_cf = candidacy.clone();
    bad_cf.event_id = "poison-cf".into();
    // Valid shape, wrong check character.
    bad_cf.entity_id = "RSSMRA80A01L219X".into();
    if let Some(Payload::Candidacy(ev::CandidacyEvent {
        kind: Some(ev::candidacy_event::Kind::Registered(r)),
    })) = &mut bad_cf.payload
    {
        if let Some(p) = r.personal.as_mut() {
            p.codice_fiscale = "RSSMRA80A01L219X".into();
        }
    }
    let mut misrouted = vacancy.clone();
    misrouted.event_id = "poison-topic".into();
    let mut mis_keyed = vacancy.clone();
    mis_keyed.event_id = "poison-key".into();

    let poison: Vec<(String, String, Vec<u8>, &str)> = vec![
        (
            VACANCIES.into(),
            "garbage".into(),
            b"\xff\xfe not protobuf".to_vec(),
            "undecodable",
        ),
        (
            CANDIDACIES.into(),
            future_schema.entity_id.clone(),
            future_schema.encode_to_vec(),
            "unknown_schema",
        ),
        (
            CANDIDACIES.into(),
            bad_cf.entity_id.clone(),
            bad_cf.encode_to_vec(),
            "invalid",
        ),
        (
            CO.into(),
            misrouted.entity_id.clone(),
            misrouted.encode_to_vec(),
            "wrong_topic",
        ),
        (
            VACANCIES.into(),
            "someone-else".into(),
            mis_keyed.encode_to_vec(),
            "key_mismatch",
        ),
    ];
    let producer = broker.producer();
    // Poison first, on the same partitions the good events then follow.
    broker
        .produce(
            &producer,
            &poison
                .iter()
                .map(|(t, k, v, _)| (t.clone(), k.clone(), v.clone()))
                .collect::<Vec<_>>(),
        )
        .await;
    broker.produce(&producer, &messages(good)).await;

    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let (_server, mut client) =
        start_replica(dir.path(), &broker, &["--metrics-listen", &metrics_addr]).await;
    let s = wait_consumed(&mut client, (poison.len() + good.len()) as u64).await;
    assert_eq!(
        s.source.as_ref().expect("source").dead_lettered,
        poison.len() as u64
    );

    // Only the good events were applied, exactly as a clean node applies them.
    let (_clean_server, mut clean) = clean_replay(dir.path(), good).await;
    assert_same_state(&s, &common::status(&mut clean).await);

    // Every poison message is in its topic's DLQ, byte for byte, with why
    // and where it came from.
    let mut letters: HashMap<String, rdkafka::message::OwnedMessage> = HashMap::new();
    for (topic, expected) in [(VACANCIES, 2), (CANDIDACIES, 2), (CO, 1)] {
        let got = read_topic(&broker, &format!("{topic}.dlq"), expected);
        assert_eq!(got.len(), expected, "dead letters in {topic}.dlq");
        for m in got {
            assert_eq!(header(&m, "incontra.dlq.source.topic"), topic);
            assert!(!header(&m, "incontra.dlq.time").is_empty());
            assert!(header(&m, "incontra.dlq.source.partition")
                .parse::<i32>()
                .is_ok());
            assert!(header(&m, "incontra.dlq.source.offset")
                .parse::<i64>()
                .is_ok());
            letters.insert(header(&m, "incontra.dlq.reason"), m);
        }
    }
    for (topic, key, value, kind) in &poison {
        let (reason, m) = letters
            .iter()
            .find(|(reason, _)| reason.starts_with(&format!("{kind}:")))
            .unwrap_or_else(|| panic!("no {kind} letter among {:?}", letters.keys()));
        assert_eq!(m.payload(), Some(value.as_slice()), "{reason}");
        assert_eq!(m.key(), Some(key.as_bytes()), "{reason}");
        assert_eq!(header(m, "incontra.dlq.source.topic"), *topic);
    }
    let cf_reason = letters
        .keys()
        .find(|r| r.starts_with("invalid:"))
        .expect("invalid letter");
    assert!(
        cf_reason.contains("codice_fiscale") || cf_reason.contains("entity_id"),
        "{cf_reason}"
    );

    let metrics = scrape(&metrics_addr);
    for kind in [
        "undecodable",
        "unknown_schema",
        "invalid",
        "wrong_topic",
        "key_mismatch",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("incontra_kafka_dead_letters_total")
                    && l.contains(&format!("reason=\"{kind}\""))
                    && l.ends_with(" 1")),
            "no dead-letter metric for {kind}:\n{metrics}"
        );
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("incontra_kafka_consumer_lag{") && l.ends_with(" 0")),
        "no lag gauge:\n{metrics}"
    );
    // Outcome gauges are computed at start and every minute after; nothing
    // has been hired from a list here, so the overall rate is 0.
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("incontra_outcome_intermediation_rate{")
                && l.contains("by=\"overall\"")
                && l.ends_with(" 0")),
        "no outcome gauge:\n{metrics}"
    );
}

/// Commax-style mass hiring: `count` hire notices for distinct workers.
fn co_burst(count: usize) -> Vec<Envelope> {
    let template = incontra_datagen::first_hire(common::small_dataset().events.iter().cloned())
        .expect("a hire notice");
    incontra_datagen::hire_burst(&template, "burst", count).expect("a hire template")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_100k_co_is_absorbed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker_with_topics(dir.path()).await;
    let burst = co_burst(100_000);
    let (server, mut client) = start_replica(dir.path(), &broker, &[]).await;
    let before = common::status(&mut client).await;
    let started = Instant::now();
    broker.produce(&broker.producer(), &messages(&burst)).await;
    let s = wait_consumed(&mut client, burst.len() as u64).await;
    let elapsed = started.elapsed();
    let source = s.source.clone().expect("source");
    assert_eq!(source.dead_lettered, 0, "{source:?}");
    assert!(source.last_error.is_empty(), "{source:?}");
    assert_eq!(s.events_applied - before.events_applied, burst.len() as u64);
    assert_eq!(
        s.employment_records - before.employment_records,
        burst.len() as u64
    );
    // Not a performance assertion (debug build, shared machine): a record
    // of what the burst took, for the log.
    eprintln!(
        "100k CO produced and applied in {elapsed:.1?} ({:.0} events/s, debug build)",
        burst.len() as f64 / elapsed.as_secs_f64()
    );
    drop(server);
}

/// The venv `scripts/install-test-deps` fills, or `INCONTRA_PYTHON`.
fn test_python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("INCONTRA_PYTHON") {
        return python.into();
    }
    let python = common::cache_dir().join("venv/bin/python");
    assert!(
        python.exists(),
        "no test venv at {}: run scripts/install-test-deps",
        python.display()
    );
    python
}

/// A producer that is not ours (Python, confluent-kafka, envelopes built
/// from the .proto files) fills the three topics; every entity must become
/// visible through the API. The script reports produce-to-visible latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_python_producer_is_understood() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker_with_topics(dir.path()).await;
    let today = common::small_dataset().today;
    let (server, _client) = start_replica(dir.path(), &broker, &[]).await;
    let addr = server.addr.to_string();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("scripts/kafka_interop.py");
    let mut child = tokio::process::Command::new(test_python())
        .arg(&script)
        .args([
            "--via",
            "kafka",
            "--bootstrap",
            &broker.bootstrap,
            "--grpc",
            &addr,
        ])
        .args(["--as-of", &common::iso_day(today)])
        .args(["--proto-dir", &root.join("proto").display().to_string()])
        .args([
            "--reference-dir",
            &root.join("data/reference").display().to_string(),
        ])
        // Visibility is what is tested here; the 2 s freshness target is
        // measured on a release build (see the README).
        .args(["--max-latency-s", "20", "--timeout-s", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("running scripts/kafka_interop.py");
    let mut stdout = String::new();
    let mut stderr = String::new();
    let (mut out, mut err) = (
        child.stdout.take().expect("stdout"),
        child.stderr.take().expect("stderr"),
    );
    let finished = tokio::time::timeout(Duration::from_secs(120), async {
        use tokio::io::AsyncReadExt;
        let (a, b) = tokio::join!(
            out.read_to_string(&mut stdout),
            err.read_to_string(&mut stderr)
        );
        a.and(b).expect("reading the script's output");
        child.wait().await.expect("script exit")
    })
    .await
    .expect("kafka_interop.py did not finish within 120 s");
    eprintln!("{stderr}");
    assert!(
        finished.success(),
        "kafka_interop.py failed:\n{stdout}\n{stderr}"
    );
    let report = stdout.lines().last().unwrap_or_default();
    eprintln!("produce-to-visible (debug build): {report}");
    let report: serde_json::Value = serde_json::from_str(report).expect("a JSON report");
    assert_eq!(report["ok"], serde_json::Value::Bool(true), "{report}");
    assert!(
        report["produced"].as_u64().is_some_and(|n| n > 0),
        "{report}"
    );
    assert_eq!(report["visible"], report["produced"], "{report}");
}

/// Readiness follows the source: a replica whose topics do not exist yet
/// serves nothing as ready and says why; once the topics appear and it has
/// caught up, it reports SERVING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_topics_and_the_backlog() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(&dir.path().join("broker.log"));
    let data = common::small_dataset();
    let mut server = Server::spawn(
        &data_dir(dir.path(), "replica"),
        data.today,
        &dir.path().join("replica.log"),
        &kafka_args(&broker, &[]),
    );
    // Up, answering, and not ready, for as long as the topics are missing.
    let started = Instant::now();
    let mut client = loop {
        if server.health("").await.is_some() {
            break common::client(server.addr).await;
        }
        assert!(started.elapsed() < DEADLINE, "{}", server.log_tail());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let waiting = Instant::now();
    loop {
        let s = common::status(&mut client).await;
        let source = s.source.expect("source");
        assert!(!source.caught_up);
        for service in ["", "incontra.match.v1.MatchService"] {
            assert_eq!(
                server.health(service).await,
                Some(ServingStatus::NotServing as i32),
                "health of {service:?} without topics"
            );
        }
        if source.last_error.contains(VACANCIES) {
            break;
        }
        assert!(
            waiting.elapsed() < DEADLINE,
            "no error about the missing topics: {source:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A backlog waits on two topics before the third exists, so the replica
    // is assigned with a known lag: ready only once that is consumed.
    let (co, backlog): (Vec<Envelope>, Vec<Envelope>) =
        data.events.iter().cloned().partition(|e| topic_of(e) == CO);
    let mut names = vec![VACANCIES, CANDIDACIES, LISTS];
    let dlq: Vec<String> = [VACANCIES, CANDIDACIES, CO]
        .iter()
        .map(|t| format!("{t}.dlq"))
        .collect();
    names.extend(dlq.iter().map(String::as_str));
    broker.create_topics(&names, PARTITIONS).await;
    let producer = broker.producer();
    broker.produce(&producer, &messages(&backlog)).await;
    broker.create_topics(&[CO], PARTITIONS).await;
    broker.produce(&producer, &messages(&co)).await;
    server.wait_serving().await.expect("SERVING once caught up");
    let s = common::status(&mut client).await;
    let source = s.source.expect("source");
    assert!(
        consumed(&source) >= backlog.len() as u64,
        "ready with {} of the {} messages waiting at assignment: {source:?}",
        consumed(&source),
        backlog.len()
    );
    let s = wait_consumed(&mut client, data.events.len() as u64).await;
    let source = s.source.expect("source");
    assert!(source.last_error.is_empty(), "{source:?}");
}

/// A CO hire of a listed worker, produced to the CO topic: the worker leaves
/// the replica's lists, and the list (recorded on the lists topic by the
/// replica that issued it) gets the hire on every replica alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produced_hire_leaves_lists_and_outcomes_agree_across_replicas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker_with_topics(dir.path()).await;
    let data = common::small_dataset();
    let today = data.today;
    let producer = broker.producer();
    broker.produce(&producer, &messages(&data.events)).await;
    let (a_server, mut a) = start_replica(dir.path(), &broker, &[]).await;
    let (b_server, mut b) = Server::start_with(
        &data_dir(dir.path(), "replica-b"),
        today,
        &dir.path().join("replica-b.log"),
        &kafka_args(&broker, &[]),
    )
    .await;
    wait_consumed(&mut a, data.events.len() as u64).await;
    wait_consumed(&mut b, data.events.len() as u64).await;

    let specs = common::vacancy_specs(&data.events);
    let requester = ev::Requester {
        user_id: "op-7".into(),
        cpi_code: "TO02".into(),
        channel: "kafka-test".into(),
        campaign_id: String::new(),
        purpose: String::new(),
    };
    let request = |vacancy: &str, requester: Option<ev::Requester>| pb::MatchCandidatesRequest {
        vacancy_id: vacancy.to_owned(),
        limit: 50,
        include_personal_data: true,
        requester,
        ..Default::default()
    };
    let mut vacancy = None;
    for id in &data.vacancy_ids {
        let probe = a
            .match_candidates(request(id, None))
            .await
            .expect("MatchCandidates")
            .into_inner();
        if !probe.matches.is_empty() {
            vacancy = Some(id.clone());
            break;
        }
    }
    let vacancy = vacancy.expect("a vacancy with a list");
    let issued = a
        .match_candidates(request(&vacancy, Some(requester.clone())))
        .await
        .expect("MatchCandidates")
        .into_inner();
    let spec = &specs[&vacancy];
    let worker = issued.matches[0].candidate_id.clone();
    let cf = issued.personal_data[0].codice_fiscale.to_ascii_uppercase();
    let version = common::max_versions(&data.events)
        .get(&cf)
        .copied()
        .unwrap_or(0)
        + 1;
    let hire = Envelope {
        event_id: "kafka-outcome-hire".into(),
        entity_id: cf.clone(),
        entity_version: version,
        occurred_at_ms: chrono::Utc::now().timestamp_millis(),
        source: "COMMAX".into(),
        schema_version: 1,
        payload: Some(Payload::Co(ev::ComunicazioneObbligatoria {
            code: "KAFKACO000000001".into(),
            previous_code: String::new(),
            action: ev::CoAction::Original as i32,
            datore: spec.employer.clone(),
            workplace_comune: spec.workplace_comune.clone(),
            lavoratore_codice_fiscale: cf.clone(),
            lavoratore_pseudonym: String::new(),
            quadro: Some(ev::comunicazione_obbligatoria::Quadro::Assunzione(
                ev::Assunzione {
                    start_day: today + 1,
                    end_day: 0,
                    contract_code: "A.01.00".into(),
                    contract_type: ev::ContractType::Indeterminato as i32,
                    profession_code: spec.profession_code.clone(),
                    ccnl: String::new(),
                    hours_percent: 100,
                },
            )),
        })),
    };
    broker.produce(&producer, &messages(&[hire])).await;
    let acknowledged = Instant::now();
    let removal = loop {
        let r = a
            .match_candidates(request(&vacancy, None))
            .await
            .expect("MatchCandidates")
            .into_inner();
        if r.matches.iter().all(|m| m.candidate_id != worker) {
            break acknowledged.elapsed();
        }
        assert!(acknowledged.elapsed() < DEADLINE, "{worker} still listed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!("kafka: hire CO acknowledged by the broker, worker out of MatchCandidates after {removal:?} (debug build)");

    let ask = || pb::GetOutcomesRequest {
        from_day: 0,
        to_day: today + 30,
        window_days: 0,
    };
    let started = Instant::now();
    loop {
        let ra = a
            .get_outcomes(ask())
            .await
            .expect("GetOutcomes a")
            .into_inner();
        let rb = b
            .get_outcomes(ask())
            .await
            .expect("GetOutcomes b")
            .into_inner();
        let ours = |r: &pb::GetOutcomesResponse| {
            r.by_channel
                .iter()
                .find(|g| g.key == "kafka-test")
                .and_then(|g| g.figures)
        };
        // Both replicas have consumed the same lists and the hire once
        // their reports agree and show it. The hire goes to the latest list
        // that paired the worker with the employer: the operator's, or one
        // of the polls above that still listed the worker before the CO
        // was consumed.
        let attributed =
            |r: &pb::GetOutcomesResponse| r.overall.as_ref().map_or(0, |f| f.attributed_hires);
        if ra == rb && attributed(&ra) == 1 {
            let f = ours(&ra).expect("figures");
            assert_eq!(f.lists, 1);
            let by_channel: u64 = ra
                .by_channel
                .iter()
                .filter_map(|g| g.figures.as_ref())
                .map(|f| f.attributed_hires)
                .sum();
            assert_eq!(by_channel, 1, "attributed once");
            assert_eq!(ra.window_days, 90);
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "replicas disagree or miss the hire:\n{ra:?}\n{rb:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((a_server, b_server));
}
