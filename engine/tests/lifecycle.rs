//! The employment lifecycle as the fold sees it: CO hires filling vacancy
//! positions whatever order the streams interleave in, corrections that
//! replay to the same state, and refused notices that change nothing.

use incontra_engine::event::{
    CoAction, CoQuadro, ComunicazioneObbligatoria, Event, EventMeta, EventPayload, VacancyEvent,
};
use incontra_engine::model::{ContractType, Day, Employer, VacancySpec};
use incontra_engine::state::{Outcome, State};
use proptest::prelude::*;

const ACME: &str = "00743110157";
const OTHER: &str = "01234567890";
const COOK: &str = "5.2.2.1.0";

fn meta(event_id: &str, entity: &str, version: u64) -> EventMeta {
    EventMeta {
        event_id: event_id.into(),
        entity_id: entity.into(),
        entity_version: version,
        occurred_at_ms: 0,
        source: "test".into(),
    }
}

fn publish(id: &str, employer: &str, profession: &str, positions: u32, from: Day) -> Event {
    Event {
        meta: meta(&format!("pub-{id}"), id, 1),
        payload: EventPayload::Vacancy(VacancyEvent::Published(VacancySpec {
            title: "Cuoco".into(),
            employer: Employer {
                fiscal_code: employer.into(),
                name: "Acme Spa".into(),
                ..Employer::default()
            },
            workplace_comune: "001272".into(),
            profession_code: profession.into(),
            hours_percent: 100,
            positions,
            valid_from_day: from,
            valid_until_day: from + 60,
            ..VacancySpec::default()
        })),
    }
}

fn co(
    person: &str,
    version: u64,
    code: &str,
    action: CoAction,
    previous: &str,
    employer: &str,
    quadro: CoQuadro,
) -> Event {
    Event {
        meta: meta(&format!("ev-{code}"), person, version),
        payload: EventPayload::Employment(ComunicazioneObbligatoria {
            code: code.into(),
            action,
            previous_code: previous.into(),
            datore: Employer {
                fiscal_code: employer.into(),
                name: "Acme Spa".into(),
                ..Employer::default()
            },
            workplace_comune: "001272".into(),
            quadro,
        }),
    }
}

fn assunzione(start: Day, profession: &str) -> CoQuadro {
    CoQuadro::Assunzione {
        start_day: start,
        end_day: None,
        contract_code: "A.01.00".into(),
        contract_type: ContractType::Indeterminato,
        profession_code: profession.into(),
        ccnl: String::new(),
        hours_percent: 100,
        annual_pay_eur: None,
    }
}

fn hire(person: &str, version: u64, code: &str, employer: &str, start: Day) -> Event {
    co(
        person,
        version,
        code,
        CoAction::Original,
        "",
        employer,
        assunzione(start, COOK),
    )
}

fn open(state: &State, id: &str) -> u32 {
    state.vacancy(id).map_or(0, |v| v.open_positions())
}

#[test]
fn a_hire_by_the_employer_for_the_profession_fills_a_position() {
    let mut s = State::new();
    s.apply(&publish("V1", ACME, COOK, 2, 100));
    s.apply(&hire("P1", 1, "C1", ACME, 110));
    assert_eq!(open(&s, "V1"), 1);
    // Another employer, another categoria, or a hire before publication:
    // none fills it.
    s.apply(&hire("P2", 1, "C2", OTHER, 110));
    s.apply(&co(
        "P3",
        1,
        "C3",
        CoAction::Original,
        "",
        ACME,
        assunzione(110, "8.1.4.3.0"),
    ));
    s.apply(&hire("P4", 1, "C4", ACME, 90));
    assert_eq!(open(&s, "V1"), 1);
    s.apply(&hire("P5", 1, "C5", ACME, 111));
    assert_eq!(open(&s, "V1"), 0);
    assert!(
        !s.vacancy("V1").unwrap().is_open_on(112),
        "a full vacancy leaves lists"
    );
    let filled: Vec<&str> = s
        .vacancy("V1")
        .unwrap()
        .filled_by_hires
        .iter()
        .map(|h| h.hire_code.as_str())
        .collect();
    assert_eq!(filled, ["C1", "C5"]);
    // The annullamento of a hire gives the position back.
    s.apply(&co(
        "P1",
        2,
        "C6",
        CoAction::Annullamento,
        "C1",
        ACME,
        CoQuadro::None,
    ));
    assert_eq!(open(&s, "V1"), 1);
}

#[test]
fn hires_go_to_the_earliest_vacancy_with_room() {
    let mut s = State::new();
    s.apply(&publish("V2", ACME, COOK, 1, 105));
    s.apply(&publish("V1", ACME, COOK, 1, 100));
    s.apply(&hire("P1", 1, "C1", ACME, 106));
    assert_eq!((open(&s, "V1"), open(&s, "V2")), (0, 1));
    s.apply(&hire("P2", 1, "C2", ACME, 107));
    assert_eq!((open(&s, "V1"), open(&s, "V2")), (0, 0));
    // Withdrawing V1 hands its hire to V2, and V2's hire has nowhere to go.
    s.apply(&Event {
        meta: meta("w1", "V1", 2),
        payload: EventPayload::Vacancy(VacancyEvent::Withdrawn { reason: "x".into() }),
    });
    let v2: Vec<&str> = s
        .vacancy("V2")
        .unwrap()
        .filled_by_hires
        .iter()
        .map(|h| h.hire_code.as_str())
        .collect();
    assert_eq!(v2, ["C1"]);
}

/// Per-stream logs (each entity's events in order) that the test interleaves
/// arbitrarily, as a Kafka replica reading several partitions would.
fn streams() -> Vec<Vec<Event>> {
    let mut vacancies = Vec::new();
    for (i, positions) in [(0, 2), (1, 1), (2, 3)] {
        vacancies.push(vec![publish(
            &format!("V{i}"),
            ACME,
            COOK,
            positions,
            100 + i * 3,
        )]);
    }
    vacancies.push(vec![
        publish("V9", OTHER, COOK, 1, 100),
        Event {
            meta: meta("close-V9", "V9", 2),
            payload: EventPayload::Vacancy(VacancyEvent::Closed),
        },
    ]);
    let mut workers = Vec::new();
    for p in 0..8u32 {
        let person = format!("P{p}");
        let employer = if p % 4 == 3 { OTHER } else { ACME };
        let start = 100 + (p as Day * 2);
        let mut log = vec![hire(&person, 1, &format!("H{p}"), employer, start)];
        if p % 3 == 0 {
            // A rettifica moving the start, then a cessazione.
            log.push(co(
                &person,
                2,
                &format!("R{p}"),
                CoAction::Rettifica,
                &format!("H{p}"),
                employer,
                assunzione(start + 1, COOK),
            ));
            log.push(co(
                &person,
                3,
                &format!("S{p}"),
                CoAction::Original,
                "",
                employer,
                CoQuadro::Cessazione {
                    day: start + 20,
                    cause: "dimissioni".into(),
                },
            ));
        }
        if p % 5 == 1 {
            log.push(co(
                &person,
                2,
                &format!("A{p}"),
                CoAction::Annullamento,
                &format!("H{p}"),
                employer,
                CoQuadro::None,
            ));
        }
        workers.push(log);
    }
    vacancies.into_iter().chain(workers).collect()
}

/// Merges the streams by `picks`: each pick names the stream whose next
/// event comes next.
fn interleave(streams: &[Vec<Event>], picks: &[usize]) -> Vec<Event> {
    let mut next = vec![0usize; streams.len()];
    let mut out = Vec::new();
    let mut picks = picks.iter().cycle();
    while out.len() < streams.iter().map(Vec::len).sum::<usize>() {
        let Some(&pick) = picks.next() else { break };
        let live: Vec<usize> = (0..streams.len())
            .filter(|&i| next[i] < streams[i].len())
            .collect();
        let i = live[pick % live.len()];
        out.push(streams[i][next[i]].clone());
        next[i] += 1;
    }
    out
}

fn fold(log: &[Event]) -> State {
    let mut s = State::new();
    for e in log {
        s.apply(e);
    }
    s
}

fn fills(s: &State) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = s
        .vacancies()
        .map(|v| {
            (
                v.id.clone(),
                v.filled_by_hires
                    .iter()
                    .map(|h| h.hire_code.clone())
                    .collect(),
            )
        })
        .collect();
    v.sort();
    v
}

proptest! {
    #[test]
    fn fill_and_corrections_do_not_depend_on_how_streams_interleave(
        picks in prop::collection::vec(0usize..64, 1..40)
    ) {
        let streams = streams();
        let in_order: Vec<Event> = streams.iter().flatten().cloned().collect();
        let reference = fold(&in_order);
        let mixed = fold(&interleave(&streams, &picks));
        prop_assert_eq!(fills(&reference), fills(&mixed));
        prop_assert_eq!(&reference, &mixed);
        prop_assert_eq!(reference.digest(), mixed.digest());
        // And a snapshot of it restores to the same fill.
        let mut back: State = postcard::from_bytes(&postcard::to_allocvec(&mixed).unwrap()).unwrap();
        back.rebuild_indexes();
        prop_assert_eq!(fills(&back), fills(&mixed));
    }
}

#[test]
fn corrections_replay_to_the_state_the_corrected_notices_describe() {
    let streams = streams();
    let log: Vec<Event> = streams.iter().flatten().cloned().collect();
    let once = fold(&log);
    assert_eq!(
        once.digest(),
        fold(&log).digest(),
        "replay is deterministic"
    );
    // P0 had a rettifica moving the start to 101 and a cessazione: the
    // contract reads as if the hire had said 101 from the start, under the
    // original's code.
    let record = once.employment_record("P0").unwrap();
    assert_eq!(record.contracts().len(), 1);
    assert_eq!(record.contracts()[0].start_day, 101);
    assert_eq!(record.contracts()[0].hire_code, "H0");
    assert!(record.contracts()[0].ceased.is_some());
    // P1's hire was annulled: no contract, and it fills nothing.
    assert!(once.employment_record("P1").unwrap().contracts().is_empty());
    assert!(fills(&once)
        .iter()
        .all(|(_, hires)| !hires.contains(&"H1".to_owned())));
    // The same worker history sent already corrected.
    let clean = fold(&[
        hire("P0", 1, "H0", ACME, 101),
        co(
            "P0",
            2,
            "S0",
            CoAction::Original,
            "",
            ACME,
            CoQuadro::Cessazione {
                day: 120,
                cause: "dimissioni".into(),
            },
        ),
    ]);
    assert_eq!(
        clean.employment_record("P0").unwrap().contracts(),
        record.contracts()
    );
}

#[test]
fn refused_notices_change_nothing_but_the_seen_counters() {
    let mut s = State::new();
    s.apply(&publish("V1", ACME, COOK, 1, 100));
    // A correction of a notice never received, for a worker never seen.
    let orphan = co(
        "P9",
        1,
        "X1",
        CoAction::Rettifica,
        "NOPE",
        ACME,
        assunzione(110, COOK),
    );
    let before = (fills(&s), s.employment_count());
    assert!(matches!(s.apply(&orphan), Outcome::Ignored { .. }));
    assert_eq!((fills(&s), s.employment_count()), before);
    assert!(s.employment_record("P9").is_none());

    s.apply(&hire("P1", 1, "C1", ACME, 110));
    let record = s.employment_record("P1").unwrap().clone();
    let filled = fills(&s);
    let refused = [
        // Ends before it began.
        co(
            "P1",
            2,
            "C2",
            CoAction::Original,
            "",
            ACME,
            CoQuadro::Cessazione {
                day: 100,
                cause: "dimissioni".into(),
            },
        ),
        // A proroga of an open-ended contract.
        co(
            "P1",
            3,
            "C3",
            CoAction::Original,
            "",
            ACME,
            CoQuadro::Proroga { new_end_day: 300 },
        ),
        // A cessazione for an employer the worker never worked for.
        co(
            "P1",
            4,
            "C4",
            CoAction::Original,
            "",
            OTHER,
            CoQuadro::Cessazione {
                day: 120,
                cause: "dimissioni".into(),
            },
        ),
        // The same codice comunicazione again, in another event.
        Event {
            meta: meta("resent", "P1", 5),
            ..hire("P1", 5, "C1", ACME, 130)
        },
    ];
    for event in &refused {
        match s.apply(event) {
            Outcome::Ignored { reason } => assert!(reason.contains("non applicata"), "{reason}"),
            other => panic!("{other:?} for {event:?}"),
        }
        assert_eq!(s.employment_record("P1"), Some(&record));
        assert_eq!(fills(&s), filled);
    }
}
