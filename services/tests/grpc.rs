//! The gRPC API end to end: an in-process node served on 127.0.0.1:0, driven
//! by real tonic clients over TCP.
//!
//! All tests share one node loaded with `GeneratorConfig::small()` (loading
//! it is the expensive part) and take turns through `TURN`, so a test that
//! ingests never changes the data under another test's feet.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use common::{Client, Dataset, ServerThread, DEADLINE};
use incontra_engine::codice_fiscale::{generate, generate_partita_iva, CodiceFiscale};
use incontra_engine::reference::haversine_km;
use incontra_indexer::text_index::analyse;
use incontra_proto::events::v1::{self as ev, envelope::Payload, Envelope};
use incontra_proto::matching::v1 as pb;
use tonic::Code;

struct Fixture {
    server: ServerThread,
    data: &'static Dataset,
    /// Responses of the calls that loaded the generated events.
    load: Vec<pb::IngestResponse>,
    /// GetStatus right after loading.
    loaded_status: pb::GetStatusResponse,
    /// An open vacancy with the longest preselection list among those tried.
    best_vacancy: String,
    /// Latest published/updated spec of every generated vacancy.
    specs: HashMap<String, ev::Vacancy>,
    /// Largest entity_version per entity in the generated stream.
    versions: HashMap<String, u64>,
    _dir: PathBuf,
}

static FIXTURE: tokio::sync::OnceCell<Fixture> = tokio::sync::OnceCell::const_new();
/// Serialises the tests: they share one node.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Events per `Ingest` call when loading the generated data.
const LOAD_CALL: usize = 3_000;

async fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(load_fixture).await
}

async fn load_fixture() -> Fixture {
    let data = tokio::task::spawn_blocking(common::small_dataset)
        .await
        .expect("generating the small dataset");
    // Under target/tmp: the shared node lives as long as the test process,
    // so its directory cannot be removed by a destructor. Clear old ones.
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("incontra-grpc-tests");
    std::fs::create_dir_all(&base).expect("creating the test data base dir");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3_600));
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("node-")
        .tempdir_in(&base)
        .expect("tempdir")
        .keep();
    let options = common::node_options(&dir, data.today);
    let server = tokio::task::spawn_blocking(move || ServerThread::start(options))
        .await
        .expect("starting the server");
    let mut client = common::client(server.addr).await;

    let mut load = Vec::new();
    for chunk in data.events.chunks(LOAD_CALL) {
        load.push(common::ingest(&mut client, chunk).await.expect("Ingest"));
    }
    let loaded_status = common::status(&mut client).await;

    let mut specs = HashMap::new();
    for e in &data.events {
        if let Some(Payload::Vacancy(ev::VacancyEvent {
            kind:
                Some(
                    ev::vacancy_event::Kind::Published(spec)
                    | ev::vacancy_event::Kind::Updated(spec),
                ),
        })) = &e.payload
        {
            specs.insert(e.entity_id.clone(), spec.clone());
        }
    }

    // The vacancy with the most eligible candidates among the first ones.
    let mut best: Option<(usize, String)> = None;
    for id in data.vacancy_ids.iter().take(40) {
        let r = client
            .match_candidates(pb::MatchCandidatesRequest {
                vacancy_id: id.clone(),
                limit: 500,
                ..Default::default()
            })
            .await
            .expect("MatchCandidates")
            .into_inner();
        if best.as_ref().is_none_or(|(n, _)| r.matches.len() > *n) {
            best = Some((r.matches.len(), id.clone()));
        }
    }
    let (_, best_vacancy) = best.expect("at least one vacancy");

    Fixture {
        server,
        data,
        load,
        loaded_status,
        best_vacancy,
        specs,
        versions: common::max_versions(&data.events),
        _dir: dir,
    }
}

async fn client(f: &Fixture) -> Client {
    common::client(f.server.addr).await
}

async fn candidates(
    client: &mut Client,
    vacancy_id: &str,
    limit: u32,
    personal: bool,
) -> pb::MatchCandidatesResponse {
    client
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: vacancy_id.to_owned(),
            limit,
            include_personal_data: personal,
            ..Default::default()
        })
        .await
        .expect("MatchCandidates")
        .into_inner()
}

async fn explain(client: &mut Client, vacancy_id: &str, candidate_id: &str) -> pb::ExplainResponse {
    client
        .explain(pb::ExplainRequest {
            vacancy_id: vacancy_id.to_owned(),
            candidate_id: candidate_id.to_owned(),
            requester: None,
        })
        .await
        .expect("Explain")
        .into_inner()
}

/// Contributions add up to the score, each explained in a sentence.
fn check_contributions(what: &str, score: f64, contributions: &[pb::Contribution]) {
    // The fit is in [0,1]; target-group boosts come on top of it.
    let boosts: f64 = contributions
        .iter()
        .filter(|c| c.criterion.starts_with("boost_"))
        .map(|c| c.contribution)
        .sum();
    assert!(
        (0.0..=1.0).contains(&(score - boosts)),
        "{what}: fit score {} outside [0,1]",
        score - boosts
    );
    assert!(!contributions.is_empty(), "{what}: no contributions");
    let sum: f64 = contributions.iter().map(|c| c.contribution).sum();
    assert!(
        (sum - score).abs() <= 1e-9,
        "{what}: contributions sum to {sum}, score is {score}"
    );
    for c in contributions {
        assert!(!c.criterion.is_empty(), "{what}: unnamed criterion");
        assert!(
            c.reason.trim().chars().any(char::is_alphabetic),
            "{what}: criterion {} has no reason",
            c.criterion
        );
        assert!(
            (0.0..=1.0).contains(&c.similarity),
            "{what}: {} similarity {} outside [0,1]",
            c.criterion,
            c.similarity
        );
        assert!(
            c.contribution >= 0.0 && c.weight >= 0.0,
            "{what}: {} negative contribution or weight",
            c.criterion
        );
    }
    let mut names: Vec<&str> = contributions.iter().map(|c| c.criterion.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        contributions.len(),
        "{what}: a criterion appears twice"
    );
}

/// Scores never increase down a list; ranks are 1..=n.
fn check_order<'a>(what: &str, scores: impl Iterator<Item = (u32, f64)> + 'a) {
    let mut previous = f64::INFINITY;
    for (i, (rank, score)) in scores.enumerate() {
        assert_eq!(rank as usize, i + 1, "{what}: rank of item {i}");
        assert!(
            score <= previous,
            "{what}: score {score} at rank {rank} above {previous} of the rank before"
        );
        previous = score;
    }
}

fn envelope(event_id: &str, entity_id: &str, version: u64, payload: Payload) -> Envelope {
    Envelope {
        event_id: event_id.to_owned(),
        entity_id: entity_id.to_owned(),
        entity_version: version,
        occurred_at_ms: 1_700_000_000_000,
        source: "TEST".to_owned(),
        schema_version: 1,
        payload: Some(payload),
    }
}

/// A generated registration, to copy a realistic profile from.
fn registration_template(data: &Dataset) -> ev::CandidacyRegistered {
    data.events
        .iter()
        .find_map(|e| match &e.payload {
            Some(Payload::Candidacy(ev::CandidacyEvent {
                kind: Some(ev::candidacy_event::Kind::Registered(r)),
            })) => Some(r.clone()),
            _ => None,
        })
        .expect("a generated registration")
}

fn test_cf(family: &str, given: &str, day: u32) -> String {
    generate(family, given, 1984, 6, day, false, "L219")
        .expect("test codice fiscale")
        .as_str()
        .to_owned()
}

fn registration(
    data: &Dataset,
    event_id: &str,
    candidate_id: &str,
    cf: &str,
    domicile: &str,
    max_km: u32,
) -> Envelope {
    let mut r = registration_template(data);
    let personal = r.personal.get_or_insert_with(Default::default);
    personal.codice_fiscale = cf.to_owned();
    personal.given_name = "Test".into();
    personal.family_name = "Prova".into();
    let profile = r.profile.get_or_insert_with(Default::default);
    profile.domicile_comune = domicile.to_owned();
    profile.max_distance_km = max_km;
    profile.accepted_contracts.clear();
    profile.min_hours_percent = 0;
    profile.max_hours_percent = 100;
    r.protected_category = ev::ProtectedCategory::None as i32;
    envelope(
        event_id,
        candidate_id,
        1,
        Payload::Candidacy(ev::CandidacyEvent {
            kind: Some(ev::candidacy_event::Kind::Registered(r)),
        }),
    )
}

fn employer() -> ev::Employer {
    ev::Employer {
        fiscal_code: generate_partita_iva(1_234_567_890),
        name: "Officine Prova S.r.l.".into(),
        ateco_code: "25.62.00".into(),
        employees: 40,
    }
}

fn co(
    event_id: &str,
    cf: &str,
    version: u64,
    code: &str,
    quadro: ev::comunicazione_obbligatoria::Quadro,
) -> Envelope {
    envelope(
        event_id,
        cf,
        version,
        Payload::Co(ev::ComunicazioneObbligatoria {
            code: code.to_owned(),
            previous_code: String::new(),
            action: ev::CoAction::Original as i32,
            datore: Some(employer()),
            workplace_comune: "001272".into(),
            lavoratore_codice_fiscale: cf.to_owned(),
            lavoratore_pseudonym: String::new(),
            quadro: Some(quadro),
        }),
    )
}

// ---------------------------------------------------------------- loading

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_accepts_every_generated_event() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let sent = f.data.events.len() as u64;
    let accepted: u64 = f.load.iter().map(|r| r.accepted).sum();
    let rejected: Vec<&pb::Rejection> = f.load.iter().flat_map(|r| &r.rejected).collect();
    assert!(
        rejected.is_empty(),
        "{} generated events rejected, e.g. {:?}",
        rejected.len(),
        &rejected[..rejected.len().min(5)]
    );
    assert_eq!(accepted, sent, "accepted events");
    assert_eq!(f.load.len(), f.data.events.len().div_ceil(LOAD_CALL));
    assert_eq!(
        f.load.last().map(|r| r.journal_position),
        Some(sent),
        "journal position after the last call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_match_the_generated_data() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let s = &f.loaded_status;
    let sent = f.data.events.len() as u64;
    assert_eq!(s.journal_position, sent);
    assert_eq!(s.events_applied + s.events_ignored, sent);
    assert!(s.vacancies > 0 && s.candidates > 0, "{s:?}");
    assert_eq!(s.vacancies, f.data.vacancy_ids.len() as u64, "vacancies");
    assert_eq!(
        s.candidates,
        f.data.candidate_ids.len() as u64,
        "candidates"
    );
    assert!(
        s.open_vacancies > 0 && s.open_vacancies <= s.vacancies,
        "{s:?}"
    );
    assert!(
        s.available_candidates > 0 && s.available_candidates <= s.candidates,
        "{s:?}"
    );
    let workers: HashSet<String> = f
        .data
        .events
        .iter()
        .filter_map(|e| match &e.payload {
            Some(Payload::Co(co)) => Some(co.lavoratore_codice_fiscale.to_ascii_uppercase()),
            _ => None,
        })
        .collect();
    assert_eq!(
        s.employment_records,
        workers.len() as u64,
        "one employment record per worker named in a CO"
    );
    assert!(!s.version.is_empty());
    assert_eq!(s.state_digest.len(), 32, "digest {:?}", s.state_digest);
    assert!(s.state_digest.bytes().all(|b| b.is_ascii_hexdigit()));
    // The digest is a full pass over the state: only on request.
    let mut c = client(f).await;
    let cheap = c
        .get_status(pb::GetStatusRequest {
            include_digest: false,
        })
        .await
        .expect("GetStatus")
        .into_inner();
    assert!(cheap.state_digest.is_empty(), "{:?}", cheap.state_digest);
    assert!(cheap.journal_position >= s.journal_position);
    // The generator's ids are the ones the state holds.
    let first = f.data.candidate_ids.first().expect("a candidate");
    c.match_vacancies(pb::MatchVacanciesRequest {
        candidate_id: first.clone(),
        limit: 1,
        only_congrua: false,
        ..Default::default()
    })
    .await
    .expect("MatchVacancies for a generated candidate");
}

// ------------------------------------------------------ health, reflection

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut health = HealthClient::new(common::channel(f.server.addr).await);
    for service in ["", "incontra.match.v1.MatchService"] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("health check of {service:?}: {e}"))
            .into_inner();
        assert_eq!(
            r.status,
            ServingStatus::Serving as i32,
            "health of {service:?}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect_err("an unknown service has no health");
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut reflection = ServerReflectionClient::new(common::channel(f.server.addr).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("ServerReflectionInfo")
        .into_inner();
    let response = tokio::time::timeout(DEADLINE, responses.message())
        .await
        .expect("reflection answer in time")
        .expect("reflection stream")
        .expect("one reflection answer");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!(
            "unexpected reflection answer {:?}",
            response.message_response
        );
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in ["incontra.match.v1.MatchService", "grpc.health.v1.Health"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
}

// ------------------------------------------------------------------ search

/// A plural of an Italian word by its ending, where the rule is regular.
fn plural(word: &str) -> Option<String> {
    let lower = word.to_lowercase();
    let mut chars: Vec<char> = lower.chars().collect();
    let last = chars.pop()?;
    let before = *chars.last()?;
    if matches!(before, 'c' | 'g' | 'i') || chars.len() < 4 {
        return None;
    }
    let replaced = match last {
        'o' | 'e' => 'i',
        'a' => 'e',
        _ => return None,
    };
    chars.push(replaced);
    Some(chars.into_iter().collect())
}

fn strip_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'à' | 'á' => 'a',
            'è' | 'é' => 'e',
            'ì' | 'í' => 'i',
            'ò' | 'ó' => 'o',
            'ù' | 'ú' => 'u',
            'À' => 'A',
            'È' | 'É' => 'E',
            'Ì' => 'I',
            'Ò' => 'O',
            'Ù' => 'U',
            c => c,
        })
        .collect()
}

async fn search(client: &mut Client, query: &str) -> Vec<pb::VacancySummary> {
    client
        .search_vacancies(pb::SearchVacanciesRequest {
            query: query.to_owned(),
            limit: 500,
        })
        .await
        .unwrap_or_else(|e| panic!("SearchVacancies {query:?}: {e}"))
        .into_inner()
        .vacancies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_a_vacancy_by_a_word_of_its_title() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let some_candidate = f.data.candidate_ids[0].clone();

    // Open vacancies, as the node judges them, with their title words.
    let mut open = Vec::new();
    for id in &f.data.vacancy_ids {
        let Some(spec) = f.specs.get(id) else {
            continue;
        };
        let e = explain(&mut c, id, &some_candidate).await;
        if e.filters.first().is_some_and(|v| v.passed) {
            open.push((id.clone(), spec.title.clone()));
        }
        if open.len() >= 30 {
            break;
        }
    }
    assert!(!open.is_empty(), "no open vacancy among the generated ones");

    let words = |title: &str| -> Vec<String> {
        title
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| w.chars().count() >= 5)
            .map(str::to_owned)
            .collect()
    };

    // A plain word, as written and in upper case.
    let (id, title) = &open[0];
    let word = words(title)
        .into_iter()
        .max_by_key(|w| w.chars().count())
        .unwrap_or_else(|| panic!("no searchable word in {title:?}"));
    for query in [word.clone(), word.to_uppercase()] {
        let hits = search(&mut c, &query).await;
        assert!(
            hits.iter().any(|h| &h.vacancy_id == id),
            "{query:?} did not find {id} «{title}» among {} hits",
            hits.len()
        );
        let mut previous = f64::INFINITY;
        for h in &hits {
            assert!(
                h.open_positions > 0,
                "closed vacancy {} in search",
                h.vacancy_id
            );
            assert!(!h.title.is_empty() && !h.comune_name.is_empty() && !h.province.is_empty());
            assert!(
                h.relevance > 0.0 && h.relevance <= previous,
                "relevance order"
            );
            previous = h.relevance;
        }
        let hit = hits.iter().find(|h| &h.vacancy_id == id).expect("found");
        assert_eq!(&hit.title, title);
    }

    // An inflected form (plural for singular or the reverse), in upper case.
    let inflected = open.iter().find_map(|(id, title)| {
        words(title).into_iter().find_map(|w| {
            let p = plural(&w)?;
            (analyse(&p) == analyse(&w)).then(|| (id.clone(), title.clone(), w, p))
        })
    });
    let (id, title, word, other) =
        inflected.expect("a title word with a regular Italian plural among open vacancies");
    let hits = search(&mut c, &other.to_uppercase()).await;
    assert!(
        hits.iter().any(|h| h.vacancy_id == id),
        "{:?} (inflection of {word:?}) did not find {id} «{title}»",
        other.to_uppercase()
    );

    // Accents folded, where a title has any.
    if let Some((id, title, word)) = open.iter().find_map(|(id, title)| {
        words(title)
            .into_iter()
            .find(|w| strip_accents(w) != *w)
            .map(|w| (id.clone(), title.clone(), w))
    }) {
        let hits = search(&mut c, &strip_accents(&word)).await;
        assert!(
            hits.iter().any(|h| h.vacancy_id == id),
            "{word:?} without accents did not find {id} «{title}»"
        );
    }

    assert!(
        search(&mut c, "zzzqqqxxyz").await.is_empty(),
        "nonsense matched"
    );
}

// ------------------------------------------------------------------- lists

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_candidates_is_ranked_explained_and_capped() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let v = &f.best_vacancy;

    let full = c
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: v.clone(),
            limit: 500,
            count_exclusions: true,
            ..Default::default()
        })
        .await
        .expect("MatchCandidates with exclusion counts")
        .into_inner();
    assert!(
        full.matches.len() >= 10,
        "the best of the tried vacancies, {v}, lists only {} candidates",
        full.matches.len()
    );
    check_order(
        "MatchCandidates",
        full.matches.iter().map(|m| (m.rank, m.score)),
    );
    for m in &full.matches {
        check_contributions(
            &format!("{v}/{}", m.candidate_id),
            m.score,
            &m.contributions,
        );
        assert!(m.distance_km >= 0.0);
        assert!(!m.cpi_code.is_empty(), "{} has no CPI", m.candidate_id);
    }
    let ids: HashSet<&str> = full
        .matches
        .iter()
        .map(|m| m.candidate_id.as_str())
        .collect();
    assert_eq!(ids.len(), full.matches.len(), "a candidate listed twice");
    assert!(full.personal_data.is_empty());
    // The list was computed on the state of every event journaled; its own
    // record went to the lists journal, not the events journal.
    let status = common::status(&mut c).await;
    assert_eq!(full.journal_position, status.journal_position);
    assert!(status.lists_journal_position >= 1, "{status:?}");
    assert!(full.list_id.starts_with('L'), "{}", full.list_id);
    // Counting scans everyone within reach; the list is the same without.
    let uncounted = candidates(&mut c, v, 500, false).await;
    assert_eq!(uncounted.matches, full.matches);
    assert_eq!(uncounted.considered, full.considered);
    assert!(uncounted.excluded.is_empty(), "{:?}", uncounted.excluded);
    let excluded: u64 = full.excluded.iter().map(|e| e.count).sum();
    if full.matches.len() < 500 {
        assert_eq!(
            full.considered,
            full.matches.len() as u64 + excluded,
            "considered = listed + excluded ({:?})",
            full.excluded
        );
    }

    // limit 0 = the default of 50; an oversized limit is served at 500.
    let default = candidates(&mut c, v, 0, false).await;
    assert_eq!(default.matches.len(), full.matches.len().min(50));
    assert_eq!(
        common::list_key(&default)[..],
        common::list_key(&full)[..default.matches.len()]
    );
    let huge = candidates(&mut c, v, 100_000, false).await;
    assert!(huge.matches.len() <= 500);
    assert_eq!(common::list_key(&huge), common::list_key(&full));

    // Personal data only on request, one per listed candidate, same order.
    let with = candidates(&mut c, v, 0, true).await;
    assert_eq!(common::list_key(&with), common::list_key(&default));
    let listed: Vec<&str> = with
        .matches
        .iter()
        .map(|m| m.candidate_id.as_str())
        .collect();
    let personal: Vec<&str> = with
        .personal_data
        .iter()
        .map(|p| p.candidate_id.as_str())
        .collect();
    assert_eq!(personal, listed);
    for p in &with.personal_data {
        CodiceFiscale::parse(&p.codice_fiscale)
            .unwrap_or_else(|e| panic!("{}: bad codice fiscale: {e}", p.candidate_id));
        assert!(!p.family_name.is_empty() || !p.given_name.is_empty());
    }

    // Request filters narrow the list.
    let cpi = full.matches[0].cpi_code.clone();
    let by_cpi = client(f)
        .await
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: v.clone(),
            limit: 500,
            cpi_codes: vec![cpi.clone()],
            ..Default::default()
        })
        .await
        .expect("MatchCandidates by CPI")
        .into_inner();
    assert!(!by_cpi.matches.is_empty());
    assert!(by_cpi.matches.iter().all(|m| m.cpi_code == cpi));
    let threshold = full.matches[full.matches.len() / 2].score;
    let above = c
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: v.clone(),
            limit: 500,
            min_score: threshold,
            max_distance_km: 30,
            ..Default::default()
        })
        .await
        .expect("MatchCandidates with min_score")
        .into_inner();
    assert!(above
        .matches
        .iter()
        .all(|m| m.score >= threshold - 1e-12 && m.distance_km <= 30.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_vacancies_is_ranked_and_explained() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let list = candidates(&mut c, &f.best_vacancy, 10, false).await;
    let candidate = list.matches[0].candidate_id.clone();
    let r = c
        .match_vacancies(pb::MatchVacanciesRequest {
            candidate_id: candidate.clone(),
            limit: 500,
            only_congrua: false,
            ..Default::default()
        })
        .await
        .expect("MatchVacancies")
        .into_inner();
    assert!(
        r.matches.iter().any(|m| m.vacancy_id == f.best_vacancy),
        "{candidate} is on the list of {} but {} is not among their {} vacancies",
        f.best_vacancy,
        f.best_vacancy,
        r.matches.len()
    );
    check_order(
        "MatchVacancies",
        r.matches.iter().map(|m| (m.rank, m.score)),
    );
    for m in &r.matches {
        check_contributions(
            &format!("{candidate}/{}", m.vacancy_id),
            m.score,
            &m.contributions,
        );
        assert!(!m.title.is_empty() && !m.comune.is_empty() && !m.employer.is_empty());
    }
    let default = c
        .match_vacancies(pb::MatchVacanciesRequest {
            candidate_id: candidate,
            limit: 0,
            only_congrua: false,
            ..Default::default()
        })
        .await
        .expect("MatchVacancies")
        .into_inner();
    assert_eq!(default.matches.len(), r.matches.len().min(50));
}

// ----------------------------------------------------------------- explain

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_agrees_with_the_list() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let v = &f.best_vacancy;
    let list = candidates(&mut c, v, 500, false).await;
    let n = list.matches.len();
    for m in [&list.matches[0], &list.matches[n / 2], &list.matches[n - 1]] {
        let e = explain(&mut c, v, &m.candidate_id).await;
        assert!(
            e.eligible,
            "{v}/{} listed but not eligible: {:?}",
            m.candidate_id, e.filters
        );
        assert!(!e.filters.is_empty());
        for filter in &e.filters {
            assert!(filter.passed, "{filter:?}");
            assert!(!filter.reason.is_empty(), "{filter:?}");
        }
        assert!(
            (e.score - m.score).abs() <= 1e-9,
            "{v}/{}: Explain says {}, the list {}",
            m.candidate_id,
            e.score,
            m.score
        );
        check_contributions("Explain", e.score, &e.contributions);
        let listed: HashMap<&str, f64> = m
            .contributions
            .iter()
            .map(|c| (c.criterion.as_str(), c.contribution))
            .collect();
        for c in &e.contributions {
            let l = listed
                .get(c.criterion.as_str())
                .copied()
                .unwrap_or(f64::NAN);
            assert!(
                (c.contribution - l).abs() <= 1e-9,
                "{}: {} vs {l}",
                c.criterion,
                c.contribution
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_the_failing_distance_filter() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let v = &f.best_vacancy;
    let workplace = f.specs[v].workplace_comune.clone();
    let reference = common::reference();
    let origin = reference.comune(&workplace).expect("workplace comune");
    let far = reference
        .comuni()
        .iter()
        .filter(|c| c.province != origin.province)
        .max_by(|a, b| {
            haversine_km(origin.lat, origin.lon, a.lat, a.lon)
                .total_cmp(&haversine_km(origin.lat, origin.lon, b.lat, b.lon))
        })
        .expect("a comune in another province");
    let cf = test_cf("Lontano", "Mario", 11);
    let id = "TEST-FAR-0001";
    let r = common::ingest(
        &mut c,
        &[registration(
            f.data,
            "test-far-registration",
            id,
            &cf,
            &far.istat_code,
            10,
        )],
    )
    .await
    .expect("Ingest");
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert_eq!((r.accepted, r.duplicates), (1, 0));

    let e = explain(&mut c, v, id).await;
    assert!(
        !e.eligible,
        "a candidate {} km away with a 10 km limit is eligible",
        { haversine_km(origin.lat, origin.lon, far.lat, far.lon) as u64 }
    );
    // Only distance fails, unless the post is reserved (the test candidate
    // is in no protected category).
    let mut expected = vec!["distance"];
    if f.specs[v].reserved_quota != ev::ReservedQuota::None as i32 {
        expected.push("reserved_quota");
    }
    let failed: Vec<&pb::FilterVerdict> = e.filters.iter().filter(|f| !f.passed).collect();
    let names: Vec<&str> = failed.iter().map(|f| f.filter.as_str()).collect();
    assert_eq!(names, expected, "{:?}", e.filters);
    for f in &failed {
        assert!(!f.reason.trim().is_empty(), "{f:?}");
    }
    assert!(failed[0].reason.contains("km"), "{:?}", failed[0].reason);
    for passed in ["vacancy_open", "availability"] {
        assert!(
            e.filters.iter().any(|f| f.filter == passed && f.passed),
            "{passed} not reported as passed: {:?}",
            e.filters
        );
    }
    // Even an ineligible pair says how close it came.
    assert!((0.0..=1.0).contains(&e.score));
    let list = candidates(&mut c, v, 500, false).await;
    assert!(list.matches.iter().all(|m| m.candidate_id != id));
}

// ------------------------------------------------- comunicazioni obbligatorie

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hire_removes_a_candidate_and_a_termination_brings_them_back() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let v = &f.best_vacancy;
    let today = f.data.today;
    let before = candidates(&mut c, v, 500, true).await;
    let chosen = &before.matches[0];
    let cf = before.personal_data[0].codice_fiscale.clone();
    assert_eq!(before.personal_data[0].candidate_id, chosen.candidate_id);
    let version = f
        .versions
        .get(&cf.to_ascii_uppercase())
        .copied()
        .unwrap_or(0);
    let profession = f.specs[v].profession_code.clone();

    let hire = co(
        "test-co-hire-1",
        &cf,
        version + 1,
        "TESTCO0000000001",
        ev::comunicazione_obbligatoria::Quadro::Assunzione(ev::Assunzione {
            start_day: today - 1,
            end_day: 0,
            contract_code: "A.01.00".into(),
            contract_type: ev::ContractType::Indeterminato as i32,
            profession_code: profession,
            ccnl: String::new(),
            hours_percent: 100,
        }),
    );
    let r = common::ingest(&mut c, &[hire]).await.expect("Ingest hire");
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert_eq!(
        (r.accepted, r.duplicates),
        (1, 0),
        "the hire was not applied"
    );

    let after = candidates(&mut c, v, 500, false).await;
    assert_eq!(after.journal_position, r.journal_position);
    assert!(
        after
            .matches
            .iter()
            .all(|m| m.candidate_id != chosen.candidate_id),
        "{} still listed after a full-time open-ended hire",
        chosen.candidate_id
    );
    let e = explain(&mut c, v, &chosen.candidate_id).await;
    assert!(!e.eligible);
    let availability = e
        .filters
        .iter()
        .find(|f| f.filter == "availability")
        .expect("availability verdict");
    assert!(!availability.passed, "{availability:?}");
    assert!(!availability.reason.is_empty());

    let end = co(
        "test-co-end-1",
        &cf,
        version + 2,
        "TESTCO0000000002",
        // The cessazione date is the last day worked: yesterday's frees the
        // worker today.
        ev::comunicazione_obbligatoria::Quadro::Cessazione(ev::Cessazione {
            day: today - 1,
            cause: "dimissioni".into(),
        }),
    );
    let r = common::ingest(&mut c, &[end])
        .await
        .expect("Ingest cessazione");
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert_eq!(
        (r.accepted, r.duplicates),
        (1, 0),
        "the cessazione was not applied"
    );
    let back = candidates(&mut c, v, 500, false).await;
    let again = back
        .matches
        .iter()
        .find(|m| m.candidate_id == chosen.candidate_id)
        .unwrap_or_else(|| {
            panic!(
                "{} not listed again after the cessazione",
                chosen.candidate_id
            )
        });
    assert!(
        (again.score - chosen.score).abs() <= 1e-9,
        "score {} before the hire, {} after the cessazione",
        chosen.score,
        again.score
    );
    assert!(explain(&mut c, v, &chosen.candidate_id).await.eligible);
}

// ----------------------------------------------------------------- refusals

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let status = result.expect_err("an invalid request was served");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains(field),
        "message {:?} does not name {field}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_arguments_are_refused_with_the_field_named() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let v = f.best_vacancy.clone();
    let candidate = f.data.candidate_ids[0].clone();
    assert_invalid(
        c.match_candidates(pb::MatchCandidatesRequest::default())
            .await,
        "vacancy_id",
    );
    assert_invalid(
        c.match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: "   ".into(),
            ..Default::default()
        })
        .await,
        "vacancy_id",
    );
    assert_invalid(
        c.match_vacancies(pb::MatchVacanciesRequest::default())
            .await,
        "candidate_id",
    );
    assert_invalid(
        c.search_vacancies(pb::SearchVacanciesRequest::default())
            .await,
        "query",
    );
    // An unknown CPI code used to answer an empty list.
    assert_invalid(
        c.match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: v.clone(),
            cpi_codes: vec!["TO01".into(), "XX99".into()],
            ..Default::default()
        })
        .await,
        "cpi_codes[1]",
    );
    assert_invalid(
        c.match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: v.clone(),
            requester: Some(ev::Requester {
                user_id: "x".repeat(129),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await,
        "requester.user_id",
    );
    assert_invalid(
        c.get_outcomes(pb::GetOutcomesRequest {
            from_day: 20_000,
            to_day: 19_000,
            window_days: 0,
        })
        .await,
        "from_day",
    );
    assert_invalid(
        c.get_outcomes(pb::GetOutcomesRequest {
            window_days: 100_000,
            ..Default::default()
        })
        .await,
        "window_days",
    );
    assert_invalid(
        c.explain(pb::ExplainRequest {
            vacancy_id: String::new(),
            candidate_id: candidate.clone(),
            requester: None,
        })
        .await,
        "vacancy_id",
    );
    assert_invalid(
        c.explain(pb::ExplainRequest {
            vacancy_id: v.clone(),
            candidate_id: String::new(),
            requester: None,
        })
        .await,
        "candidate_id",
    );
    for min_score in [2.0, -0.5, f64::NAN] {
        assert_invalid(
            c.match_candidates(pb::MatchCandidatesRequest {
                vacancy_id: v.clone(),
                min_score,
                ..Default::default()
            })
            .await,
            "min_score",
        );
    }

    let s = c
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: "NO-SUCH-VACANCY".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown vacancy served");
    assert_eq!(s.code(), Code::NotFound, "{s:?}");
    let s = c
        .explain(pb::ExplainRequest {
            vacancy_id: "NO-SUCH-VACANCY".into(),
            candidate_id: candidate.clone(),
            requester: None,
        })
        .await
        .expect_err("unknown vacancy explained");
    assert_eq!(s.code(), Code::NotFound, "{s:?}");
    let s = c
        .explain(pb::ExplainRequest {
            vacancy_id: v.clone(),
            candidate_id: "NO-SUCH-CANDIDATE".into(),
            requester: None,
        })
        .await
        .expect_err("unknown candidate explained");
    assert_eq!(s.code(), Code::NotFound, "{s:?}");
    let s = c
        .match_vacancies(pb::MatchVacanciesRequest {
            candidate_id: "NO-SUCH-CANDIDATE".into(),
            limit: 0,
            only_congrua: false,
            ..Default::default()
        })
        .await
        .expect_err("unknown candidate served");
    assert_eq!(s.code(), Code::NotFound, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_rejects_bad_events_one_by_one() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let before = common::status(&mut c).await;

    let good_cf = test_cf("Valido", "Luca", 12);
    let mut bad_cf = good_cf.clone();
    let check = bad_cf.pop().expect("check character");
    bad_cf.push(if check == 'A' { 'B' } else { 'A' });
    assert!(CodiceFiscale::parse(&bad_cf).is_err());

    let published = f
        .data
        .events
        .iter()
        .find(|e| {
            matches!(
                &e.payload,
                Some(Payload::Vacancy(ev::VacancyEvent {
                    kind: Some(ev::vacancy_event::Kind::Published(_))
                }))
            )
        })
        .expect("a generated publication");
    let mut good_vacancy = published.clone();
    good_vacancy.event_id = "test-reject-good-vacancy".into();
    good_vacancy.entity_id = "TEST-VAC-0001".into();
    good_vacancy.entity_version = 1;
    let mut unknown_comune = good_vacancy.clone();
    unknown_comune.event_id = "test-reject-unknown-comune".into();
    unknown_comune.entity_id = "TEST-VAC-0002".into();
    if let Some(Payload::Vacancy(ev::VacancyEvent {
        kind: Some(ev::vacancy_event::Kind::Published(spec)),
    })) = &mut unknown_comune.payload
    {
        spec.workplace_comune = "999999".into();
    }
    let domicile = f.specs[&f.best_vacancy].workplace_comune.clone();
    let bad_cf_event = registration(
        f.data,
        "test-reject-bad-cf",
        "TEST-CAND-0001",
        &bad_cf,
        &domicile,
        30,
    );
    let mut schema_2 = registration(
        f.data,
        "test-reject-schema-2",
        "TEST-CAND-0002",
        &test_cf("Futuro", "Anna", 13),
        &domicile,
        30,
    );
    schema_2.schema_version = 2;
    let good_candidate = registration(
        f.data,
        "test-reject-good-candidate",
        "TEST-CAND-0003",
        &good_cf,
        &domicile,
        30,
    );

    let stream = [
        good_vacancy,
        bad_cf_event,
        schema_2,
        unknown_comune,
        good_candidate,
    ];
    let r = common::ingest(&mut c, &stream).await.expect("Ingest");
    assert_eq!(r.accepted, 2, "{r:?}");
    assert_eq!(r.duplicates, 0);
    assert_eq!(r.journal_position, before.journal_position + 2);
    let got: Vec<(u64, &str)> = r
        .rejected
        .iter()
        .map(|x| (x.index, x.event_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "test-reject-bad-cf"),
            (2, "test-reject-schema-2"),
            (3, "test-reject-unknown-comune")
        ]
    );
    for (rejection, field) in
        r.rejected
            .iter()
            .zip(["codice_fiscale", "schema_version", "workplace_comune"])
    {
        assert!(
            rejection.reason.contains(field),
            "rejection {:?} does not name {field}",
            rejection.reason
        );
    }
    let after = common::status(&mut c).await;
    assert_eq!(after.vacancies, before.vacancies + 1);
    assert_eq!(after.candidates, before.candidates + 1);
    assert_eq!(after.events_applied, before.events_applied + 2);
    // Both valid events are queryable right away.
    c.match_candidates(pb::MatchCandidatesRequest {
        vacancy_id: "TEST-VAC-0001".into(),
        ..Default::default()
    })
    .await
    .expect("the accepted vacancy");
    c.match_vacancies(pb::MatchVacanciesRequest {
        candidate_id: "TEST-CAND-0003".into(),
        limit: 0,
        only_congrua: false,
        ..Default::default()
    })
    .await
    .expect("the accepted candidate");
    let s = c
        .match_vacancies(pb::MatchVacanciesRequest {
            candidate_id: "TEST-CAND-0001".into(),
            limit: 0,
            only_congrua: false,
            ..Default::default()
        })
        .await
        .expect_err("a rejected candidate exists");
    assert_eq!(s.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_acknowledged_as_a_duplicate() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let list_before = candidates(&mut c, &f.best_vacancy, 500, false).await;
    // After the list, which is itself recorded.
    let before = common::status(&mut c).await;

    let again = f.data.events[0].clone();
    let r = common::ingest(&mut c, &[again]).await.expect("Ingest");
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert_eq!((r.accepted, r.duplicates), (1, 1));
    assert_eq!(r.journal_position, before.journal_position + 1);

    let after = common::status(&mut c).await;
    assert_eq!(after.events_ignored, before.events_ignored + 1);
    assert_eq!(after.events_applied, before.events_applied);
    assert_eq!(after.journal_position, before.journal_position + 1);
    assert_eq!(
        (
            after.vacancies,
            after.open_vacancies,
            after.candidates,
            after.available_candidates,
            after.employment_records
        ),
        (
            before.vacancies,
            before.open_vacancies,
            before.candidates,
            before.available_candidates,
            before.employment_records
        )
    );
    let list_after = candidates(&mut c, &f.best_vacancy, 500, false).await;
    assert_eq!(
        common::list_key(&list_after),
        common::list_key(&list_before)
    );
    // One position for the duplicate; the first list's own record went to
    // the lists journal.
    assert_eq!(
        list_after.journal_position,
        list_before.journal_position + 1
    );
}

fn check_congruity(what: &str, c: &pb::Congruity) {
    assert!(!c.rule_pack.is_empty(), "{what}: no rule pack");
    assert!(!c.band.is_empty(), "{what}: no band");
    let names: Vec<&str> = c.criteria.iter().map(|v| v.criterion.as_str()).collect();
    for required in ["experience", "distance", "contract", "hours", "pay"] {
        assert!(
            names.contains(&required),
            "{what}: no {required} verdict in {names:?}"
        );
    }
    for v in &c.criteria {
        assert!(
            ["satisfied", "not_satisfied", "not_applicable"].contains(&v.verdict.as_str()),
            "{what}: verdict {}",
            v.verdict
        );
        assert!(
            v.reason.chars().any(char::is_alphabetic),
            "{what}: {} unexplained",
            v.criterion
        );
    }
    assert_eq!(
        c.congrua,
        c.criteria.iter().all(|v| v.verdict != "not_satisfied"),
        "{what}: congrua disagrees with its criteria"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_congrua_keeps_the_suitable_offers_and_says_why() {
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let mut narrowed_somewhere = false;
    for v in f.data.vacancy_ids.iter().take(40) {
        let all = candidates(&mut c, v, 500, false).await;
        let only = c
            .match_candidates(pb::MatchCandidatesRequest {
                vacancy_id: v.clone(),
                limit: 500,
                only_congrua: true,
                count_exclusions: true,
                ..Default::default()
            })
            .await
            .expect("MatchCandidates only_congrua")
            .into_inner();
        for m in &all.matches {
            let congruity = m
                .congruity
                .as_ref()
                .expect("every listed pair has a verdict");
            check_congruity(&format!("{v}/{}", m.candidate_id), congruity);
        }
        // The congrua list is the full list with the others taken out, in
        // the same order; they are counted, not silently dropped.
        let expected: Vec<&str> = all
            .matches
            .iter()
            .filter(|m| m.congruity.as_ref().is_some_and(|c| c.congrua))
            .map(|m| m.candidate_id.as_str())
            .collect();
        let got: Vec<&str> = only
            .matches
            .iter()
            .map(|m| m.candidate_id.as_str())
            .collect();
        if all.matches.len() < 500 {
            assert_eq!(got, expected, "{v}");
            let dropped = all.matches.len() - only.matches.len();
            let counted = only
                .excluded
                .iter()
                .find(|e| e.filter == "offerta_congrua")
                .map_or(0, |e| e.count);
            assert_eq!(counted as usize, dropped, "{v}: {:?}", only.excluded);
            narrowed_somewhere |= dropped > 0;
        }
        assert!(only
            .matches
            .iter()
            .all(|m| m.congruity.as_ref().is_some_and(|c| c.congrua)));

        // Explain gives the same verdict for a listed pair.
        if let Some(m) = all.matches.first() {
            let e = explain(&mut c, v, &m.candidate_id).await;
            assert_eq!(e.congruity, m.congruity, "{v}/{}", m.candidate_id);
        }
    }
    assert!(
        narrowed_somewhere,
        "no list had a non-congrua candidate to filter"
    );
}

/// Issue 16, through `Ingest`: a profile update sent before the
/// registration it follows waits for it (it used to be dropped and to make
/// the registration stale, so the person never existed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_sent_before_its_registration_is_applied_when_it_arrives() {
    // It adds people: not while another test compares before and after.
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let mut c = client(f).await;
    let cf = test_cf("Anticipo", "Anna", 3);
    let id = "TEST-EARLY-0001";
    let registered = registration(f.data, "test-early-registration", id, &cf, "001272", 25);
    let mut update = registered.clone();
    update.event_id = "test-early-update".into();
    update.entity_version = 2;
    if let Some(Payload::Candidacy(ev::CandidacyEvent {
        kind: Some(ev::candidacy_event::Kind::Registered(r)),
    })) = &registered.payload
    {
        let mut profile = r.profile.clone().expect("profile");
        profile.max_distance_km = 77;
        update.payload = Some(Payload::Candidacy(ev::CandidacyEvent {
            kind: Some(ev::candidacy_event::Kind::ProfileUpdated(profile)),
        }));
    }
    let r = common::ingest(&mut c, &[update.clone()])
        .await
        .expect("Ingest");
    assert_eq!(
        (r.accepted, r.waiting, r.rejected.len()),
        (1, 1, 0),
        "{r:?}"
    );
    // A retry of the same event while it waits is a duplicate, not a second wait.
    let r = common::ingest(&mut c, &[update]).await.expect("Ingest");
    assert_eq!((r.accepted, r.duplicates, r.waiting), (1, 1, 0), "{r:?}");
    let r = common::ingest(&mut c, &[registered]).await.expect("Ingest");
    assert_eq!((r.accepted, r.duplicates, r.ignored), (1, 0, 0), "{r:?}");
    let list = c
        .match_vacancies(pb::MatchVacanciesRequest {
            candidate_id: id.into(),
            limit: 5,
            ..Default::default()
        })
        .await
        .expect("the person exists")
        .into_inner();
    assert!(list.considered > 0, "{list:?}");
    let e = explain(&mut c, &f.best_vacancy, id).await;
    let distance = e
        .filters
        .iter()
        .find(|v| v.filter == "distance")
        .expect("the distance filter");
    assert!(
        distance.reason.contains("77"),
        "the update's limit, not the registration's: {}",
        distance.reason
    );
}

/// A gRPC codec that sends raw bytes as each message of a stream and reads
/// the answer as raw bytes: how a garbage frame reaches `Ingest`.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// Issue 16: a frame that is not an Envelope is `INVALID_ARGUMENT` naming
/// its position, and the good events before it in the same stream are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_frame_keeps_the_events_before_it_and_names_its_position() {
    // It adds people: not while another test compares before and after.
    let _turn = TURN.lock().await;
    let f = fixture().await;
    let channel = common::channel(f.server.addr).await;
    let mut grpc = tonic::client::Grpc::new(channel);
    let good: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let cf = test_cf("Spazzatura", "Gina", 20 + i);
            prost::Message::encode_to_vec(&registration(
                f.data,
                &format!("test-garbage-{i}"),
                &format!("TEST-GARBAGE-{i}"),
                &cf,
                "001272",
                20,
            ))
        })
        .collect();
    let mut frames = good.clone();
    frames.push(vec![0xff; 7]); // not a protobuf message
    frames.push(good[0].clone());
    grpc.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/incontra.match.v1.MatchService/Ingest",
    );
    let refused = grpc
        .client_streaming(
            tonic::Request::new(tokio_stream::iter(frames)),
            path,
            RawCodec,
        )
        .await
        .expect_err("a garbage frame");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("frame 3"),
        "{}",
        refused.message()
    );
    let mut c = client(f).await;
    for i in 0..3 {
        let id = format!("TEST-GARBAGE-{i}");
        c.match_vacancies(pb::MatchVacanciesRequest {
            candidate_id: id.clone(),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{id} before the bad frame was lost: {e:?}"));
    }
}
