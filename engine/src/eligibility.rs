//! Slots by the hard filters that read only one side's row: candidates by
//! listed, contract types accepted, hours range and L.68/99 category
//! ([`Eligibility`]), vacancies by contract type, hours and reserved quota
//! ([`VacancyEligibility`]), as dense bitsets the fold keeps beside the
//! compact rows.
//!
//! A list intersects the sets the other side names into the set of slots
//! it may visit ([`Eligibility::for_vacancy`], a few word-wise ANDs of
//! 128 KB at a million candidates; [`VacancyEligibility::for_person`]), and
//! skips every slot outside it without reading its row: at that scale each
//! row first read is a cache miss, and more than half of what a list's
//! groups hold fails one of these filters. The sets never hold less than
//! the filters pass; the hours sets hold more (they are kept by tenths of
//! full time), so a visited pair is still judged by the filters themselves.

use fixedbitset::FixedBitSet;

use crate::features::{CandidateRow, CandidateSketch, VacancyRow};
use crate::model::{valid_on, ContractType, Day, ProtectedCategory, ReservedQuota};
use crate::scoring::quota_fits;

/// Hours buckets: tenths of full time, and a last one from 100 % up.
const HOURS_BUCKETS: usize = 11;

/// The bucket of a vacancy's hours.
fn hours_bucket(hours: u32) -> usize {
    (hours / 10).min(HOURS_BUCKETS as u32 - 1) as usize
}

/// The buckets a stated hours range meets: every vacancy hours value the
/// range admits falls in one of them.
fn buckets_of(c: &CandidateSketch) -> std::ops::RangeInclusive<usize> {
    hours_bucket(u32::from(c.min_hours))..=hours_bucket(u32::from(c.max_hours))
}

/// The reserved quotas, in the order the sets by quota are kept.
const QUOTAS: [ReservedQuota; 3] = [
    ReservedQuota::None,
    ReservedQuota::Art1,
    ReservedQuota::Art18,
];

fn quota_index(quota: ReservedQuota) -> usize {
    match quota {
        ReservedQuota::None => 0,
        ReservedQuota::Art1 => 1,
        ReservedQuota::Art18 => 2,
    }
}

/// Candidate slots by the filters a list can judge from bits alone.
#[derive(Debug, Clone)]
pub struct Eligibility {
    /// Neither withdrawn nor declared unavailable.
    listed: FixedBitSet,
    /// By `ContractType as usize`: who accepts that type.
    accepts: Vec<FixedBitSet>,
    /// By [`hours_bucket`]: whose stated hours range meets the bucket.
    hours: Vec<FixedBitSet>,
    /// By [`quota_index`]: who may take a position of that reserved quota.
    quota: Vec<FixedBitSet>,
}

impl Default for Eligibility {
    fn default() -> Self {
        Self {
            listed: FixedBitSet::new(),
            accepts: vec![FixedBitSet::new(); ContractType::ALL.len()],
            hours: vec![FixedBitSet::new(); HOURS_BUCKETS],
            quota: vec![FixedBitSet::new(); QUOTAS.len()],
        }
    }
}

impl Eligibility {
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    fn sets_mut(&mut self) -> impl Iterator<Item = &mut FixedBitSet> {
        std::iter::once(&mut self.listed)
            .chain(self.accepts.iter_mut())
            .chain(self.hours.iter_mut())
            .chain(self.quota.iter_mut())
    }

    /// Records what the row of `slot` and the person's L.68/99 category
    /// say, replacing what was recorded for the slot before.
    pub fn set(&mut self, slot: u32, row: &CandidateRow, protected: ProtectedCategory) {
        let slot = slot as usize;
        if slot >= self.listed.len() {
            // Grow by doubling, so a register filled one person at a time
            // is copied a logarithmic number of times.
            let len = (slot + 1).max(self.listed.len() * 2);
            for set in self.sets_mut() {
                set.grow(len);
            }
        }
        let c = &row.sketch;
        self.listed.set(slot, c.listed());
        for (set, &contract) in self.accepts.iter_mut().zip(&ContractType::ALL) {
            set.set(slot, c.accepts(contract));
        }
        let buckets = buckets_of(c);
        for (bucket, set) in self.hours.iter_mut().enumerate() {
            set.set(slot, buckets.contains(&bucket));
        }
        for (set, &quota) in self.quota.iter_mut().zip(&QUOTAS) {
            set.set(slot, quota_fits(quota, protected));
        }
    }

    /// The slots that may pass the filters of a vacancy offering
    /// `contract` for `hours` percent of full time with reserved `quota`:
    /// every slot the filters pass, and some they do not.
    pub fn for_vacancy(
        &self,
        contract: ContractType,
        hours: u32,
        quota: ReservedQuota,
    ) -> FixedBitSet {
        let mut out = self.listed.clone();
        if let Some(accepts) = self.accepts.get(contract as usize) {
            out.intersect_with(accepts);
        }
        if let Some(hours) = self.hours.get(hours_bucket(hours)) {
            out.intersect_with(hours);
        }
        if quota != ReservedQuota::None {
            out.intersect_with(&self.quota[quota_index(quota)]);
        }
        out
    }
}

/// Vacancy slots by what a person's hard filters read of a vacancy
/// (contract type, hours, reserved quota): the other side of
/// [`Eligibility`], for lists of vacancies.
#[derive(Debug, Clone)]
pub struct VacancyEligibility {
    /// By `ContractType as usize`: the vacancies offering that type.
    contract: Vec<FixedBitSet>,
    /// By [`hours_bucket`] of the vacancy's hours.
    hours: Vec<FixedBitSet>,
    /// By reserved quota (none, art. 1, art. 18).
    quota: Vec<FixedBitSet>,
    /// The last day of validity of each slot ([`valid_on`]): it depends on
    /// the day judged, so it is kept as days, 4 bytes a vacancy, not as a
    /// set.
    valid_until: Vec<Day>,
}

impl Default for VacancyEligibility {
    fn default() -> Self {
        Self {
            contract: vec![FixedBitSet::new(); ContractType::ALL.len()],
            hours: vec![FixedBitSet::new(); HOURS_BUCKETS],
            quota: vec![FixedBitSet::new(); QUOTAS.len()],
            valid_until: Vec::new(),
        }
    }
}

impl VacancyEligibility {
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Records the row of vacancy `slot`, replacing what was recorded for
    /// the slot before.
    pub fn set(&mut self, slot: u32, row: &VacancyRow) {
        let slot = slot as usize;
        let len = self.quota[0].len();
        for set in self
            .contract
            .iter_mut()
            .chain(self.hours.iter_mut())
            .chain(self.quota.iter_mut())
        {
            if slot >= len {
                set.grow((slot + 1).max(len * 2));
            }
            set.set(slot, false);
        }
        if slot >= self.valid_until.len() {
            self.valid_until.resize(slot + 1, 0);
        }
        self.valid_until[slot] = row.valid_until;
        self.contract[row.contract as usize].insert(slot);
        self.hours[hours_bucket(row.hours)].insert(slot);
        self.quota[quota_index(row.quota)].insert(slot);
    }

    /// Whether the vacancy at `slot` is within its validity on `today`
    /// (false for a slot never recorded).
    pub fn valid_on(&self, slot: u32, today: Day) -> bool {
        self.valid_until
            .get(slot as usize)
            .is_some_and(|&until| valid_on(until, today))
    }

    /// The vacancy slots that may pass the hard filters of the person of
    /// `sketch` and L.68/99 category `protected`: every slot that passes
    /// them, and some that do not (hours are kept by tenths).
    pub fn for_person(
        &self,
        sketch: &CandidateSketch,
        protected: ProtectedCategory,
    ) -> FixedBitSet {
        let len = self.quota[0].len();
        let mut out = FixedBitSet::with_capacity(len);
        for (set, &quota) in self.quota.iter().zip(&QUOTAS) {
            if quota_fits(quota, protected) {
                out.union_with(set);
            }
        }
        if sketch.contracts != 0 {
            let mut offered = FixedBitSet::with_capacity(len);
            for (set, &contract) in self.contract.iter().zip(&ContractType::ALL) {
                if sketch.accepts(contract) {
                    offered.union_with(set);
                }
            }
            out.intersect_with(&offered);
        }
        let mut hours = FixedBitSet::with_capacity(len);
        for set in self.hours.get(buckets_of(sketch)).into_iter().flatten() {
            hours.union_with(set);
        }
        out.intersect_with(&hours);
        out
    }
}
