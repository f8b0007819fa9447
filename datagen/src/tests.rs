use std::collections::{HashMap, HashSet};

use incontra_engine::codice_fiscale::{validate_partita_iva, CodiceFiscale};
use incontra_engine::model::day_from_ymd;
use incontra_engine::reference::{haversine_km, ReferenceData};
use incontra_proto::events::v1::candidacy_event::Kind as CandKind;
use incontra_proto::events::v1::comunicazione_obbligatoria::Quadro;
use incontra_proto::events::v1::envelope::Payload;
use incontra_proto::events::v1::vacancy_event::Kind as VacKind;
use incontra_proto::events::v1::{
    CandidateProfile, CoAction, Employer, Envelope, GolPath, IncomeSupport, Vacancy,
};
use prost::Message;

use super::*;
use crate::catalogue::PROFESSIONS;

fn reference() -> ReferenceData {
    ReferenceData::embedded().expect("embedded reference data")
}

fn stream_of(e: &Envelope) -> &'static str {
    match e.payload {
        Some(Payload::Vacancy(_)) => "vacancy",
        Some(Payload::Candidacy(_)) => "candidacy",
        Some(Payload::Co(_)) => "co",
        Some(Payload::ListIssued(_)) => "list",
        Some(Payload::Erasure(_)) => "erasure",
        None => "none",
    }
}

fn kind_name(e: &Envelope) -> &'static str {
    match &e.payload {
        Some(Payload::Vacancy(v)) => match v.kind {
            Some(VacKind::Published(_)) => "vacancy.published",
            Some(VacKind::Updated(_)) => "vacancy.updated",
            Some(VacKind::PositionsFilled(_)) => "vacancy.positions_filled",
            Some(VacKind::Closed(_)) => "vacancy.closed",
            Some(VacKind::Withdrawn(_)) => "vacancy.withdrawn",
            None => "vacancy.?",
        },
        Some(Payload::Candidacy(c)) => match &c.kind {
            Some(CandKind::Registered(_)) => "candidacy.registered",
            Some(CandKind::ProfileUpdated(_)) => "candidacy.profile_updated",
            Some(CandKind::AvailabilityChanged(a)) if a.available => "candidacy.available",
            Some(CandKind::AvailabilityChanged(_)) => "candidacy.unavailable",
            Some(CandKind::Withdrawn(_)) => "candidacy.withdrawn",
            None => "candidacy.?",
        },
        Some(Payload::Co(co)) => {
            let action = match CoAction::try_from(co.action) {
                Ok(CoAction::Rettifica) => "rettifica",
                Ok(CoAction::Annullamento) => "annullamento",
                _ => "original",
            };
            match (&co.quadro, action) {
                (_, "rettifica") => "co.rettifica",
                (_, "annullamento") => "co.annullamento",
                (Some(Quadro::Assunzione(_)), _) => "co.assunzione",
                (Some(Quadro::Proroga(_)), _) => "co.proroga",
                (Some(Quadro::Trasformazione(_)), _) => "co.trasformazione",
                (Some(Quadro::Cessazione(_)), _) => "co.cessazione",
                _ => "co.?",
            }
        }
        Some(Payload::ListIssued(_)) => "list_issued",
        Some(Payload::Erasure(_)) => "erasure",
        None => "none",
    }
}

fn vacancies_of(e: &Envelope) -> Option<&Vacancy> {
    match &e.payload {
        Some(Payload::Vacancy(v)) => match &v.kind {
            Some(VacKind::Published(x)) | Some(VacKind::Updated(x)) => Some(x),
            _ => None,
        },
        _ => None,
    }
}

fn profile_of(e: &Envelope) -> Option<&CandidateProfile> {
    match &e.payload {
        Some(Payload::Candidacy(c)) => match &c.kind {
            Some(CandKind::Registered(r)) => r.profile.as_ref(),
            Some(CandKind::ProfileUpdated(p)) => Some(p),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn demo_today_is_2026_11_23() {
    assert_eq!(
        day_from_ymd(2026, 11, 23),
        Some(GeneratorConfig::demo().today)
    );
    assert_eq!(text::civil_from_days(DEMO_TODAY), (2026, 11, 23));
    assert_eq!(text::civil_from_days(0), (1970, 1, 1));
    assert_eq!(text::civil_from_days(11_016), (2000, 2, 29));
}

#[test]
fn catalogue_is_complete_and_uses_real_codes() {
    let r = reference();
    assert!(PROFESSIONS.len() >= 40, "{} professions", PROFESSIONS.len());
    let mut codes = HashSet::new();
    for p in PROFESSIONS {
        assert!(codes.insert(p.code), "duplicate {}", p.code);
        assert!(
            r.profession(p.code).is_some(),
            "CP2011 code {} not in reference",
            p.code
        );
        for a in p.ateco {
            assert!(
                r.ateco(a).is_some(),
                "ATECO {a} of {} not in reference",
                p.code
            );
        }
        assert!(
            (7..=15).contains(&p.skills.len()),
            "{} has {} skills",
            p.code,
            p.skills.len()
        );
        assert!(p.titles.len() >= 2 && p.duties.len() >= 3, "{}", p.code);
        assert!(!p.contracts.is_empty() && !p.hours.is_empty() && !p.ateco.is_empty());
        assert!(p.pay.0 <= p.pay.1 && p.female_pct <= 100);
    }
}

#[test]
fn same_config_same_bytes_different_seed_different_bytes() {
    let r = reference();
    let a = Generator::new(&r, GeneratorConfig::small());
    let b = Generator::new(&r, GeneratorConfig::small());
    let n = 3_000;
    let bytes =
        |g: &Generator| -> Vec<Vec<u8>> { g.events().take(n).map(|e| e.encode_to_vec()).collect() };
    let (ea, eb) = (bytes(&a), bytes(&b));
    assert_eq!(ea.len(), n);
    assert_eq!(ea, eb);
    let other = Generator::new(
        &r,
        GeneratorConfig {
            seed: 7,
            ..GeneratorConfig::small()
        },
    );
    assert_ne!(ea, bytes(&other));
    assert_eq!(a.vacancy_id(0), "V00000001");
    assert_eq!(a.candidate_id(41), "SAP000000042");
}

#[test]
fn entities_do_not_depend_on_the_population_size() {
    // Candidate 5 is the same person in a world of 10 and of 2,000 candidates.
    let r = reference();
    let id = |cfg: GeneratorConfig| -> Vec<Vec<u8>> {
        let g = Generator::new(&r, cfg);
        let target = g.candidate_id(5);
        g.events()
            .filter(|e| e.entity_id == target)
            .map(|e| e.encode_to_vec())
            .collect()
    };
    let small = id(GeneratorConfig {
        candidates: 10,
        vacancies: 1,
        ..GeneratorConfig::small()
    });
    assert!(!small.is_empty());
    assert_eq!(small, id(GeneratorConfig::small()));
}

#[test]
fn envelopes_are_well_formed_and_codes_are_real() {
    let r = reference();
    let config = GeneratorConfig::small();
    let today_ms = i64::from(config.today) * 86_400_000;
    let g = Generator::new(&r, config);
    let mut ids = HashSet::new();
    let mut versions: HashMap<(&'static str, String), u64> = HashMap::new();
    let mut counts: HashMap<&'static str, u64> = HashMap::new();
    let check_employer = |d: &Employer| {
        if d.fiscal_code.len() == 16 {
            CodiceFiscale::parse(&d.fiscal_code).expect("employer codice fiscale");
        } else {
            validate_partita_iva(&d.fiscal_code).expect("partita IVA");
        }
        assert!(r.ateco(&d.ateco_code).is_some(), "ATECO {}", d.ateco_code);
        assert!(!d.name.is_empty() && d.employees > 0);
    };
    for e in g.events() {
        *counts.entry(kind_name(&e)).or_default() += 1;
        assert!(e.payload.is_some());
        assert_eq!(e.schema_version, 1);
        assert!(
            ids.insert(e.event_id.clone()),
            "duplicate event id {}",
            e.event_id
        );
        assert!(
            e.occurred_at_ms < today_ms,
            "{} happens after today",
            e.event_id
        );
        assert!(e.occurred_at_ms > today_ms - 20 * 365 * 86_400_000);
        let key = (stream_of(&e), e.entity_id.clone());
        let prev = versions.insert(key, e.entity_version).unwrap_or(0);
        assert!(
            e.entity_version > prev,
            "{} version {} after {prev}",
            e.event_id,
            e.entity_version
        );
        if prev == 0 {
            assert_eq!(e.entity_version, 1, "{} does not start at 1", e.event_id);
        }
        match &e.payload {
            Some(Payload::Vacancy(_)) => {
                assert!(e.source == "SILP" || e.source == "BLP");
                assert!(e.entity_id.starts_with('V') && e.entity_id.len() == 9);
                if let Some(v) = vacancies_of(&e) {
                    assert!(
                        r.comune(&v.workplace_comune).is_some(),
                        "comune {}",
                        v.workplace_comune
                    );
                    assert!(
                        r.profession(&v.profession_code).is_some(),
                        "{}",
                        v.profession_code
                    );
                    check_employer(v.employer.as_ref().expect("employer"));
                    assert!(v.valid_until_day > v.valid_from_day);
                    assert!(!v.required_skills.is_empty() && v.description.len() > 200);
                    assert!(v.cpi_code.is_empty() || r.cpi(&v.cpi_code).is_some());
                }
            }
            Some(Payload::Candidacy(c)) => {
                assert!(e.source == "SILP" || e.source == "BLP");
                assert!(e.entity_id.starts_with("SAP") && e.entity_id.len() == 12);
                if let Some(CandKind::Registered(reg)) = &c.kind {
                    let pd = reg.personal.as_ref().expect("personal data");
                    CodiceFiscale::parse(&pd.codice_fiscale).expect("candidate codice fiscale");
                    assert!(pd.email.contains('@') && pd.email.is_ascii());
                    assert!(pd.phone.starts_with("+39 3"));
                    assert!(reg.did_day < g.config().today);
                }
                if let Some(p) = profile_of(&e) {
                    assert!(
                        r.comune(&p.domicile_comune).is_some(),
                        "comune {}",
                        p.domicile_comune
                    );
                    assert_eq!(
                        r.comune(&p.domicile_comune).map(|c| c.cpi_code.as_str()),
                        Some(p.cpi_code.as_str())
                    );
                    for code in p
                        .desired_professions
                        .iter()
                        .chain(p.experience.iter().map(|x| &x.profession_code))
                    {
                        assert!(r.profession(code).is_some(), "profession {code}");
                    }
                    for x in &p.experience {
                        assert!(r.ateco(&x.ateco_code).is_some(), "ATECO {}", x.ateco_code);
                    }
                    assert!((1..=3).contains(&p.desired_professions.len()));
                    assert!((10..=80).contains(&p.max_distance_km));
                    assert!(p.min_hours_percent <= p.max_hours_percent);
                    assert!(p.summary.len() > 60);
                }
            }
            Some(Payload::Co(co)) => {
                assert!(e.source == "GECO" || e.source == "COMMAX");
                assert_eq!(e.entity_id, co.lavoratore_codice_fiscale);
                CodiceFiscale::parse(&co.lavoratore_codice_fiscale).expect("worker codice fiscale");
                assert_eq!(co.code.len(), 16);
                assert!(
                    r.comune(&co.workplace_comune).is_some(),
                    "comune {}",
                    co.workplace_comune
                );
                check_employer(co.datore.as_ref().expect("datore"));
                if let Some(Quadro::Assunzione(a)) = &co.quadro {
                    assert!(r.profession(&a.profession_code).is_some());
                    assert!(a.end_day == 0 || a.end_day > a.start_day);
                }
                if co.action != CoAction::Original as i32 {
                    assert!(!co.previous_code.is_empty());
                }
            }
            Some(Payload::ListIssued(_)) | Some(Payload::Erasure(_)) | None => {
                panic!("the generator writes no {}", e.event_id)
            }
        }
    }
    for kind in [
        "vacancy.published",
        "vacancy.updated",
        "vacancy.positions_filled",
        "vacancy.closed",
        "candidacy.registered",
        "candidacy.profile_updated",
        "candidacy.unavailable",
        "candidacy.withdrawn",
        "co.assunzione",
        "co.proroga",
        "co.cessazione",
        "co.rettifica",
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in {counts:?}"
        );
    }
    assert_eq!(counts["vacancy.published"], 200);
    assert_eq!(counts["candidacy.registered"], 2_000);
}

/// Profile of 20,000 candidates against the GOL figures and the CPI catchments.
#[test]
fn population_follows_gol_profile_and_cpi_catchments() {
    let r = reference();
    let config = GeneratorConfig {
        candidates: 20_000,
        vacancies: 0,
        ..GeneratorConfig::demo()
    };
    let today = config.today;
    let g = Generator::new(&r, config);
    let n = 20_000.0;
    let mut by_cpi: HashMap<String, f64> = HashMap::new();
    let (mut women, mut foreign, mut long_term, mut young, mut old) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut naspi, mut adi, mut none, mut gol) = (0.0, 0.0, 0.0, 0.0);
    let mut cf_of: HashMap<String, i32> = HashMap::new();
    let mut open_full_time: HashMap<String, bool> = HashMap::new();
    let mut co_notices = 0.0;
    for e in g.events() {
        match &e.payload {
            Some(Payload::Candidacy(c)) => {
                if let Some(CandKind::Registered(reg)) = &c.kind {
                    let p = reg.profile.as_ref().expect("profile");
                    *by_cpi.entry(p.cpi_code.clone()).or_default() += 1.0;
                    let cf =
                        CodiceFiscale::parse(&reg.personal.as_ref().expect("pd").codice_fiscale)
                            .expect("cf");
                    if cf.is_female() {
                        women += 1.0;
                    }
                    if cf.belfiore().starts_with('Z') {
                        foreign += 1.0;
                    }
                    let age = 26 - cf.birth_year_two_digits() as i32
                        + 100 * i32::from(cf.birth_year_two_digits() > 26);
                    if age <= 29 {
                        young += 1.0;
                    } else if age >= 55 {
                        old += 1.0;
                    }
                    if reg.did_day < today - 365 {
                        long_term += 1.0;
                    }
                    match IncomeSupport::try_from(p.income_support) {
                        Ok(IncomeSupport::Naspi | IncomeSupport::DisColl) => naspi += 1.0,
                        Ok(IncomeSupport::Adi | IncomeSupport::Sfl) => adi += 1.0,
                        _ => none += 1.0,
                    }
                    if p.gol_path != GolPath::None as i32 {
                        gol += 1.0;
                    }
                    cf_of.insert(cf.as_str().to_owned(), reg.did_day);
                }
            }
            Some(Payload::Co(co)) => {
                co_notices += 1.0;
                match &co.quadro {
                    Some(Quadro::Assunzione(a)) if co.action == CoAction::Original as i32 => {
                        let current =
                            a.hours_percent == 100 && (a.end_day == 0 || a.end_day >= today);
                        open_full_time.insert(co.lavoratore_codice_fiscale.clone(), current);
                    }
                    Some(Quadro::Proroga(p)) if p.new_end_day >= today => {
                        open_full_time
                            .entry(co.lavoratore_codice_fiscale.clone())
                            .and_modify(|v| *v = true);
                    }
                    Some(Quadro::Cessazione(_)) => {
                        open_full_time.insert(co.lavoratore_codice_fiscale.clone(), false);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let share = |x: f64| 100.0 * x / n;
    println!(
        "women {:.1}% foreigners {:.1}% 15-29 {:.1}% 55+ {:.1}% long-term {:.1}% NASpI/DIS-COLL {:.1}% ADI/SFL {:.1}% none {:.1}% GOL {:.1}% CO/candidate {:.2}",
        share(women), share(foreign), share(young), share(old), share(long_term),
        share(naspi), share(adi), share(none), share(gol), co_notices / n
    );
    assert!(
        (share(women) - 58.6).abs() < 2.0,
        "women {:.1}%",
        share(women)
    );
    assert!(
        (share(foreign) - 21.8).abs() < 2.0,
        "foreigners {:.1}%",
        share(foreign)
    );
    assert!(
        (share(young) - 29.5).abs() < 2.5,
        "15-29 {:.1}%",
        share(young)
    );
    assert!((share(old) - 17.6).abs() < 2.5, "55+ {:.1}%", share(old));
    assert!(
        (share(long_term) - 25.0).abs() < 2.0,
        "long-term {:.1}%",
        share(long_term)
    );
    assert!(
        (share(naspi) - 57.0).abs() < 2.0,
        "NASpI {:.1}%",
        share(naspi)
    );
    assert!(
        (share(adi) - 14.2).abs() < 2.0,
        "ADI/SFL {:.1}%",
        share(adi)
    );
    assert!((share(none) - 28.8).abs() < 2.0, "none {:.1}%", share(none));
    assert!((share(gol) - 50.0).abs() < 2.0, "GOL {:.1}%", share(gol));
    assert_eq!(cf_of.len(), 20_000, "codici fiscali collide");
    let employed = open_full_time.values().filter(|v| **v).count() as f64;
    assert!(
        (share(employed) - 10.0).abs() < 2.0,
        "employed full time {:.1}%",
        share(employed)
    );
    let per_candidate = co_notices / n;
    assert!(
        (per_candidate - 1.5).abs() < 0.25,
        "{per_candidate:.2} CO per candidate"
    );

    // Chi-square of candidates per CPI against working-age population (29 d.o.f.;
    // 58.3 is the 0.1% critical value).
    let total_wap: f64 = r
        .cpis()
        .iter()
        .map(|c| f64::from(c.working_age_population))
        .sum();
    let chi2: f64 = r
        .cpis()
        .iter()
        .map(|c| {
            let expected = n * f64::from(c.working_age_population) / total_wap;
            let observed = by_cpi.get(&c.code).copied().unwrap_or(0.0);
            (observed - expected).powi(2) / expected
        })
        .sum();
    assert!(chi2 < 58.3, "chi-square {chi2:.1}");
}

/// A typical open vacancy in Torino has dozens of candidates of the same profession group
/// within their own travel limit, accepting the contract and the hours.
#[test]
fn torino_vacancies_have_dozens_of_eligible_candidates() {
    let r = reference();
    let g = Generator::new(&r, GeneratorConfig::demo());
    let today = g.config().today;
    let mut vacancies: Vec<Vacancy> = Vec::new();
    let mut candidates: Vec<CandidateProfile> = Vec::new();
    for e in g.events() {
        match (vacancies_of(&e), &e.payload) {
            (Some(v), _) if v.workplace_comune == "001272" && v.valid_until_day >= today => {
                vacancies.push(v.clone())
            }
            (_, Some(Payload::Candidacy(c))) => {
                if let Some(CandKind::Registered(reg)) = &c.kind {
                    if let Some(p) = &reg.profile {
                        candidates.push(p.clone());
                    }
                }
            }
            _ => {}
        }
    }
    assert!(
        vacancies.len() > 50,
        "{} open vacancies in Torino",
        vacancies.len()
    );
    let torino = r.comune("001272").expect("Torino");
    let mut eligible: Vec<usize> = vacancies
        .iter()
        .map(|v| {
            candidates
                .iter()
                .filter(|p| {
                    let Some(home) = r.comune(&p.domicile_comune) else {
                        return false;
                    };
                    let km = haversine_km(home.lat, home.lon, torino.lat, torino.lon);
                    km <= f64::from(p.max_distance_km)
                        && p.desired_professions
                            .iter()
                            .any(|d| catalogue::shared_depth(d, &v.profession_code) >= 4)
                        && p.accepted_contracts.contains(&v.contract_type)
                        && (p.min_hours_percent..=p.max_hours_percent).contains(&v.hours_percent)
                })
                .count()
        })
        .collect();
    eligible.sort_unstable();
    let median = eligible[eligible.len() / 2];
    println!(
        "{} open vacancies in Torino; eligible candidates: min {}, median {median}, max {}",
        eligible.len(),
        eligible[0],
        eligible[eligible.len() - 1]
    );
    assert!(
        median >= 24,
        "median eligible {median}, distribution {eligible:?}"
    );
}

/// Counts and timing of the demo world: `cargo test -p incontra-datagen --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn demo_counts_and_timing() {
    let r = reference();
    let started = std::time::Instant::now();
    let g = Generator::new(&r, GeneratorConfig::demo());
    let mut counts: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let mut bytes = 0usize;
    for e in g.events() {
        bytes += e.encoded_len();
        *counts.entry(kind_name(&e)).or_default() += 1;
    }
    let elapsed = started.elapsed();
    let total: u64 = counts.values().sum();
    println!("demo: {total} events, {bytes} bytes encoded, in {elapsed:?}");
    for (k, v) in &counts {
        println!("{k:28} {v}");
    }
}

/// Prints a few samples for eyeballing: `-- --ignored --nocapture samples`.
#[test]
#[ignore]
fn samples() {
    let r = reference();
    let g = Generator::new(&r, GeneratorConfig::small());
    let mut candidates = 0;
    let mut vacancies = 0;
    for e in g.events() {
        if let Some(v) = vacancies_of(&e) {
            if vacancies < 3 {
                vacancies += 1;
                println!("== {} {}\n{}\n", e.entity_id, v.title, v.description);
            }
        } else if let Some(Payload::Candidacy(c)) = &e.payload {
            if let (Some(CandKind::Registered(reg)), true) = (&c.kind, candidates < 8) {
                candidates += 1;
                let pd = reg.personal.as_ref().expect("pd");
                let p = reg.profile.as_ref().expect("profile");
                println!(
                    "== {} {} {} {}\n{}\n",
                    e.entity_id, pd.given_name, pd.family_name, pd.codice_fiscale, p.summary
                );
                for x in &p.experience {
                    println!("   - {} ({} mesi)", x.description, x.months);
                }
            }
        }
    }
}
