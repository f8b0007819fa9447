//! The bounds that let a list skip pairs and whole groups must never change
//! a list: a list of the top k, visited best group first, equals the first
//! k of the full scan of everyone within reach taken unbounded (k larger
//! than everyone, so nothing is ever skipped), with the same scores,
//! explanations and counts, over generated worlds.

use std::collections::HashMap;

use incontra_datagen::{Generator, GeneratorConfig};
use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::config::ScoringConfig;
use incontra_engine::matching::{self, ListRequest, RankedList};
use incontra_engine::reference::ReferenceData;
use incontra_engine::scoring::Context;
use incontra_engine::state::State;
use incontra_engine::text::FixedRelevance;
use incontra_indexer::decode::Decoder;

fn world(reference: &ReferenceData) -> (State, i32) {
    world_of(reference, GeneratorConfig::demo().with_candidates(4_000))
}

fn world_of(reference: &ReferenceData, config: GeneratorConfig) -> (State, i32) {
    let today = config.today;
    let generator = Generator::new(reference, config);
    let pseudonymiser = Pseudonymiser::new(b"bound test key, not a secret");
    let keys = incontra_indexer::keys::PersonKeys::in_memory();
    let decoder = Decoder::new(reference, &pseudonymiser, &keys);
    let mut state = State::new();
    for envelope in generator.events() {
        if let Ok(event) = decoder.decode(&envelope) {
            state.apply(&event);
        }
    }
    (state, today)
}

/// Text relevance for some candidates, varied, so the text criterion moves
/// the bound too.
fn relevance(state: &State, seed: usize) -> FixedRelevance {
    FixedRelevance(
        state
            .candidates()
            .enumerate()
            .filter(|(i, _)| (i + seed).is_multiple_of(3))
            .filter_map(|(i, c)| {
                let slot = state.candidate_slot(&c.id)?;
                Some((slot, ((i * 7919 + seed) % 1000) as f64 / 1000.0))
            })
            .collect(),
    )
}

/// [`relevance`] for vacancies: every `every`-th has some.
fn vacancy_relevance(state: &State, seed: usize, every: usize) -> FixedRelevance {
    FixedRelevance(
        state
            .vacancies()
            .enumerate()
            .filter(|(i, _)| (i + seed).is_multiple_of(every))
            .filter_map(|(i, v)| {
                let slot = state.vacancy_slot(&v.id)?;
                Some((slot, ((i * 7919 + seed) % 1000) as f64 / 1000.0))
            })
            .collect(),
    )
}

fn assert_prefix(bounded: &RankedList, unbounded: &RankedList, k: usize, min_score: f64) {
    let expected: Vec<_> = unbounded
        .items
        .iter()
        .filter(|r| r.score >= min_score)
        .take(k)
        .collect();
    let got: Vec<_> = bounded.items.iter().collect();
    assert_eq!(got, expected);
    assert_eq!(bounded.considered, unbounded.considered);
}

/// Runs `check` on the generated world with the embedded configuration.
fn with_world(check: impl FnOnce(&State, &Context<'_>)) {
    let reference = ReferenceData::embedded().unwrap();
    let config = ScoringConfig::embedded_default().unwrap();
    let (state, today) = world(&reference);
    let ctx = Context {
        reference: &reference,
        config: &config,
        today,
        congruity: None,
    };
    check(&state, &ctx);
}

#[test]
fn a_bounded_list_is_the_top_of_the_unbounded_one() {
    with_world(|state, ctx| {
        let everyone = state.candidates().count() + 1;
        let vacancies: Vec<String> = state
            .vacancies()
            .filter(|v| v.is_open_on(ctx.today))
            .map(|v| v.id.clone())
            .step_by(7)
            .take(25)
            .collect();
        assert!(vacancies.len() >= 20);

        let mut skipped = 0;
        let mut listed = 0;
        for (n, vacancy) in vacancies.iter().enumerate() {
            let mut text = relevance(state, n);
            for (k, min_score) in [(1, 0.0), (10, 0.0), (50, 0.0), (50, 0.45)] {
                let request = ListRequest {
                    limit: k,
                    min_score,
                    ..ListRequest::default()
                };
                let all = ListRequest {
                    limit: everyone,
                    count_exclusions: true,
                    ..ListRequest::default()
                };
                let counted = ListRequest {
                    count_exclusions: true,
                    ..request.clone()
                };
                let bounded =
                    matching::match_candidates(state, ctx, vacancy, &request, &mut text).unwrap();
                let scanned =
                    matching::match_candidates(state, ctx, vacancy, &counted, &mut text).unwrap();
                let unbounded =
                    matching::match_candidates(state, ctx, vacancy, &all, &mut text).unwrap();
                assert_eq!(
                    unbounded.bounded, 0,
                    "a list longer than everyone skips nobody"
                );
                assert_eq!(unbounded.visited, unbounded.considered - beyond(&unbounded));
                assert_prefix(&bounded, &unbounded, k, min_score);
                assert_prefix(&scanned, &unbounded, k, min_score);
                assert_eq!(scanned.excluded, unbounded.excluded);
                assert!(bounded.excluded.is_empty(), "counted without being asked");
                skipped += bounded.considered - bounded.visited;
                listed += bounded.items.len();
            }
        }
        // Otherwise the test would pass without the bounds ever having acted.
        assert!(skipped > 100_000, "the bounds skipped only {skipped} pairs");
        assert!(listed > 1_000, "only {listed} rows listed");
    });
}

#[test]
fn a_bounded_list_of_vacancies_is_the_top_of_the_unbounded_one() {
    with_world(|state, ctx| {
        let every_vacancy = state.vacancies().count() + 1;
        let mut people: Vec<String> = state
            .candidates()
            .filter(|c| !c.withdrawn && c.available)
            .map(|c| c.id.clone())
            .step_by(97)
            .take(30)
            .collect();
        assert!(people.len() >= 20);
        // People no vacancy can be offered to (not listed, or at work most
        // of the week): their lists are empty, whether visited or not.
        let unlisted = state.candidates().filter(|c| c.withdrawn || !c.available);
        let at_work = state.candidates().filter(|c| {
            state
                .employment_of(c)
                .is_some_and(|e| e.busy_hours_percent(ctx.today) >= 80)
        });
        let before = people.len();
        people.extend(
            unlisted
                .take(4)
                .chain(at_work.take(4))
                .map(|c| c.id.clone()),
        );
        assert_eq!(people.len(), before + 8);
        let mut skipped = 0;
        for (n, person) in people.iter().enumerate() {
            let mut text = vacancy_relevance(state, n, 2);
            for (k, min_score) in [(1, 0.0), (5, 0.0), (20, 0.4)] {
                let request = ListRequest {
                    limit: k,
                    min_score,
                    ..ListRequest::default()
                };
                let all = ListRequest {
                    limit: every_vacancy,
                    count_exclusions: true,
                    ..ListRequest::default()
                };
                let counted = ListRequest {
                    count_exclusions: true,
                    ..request.clone()
                };
                let bounded =
                    matching::match_vacancies(state, ctx, person, &request, &mut text).unwrap();
                let scanned =
                    matching::match_vacancies(state, ctx, person, &counted, &mut text).unwrap();
                let unbounded =
                    matching::match_vacancies(state, ctx, person, &all, &mut text).unwrap();
                assert_eq!(unbounded.bounded, 0);
                assert_eq!(unbounded.visited, unbounded.considered);
                assert_prefix(&bounded, &unbounded, k, min_score);
                assert_prefix(&scanned, &unbounded, k, min_score);
                assert_eq!(scanned.excluded, unbounded.excluded);
                assert!(bounded.excluded.is_empty());
                skipped += bounded.considered - bounded.visited;
            }
        }
        assert!(skipped > 300, "the bounds skipped only {skipped} pairs");
    });
}

/// Pairs a full scan counted as excluded by distance without visiting them
/// (residents of comuni beyond every resident's limit), which is at most
/// all of its distance exclusions.
fn beyond(list: &RankedList) -> u64 {
    list.considered - list.visited
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(12))]

    /// Over random worlds (seed, size, share of vacancies) and random
    /// requests (length, minimum, distance cap, CPI filter, congruity), the
    /// list visited best group first is the top of the full scan.
    #[test]
    fn over_random_worlds_a_list_is_the_top_of_the_full_scan(
        seed in 0u64..1_000_000,
        candidates in 300u64..1_500,
        k in 1usize..60,
        min_score in proptest::prop_oneof![proptest::strategy::Just(0.0), 0.2f64..0.7],
        max_km in proptest::prop_oneof![proptest::strategy::Just(0u32), 5u32..80],
        cpi in proptest::bool::ANY,
        hide_quota in proptest::bool::ANY,
        text_share in 0usize..4,
    ) {
        let reference = ReferenceData::embedded().unwrap();
        let config = ScoringConfig::embedded_default().unwrap();
        let generated = GeneratorConfig {
            seed,
            candidates,
            vacancies: candidates / 8 + 10,
            ..GeneratorConfig::demo()
        };
        let (state, today) = world_of(&reference, generated);
        let ctx = Context { reference: &reference, config: &config, today, congruity: None };
        let everyone = state.candidates().count() + 1;
        let vacancies: Vec<String> = state
            .vacancies()
            .filter(|v| v.is_open_on(today))
            .map(|v| v.id.clone())
            .step_by(5)
            .take(8)
            .collect();
        for (n, vacancy) in vacancies.iter().enumerate() {
            let mut text = if text_share == 0 { FixedRelevance::default() } else { relevance(&state, n * text_share) };
            let cpi_codes = if cpi {
                state.candidates().take(3).map(|c| c.profile.cpi_code.clone()).collect()
            } else {
                Vec::new()
            };
            let filters = incontra_engine::scoring::RequestFilters { cpi_codes, max_distance_km: max_km, hide_reserved_quota: hide_quota };
            let request = ListRequest { limit: k, min_score, filters: filters.clone(), ..ListRequest::default() };
            let all = ListRequest { limit: everyone, filters, count_exclusions: true, ..ListRequest::default() };
            let bounded = matching::match_candidates(&state, &ctx, vacancy, &request, &mut text).unwrap();
            let unbounded = matching::match_candidates(&state, &ctx, vacancy, &all, &mut text).unwrap();
            assert_prefix(&bounded, &unbounded, k, min_score);
        }
        let every_vacancy = state.vacancies().count() + 1;
        for (n, person) in state.candidates().step_by(61).take(8).enumerate() {
            let mut text = if text_share == 0 {
                FixedRelevance::default()
            } else {
                vacancy_relevance(&state, n, text_share + 1)
            };
            let filters = incontra_engine::scoring::RequestFilters { hide_reserved_quota: hide_quota, ..Default::default() };
            let request = ListRequest { limit: k, min_score, filters: filters.clone(), ..ListRequest::default() };
            let all = ListRequest { limit: every_vacancy, count_exclusions: true, filters, ..ListRequest::default() };
            let bounded = matching::match_vacancies(&state, &ctx, &person.id, &request, &mut text).unwrap();
            let unbounded = matching::match_vacancies(&state, &ctx, &person.id, &all, &mut text).unwrap();
            assert_prefix(&bounded, &unbounded, k, min_score);
            if hide_quota {
                // Hidden means never listed, whatever the person's category.
                for item in &unbounded.items {
                    let v = state.vacancy(&item.id).unwrap();
                    proptest::prop_assert_eq!(v.spec.reserved_quota, incontra_engine::model::ReservedQuota::None);
                }
            }
        }
    }
}

/// A list judges and scores pairs from the fold's compact rows; `Explain`
/// builds the rows of its one pair afresh. Both must agree on every pair:
/// who is eligible, and the score, which also orders the list.
#[test]
fn a_list_judges_every_pair_as_its_explanation_does() {
    with_world(|state, ctx| {
        let everyone = state.candidates().count() + 1;
        let all = ListRequest {
            limit: everyone,
            count_exclusions: true,
            ..ListRequest::default()
        };
        let vacancies: Vec<String> = state
            .vacancies()
            .filter(|v| v.is_open_on(ctx.today))
            .map(|v| v.id.clone())
            .step_by(11)
            .take(6)
            .collect();
        let mut listed = 0;
        for (n, vacancy) in vacancies.iter().enumerate() {
            let mut text = relevance(state, n);
            let list = matching::match_candidates(state, ctx, vacancy, &all, &mut text).unwrap();
            let scores: HashMap<&str, f64> = list
                .items
                .iter()
                .map(|r| (r.id.as_str(), r.score))
                .collect();
            for item in &list.items {
                let sum: f64 = item.contributions.iter().map(|c| c.contribution).sum();
                assert!(
                    (sum - item.score).abs() < 1e-9,
                    "score is not its contributions"
                );
            }
            for pair in list.items.windows(2) {
                assert!(
                    pair[0].score >= pair[1].score,
                    "list out of order: {} {} then {} {}",
                    pair[0].id,
                    pair[0].score,
                    pair[1].id,
                    pair[1].score
                );
            }
            for candidate in state.candidates() {
                let (_, evaluation) =
                    matching::explain(state, ctx, vacancy, &candidate.id, &mut text).unwrap();
                match scores.get(candidate.id.as_str()) {
                    Some(&score) => {
                        assert!(
                            evaluation.eligible,
                            "{} listed, explained ineligible",
                            candidate.id
                        );
                        assert!((score - evaluation.score).abs() < 1e-9);
                    }
                    None => assert!(
                        !evaluation.eligible,
                        "{} eligible for {vacancy} but not listed",
                        candidate.id
                    ),
                }
            }
            listed += list.items.len();
        }
        assert!(listed > 500, "only {listed} pairs listed");
    });
}

/// A list reads no employment record of a worker whose contracts are all
/// over, from a horizon the fold keeps by candidate slot: after every kind
/// of CO folded (hires, extensions, transformations, cessazioni,
/// corrections) and after a restore, it must be the record's own.
#[test]
fn the_fold_keeps_every_workers_horizon_of_their_record() {
    let reference = ReferenceData::embedded().unwrap();
    let (state, today) = world(&reference);
    let check = |state: &State| {
        let mut employed = 0;
        let mut committed_today = 0;
        for candidate in state.candidates() {
            let slot = state.candidate_slot(&candidate.id).unwrap();
            let record = state.employment_of(candidate);
            let want = record.and_then(|r| r.committed_until()).unwrap_or(i32::MIN);
            assert_eq!(state.committed_until_at(slot), want, "{}", candidate.id);
            employed += usize::from(record.is_some());
            committed_today += usize::from(want >= today);
        }
        // Otherwise the world would test nothing.
        assert!(
            employed > 500 && committed_today > 100,
            "{employed} {committed_today}"
        );
    };
    after_fold_and_restore(&state, check);
}

/// A list of vacancies trusts the fold's index of listable vacancies for
/// "open with a position left" and reads only validity from the row: the
/// index must say exactly that of every vacancy, after closings, fillings
/// by notified hires and restores.
#[test]
fn the_listable_index_is_every_vacancys_own_verdict() {
    let reference = ReferenceData::embedded().unwrap();
    let (state, _) = world(&reference);
    let check = |state: &State| {
        let (mut listed, mut not) = (0, 0);
        for vacancy in state.vacancies() {
            let slot = state.vacancy_slot(&vacancy.id).unwrap();
            assert_eq!(
                state.listable().is_listed(slot),
                vacancy.is_listable(),
                "{}",
                vacancy.id
            );
            if vacancy.is_listable() {
                listed += 1;
            } else {
                not += 1;
            }
        }
        assert!(listed > 100 && not > 100, "{listed} listable, {not} not");
    };
    after_fold_and_restore(&state, check);
}

/// The skill index a list splits its groups by holds exactly the people
/// whose current profile names one of a vacancy's skills, after profile
/// updates (which change skills) and after a restore.
#[test]
fn the_skill_index_is_every_profiles_own_skills() {
    let reference = ReferenceData::embedded().unwrap();
    let (state, _) = world(&reference);
    let check = |state: &State| {
        let (mut holders, mut others) = (0, 0);
        for vacancy in state.vacancies().step_by(5).take(60) {
            let slot = state.vacancy_slot(&vacancy.id).unwrap();
            let row = state.vacancy_row_at(slot).unwrap();
            let named: Vec<&String> = vacancy
                .spec
                .required_skills
                .iter()
                .chain(&vacancy.spec.preferred_skills)
                .collect();
            let index = state.holders_of_any(row.skill_ids());
            for candidate in state.candidates() {
                let p = &candidate.profile;
                let holds = p
                    .skills
                    .iter()
                    .chain(&p.certified_skills)
                    .any(|s| named.contains(&s));
                let slot = state.candidate_slot(&candidate.id).unwrap();
                assert_eq!(index.contains(slot), holds, "{}", candidate.id);
                if holds {
                    holders += 1;
                } else {
                    others += 1;
                }
            }
        }
        assert!(
            holders > 1_000 && others > 1_000,
            "{holders} pairs hold, {others} not"
        );
    };
    after_fold_and_restore(&state, check);
}

/// Runs `check` on the folded state, then on a copy whose derived indexes
/// were rebuilt as a restore rebuilds them.
fn after_fold_and_restore(state: &State, check: impl Fn(&State)) {
    check(state);
    let mut restored = state.clone();
    restored.rebuild_indexes();
    check(&restored);
}

/// The eligibility sets a preselection list skips people by hold everyone
/// the hard filters they stand for pass (and, for the exact ones, no one
/// else), and each bound a candidate's sketch gives is at least the
/// similarity it bounds, after the fold and after a restore.
#[test]
fn eligibility_sets_and_sketch_bounds_never_exclude_a_pair_that_passes() {
    use incontra_engine::features::{
        experience_bound, experience_similarity, licence_bound, licence_similarity, shared_levels,
        skill_bound, skill_similarity,
    };
    use incontra_engine::scoring::{contract_accepted, hours_fit, quota_fits};
    let reference = ReferenceData::embedded().unwrap();
    let config = ScoringConfig::embedded_default().unwrap();
    let (state, _) = world(&reference);
    let check = |state: &State| {
        let (mut passing, mut skipped, mut tighter) = (0, 0, 0);
        for vacancy in state.vacancies().step_by(5).take(60) {
            let v = state
                .vacancy_row_at(state.vacancy_slot(&vacancy.id).unwrap())
                .unwrap();
            let eligible = state.eligible_for(v);
            for candidate in state.candidates() {
                let slot = state.candidate_slot(&candidate.id).unwrap();
                let row = state.row_at(slot).unwrap();
                let sketch = state.sketch_at(slot).unwrap();
                assert_eq!(sketch, &row.sketch);
                let quota = quota_fits(v.quota, state.protected_category(&candidate.id));
                let exact = sketch.listed() && contract_accepted(v, sketch) && quota;
                let passes = exact && hours_fit(v, sketch);
                let kept = eligible.contains(slot as usize);
                assert!(kept || !passes, "{} skipped", candidate.id);
                assert!(!kept || exact, "{} kept", candidate.id);
                if passes {
                    passing += 1;
                } else if !kept {
                    skipped += 1;
                }
                let depth = shared_levels(v, row);
                let bounds = [
                    (
                        skill_bound(&config, v, sketch),
                        skill_similarity(&config, v, row),
                    ),
                    (
                        experience_bound(&config, v, sketch, depth),
                        experience_similarity(&config, v, row),
                    ),
                    (licence_bound(v, sketch), licence_similarity(v, row)),
                ];
                for (bound, own) in bounds {
                    assert!(bound >= own, "{}: {bound} < {own}", candidate.id);
                    if bound < 1.0 {
                        tighter += 1;
                    }
                }
            }
        }
        // The sets and the bounds do work: many pairs are skipped, and the
        // bounds are often below full credit.
        assert!(
            passing > 1_000 && skipped > 1_000 && tighter > 10_000,
            "{passing} pass, {skipped} skipped, {tighter} bounds below 1"
        );
    };
    after_fold_and_restore(&state, check);
}

/// The vacancy sets a list of vacancies skips by hold every vacancy whose
/// contract, hours and reserved quota the person's filters pass, and no
/// vacancy whose contract or quota they refuse, after the fold and a
/// restore.
#[test]
fn vacancy_eligibility_never_excludes_a_vacancy_that_passes() {
    use incontra_engine::scoring::{contract_accepted, hours_fit, quota_fits};
    let reference = ReferenceData::embedded().unwrap();
    let (state, _) = world(&reference);
    let check = |state: &State| {
        let (mut passing, mut skipped) = (0, 0);
        for candidate in state.candidates().step_by(40).take(100) {
            let slot = state.candidate_slot(&candidate.id).unwrap();
            let sketch = state.sketch_at(slot).unwrap();
            let protected = state.protected_category(&candidate.id);
            let eligible = state.vacancies_eligible_for(sketch, protected);
            for vacancy in state.vacancies() {
                let v_slot = state.vacancy_slot(&vacancy.id).unwrap();
                let v = state.vacancy_row_at(v_slot).unwrap();
                let exact = contract_accepted(v, sketch) && quota_fits(v.quota, protected);
                let passes = exact && hours_fit(v, sketch);
                let kept = eligible.contains(v_slot as usize);
                assert!(
                    kept || !passes,
                    "{} skipped for {}",
                    vacancy.id,
                    candidate.id
                );
                assert!(!kept || exact, "{} kept for {}", vacancy.id, candidate.id);
                if passes {
                    passing += 1;
                } else if !kept {
                    skipped += 1;
                }
            }
        }
        assert!(
            passing > 1_000 && skipped > 1_000,
            "{passing} pass, {skipped} skipped"
        );
    };
    after_fold_and_restore(&state, check);
}
