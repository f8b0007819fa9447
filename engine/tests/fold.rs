//! Folding, idempotency and ordering of the event log.

use incontra_engine::event::{
    CandidacyEvent, CoAction, CoQuadro, ComunicazioneObbligatoria, Event, EventMeta, EventPayload,
    VacancyEvent,
};
use incontra_engine::model::{
    CandidateProfile, ContractType, Employer, ProtectedCategory, SealedPersonalData, VacancySpec,
    VacancyStatus,
};
use incontra_engine::state::{Outcome, State};
use proptest::prelude::*;

fn meta(event_id: &str, entity: &str, version: u64) -> EventMeta {
    EventMeta {
        event_id: event_id.into(),
        entity_id: entity.into(),
        entity_version: version,
        occurred_at_ms: 1_700_000_000_000 + version as i64,
        source: "test".into(),
    }
}

fn spec(title: &str) -> VacancySpec {
    VacancySpec {
        title: title.into(),
        workplace_comune: "001272".into(),
        profession_code: "5.2.2.1.0".into(),
        hours_percent: 100,
        positions: 2,
        ..VacancySpec::default()
    }
}

fn publish(event_id: &str, id: &str, version: u64, title: &str) -> Event {
    Event {
        meta: meta(event_id, id, version),
        payload: EventPayload::Vacancy(VacancyEvent::Published(spec(title))),
    }
}

fn vacancy(event_id: &str, id: &str, version: u64, ev: VacancyEvent) -> Event {
    Event {
        meta: meta(event_id, id, version),
        payload: EventPayload::Vacancy(ev),
    }
}

fn register(event_id: &str, id: &str, person: &str) -> Event {
    Event {
        meta: meta(event_id, id, 1),
        payload: EventPayload::Candidacy(CandidacyEvent::Registered {
            personal: SealedPersonalData {
                key_owner: person.into(),
                nonce: vec![1; 12],
                ciphertext: b"opaque to the engine".to_vec(),
            },
            person: person.into(),
            demographics: None,
            did_day: 19_000,
            profile: CandidateProfile {
                domicile_comune: "001272".into(),
                ..CandidateProfile::default()
            },
            protected_category: ProtectedCategory::None,
        }),
    }
}

fn hire(event_id: &str, person: &str, version: u64, code: &str) -> Event {
    Event {
        meta: meta(event_id, person, version),
        payload: EventPayload::Employment(ComunicazioneObbligatoria {
            code: code.into(),
            action: CoAction::Original,
            previous_code: String::new(),
            datore: Employer {
                fiscal_code: "00743110157".into(),
                name: "Acme Spa".into(),
                ..Employer::default()
            },
            workplace_comune: "001272".into(),
            quadro: CoQuadro::Assunzione {
                start_day: 20_000,
                end_day: None,
                contract_code: "A.01.00".into(),
                contract_type: ContractType::Indeterminato,
                profession_code: "5.2.2.1.0".into(),
                ccnl: String::new(),
                hours_percent: 100,
                annual_pay_eur: None,
            },
        }),
    }
}

#[test]
fn publish_update_fill_close() {
    let mut s = State::new();
    assert_eq!(s.apply(&publish("e1", "V1", 1, "Cuoco")), Outcome::Applied);
    assert_eq!(
        s.apply(&vacancy(
            "e2",
            "V1",
            2,
            VacancyEvent::Updated(spec("Cuoco capo partita"))
        )),
        Outcome::Applied
    );
    assert_eq!(s.vacancy("V1").unwrap().spec.title, "Cuoco capo partita");
    s.apply(&vacancy(
        "e3",
        "V1",
        3,
        VacancyEvent::PositionsFilled { count: 1 },
    ));
    assert_eq!(s.vacancy("V1").unwrap().open_positions(), 1);
    assert_eq!(s.vacancy("V1").unwrap().status, VacancyStatus::Open);
    s.apply(&vacancy(
        "e4",
        "V1",
        4,
        VacancyEvent::PositionsFilled { count: 1 },
    ));
    // Full: no longer listable. Its status stays the employer's (issue 16:
    // "full" follows from the final counts, so the order in which fills and
    // edits of the positions arrive cannot change it).
    let v = s.vacancy("V1").unwrap();
    assert_eq!(v.open_positions(), 0);
    assert!(!v.is_listable());
    assert_eq!(v.status, VacancyStatus::Open);
    assert_eq!(s.counters().applied, 4);
}

#[test]
fn duplicate_event_id_is_ignored_and_counted() {
    let mut s = State::new();
    let e = publish("e1", "V1", 1, "Cuoco");
    assert_eq!(s.apply(&e), Outcome::Applied);
    let before = s.clone();
    assert_eq!(s.apply(&e), Outcome::DuplicateEvent);
    // Same id even with a newer version: still the same event.
    let mut again = vacancy("e1", "V1", 9, VacancyEvent::Closed);
    again.meta.event_id = "e1".into();
    assert_eq!(s.apply(&again), Outcome::DuplicateEvent);
    assert_eq!(s.vacancy("V1"), before.vacancy("V1"));
    assert_eq!(s.counters().duplicates, 2);
    assert_eq!(s.counters().applied, 1);
}

#[test]
fn older_or_equal_version_is_ignored_and_counted() {
    let mut s = State::new();
    s.apply(&publish("e1", "V1", 1, "Cuoco"));
    s.apply(&vacancy(
        "e3",
        "V1",
        3,
        VacancyEvent::Updated(spec("Versione 3")),
    ));
    assert_eq!(
        s.apply(&vacancy(
            "e2",
            "V1",
            2,
            VacancyEvent::Updated(spec("Versione 2"))
        )),
        Outcome::StaleVersion { current: 3 }
    );
    assert_eq!(s.vacancy("V1").unwrap().spec.title, "Versione 3");
    // Versions order each part of a vacancy: closing it at version 2 is
    // not shadowed by an edit of its text at 3 (in version order it was
    // closed, then edited); a second close at 2 is.
    assert_eq!(
        s.apply(&vacancy("e2b", "V1", 2, VacancyEvent::Closed)),
        Outcome::Applied
    );
    assert_eq!(
        s.apply(&vacancy("e2c", "V1", 2, VacancyEvent::Closed)),
        Outcome::StaleVersion { current: 2 }
    );
    assert_eq!(s.vacancy("V1").unwrap().spec.title, "Versione 3");
    assert_eq!(s.vacancy("V1").unwrap().status, VacancyStatus::Closed);
    assert_eq!(s.counters().stale, 2);
}

#[test]
fn versions_are_per_stream_not_per_id() {
    // The same person is a candidacy and an employment record with their
    // own counters: version 1 of one must not shadow version 1 of the other.
    let mut s = State::new();
    assert_eq!(s.apply(&register("c1", "p-1", "p-1")), Outcome::Applied);
    assert_eq!(
        s.apply(&hire("co1", "p-1", 1, "CO0000000000001")),
        Outcome::Applied
    );
    let c = s.candidate("p-1").unwrap();
    assert_eq!(s.employment_of(c).unwrap().busy_hours_percent(20_001), 100);
}

#[test]
fn an_event_before_its_entity_waits_for_it_and_is_not_lost() {
    // Issue 16: a profile update at version 2 sent before the registration
    // at version 1 used to be ignored and to advance the version, so the
    // registration was then dropped as stale and the person never existed.
    let mut s = State::new();
    let close = vacancy("e2", "V1", 2, VacancyEvent::Closed);
    assert_eq!(s.apply(&close), Outcome::Waiting);
    assert_eq!(s.apply(&close), Outcome::DuplicateEvent, "a resend");
    assert_eq!(s.vacancy_count(), 0);
    assert_eq!(s.counters().waiting, 1);
    assert_eq!(s.apply(&publish("e1", "V1", 1, "Cuoco")), Outcome::Applied);
    assert_eq!(s.vacancy("V1").unwrap().status, VacancyStatus::Closed);
    assert_eq!((s.counters().waiting, s.counters().applied), (0, 2));
    assert_eq!(s.counters().folded(), 3);

    let mut update = register("c2", "C1", "p-1");
    update.meta.entity_version = 2;
    update.payload = EventPayload::Candidacy(CandidacyEvent::ProfileUpdated(CandidateProfile {
        domicile_comune: "001272".into(),
        summary: "aggiornato".into(),
        ..CandidateProfile::default()
    }));
    assert_eq!(s.apply(&update), Outcome::Waiting);
    assert_eq!(s.apply(&register("c1", "C1", "p-1")), Outcome::Applied);
    assert_eq!(s.candidate("C1").unwrap().profile.summary, "aggiornato");
}

#[test]
fn waiting_is_bounded_per_entity() {
    let mut s = State::new();
    for i in 0..incontra_engine::state::MAX_WAITING_PER_ENTITY {
        let e = vacancy(&format!("e{i}"), "V404", i as u64 + 2, VacancyEvent::Closed);
        assert_eq!(s.apply(&e), Outcome::Waiting);
    }
    let over = vacancy("over", "V404", 1_000, VacancyEvent::Closed);
    assert!(matches!(s.apply(&over), Outcome::Ignored { .. }));
    assert_eq!(s.apply(&over), Outcome::DuplicateEvent);
}

/// One entity's events, in version order, of the kinds that can arrive in
/// any order.
fn entity_events(kinds: &[u8], candidacy: bool) -> Vec<Event> {
    let mut events = vec![if candidacy {
        register("c1", "C1", "p-1")
    } else {
        publish("e1", "V1", 1, "Cuoco")
    }];
    for (i, k) in kinds.iter().enumerate() {
        let version = i as u64 + 2;
        let id = format!("x{version}");
        let e = if candidacy {
            let payload = match k % 4 {
                0 => CandidacyEvent::ProfileUpdated(CandidateProfile {
                    domicile_comune: ["001272", "004078"][i % 2].into(),
                    max_distance_km: version as u32,
                    summary: format!("versione {version}"),
                    ..CandidateProfile::default()
                }),
                1 => CandidacyEvent::AvailabilityChanged {
                    available: false,
                    reason: String::new(),
                },
                2 => CandidacyEvent::AvailabilityChanged {
                    available: true,
                    reason: String::new(),
                },
                _ => CandidacyEvent::Withdrawn {
                    reason: String::new(),
                },
            };
            Event {
                meta: meta(&id, "C1", version),
                payload: EventPayload::Candidacy(payload),
            }
        } else {
            let ev = match k % 4 {
                0 => VacancyEvent::Updated(spec(&format!("versione {version}"))),
                1 => VacancyEvent::Closed,
                2 => VacancyEvent::PositionsFilled { count: 1 },
                _ => VacancyEvent::Withdrawn {
                    reason: String::new(),
                },
            };
            vacancy(&id, "V1", version, ev)
        };
        events.push(e);
    }
    events
}

proptest! {
    /// Issue 16: any arrival order of one entity's events, with resends,
    /// ends in the state the ordered stream gives.
    #[test]
    fn any_arrival_order_of_an_entitys_events_ends_in_the_ordered_state(
        kinds in proptest::collection::vec(0u8..4, 0..8),
        candidacy in any::<bool>(),
        order in any::<proptest::sample::Index>(),
        resends in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
    ) {
        let events = entity_events(&kinds, candidacy);
        let mut ordered = State::new();
        for e in &events {
            ordered.apply(e);
        }
        // One permutation of them, picked by `order`, plus some resends.
        let mut shuffled = events.clone();
        let n = shuffled.len();
        let mut pick = order.index(usize::MAX);
        for i in (1..n).rev() {
            shuffled.swap(i, pick % (i + 1));
            pick /= i + 1;
        }
        for r in &resends {
            let again = shuffled[r.index(n)].clone();
            shuffled.insert(r.index(n + 1), again);
        }
        let mut arrived = State::new();
        for e in &shuffled {
            arrived.apply(e);
        }
        prop_assert_eq!(arrived.candidate("C1"), ordered.candidate("C1"));
        prop_assert_eq!(arrived.vacancy("V1"), ordered.vacancy("V1"));
        prop_assert_eq!(arrived.counters().waiting, 0);
        prop_assert_eq!(arrived.counters().applied + arrived.counters().stale,
            ordered.counters().applied + ordered.counters().stale);
    }
}

#[test]
fn personal_data_lives_apart_from_the_candidate() {
    let mut s = State::new();
    s.apply(&register("c1", "C1", "p-1"));
    assert_eq!(
        s.personal_data("C1").unwrap().ciphertext,
        b"opaque to the engine"
    );
    let c = s.candidate("C1").unwrap();
    // Nothing a scorer reads carries the code.
    let serialized = serde_json::to_string(&c.profile).unwrap();
    assert!(!serialized.contains("RSSMRA85T10A562S"));
    assert_eq!(s.protected_category("C1"), ProtectedCategory::None);
}

#[test]
fn digest_ignores_map_order_and_tracks_content() {
    let mut a = State::new();
    let mut b = State::new();
    a.apply(&publish("e1", "V1", 1, "Cuoco"));
    a.apply(&publish("e2", "V2", 1, "Barista"));
    b.apply(&publish("e2", "V2", 1, "Barista"));
    b.apply(&publish("e1", "V1", 1, "Cuoco"));
    assert_eq!(a.digest(), b.digest());
    b.apply(&vacancy("e3", "V2", 2, VacancyEvent::Closed));
    assert_ne!(a.digest(), b.digest());
}

/// An arbitrary log over a few entities, with duplicates, stale versions and
/// updates of unknown entities mixed in.
fn arbitrary_log() -> impl Strategy<Value = Vec<Event>> {
    let one = (0u8..4, 0u8..6, 1u64..6, 0u8..3).prop_map(|(entity, kind, version, dup)| {
        let id = format!("V{entity}");
        // Event ids collide on purpose for `dup == 0`.
        let event_id = if dup == 0 {
            format!("dup-{entity}-{version}")
        } else {
            format!("e-{entity}-{kind}-{version}-{dup}")
        };
        let ev = match kind {
            0 => VacancyEvent::Published(spec("Cuoco")),
            1 => VacancyEvent::Updated(spec(&format!("Titolo {version}"))),
            2 => VacancyEvent::PositionsFilled { count: 1 },
            3 => VacancyEvent::Closed,
            4 => VacancyEvent::Withdrawn { reason: "x".into() },
            _ => VacancyEvent::Published(spec("Barista")),
        };
        vacancy(&event_id, &id, version, ev)
    });
    prop::collection::vec(one, 0..60)
}

proptest! {
    #[test]
    fn replaying_a_log_twice_gives_the_same_state(log in arbitrary_log()) {
        let mut first = State::new();
        for e in &log { first.apply(e); }
        let mut second = State::new();
        for e in &log { second.apply(e); }
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(first.digest(), second.digest());
    }

    #[test]
    fn redelivering_the_whole_log_changes_nothing_but_counters(log in arbitrary_log()) {
        let mut s = State::new();
        for e in &log { s.apply(e); }
        let vacancies: Vec<_> = {
            let mut v: Vec<_> = s.vacancies().cloned().collect();
            v.sort_by(|a, b| a.id.cmp(&b.id));
            v
        };
        let applied = s.counters().applied;
        for e in &log { prop_assert_ne!(s.apply(e), Outcome::Applied); }
        let mut after: Vec<_> = s.vacancies().cloned().collect();
        after.sort_by(|a, b| a.id.cmp(&b.id));
        prop_assert_eq!(vacancies, after);
        prop_assert_eq!(s.counters().applied, applied);
    }

    #[test]
    fn snapshot_round_trip_preserves_state(log in arbitrary_log()) {
        let mut s = State::new();
        for e in &log { s.apply(e); }
        let bytes = postcard::to_allocvec(&s).unwrap();
        let mut back: State = postcard::from_bytes(&bytes).unwrap();
        back.rebuild_indexes();
        prop_assert_eq!(&s, &back);
        prop_assert_eq!(s.digest(), back.digest());
    }
}

#[test]
fn an_erased_candidacy_keeps_nothing_of_the_person_but_their_pseudonym_and_cpi() {
    let mut s = State::new();
    let mut registration = register("c1", "C1", "p-1");
    if let EventPayload::Candidacy(CandidacyEvent::Registered {
        profile,
        protected_category,
        ..
    }) = &mut registration.payload
    {
        profile.cpi_code = "CPI-TO".into();
        profile.desired_professions = vec!["5.2.2.1.0".into()];
        profile.summary = "Cuoco con dieci anni di esperienza".into();
        *protected_category = ProtectedCategory::Art1;
    }
    s.apply(&registration);
    let erasure = Event {
        meta: meta("e1", "C1", 1),
        payload: EventPayload::Erasure(incontra_engine::event::Erasure {
            reason: "richiesta dell'interessato".into(),
        }),
    };
    assert_eq!(s.apply(&erasure), Outcome::Applied);
    let c = s.candidate("C1").unwrap();
    assert!(c.erased && c.withdrawn && !c.available);
    assert_eq!(c.person, "p-1", "their CO still join by pseudonym");
    assert_eq!(c.profile.cpi_code, "CPI-TO");
    assert!(c.profile.desired_professions.is_empty() && c.profile.summary.is_empty());
    assert!(s.personal_data("C1").is_none());
    assert_eq!(s.protected_category("C1"), ProtectedCategory::None);
    assert_eq!(
        s.candidate_of_person("p-1").map(|c| c.id.as_str()),
        Some("C1")
    );

    // Nothing brings the candidacy back.
    let update = Event {
        meta: meta("c2", "C1", 2),
        payload: EventPayload::Candidacy(CandidacyEvent::ProfileUpdated(CandidateProfile {
            summary: "di nuovo".into(),
            ..CandidateProfile::default()
        })),
    };
    assert!(matches!(s.apply(&update), Outcome::Ignored { .. }));
    assert!(s.candidate("C1").unwrap().profile.summary.is_empty());
    let again = Event {
        meta: meta("e2", "C1", 2),
        ..erasure
    };
    assert!(matches!(s.apply(&again), Outcome::Ignored { .. }));
}

fn issued(id: &str, day: i32) -> Event {
    use incontra_engine::event::{IssuedList, ListDirection, Requester};
    Event {
        meta: meta(&format!("list-{id}"), id, 1),
        payload: EventPayload::ListIssued(IssuedList {
            direction: ListDirection::CandidatesForVacancy,
            subject_id: "V1".into(),
            requester: Requester::default(),
            issued_day: day,
            issued_at_ms: i64::from(day) * 86_400_000,
            log_position: 0,
            weights_version: "test".into(),
            rows: Vec::new(),
            query: None,
        }),
    }
}

#[test]
fn recorded_lists_are_kept_for_the_retention_whatever_their_order() {
    // Issue 16: every list answered is recorded; without a retention the
    // state (and every snapshot) grows for ever.
    let days = [100, 105, 131, 90, 140, 135, 109];
    let lists: Vec<Event> = days
        .iter()
        .enumerate()
        .map(|(i, d)| issued(&format!("L{i}"), *d))
        .collect();
    let kept = |order: &[usize]| {
        let mut s = State::new();
        s.set_list_retention(Some(30));
        for i in order {
            s.apply(&lists[*i]);
        }
        let mut ids: Vec<String> = s.lists().map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids
    };
    // The newest is day 140: lists of day 110 onwards stay.
    let expected = vec!["L2", "L4", "L5"];
    assert_eq!(kept(&[0, 1, 2, 3, 4, 5, 6]), expected);
    assert_eq!(kept(&[4, 6, 3, 0, 5, 1, 2]), expected);
    assert_eq!(kept(&[6, 5, 4, 3, 2, 1, 0]), expected);
    // Without a retention, all of them.
    let mut s = State::new();
    for l in &lists {
        s.apply(l);
    }
    assert_eq!(s.lists().count(), days.len());
    // Turning one on drops what is behind it at once.
    s.set_list_retention(Some(30));
    assert_eq!(s.lists().count(), 3);
}
