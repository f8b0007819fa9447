//! GDPR art. 17 through the API: a person is erased with `ErasePerson`, and
//! afterwards no file of the data directory (journal, snapshots, index,
//! lists, access log, keys) holds their codice fiscale, name, e-mail or
//! phone, before and after a restart and after a full replay of the
//! journal; they leave every list and explanation, and their hire still
//! counts in the aggregate outcomes.

mod common;

use std::path::Path;

use common::auth::{client, load, open_vacancy, perfect_fit, purpose, start, AuthClient};
use common::small_dataset;
use incontra_engine::codice_fiscale;
use incontra_engine::model::SealedPersonalData;
use incontra_indexer::journal::{Journal, JournalOptions};
use incontra_indexer::keys::PersonKeys;
use incontra_proto::events::v1::envelope::Payload;
use incontra_proto::events::v1::{self as ev, Envelope};
use incontra_proto::matching::v1 as pb;
use incontra_services::auth::LocalIssuer;
use incontra_services::policy::Role;
use tonic::Code;

const ID: &str = "C-ERASE-0001";
const GIVEN: &str = "Zenobia";
const FAMILY: &str = "Quaglieri";
const EMAIL: &str = "zenobia.quaglieri@example.org";
const PHONE: &str = "+39 011 5550199";

/// Every file under `dir` holding `needle`, by path.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue; // a directory removed meanwhile
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // The running node replaces index and key files as it goes.
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("reading {}: {e}", path.display()),
            };
            if bytes
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

struct Person {
    cf: String,
    vacancy: String,
    cpi: String,
}

/// The erased person's registration (a perfect fit for an open vacancy, so
/// that lists hold them) and the hire that vacancy's employer notifies.
fn person() -> (Person, Vec<Envelope>) {
    let data = small_dataset();
    let (vacancy, spec, cpi) = open_vacancy();
    let cf = codice_fiscale::generate(FAMILY, GIVEN, 1990, 5, 17, true, "L219")
        .expect("codice fiscale")
        .as_str()
        .to_owned();
    let personal = ev::PersonalData {
        codice_fiscale: cf.clone(),
        given_name: GIVEN.into(),
        family_name: FAMILY.into(),
        email: EMAIL.into(),
        phone: PHONE.into(),
    };
    let mut registration = perfect_fit(ID, personal, &spec, &cpi);
    // People write their own name and contacts in free text too.
    if let Some(Payload::Candidacy(ev::CandidacyEvent {
        kind: Some(ev::candidacy_event::Kind::Registered(r)),
    })) = &mut registration.payload
    {
        if let Some(profile) = &mut r.profile {
            profile.summary = format!(
                "{} Sono {GIVEN} {FAMILY}: scrivetemi a {EMAIL} o chiamate il {PHONE}.",
                spec.title
            );
            profile.experience[0].description = format!("Referenze a nome {FAMILY}, codice {cf}");
        }
    }
    let hire = Envelope {
        event_id: "erasure-test-hire".into(),
        entity_id: cf.clone(),
        entity_version: 1,
        occurred_at_ms: i64::from(data.today) * 86_400_000,
        source: "COMMAX".into(),
        schema_version: 1,
        payload: Some(Payload::Co(ev::ComunicazioneObbligatoria {
            code: "ERASURE00000001X".into(),
            action: ev::CoAction::Original as i32,
            datore: spec.employer.clone(),
            workplace_comune: spec.workplace_comune.clone(),
            lavoratore_codice_fiscale: cf.clone(),
            quadro: Some(ev::comunicazione_obbligatoria::Quadro::Assunzione(
                ev::Assunzione {
                    start_day: data.today,
                    contract_code: "A.01.00".into(),
                    contract_type: ev::ContractType::Indeterminato as i32,
                    profession_code: spec.profession_code.clone(),
                    hours_percent: 50,
                    ..Default::default()
                },
            )),
            ..Default::default()
        })),
    };
    (Person { cf, vacancy, cpi }, vec![registration, hire])
}

fn token(issuer: &LocalIssuer, subject: &str, role: Role, cpi: &str) -> String {
    let cpi: Vec<&str> = if cpi.is_empty() { vec![] } else { vec![cpi] };
    issuer.token(subject, &[role], &cpi, 600).expect("token")
}

async fn list(c: &mut AuthClient, vacancy: &str) -> pb::MatchCandidatesResponse {
    c.match_candidates(pb::MatchCandidatesRequest {
        vacancy_id: vacancy.to_owned(),
        limit: 50,
        include_personal_data: true,
        requester: purpose(),
        ..Default::default()
    })
    .await
    .expect("MatchCandidates")
    .into_inner()
}

async fn outcomes(c: &mut AuthClient) -> (u64, u64) {
    let o = c
        .get_outcomes(pb::GetOutcomesRequest::default())
        .await
        .expect("GetOutcomes")
        .into_inner()
        .overall
        .expect("overall figures");
    (o.hires, o.attributed_hires)
}

/// What must hold once the person is erased, whatever the node restarted
/// from; returns the outcome figures.
async fn erased_everywhere(
    dir: &Path,
    issuer: &LocalIssuer,
    addr: std::net::SocketAddr,
    p: &Person,
) -> (u64, u64) {
    for secret in [p.cf.as_str(), GIVEN, FAMILY, EMAIL, PHONE] {
        let files = files_holding(dir, secret);
        assert!(files.is_empty(), "{secret} is readable in {files:?}");
    }
    let mut op = client(addr, Some(token(issuer, "op-1", Role::Operator, &p.cpi))).await;
    let l = list(&mut op, &p.vacancy).await;
    assert!(
        l.matches.iter().all(|m| m.candidate_id != ID),
        "still listed"
    );
    assert!(l.personal_data.iter().all(|d| d.candidate_id != ID));
    let explain = op
        .explain(pb::ExplainRequest {
            vacancy_id: p.vacancy.clone(),
            candidate_id: ID.into(),
            requester: purpose(),
        })
        .await
        .expect_err("an erased candidacy is explained to nobody");
    assert_eq!(explain.code(), Code::NotFound, "{explain:?}");
    let mut portal = client(
        addr,
        Some(token(issuer, &format!("TINIT-{}", p.cf), Role::Portal, "")),
    )
    .await;
    let own = portal
        .match_vacancies(pb::MatchVacanciesRequest {
            limit: 5,
            ..Default::default()
        })
        .await
        .expect_err("the portal finds no candidacy");
    assert_eq!(own.code(), Code::PermissionDenied, "{own:?}");
    let mut admin = client(addr, Some(token(issuer, "dpo", Role::Admin, ""))).await;
    outcomes(&mut admin).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_person_is_unreadable_everywhere_across_restart_and_replay_and_still_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, issuer) = start(dir.path()).await;
    load(&server, &issuer).await;
    let (p, events) = person();
    let mut producer = client(server.addr, Some(token(&issuer, "sil", Role::Producer, ""))).await;
    let r = producer
        .ingest(tokio_stream::iter(events[..1].to_vec()))
        .await
        .expect("registration")
        .into_inner();
    assert_eq!((r.accepted, r.rejected.len()), (1, 0), "{r:?}");

    // Before: listed, with personal data; the portal finds them; a list
    // pairs them with the vacancy, and the employer then hires them.
    let mut op = client(
        server.addr,
        Some(token(&issuer, "op-1", Role::Operator, &p.cpi)),
    )
    .await;
    let before = list(&mut op, &p.vacancy).await;
    assert!(
        before.matches.iter().any(|m| m.candidate_id == ID),
        "the test person should be on the list"
    );
    let data = before
        .personal_data
        .iter()
        .find(|d| d.candidate_id == ID)
        .expect("their personal data, opened with their key");
    assert_eq!(
        (data.email.as_str(), data.family_name.as_str()),
        (EMAIL, FAMILY)
    );
    let mut portal = client(
        server.addr,
        Some(token(&issuer, &format!("TINIT-{}", p.cf), Role::Portal, "")),
    )
    .await;
    portal
        .match_vacancies(pb::MatchVacanciesRequest {
            limit: 5,
            ..Default::default()
        })
        .await
        .expect("the person's own matches");
    let r = producer
        .ingest(tokio_stream::iter(events[1..].to_vec()))
        .await
        .expect("hire")
        .into_inner();
    assert_eq!((r.accepted, r.rejected.len()), (1, 0), "{r:?}");
    let mut admin = client(server.addr, Some(token(&issuer, "dpo", Role::Admin, ""))).await;
    let (hires, attributed) = outcomes(&mut admin).await;
    assert!(attributed >= 1, "the hire is attributed to the list");
    // Sealed from the start: no file holds their identifying data in clear,
    // though the API above could read it.
    for secret in [p.cf.as_str(), GIVEN, FAMILY, EMAIL, PHONE] {
        let files = files_holding(dir.path(), secret);
        assert!(files.is_empty(), "{secret} in clear in {files:?}");
    }
    // ... and the check can fail: the producer's envelope holds them.
    let wire = prost::Message::encode_to_vec(&events[0]);
    std::fs::write(dir.path().join("probe.bin"), wire).expect("probe");
    assert_eq!(files_holding(dir.path(), EMAIL).len(), 1);
    std::fs::remove_file(dir.path().join("probe.bin")).expect("probe");

    // Erased by the data-protection officer, named by codice fiscale.
    let refused = op
        .erase_person(pb::ErasePersonRequest {
            codice_fiscale: p.cf.clone(),
            reason: "richiesta dell'interessato, prot. 77".into(),
            ..Default::default()
        })
        .await
        .expect_err("an operator may not erase");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let erased = admin
        .erase_person(pb::ErasePersonRequest {
            codice_fiscale: p.cf.clone(),
            reason: "richiesta dell'interessato, prot. 77".into(),
            ..Default::default()
        })
        .await
        .expect("erasure")
        .into_inner();
    assert_eq!(erased.candidate_id, ID);
    let again = admin
        .erase_person(pb::ErasePersonRequest {
            candidate_id: ID.into(),
            reason: "di nuovo".into(),
            ..Default::default()
        })
        .await
        .expect_err("erased once");
    assert_eq!(again.code(), Code::FailedPrecondition);
    let log = admin
        .get_access_log(pb::GetAccessLogRequest {
            candidate_id: ID.into(),
            ..Default::default()
        })
        .await
        .expect("access log")
        .into_inner()
        .records;
    assert!(log
        .iter()
        .any(|r| r.rpc == "ErasePerson" && r.subject == "dpo"));
    assert!(
        log.iter()
            .any(|r| r.rpc == "MatchVacancies" && r.role == "portal"),
        "the portal's read is on record, under a pseudonym: {log:?}"
    );

    let after = erased_everywhere(dir.path(), &issuer, server.addr, &p).await;
    assert_eq!(after, (hires, attributed), "the hire still counts");
    server.stop().expect("clean stop");

    // A restart: from the snapshot written at the stop.
    let (server, issuer) = start(dir.path()).await;
    let restarted = erased_everywhere(dir.path(), &issuer, server.addr, &p).await;
    assert_eq!(restarted, (hires, attributed));
    server.stop().expect("clean stop");

    // A full replay: snapshots and index gone, the journal read from its
    // first record, the registration's sealed data with it.
    std::fs::remove_dir_all(dir.path().join("snapshots")).expect("snapshots");
    std::fs::remove_dir_all(dir.path().join("index")).expect("index");
    let (server, issuer) = start(dir.path()).await;
    let replayed = erased_everywhere(dir.path(), &issuer, server.addr, &p).await;
    assert_eq!(replayed, (hires, attributed));
    server.stop().expect("clean stop");

    // The journal still holds their sealed registration, and no key opens
    // it any more; everybody else's still opens.
    let (mine, others) = sealed_registrations(dir.path());
    let keys = PersonKeys::open(&dir.path().join("keys")).expect("key store");
    assert!(keys.open_sealed(&mine).is_none(), "their key survived");
    assert!(others.len() > 100);
    assert!(others.iter().all(|s| keys.open_sealed(s).is_some()));
}

/// The sealed personal data of the test person's registration in the
/// journal, and everybody else's.
fn sealed_registrations(dir: &Path) -> (SealedPersonalData, Vec<SealedPersonalData>) {
    let (journal, _) =
        Journal::open(&dir.join("journal"), JournalOptions::default()).expect("journal");
    let (mut mine, mut others) = (None, Vec::new());
    for record in journal.read_after(0).expect("read") {
        let (_, bytes) = record.expect("record");
        let Ok(e) = <Envelope as prost::Message>::decode(bytes.as_slice()) else {
            continue; // a batch header
        };
        if let Some(Payload::Candidacy(ev::CandidacyEvent {
            kind: Some(ev::candidacy_event::Kind::Registered(r)),
        })) = e.payload
        {
            assert!(
                r.personal.is_none(),
                "personal data in clear in the journal"
            );
            let s = r.sealed_personal.expect("sealed");
            let sealed = SealedPersonalData {
                key_owner: s.key_owner,
                nonce: s.nonce,
                ciphertext: s.ciphertext,
            };
            if e.entity_id == ID {
                mine = Some(sealed);
            } else {
                others.push(sealed);
            }
        }
    }
    (mine.expect("their registration"), others)
}
