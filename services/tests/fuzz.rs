//! Every RPC called with hostile requests through a real client over TCP:
//! ids real and invented, control characters, huge strings, extreme
//! numbers. Each answer must be a decision about the request (OK,
//! INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED,
//! RESOURCE_EXHAUSTED), never INTERNAL, UNKNOWN or a dropped connection, and
//! the node must still answer afterwards. A fixed seed keeps CI repeatable;
//! more calls by hand: `FUZZ_CALLS=20000 cargo test -p incontra-services
//! --release --test fuzz`.

mod common;

use common::{client, small_dataset, Client, ServerThread};
use incontra_proto::events::v1 as ev;
use incontra_proto::matching::v1 as pb;
use rand::{Rng, SeedableRng};
use tonic::Code;

struct Pool {
    vacancies: Vec<String>,
    candidates: Vec<String>,
}

fn text(rng: &mut impl Rng, pool: &[String]) -> String {
    match rng.random_range(0..9) {
        0 => String::new(),
        1 => "\0\u{7}".to_owned(),
        2 => "x".repeat(rng.random_range(100..100_000)),
        3 => "   ".to_owned(),
        4 => "TO01".to_owned(),
        5 => "RSSMRA85T10A562S".to_owned(),
        6 => "𝕏é'\";--".to_owned(),
        _ => pool[rng.random_range(0..pool.len())].clone(),
    }
}

fn number(rng: &mut impl Rng) -> i64 {
    match rng.random_range(0..6) {
        0 => 0,
        1 => -1,
        2 => i64::from(i32::MAX),
        3 => i64::from(i32::MIN),
        4 => rng.random_range(0..1_000),
        _ => rng.random(),
    }
}

fn requester(rng: &mut impl Rng, pool: &[String]) -> Option<ev::Requester> {
    rng.random_bool(0.7).then(|| ev::Requester {
        user_id: text(rng, pool),
        cpi_code: text(rng, pool),
        channel: text(rng, pool),
        campaign_id: text(rng, pool),
        purpose: text(rng, pool),
    })
}

/// One call of RPC `which` with a random request; the status it ended with.
async fn call(c: &mut Client, which: u32, rng: &mut impl Rng, p: &Pool) -> (String, Code) {
    let v = &p.vacancies;
    let k = &p.candidates;
    let (name, result) = match which {
        0 => (
            "SearchVacancies",
            c.search_vacancies(pb::SearchVacanciesRequest {
                query: text(rng, v),
                limit: number(rng) as u32,
            })
            .await
            .map(|_| ()),
        ),
        1 => (
            "MatchCandidates",
            c.match_candidates(pb::MatchCandidatesRequest {
                vacancy_id: text(rng, v),
                limit: number(rng) as u32,
                cpi_codes: (0..rng.random_range(0..3)).map(|_| text(rng, v)).collect(),
                max_distance_km: number(rng) as u32,
                min_score: [0.0, 0.5, -1.0, f64::NAN, 2.0][rng.random_range(0..5)],
                include_personal_data: rng.random(),
                only_congrua: rng.random(),
                requester: requester(rng, v),
                count_exclusions: rng.random_bool(0.1),
            })
            .await
            .map(|_| ()),
        ),
        2 => (
            "MatchVacancies",
            c.match_vacancies(pb::MatchVacanciesRequest {
                candidate_id: text(rng, k),
                limit: number(rng) as u32,
                only_congrua: rng.random(),
                requester: requester(rng, k),
                count_exclusions: rng.random_bool(0.1),
            })
            .await
            .map(|_| ()),
        ),
        3 => (
            "Explain",
            c.explain(pb::ExplainRequest {
                vacancy_id: text(rng, v),
                candidate_id: text(rng, k),
                requester: requester(rng, k),
            })
            .await
            .map(|_| ()),
        ),
        4 => (
            "GetStatus",
            c.get_status(pb::GetStatusRequest {
                include_digest: rng.random_bool(0.05),
            })
            .await
            .map(|_| ()),
        ),
        5 => (
            "GetOutcomes",
            c.get_outcomes(pb::GetOutcomesRequest {
                from_day: number(rng) as i32,
                to_day: number(rng) as i32,
                window_days: number(rng) as u32,
            })
            .await
            .map(|_| ()),
        ),
        6 => (
            "GetAccessLog",
            c.get_access_log(pb::GetAccessLogRequest {
                candidate_id: text(rng, k),
                from_ms: number(rng),
                to_ms: number(rng),
                limit: number(rng) as u32,
            })
            .await
            .map(|_| ()),
        ),
        7 => (
            "GetIssuedList",
            c.get_issued_list(pb::GetIssuedListRequest {
                list_id: text(rng, k),
                requester: requester(rng, k),
            })
            .await
            .map(|_| ()),
        ),
        8 => (
            "Ingest",
            c.ingest(tokio_stream::iter(vec![ev::Envelope {
                event_id: text(rng, k),
                entity_id: text(rng, k),
                entity_version: number(rng) as u64,
                occurred_at_ms: number(rng),
                source: text(rng, k),
                schema_version: rng.random_range(0..3),
                payload: None,
            }]))
            .await
            .map(|_| ()),
        ),
        _ => (
            "ErasePerson",
            // Never a real person: the pool's ids would erase the world
            // the other calls fuzz.
            c.erase_person(pb::ErasePersonRequest {
                candidate_id: format!("nobody-{}", text(rng, &["x".to_owned()])),
                codice_fiscale: String::new(),
                reason: text(rng, k),
            })
            .await
            .map(|_| ()),
        ),
    };
    let code = match result {
        Ok(()) => Code::Ok,
        Err(s) => s.code(),
    };
    (name.to_owned(), code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_hostile_requests_with_a_decision() {
    let data = small_dataset();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = incontra_services::node::NodeOptions::new(dir.path());
    options.as_of = Some(data.today);
    // Every call reaches its handler (the limiter has its own test).
    options.rate_limit = incontra_services::ratelimit::RateLimit {
        per_second: 0.0,
        burst: 0.0,
    };
    let server = ServerThread::start(options);
    let mut c = client(server.addr).await;
    common::ingest_all(&mut c, &data.events, 2_000).await;
    let pool = Pool {
        vacancies: data.vacancy_ids.clone(),
        candidates: data.candidate_ids.clone(),
    };
    let calls: u32 = std::env::var("FUZZ_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
    let decisions = [
        Code::Ok,
        Code::InvalidArgument,
        Code::NotFound,
        Code::FailedPrecondition,
        Code::PermissionDenied,
        Code::ResourceExhausted,
    ];
    for i in 0..calls {
        let which = rng.random_range(0..10);
        let (name, code) = call(&mut c, which, &mut rng, &pool).await;
        assert!(
            decisions.contains(&code),
            "call {i}: {name} ended with {code:?}, not a decision about the request"
        );
    }
    // Still answering.
    c.get_status(pb::GetStatusRequest::default())
        .await
        .expect("the node still answers");
    server.stop().expect("clean stop");
}
