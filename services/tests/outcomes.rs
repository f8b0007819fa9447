//! The employment lifecycle through the real API: a list is recorded when
//! issued, a CO hire takes the worker out of lists and fills the vacancy,
//! the hire is attributed to the list, outcomes survive a restart, and
//! invalid CO change nothing.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Client, ServerThread};
use incontra_engine::codice_fiscale::generate_partita_iva;
use incontra_proto::events::v1 as ev;
use incontra_proto::events::v1::envelope::Payload;
use incontra_proto::events::v1::Envelope;
use incontra_proto::matching::v1 as pb;

fn co(
    cf: &str,
    version: u64,
    code: &str,
    employer: ev::Employer,
    quadro: ev::comunicazione_obbligatoria::Quadro,
) -> Envelope {
    Envelope {
        event_id: format!("outcomes-{code}"),
        entity_id: cf.to_owned(),
        entity_version: version,
        occurred_at_ms: 1_700_000_000_000,
        source: "TEST".into(),
        schema_version: 1,
        payload: Some(Payload::Co(ev::ComunicazioneObbligatoria {
            code: code.to_owned(),
            previous_code: String::new(),
            action: ev::CoAction::Original as i32,
            datore: Some(employer),
            workplace_comune: "001272".into(),
            lavoratore_codice_fiscale: cf.to_owned(),
            quadro: Some(quadro),
        })),
    }
}

fn hire(start_day: i32, profession: &str) -> ev::comunicazione_obbligatoria::Quadro {
    ev::comunicazione_obbligatoria::Quadro::Assunzione(ev::Assunzione {
        start_day,
        end_day: 0,
        contract_code: "A.01.00".into(),
        contract_type: ev::ContractType::Indeterminato as i32,
        profession_code: profession.to_owned(),
        ccnl: String::new(),
        hours_percent: 100,
    })
}

fn operator() -> ev::Requester {
    ev::Requester {
        user_id: "op-0042".into(),
        cpi_code: "TO01".into(),
        channel: "operator-test".into(),
        campaign_id: String::new(),
    }
}

async fn list(
    c: &mut Client,
    vacancy: &str,
    requester: Option<ev::Requester>,
) -> pb::MatchCandidatesResponse {
    c.match_candidates(pb::MatchCandidatesRequest {
        vacancy_id: vacancy.to_owned(),
        limit: 50,
        include_personal_data: true,
        requester,
        ..Default::default()
    })
    .await
    .expect("MatchCandidates")
    .into_inner()
}

async fn outcomes(c: &mut Client, today: i32) -> pb::GetOutcomesResponse {
    c.get_outcomes(pb::GetOutcomesRequest {
        from_day: 0,
        to_day: today + 365,
        window_days: 90,
    })
    .await
    .expect("GetOutcomes")
    .into_inner()
}

fn group<'r>(groups: &'r [pb::OutcomeGroup], key: &str) -> &'r pb::OutcomeFigures {
    groups
        .iter()
        .find(|g| g.key == key)
        .and_then(|g| g.figures.as_ref())
        .unwrap_or_else(|| panic!("no group {key}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_hire_is_attributed_fills_the_vacancy_and_survives_a_restart() {
    let data = tokio::task::spawn_blocking(common::small_dataset)
        .await
        .expect("dataset");
    let today = data.today;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerThread::start(common::node_options(dir.path(), today));
    let mut c = common::client(server.addr).await;
    common::ingest_all(&mut c, &data.events, 2_000).await;
    let versions = common::max_versions(&data.events);

    // A single-position vacancy with a list of at least three.
    let mut specs: HashMap<String, ev::Vacancy> = HashMap::new();
    for e in &data.events {
        if let Some(Payload::Vacancy(ev::VacancyEvent {
            kind: Some(ev::vacancy_event::Kind::Published(v) | ev::vacancy_event::Kind::Updated(v)),
        })) = &e.payload
        {
            specs.insert(e.entity_id.clone(), v.clone());
        }
    }
    let mut chosen = None;
    for id in &data.vacancy_ids {
        if specs.get(id).is_none_or(|s| s.positions != 1) {
            continue;
        }
        let probe = list(&mut c, id, None).await;
        if probe.matches.len() >= 3 {
            chosen = Some(id.clone());
            break;
        }
    }
    let vacancy = chosen.expect("a one-position vacancy with three candidates");
    let spec = specs[&vacancy].clone();
    let employer = spec.employer.clone().expect("employer");

    let issued = list(&mut c, &vacancy, Some(operator())).await;
    assert!(issued.list_id.starts_with('L'));
    let before = common::status(&mut c).await;
    let cf_of = |rank: usize| {
        issued.personal_data[rank]
            .codice_fiscale
            .to_ascii_uppercase()
    };
    let hired_id = issued.matches[1].candidate_id.clone();
    assert_eq!(issued.personal_data[1].candidate_id, hired_id);

    // Hired by the vacancy's employer, starting in two days: gone from the
    // list from the notice on, and the only position is taken.
    let cf = cf_of(1);
    let sent = Instant::now();
    let r = common::ingest(
        &mut c,
        &[co(
            &cf,
            versions.get(&cf).copied().unwrap_or(0) + 1,
            "OUTCO00000000001",
            employer.clone(),
            hire(today + 2, &spec.profession_code),
        )],
    )
    .await
    .expect("Ingest hire");
    assert!(r.rejected.is_empty() && r.ignored == 0, "{r:?}");
    let mut gone = None;
    for _ in 0..200 {
        let now = list(&mut c, &vacancy, None).await;
        if now.matches.iter().all(|m| m.candidate_id != hired_id) {
            gone = Some((sent.elapsed(), now));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (removal, after) = gone.expect("the hired worker left the list");
    println!("embedded: hire CO acknowledged and worker out of MatchCandidates in {removal:?}");
    assert!(
        after.matches.is_empty(),
        "a filled vacancy still lists candidates"
    );
    assert!(after
        .excluded
        .iter()
        .any(|e| e.filter == "vacancy_open" && e.count > 0));
    let status = common::status(&mut c).await;
    assert_eq!(status.open_vacancies + 1, before.open_vacancies);
    let e = c
        .explain(pb::ExplainRequest {
            vacancy_id: vacancy.clone(),
            candidate_id: hired_id.clone(),
        })
        .await
        .expect("Explain")
        .into_inner();
    let availability = e
        .filters
        .iter()
        .find(|f| f.filter == "availability")
        .expect("availability");
    assert!(!availability.passed);
    assert!(
        availability.reason.contains("assunto/a dal"),
        "{}",
        availability.reason
    );

    // Two hires that must not be attributed: another listed candidate hired
    // by someone else, and a third by the employer after the window.
    let other = ev::Employer {
        fiscal_code: generate_partita_iva(7_654_321_098),
        name: "Altra Ditta S.r.l.".into(),
        ateco_code: "56.10.11".into(),
        employees: 5,
    };
    let (cf2, cf3) = (cf_of(0), cf_of(2));
    let r = common::ingest(
        &mut c,
        &[
            co(
                &cf2,
                versions.get(&cf2).copied().unwrap_or(0) + 1,
                "OUTCO00000000002",
                other,
                hire(today + 3, &spec.profession_code),
            ),
            co(
                &cf3,
                versions.get(&cf3).copied().unwrap_or(0) + 1,
                "OUTCO00000000003",
                employer.clone(),
                hire(today + 120, &spec.profession_code),
            ),
        ],
    )
    .await
    .expect("Ingest other hires");
    assert!(r.rejected.is_empty() && r.ignored == 0, "{r:?}");

    let report = outcomes(&mut c, today).await;
    let ours = group(&report.by_channel, "operator-test");
    assert_eq!(ours.lists, 1);
    assert_eq!(ours.listed, issued.matches.len() as u64);
    assert_eq!((ours.attributed_hires, ours.lists_with_hire), (1, 1));
    assert!((ours.match_to_hire - 1.0 / issued.matches.len() as f64).abs() < 1e-12);
    assert_eq!(ours.median_days_to_hire, 2.0);
    let overall = report.overall.as_ref().expect("overall");
    assert_eq!(
        overall.attributed_hires, 1,
        "only the listed hire by the employer in the window"
    );
    assert!(overall.hires >= 3 && overall.intermediation_rate > 0.0);
    assert!((overall.intermediation_rate - 1.0 / overall.hires as f64).abs() < 1e-12);
    let hired_cpi = issued.matches[1].cpi_code.clone();
    assert_eq!(group(&report.by_cpi, &hired_cpi).attributed_hires, 1);
    assert_eq!(
        report
            .by_target_group
            .iter()
            .filter_map(|g| g.figures.as_ref())
            .map(|f| f.listed)
            .max()
            .map(|m| m <= overall.listed),
        Some(true)
    );

    // Invalid CO are refused with their reason and change nothing.
    let digest = common::status(&mut c).await.state_digest;
    let bad_cf = {
        let mut s = cf.clone();
        let last = s.pop().expect("a character");
        s.push(if last == 'A' { 'B' } else { 'A' });
        s
    };
    let v = versions.get(&cf).copied().unwrap_or(0) + 10;
    let invalid = [
        co(
            &bad_cf,
            v,
            "OUTCO00000000010",
            employer.clone(),
            hire(today, &spec.profession_code),
        ),
        co(
            &cf,
            v + 1,
            "OUTCO00000000011",
            employer.clone(),
            ev::comunicazione_obbligatoria::Quadro::Assunzione(ev::Assunzione {
                contract_code: "Z.99.99".into(),
                ..match hire(today, &spec.profession_code) {
                    ev::comunicazione_obbligatoria::Quadro::Assunzione(a) => a,
                    _ => unreachable!(),
                }
            }),
        ),
        co(
            &cf,
            v + 2,
            "OUTCO00000000012",
            employer.clone(),
            ev::comunicazione_obbligatoria::Quadro::Cessazione(ev::Cessazione {
                day: today,
                cause: "stanchezza".into(),
            }),
        ),
        co(
            &cf,
            v + 3,
            "OUTCO00000000013",
            employer.clone(),
            ev::comunicazione_obbligatoria::Quadro::Assunzione(ev::Assunzione {
                end_day: today - 10,
                contract_type: ev::ContractType::Determinato as i32,
                contract_code: "A.02.00".into(),
                ..match hire(today, &spec.profession_code) {
                    ev::comunicazione_obbligatoria::Quadro::Assunzione(a) => a,
                    _ => unreachable!(),
                }
            }),
        ),
    ];
    let r = common::ingest(&mut c, &invalid)
        .await
        .expect("Ingest invalid");
    let fields: Vec<&str> = r.rejected.iter().map(|x| x.reason.as_str()).collect();
    assert_eq!(r.rejected.len(), 4, "{fields:?}");
    for (reason, field) in fields.iter().zip([
        "lavoratore_codice_fiscale",
        "co.assunzione.contract_code",
        "co.cessazione.cause",
        "co.assunzione.end_day",
    ]) {
        assert!(reason.contains(field), "{reason} does not name {field}");
    }
    assert_eq!(common::status(&mut c).await.state_digest, digest);

    // Lists are events: the outcomes are the same after a restart.
    drop(c);
    server.stop().expect("clean stop");
    let server = ServerThread::start(common::node_options(dir.path(), today));
    let mut c = common::client(server.addr).await;
    let again = outcomes(&mut c, today).await;
    assert_eq!(again, report);
    drop(c);
    server.stop().expect("clean stop");
}
