//! Ranked lists in both directions: candidates for a vacancy (the
//! preselection list) and vacancies for a candidate.
//!
//! Only comuni within the largest reachable distance are visited, so a list
//! costs in proportion to the local population, not the whole register.
//! Sentences are built only for the returned top of the list.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use crate::congruity::Congruity;
use crate::model::{Candidate, Vacancy};
use crate::scoring::{CandidateFacts, Context, Contribution, HardFilter, RequestFilters};
use crate::state::State;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MatchError {
    #[error("unknown vacancy {0}")]
    UnknownVacancy(String),
    #[error("unknown candidate {0}")]
    UnknownCandidate(String),
    #[error("comune {0} is not in the reference data")]
    UnknownComune(String),
}

#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub limit: usize,
    pub filters: RequestFilters,
    pub min_score: f64,
    /// Keep only pairs that are an offerta congrua for the candidate (the
    /// others are counted under `offerta_congrua`). Needs congruity rules in
    /// the context; without them nothing passes.
    pub only_congrua: bool,
}

/// Exclusion key of pairs that are not an offerta congrua.
pub const NOT_CONGRUA: &str = "offerta_congrua";

#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Candidate id or vacancy id, depending on the direction.
    pub id: String,
    pub score: f64,
    pub distance_km: f64,
    pub contributions: Vec<Contribution>,
    /// The offerta congrua verdict of the pair, when rules are loaded.
    pub congruity: Option<Congruity>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RankedList {
    pub items: Vec<Ranked>,
    /// Pairs within reach, and how many each filter excluded (the first
    /// failing one; residents of a comune beyond all their limits are
    /// counted under distance without being visited).
    pub considered: u64,
    pub excluded: BTreeMap<&'static str, u64>,
    /// Eligible pairs left unscored because their score bound showed they
    /// could not be kept (a measure of the work saved, not an exclusion).
    pub bounded: u64,
}

/// Heap entry ordered so the heap's top is the worst kept item.
struct Kept {
    score: f64,
    id: String,
    distance_km: f64,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    /// Better = higher score, then smaller id (deterministic ties).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.id.cmp(&other.id))
    }
}

struct TopK {
    k: usize,
    heap: BinaryHeap<Kept>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }
    /// The score a pair must beat to be kept, once the list is full.
    fn worst(&self) -> Option<f64> {
        if self.heap.len() < self.k {
            return None;
        }
        self.heap.peek().map(|w| w.score)
    }

    fn offer(&mut self, score: f64, id: &str, distance_km: f64) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() == self.k {
            if let Some(worst) = self.heap.peek() {
                let better =
                    score > worst.score || (score == worst.score && id < worst.id.as_str());
                if !better {
                    return;
                }
            }
        }
        self.heap.push(Kept {
            score,
            id: id.to_owned(),
            distance_km,
        });
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }
    /// Best first.
    fn into_sorted(self) -> Vec<Kept> {
        let mut v = self.heap.into_vec();
        v.sort();
        v
    }
}

fn facts<'s>(state: &'s State, candidate: &Candidate) -> CandidateFacts<'s> {
    CandidateFacts {
        employment: state.employment_of(candidate),
        protected: state.protected_category(&candidate.id),
    }
}

/// Comuni whose centre lies within `km` of `origin`, with their road
/// distance, nearest first: computed once per list, then shared by everyone
/// living there. Nearest first fills the top with high scores early, so
/// the score bound skips more of the farther pairs.
fn comuni_within<'r>(ctx: &'r Context<'_>, origin: &str, km: f64) -> Vec<(&'r str, f64)> {
    let mut within: Vec<(&'r str, f64)> = ctx
        .reference
        .comuni()
        .iter()
        .filter_map(|c| {
            let d = ctx.road_km(origin, &c.istat_code)?;
            (d <= km).then_some((c.istat_code.as_str(), d))
        })
        .collect();
    within.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    within
}

/// What both directions share: each pair within reach is filtered and
/// scored without sentences, the best are kept, and only those are
/// explained at the end.
struct Lister<'a, 'c> {
    ctx: &'a Context<'c>,
    request: &'a ListRequest,
    text: &'a HashMap<String, f64>,
    list: RankedList,
    top: TopK,
}

impl<'a, 'c> Lister<'a, 'c> {
    fn new(ctx: &'a Context<'c>, request: &'a ListRequest, text: &'a HashMap<String, f64>) -> Self {
        Self {
            ctx,
            request,
            text,
            list: RankedList::default(),
            top: TopK::new(request.limit),
        }
    }

    fn relevance(&self, id: &str) -> f64 {
        self.text.get(id).copied().unwrap_or(0.0)
    }

    /// Filters and scores one pair; `id` is the side being ranked.
    fn consider(
        &mut self,
        id: &str,
        vacancy: &Vacancy,
        candidate: &Candidate,
        facts: CandidateFacts<'_>,
        km: f64,
    ) {
        self.list.considered += 1;
        let (verdicts, _) = self.ctx.hard_filters_at(
            vacancy,
            candidate,
            facts,
            &self.request.filters,
            Some(km),
            false,
        );
        if let Some(failed) = verdicts.iter().find(|f| !f.passed) {
            *self.list.excluded.entry(failed.filter.name()).or_default() += 1;
            return;
        }
        if self.request.only_congrua
            && !self
                .ctx
                .congruity(vacancy, candidate, facts, km)
                .is_some_and(|c| c.congrua)
        {
            *self.list.excluded.entry(NOT_CONGRUA).or_default() += 1;
            return;
        }
        // A pair whose bound is below both the minimum and the worst kept
        // score is left there: it could not be kept (equal would tie and
        // might win on id, so only strictly below is skipped).
        let floor = match self.top.worst() {
            Some(worst) => worst.max(self.request.min_score),
            None if self.top.k == 0 => return,
            None => self.request.min_score,
        };
        let mut sims = self
            .ctx
            .cheap_similarities(vacancy, candidate, km, self.relevance(id));
        let boost = self.ctx.boost_total(candidate);
        if sims.score(self.ctx.config) + boost < floor {
            self.list.bounded += 1;
            return;
        }
        self.ctx
            .complete_similarities(&mut sims, vacancy, candidate);
        let score = sims.score(self.ctx.config) + boost;
        if score >= self.request.min_score {
            self.top.offer(score, id, km);
        }
    }

    /// Counts `n` pairs excluded by `filter` without looking at them.
    fn exclude_unvisited(&mut self, filter: HardFilter, n: u64) {
        if n > 0 {
            self.list.considered += n;
            *self.list.excluded.entry(filter.name()).or_default() += n;
        }
    }

    /// Explains the kept pairs, best first; `pair` finds both sides by the
    /// ranked id.
    fn finish<'s>(
        mut self,
        pair: impl Fn(&str) -> Option<(&'s Vacancy, &'s Candidate, CandidateFacts<'s>)>,
    ) -> RankedList {
        let top = std::mem::replace(&mut self.top, TopK::new(0));
        for kept in top.into_sorted() {
            let Some((vacancy, candidate, facts)) = pair(&kept.id) else {
                continue;
            };
            let sims = self.ctx.similarities(
                vacancy,
                candidate,
                kept.distance_km,
                self.relevance(&kept.id),
            );
            let mut contributions =
                self.ctx
                    .contributions(vacancy, candidate, kept.distance_km, &sims);
            contributions.extend(self.ctx.boost_contributions(candidate));
            self.list.items.push(Ranked {
                score: contributions.iter().map(|c| c.contribution).sum(),
                congruity: self
                    .ctx
                    .congruity(vacancy, candidate, facts, kept.distance_km),
                id: kept.id,
                distance_km: kept.distance_km,
                contributions,
            });
        }
        self.list
    }
}

/// The preselection list for a vacancy. `text` gives each candidate's text
/// relevance in [0,1] (absent = 0).
pub fn match_candidates(
    state: &State,
    ctx: &Context<'_>,
    vacancy_id: &str,
    request: &ListRequest,
    text: &HashMap<String, f64>,
) -> Result<RankedList, MatchError> {
    let vacancy = state
        .vacancy(vacancy_id)
        .ok_or_else(|| MatchError::UnknownVacancy(vacancy_id.to_owned()))?;
    let origin = &vacancy.spec.workplace_comune;
    if ctx.reference.comune(origin).is_none() {
        return Err(MatchError::UnknownComune(origin.clone()));
    }
    let mut reach = f64::from(ctx.config.distance.max_search_km);
    if request.filters.max_distance_km > 0 {
        reach = reach.min(f64::from(request.filters.max_distance_km));
    }
    let mut lister = Lister::new(ctx, request, text);
    let default_km = ctx.config.distance.default_max_km;
    for (comune, km) in comuni_within(ctx, origin, reach) {
        // Nobody here could travel this far: count them all as excluded by
        // distance without visiting them (one who would also fail an
        // earlier filter is then counted under distance instead).
        if km > f64::from(state.max_mobility_km_in(comune).max(default_km)) {
            lister.exclude_unvisited(
                HardFilter::Distance,
                state.candidate_count_in(comune) as u64,
            );
            continue;
        }
        for (candidate, employment, protected) in state.residents_of(comune) {
            let facts = CandidateFacts {
                employment,
                protected,
            };
            lister.consider(&candidate.id, vacancy, candidate, facts, km);
        }
    }
    Ok(lister.finish(|id| {
        let candidate = state.candidate(id)?;
        Some((vacancy, candidate, facts(state, candidate)))
    }))
}

/// Vacancies for a candidate, best first. `text` gives each vacancy's text
/// relevance to the candidate's profile in [0,1].
pub fn match_vacancies(
    state: &State,
    ctx: &Context<'_>,
    candidate_id: &str,
    request: &ListRequest,
    text: &HashMap<String, f64>,
) -> Result<RankedList, MatchError> {
    let candidate = state
        .candidate(candidate_id)
        .ok_or_else(|| MatchError::UnknownCandidate(candidate_id.to_owned()))?;
    let origin = &candidate.profile.domicile_comune;
    if ctx.reference.comune(origin).is_none() {
        return Err(MatchError::UnknownComune(origin.clone()));
    }
    let reach = f64::from(ctx.distance_limit(candidate, &request.filters));
    let facts = facts(state, candidate);
    let mut lister = Lister::new(ctx, request, text);
    for (comune, km) in comuni_within(ctx, origin, reach) {
        for id in state.vacancy_ids_in(comune) {
            match state.vacancy(id) {
                Some(vacancy) if vacancy.is_open_on(ctx.today) => {
                    lister.consider(id, vacancy, candidate, facts, km);
                }
                _ => {}
            }
        }
    }
    Ok(lister.finish(|id| Some((state.vacancy(id)?, candidate, facts))))
}

/// Both sides of a pair, for `Explain`.
pub fn explain<'s>(
    state: &'s State,
    ctx: &Context<'_>,
    vacancy_id: &str,
    candidate_id: &str,
    text_relevance: f64,
) -> Result<(&'s Vacancy, crate::scoring::Evaluation), MatchError> {
    let vacancy = state
        .vacancy(vacancy_id)
        .ok_or_else(|| MatchError::UnknownVacancy(vacancy_id.to_owned()))?;
    let candidate = state
        .candidate(candidate_id)
        .ok_or_else(|| MatchError::UnknownCandidate(candidate_id.to_owned()))?;
    Ok((
        vacancy,
        ctx.evaluate(vacancy, candidate, facts(state, candidate), text_relevance),
    ))
}

/// Stable order of filter names in responses.
pub fn filter_order(name: &str) -> usize {
    [
        HardFilter::VacancyOpen,
        HardFilter::Availability,
        HardFilter::Location,
        HardFilter::Distance,
        HardFilter::Contract,
        HardFilter::Hours,
        HardFilter::ReservedQuota,
        HardFilter::Cpi,
    ]
    .iter()
    .position(|f| f.name() == name)
    .unwrap_or(usize::MAX)
}
