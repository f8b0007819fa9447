//! Who may see what, through a real gRPC client over TCP with real signed
//! tokens: every role against every RPC and every personal or health
//! field, token attacks, the access log (and its survival of a restart),
//! and a key rotation picked up without a restart.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use common::auth::{client, load, purpose, start, AuthClient};
use common::small_dataset;
use incontra_proto::events::v1::envelope::Payload;
use incontra_proto::events::v1::{self as ev, Envelope};
use incontra_proto::matching::v1 as pb;
use incontra_services::auth::{new_key_pair, LocalIssuer};
use incontra_services::policy::Role;
use tonic::Code;

/// What the tests need to know of the generated world.
struct World {
    /// An open-market vacancy (no reserved quota) and its CPI.
    vacancy: (String, String),
    /// A reserved-quota vacancy.
    quota_vacancy: String,
    /// Candidates: id -> (codice fiscale, CPI, L.68/99 category).
    candidates: BTreeMap<String, (String, String, i32)>,
    quota_vacancies: Vec<String>,
}

fn world() -> World {
    let data = small_dataset();
    let mut vacancies: BTreeMap<String, ev::Vacancy> = BTreeMap::new();
    let mut candidates = BTreeMap::new();
    for e in &data.events {
        match &e.payload {
            Some(Payload::Vacancy(ev::VacancyEvent {
                kind:
                    Some(ev::vacancy_event::Kind::Published(v) | ev::vacancy_event::Kind::Updated(v)),
            })) => {
                vacancies.insert(e.entity_id.clone(), v.clone());
            }
            Some(Payload::Candidacy(ev::CandidacyEvent {
                kind: Some(ev::candidacy_event::Kind::Registered(r)),
            })) => {
                let cf = r.personal.as_ref().map(|p| p.codice_fiscale.clone());
                let cpi = r.profile.as_ref().map(|p| p.cpi_code.clone());
                if let (Some(cf), Some(cpi)) = (cf, cpi) {
                    candidates.insert(e.entity_id.clone(), (cf, cpi, r.protected_category));
                }
            }
            _ => {}
        }
    }
    let open = |v: &ev::Vacancy| v.valid_until_day == 0 || v.valid_until_day >= data.today;
    // An operator's catchment: the CPI of the workplace's comune.
    let reference = common::reference();
    let catchment = |v: &ev::Vacancy| {
        reference
            .comune(&v.workplace_comune)
            .expect("comune")
            .cpi_code
            .clone()
    };
    let quota_vacancies: Vec<String> = vacancies
        .iter()
        .filter(|(_, v)| v.reserved_quota != 0)
        .map(|(id, _)| id.clone())
        .collect();
    // A reserved-quota vacancy and an open-market one of the same CPI.
    let (quota_vacancy, vacancy) = quota_vacancies
        .iter()
        .find_map(|q| {
            let cpi = catchment(&vacancies[q]);
            vacancies
                .iter()
                .find(|(_, v)| v.reserved_quota == 0 && open(v) && catchment(v) == cpi)
                .map(|(id, _)| (q.clone(), (id.clone(), cpi)))
        })
        .expect("a quota vacancy and an open-market one of one CPI");
    World {
        vacancy,
        quota_vacancy,
        candidates,
        quota_vacancies,
    }
}

/// The call's outcome as the matrix sees it: allowed, or refused with
/// this code.
fn verdict<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Result<(), Code> {
    match r {
        Ok(_) => Ok(()),
        Err(s) if matches!(s.code(), Code::PermissionDenied | Code::Unauthenticated) => {
            Err(s.code())
        }
        Err(s) => panic!("unexpected failure (not an access decision): {s:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_reaches_exactly_the_rpcs_and_fields_the_table_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, issuer) = start(dir.path()).await;
    load(&server, &issuer).await;
    let w = world();
    let (vacancy, cpi) = w.vacancy.clone();
    // A person of the vacancy's CPI, who signs in to the portal.
    let (person, (cf, _, _)) = w
        .candidates
        .iter()
        .find(|(_, (_, c, _))| *c == cpi)
        .map(|(id, v)| (id.clone(), v.clone()))
        .expect("a candidate of the vacancy's CPI");
    // A recorded preselection list of the vacancy, asked by its CPI.
    let op = issuer
        .token("op-lists", &[Operator], &[cpi.as_str()], 600)
        .expect("token");
    let list_id = client(server.addr, Some(op))
        .await
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: vacancy.clone(),
            limit: 5,
            requester: purpose(),
            ..Default::default()
        })
        .await
        .expect("a list to look up")
        .into_inner()
        .list_id;
    let erased = w
        .candidates
        .keys()
        .find(|id| **id != person)
        .expect("another candidate")
        .clone();

    // The table of issue 13, written out independently of the policy code:
    // (call, roles allowed).
    use Role::*;
    let table: Vec<(&str, Vec<Role>)> = vec![
        (
            "SearchVacancies",
            vec![Operator, CollocamentoMirato, Portal, Hub],
        ),
        ("MatchCandidates", vec![Operator, CollocamentoMirato, Hub]),
        (
            "MatchCandidates+personal_data",
            vec![Operator, CollocamentoMirato, Hub],
        ),
        ("MatchCandidates(reserved quota)", vec![CollocamentoMirato]),
        ("MatchVacancies", vec![Operator, CollocamentoMirato, Portal]),
        ("Explain", vec![Operator, CollocamentoMirato, Portal, Hub]),
        ("Explain(reserved quota)", vec![CollocamentoMirato]),
        ("Ingest", vec![Producer]),
        ("GetStatus", vec![Observatory, Admin]),
        ("GetStatus+digest", vec![Admin]),
        ("GetOutcomes", vec![Observatory, Admin]),
        ("GetAccessLog", vec![Admin]),
        ("ErasePerson", vec![Admin]),
        // A list of candidates: never the portal's.
        (
            "GetIssuedList",
            vec![Operator, CollocamentoMirato, Hub, Admin],
        ),
        (
            "VerifyIssuedList",
            vec![Operator, CollocamentoMirato, Hub, Admin],
        ),
    ];
    for role in Role::ALL {
        // The portal's subject is the person's codice fiscale; the CPI
        // roles act for the vacancy's CPI.
        let subject = if role == Portal {
            format!("TINIT-{cf}")
        } else {
            format!("user-{}", role.name())
        };
        let token = issuer
            .token(&subject, &[role], &[cpi.as_str()], 600)
            .expect("token");
        let mut c = client(server.addr, Some(token)).await;
        let candidates = |personal: bool, v: &str| pb::MatchCandidatesRequest {
            vacancy_id: v.to_owned(),
            limit: 5,
            include_personal_data: personal,
            requester: purpose(),
            ..Default::default()
        };
        for (call, allowed) in &table {
            let got = match *call {
                "SearchVacancies" => verdict(
                    c.search_vacancies(pb::SearchVacanciesRequest {
                        query: "magazziniere".into(),
                        limit: 3,
                    })
                    .await,
                ),
                "MatchCandidates" => verdict(c.match_candidates(candidates(false, &vacancy)).await),
                "MatchCandidates+personal_data" => {
                    let r = c.match_candidates(candidates(true, &vacancy)).await;
                    if let Ok(r) = &r {
                        let r = r.get_ref();
                        assert_eq!(
                            r.personal_data.len(),
                            r.matches.len(),
                            "{role:?}: personal data of every listed candidate"
                        );
                    }
                    verdict(r)
                }
                "MatchCandidates(reserved quota)" => verdict(
                    c.match_candidates(candidates(false, &w.quota_vacancy))
                        .await,
                ),
                "MatchVacancies" => verdict(
                    c.match_vacancies(pb::MatchVacanciesRequest {
                        candidate_id: person.clone(),
                        limit: 5,
                        requester: purpose(),
                        ..Default::default()
                    })
                    .await,
                ),
                "Explain" => verdict(
                    c.explain(pb::ExplainRequest {
                        vacancy_id: vacancy.clone(),
                        candidate_id: person.clone(),
                        requester: purpose(),
                    })
                    .await,
                ),
                "Explain(reserved quota)" => verdict(
                    c.explain(pb::ExplainRequest {
                        vacancy_id: w.quota_vacancy.clone(),
                        candidate_id: person.clone(),
                        requester: purpose(),
                    })
                    .await,
                ),
                "Ingest" => verdict(c.ingest(tokio_stream::iter(Vec::<Envelope>::new())).await),
                "GetStatus" => verdict(
                    c.get_status(pb::GetStatusRequest {
                        include_digest: false,
                    })
                    .await,
                ),
                "GetStatus+digest" => verdict(
                    c.get_status(pb::GetStatusRequest {
                        include_digest: true,
                    })
                    .await,
                ),
                "GetOutcomes" => verdict(c.get_outcomes(pb::GetOutcomesRequest::default()).await),
                "GetAccessLog" => {
                    verdict(c.get_access_log(pb::GetAccessLogRequest::default()).await)
                }
                "GetIssuedList" => verdict(
                    c.get_issued_list(pb::GetIssuedListRequest {
                        list_id: list_id.clone(),
                        requester: purpose(),
                    })
                    .await,
                ),
                "VerifyIssuedList" => {
                    let r = c
                        .verify_issued_list(pb::VerifyIssuedListRequest {
                            list_id: list_id.clone(),
                            requester: purpose(),
                        })
                        .await;
                    if let Ok(r) = &r {
                        assert!(r.get_ref().reproduced, "{role:?}: {:?}", r.get_ref().reason);
                    }
                    verdict(r)
                }
                // Somebody nobody else in this test asks about.
                "ErasePerson" => verdict(
                    c.erase_person(pb::ErasePersonRequest {
                        candidate_id: erased.clone(),
                        reason: "richiesta dell'interessato, prot. 1".into(),
                        ..Default::default()
                    })
                    .await,
                ),
                other => unreachable!("{other}"),
            };
            let expected = if allowed.contains(&role) {
                Ok(())
            } else {
                Err(Code::PermissionDenied)
            };
            assert_eq!(got, expected, "{role:?} calling {call}");
        }
    }
    server.stop().expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_hold_operators_to_their_cpi_the_portal_to_its_person_and_l68_to_its_office() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, issuer) = start(dir.path()).await;
    load(&server, &issuer).await;
    let w = world();
    let (vacancy, cpi) = w.vacancy.clone();
    let other_cpi = w
        .candidates
        .values()
        .map(|(_, c, _)| c.clone())
        .find(|c| *c != cpi)
        .expect("a second CPI");
    let token = |subject: &str, role: Role, cpi: &str| {
        issuer.token(subject, &[role], &[cpi], 600).expect("token")
    };

    // An operator of another CPI: not this vacancy's list.
    let mut far = client(
        server.addr,
        Some(token("op-far", Role::Operator, &other_cpi)),
    )
    .await;
    let r = far
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: vacancy.clone(),
            requester: purpose(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        r.map(|_| ()).map_err(|s| s.code()),
        Err(Code::PermissionDenied)
    );

    // An operator must say why.
    let mut op = client(server.addr, Some(token("op-1", Role::Operator, &cpi))).await;
    let r = op
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: vacancy.clone(),
            ..Default::default()
        })
        .await
        .expect_err("no purpose");
    assert_eq!(r.code(), Code::InvalidArgument);
    assert!(r.message().contains("requester.purpose"), "{}", r.message());

    // The portal: its own person, by the token alone; nobody else.
    let (person, (cf, person_cpi, _)) = w.candidates.iter().next().expect("a candidate");
    let mut portal = client(server.addr, Some(token(cf, Role::Portal, ""))).await;
    let own = portal
        .match_vacancies(pb::MatchVacanciesRequest {
            limit: 5,
            ..Default::default()
        })
        .await
        .expect("own matches")
        .into_inner();
    let named = portal
        .match_vacancies(pb::MatchVacanciesRequest {
            candidate_id: person.clone(),
            limit: 5,
            ..Default::default()
        })
        .await
        .expect("own matches, named")
        .into_inner();
    let ids = |r: &pb::MatchVacanciesResponse| {
        r.matches
            .iter()
            .map(|m| m.vacancy_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&own), ids(&named));
    let someone_else = w.candidates.keys().nth(1).expect("a second candidate");
    for r in [
        portal
            .match_vacancies(pb::MatchVacanciesRequest {
                candidate_id: someone_else.clone(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
        portal
            .explain(pb::ExplainRequest {
                vacancy_id: vacancy.clone(),
                candidate_id: someone_else.clone(),
                requester: None,
            })
            .await
            .map(|_| ()),
    ] {
        assert_eq!(r.map_err(|s| s.code()), Err(Code::PermissionDenied));
    }
    let _ = person_cpi;

    // L.68/99: a protected person's list of vacancies holds reserved-quota
    // vacancies for the collocamento mirato office and never for an
    // ordinary operator of the same CPI.
    let mut found = false;
    for (id, (_, c, _)) in w.candidates.iter().filter(|(_, (_, _, p))| *p != 0) {
        let ask = |client: &mut AuthClient| {
            let mut client = client.clone();
            let id = id.clone();
            async move {
                client
                    .match_vacancies(pb::MatchVacanciesRequest {
                        candidate_id: id,
                        limit: 500,
                        requester: purpose(),
                        ..Default::default()
                    })
                    .await
                    .expect("list of vacancies")
                    .into_inner()
            }
        };
        let mut cm = client(
            server.addr,
            Some(token("cm-1", Role::CollocamentoMirato, c)),
        )
        .await;
        let mut op = client(server.addr, Some(token("op-2", Role::Operator, c))).await;
        let by_cm = ask(&mut cm).await;
        let by_op = ask(&mut op).await;
        assert!(
            by_op
                .matches
                .iter()
                .all(|m| !w.quota_vacancies.contains(&m.vacancy_id)),
            "an operator's list shows a reserved-quota vacancy"
        );
        if by_cm
            .matches
            .iter()
            .any(|m| w.quota_vacancies.contains(&m.vacancy_id))
        {
            found = true;
            break;
        }
    }
    assert!(
        found,
        "no protected person's list held a reserved-quota vacancy: the test proves nothing"
    );
    server.stop().expect("clean stop");
}

/// The header and payload of a token, decoded.
fn parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut it = token.split('.');
    let mut next = || {
        serde_json::from_slice(&b64.decode(it.next().expect("part")).expect("base64"))
            .expect("json")
    };
    (next(), next())
}

fn encode_part(value: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_foreign_tokens_are_refused_and_a_rotated_key_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, issuer) = start(dir.path()).await;
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |extra: serde_json::Value| {
        let mut c = serde_json::json!({
            "iss": LocalIssuer::ISSUER, "aud": LocalIssuer::AUDIENCE, "sub": "admin-1",
            "exp": now + 600, "roles": ["admin"],
        });
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    };
    let good = issuer.sign(&claims(serde_json::json!({}))).expect("sign");
    let status = |c: &mut AuthClient| {
        let mut c = c.clone();
        async move {
            c.get_status(pb::GetStatusRequest {
                include_digest: false,
            })
            .await
            .map(|_| ())
            .map_err(|s| (s.code(), s.message().to_owned()))
        }
    };
    assert_eq!(
        status(&mut client(server.addr, Some(good.clone())).await).await,
        Ok(())
    );

    // Another key pair, unknown to the node.
    let (other_pem, other_jwks) = new_key_pair("other-1").expect("key pair");
    let other = jsonwebtoken::EncodingKey::from_ec_pem(other_pem.as_bytes()).expect("pem");
    let sign_with = |key: &jsonwebtoken::EncodingKey, kid: &str, c: &serde_json::Value| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&h, c, key).expect("sign")
    };
    let (header, payload) = parts(&good);
    let signature = good.rsplit('.').next().expect("signature").to_owned();
    let tampered = {
        let mut p = payload.clone();
        p["sub"] = "someone-else".into();
        format!("{}.{}.{signature}", encode_part(&header), encode_part(&p))
    };
    let alg_none = {
        let h = serde_json::json!({"alg": "none", "typ": "JWT", "kid": LocalIssuer::KID});
        format!("{}.{}.", encode_part(&h), encode_part(&payload))
    };
    let hs256_with_public_key = {
        let jwks = std::fs::read(dir.path().join("auth/jwks.json")).expect("jwks");
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some(LocalIssuer::KID.into());
        let key = jsonwebtoken::EncodingKey::from_secret(&jwks).expect("secret");
        jsonwebtoken::encode(&h, &payload, &key).expect("sign")
    };
    let attacks: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("not a JWT", Some("abc.def".into())),
        (
            "expired",
            Some(
                issuer
                    .sign(&claims(serde_json::json!({"exp": now - 3_600})))
                    .expect("sign"),
            ),
        ),
        (
            "not valid before an hour from now",
            Some(
                issuer
                    .sign(&claims(serde_json::json!({"nbf": now + 3_600})))
                    .expect("sign"),
            ),
        ),
        (
            "another issuer",
            Some(
                issuer
                    .sign(&claims(serde_json::json!({"iss": "https://evil.example"})))
                    .expect("sign"),
            ),
        ),
        (
            "another audience",
            Some(
                issuer
                    .sign(&claims(serde_json::json!({"aud": "another-service"})))
                    .expect("sign"),
            ),
        ),
        (
            "no role of this service",
            Some(
                issuer
                    .sign(&claims(serde_json::json!({"roles": ["superuser"]})))
                    .expect("sign"),
            ),
        ),
        (
            "unknown kid",
            Some(sign_with(&other, "other-1", &claims(serde_json::json!({})))),
        ),
        (
            "another key under the known kid",
            Some(sign_with(
                &other,
                LocalIssuer::KID,
                &claims(serde_json::json!({})),
            )),
        ),
        ("tampered payload", Some(tampered)),
        ("alg none", Some(alg_none)),
        (
            "HS256 keyed with the public key",
            Some(hs256_with_public_key),
        ),
    ];
    for (name, token) in attacks {
        let got = status(&mut client(server.addr, token).await).await;
        assert_eq!(
            got.as_ref().map_err(|(code, _)| *code),
            Err(Code::Unauthenticated),
            "{name}: {got:?}"
        );
    }

    // Rotation: the deployment writes a new key set; tokens of the new key
    // are accepted without a restart, the old key's no longer.
    let rotated = sign_with(&other, "other-1", &claims(serde_json::json!({})));
    let jwks_path = dir.path().join("auth/jwks.json");
    let tmp = dir.path().join("auth/jwks.json.new");
    std::fs::write(&tmp, other_jwks).expect("write jwks");
    std::fs::rename(&tmp, &jwks_path).expect("replace jwks");
    assert_eq!(
        status(&mut client(server.addr, Some(rotated)).await).await,
        Ok(())
    );
    let deadline = std::time::Instant::now() + common::DEADLINE;
    loop {
        let old = status(&mut client(server.addr, Some(good.clone())).await).await;
        if old.as_ref().map_err(|(c, _)| *c) == Err(Code::Unauthenticated) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "old key still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    server.stop().expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_of_person_level_data_is_in_the_access_log_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, issuer) = start(dir.path()).await;
    load(&server, &issuer).await;
    let w = world();
    let (vacancy, cpi) = w.vacancy.clone();
    let op = issuer
        .token("op-audit", &[Role::Operator], &[cpi.as_str()], 600)
        .expect("token");
    let mut c = client(server.addr, Some(op)).await;
    let list = c
        .match_candidates(pb::MatchCandidatesRequest {
            vacancy_id: vacancy.clone(),
            limit: 5,
            include_personal_data: true,
            requester: Some(ev::Requester {
                purpose: "preselezione audit".into(),
                // Not the operator's: the token's CPI is recorded.
                cpi_code: "XX99".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    let listed = list
        .matches
        .first()
        .expect("a listed candidate")
        .candidate_id
        .clone();
    c.explain(pb::ExplainRequest {
        vacancy_id: vacancy.clone(),
        candidate_id: listed.clone(),
        requester: Some(ev::Requester {
            purpose: "spiegazione audit".into(),
            ..Default::default()
        }),
    })
    .await
    .expect("explain");
    server.stop().expect("clean stop");

    let (server, issuer) = start(dir.path()).await;
    let admin = issuer
        .token("dpo", &[Role::Admin], &[], 600)
        .expect("token");
    let mut a = client(server.addr, Some(admin)).await;
    let log = a
        .get_access_log(pb::GetAccessLogRequest {
            candidate_id: listed.clone(),
            ..Default::default()
        })
        .await
        .expect("access log")
        .into_inner()
        .records;
    assert_eq!(log.len(), 2, "{log:?}");
    let (first, second) = (&log[0], &log[1]);
    assert_eq!(first.rpc, "MatchCandidates");
    assert_eq!(first.subject, "op-audit");
    assert_eq!(first.role, "operator");
    assert_eq!(first.cpi_code, cpi);
    assert_eq!(first.purpose, "preselezione audit");
    assert!(first.personal_data);
    assert_eq!(first.vacancy_id, vacancy);
    assert_eq!(first.list_id, list.list_id);
    assert_eq!(first.candidate_ids.len(), list.matches.len());
    assert_eq!(second.rpc, "Explain");
    assert_eq!(second.purpose, "spiegazione audit");
    assert_eq!(second.candidate_ids, vec![listed.clone()]);
    assert!(!second.personal_data);
    // Somebody nobody looked at has an empty log.
    let unseen = w
        .candidates
        .keys()
        .find(|id| !first.candidate_ids.contains(id))
        .expect("an unlisted candidate");
    let none = a
        .get_access_log(pb::GetAccessLogRequest {
            candidate_id: unseen.clone(),
            ..Default::default()
        })
        .await
        .expect("access log")
        .into_inner()
        .records;
    assert!(none.is_empty(), "{none:?}");
    server.stop().expect("clean stop");
}

/// Issue 16: each caller has a share of the node. One subject that calls
/// too fast gets RESOURCE_EXHAUSTED with a retry hint; another subject is
/// served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_calling_too_fast_is_slowed_and_others_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = incontra_services::auth::LocalIssuer::open_or_create(dir.path()).expect("issuer");
    let mut options = incontra_services::node::NodeOptions::new(dir.path());
    options.auth_config = Some(issuer.config_path.clone());
    options.rate_limit = incontra_services::ratelimit::RateLimit {
        per_second: 2.0,
        burst: 5.0,
    };
    let server = common::ServerThread::start(options);
    let token = |who: &str| issuer.token(who, &[Role::Admin], &[], 600).expect("token");
    let mut hasty = client(server.addr, Some(token("hasty"))).await;
    let mut refused = None;
    for _ in 0..20 {
        if let Err(status) = hasty.get_status(pb::GetStatusRequest::default()).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("twenty calls at once from one subject were all served");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let hint: u64 = refused
        .metadata()
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a retry hint");
    assert!((1..=1_000).contains(&hint), "{hint} ms");
    let mut calm = client(server.addr, Some(token("calm"))).await;
    calm.get_status(pb::GetStatusRequest::default())
        .await
        .expect("another subject is served");
    tokio::time::sleep(std::time::Duration::from_millis(hint + 50)).await;
    hasty
        .get_status(pb::GetStatusRequest::default())
        .await
        .expect("served again after the hint");
    server.stop().expect("clean stop");
}
