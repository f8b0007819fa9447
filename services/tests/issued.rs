//! Issued lists on record, through a real client with real tokens:
//! `GetIssuedList` returns a list as it was answered, to the roles that may
//! see it; `VerifyIssuedList` computes it again on the state at its log
//! position after the world has moved on, and finds it reproduces, while a
//! forged record does not.

mod common;

use common::auth::{client, load, open_vacancy, perfect_fit, purpose, start};
use common::small_dataset;
use incontra_indexer::journal::{Journal, JournalOptions};
use incontra_proto::events::v1::envelope::Payload;
use incontra_proto::events::v1::{self as ev, Envelope};
use incontra_proto::matching::v1 as pb;
use incontra_services::auth::LocalIssuer;
use incontra_services::policy::Role;
use tonic::Code;

fn token(issuer: &LocalIssuer, subject: &str, role: Role, cpi: &str) -> String {
    let cpi: Vec<&str> = if cpi.is_empty() { vec![] } else { vec![cpi] };
    issuer.token(subject, &[role], &cpi, 600).expect("token")
}

fn get(list_id: &str) -> pb::GetIssuedListRequest {
    pb::GetIssuedListRequest {
        list_id: list_id.into(),
        requester: purpose(),
    }
}

fn verify(list_id: &str) -> pb::VerifyIssuedListRequest {
    pb::VerifyIssuedListRequest {
        list_id: list_id.into(),
        requester: purpose(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_list_is_returned_to_who_may_see_it_and_reproduces_after_the_world_moved_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, issuer) = start(dir.path()).await;
    load(&server, &issuer).await;
    let (vacancy, spec, cpi) = open_vacancy();
    let mut op = client(
        server.addr,
        Some(token(&issuer, "op-7", Role::Operator, &cpi)),
    )
    .await;
    let asked = pb::MatchCandidatesRequest {
        vacancy_id: vacancy.clone(),
        limit: 20,
        max_distance_km: 40,
        requester: purpose(),
        ..Default::default()
    };
    let answered = op
        .match_candidates(asked.clone())
        .await
        .expect("list")
        .into_inner();
    assert!(answered.matches.len() >= 5, "a list worth checking");

    // The world moves on: a better candidate registers.
    let mut producer = client(server.addr, Some(token(&issuer, "sil", Role::Producer, ""))).await;
    let newcomer = perfect_fit(
        "C-NEWCOMER",
        ev::PersonalData {
            codice_fiscale: "RSSMRA85T10A562S".into(),
            given_name: "Mario".into(),
            family_name: "Rossi".into(),
            ..Default::default()
        },
        &spec,
        &cpi,
    );
    let r = producer
        .ingest(tokio_stream::iter(vec![newcomer]))
        .await
        .expect("ingest")
        .into_inner();
    assert_eq!(r.rejected.len(), 0, "{r:?}");
    let now = op.match_candidates(asked).await.expect("list").into_inner();
    assert!(
        now.matches.iter().any(|m| m.candidate_id == "C-NEWCOMER"),
        "today's list holds the newcomer, the recorded one could not"
    );

    // As recorded.
    let got = op
        .get_issued_list(get(&answered.list_id))
        .await
        .expect("GetIssuedList")
        .into_inner();
    let list = got.list.expect("the list");
    assert_eq!(list.subject_id, vacancy);
    assert_eq!(list.log_position, answered.journal_position);
    let rows: Vec<(String, f64)> = list.rows.iter().map(|r| (r.id.clone(), r.score)).collect();
    let answered_rows: Vec<(String, f64)> = answered
        .matches
        .iter()
        .map(|m| (m.candidate_id.clone(), m.score))
        .collect();
    assert_eq!(rows, answered_rows);
    assert!(list.rows.iter().all(|r| r.similarities.len() == 8));
    assert_eq!(
        list.requester.as_ref().map(|r| r.user_id.as_str()),
        Some("op-7")
    );
    let query = list.query.expect("the query");
    assert_eq!((query.limit, query.max_distance_km), (20, 40));

    // Computed again on the state at its position: the same, row by row.
    let checked = op
        .verify_issued_list(verify(&answered.list_id))
        .await
        .expect("VerifyIssuedList")
        .into_inner();
    assert!(checked.reproduced, "{}: {:?}", checked.reason, checked.rows);
    assert_eq!(checked.rows.len(), answered.matches.len());
    assert!(checked.rows.iter().all(|r| r.same));

    // A forged record (two rows swapped) is caught.
    let mut forged = list.rows.clone();
    forged.swap(0, 1);
    let forged_list = Envelope {
        event_id: "forged-list".into(),
        entity_id: "L-FORGED".into(),
        entity_version: 1,
        occurred_at_ms: i64::from(small_dataset().today) * 86_400_000,
        source: "incontra".into(),
        schema_version: 1,
        payload: Some(Payload::ListIssued(ev::ListIssued {
            rows: forged,
            query: Some(query),
            ..list_without_rows(&got_again(&mut op, &answered.list_id).await)
        })),
    };
    // Nobody but a node writes issued lists: a producer's is refused.
    let r = producer
        .ingest(tokio_stream::iter(vec![forged_list.clone()]))
        .await
        .expect("ingest")
        .into_inner();
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    assert!(r.rejected[0].reason.contains("list_issued"), "{r:?}");
    // Tampering with the record on disk, while the node is stopped, is
    // caught by the check.
    server.stop().expect("clean stop");
    {
        let (mut lists, _) = Journal::open(&dir.path().join("lists"), JournalOptions::default())
            .expect("lists journal");
        lists
            .append(&prost::Message::encode_to_vec(&forged_list))
            .expect("append");
        lists.sync().expect("sync");
    }
    let (server, issuer) = start(dir.path()).await;
    let mut op = client(
        server.addr,
        Some(token(&issuer, "op-7", Role::Operator, &cpi)),
    )
    .await;
    let caught = op
        .verify_issued_list(verify("L-FORGED"))
        .await
        .expect("VerifyIssuedList")
        .into_inner();
    assert!(!caught.reproduced);
    assert_eq!(caught.reason, "rank 1 differs");
    assert_eq!(
        caught.rows.iter().filter(|r| !r.same).count(),
        2,
        "{:?}",
        caught.rows
    );

    // Who may see it: the admin; not another CPI's operator, the portal or
    // the observatory.
    let mut admin = client(server.addr, Some(token(&issuer, "dpo", Role::Admin, ""))).await;
    admin
        .get_issued_list(get(&answered.list_id))
        .await
        .expect("the admin sees every list");
    let other_cpi = if cpi == "TO01" { "CN01" } else { "TO01" };
    for (role, cpi) in [
        (Role::Operator, other_cpi),
        (Role::Portal, ""),
        (Role::Observatory, ""),
    ] {
        let mut c = client(server.addr, Some(token(&issuer, "someone", role, cpi))).await;
        let refused = c
            .get_issued_list(get(&answered.list_id))
            .await
            .expect_err("refused");
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{role:?}: {refused:?}"
        );
        let refused = c
            .verify_issued_list(verify(&answered.list_id))
            .await
            .expect_err("refused");
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{role:?}: {refused:?}"
        );
    }
    let unknown = op
        .get_issued_list(get("L-NOBODY"))
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);

    // Every read of the list is in the access log, with the people on it.
    let log = admin
        .get_access_log(pb::GetAccessLogRequest {
            candidate_id: answered.matches[0].candidate_id.clone(),
            ..Default::default()
        })
        .await
        .expect("access log")
        .into_inner()
        .records;
    for rpc in ["GetIssuedList", "VerifyIssuedList"] {
        assert!(
            log.iter()
                .any(|r| r.rpc == rpc && r.list_id == answered.list_id),
            "{rpc} is not on record: {log:?}"
        );
    }
    server.stop().expect("clean stop");
}

async fn got_again(c: &mut common::auth::AuthClient, list_id: &str) -> ev::ListIssued {
    c.get_issued_list(get(list_id))
        .await
        .expect("GetIssuedList")
        .into_inner()
        .list
        .expect("the list")
}

fn list_without_rows(list: &ev::ListIssued) -> ev::ListIssued {
    ev::ListIssued {
        rows: Vec::new(),
        ..list.clone()
    }
}
