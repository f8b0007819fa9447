//! Crash safety of the real `incontra` binary: kill -9 while an `Ingest` call
//! is in flight, restart on the same data directory, and check that nothing
//! acknowledged was lost and that the recovered state is exactly the state a
//! clean node reaches from the same events; the same for issued lists, which
//! have a journal of their own. Also: a garbage journal tail is cut on
//! restart.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::process::Server;
use common::{Client, ServerThread, DEADLINE};
use incontra_proto::events::v1::{self as ev, envelope::Payload, Envelope};
use incontra_proto::matching::v1 as pb;

/// Events per acknowledged `Ingest` call.
const CALL: usize = 200;

/// Sends `events` in calls of `CALL`, each of which must be acknowledged in
/// full; returns the count sent.
async fn ingest_acknowledged(client: &mut Client, events: &[Envelope]) -> usize {
    for chunk in events.chunks(CALL) {
        let r = common::ingest(client, chunk)
            .await
            .expect("Ingest on a live server");
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        assert_eq!(r.accepted, chunk.len() as u64);
    }
    events.len()
}

/// One crash: where in the stream it happens and how big the call in
/// flight is. Positions are shares of the whole stream, so the plan fits any
/// size of generated data.
struct KillPoint {
    /// Stop cleanly (which snapshots) at this share of the stream, and
    /// restart, before going on to `at`.
    clean_stop_at: Option<f64>,
    /// Share of the stream acknowledged (in calls of `CALL`) before the
    /// call in flight starts.
    at: f64,
    in_flight: usize,
    /// How long after the call starts the server is killed.
    delay: Duration,
}

/// Acknowledged calls needed to get from `next` to `share` of `total`.
fn calls_to(next: usize, share: f64, total: usize) -> usize {
    let target = (share * total as f64) as usize;
    target.saturating_sub(next).div_ceil(CALL)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_event() {
    let data = tokio::task::spawn_blocking(common::small_dataset)
        .await
        .expect("generating the small dataset");
    let events = &data.events;
    let total = events.len();
    let dir = tempfile::tempdir().expect("tempdir");
    let node_dir = dir.path().join("node");
    let clean_dir = dir.path().join("clean");
    let log = dir.path().join("server.log");

    let (mut server, mut client) = Server::start(&node_dir, data.today, &log).await;
    // The clean node must pseudonymise with the same key.
    std::fs::create_dir_all(&clean_dir).expect("clean dir");
    std::fs::copy(
        node_dir.join("pseudonym.key"),
        clean_dir.join("pseudonym.key"),
    )
    .expect("copying the pseudonym key");
    let clean = {
        let options = common::node_options(&clean_dir, data.today);
        tokio::task::spawn_blocking(move || ServerThread::start(options))
            .await
            .expect("starting the clean node")
    };
    let mut clean_client = common::client(clean.addr).await;
    let mut clean_position = 0usize;

    let plan = [
        // Early, as the call starts.
        KillPoint {
            clean_stop_at: None,
            at: 0.15,
            in_flight: CALL,
            delay: Duration::from_millis(5),
        },
        // Right after a snapshot (the clean stop writes one).
        KillPoint {
            clean_stop_at: Some(0.35),
            at: 0.35,
            in_flight: 1_000,
            delay: Duration::from_millis(40),
        },
        // Later, in a large call.
        KillPoint {
            clean_stop_at: None,
            at: 0.6,
            in_flight: 2_000,
            delay: Duration::from_millis(80),
        },
    ];

    let mut next = 0usize;
    for (k, point) in plan.iter().enumerate() {
        let mut snapshot_at = None;
        if let Some(share) = point.clean_stop_at {
            let end = (next + calls_to(next, share, total) * CALL).min(total);
            next += ingest_acknowledged(&mut client, &events[next..end]).await;
            drop(client);
            server.stop_clean().await;
            (server, client) = Server::start(&node_dir, data.today, &log).await;
            let s = common::status(&mut client).await;
            assert_eq!(s.journal_position, next as u64, "after a clean stop");
            assert_eq!(s.snapshot_position, next as u64, "the clean stop snapshots");
            snapshot_at = Some(s.snapshot_position);
        }
        let end = (next + calls_to(next, point.at, total) * CALL).min(total);
        next += ingest_acknowledged(&mut client, &events[next..end]).await;
        assert!(next < total, "kill point {k} is past the end of the data");

        let flight: Vec<Envelope> = events[next..(next + point.in_flight).min(total)].to_vec();
        let flight_len = flight.len();
        let call = {
            let mut client = client.clone();
            tokio::spawn(async move { common::ingest(&mut client, &flight).await })
        };
        tokio::time::sleep(point.delay).await;
        server.kill_9();
        let outcome = tokio::time::timeout(DEADLINE, call)
            .await
            .expect("the call in flight ended")
            .expect("the call task");
        let acknowledged = match &outcome {
            Ok(r) => {
                assert_eq!(r.accepted, flight_len as u64);
                next + flight_len
            }
            Err(_) => next,
        };
        drop(client);

        (server, client) = Server::start(&node_dir, data.today, &log).await;
        let s = common::status(&mut client).await;
        let position = s.journal_position as usize;
        eprintln!(
            "kill point {k}: {next} acknowledged before the call in flight of {flight_len} \
             (which {}), recovered at {position}",
            if outcome.is_ok() {
                "was acknowledged"
            } else {
                "failed"
            }
        );
        assert!(
            position >= acknowledged,
            "kill point {k}: acknowledged {acknowledged} events, recovered only {position}"
        );
        assert!(
            position <= next + flight_len,
            "kill point {k}: recovered {position} events, only {} were ever sent",
            next + flight_len
        );
        if let Some(at) = snapshot_at {
            assert_eq!(
                s.snapshot_position, at,
                "recovery did not start from the snapshot"
            );
        }
        assert_eq!(s.events_applied + s.events_ignored, s.journal_position);

        // A clean node fed exactly the same prefix holds the same state.
        common::ingest_all(&mut clean_client, &events[clean_position..position], 2_000).await;
        clean_position = position;
        let c = common::status(&mut clean_client).await;
        assert_eq!(c.journal_position, s.journal_position);
        assert_eq!(
            c.state_digest, s.state_digest,
            "kill point {k}: recovered state differs from a clean replay of {position} events"
        );
        next = position;
    }

    // Both finish the stream and still agree, down to the lists.
    ingest_acknowledged(&mut client, &events[next..]).await;
    common::ingest_all(&mut clean_client, &events[clean_position..], 2_000).await;
    let s = common::status(&mut client).await;
    let c = common::status(&mut clean_client).await;
    assert_eq!(s.journal_position, total as u64);
    assert_eq!(c.journal_position, total as u64);
    assert_eq!(s.state_digest, c.state_digest, "final states differ");
    assert_eq!(
        (
            s.vacancies,
            s.open_vacancies,
            s.candidates,
            s.available_candidates
        ),
        (
            c.vacancies,
            c.open_vacancies,
            c.candidates,
            c.available_candidates
        )
    );
    // Lists: same eligible candidates, same contributions. The text
    // criterion is compared in `same_events_in_other_batches_rank_alike`
    // (it depends on the index's history, crash or not).
    let mut compared = 0;
    for id in data.vacancy_ids.iter().take(10) {
        let request = pb::MatchCandidatesRequest {
            vacancy_id: id.clone(),
            limit: 500,
            ..Default::default()
        };
        let a = client
            .match_candidates(request.clone())
            .await
            .expect("MatchCandidates on the recovered node")
            .into_inner();
        let b = clean_client
            .match_candidates(request)
            .await
            .expect("MatchCandidates on the clean node")
            .into_inner();
        assert_eq!(
            (a.considered, &a.excluded),
            (b.considered, &b.excluded),
            "{id}"
        );
        let ids = |r: &pb::MatchCandidatesResponse| -> Vec<String> {
            let mut v: Vec<String> = r.matches.iter().map(|m| m.candidate_id.clone()).collect();
            v.sort();
            v
        };
        // A full list (under the cap) holds every eligible candidate; a
        // capped one is cut where text relevance decides, so only the
        // candidates on both are compared.
        let full = a.matches.len() < 500;
        if full {
            assert_eq!(ids(&a), ids(&b), "{id}: different eligible candidates");
        }
        let clean_by_id: std::collections::HashMap<&str, &pb::CandidateMatch> = b
            .matches
            .iter()
            .map(|m| (m.candidate_id.as_str(), m))
            .collect();
        for x in &a.matches {
            let Some(y) = clean_by_id.get(x.candidate_id.as_str()) else {
                continue;
            };
            assert_eq!(x.distance_km, y.distance_km);
            assert_eq!(x.contributions.len(), y.contributions.len());
            for (p, q) in x.contributions.iter().zip(&y.contributions) {
                assert_eq!(p.criterion, q.criterion);
                if p.criterion != "text" {
                    assert_eq!(
                        (p.contribution, &p.reason),
                        (q.contribution, &q.reason),
                        "{id}/{}: {} differs",
                        x.candidate_id,
                        p.criterion
                    );
                }
            }
        }
        compared += usize::from(full && !a.matches.is_empty());
    }
    assert!(compared > 0, "no complete non-empty list to compare");

    drop(client);
    drop(clean_client);
    server.stop_clean().await;
    clean.stop().expect("stopping the clean node");
}

/// The highest-named segment of a journal.
fn last_segment(data_dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(data_dir.join("journal"))
        .expect("journal dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segments.sort();
    segments.pop().expect("a journal segment")
}

fn append(path: &Path, bytes: &[u8]) -> u64 {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("opening the segment");
    let before = f.metadata().expect("metadata").len();
    f.write_all(bytes).expect("appending garbage");
    f.sync_all().expect("sync");
    before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_journal_tail_is_cut_on_restart() {
    let data = tokio::task::spawn_blocking(common::small_dataset)
        .await
        .expect("generating the small dataset");
    let events = &data.events;
    // A third of the stream, and at least a few vacancies.
    let published: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(
                &e.payload,
                Some(Payload::Vacancy(ev::VacancyEvent {
                    kind: Some(ev::vacancy_event::Kind::Published(_))
                }))
            )
        })
        .map(|(i, _)| i)
        .collect();
    let first = (events.len() / 3).max(published.get(20).map_or(0, |i| i + 1));
    assert!(
        first + 1_200 <= events.len(),
        "too few events for this test"
    );
    let vacancies: Vec<String> = published
        .iter()
        .take_while(|i| **i < first)
        .map(|i| events[*i].entity_id.clone())
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let node_dir = dir.path().join("node");
    let log = dir.path().join("server.log");

    // Clean stop, then random bytes after the last record.
    let (mut server, mut client) = Server::start(&node_dir, data.today, &log).await;
    common::ingest_all(&mut client, &events[..first], 500).await;
    // A vacancy already published, with a non-empty list if there is one.
    // Every list issued is recorded in the lists journal, so each moves it
    // and not the events journal.
    let mut lists_issued = 0;
    let mut vacancy = String::new();
    let mut list_before = pb::MatchCandidatesResponse::default();
    for id in &vacancies {
        let r = client
            .match_candidates(pb::MatchCandidatesRequest {
                vacancy_id: id.clone(),
                ..Default::default()
            })
            .await
            .expect("MatchCandidates")
            .into_inner();
        lists_issued += 1;
        if vacancy.is_empty() || list_before.matches.is_empty() {
            vacancy = id.clone();
            list_before = r;
        }
    }
    assert!(
        !vacancy.is_empty(),
        "no vacancy among the first {first} events"
    );
    let before = common::status(&mut client).await;
    assert_eq!(before.journal_position, first as u64);
    assert_eq!(before.lists_journal_position, lists_issued as u64);
    drop(client);
    server.stop_clean().await;
    let segment = last_segment(&node_dir);
    let garbage: Vec<u8> = (0..977u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let good_len = append(&segment, &garbage);

    (server, client) = Server::start(&node_dir, data.today, &log).await;
    let after = common::status(&mut client).await;
    assert_eq!(
        after.journal_position, before.journal_position,
        "position moved"
    );
    assert_eq!(
        after.lists_journal_position, before.lists_journal_position,
        "lists position moved"
    );
    assert_eq!(after.state_digest, before.state_digest, "state changed");
    assert_eq!(
        std::fs::metadata(&segment).expect("segment").len(),
        good_len,
        "the garbage was not cut"
    );
    let list_after = client
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: vacancy.clone(),
            ..Default::default()
        })
        .await
        .expect("MatchCandidates after recovery")
        .into_inner();
    lists_issued += 1;
    assert_eq!(
        common::list_key(&list_after),
        common::list_key(&list_before)
    );

    // It goes on ingesting after the cut...
    let second = first + 1_000;
    let position = common::ingest_all(&mut client, &events[first..second], 250).await;
    assert_eq!(position, second as u64);
    let before = common::status(&mut client).await;

    // ...and a torn frame after a kill -9 (header promising more than is
    // there, wrong checksum) is cut too, with nothing acknowledged lost.
    drop(client);
    server.kill_9();
    let segment = last_segment(&node_dir);
    let mut torn = Vec::new();
    torn.extend_from_slice(&64u32.to_le_bytes());
    torn.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    torn.extend_from_slice(b"half a record");
    let good_len = append(&segment, &torn);

    (server, client) = Server::start(&node_dir, data.today, &log).await;
    let after = common::status(&mut client).await;
    assert_eq!(after.journal_position, second as u64);
    assert_eq!(after.lists_journal_position, lists_issued as u64);
    assert_eq!(after.state_digest, before.state_digest);
    assert_eq!(
        std::fs::metadata(&segment).expect("segment").len(),
        good_len
    );
    let third = second + 200;
    let position = common::ingest_all(&mut client, &events[second..third], 200).await;
    assert_eq!(position, third as u64);
    client
        .search_vacancies(pb::SearchVacanciesRequest {
            query: "addetto".into(),
            limit: 5,
        })
        .await
        .expect("SearchVacancies after recovery");
    drop(client);
    server.stop_clean().await;
}

/// Lists are recorded in the lists journal, apart from the events: every
/// list answered before a kill -9 (some recorded before a snapshot, some
/// after it, some while an ingest call was in flight) is in the recovered
/// state, and none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_list() {
    let data = tokio::task::spawn_blocking(common::small_dataset)
        .await
        .expect("generating the small dataset");
    let events = &data.events;
    let published: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(
                &e.payload,
                Some(Payload::Vacancy(ev::VacancyEvent {
                    kind: Some(ev::vacancy_event::Kind::Published(_))
                }))
            )
        })
        .map(|(i, _)| i)
        .collect();
    // A third of the stream, and at least ten vacancies.
    let first = (events.len() / 3).max(published.get(9).map_or(0, |i| i + 1));
    assert!(
        first + 1_000 <= events.len(),
        "too few events for this test"
    );
    let vacancies: Vec<String> = published
        .iter()
        .take_while(|i| **i < first)
        .take(10)
        .map(|i| events[*i].entity_id.clone())
        .collect();
    assert!(vacancies.len() >= 5, "too few vacancies for this test");
    let dir = tempfile::tempdir().expect("tempdir");
    let node_dir = dir.path().join("node");
    let log = dir.path().join("server.log");
    async fn list(client: &mut Client, vacancy: &str) -> Result<String, tonic::Status> {
        client
            .match_candidates(pb::MatchCandidatesRequest {
                vacancy_id: vacancy.to_owned(),
                limit: 20,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().list_id)
    }

    let (mut server, mut client) = Server::start(&node_dir, data.today, &log).await;
    common::ingest_all(&mut client, &events[..first], 500).await;
    let mut acknowledged = 0u64;
    for v in &vacancies {
        list(&mut client, v).await.expect("MatchCandidates");
        acknowledged += 1;
    }
    // The clean stop's snapshot holds these lists...
    drop(client);
    server.stop_clean().await;
    (server, client) = Server::start(&node_dir, data.today, &log).await;
    let s = common::status(&mut client).await;
    assert_eq!(s.lists_journal_position, acknowledged);
    assert_eq!(s.journal_position, first as u64);
    // ...these come after it...
    for v in &vacancies {
        list(&mut client, v).await.expect("MatchCandidates");
        acknowledged += 1;
    }
    // ...and these are asked while an ingest call is in flight, until the
    // process dies.
    let asking = {
        let mut client = client.clone();
        let vacancies = vacancies.clone();
        tokio::spawn(async move {
            let mut answered = 0u64;
            for v in vacancies.iter().cycle() {
                match list(&mut client, v).await {
                    Ok(_) => answered += 1,
                    Err(_) => return answered,
                }
            }
            answered
        })
    };
    let ingesting = {
        let mut client = client.clone();
        let flight = events[first..first + 1_000].to_vec();
        tokio::spawn(async move { common::ingest(&mut client, &flight).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill_9();
    let in_flight = tokio::time::timeout(DEADLINE, asking)
        .await
        .expect("the lists in flight ended")
        .expect("the list task");
    let _ = tokio::time::timeout(DEADLINE, ingesting)
        .await
        .expect("the ingest call in flight ended");
    acknowledged += in_flight;
    drop(client);

    (server, client) = Server::start(&node_dir, data.today, &log).await;
    let s = common::status(&mut client).await;
    eprintln!(
        "{acknowledged} lists acknowledged ({in_flight} while the process was killed), \
         {} recovered",
        s.lists_journal_position
    );
    assert!(
        s.lists_journal_position >= acknowledged,
        "acknowledged {acknowledged} lists, the lists journal holds {}",
        s.lists_journal_position
    );
    // Every journaled event and list folded exactly once.
    assert_eq!(
        s.events_applied + s.events_ignored,
        s.journal_position + s.lists_journal_position
    );
    let outcomes = client
        .get_outcomes(pb::GetOutcomesRequest::default())
        .await
        .expect("GetOutcomes")
        .into_inner();
    assert_eq!(
        outcomes.overall.map(|o| o.lists),
        Some(s.lists_journal_position),
        "every recorded list counted once"
    );
    // A clean stop and restart (from the snapshot) holds the same state.
    drop(client);
    server.stop_clean().await;
    (server, client) = Server::start(&node_dir, data.today, &log).await;
    let again = common::status(&mut client).await;
    assert_eq!(again.state_digest, s.state_digest);
    assert_eq!(again.lists_journal_position, s.lists_journal_position);
    drop(client);
    server.stop_clean().await;
}

/// Two nodes fed the same events, in calls of different sizes, hold the same
/// state and must give the same lists, text relevance included: a list must
/// not depend on how the events were batched, or on a crash and recovery
/// (which re-indexes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_events_in_other_batches_rank_alike() {
    let data = tokio::task::spawn_blocking(common::small_dataset)
        .await
        .expect("generating the small dataset");
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let mut nodes = Vec::new();
    for dir in &dirs {
        std::fs::write(dir.path().join("pseudonym.key"), [7u8; 32]).expect("key");
        let options = common::node_options(dir.path(), data.today);
        nodes.push(
            tokio::task::spawn_blocking(move || ServerThread::start(options))
                .await
                .expect("starting a node"),
        );
    }
    let mut a = common::client(nodes[0].addr).await;
    let mut b = common::client(nodes[1].addr).await;
    common::ingest_all(&mut a, &data.events, CALL).await;
    common::ingest_all(&mut b, &data.events, data.events.len()).await;
    let (sa, sb) = (common::status(&mut a).await, common::status(&mut b).await);
    assert_eq!(
        sa.state_digest, sb.state_digest,
        "same events, different states"
    );
    let mut compared = 0;
    for id in data.vacancy_ids.iter().take(10) {
        let request = pb::MatchCandidatesRequest {
            vacancy_id: id.clone(),
            limit: 100,
            ..Default::default()
        };
        let x = a
            .match_candidates(request.clone())
            .await
            .expect("MatchCandidates")
            .into_inner();
        let y = b
            .match_candidates(request)
            .await
            .expect("MatchCandidates")
            .into_inner();
        for (p, q) in x.matches.iter().zip(&y.matches) {
            let text = |m: &pb::CandidateMatch| {
                m.contributions
                    .iter()
                    .find(|c| c.criterion == "text")
                    .map(|c| c.contribution)
            };
            assert!(
                p.candidate_id == q.candidate_id && (p.score - q.score).abs() <= 1e-9,
                "{id} rank {}: {} {} (text {:?}) after calls of {CALL}, {} {} (text {:?}) \
                 after one call: text relevance depends on the index's history",
                p.rank,
                p.candidate_id,
                p.score,
                text(p),
                q.candidate_id,
                q.score,
                text(q)
            );
        }
        assert_eq!(x.matches.len(), y.matches.len(), "{id}");
        compared += usize::from(!x.matches.is_empty());
    }
    assert!(compared > 0, "no non-empty list to compare");
    drop((a, b));
    for node in nodes {
        node.stop().expect("stopping a node");
    }
}
