//! Commax-style bulk bursts: many hire notices at once, for distinct workers
//! who have no candidacy, as when a large employer staffs a new site.

use incontra_engine::codice_fiscale;
use incontra_proto::events::v1::{self as ev, envelope::Payload, Envelope};

/// Consonants only, so each three-letter name part is encoded as written.
const CONSONANTS: &[u8] = b"BCDFGLMNPRSTVZ";

fn three_consonants(mut n: usize) -> String {
    let mut s = String::with_capacity(3);
    for _ in 0..3 {
        s.push(char::from(CONSONANTS[n % CONSONANTS.len()]));
        n /= CONSONANTS.len();
    }
    s
}

/// `count` copies of the hire notice `template`, each for a different
/// worker (valid, distinct codici fiscali; 14^6 name combinations before
/// birth dates even differ), with its own event id and codice
/// comunicazione. `tag` keeps ids of separate bursts apart.
///
/// Returns `None` if `template` is not an original hire notice.
pub fn hire_burst(template: &Envelope, tag: &str, count: usize) -> Option<Vec<Envelope>> {
    let is_hire = matches!(
        &template.payload,
        Some(Payload::Co(ev::ComunicazioneObbligatoria {
            quadro: Some(ev::comunicazione_obbligatoria::Quadro::Assunzione(_)),
            action,
            ..
        })) if *action == ev::CoAction::Original as i32
    );
    if !is_hire {
        return None;
    }
    let combinations = CONSONANTS.len().pow(3);
    let burst = (0..count)
        .filter_map(|i| {
            let cf = codice_fiscale::generate(
                &three_consonants(i % combinations),
                &three_consonants(i / combinations),
                1965 + (i % 40) as i32,
                1 + (i % 12) as u32,
                1 + (i % 28) as u32,
                i % 2 == 0,
                "L219",
            )
            .ok()?;
            let mut e = template.clone();
            e.event_id = format!("{tag}-{i}");
            e.entity_id = cf.as_str().to_owned();
            e.entity_version = 1;
            if let Some(Payload::Co(co)) = &mut e.payload {
                co.code = format!("{:.5}{i:011}", format!("{tag:X<5}").to_uppercase());
                co.lavoratore_codice_fiscale = cf.as_str().to_owned();
            }
            Some(e)
        })
        .collect();
    Some(burst)
}

/// The first original hire notice among `events`, as a burst template.
pub fn first_hire(events: impl IntoIterator<Item = Envelope>) -> Option<Envelope> {
    events
        .into_iter()
        .find(|e| hire_burst(e, "probe", 0).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Generator, GeneratorConfig};
    use std::collections::HashSet;

    #[test]
    fn a_burst_has_distinct_valid_workers_and_codes() {
        let reference = incontra_engine::reference::ReferenceData::embedded().unwrap();
        let generator = Generator::new(&reference, GeneratorConfig::small());
        let template = first_hire(generator.events()).expect("a hire in the small world");
        let burst = hire_burst(&template, "burst", 50_000).unwrap();
        assert_eq!(burst.len(), 50_000);
        let workers: HashSet<_> = burst.iter().map(|e| e.entity_id.clone()).collect();
        let codes: HashSet<_> = burst
            .iter()
            .map(|e| match &e.payload {
                Some(Payload::Co(co)) => co.code.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(workers.len(), 50_000);
        assert_eq!(codes.len(), 50_000);
        assert!(
            codes.iter().all(|c| c.len() == 16),
            "codice comunicazione is 16 characters"
        );
        for e in burst.iter().step_by(997) {
            codice_fiscale::CodiceFiscale::parse(&e.entity_id).expect("valid codice fiscale");
        }
        assert!(hire_burst(&burst[0], "x", 1).is_some());
    }
}
