//! Explained scoring and ranked lists, on the embedded reference data (comuni
//! of Piemonte, CP2011) and the default scoring configuration. State is built
//! only by folding engine events, as in production.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use incontra_engine::config::{ScoringConfig, DEFAULT_SCORING_TOML};
use incontra_engine::event::{
    CandidacyEvent, CoAction, CoQuadro, ComunicazioneObbligatoria, Event, EventMeta, EventPayload,
    VacancyEvent,
};
use incontra_engine::matching::{
    explain, match_candidates, match_vacancies, ListRequest, MatchError, RankedList,
};
use incontra_engine::model::{
    day_from_ymd, format_day, CandidateProfile, Cefr, ContractType, Day, EducationLevel, Employer,
    LanguageSkill, ProtectedCategory, ReservedQuota, SealedPersonalData, VacancySpec,
    WorkExperience,
};
use incontra_engine::reference::ReferenceData;
use incontra_engine::scoring::{
    CandidateFacts, Context, Contribution, Criterion, Evaluation, FilterVerdict, HardFilter,
    RequestFilters,
};
use incontra_engine::state::{Outcome, State};
use incontra_engine::text::FixedRelevance;
use proptest::prelude::*;

// Comuni (ISTAT codes checked against data/reference/comuni_piemonte.csv),
// with their road distance from Torino under the default road factor.
const TORINO: &str = "001272"; // 0 km, CPI TO01
const MONCALIERI: &str = "001156"; // ~9.4 km, CPI TO12
const SETTIMO: &str = "001265"; // ~12.3 km, CPI TO05
const CHIVASSO: &str = "001082"; // ~27.1 km
const PINEROLO: &str = "001191"; // ~43.4 km
const ALESSANDRIA: &str = "006003"; // ~93.5 km
const CUNEO: &str = "004078"; // ~95.5 km
const NOVARA: &str = "003106"; // ~105.6 km
const DOMODOSSOLA: &str = "103028"; // ~156.9 km, beyond max_search_km = 150
const NOWHERE: &str = "999999"; // not a comune

const COOK: &str = "5.2.2.1.0"; // Cuochi in alberghi e ristoranti
const WAITER: &str = "5.2.2.3.0"; // under 5.2.2.3 Camerieri e professioni assimilate
const SHOP_ASSISTANT: &str = "5.1.2.2.0"; // Commessi delle vendite al minuto
const PLANT_OPERATOR: &str = "7.1.1.1.0"; // under 7.1.1, conduttori di impianti

/// Filters reported for a pair whose comuni are both known, without request filters.
const FULL: [&str; 6] = [
    "vacancy_open",
    "availability",
    "distance",
    "contract",
    "hours",
    "reserved_quota",
];

fn today() -> Day {
    day_from_ymd(2025, 3, 14).unwrap()
}

fn reference() -> &'static ReferenceData {
    static DATA: OnceLock<ReferenceData> = OnceLock::new();
    DATA.get_or_init(|| ReferenceData::embedded().expect("embedded reference data"))
}

fn config() -> &'static ScoringConfig {
    static CONFIG: OnceLock<ScoringConfig> = OnceLock::new();
    CONFIG.get_or_init(|| ScoringConfig::embedded_default().expect("default config"))
}

fn ctx() -> Context<'static> {
    ctx_with(config())
}

fn ctx_with(config: &ScoringConfig) -> Context<'_> {
    Context {
        reference: reference(),
        config,
        today: today(),
        congruity: None,
    }
}

// ---------------------------------------------------------------------------
// Building state from events
// ---------------------------------------------------------------------------

#[derive(Default)]
struct World {
    state: State,
    seq: u64,
}

impl World {
    fn new() -> Self {
        Self::default()
    }

    /// Applies an event; every event a test emits must be applied.
    fn emit(&mut self, entity: &str, payload: EventPayload) {
        // One global counter gives unique event ids and, per entity,
        // increasing versions.
        self.seq += 1;
        let event = Event {
            meta: EventMeta {
                event_id: format!("ev-{}", self.seq),
                entity_id: entity.into(),
                entity_version: self.seq,
                occurred_at_ms: 1_741_900_000_000 + self.seq as i64,
                source: "test".into(),
            },
            payload,
        };
        assert_eq!(self.state.apply(&event), Outcome::Applied, "{event:?}");
    }

    fn publish(&mut self, id: &str, spec: VacancySpec) {
        self.emit(
            id,
            EventPayload::Vacancy(VacancyEvent::Published(spec.clone())),
        );
    }

    fn vacancy_event(&mut self, id: &str, ev: VacancyEvent) {
        self.emit(id, EventPayload::Vacancy(ev));
    }

    fn register(&mut self, id: &str, profile: CandidateProfile) {
        self.register_as(id, profile, ProtectedCategory::None);
    }

    fn register_as(&mut self, id: &str, profile: CandidateProfile, category: ProtectedCategory) {
        self.emit(
            id,
            EventPayload::Candidacy(CandidacyEvent::Registered {
                personal: SealedPersonalData::default(),
                person: person(id),
                demographics: None,
                did_day: today() - 200,
                profile,
                protected_category: category,
            }),
        );
    }

    fn candidacy_event(&mut self, id: &str, ev: CandidacyEvent) {
        self.emit(id, EventPayload::Candidacy(ev));
    }

    /// A comunicazione obbligatoria about the candidate `id` from `Ristoro Srl`.
    fn co(&mut self, id: &str, code: &str, quadro: CoQuadro) {
        self.emit(
            &person(id),
            EventPayload::Employment(ComunicazioneObbligatoria {
                code: code.into(),
                action: CoAction::Original,
                previous_code: String::new(),
                datore: Employer {
                    fiscal_code: "09876543210".into(),
                    name: "Ristoro Srl".into(),
                    ..Employer::default()
                },
                workplace_comune: TORINO.into(),
                quadro,
            }),
        );
    }

    fn hire(&mut self, id: &str, code: &str, start_day: Day, hours_percent: u32) {
        self.co(
            id,
            code,
            CoQuadro::Assunzione {
                start_day,
                end_day: None,
                contract_code: "A.01.00".into(),
                contract_type: ContractType::Indeterminato,
                profession_code: COOK.into(),
                ccnl: String::new(),
                hours_percent,
                annual_pay_eur: None,
            },
        );
    }

    fn evaluate(&self, vacancy: &str, candidate: &str) -> Evaluation {
        self.evaluate_with(&ctx(), vacancy, candidate, 0.0)
    }

    fn evaluate_with(
        &self,
        ctx: &Context<'_>,
        vacancy: &str,
        candidate: &str,
        text: f64,
    ) -> Evaluation {
        let v = self.state.vacancy(vacancy).expect("vacancy");
        let c = self.state.candidate(candidate).expect("candidate");
        ctx.evaluate(v, c, self.facts(candidate), text)
    }

    fn facts(&self, candidate: &str) -> CandidateFacts<'_> {
        let c = self.state.candidate(candidate).expect("candidate");
        CandidateFacts {
            employment: self.state.employment_of(c),
            protected: self.state.protected_category(candidate),
        }
    }

    fn candidates_for(&self, vacancy: &str, request: &ListRequest) -> RankedList {
        match_candidates(
            &self.state,
            &ctx(),
            vacancy,
            request,
            &mut FixedRelevance::default(),
        )
        .unwrap()
    }

    fn vacancies_for(&self, candidate: &str, request: &ListRequest) -> RankedList {
        match_vacancies(
            &self.state,
            &ctx(),
            candidate,
            request,
            &mut FixedRelevance::default(),
        )
        .unwrap()
    }
}

fn person(candidate: &str) -> String {
    format!("pseudo-{candidate}")
}

/// Everyone within reach, with the exclusion counts (the full scan; the
/// lists visited best group first are compared with it in `bound.rs`).
fn everyone() -> ListRequest {
    ListRequest {
        limit: 1000,
        count_exclusions: true,
        ..ListRequest::default()
    }
}

fn ids(list: &RankedList) -> Vec<&str> {
    list.items.iter().map(|r| r.id.as_str()).collect()
}

fn excluded(pairs: &[(&'static str, u64)]) -> BTreeMap<&'static str, u64> {
    pairs.iter().copied().collect()
}

/// A cook's vacancy in Torino that `cook_profile` matches perfectly.
fn cook_vacancy() -> VacancySpec {
    VacancySpec {
        title: "Cuoco capo partita".into(),
        description: "Cucina tradizionale piemontese, turni serali".into(),
        employer: Employer {
            fiscal_code: "01234567890".into(),
            name: "Trattoria Sabauda Srl".into(),
            ateco_code: "56.10.11".into(),
            employees: 12,
        },
        workplace_comune: TORINO.into(),
        profession_code: COOK.into(),
        required_skills: vec!["HACCP".into(), "Cucina piemontese".into()],
        preferred_skills: vec!["Pasticceria".into()],
        min_education: EducationLevel::QualificaProfessionale,
        languages: vec![],
        driving_licences: vec![],
        min_experience_months: 24,
        contract_type: ContractType::Indeterminato,
        contract_months: 0,
        hours_percent: 100,
        positions: 2,
        reserved_quota: ReservedQuota::None,
        valid_from_day: today() - 30,
        valid_until_day: today() + 60,
        cpi_code: "TO01".into(),
        ..VacancySpec::default()
    }
}

/// A vacancy that asks for nothing but the profession, so every other
/// criterion is neutral unless a test sets it.
fn plain_vacancy() -> VacancySpec {
    VacancySpec {
        required_skills: vec![],
        preferred_skills: vec![],
        min_education: EducationLevel::Unspecified,
        min_experience_months: 0,
        ..cook_vacancy()
    }
}

fn cook_profile() -> CandidateProfile {
    CandidateProfile {
        domicile_comune: TORINO.into(),
        max_distance_km: 30,
        desired_professions: vec![COOK.into()],
        experience: vec![WorkExperience {
            profession_code: COOK.into(),
            ateco_code: "56.10.11".into(),
            months: 36,
            description: "Cuoco in trattoria".into(),
        }],
        skills: vec![],
        certified_skills: vec![
            "haccp".into(),
            "cucina piemontese".into(),
            "pasticceria".into(),
        ],
        education: EducationLevel::Diploma,
        accepted_contracts: vec![],
        min_hours_percent: 0,
        max_hours_percent: 100,
        cpi_code: "TO01".into(),
        ..CandidateProfile::default()
    }
}

fn profile_in(comune: &str) -> CandidateProfile {
    CandidateProfile {
        domicile_comune: comune.into(),
        ..cook_profile()
    }
}

fn experience(code: &str, months: u32) -> WorkExperience {
    WorkExperience {
        profession_code: code.into(),
        ateco_code: String::new(),
        months,
        description: String::new(),
    }
}

// ---------------------------------------------------------------------------
// Assertions on verdicts and sentences
// ---------------------------------------------------------------------------

/// A reason an operator can read aloud: a non-empty Italian sentence,
/// capitalised (or opening with a number), with no leftover format placeholders.
fn assert_sentence(reason: &str) {
    let first = reason.chars().next().expect("empty reason");
    assert!(
        first.is_uppercase() || first.is_ascii_digit(),
        "not a sentence: {reason:?}"
    );
    assert!(reason.contains(' '), "not a sentence: {reason:?}");
    assert!(
        !reason.contains('{') && !reason.contains('}'),
        "placeholder left in {reason:?}"
    );
}

fn assert_contains(reason: &str, parts: &[&str]) {
    assert_sentence(reason);
    for part in parts {
        assert!(reason.contains(part), "{reason:?} lacks {part:?}");
    }
}

fn names(e: &Evaluation) -> Vec<&'static str> {
    e.filters.iter().map(|f| f.filter.name()).collect()
}

fn verdict(e: &Evaluation, filter: HardFilter) -> &FilterVerdict {
    e.filters
        .iter()
        .find(|f| f.filter == filter)
        .unwrap_or_else(|| panic!("{} not reported: {:?}", filter.name(), e.filters))
}

/// All filters reported, every reason a sentence, and exactly `failing` failed.
fn assert_failing(e: &Evaluation, failing: &[HardFilter]) {
    assert_eq!(names(e), FULL, "every filter is reported");
    for f in &e.filters {
        assert_sentence(&f.reason);
        assert_eq!(
            f.passed,
            !failing.contains(&f.filter),
            "{}: {}",
            f.filter.name(),
            f.reason
        );
    }
    assert_eq!(e.eligible, failing.is_empty());
}

fn sim(e: &Evaluation, criterion: Criterion) -> f64 {
    contribution(e, criterion).similarity
}

fn contribution(e: &Evaluation, criterion: Criterion) -> &Contribution {
    e.contributions
        .iter()
        .find(|c| c.criterion == criterion)
        .unwrap_or_else(|| panic!("no {} contribution", criterion.name()))
}

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

/// Score in [0,1], the sum of contributions listed in `Criterion::ALL` order
/// with the configured weights.
fn assert_well_formed(e: &Evaluation, config: &ScoringConfig) {
    let order: Vec<Criterion> = e.contributions.iter().map(|c| c.criterion).collect();
    assert_eq!(order, Criterion::ALL.to_vec());
    let w = &config.weights;
    let weights = [
        w.profession,
        w.skills,
        w.text,
        w.distance,
        w.experience,
        w.education,
        w.languages,
        w.licences,
    ];
    let total: f64 = weights.iter().sum();
    let mut sum = 0.0;
    for (c, weight) in e.contributions.iter().zip(weights) {
        assert!(
            (0.0..=1.0).contains(&c.similarity),
            "{} similarity {}",
            c.criterion.name(),
            c.similarity
        );
        assert_eq!(c.weight, weight, "{} weight", c.criterion.name());
        assert_close(c.contribution, weight * c.similarity / total);
        assert_sentence(&c.reason);
        sum += c.contribution;
    }
    assert!((0.0..=1.0).contains(&e.score), "score {}", e.score);
    assert_close(e.score, sum);
}

// ---------------------------------------------------------------------------
// Hard filters
// ---------------------------------------------------------------------------

#[test]
fn eligible_pair_passes_every_filter_with_reasons() {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    w.register("C1", profile_in(MONCALIERI));
    let e = w.evaluate("V1", "C1");
    assert_failing(&e, &[]);
    let km = ctx().road_km(MONCALIERI, TORINO).unwrap();
    assert_eq!(e.distance_km, Some(km));
    assert!((9.0..10.0).contains(&km), "Moncalieri-Torino {km}");
    assert_contains(
        &verdict(&e, HardFilter::VacancyOpen).reason,
        &["aperto", "2 posti"],
    );
    assert_contains(
        &verdict(&e, HardFilter::Availability).reason,
        &["Disponibile"],
    );
    assert_contains(
        &verdict(&e, HardFilter::Distance).reason,
        &["9 km", "30 km"],
    );
    assert_contains(
        &verdict(&e, HardFilter::Contract).reason,
        &["tempo indeterminato", "accettato"],
    );
    assert_contains(&verdict(&e, HardFilter::Hours).reason, &["100%", "0-100%"]);
    assert_contains(
        &verdict(&e, HardFilter::ReservedQuota).reason,
        &["non riservato"],
    );
    assert_well_formed(&e, config());

    let list = w.candidates_for("V1", &everyone());
    assert_eq!(ids(&list), ["C1"]);
    assert_eq!(list.considered, 1);
    assert!(list.excluded.is_empty());
    assert_eq!(list.items[0].score, e.score);
    assert_eq!(list.items[0].contributions, e.contributions);
    assert_eq!(list.items[0].distance_km, km);
}

/// The API keys stay as they were; each filter also has an Italian label, distinct from the
/// others, for the text an operator reads (issue 16: "esclusi: availability 2609").
#[test]
fn filters_keep_their_keys_and_have_italian_labels() {
    let keys: Vec<&str> = HardFilter::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(
        keys,
        [
            "vacancy_open",
            "availability",
            "location",
            "distance",
            "contract",
            "hours",
            "reserved_quota",
            "cpi"
        ]
    );
    let mut labels: Vec<&str> = HardFilter::ALL.iter().map(|f| f.label()).collect();
    for f in HardFilter::ALL {
        assert_eq!(HardFilter::from_name(f.name()), Some(f));
        let label = f.label();
        assert!(
            !keys.contains(&label) && !label.contains('_'),
            "{label:?} is not Italian"
        );
    }
    assert_eq!(
        labels,
        [
            "annuncio aperto",
            "disponibilità",
            "comuni noti",
            "distanza",
            "tipo di contratto",
            "orario",
            "posto riservato L.68/99",
            "CPI richiesti"
        ]
    );
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), HardFilter::ALL.len());
    assert_eq!(HardFilter::from_name("disponibilità"), None);
}

/// Publishes the cook vacancy and a matching candidate, then lets `setup`
/// break one thing.
fn pair(setup: impl FnOnce(&mut World)) -> World {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    w.register("C1", cook_profile());
    setup(&mut w);
    w
}

/// Exactly `filter` fails in `evaluate`, and the list excludes the candidate
/// under that filter's name. Returns the failing reason.
fn fails_only(w: &World, filter: HardFilter) -> String {
    let e = w.evaluate("V1", "C1");
    assert_failing(&e, &[filter]);
    let list = w.candidates_for("V1", &everyone());
    assert!(list.items.is_empty());
    assert_eq!(list.considered, 1);
    assert_eq!(list.excluded, excluded(&[(filter.name(), 1)]));
    verdict(&e, filter).reason.clone()
}

fn passes(w: &World) -> Evaluation {
    let e = w.evaluate("V1", "C1");
    assert_failing(&e, &[]);
    let list = w.candidates_for("V1", &everyone());
    assert_eq!(ids(&list), ["C1"]);
    assert!(list.excluded.is_empty());
    e
}

#[test]
fn closed_vacancy_is_not_open() {
    let w = pair(|w| w.vacancy_event("V1", VacancyEvent::Closed));
    assert_eq!(fails_only(&w, HardFilter::VacancyOpen), "Annuncio chiuso");
}

#[test]
fn withdrawn_vacancy_is_not_open() {
    let w = pair(|w| {
        w.vacancy_event(
            "V1",
            VacancyEvent::Withdrawn {
                reason: "errore".into(),
            },
        )
    });
    assert_eq!(fails_only(&w, HardFilter::VacancyOpen), "Annuncio ritirato");
}

#[test]
fn vacancy_with_every_position_filled_is_not_open() {
    // One of two positions filled: still open, one position left.
    let w = pair(|w| w.vacancy_event("V1", VacancyEvent::PositionsFilled { count: 1 }));
    let e = passes(&w);
    assert_contains(
        &verdict(&e, HardFilter::VacancyOpen).reason,
        &["1 posto disponibile"],
    );

    // Both filled: the fold closes the vacancy, and the reason says why.
    let w = pair(|w| w.vacancy_event("V1", VacancyEvent::PositionsFilled { count: 2 }));
    assert_eq!(
        fails_only(&w, HardFilter::VacancyOpen),
        "Tutti i posti dell'annuncio sono stati coperti"
    );

    // Positions cut to those already filled: open status, nothing left.
    let w = pair(|w| {
        w.vacancy_event("V1", VacancyEvent::PositionsFilled { count: 1 });
        w.vacancy_event(
            "V1",
            VacancyEvent::Updated(VacancySpec {
                positions: 1,
                ..cook_vacancy()
            }),
        );
    });
    let reason = fails_only(&w, HardFilter::VacancyOpen);
    assert_contains(&reason, &["posti", "coperti"]);
}

#[test]
fn expired_vacancy_is_not_open_and_last_day_still_counts() {
    let expired = today() - 1;
    let w = pair(|w| {
        w.vacancy_event(
            "V1",
            VacancyEvent::Updated(VacancySpec {
                valid_until_day: expired,
                ..cook_vacancy()
            }),
        )
    });
    let reason = fails_only(&w, HardFilter::VacancyOpen);
    assert_eq!(
        reason,
        format!("Annuncio scaduto il {}", format_day(expired))
    );
    assert!(reason.ends_with("13/03/2025"), "{reason}");

    for until in [today(), 0] {
        let w = pair(|w| {
            w.vacancy_event(
                "V1",
                VacancyEvent::Updated(VacancySpec {
                    valid_until_day: until,
                    ..cook_vacancy()
                }),
            )
        });
        passes(&w);
    }
}

#[test]
fn withdrawn_candidate_is_unavailable() {
    let w = pair(|w| {
        w.candidacy_event(
            "C1",
            CandidacyEvent::Withdrawn {
                reason: "trasferimento".into(),
            },
        )
    });
    assert_eq!(
        fails_only(&w, HardFilter::Availability),
        "Candidatura ritirata"
    );
}

#[test]
fn candidate_declared_unavailable_and_available_again() {
    let unavailable = CandidacyEvent::AvailabilityChanged {
        available: false,
        reason: "malattia".into(),
    };
    let w = pair(|w| w.candidacy_event("C1", unavailable.clone()));
    assert_eq!(
        fails_only(&w, HardFilter::Availability),
        "Dichiarato/a non disponibile"
    );

    let w = pair(|w| {
        w.candidacy_event("C1", unavailable);
        w.candidacy_event(
            "C1",
            CandidacyEvent::AvailabilityChanged {
                available: true,
                reason: "guarito".into(),
            },
        );
    });
    passes(&w);
}

#[test]
fn full_time_hire_in_force_makes_the_candidate_unavailable() {
    let start = today() - 10;
    let w = pair(|w| w.hire("C1", "CO0000000000001", start, 100));
    let reason = fails_only(&w, HardFilter::Availability);
    assert_contains(
        &reason,
        &[
            "Non disponibile",
            &format!("assunto/a il {}", format_day(start)),
            "Ristoro Srl",
            "tempo indeterminato",
            "CO0000000000001",
        ],
    );

    // A hire is notified before it starts; from the notice on the person is
    // taken, so they are not proposed the afternoon after being hired.
    let w = pair(|w| w.hire("C1", "CO0000000000001", today() + 1, 100));
    let reason = fails_only(&w, HardFilter::Availability);
    assert_contains(
        &reason,
        &[&format!("assunto/a dal {}", format_day(today() + 1))],
    );
    // Nor does a hire starting today leave the candidate free.
    let w = pair(|w| w.hire("C1", "CO0000000000001", today(), 100));
    fails_only(&w, HardFilter::Availability);
}

#[test]
fn cessation_before_today_frees_the_candidate() {
    let w = pair(|w| {
        w.hire("C1", "CO0000000000001", today() - 100, 100);
        w.co(
            "C1",
            "CO0000000000002",
            CoQuadro::Cessazione {
                day: today() - 5,
                cause: "dimissioni".into(),
            },
        );
    });
    let e = passes(&w);
    assert_contains(
        &verdict(&e, HardFilter::Availability).reason,
        &["Disponibile"],
    );

    // A cessation still to come leaves them employed today.
    let w = pair(|w| {
        w.hire("C1", "CO0000000000001", today() - 100, 100);
        w.co(
            "C1",
            "CO0000000000002",
            CoQuadro::Cessazione {
                day: today() + 5,
                cause: "dimissioni".into(),
            },
        );
    });
    fails_only(&w, HardFilter::Availability);
}

#[test]
fn part_time_contract_leaves_room_for_a_part_time_vacancy_only() {
    let half = |w: &mut World| {
        w.vacancy_event(
            "V1",
            VacancyEvent::Updated(VacancySpec {
                hours_percent: 50,
                ..cook_vacancy()
            }),
        );
        w.hire("C1", "CO0000000000001", today() - 30, 50);
    };
    let w = pair(half);
    let e = passes(&w);
    assert_contains(
        &verdict(&e, HardFilter::Availability).reason,
        &["part-time al 50%", "compatibile"],
    );

    let w = pair(|w| w.hire("C1", "CO0000000000001", today() - 30, 50));
    let reason = fails_only(&w, HardFilter::Availability);
    assert_contains(&reason, &["Occupato/a al 50%", "incompatibile", "al 50%"]);
}

#[test]
fn distance_beyond_the_candidate_limit_is_excluded() {
    let km = ctx().road_km(CUNEO, TORINO).unwrap();
    assert!((90.0..100.0).contains(&km), "Cuneo-Torino {km}");
    let w = pair(|w| {
        w.candidacy_event(
            "C1",
            CandidacyEvent::ProfileUpdated(CandidateProfile {
                max_distance_km: 50,
                ..profile_in(CUNEO)
            }),
        )
    });
    let reason = fails_only(&w, HardFilter::Distance);
    assert_eq!(
        reason,
        format!("Sede di lavoro a {km:.0} km, oltre il limite di mobilità di 50 km")
    );
    assert_eq!(w.evaluate("V1", "C1").distance_km, Some(km));

    let w = pair(|w| {
        w.candidacy_event(
            "C1",
            CandidacyEvent::ProfileUpdated(CandidateProfile {
                max_distance_km: 100,
                ..profile_in(CUNEO)
            }),
        )
    });
    let e = passes(&w);
    assert_contains(
        &verdict(&e, HardFilter::Distance).reason,
        &[&format!("{km:.0} km"), "100 km"],
    );
}

#[test]
fn unstated_mobility_means_the_default_limit() {
    assert_eq!(config().distance.default_max_km, 30);
    let limit = |comune: &str| {
        let mut w = World::new();
        w.publish("V1", cook_vacancy());
        w.register(
            "C1",
            CandidateProfile {
                max_distance_km: 0,
                ..profile_in(comune)
            },
        );
        let c = w.state.candidate("C1").unwrap().clone();
        assert_eq!(ctx().distance_limit(&c, &RequestFilters::default()), 30);
        w
    };
    // Pinerolo is ~43 km away: beyond 30.
    let w = limit(PINEROLO);
    let reason = fails_only(&w, HardFilter::Distance);
    assert_contains(&reason, &["43 km", "oltre", "30 km"]);
    // Chivasso is ~27 km away: within 30.
    passes(&limit(CHIVASSO));
}

#[test]
fn request_distance_tighter_than_the_candidate_limit() {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    w.register(
        "C1",
        CandidateProfile {
            max_distance_km: 50,
            ..profile_in(SETTIMO)
        },
    );
    w.register("C2", profile_in(MONCALIERI));
    let km = ctx().road_km(SETTIMO, TORINO).unwrap();
    assert!((12.0..13.0).contains(&km), "Settimo-Torino {km}");

    let request = RequestFilters {
        max_distance_km: 10,
        ..RequestFilters::default()
    };
    let v = w.state.vacancy("V1").unwrap();
    let c = w.state.candidate("C1").unwrap();
    assert_eq!(ctx().distance_limit(c, &request), 10);
    assert_eq!(ctx().distance_limit(c, &RequestFilters::default()), 50);
    let (verdicts, distance) = ctx().hard_filters(v, c, w.facts("C1"), &request, true);
    assert_eq!(distance, Some(km));
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|f| !f.passed)
        .map(|f| f.filter.name())
        .collect();
    assert_eq!(failed, ["distance"]);
    assert_contains(
        &verdicts[2].reason,
        &["12 km", "oltre il limite di mobilità di 10 km"],
    );
    // A looser request does not widen the candidate's own limit.
    let loose = RequestFilters {
        max_distance_km: 80,
        ..RequestFilters::default()
    };
    assert_eq!(ctx().distance_limit(c, &loose), 50);

    // In the list the request narrows the search itself: Settimo is out of
    // reach, Moncalieri (~9.4 km) within.
    let list = w.candidates_for(
        "V1",
        &ListRequest {
            filters: request,
            ..everyone()
        },
    );
    assert_eq!(ids(&list), ["C2"]);
    assert_eq!(list.considered, 1);
    assert!(list.excluded.is_empty());
    let list = w.candidates_for("V1", &everyone());
    assert_eq!(ids(&list), ["C2", "C1"]);
}

#[test]
fn contract_type_must_be_accepted_unless_none_is_stated() {
    let accepts = |contracts: Vec<ContractType>| {
        pair(move |w| {
            w.candidacy_event(
                "C1",
                CandidacyEvent::ProfileUpdated(CandidateProfile {
                    accepted_contracts: contracts,
                    ..cook_profile()
                }),
            )
        })
    };
    let reason = fails_only(
        &accepts(vec![ContractType::Determinato, ContractType::Stagionale]),
        HardFilter::Contract,
    );
    assert_eq!(
        reason,
        "Contratto di tempo indeterminato non tra quelli accettati"
    );
    passes(&accepts(vec![
        ContractType::Determinato,
        ContractType::Indeterminato,
    ]));
    let e = passes(&accepts(vec![]));
    assert_eq!(
        verdict(&e, HardFilter::Contract).reason,
        "Contratto di tempo indeterminato accettato"
    );
}

#[test]
fn hours_must_lie_within_the_declared_range() {
    let with = |min: u32, max: u32, hours: u32| {
        let mut w = World::new();
        w.publish(
            "V1",
            VacancySpec {
                hours_percent: hours,
                ..cook_vacancy()
            },
        );
        w.register(
            "C1",
            CandidateProfile {
                min_hours_percent: min,
                max_hours_percent: max,
                ..cook_profile()
            },
        );
        w
    };
    let reason = fails_only(&with(60, 80, 100), HardFilter::Hours);
    assert_eq!(
        reason,
        "Orario al 100% fuori dalla disponibilità dichiarata (60-80%)"
    );
    let reason = fails_only(&with(60, 80, 50), HardFilter::Hours);
    assert_contains(&reason, &["50%", "60-80%"]);
    for hours in [60, 70, 80] {
        let e = passes(&with(60, 80, hours));
        assert_contains(
            &verdict(&e, HardFilter::Hours).reason,
            &[&format!("al {hours}%"), "compatibile", "60-80%"],
        );
    }
    // An unstated maximum means full time.
    let e = passes(&with(50, 0, 100));
    assert_contains(&verdict(&e, HardFilter::Hours).reason, &["50-100%"]);
}

fn reserved(quota: ReservedQuota, category: ProtectedCategory) -> World {
    let mut w = World::new();
    w.publish(
        "V1",
        VacancySpec {
            reserved_quota: quota,
            ..cook_vacancy()
        },
    );
    w.register_as("C1", cook_profile(), category);
    w
}

#[test]
fn art1_reserved_vacancy_requires_art1_registration() {
    for category in [ProtectedCategory::None, ProtectedCategory::Art18] {
        let reason = fails_only(
            &reserved(ReservedQuota::Art1, category),
            HardFilter::ReservedQuota,
        );
        assert_contains(&reason, &["L.68/99 art.1", "collocamento mirato"]);
    }
    let e = passes(&reserved(ReservedQuota::Art1, ProtectedCategory::Art1));
    assert_contains(
        &verdict(&e, HardFilter::ReservedQuota).reason,
        &["compatibile con il posto riservato"],
    );
}

#[test]
fn art18_reserved_vacancy_requires_art18_registration() {
    for category in [ProtectedCategory::None, ProtectedCategory::Art1] {
        let reason = fails_only(
            &reserved(ReservedQuota::Art18, category),
            HardFilter::ReservedQuota,
        );
        assert_contains(&reason, &["L.68/99 art.18", "categorie protette"]);
    }
    passes(&reserved(ReservedQuota::Art18, ProtectedCategory::Art18));
}

#[test]
fn non_reserved_vacancy_accepts_everyone() {
    for category in [
        ProtectedCategory::None,
        ProtectedCategory::Art1,
        ProtectedCategory::Art18,
    ] {
        let e = passes(&reserved(ReservedQuota::None, category));
        assert_eq!(
            verdict(&e, HardFilter::ReservedQuota).reason,
            "Posto non riservato"
        );
    }
}

#[test]
fn cpi_request_filter() {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    w.register(
        "C1",
        CandidateProfile {
            cpi_code: "TO05".into(),
            ..profile_in(SETTIMO)
        },
    );
    w.register(
        "C2",
        CandidateProfile {
            cpi_code: "TO01".into(),
            ..profile_in(TORINO)
        },
    );
    let request = RequestFilters {
        cpi_codes: vec!["TO01".into(), "TO12".into()],
        max_distance_km: 0,
        hide_reserved_quota: false,
    };
    let v = w.state.vacancy("V1").unwrap();

    let c1 = w.state.candidate("C1").unwrap();
    let (verdicts, _) = ctx().hard_filters(v, c1, w.facts("C1"), &request, true);
    let got: Vec<(&str, bool)> = verdicts
        .iter()
        .map(|f| (f.filter.name(), f.passed))
        .collect();
    assert_eq!(
        got,
        [
            ("vacancy_open", true),
            ("availability", true),
            ("distance", true),
            ("contract", true),
            ("hours", true),
            ("reserved_quota", true),
            ("cpi", false),
        ]
    );
    assert_eq!(
        verdicts[6].reason,
        "Seguito dal CPI TO05, fuori dai CPI richiesti"
    );

    let c2 = w.state.candidate("C2").unwrap();
    let (verdicts, _) = ctx().hard_filters(v, c2, w.facts("C2"), &request, true);
    assert!(verdicts.iter().all(|f| f.passed));
    assert_eq!(verdicts[6].filter, HardFilter::Cpi);
    assert_eq!(verdicts[6].reason, "Seguito dal CPI TO01");

    // Explain has no request: the CPI filter is not reported there.
    assert_eq!(names(&w.evaluate("V1", "C1")), FULL);

    let list = w.candidates_for(
        "V1",
        &ListRequest {
            filters: request,
            ..everyone()
        },
    );
    assert_eq!(ids(&list), ["C2"]);
    assert_eq!(list.considered, 2);
    assert_eq!(list.excluded, excluded(&[("cpi", 1)]));
    // Without the filter both are listed.
    assert_eq!(ids(&w.candidates_for("V1", &everyone())), ["C2", "C1"]);
}

#[test]
fn explain_reports_every_failing_filter_but_the_list_counts_the_first() {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    w.register(
        "C1",
        CandidateProfile {
            accepted_contracts: vec![ContractType::Tirocinio],
            min_hours_percent: 10,
            max_hours_percent: 40,
            max_distance_km: 5,
            ..profile_in(MONCALIERI)
        },
    );
    w.candidacy_event(
        "C1",
        CandidacyEvent::AvailabilityChanged {
            available: false,
            reason: "x".into(),
        },
    );
    w.vacancy_event("V1", VacancyEvent::Closed);
    let e = w.evaluate("V1", "C1");
    assert_failing(
        &e,
        &[
            HardFilter::VacancyOpen,
            HardFilter::Availability,
            HardFilter::Distance,
            HardFilter::Contract,
            HardFilter::Hours,
        ],
    );
    assert_contains(&verdict(&e, HardFilter::Distance).reason, &["5 km"]);
    // Ineligible pairs are still scored and explained.
    assert_well_formed(&e, config());
    let list = w.candidates_for("V1", &everyone());
    assert_eq!(list.excluded, excluded(&[("vacancy_open", 1)]));
}

// ---------------------------------------------------------------------------
// Soft criteria
// ---------------------------------------------------------------------------

/// Evaluates `profile` (registered as C1) against `spec` (V1).
fn score(spec: VacancySpec, profile: CandidateProfile) -> Evaluation {
    let mut w = World::new();
    w.publish("V1", spec);
    w.register("C1", profile);
    let e = w.evaluate("V1", "C1");
    assert!(e.eligible, "{:?}", e.filters);
    assert_well_formed(&e, config());
    e
}

fn wanting(professions: &[&str], experience: Vec<WorkExperience>) -> CandidateProfile {
    CandidateProfile {
        desired_professions: professions.iter().map(|p| p.to_string()).collect(),
        experience,
        ..cook_profile()
    }
}

#[test]
fn profession_credit_is_the_shared_cp2011_depth() {
    let cases = [
        (COOK, 1.0),
        (WAITER, 0.6),
        (SHOP_ASSISTANT, 0.2),
        (PLANT_OPERATOR, 0.0),
    ];
    for (code, expected) in cases {
        let e = score(plain_vacancy(), wanting(&[code], vec![]));
        assert_close(sim(&e, Criterion::Profession), expected);
    }

    let reason = |code: &str| {
        let e = score(plain_vacancy(), wanting(&[code], vec![]));
        contribution(&e, Criterion::Profession).reason.clone()
    };
    assert_eq!(
        reason(COOK),
        "Professione «Cuochi in alberghi e ristoranti» tra quelle svolte o cercate"
    );
    assert_contains(
        &reason(WAITER),
        &[
            "affine",
            "«Camerieri e professioni assimilate»",
            "3 livelli su 5",
            "«Cuochi in alberghi e ristoranti»",
        ],
    );
    assert_contains(&reason(SHOP_ASSISTANT), &["1 livello su 5"]);
    assert_eq!(
        reason(PLANT_OPERATOR),
        "Nessuna professione affine a «Cuochi in alberghi e ristoranti» nel profilo"
    );

    // The best of desired and practised professions counts.
    let e = score(
        plain_vacancy(),
        wanting(&[PLANT_OPERATOR], vec![experience(WAITER, 1)]),
    );
    assert_close(sim(&e, Criterion::Profession), 0.6);
    let e = score(plain_vacancy(), wanting(&[], vec![]));
    assert_close(sim(&e, Criterion::Profession), 0.0);

    // A vacancy coded at level 3 is fully matched by any of its children.
    let e = score(
        VacancySpec {
            profession_code: "5.2.2".into(),
            ..plain_vacancy()
        },
        wanting(&[WAITER], vec![]),
    );
    assert_close(sim(&e, Criterion::Profession), 1.0);
    assert_contains(
        &contribution(&e, Criterion::Profession).reason,
        &["tra quelle svolte o cercate"],
    );
}

#[test]
fn skills_weigh_certified_over_declared_and_required_over_preferred() {
    let cfg = config();
    let declared = cfg.skills.declared_credit;
    let share = cfg.skills.required_share;
    assert!(declared > 0.0 && declared < 1.0 && share > 0.0 && share < 1.0);
    let with = |certified: &[&str], skills: &[&str]| {
        let e = score(
            cook_vacancy(),
            CandidateProfile {
                certified_skills: certified.iter().map(|s| s.to_string()).collect(),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                ..cook_profile()
            },
        );
        let c = contribution(&e, Criterion::Skills);
        (c.similarity, c.reason.clone())
    };
    // Required: HACCP, Cucina piemontese; preferred: Pasticceria.
    let (s, r) = with(&["HACCP", "CUCINA PIEMONTESE", "pasticceria"], &[]);
    assert_close(s, 1.0);
    assert_eq!(
        r,
        "Possiede tutte le 3 competenze indicate nell'annuncio, tutte certificate"
    );

    let (s, _) = with(&[], &["haccp", "cucina piemontese", "pasticceria"]);
    assert_close(s, declared);

    let (s, r) = with(&["haccp", "cucina piemontese"], &[]);
    assert_close(s, share);
    assert_eq!(
        r,
        "Possiede 2 delle 3 competenze indicate nell'annuncio, tutte certificate; manca: \
         Pasticceria"
    );

    let (s, _) = with(&["haccp"], &["cucina piemontese"]);
    assert_close(s, share * (1.0 + declared) / 2.0);

    let (s, r) = with(&[], &["pasticceria"]);
    assert_close(s, (1.0 - share) * declared);
    assert_contains(&r, &["1 delle 3", "HACCP", "Cucina piemontese"]);

    let (s, _) = with(&["pasticceria"], &[]);
    assert_close(s, 1.0 - share);

    // Certified counts once even if also declared.
    let (s, _) = with(&["haccp"], &["haccp"]);
    assert_close(s, share * 0.5);

    // Only preferred skills asked: they carry the whole criterion.
    let e = score(
        VacancySpec {
            required_skills: vec![],
            ..cook_vacancy()
        },
        CandidateProfile {
            certified_skills: vec![],
            skills: vec!["pasticceria".into()],
            ..cook_profile()
        },
    );
    assert_close(sim(&e, Criterion::Skills), declared);

    // No skills asked: full credit.
    let e = score(
        plain_vacancy(),
        CandidateProfile {
            certified_skills: vec![],
            ..cook_profile()
        },
    );
    assert_close(sim(&e, Criterion::Skills), 1.0);
    assert_eq!(
        contribution(&e, Criterion::Skills).reason,
        "Nessuna competenza specifica richiesta"
    );
}

/// The skills sentence says which skills are only declared whenever the similarity it explains
/// credits them less than certified ones (issue 16: "Possiede tutte le 5 competenze" was
/// shown for five declared skills earning 0.8).
#[test]
fn skills_reason_tells_declared_from_certified_skills() {
    let cfg = config();
    let declared = cfg.skills.declared_credit;
    let credit = format!(
        "(ogni competenza solo dichiarata pesa {}, ogni certificata 1)",
        format!("{declared}").replace('.', ",")
    );
    let with = |vacancy: VacancySpec, certified: &[&str], skills: &[&str]| {
        let e = score(
            vacancy,
            CandidateProfile {
                certified_skills: certified.iter().map(|s| s.to_string()).collect(),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                ..cook_profile()
            },
        );
        let c = contribution(&e, Criterion::Skills);
        assert_sentence(&c.reason);
        (c.similarity, c.reason.clone())
    };
    let cook = cook_vacancy;

    // Every skill held, none certified: not the sentence of full credit.
    let (s, r) = with(cook(), &[], &["haccp", "cucina piemontese", "pasticceria"]);
    assert_close(s, declared);
    assert_eq!(
        r,
        format!(
            "Possiede tutte le 3 competenze indicate nell'annuncio, tutte dichiarate, nessuna \
             certificata {credit}"
        )
    );

    // Some of each.
    let (s, r) = with(cook(), &["haccp"], &["cucina piemontese", "pasticceria"]);
    assert!(s < 1.0 && s > declared, "{s}");
    assert_eq!(
        r,
        format!(
            "Possiede tutte le 3 competenze indicate nell'annuncio, 1 certificata e 2 solo \
             dichiarate {credit}"
        )
    );

    // A missing skill and a declared one.
    let (_, r) = with(cook(), &["haccp"], &["pasticceria"]);
    assert_eq!(
        r,
        format!(
            "Possiede 2 delle 3 competenze indicate nell'annuncio, 1 certificata e 1 solo \
             dichiarata {credit}; manca: Cucina piemontese"
        )
    );

    // None held.
    let (s, r) = with(cook(), &[], &[]);
    assert_close(s, 0.0);
    assert_eq!(
        r,
        "Non possiede nessuna delle 3 competenze indicate nell'annuncio (mancano: HACCP, \
         Cucina piemontese, Pasticceria)"
    );

    // One skill named: held declared, held certified, not held.
    let one = || VacancySpec {
        required_skills: vec!["HACCP".into()],
        preferred_skills: vec![],
        ..cook_vacancy()
    };
    let (s, r) = with(one(), &[], &["haccp"]);
    assert_close(s, declared);
    assert_eq!(
        r,
        format!(
            "Possiede la competenza indicata nell'annuncio, dichiarata, non certificata {credit}"
        )
    );
    let (s, r) = with(one(), &["haccp"], &[]);
    assert_close(s, 1.0);
    assert_eq!(
        r,
        "Possiede la competenza indicata nell'annuncio, certificata"
    );
    let (s, r) = with(one(), &[], &[]);
    assert_close(s, 0.0);
    assert_eq!(
        r,
        "Non possiede la competenza indicata nell'annuncio (HACCP)"
    );
}

#[test]
fn experience_counts_months_in_the_same_class_against_the_minimum() {
    let with = |min: u32, experience: Vec<WorkExperience>| {
        let e = score(
            VacancySpec {
                min_experience_months: min,
                ..plain_vacancy()
            },
            wanting(&[COOK], experience),
        );
        let c = contribution(&e, Criterion::Experience);
        (c.similarity, c.reason.clone())
    };
    // Waiter shares 3 levels (same classe 5.2.2): relevant. Shop assistant
    // and 5.2.1 (2 levels) are not.
    let (s, r) = with(
        24,
        vec![
            experience(WAITER, 12),
            experience(SHOP_ASSISTANT, 40),
            experience("5.2.1.1.0", 40),
        ],
    );
    assert_close(s, 0.5);
    assert_eq!(
        r,
        "12 mesi di esperienza in professioni affini (richiesti 24)"
    );
    let (s, r) = with(24, vec![experience(WAITER, 12), experience(COOK, 6)]);
    assert_close(s, 18.0 / 24.0);
    assert_contains(&r, &["18 mesi", "richiesti 24"]);
    let (s, _) = with(24, vec![experience(COOK, 48)]);
    assert_close(s, 1.0);
    let (s, r) = with(24, vec![]);
    assert_close(s, 0.0);
    assert_contains(&r, &["0 mesi", "richiesti 24"]);

    // No minimum: full credit after `full_credit_months`.
    let full = config().experience.full_credit_months;
    assert_eq!(full, 12);
    let (s, r) = with(0, vec![experience(COOK, 6)]);
    assert_close(s, 0.5);
    assert_eq!(r, "6 mesi di esperienza in professioni affini");
    let (s, r) = with(0, vec![experience(SHOP_ASSISTANT, 60)]);
    assert_close(s, 0.0);
    assert_eq!(r, "Nessuna esperienza in professioni affini");
}

#[test]
fn education_one_level_below_earns_half() {
    let with = |required: EducationLevel, held: EducationLevel| {
        let e = score(
            VacancySpec {
                min_education: required,
                ..plain_vacancy()
            },
            CandidateProfile {
                education: held,
                ..cook_profile()
            },
        );
        let c = contribution(&e, Criterion::Education);
        (c.similarity, c.reason.clone())
    };
    use EducationLevel as E;
    let (s, r) = with(E::Diploma, E::LaureaMagistrale);
    assert_close(s, 1.0);
    assert_eq!(
        r,
        "Titolo di studio: laurea magistrale (richiesto: diploma)"
    );
    assert_close(with(E::Diploma, E::Diploma).0, 1.0);
    let (s, r) = with(E::Diploma, E::QualificaProfessionale);
    assert_close(s, 0.5);
    assert_contains(&r, &["qualifica professionale", "richiesto: diploma"]);
    assert_close(with(E::Diploma, E::LicenzaMedia).0, 0.0);
    assert_close(with(E::Diploma, E::Unspecified).0, 0.0);
    let (s, r) = with(E::Unspecified, E::LicenzaMedia);
    assert_close(s, 1.0);
    assert_eq!(r, "Titolo di studio: licenza media (nessun requisito)");
}

#[test]
fn languages_give_full_half_or_no_credit_each() {
    let lang = |code: &str, level: Cefr| LanguageSkill {
        language: code.into(),
        level,
    };
    let spec = VacancySpec {
        languages: vec![lang("en", Cefr::B2), lang("de", Cefr::A2)],
        ..plain_vacancy()
    };
    let with = |held: Vec<LanguageSkill>| {
        let e = score(
            spec.clone(),
            CandidateProfile {
                languages: held,
                ..cook_profile()
            },
        );
        let c = contribution(&e, Criterion::Languages);
        (c.similarity, c.reason.clone())
    };
    let (s, r) = with(vec![lang("en", Cefr::C1)]);
    assert_close(s, 0.5);
    assert_eq!(
        r,
        "Lingue: en B2 richiesto, posseduto C1; de A2 richiesto, posseduto non conosciuta"
    );
    let (s, _) = with(vec![lang("en", Cefr::B1), lang("de", Cefr::A2)]);
    assert_close(s, 0.75);
    let (s, _) = with(vec![lang("en", Cefr::B2), lang("de", Cefr::C2)]);
    assert_close(s, 1.0);
    let (s, _) = with(vec![lang("fr", Cefr::C2)]);
    assert_close(s, 0.0);

    let e = score(plain_vacancy(), cook_profile());
    assert_close(sim(&e, Criterion::Languages), 1.0);
    assert_eq!(
        contribution(&e, Criterion::Languages).reason,
        "Nessuna lingua straniera richiesta"
    );
}

#[test]
fn licences_are_the_share_held() {
    let spec = VacancySpec {
        driving_licences: vec!["B".into(), "C".into()],
        ..plain_vacancy()
    };
    let with = |held: &[&str]| {
        let e = score(
            spec.clone(),
            CandidateProfile {
                driving_licences: held.iter().map(|s| s.to_string()).collect(),
                ..cook_profile()
            },
        );
        let c = contribution(&e, Criterion::Licences);
        (c.similarity, c.reason.clone())
    };
    let (s, r) = with(&["B"]);
    assert_close(s, 0.5);
    assert_eq!(r, "Manca la patente richiesta: C");
    let (s, r) = with(&["C", "CQC", "B"]);
    assert_close(s, 1.0);
    assert_eq!(r, "Possiede la patente richiesta (B, C)");
    let (s, r) = with(&[]);
    assert_close(s, 0.0);
    assert_contains(&r, &["B, C"]);

    let e = score(plain_vacancy(), cook_profile());
    assert_close(sim(&e, Criterion::Licences), 1.0);
    assert_eq!(
        contribution(&e, Criterion::Licences).reason,
        "Nessuna patente richiesta"
    );
}

#[test]
fn text_relevance_is_clamped_and_explained() {
    let mut w = World::new();
    w.publish("V1", plain_vacancy());
    w.register("C1", cook_profile());
    let at = |text: f64| w.evaluate_with(&ctx(), "V1", "C1", text);
    let e = at(0.42);
    assert_close(sim(&e, Criterion::Text), 0.42);
    assert_eq!(
        contribution(&e, Criterion::Text).reason,
        "Profilo pertinente al testo dell'annuncio (pertinenza 42%)"
    );
    assert_close(sim(&at(3.0), Criterion::Text), 1.0);
    let e = at(-1.0);
    assert_close(sim(&e, Criterion::Text), 0.0);
    assert_eq!(
        contribution(&e, Criterion::Text).reason,
        "Profilo non pertinente al testo dell'annuncio"
    );
    let slot = w.state.candidate_slot("C1").unwrap();
    let mut text = FixedRelevance(HashMap::from([(slot, 0.42)]));
    let list = match_candidates(&w.state, &ctx(), "V1", &everyone(), &mut text).unwrap();
    assert_eq!(list.items[0].score, at(0.42).score);
    assert!(at(0.42).score > at(0.0).score);
}

#[test]
fn distance_similarity_decays_with_km() {
    let comuni = [TORINO, MONCALIERI, SETTIMO, CHIVASSO];
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    for (i, comune) in comuni.iter().enumerate() {
        w.register(&format!("C{i}"), profile_in(comune));
    }
    let decay = config().distance.decay_km;
    let evals: Vec<Evaluation> = (0..comuni.len())
        .map(|i| w.evaluate("V1", &format!("C{i}")))
        .collect();
    for (e, comune) in evals.iter().zip(comuni) {
        let km = ctx().road_km(comune, TORINO).unwrap();
        assert_close(sim(e, Criterion::Distance), (-km / decay).exp());
    }
    for pair in evals.windows(2) {
        assert!(sim(&pair[0], Criterion::Distance) > sim(&pair[1], Criterion::Distance));
        assert!(pair[0].score > pair[1].score);
        // All else equal: the score moves by the distance contribution only.
        assert_close(
            pair[0].score - pair[1].score,
            contribution(&pair[0], Criterion::Distance).contribution
                - contribution(&pair[1], Criterion::Distance).contribution,
        );
    }
    assert_close(sim(&evals[0], Criterion::Distance), 1.0);
    assert_contains(
        &contribution(&evals[0], Criterion::Distance).reason,
        &["stesso comune", "Torino"],
    );
    assert_eq!(
        contribution(&evals[1], Criterion::Distance).reason,
        "Domicilio a 9 km dalla sede di lavoro di Torino"
    );
    assert_contains(
        &contribution(&evals[3], Criterion::Distance).reason,
        &["27 km", "Torino"],
    );

    let list = w.candidates_for("V1", &everyone());
    assert_eq!(ids(&list), ["C0", "C1", "C2", "C3"]);
    assert!(list
        .items
        .windows(2)
        .all(|p| p[0].distance_km < p[1].distance_km));
}

// ---------------------------------------------------------------------------
// Invariants
// ---------------------------------------------------------------------------

#[test]
fn score_is_the_sum_of_contributions_in_criterion_order() {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    w.publish(
        "V2",
        VacancySpec {
            workplace_comune: ALESSANDRIA.into(),
            profession_code: "5.1.2".into(),
            languages: vec![LanguageSkill {
                language: "en".into(),
                level: Cefr::B1,
            }],
            driving_licences: vec!["B".into()],
            ..cook_vacancy()
        },
    );
    w.register("C1", cook_profile());
    w.register(
        "C2",
        CandidateProfile {
            desired_professions: vec![SHOP_ASSISTANT.into()],
            experience: vec![experience(WAITER, 5)],
            certified_skills: vec![],
            skills: vec!["haccp".into()],
            education: EducationLevel::LicenzaMedia,
            max_distance_km: 120,
            ..profile_in(NOVARA)
        },
    );
    w.register("C3", CandidateProfile::default());
    let ctx = ctx();
    for v in ["V1", "V2"] {
        for c in ["C1", "C2", "C3"] {
            for text in [0.0, 0.3, 1.0] {
                let e = w.evaluate_with(&ctx, v, c, text);
                assert_well_formed(&e, config());
                let vac = w.state.vacancy(v).unwrap();
                let cand = w.state.candidate(c).unwrap();
                let km = e.distance_km.unwrap_or(150.0);
                let sims = ctx.similarities(vac, cand, km, text);
                assert_close(e.score, sims.score(config()));
                let from_sims: Vec<f64> = e.contributions.iter().map(|c| c.similarity).collect();
                assert_eq!(from_sims, sims.0.to_vec());
            }
        }
    }
    // The perfect cook scores 1 up to the text criterion.
    let e = w.evaluate_with(&ctx, "V1", "C1", 1.0);
    assert_close(e.score, 1.0);
    let e = w.evaluate_with(&ctx, "V1", "C1", 0.0);
    assert_close(e.score, 1.0 - config().weights.text);
}

#[test]
fn weights_come_from_the_configuration() {
    assert!(DEFAULT_SCORING_TOML.contains("profession = 0.28"));
    let edited = DEFAULT_SCORING_TOML.replace("profession = 0.28", "profession = 0.56");
    let heavier = ScoringConfig::from_toml(&edited).unwrap();
    assert_eq!(heavier.weights.profession, 0.56);

    let mut w = World::new();
    w.publish("V1", plain_vacancy());
    w.register("C1", wanting(&[WAITER], vec![]));
    let base = w.evaluate_with(&ctx(), "V1", "C1", 0.0);
    let more = w.evaluate_with(&ctx_with(&heavier), "V1", "C1", 0.0);
    assert_well_formed(&base, config());
    assert_well_formed(&more, &heavier);

    let old_total = 1.0; // the default weights add up to 1
    let new_total = old_total + 0.28;
    let p0 = contribution(&base, Criterion::Profession);
    let p1 = contribution(&more, Criterion::Profession);
    assert_eq!((p0.weight, p1.weight), (0.28, 0.56));
    assert_close(p0.similarity, 0.6);
    assert_close(p1.similarity, 0.6);
    assert_close(p0.contribution, 0.28 * 0.6 / old_total);
    assert_close(p1.contribution, 0.56 * 0.6 / new_total);
    // Every other contribution shrinks by the same factor.
    for (a, b) in base.contributions.iter().zip(&more.contributions).skip(1) {
        assert_eq!(a.weight, b.weight);
        assert_close(b.contribution, a.contribution * old_total / new_total);
    }

    // A zero weight silences a criterion altogether.
    let silent = ScoringConfig::from_toml(
        &DEFAULT_SCORING_TOML.replace("profession = 0.28", "profession = 0.0"),
    )
    .unwrap();
    w.register("C2", wanting(&[PLANT_OPERATOR], vec![]));
    let ctx = ctx_with(&silent);
    let waiter = w.evaluate_with(&ctx, "V1", "C1", 0.0);
    let operator = w.evaluate_with(&ctx, "V1", "C2", 0.0);
    assert_eq!(
        contribution(&waiter, Criterion::Profession).contribution,
        0.0
    );
    assert_close(waiter.score, operator.score);
    assert!(base.score > w.evaluate("V1", "C2").score);
}

#[test]
fn each_criterion_reads_its_own_weight() {
    // Distinct weights, so a criterion reading another's weight shows.
    let mut text = DEFAULT_SCORING_TOML.to_string();
    for (line, weight) in [
        ("profession = 0.28", "profession = 1.0"),
        ("skills     = 0.20", "skills     = 2.0"),
        ("text       = 0.10", "text       = 3.0"),
        ("distance   = 0.14", "distance   = 4.0"),
        ("experience = 0.12", "experience = 5.0"),
        ("education  = 0.06", "education  = 6.0"),
        ("languages  = 0.05", "languages  = 7.0"),
        ("licences   = 0.05", "licences   = 8.0"),
    ] {
        assert!(text.contains(line), "{line}");
        text = text.replace(line, weight);
    }
    let config = ScoringConfig::from_toml(&text).unwrap();
    let mut w = World::new();
    w.publish(
        "V1",
        VacancySpec {
            driving_licences: vec!["B".into(), "C".into()],
            ..cook_vacancy()
        },
    );
    w.register(
        "C1",
        CandidateProfile {
            driving_licences: vec!["B".into()],
            ..profile_in(SETTIMO)
        },
    );
    let e = w.evaluate_with(&ctx_with(&config), "V1", "C1", 0.5);
    assert_well_formed(&e, &config);
    let weights: Vec<f64> = e.contributions.iter().map(|c| c.weight).collect();
    assert_eq!(weights, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    for (c, weight) in e.contributions.iter().zip(1..) {
        assert_close(c.contribution, f64::from(weight) * c.similarity / 36.0);
    }
    assert_close(
        contribution(&e, Criterion::Licences).contribution,
        8.0 * 0.5 / 36.0,
    );
}

#[test]
fn protected_category_never_changes_the_score() {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    w.publish(
        "V2",
        VacancySpec {
            reserved_quota: ReservedQuota::Art1,
            ..cook_vacancy()
        },
    );
    let profile = CandidateProfile {
        experience: vec![experience(WAITER, 7)],
        skills: vec!["haccp".into()],
        certified_skills: vec![],
        ..profile_in(MONCALIERI)
    };
    w.register_as("A", profile.clone(), ProtectedCategory::None);
    w.register_as("B", profile.clone(), ProtectedCategory::Art1);
    w.register_as("C", profile, ProtectedCategory::Art18);
    assert_eq!(w.state.protected_category("B"), ProtectedCategory::Art1);

    let a = w.evaluate("V1", "A");
    for other in ["B", "C"] {
        let e = w.evaluate("V1", other);
        assert!(e.eligible);
        assert_eq!(e.contributions, a.contributions);
        assert_eq!(e.score, a.score);
    }
    let list = w.candidates_for("V1", &everyone());
    assert_eq!(ids(&list), ["A", "B", "C"]);
    assert!(list.items.iter().all(|r| r.score == a.score));

    // On the reserved vacancy only B is eligible, with the very same score:
    // the registration decides eligibility, never rank.
    let reserved = w.evaluate("V2", "B");
    assert!(reserved.eligible);
    assert_eq!(reserved.contributions, a.contributions);
    assert!(!w.evaluate("V2", "A").eligible);
    let list = w.candidates_for("V2", &everyone());
    assert_eq!(ids(&list), ["B"]);
    assert_eq!(list.excluded, excluded(&[("reserved_quota", 2)]));
}

// ---------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------

/// B9 in Torino beats five identical candidates in Moncalieri, who beat A0
/// in Settimo (farther). Registration order is shuffled on purpose.
fn ties() -> World {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    for id in ["C3", "C1", "C5", "A0", "C2", "B9", "C4"] {
        let comune = match id {
            "B9" => TORINO,
            "A0" => SETTIMO,
            _ => MONCALIERI,
        };
        w.register(id, profile_in(comune));
    }
    w
}

#[test]
fn candidate_list_is_sorted_by_score_then_id_and_cut_at_limit() {
    let w = ties();
    let full = w.candidates_for("V1", &everyone());
    assert_eq!(ids(&full), ["B9", "C1", "C2", "C3", "C4", "C5", "A0"]);
    assert_eq!(full.considered, 7);
    assert!(full.excluded.is_empty());
    let tie = full.items[1].score;
    assert!(full.items[1..6].iter().all(|r| r.score == tie));
    assert!(full.items[0].score > tie && tie > full.items[6].score);
    for item in &full.items {
        let e = w.evaluate("V1", &item.id);
        assert_eq!(item.score, e.score);
        assert_eq!(item.contributions, e.contributions);
    }

    for (limit, expected) in [
        (1, vec!["B9"]),
        (3, vec!["B9", "C1", "C2"]),
        (6, vec!["B9", "C1", "C2", "C3", "C4", "C5"]),
    ] {
        let list = w.candidates_for(
            "V1",
            &ListRequest {
                limit,
                ..ListRequest::default()
            },
        );
        assert_eq!(ids(&list), expected, "limit {limit}");
        assert_eq!(list.considered, 7, "the limit does not narrow the search");
    }
    let none = w.candidates_for("V1", &ListRequest::default());
    assert!(none.items.is_empty());
    assert_eq!(none.considered, 7);
}

#[test]
fn min_score_is_respected() {
    let w = ties();
    let full = w.candidates_for("V1", &everyone());
    let tie = full.items[1].score;
    let at = |min_score: f64| {
        w.candidates_for(
            "V1",
            &ListRequest {
                min_score,
                ..everyone()
            },
        )
    };
    let list = at(tie);
    assert_eq!(ids(&list), ["B9", "C1", "C2", "C3", "C4", "C5"]);
    assert!(list.items.iter().all(|r| r.score >= tie));
    assert_eq!(list.considered, 7);
    assert!(list.excluded.is_empty(), "a low score is not a filter");
    assert_eq!(ids(&at(tie + 1e-9)), ["B9"]);
    assert!(at(1.01).items.is_empty());
    assert_eq!(at(0.0).items.len(), 7);
}

#[test]
fn considered_counts_the_candidates_within_reach() {
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    w.register("T", profile_in(TORINO));
    w.register("M", profile_in(MONCALIERI));
    // Within the 150 km search radius, beyond their own 30 km.
    w.register("N", profile_in(NOVARA));
    // Beyond the search radius, whatever they declare.
    w.register(
        "D",
        CandidateProfile {
            max_distance_km: 500,
            ..profile_in(DOMODOSSOLA)
        },
    );
    // Not a comune of the reference data.
    w.register("X", profile_in(NOWHERE));
    let list = w.candidates_for("V1", &everyone());
    assert_eq!(ids(&list), ["T", "M"]);
    assert_eq!(list.considered, 3);
    assert_eq!(list.excluded, excluded(&[("distance", 1)]));

    // Explain agrees: D is beyond the 150 km cap, X cannot be located.
    let d = w.evaluate("V1", "D");
    assert!(!d.eligible);
    assert_contains(
        &verdict(&d, HardFilter::Distance).reason,
        &["157 km", "150 km"],
    );
    let x = w.evaluate("V1", "X");
    assert!(!x.eligible);
    assert_eq!(x.distance_km, None);
    let location = verdict(&x, HardFilter::Location);
    assert!(!location.passed);
    assert_contains(&location.reason, &["sconosciuto"]);
    assert_well_formed(&x, config());

    // A tighter request shrinks the reach: Moncalieri (~9.4 km) stays in.
    let narrow = |km: u32| {
        w.candidates_for(
            "V1",
            &ListRequest {
                filters: RequestFilters {
                    max_distance_km: km,
                    ..RequestFilters::default()
                },
                ..everyone()
            },
        )
    };
    let list = narrow(10);
    assert_eq!((ids(&list), list.considered), (vec!["T", "M"], 2));
    let list = narrow(5);
    assert_eq!((ids(&list), list.considered), (vec!["T"], 1));
}

#[test]
fn vacancy_list_mirrors_the_candidate_list() {
    let mut w = World::new();
    w.register(
        "C1",
        CandidateProfile {
            accepted_contracts: vec![ContractType::Indeterminato],
            ..cook_profile()
        },
    );
    w.publish("V-TO-B", cook_vacancy());
    w.publish("V-TO-A", cook_vacancy());
    w.publish(
        "V-MO",
        VacancySpec {
            workplace_comune: MONCALIERI.into(),
            ..cook_vacancy()
        },
    );
    w.publish(
        "V-SE",
        VacancySpec {
            workplace_comune: SETTIMO.into(),
            profession_code: WAITER.into(),
            ..cook_vacancy()
        },
    );
    // Excluded by a filter.
    w.publish(
        "V-DET",
        VacancySpec {
            contract_type: ContractType::Determinato,
            ..cook_vacancy()
        },
    );
    w.publish(
        "V-ART1",
        VacancySpec {
            reserved_quota: ReservedQuota::Art1,
            workplace_comune: MONCALIERI.into(),
            ..cook_vacancy()
        },
    );
    // Not considered: beyond the candidate's 30 km, or no longer open.
    w.publish(
        "V-CN",
        VacancySpec {
            workplace_comune: CUNEO.into(),
            ..cook_vacancy()
        },
    );
    w.publish("V-CL", cook_vacancy());
    w.vacancy_event("V-CL", VacancyEvent::Closed);

    let list = w.vacancies_for("C1", &everyone());
    assert_eq!(ids(&list), ["V-TO-A", "V-TO-B", "V-MO", "V-SE"]);
    assert_eq!(list.considered, 6);
    assert_eq!(
        list.excluded,
        excluded(&[("contract", 1), ("reserved_quota", 1)])
    );
    assert_eq!(list.items[0].score, list.items[1].score);
    assert!(list
        .items
        .windows(2)
        .all(|p| p[0].score > p[1].score || (p[0].score == p[1].score && p[0].id < p[1].id)));
    for item in &list.items {
        let e = w.evaluate(&item.id, "C1");
        assert!(e.eligible);
        assert_eq!(item.score, e.score);
        assert_eq!(item.contributions, e.contributions);
        assert_eq!(Some(item.distance_km), e.distance_km);
    }

    let top = w.vacancies_for(
        "C1",
        &ListRequest {
            limit: 2,
            ..ListRequest::default()
        },
    );
    assert_eq!(ids(&top), ["V-TO-A", "V-TO-B"]);
    let min = w.vacancies_for(
        "C1",
        &ListRequest {
            min_score: list.items[2].score,
            ..everyone()
        },
    );
    assert_eq!(ids(&min), ["V-TO-A", "V-TO-B", "V-MO"]);

    // The same pair is ranked in both directions with the same score.
    let back = w.candidates_for("V-MO", &everyone());
    assert_eq!(ids(&back), ["C1"]);
    assert_eq!(back.items[0].score, list.items[2].score);

    // A request tighter than the candidate's limit narrows the reach.
    let near = w.vacancies_for(
        "C1",
        &ListRequest {
            filters: RequestFilters {
                max_distance_km: 10,
                ..RequestFilters::default()
            },
            ..everyone()
        },
    );
    assert_eq!(ids(&near), ["V-TO-A", "V-TO-B", "V-MO"]);
    assert_eq!(near.considered, 5);
}

#[test]
fn unknown_ids_are_errors() {
    let w = ties();
    let ctx = ctx();
    let mut none = FixedRelevance::default();
    assert_eq!(
        match_candidates(&w.state, &ctx, "V404", &everyone(), &mut none),
        Err(MatchError::UnknownVacancy("V404".into()))
    );
    assert_eq!(
        match_vacancies(&w.state, &ctx, "C404", &everyone(), &mut none),
        Err(MatchError::UnknownCandidate("C404".into()))
    );
    assert!(matches!(
        explain(&w.state, &ctx, "V404", "C1", &mut none),
        Err(MatchError::UnknownVacancy(id)) if id == "V404"
    ));
    assert!(matches!(
        explain(&w.state, &ctx, "V1", "C404", &mut none),
        Err(MatchError::UnknownCandidate(id)) if id == "C404"
    ));
    // A vacancy id is not a candidate id and vice versa.
    assert!(match_vacancies(&w.state, &ctx, "V1", &everyone(), &mut none).is_err());
    assert!(match_candidates(&w.state, &ctx, "C1", &everyone(), &mut none).is_err());
    let (_, e) = explain(&w.state, &ctx, "V1", "C1", &mut none).unwrap();
    assert_eq!(e, w.evaluate("V1", "C1"));
}

// ---------------------------------------------------------------------------
// Property: explain and the list agree
// ---------------------------------------------------------------------------

const PROP_COMUNI: [&str; 9] = [
    TORINO,
    MONCALIERI,
    SETTIMO,
    CHIVASSO,
    PINEROLO,
    CUNEO,
    NOVARA,
    DOMODOSSOLA,
    NOWHERE,
];
const PROP_PROFESSIONS: [&str; 5] = [COOK, WAITER, "5.2.2.2.3", SHOP_ASSISTANT, PLANT_OPERATOR];
const PROP_SKILLS: [&str; 4] = ["HACCP", "cucina piemontese", "pasticceria", "inglese"];
const PROP_CONTRACTS: [ContractType; 3] = [
    ContractType::Indeterminato,
    ContractType::Determinato,
    ContractType::Tirocinio,
];
const PROP_EDUCATION: [EducationLevel; 5] = [
    EducationLevel::Unspecified,
    EducationLevel::LicenzaMedia,
    EducationLevel::QualificaProfessionale,
    EducationLevel::Diploma,
    EducationLevel::LaureaTriennale,
];

fn pick<T: Copy>(all: &[T], mask: u8) -> Vec<T> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, x)| *x)
        .collect()
}

#[derive(Debug, Clone)]
struct Arbitrary {
    profile: CandidateProfile,
    category: ProtectedCategory,
    available: bool,
    busy_percent: u32,
    text: f64,
}

fn arbitrary_candidate() -> impl Strategy<Value = Arbitrary> {
    (
        (
            0..PROP_COMUNI.len(),
            prop::sample::select(vec![0u32, 10, 30, 50, 120, 500]),
        ),
        (0u8..32, 0u8..32, 0u32..60),
        (0u8..16, 0u8..16, 0..PROP_EDUCATION.len()),
        (0u8..8, 0u32..=100, 0u32..=100),
        (
            0u8..3,
            prop::bool::weighted(0.8),
            prop::sample::select(vec![0u32, 0, 0, 50, 100]),
            0.0f64..=1.0,
        ),
    )
        .prop_map(
            |(
                (comune, max_km),
                (desired, practised, months),
                (declared, certified, education),
                (contracts, a, b),
                (category, available, busy_percent, text),
            )| {
                let experience = pick(&PROP_PROFESSIONS, practised)
                    .into_iter()
                    .map(|code| experience(code, months))
                    .collect();
                let strings =
                    |v: Vec<&str>| -> Vec<String> { v.into_iter().map(String::from).collect() };
                Arbitrary {
                    profile: CandidateProfile {
                        domicile_comune: PROP_COMUNI[comune].into(),
                        max_distance_km: max_km,
                        desired_professions: strings(pick(&PROP_PROFESSIONS, desired)),
                        experience,
                        skills: strings(pick(&PROP_SKILLS, declared)),
                        certified_skills: strings(pick(&PROP_SKILLS, certified)),
                        education: PROP_EDUCATION[education],
                        accepted_contracts: pick(&PROP_CONTRACTS, contracts),
                        min_hours_percent: a.min(b),
                        max_hours_percent: a.max(b),
                        cpi_code: "TO01".into(),
                        ..CandidateProfile::default()
                    },
                    category: [
                        ProtectedCategory::None,
                        ProtectedCategory::Art1,
                        ProtectedCategory::Art18,
                    ][category as usize],
                    available,
                    busy_percent,
                    text,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn explain_and_list_agree_on_random_profiles(
        candidates in prop::collection::vec(arbitrary_candidate(), 1..10),
        reserved in prop::sample::select(vec![ReservedQuota::None, ReservedQuota::Art1]),
        hours in prop::sample::select(vec![50u32, 80, 100]),
    ) {
        let mut w = World::new();
        w.publish("V1", VacancySpec {
            reserved_quota: reserved,
            hours_percent: hours,
            languages: vec![LanguageSkill { language: "en".into(), level: Cefr::A2 }],
            driving_licences: vec!["B".into()],
            ..cook_vacancy()
        });
        let mut text = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            let id = format!("C{i:02}");
            w.register_as(&id, c.profile.clone(), c.category);
            if !c.available {
                w.candidacy_event(&id, CandidacyEvent::AvailabilityChanged {
                    available: false,
                    reason: "x".into(),
                });
            }
            if c.busy_percent > 0 {
                w.hire(&id, &format!("CO{i:014}"), today() - 3, c.busy_percent);
            }
            text.insert(id, c.text);
        }
        let ctx = ctx();
        let mut by_slot = FixedRelevance(
            text.iter()
                .map(|(id, r)| (w.state.candidate_slot(id).unwrap(), *r))
                .collect(),
        );
        let list = match_candidates(&w.state, &ctx, "V1", &everyone(), &mut by_slot).unwrap();
        let mut eligible = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            let id = format!("C{i:02}");
            let e = w.evaluate_with(&ctx, "V1", &id, c.text);
            prop_assert!((0.0..=1.0).contains(&e.score), "score {}", e.score);
            let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
            prop_assert!((e.score - sum).abs() < 1e-12);
            let order: Vec<Criterion> = e.contributions.iter().map(|c| c.criterion).collect();
            prop_assert_eq!(order, Criterion::ALL.to_vec());
            prop_assert_eq!(e.eligible, e.filters.iter().all(|f| f.passed));
            prop_assert!(e.filters.iter().all(|f| !f.reason.is_empty()));
            let listed = list.items.iter().find(|r| r.id == id);
            prop_assert_eq!(e.eligible, listed.is_some(), "{}: {:?}", id, e.filters);
            if let Some(r) = listed {
                prop_assert!((r.score - e.score).abs() < 1e-12);
                prop_assert_eq!(&r.contributions, &e.contributions);
                eligible.push((r.score, id));
            }
        }
        // Best first, ties by id; every considered pair is listed or excluded.
        eligible.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let expected: Vec<&str> = eligible.iter().map(|(_, id)| id.as_str()).collect();
        prop_assert_eq!(ids(&list), expected);
        let excluded: u64 = list.excluded.values().sum();
        prop_assert_eq!(list.considered, excluded + list.items.len() as u64);
    }
}

// ---------------------------------------------------------------------------
// Target-group boosts
// ---------------------------------------------------------------------------

fn register_long_term(w: &mut World, id: &str, profile: CandidateProfile, months: i32) {
    w.emit(
        id,
        EventPayload::Candidacy(CandidacyEvent::Registered {
            personal: SealedPersonalData::default(),
            person: person(id),
            demographics: None,
            did_day: today() - months * 365 / 12 - 1,
            profile,
            protected_category: ProtectedCategory::None,
        }),
    );
}

#[test]
fn each_boost_is_its_own_contribution_and_moves_the_rank() {
    use incontra_engine::model::{GolPath, IncomeSupport};
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    // Same fit; C2 is long-term unemployed, vulnerable and on GOL path 4.
    w.register("C1", cook_profile());
    let mut vulnerable = cook_profile();
    vulnerable.vulnerable = true;
    vulnerable.gol_path = GolPath::LavoroEInclusione;
    vulnerable.income_support = IncomeSupport::Naspi;
    register_long_term(&mut w, "C2", vulnerable, 14);

    let plain = w.evaluate("V1", "C1");
    assert_well_formed(&plain, config());
    let boosted = w.evaluate("V1", "C2");
    let b = &config().boosts;
    let boosts: Vec<(Criterion, f64)> = boosted
        .contributions
        .iter()
        .filter(|c| c.criterion.is_boost())
        .map(|c| (c.criterion, c.contribution))
        .collect();
    // The default gives no benefit-recipient boost, so it is not listed.
    assert_eq!(b.benefit_recipient, 0.0);
    assert_eq!(
        boosts,
        vec![
            (Criterion::BoostLongTermUnemployed, b.long_term_unemployed),
            (Criterion::BoostVulnerable, b.vulnerable),
            (
                Criterion::BoostGolLavoroEInclusione,
                b.gol_lavoro_e_inclusione
            ),
        ]
    );
    let long_term = boosted
        .contributions
        .iter()
        .find(|c| c.criterion == Criterion::BoostLongTermUnemployed)
        .expect("long-term boost");
    assert_contains(&long_term.reason, &["lunga durata", "14 mesi"]);
    for c in boosted
        .contributions
        .iter()
        .filter(|c| c.criterion.is_boost())
    {
        assert_sentence(&c.reason);
    }
    let boost_sum: f64 = boosts.iter().map(|(_, v)| v).sum();
    assert_close(boosted.score, plain.score + boost_sum);
    assert_close(
        boosted.score,
        boosted.contributions.iter().map(|c| c.contribution).sum(),
    );

    // The list ranks by the boosted score and shows the same contributions.
    let list = w.candidates_for("V1", &everyone());
    assert_eq!(ids(&list), ["C2", "C1"]);
    assert_close(list.items[0].score, boosted.score);
    assert_eq!(list.items[0].contributions, boosted.contributions);
}

#[test]
fn boosts_set_to_zero_leave_the_fit_alone() {
    let mut config = ScoringConfig::from_toml(DEFAULT_SCORING_TOML).unwrap();
    config.boosts.long_term_unemployed = 0.0;
    config.boosts.vulnerable = 0.0;
    config.boosts.gol_lavoro_e_inclusione = 0.0;
    let mut w = World::new();
    w.publish("V1", cook_vacancy());
    let mut profile = cook_profile();
    profile.vulnerable = true;
    register_long_term(&mut w, "C1", profile, 30);
    let e = w.evaluate_with(&ctx_with(&config), "V1", "C1", 0.0);
    assert_well_formed(&e, &config);

    let too_big = DEFAULT_SCORING_TOML.replace("vulnerable = 0.02", "vulnerable = 0.5");
    assert!(ScoringConfig::from_toml(&too_big).is_err());
}
