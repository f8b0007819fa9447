//! Ranked lists in both directions: candidates for a vacancy (the
//! preselection list) and vacancies for a candidate.
//!
//! A preselection list visits candidates in groups, best bound first: the
//! residents of one comune who share exactly `d` CP2011 levels with the
//! vacancy (from the fold's [`ProfessionIndex`](crate::profession_index)).
//! A group's bound is what its best conceivable member could score there;
//! once the list is full, the first group whose bound cannot beat the
//! worst kept score ends the visit, since every later group's bound is
//! lower still (the MaxScore idea of Lucene and Vespa). Inside a group, each
//! pair is filtered, then bounded by its cheap similarities with text
//! relevance at its ceiling; the pairs that could still be kept get their
//! text relevance from the index in batches ([`TextRelevance`]), then are
//! scored. No list reads the text of people it does not score.
//! The list is exactly the one a scan of everyone within reach gives (the
//! full scan is kept: it is what a request for exclusion counts runs, and
//! what the tests compare against). Sentences are built only for the
//! returned rows.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use foldhash::HashMap;
use roaring::RoaringBitmap;

use crate::congruity::Congruity;
use crate::features::{self, CandidateRow, CandidateSketch, VacancyRow};
use crate::model::{valid_on, Candidate, Day, ProtectedCategory, ReservedQuota, Vacancy};
use crate::profession_index::{band_upper_km, prefixes};
use crate::scoring::{
    contract_accepted, hours_fit, quota_fits, segments, CandidateFacts, Context, Contribution,
    Criterion, HardFilter, RequestFilters, Similarities,
};
use crate::state::{Link, State};
use crate::text::{TextError, TextRelevance};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MatchError {
    #[error("unknown vacancy {0}")]
    UnknownVacancy(String),
    #[error("unknown candidate {0}")]
    UnknownCandidate(String),
    #[error("comune {0} is not in the reference data")]
    UnknownComune(String),
    #[error(transparent)]
    Text(#[from] TextError),
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
    /// Count, for every filter, the pairs it excluded. Exact counts need
    /// every pair within reach judged, so a preselection list asking for
    /// them scans everyone within reach (the same list, slower); without
    /// them `excluded` is empty and `considered` is still exact.
    pub count_exclusions: bool,
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
    /// Pairs within reach, always exact.
    pub considered: u64,
    /// How many pairs each filter excluded (the first failing one;
    /// residents of a comune beyond all their limits are counted under
    /// distance without being visited). Filled only when the request asks
    /// for exclusion counts, or for lists of vacancies.
    pub excluded: BTreeMap<&'static str, u64>,
    /// Pairs whose hard filters were judged: the work a list did.
    pub visited: u64,
    /// Eligible visited pairs left unscored because their score bound
    /// showed they could not be kept (a measure of the work saved, not an
    /// exclusion).
    pub bounded: u64,
    /// Visited pairs scored in full, text relevance included.
    pub scored: u64,
}

/// Heap entry ordered so the heap's top is the worst kept item.
struct Kept {
    score: f64,
    id: String,
    /// The ranked side's slot, to explain the pair from the fold's rows.
    slot: u32,
    distance_km: f64,
    /// The pair's similarities, text included: what its explanation
    /// shows.
    sims: Similarities,
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

    fn offer(&mut self, score: f64, id: &str, slot: u32, distance_km: f64, sims: Similarities) {
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
            slot,
            distance_km,
            sims,
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

/// The best `k` of a stream of scores, for their k-th.
struct LowerBounds {
    k: usize,
    /// Lowest on top.
    heap: BinaryHeap<std::cmp::Reverse<Score>>,
}

/// A score ordered by `total_cmp`.
#[derive(Clone, Copy, PartialEq)]
struct Score(f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl LowerBounds {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, score: f64) {
        if self.k == 0 {
            return;
        }
        self.heap.push(std::cmp::Reverse(Score(score)));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// The k-th best score offered, once `k` have been.
    fn kth(&self) -> Option<f64> {
        (self.heap.len() == self.k)
            .then(|| self.heap.peek().map(|s| s.0 .0))
            .flatten()
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
    let Some(from) = ctx.reference.comune(origin) else {
        return Vec::new();
    };
    let mut within: Vec<(&'r str, f64)> = ctx
        .reference
        .comuni()
        .iter()
        .filter_map(|c| {
            let d = ctx.road_km_between(from, c);
            (d <= km).then_some((c.istat_code.as_str(), d))
        })
        .collect();
    within.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    within
}

/// One pair as a list judges it: both sides with their compact rows and
/// the road distance. It holds references only: what it points at is read
/// when a check needs it (a list visits tens of thousands of pairs, and
/// each memory line first read costs more than the check).
#[derive(Clone, Copy)]
struct Pair<'p> {
    state: &'p State,
    vacancy: &'p Vacancy,
    vrow: &'p VacancyRow,
    candidate: &'p Candidate,
    /// What every visited pair reads of the candidate; `crow` only for
    /// pairs that could be kept.
    sketch: &'p CandidateSketch,
    crow: &'p CandidateRow,
    link: &'p Link,
    /// The candidate's L.68/99 category as the list may read it.
    protected: ProtectedCategory,
    /// Whether the vacancy is open on the day judged.
    open: bool,
    km: f64,
}

impl<'s> Pair<'s> {
    /// The pair of `vacancy` (open on the day judged or not, as `open`
    /// says) with the candidate at `slot`.
    fn with_candidate(
        state: &'s State,
        (vacancy, vrow, open): (&'s Vacancy, &'s VacancyRow, bool),
        slot: u32,
        km: f64,
    ) -> Option<Pair<'s>> {
        let link = state.link_at(slot)?;
        Some(Pair {
            state,
            vacancy,
            vrow,
            candidate: state.candidate_at_slot(slot)?,
            sketch: state.sketch_at(slot)?,
            crow: state.row_at(slot)?,
            link,
            protected: link.protected(),
            open,
            km,
        })
    }

    /// The pair of the listable vacancy at `slot` (from the fold's index of
    /// listable vacancies, so open but for its validity) with `person`,
    /// judged on `today`. The vacancy itself is not read: a list of
    /// vacancies visits thousands, each a cache miss.
    fn with_vacancy(
        state: &'s State,
        slot: u32,
        person: &Person<'s>,
        km: f64,
        today: Day,
    ) -> Option<Pair<'s>> {
        let vrow = state.vacancy_row_at(slot)?;
        Some(Pair {
            state,
            vacancy: state.vacancy_at(slot)?,
            vrow,
            candidate: person.candidate,
            sketch: &person.row.sketch,
            crow: person.row,
            link: person.link,
            protected: person.protected,
            open: valid_on(vrow.valid_until, today),
            km,
        })
    }

    fn candidate_id(&self) -> &'s str {
        &self.candidate.id
    }

    fn vacancy_id(&self) -> &'s str {
        &self.vacancy.id
    }

    fn facts(&self) -> CandidateFacts<'s> {
        CandidateFacts {
            employment: self.state.employment_of_link(self.link),
            protected: self.protected,
        }
    }

    /// Whether the vacancy's reserved quota admits the candidate, reading
    /// their category only when the vacancy has a quota (most have none).
    fn quota_fits(&self) -> bool {
        self.vrow.quota == ReservedQuota::None || quota_fits(self.vrow.quota, self.protected)
    }

    /// [`Context::is_available`] of the pair, without reading the
    /// employment record of a worker whose every contract is over by the
    /// day judged (most of the register): such a worker is free.
    fn is_available(&self, ctx: &Context<'_>) -> bool {
        let listed = self.sketch.listed();
        if self.link.committed_until() < ctx.today {
            return listed;
        }
        ctx.is_available(self.vrow.hours, listed, self.facts().employment)
    }
}

/// The one candidate of a list of vacancies, with what every pair reads.
#[derive(Clone, Copy)]
struct Person<'s> {
    candidate: &'s Candidate,
    row: &'s CandidateRow,
    link: &'s Link,
    /// Their L.68/99 category as the list may read it
    /// ([`RequestFilters::hide_reserved_quota`]).
    protected: ProtectedCategory,
}

/// Pairs waiting for their text relevance are scored once this many have
/// gathered: each batch reads every query term's postings once per
/// segment, so batches amortise the reading, and a smaller one raises the
/// list's floor sooner.
const TEXT_BATCH: usize = 512;

/// Before a group is visited, the pairs waiting are scored if there are at
/// least this many: their scores may raise the floor above the group's
/// bound and end the visit.
const TEXT_BATCH_BEFORE_GROUP: usize = 64;

/// A pair whose score, with text at its ceiling, could reach the list: it
/// waits for its text relevance.
struct Pending<'s> {
    /// The ranked side's slot.
    slot: u32,
    pair: Pair<'s>,
    /// Its similarities, text at its ceiling.
    sims: Similarities,
    boost: f64,
}

/// What both directions share: each pair within reach is filtered and
/// scored without sentences, the best are kept, and only those are
/// explained at the end.
struct Lister<'a, 'c, 's> {
    ctx: &'a Context<'c>,
    request: &'a ListRequest,
    /// The id of the side being ranked, read only for the pairs offered.
    id_of: fn(&Pair<'s>) -> &'s str,
    text: &'a mut dyn TextRelevance,
    /// The text relevance no pair can exceed: what bounds assume.
    ceiling: f64,
    pending: Vec<Pending<'s>>,
    /// The scores the waiting pairs reach without text, a lower bound of
    /// each: their k-th best is a floor before the pairs are scored.
    lower: LowerBounds,
    /// Reused buffers of a batch's slots and relevance.
    slots: Vec<u32>,
    relevance: Vec<f64>,
    list: RankedList,
    top: TopK,
    /// Whether exclusions are counted.
    count: bool,
    /// The request's CPI codes in the rows' vocabulary.
    cpi: Vec<u32>,
}

impl<'a, 'c, 's> Lister<'a, 'c, 's> {
    fn new(
        ctx: &'a Context<'c>,
        state: &State,
        request: &'a ListRequest,
        id_of: fn(&Pair<'s>) -> &'s str,
        text: &'a mut dyn TextRelevance,
        count: bool,
    ) -> Self {
        Self {
            ctx,
            request,
            id_of,
            ceiling: text.ceiling().clamp(0.0, 1.0),
            text,
            pending: Vec::with_capacity(TEXT_BATCH),
            lower: LowerBounds::new(request.limit),
            slots: Vec::with_capacity(TEXT_BATCH),
            relevance: Vec::with_capacity(TEXT_BATCH),
            list: RankedList::default(),
            top: TopK::new(request.limit),
            count,
            cpi: request
                .filters
                .cpi_codes
                .iter()
                .map(|c| state.vocabulary().word(c))
                .collect(),
        }
    }

    /// The first hard filter the pair fails, in the order of
    /// [`Context::hard_filters_at`] (what the counts are kept by).
    fn first_failing(&self, p: &Pair<'_>) -> Option<HardFilter> {
        let ctx = self.ctx;
        let (v, c) = (p.vrow, p.sketch);
        if !p.open {
            Some(HardFilter::VacancyOpen)
        } else if !p.is_available(ctx) {
            Some(HardFilter::Availability)
        } else if p.km > f64::from(ctx.limit_km(c.max_km, &self.request.filters)) {
            Some(HardFilter::Distance)
        } else if !contract_accepted(v, c) {
            Some(HardFilter::Contract)
        } else if !hours_fit(v, c) {
            Some(HardFilter::Hours)
        } else if !p.quota_fits() {
            Some(HardFilter::ReservedQuota)
        } else if !self.cpi.is_empty() && !self.cpi.contains(&c.cpi) {
            Some(HardFilter::Cpi)
        } else {
            None
        }
    }

    /// The hard filters that read only the rows: every one but
    /// availability, which reads the employment record and so is judged
    /// last, for the pairs that could still be kept.
    fn passes_row_filters(&self, p: &Pair<'_>) -> bool {
        let (v, c) = (p.vrow, p.sketch);
        c.listed()
            && p.open
            && p.km <= f64::from(self.ctx.limit_km(c.max_km, &self.request.filters))
            && contract_accepted(v, c)
            && hours_fit(v, c)
            && p.quota_fits()
            && (self.cpi.is_empty() || self.cpi.contains(&c.cpi))
    }

    fn is_congrua(&self, p: &Pair<'_>) -> bool {
        self.ctx
            .congruity(p.vacancy, p.candidate, p.facts(), p.km)
            .is_some_and(|c| c.congrua)
    }

    fn exclude(&mut self, name: &'static str) {
        if self.count {
            *self.list.excluded.entry(name).or_default() += 1;
        }
    }

    /// The score a pair or group must reach to be kept: the worst kept
    /// score once the list is full, or the k-th best score the pairs
    /// waiting for their text are sure to reach, whichever is higher, and
    /// the minimum; `None` when nothing can be kept at all.
    fn floor(&self) -> Option<f64> {
        if self.top.k == 0 {
            return None;
        }
        let min = self.request.min_score;
        Some(
            min.max(self.top.worst().unwrap_or(min))
                .max(self.lower.kth().unwrap_or(min)),
        )
    }

    /// Whether a pair or group bounded by `bound` could still be kept
    /// (equal would tie and might win on id, so only strictly below is
    /// out).
    fn could_reach(&self, bound: f64) -> bool {
        self.floor().is_some_and(|floor| bound >= floor)
    }

    /// Filters and bounds one pair; `slot` is the ranked side's. A pair
    /// that could still be kept waits for its text relevance
    /// ([`Lister::score_pending`]).
    ///
    /// Counting exclusions, the filters run in their order and the first
    /// failing one is counted. Otherwise order cannot change what is kept,
    /// so the costly checks (the employment record, offerta congrua) wait
    /// until the pair's bound shows it could be kept.
    ///
    /// `depth` is the pair's [`features::shared_levels`] when the caller
    /// knows it: a group's members share exactly its depth, and not
    /// reading the professions of a pair the bound leaves out spares a
    /// cache miss on most of them. `skills` is a ceiling of the pair's
    /// skills similarity: 0 for a group holding none of the vacancy's
    /// skills, 1 otherwise.
    fn consider(
        &mut self,
        slot: u32,
        p: Pair<'s>,
        depth: Option<usize>,
        skills: f64,
    ) -> Result<(), MatchError> {
        self.list.visited += 1;
        if self.count {
            if let Some(failed) = self.first_failing(&p) {
                self.exclude(failed.name());
                return Ok(());
            }
            if self.request.only_congrua && !self.is_congrua(&p) {
                self.exclude(NOT_CONGRUA);
                return Ok(());
            }
        } else if !self.passes_row_filters(&p) {
            return Ok(());
        }
        let ctx = self.ctx;
        let depth = depth.unwrap_or_else(|| features::shared_levels(p.vrow, p.crow));
        let mut sims = ctx.cheap_similarities(p.vrow, p.sketch, depth, p.km, self.ceiling, skills);
        let boost = ctx.boost_total(p.sketch);
        if !self.could_reach(sims.score(ctx.config) + boost) {
            self.list.bounded += 1;
            return Ok(());
        }
        if !self.count {
            if !p.is_available(ctx) {
                return Ok(());
            }
            if self.request.only_congrua && !self.is_congrua(&p) {
                return Ok(());
            }
        }
        // Everything but text is now the pair's own: only a pair within
        // text's reach of the floor needs its text relevance.
        ctx.complete_similarities(&mut sims, p.vrow, p.crow);
        if !self.could_reach(sims.score(ctx.config) + boost) {
            self.list.bounded += 1;
            return Ok(());
        }
        let mut without_text = sims;
        without_text.0[Criterion::Text as usize] = 0.0;
        self.lower.offer(without_text.score(ctx.config) + boost);
        self.pending.push(Pending {
            slot,
            pair: p,
            sims,
            boost,
        });
        if self.pending.len() >= TEXT_BATCH {
            self.score_pending()?;
        }
        Ok(())
    }

    /// Asks the text relevance of the pairs waiting and offers them to the
    /// list with it.
    fn score_pending(&mut self) -> Result<(), MatchError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.list.scored += self.pending.len() as u64;
        self.slots.clear();
        self.slots.extend(self.pending.iter().map(|p| p.slot));
        self.text.relevance_of(&self.slots, &mut self.relevance)?;
        let ctx = self.ctx;
        for (w, &text) in self.pending.iter_mut().zip(&self.relevance) {
            let text = text.clamp(0.0, self.ceiling);
            w.sims.0[Criterion::Text as usize] = text;
            let score = w.sims.score(ctx.config) + w.boost;
            if score >= self.request.min_score {
                self.top
                    .offer(score, (self.id_of)(&w.pair), w.slot, w.pair.km, w.sims);
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Before a group bounded by `bound` is visited: scores the pairs
    /// waiting if enough are, then says whether the group could still
    /// reach the list.
    fn visit_group(&mut self, bound: f64) -> Result<bool, MatchError> {
        if self.pending.len() >= TEXT_BATCH_BEFORE_GROUP && self.could_reach(bound) {
            self.score_pending()?;
        }
        Ok(self.could_reach(bound))
    }

    /// Counts `n` pairs excluded by `filter` without looking at them.
    fn exclude_unvisited(&mut self, filter: HardFilter, n: u64) {
        if n > 0 && self.count {
            *self.list.excluded.entry(filter.name()).or_default() += n;
        }
    }

    /// Scores the pairs still waiting, then explains the kept pairs, best
    /// first, from the similarities they were ranked by and the fold's
    /// rows; `pair` finds both sides by the ranked side's slot.
    fn finish<'p>(
        mut self,
        pair: impl Fn(u32) -> Option<Sides<'p>>,
    ) -> Result<RankedList, MatchError> {
        self.score_pending()?;
        let top = std::mem::replace(&mut self.top, TopK::new(0));
        for kept in top.into_sorted() {
            let Some(Sides {
                vacancy,
                candidate,
                rows,
                facts,
            }) = pair(kept.slot)
            else {
                continue;
            };
            let mut contributions =
                self.ctx
                    .contributions(vacancy, candidate, rows, kept.distance_km, &kept.sims);
            contributions.extend(self.ctx.boost_contributions(candidate));
            self.list.items.push(Ranked {
                // The score the list was ordered by; the contributions add
                // up to it but for rounding (summed in another order).
                score: kept.score,
                congruity: self
                    .ctx
                    .congruity(vacancy, candidate, facts, kept.distance_km),
                id: kept.id,
                distance_km: kept.distance_km,
                contributions,
            });
        }
        Ok(self.list)
    }
}

/// Both sides of a kept pair, with the rows it was scored from.
struct Sides<'p> {
    vacancy: &'p Vacancy,
    candidate: &'p Candidate,
    rows: (&'p VacancyRow, &'p CandidateRow),
    facts: CandidateFacts<'p>,
}

/// The preselection list for a vacancy; `text` gives candidates' text
/// relevance to the vacancy, asked only for the pairs the list scores.
pub fn match_candidates(
    state: &State,
    ctx: &Context<'_>,
    vacancy_id: &str,
    request: &ListRequest,
    text: &mut dyn TextRelevance,
) -> Result<RankedList, MatchError> {
    let unknown = || MatchError::UnknownVacancy(vacancy_id.to_owned());
    let slot = state.vacancy_slot(vacancy_id).ok_or_else(unknown)?;
    let vacancy = state.vacancy_at(slot).ok_or_else(unknown)?;
    let vrow = state.vacancy_row_at(slot).ok_or_else(unknown)?;
    let open = vacancy.is_open_on(ctx.today);
    let origin = &vacancy.spec.workplace_comune;
    if ctx.reference.comune(origin).is_none() {
        return Err(MatchError::UnknownComune(origin.clone()));
    }
    let mut reach = f64::from(ctx.config.distance.max_search_km);
    if request.filters.max_distance_km > 0 {
        reach = reach.min(f64::from(request.filters.max_distance_km));
    }
    let within = comuni_within(ctx, origin, reach);
    let considered = within
        .iter()
        .map(|(comune, _)| state.candidate_count_in(comune) as u64)
        .sum();
    let mut lister = Lister::new(
        ctx,
        state,
        request,
        Pair::candidate_id,
        text,
        request.count_exclusions,
    );
    let default_km = ctx.config.distance.default_max_km;
    // Nobody in such a comune could travel this far: they are all excluded
    // by distance without being visited (one who would also fail an
    // earlier filter is then counted under distance instead).
    let (reachable, beyond): (Vec<_>, Vec<_>) = within.into_iter().partition(|(comune, km)| {
        *km <= f64::from(state.max_mobility_km_in(comune).max(default_km))
    });
    for (comune, _) in &beyond {
        lister.exclude_unvisited(
            HardFilter::Distance,
            state.candidate_count_in(comune) as u64,
        );
    }
    if request.count_exclusions {
        for (comune, km) in reachable {
            for &slot in state.resident_slots(comune) {
                if let Some(pair) = Pair::with_candidate(state, (vacancy, vrow, open), slot, km) {
                    lister.consider(slot, pair, None, 1.0)?;
                }
            }
        }
    } else {
        visit_best_first(&mut lister, state, vacancy, vrow, &reachable)?;
    }
    let mut list = lister.finish(|slot| {
        let candidate = state.candidate_at_slot(slot)?;
        Some(Sides {
            vacancy,
            candidate,
            rows: (vrow, state.row_at(slot)?),
            facts: facts(state, candidate),
        })
    })?;
    list.considered = considered;
    Ok(list)
}

/// One group of a preselection list: the residents of `reachable[comune]`
/// sharing exactly `depth` CP2011 levels with the vacancy and, when the
/// vacancy names skills, holding one of them or not (`holders`).
struct Group {
    bound: f64,
    depth: usize,
    comune: usize,
    /// Whether skills get full credit in the bound; without, they get none:
    /// who holds none of the skills a vacancy names has similarity 0.
    holders: bool,
}

impl PartialEq for Group {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Group {}
impl PartialOrd for Group {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Group {
    /// Higher bound first; the rest only makes the order total.
    fn cmp(&self, other: &Self) -> Ordering {
        self.bound
            .total_cmp(&other.bound)
            .then_with(|| self.depth.cmp(&other.depth))
            .then_with(|| other.comune.cmp(&self.comune))
            .then_with(|| self.holders.cmp(&other.holders))
    }
}

/// Visits the candidates within reach group by group, best bound first,
/// until the next group's bound cannot reach the list.
///
/// A group's bound gives text relevance its ceiling. The groups of one
/// depth and skill tier are its comuni nearest first, which is their
/// bounds' order, so the visit merges one stream per depth and tier.
///
/// When the vacancy names skills, each depth is split into the people
/// holding at least one of them and the rest, whose skills similarity is 0:
/// the skills weight is the largest that a group's profession and distance
/// say nothing about, so the rest's groups are bounded that much lower.
fn visit_best_first<'s>(
    lister: &mut Lister<'_, '_, 's>,
    state: &'s State,
    vacancy: &'s Vacancy,
    vrow: &'s VacancyRow,
    reachable: &[(&str, f64)],
) -> Result<(), MatchError> {
    let ctx = lister.ctx;
    let open = vacancy.is_open_on(ctx.today);
    let code = vacancy.spec.profession_code.as_str();
    let levels = segments(code);
    let prefix: Vec<&str> = prefixes(code).collect();
    let index = state.professions();
    let ceiling = lister.ceiling;
    let holders = vrow
        .has_skills()
        .then(|| state.holders_of_any(vrow.skill_ids()));
    // Who fails a filter these sets judge is skipped without reading
    // their row.
    let eligible = state.eligible_for(vrow);
    let skills = |holders: bool| if holders { 1.0 } else { 0.0 };
    let bound = |depth: usize, comune: usize, holders: bool| {
        ctx.group_bound(depth, levels, reachable[comune].1, ceiling, skills(holders))
    };
    let tiers: &[bool] = if holders.is_some() {
        &[true, false]
    } else {
        &[true]
    };
    let mut queue: BinaryHeap<Group> = (0..=levels)
        .filter(|_| !reachable.is_empty())
        .flat_map(|depth| tiers.iter().map(move |&h| (depth, h)))
        .map(|(depth, holders)| Group {
            bound: bound(depth, 0, holders),
            depth,
            comune: 0,
            holders,
        })
        .collect();
    let default_km = ctx.config.distance.default_max_km;
    let root = [""];
    // The members of the groups holding none of the skills, met while
    // visiting the holders' group of the same depth and comune (always
    // visited first: its bound is at least theirs, and ties go to it), so
    // that the group's postings are walked once.
    let mut set_aside: HashMap<(usize, usize), Vec<u32>> = HashMap::default();
    let mut aside: Vec<u32> = Vec::new();
    while let Some(group) = queue.pop() {
        // Every group left has a bound no higher than this one's.
        if !lister.visit_group(group.bound)? {
            break;
        }
        let (comune, km) = reachable[group.comune];
        // Level 0 is everyone, under the empty prefix.
        let at = |depth: usize| {
            match depth {
                0 => root.first(),
                d => prefix.get(d - 1),
            }
            .and_then(|p| index.get(p, comune))
        };
        let deeper = at(group.depth + 1);
        let set_aside_for = if group.holders {
            None
        } else {
            set_aside.remove(&(group.depth, group.comune))
        };
        // When the holders' group was visited, it set this group's members
        // aside: the postings are not walked again.
        let walk = at(group.depth).filter(|_| set_aside_for.is_none());
        for (band, slots) in walk.into_iter().flat_map(|m| m.iter()) {
            // Everyone in this band would fail the distance filter here.
            if f64::from(band_upper_km(band, default_km)) < km {
                continue;
            }
            // The band's members sharing exactly this depth: those sharing
            // a deeper level taken out word by word (a test per member was
            // a search each, and the deeper groups hold most of them).
            let exact;
            let members = match deeper.and_then(|d| d.get(band)) {
                Some(deeper) if deeper.len() == slots.len() => continue,
                Some(deeper) => {
                    exact = slots - deeper;
                    &exact
                }
                None => slots,
            };
            for slot in members {
                if !eligible.contains(slot as usize) {
                    continue;
                }
                if let Some(h) = &holders {
                    if h.contains(slot) != group.holders {
                        if group.holders {
                            aside.push(slot);
                        }
                        continue;
                    }
                }
                if let Some(pair) = Pair::with_candidate(state, (vacancy, vrow, open), slot, km) {
                    lister.consider(slot, pair, Some(group.depth), skills(group.holders))?;
                }
            }
        }
        for slot in set_aside_for.into_iter().flatten() {
            if let Some(pair) = Pair::with_candidate(state, (vacancy, vrow, open), slot, km) {
                lister.consider(slot, pair, Some(group.depth), 0.0)?;
            }
        }
        // Set aside even when empty: the other half then walks nothing.
        if group.holders && holders.is_some() {
            set_aside.insert((group.depth, group.comune), std::mem::take(&mut aside));
        }
        if group.comune + 1 < reachable.len() {
            queue.push(Group {
                bound: bound(group.depth, group.comune + 1, group.holders),
                depth: group.depth,
                comune: group.comune + 1,
                holders: group.holders,
            });
        }
    }
    Ok(())
}

/// Vacancies for a candidate, best first; `text` gives vacancies' text
/// relevance to the candidate's profile, asked only for the pairs scored.
pub fn match_vacancies(
    state: &State,
    ctx: &Context<'_>,
    candidate_id: &str,
    request: &ListRequest,
    text: &mut dyn TextRelevance,
) -> Result<RankedList, MatchError> {
    let unknown = || MatchError::UnknownCandidate(candidate_id.to_owned());
    let slot = state.candidate_slot(candidate_id).ok_or_else(unknown)?;
    let (candidate, _, _) = state.candidate_at(slot).ok_or_else(unknown)?;
    let crow = state.row_at(slot).ok_or_else(unknown)?;
    let origin = &candidate.profile.domicile_comune;
    if ctx.reference.comune(origin).is_none() {
        return Err(MatchError::UnknownComune(origin.clone()));
    }
    let reach = f64::from(ctx.distance_limit(candidate, &request.filters));
    let mut facts = facts(state, candidate);
    if request.filters.hide_reserved_quota {
        facts.protected = ProtectedCategory::None;
    }
    let person = Person {
        candidate,
        row: crow,
        link: state.link_at(slot).ok_or_else(unknown)?,
        protected: facts.protected,
    };
    let within = comuni_within(ctx, origin, reach);
    let index = state.listable();
    let levels = index.level_counts();
    let considered = within
        .iter()
        .flat_map(|(comune, _)| levels.iter().map(move |&l| (comune, l)))
        .filter_map(|(comune, l)| index.get(l, "", comune))
        .map(|m| m.len())
        .sum();
    let mut lister = Lister::new(
        ctx,
        state,
        request,
        Pair::vacancy_id,
        text,
        request.count_exclusions,
    );
    if request.count_exclusions {
        for &(comune, km) in &within {
            for &l in &levels {
                for slot in index.get(l, "", comune).into_iter().flatten() {
                    if let Some(pair) = Pair::with_vacancy(state, slot, &person, km, ctx.today) {
                        lister.consider(slot, pair, None, 1.0)?;
                    }
                }
            }
        }
    } else {
        visit_vacancies_best_first(&mut lister, state, &person, &within, &levels)?;
    }
    let mut list = lister.finish(|slot| {
        Some(Sides {
            vacancy: state.vacancy_at(slot)?,
            candidate,
            rows: (state.vacancy_row_at(slot)?, crow),
            facts,
        })
    })?;
    list.considered = considered;
    Ok(list)
}

/// [`visit_best_first`] for a person: groups of the listable vacancies of
/// one comune whose code has `l` levels and shares exactly `d` of them with
/// the person's closest profession, best bound first.
fn visit_vacancies_best_first<'s>(
    lister: &mut Lister<'_, '_, 's>,
    state: &'s State,
    person: &Person<'s>,
    within: &[(&str, f64)],
    levels: &[u8],
) -> Result<(), MatchError> {
    let ctx = lister.ctx;
    // Who is not available for a vacancy of no hours at all (not listed,
    // or taken by a job) is available for none: every pair would fail.
    let employment = state.employment_of_link(person.link);
    if !ctx.is_available(0, person.row.sketch.listed(), employment) {
        return Ok(());
    }
    let index = state.listable();
    // The person's distinct prefixes at each depth (the empty one at 0).
    let p = &person.candidate.profile;
    let codes: Vec<&str> = p
        .desired_professions
        .iter()
        .map(String::as_str)
        .chain(p.experience.iter().map(|e| e.profession_code.as_str()))
        .collect();
    let deepest = codes.iter().map(|c| segments(c)).max().unwrap_or(0);
    let at_depth: Vec<Vec<&str>> = (0..=deepest + 1)
        .map(|d| {
            let mut v: Vec<&str> = if d == 0 {
                vec![""]
            } else {
                codes
                    .iter()
                    .filter_map(|c| prefixes(c).nth(d - 1))
                    .collect()
            };
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let ceiling = lister.ceiling;
    let bound = |l: u8, depth: usize, comune: usize| {
        ctx.group_bound(depth, usize::from(l), within[comune].1, ceiling, 1.0)
    };
    let mut queue: BinaryHeap<VacancyGroup> = levels
        .iter()
        .flat_map(|&l| (0..=usize::from(l).min(deepest)).map(move |d| (l, d)))
        .filter(|_| !within.is_empty())
        .map(|(levels, depth)| VacancyGroup {
            group: Group {
                bound: bound(levels, depth, 0),
                depth,
                comune: 0,
                holders: true,
            },
            levels,
        })
        .collect();
    let none: Vec<&str> = Vec::new();
    // Who fails a filter these sets judge is skipped without reading
    // their row.
    let eligible = state.vacancies_eligible_for(&person.row.sketch, person.protected);
    while let Some(VacancyGroup { group, levels: l }) = queue.pop() {
        if !lister.visit_group(group.bound)? {
            break;
        }
        let (comune, km) = within[group.comune];
        let deeper: Vec<&RoaringBitmap> = at_depth
            .get(group.depth + 1)
            .unwrap_or(&none)
            .iter()
            .filter_map(|prefix| index.get(l, prefix, comune))
            .collect();
        for prefix in at_depth.get(group.depth).unwrap_or(&none) {
            for slot in index.get(l, prefix, comune).into_iter().flatten() {
                if !eligible.contains(slot as usize)
                    || !state.vacancy_valid_on(slot, ctx.today)
                    || deeper.iter().any(|d| d.contains(slot))
                {
                    continue;
                }
                if let Some(pair) = Pair::with_vacancy(state, slot, person, km, ctx.today) {
                    lister.consider(slot, pair, Some(group.depth), 1.0)?;
                }
            }
        }
        if group.comune + 1 < within.len() {
            queue.push(VacancyGroup {
                group: Group {
                    bound: bound(l, group.depth, group.comune + 1),
                    depth: group.depth,
                    comune: group.comune + 1,
                    holders: true,
                },
                levels: l,
            });
        }
    }
    Ok(())
}

/// A group of vacancies: their code's length beside the shared depth.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct VacancyGroup {
    group: Group,
    levels: u8,
}

/// Both sides of a pair, for `Explain`, with the candidate's text
/// relevance to the vacancy as the vacancy's list gives it.
pub fn explain<'s>(
    state: &'s State,
    ctx: &Context<'_>,
    vacancy_id: &str,
    candidate_id: &str,
    text: &mut dyn TextRelevance,
) -> Result<(&'s Vacancy, crate::scoring::Evaluation), MatchError> {
    let vacancy = state
        .vacancy(vacancy_id)
        .ok_or_else(|| MatchError::UnknownVacancy(vacancy_id.to_owned()))?;
    let unknown = || MatchError::UnknownCandidate(candidate_id.to_owned());
    let slot = state.candidate_slot(candidate_id).ok_or_else(unknown)?;
    let candidate = state.candidate(candidate_id).ok_or_else(unknown)?;
    let mut relevance = Vec::with_capacity(1);
    text.relevance_of(&[slot], &mut relevance)?;
    let relevance = relevance.first().copied().unwrap_or(0.0);
    Ok((
        vacancy,
        ctx.evaluate(vacancy, candidate, facts(state, candidate), relevance),
    ))
}

/// Stable order of filter names in responses.
pub fn filter_order(name: &str) -> usize {
    HardFilter::ALL
        .iter()
        .position(|f| f.name() == name)
        .unwrap_or(usize::MAX)
}
