//! Candidate slots by the hard filters that read only a person's profile
//! and registration (listed, contract types accepted, hours range, L.68/99
//! category), as dense bitsets the fold keeps beside the compact rows.
//!
//! A preselection list intersects the sets its vacancy names into the set
//! of people it may visit ([`Eligibility::for_vacancy`], a few word-wise
//! ANDs of 128 KB at a million candidates), and skips everyone outside it
//! without reading their row: at that scale each row first read is a cache
//! miss, and more than half the people a list's groups hold fail one of
//! these filters. The sets never hold less than the filters pass; the hours
//! sets hold more (they are kept by tenths of full time), so a visited pair
//! is still judged by the filters themselves.

use fixedbitset::FixedBitSet;

use crate::features::CandidateRow;
use crate::model::{ContractType, ProtectedCategory, ReservedQuota};
use crate::scoring::quota_fits;

/// Hours buckets: tenths of full time, and a last one from 100 % up.
const HOURS_BUCKETS: usize = 11;

/// The bucket of a vacancy's hours.
fn hours_bucket(hours: u32) -> usize {
    (hours / 10).min(HOURS_BUCKETS as u32 - 1) as usize
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
    /// Who may take a position of a reserved quota, by quota (art. 1, art.
    /// 18).
    art1: FixedBitSet,
    art18: FixedBitSet,
}

impl Default for Eligibility {
    fn default() -> Self {
        Self {
            listed: FixedBitSet::new(),
            accepts: vec![FixedBitSet::new(); ContractType::ALL.len()],
            hours: vec![FixedBitSet::new(); HOURS_BUCKETS],
            art1: FixedBitSet::new(),
            art18: FixedBitSet::new(),
        }
    }
}

impl Eligibility {
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    fn sets_mut(&mut self) -> impl Iterator<Item = &mut FixedBitSet> {
        [&mut self.listed, &mut self.art1, &mut self.art18]
            .into_iter()
            .chain(self.accepts.iter_mut())
            .chain(self.hours.iter_mut())
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
        for (bucket, set) in self.hours.iter_mut().enumerate() {
            let low = bucket as u32 * 10;
            let high = if bucket + 1 == HOURS_BUCKETS {
                u32::MAX
            } else {
                low + 9
            };
            set.set(
                slot,
                u32::from(c.min_hours) <= high && u32::from(c.max_hours) >= low,
            );
        }
        self.art1
            .set(slot, quota_fits(ReservedQuota::Art1, protected));
        self.art18
            .set(slot, quota_fits(ReservedQuota::Art18, protected));
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
        match quota {
            ReservedQuota::None => {}
            ReservedQuota::Art1 => out.intersect_with(&self.art1),
            ReservedQuota::Art18 => out.intersect_with(&self.art18),
        }
        out
    }
}
