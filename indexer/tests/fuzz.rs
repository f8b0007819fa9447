//! A fuzzer of our own over the ingestion edge and the fold: generated
//! envelopes, mutated at the byte level and field by field, go through
//! decoding (and, when accepted, the journal's sealed form and back) into a
//! state. Nothing may panic; whatever is accepted must read back from the
//! journal as the same event; what is refused names a field. Runs briefly
//! in CI (proptest's 256 cases); longer by hand:
//! `PROPTEST_CASES=100000 cargo test -p incontra-indexer --release --test fuzz`.

use std::sync::OnceLock;

use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::reference::ReferenceData;
use incontra_engine::state::State;
use incontra_indexer::decode::{DecodeError, Decoder};
use incontra_indexer::keys::PersonKeys;
use incontra_proto::events::v1 as pb;
use proptest::prelude::*;
use prost::Message;

struct World {
    reference: ReferenceData,
    pseudonymiser: Pseudonymiser,
    events: Vec<pb::Envelope>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let reference = ReferenceData::embedded().expect("reference data");
        let config = incontra_datagen::GeneratorConfig {
            candidates: 200,
            vacancies: 60,
            ..incontra_datagen::GeneratorConfig::small()
        };
        let events = incontra_datagen::Generator::new(&reference, config)
            .events()
            .collect();
        World {
            reference,
            pseudonymiser: Pseudonymiser::new(&[3u8; 32]),
            events,
        }
    })
}

/// One change to an envelope: a field set to a hostile value, or its bytes
/// damaged.
#[derive(Debug, Clone)]
enum Mutation {
    Text(u8, String),
    Number(u8, i64),
    FlipByte(usize, u8),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let hostile_text = prop_oneof![
        Just(String::new()),
        Just("\0".to_owned()),
        Just("x".repeat(300_000)),
        Just("ZZ.ZZ".to_owned()),
        Just("not-a-piva".to_owned()),
        Just("RSSMRA85T10A562S".to_owned()),
        Just("𝕏 é ' \" ; --".to_owned()),
        "\\PC{0,40}",
    ];
    let hostile_number = prop_oneof![
        Just(0i64),
        Just(-1),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MIN)),
        Just(i64::MAX),
        Just(i64::MIN),
        any::<i64>(),
    ];
    prop_oneof![
        (any::<u8>(), hostile_text).prop_map(|(f, t)| Mutation::Text(f, t)),
        (any::<u8>(), hostile_number).prop_map(|(f, n)| Mutation::Number(f, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Applies a field mutation to whichever of an envelope's fields `field`
/// picks among those its payload has.
fn mutate_fields(e: &mut pb::Envelope, m: &Mutation) {
    use pb::envelope::Payload;
    match m {
        Mutation::Text(f, t) => match (f % 8, &mut e.payload) {
            (0, _) => e.event_id = t.clone(),
            (1, _) => e.entity_id = t.clone(),
            (2, _) => e.source = t.clone(),
            (
                3,
                Some(Payload::Vacancy(pb::VacancyEvent {
                    kind: Some(pb::vacancy_event::Kind::Published(v)),
                })),
            ) => {
                if let Some(employer) = &mut v.employer {
                    employer.ateco_code = t.clone();
                    employer.fiscal_code = t.clone();
                }
            }
            (
                4,
                Some(Payload::Candidacy(pb::CandidacyEvent {
                    kind: Some(pb::candidacy_event::Kind::Registered(r)),
                })),
            ) => {
                if let Some(p) = &mut r.personal {
                    p.family_name = t.clone();
                    p.codice_fiscale = t.clone();
                }
                if let Some(p) = &mut r.profile {
                    p.summary = t.clone();
                    p.domicile_comune = t.clone();
                }
            }
            (5, Some(Payload::Co(co))) => {
                co.code = t.clone();
                co.lavoratore_codice_fiscale = t.clone();
            }
            (6, Some(Payload::Co(co))) => co.lavoratore_pseudonym = t.clone(),
            _ => e.event_id = t.clone(),
        },
        Mutation::Number(f, n) => match (f % 6, &mut e.payload) {
            (0, _) => e.entity_version = *n as u64,
            (1, _) => e.occurred_at_ms = *n,
            (
                2,
                Some(Payload::Candidacy(pb::CandidacyEvent {
                    kind: Some(pb::candidacy_event::Kind::Registered(r)),
                })),
            ) => r.did_day = *n as i32,
            (
                3,
                Some(Payload::Vacancy(pb::VacancyEvent {
                    kind: Some(pb::vacancy_event::Kind::Published(v)),
                })),
            ) => {
                v.valid_until_day = *n as i32;
                v.hours_percent = *n as u32;
                v.positions = *n as u32;
            }
            (4, Some(Payload::Co(co))) => {
                if let Some(pb::comunicazione_obbligatoria::Quadro::Assunzione(a)) = &mut co.quadro
                {
                    a.start_day = *n as i32;
                    a.hours_percent = *n as u32;
                }
            }
            _ => e.schema_version = *n as u32,
        },
        _ => {}
    }
}

fn bytes_of(e: &pb::Envelope, m: &Mutation) -> Vec<u8> {
    let mut bytes = e.encode_to_vec();
    match m {
        Mutation::FlipByte(i, b) if !bytes.is_empty() => {
            let i = i % bytes.len();
            bytes[i] ^= b | 1;
        }
        Mutation::Truncate(n) if !bytes.is_empty() => bytes.truncate(n % bytes.len()),
        _ => {}
    }
    bytes
}

proptest! {
    #[test]
    fn hostile_envelopes_never_panic_and_what_is_accepted_reads_back_the_same(
        picks in proptest::collection::vec((any::<proptest::sample::Index>(), mutation()), 1..24),
    ) {
        let w = world();
        let keys = PersonKeys::in_memory();
        let decoder = Decoder::new(&w.reference, &w.pseudonymiser, &keys);
        let mut state = State::new();
        // A prefix of the world first, so mutated updates meet real entities.
        for e in w.events.iter().take(300) {
            let (event, _) = decoder
                .decode_for_journal(e, e.encode_to_vec())
                .expect("generated events decode");
            state.apply(&event);
        }
        for (pick, m) in &picks {
            let mut e = w.events[pick.index(w.events.len())].clone();
            mutate_fields(&mut e, m);
            let bytes = bytes_of(&e, m);
            let Ok(envelope) = pb::Envelope::decode(bytes.as_slice()) else {
                continue;
            };
            match decoder.decode_for_journal(&envelope, bytes.clone()) {
                Ok((event, stored)) => {
                    let replayed = decoder.decode_stored(&stored);
                    prop_assert_eq!(replayed.as_ref().ok(), Some(&event), "journal form of {:?}", m);
                    state.apply(&event);
                }
                Err(DecodeError::Invalid { field, .. }) => {
                    prop_assert!(!field.is_empty());
                }
                Err(_) => {}
            }
        }
        let _ = state.digest();
    }
}
