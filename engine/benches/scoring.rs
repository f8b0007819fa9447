//! The scoring core alone, in memory, no gRPC and no text index: one
//! preselection list (`match_candidates`, top 50) over generated worlds of
//! growing size, visited best group first and, as the baseline of the same
//! run, by the full scan of everyone within reach that exclusion counts
//! need (the read path before the profession index); one list of vacancies
//! for a person, and the cost of judging one pair (hard filters,
//! similarities).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use incontra_datagen::{Generator, GeneratorConfig};
use incontra_engine::codice_fiscale::Pseudonymiser;
use incontra_engine::config::ScoringConfig;
use incontra_engine::matching::{self, ListRequest};
use incontra_engine::reference::ReferenceData;
use incontra_engine::scoring::{CandidateFacts, Context, RequestFilters};
use incontra_engine::state::State;
use incontra_engine::text::FixedRelevance;
use incontra_indexer::decode::Decoder;

fn world(reference: &ReferenceData, candidates: u64) -> (State, i32) {
    let config = GeneratorConfig::demo().with_candidates(candidates);
    let today = config.today;
    let generator = Generator::new(reference, config);
    let pseudonymiser = Pseudonymiser::new(b"criterion bench key, not a secret");
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

/// The open vacancy with the most candidates in its comune: the hardest
/// list of the world (a Torino vacancy, in practice).
fn busiest_vacancy(state: &State, today: i32) -> String {
    let mut best = None;
    for v in state.vacancies().filter(|v| v.is_open_on(today)) {
        let n = state.candidate_count_in(&v.spec.workplace_comune);
        if best
            .as_ref()
            .is_none_or(|(m, id): &(usize, String)| n > *m || (n == *m && v.id < *id))
        {
            best = Some((n, v.id.clone()));
        }
    }
    best.map(|(_, id)| id).unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let reference = ReferenceData::embedded().expect("reference data");
    let config = ScoringConfig::embedded_default().expect("scoring config");
    let request = ListRequest {
        limit: 50,
        ..ListRequest::default()
    };
    let mut group = c.benchmark_group("match_candidates");
    group.sample_size(20);
    let mut smallest = None;
    let full_scan = ListRequest {
        count_exclusions: true,
        ..request.clone()
    };
    for candidates in [10_000u64, 50_000, 200_000] {
        let (state, today) = world(&reference, candidates);
        let ctx = Context {
            reference: &reference,
            config: &config,
            today,
            congruity: None,
        };
        let vacancy = busiest_vacancy(&state, today);
        let considered = matching::match_candidates(
            &state,
            &ctx,
            &vacancy,
            &request,
            &mut FixedRelevance::default(),
        )
        .map(|l| l.considered)
        .unwrap_or(0);
        group.throughput(Throughput::Elements(considered));
        for (name, request) in [("best_first", &request), ("full_scan", &full_scan)] {
            group.bench_with_input(
                BenchmarkId::new(name, candidates),
                &vacancy,
                |b, vacancy| {
                    b.iter(|| {
                        matching::match_candidates(
                            &state,
                            &ctx,
                            black_box(vacancy),
                            request,
                            // No text: the bench times the matching.
                            &mut FixedRelevance::default(),
                        )
                    })
                },
            );
        }
        if smallest.is_none() {
            smallest = Some((state, today, vacancy));
        }
    }
    group.finish();
    if let Some((state, today, vacancy)) = smallest {
        let ctx = Context {
            reference: &reference,
            config: &config,
            today,
            congruity: None,
        };
        let person = state
            .candidates()
            .filter(|c| !c.withdrawn && c.available)
            .map(|c| c.id.clone())
            .min()
            .unwrap_or_default();
        pair(c, &state, &ctx, &vacancy, &person, &request);
    }
}

/// One pair, and the reverse list of one person, in the 10 k world.
fn pair(
    c: &mut Criterion,
    state: &State,
    ctx: &Context<'_>,
    vacancy_id: &str,
    candidate_id: &str,
    request: &ListRequest,
) {
    let (Some(vacancy), Some(candidate)) =
        (state.vacancy(vacancy_id), state.candidate(candidate_id))
    else {
        return;
    };
    let facts = CandidateFacts {
        employment: state.employment_of(candidate),
        protected: state.protected_category(&candidate.id),
    };
    let filters = RequestFilters::default();
    c.bench_function("pair/hard_filters", |b| {
        b.iter(|| {
            ctx.hard_filters(
                black_box(vacancy),
                black_box(candidate),
                facts,
                &filters,
                false,
            )
        })
    });
    c.bench_function("pair/similarities", |b| {
        b.iter(|| ctx.similarities(black_box(vacancy), black_box(candidate), 12.5, 0.5))
    });
    let full_scan = ListRequest {
        count_exclusions: true,
        ..request.clone()
    };
    for (name, request) in [("best_first", request), ("full_scan", &full_scan)] {
        c.bench_function(&format!("match_vacancies/{name}/10000"), |b| {
            b.iter(|| {
                matching::match_vacancies(
                    state,
                    ctx,
                    black_box(candidate_id),
                    request,
                    &mut FixedRelevance::default(),
                )
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
