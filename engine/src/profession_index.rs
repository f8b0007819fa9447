//! Posting lists of candidates by CP2011 prefix and comune, maintained by
//! the fold, so a list visits the people who share a profession level with
//! a vacancy without scanning everyone within reach.
//!
//! A CP2011 code has up to five levels ("5.2.2.1.0": grande gruppo, gruppo,
//! classe, categoria, unità). Two codes share `d` levels exactly when their
//! first `d` segments are equal, so a candidate shares at least `d` levels
//! with a vacancy when one of their desired or practised professions has
//! the vacancy's `d`-level prefix. Each candidate is therefore posted under
//! every prefix of every one of their codes, once per distinct prefix, in
//! the comune they live in. A candidate's postings for level `d + 1` are a
//! subset of those for level `d`, which is what lets a list visit the group
//! "exactly `d` levels in common" as the difference of two bitmaps. Everyone
//! is also posted under the empty prefix (level 0).
//!
//! Within a comune the postings are split by the mobility limit the person
//! stated, in bands: a list leaves out, unvisited, every band whose highest
//! limit is below the comune's distance, since all its members would fail
//! the distance filter.

use foldhash::HashMap;
use roaring::RoaringBitmap;

use crate::model::CandidateProfile;

/// Candidate slots by profession prefix, then by domicile comune, then by
/// mobility band.
#[derive(Debug, Clone, Default)]
pub struct ProfessionIndex {
    by_prefix: HashMap<String, HashMap<String, Bands>>,
}

/// The highest stated limit (km) of each mobility band after band 0, which
/// holds those who stated none.
const BAND_UPPER_KM: [u32; 9] = [10, 20, 30, 40, 50, 60, 80, 120, u32::MAX];

/// The band of a stated mobility limit (0 = none stated).
pub fn band(max_distance_km: u32) -> u8 {
    if max_distance_km == 0 {
        return 0;
    }
    let i = BAND_UPPER_KM
        .iter()
        .position(|&upper| max_distance_km <= upper)
        .unwrap_or(BAND_UPPER_KM.len() - 1);
    i as u8 + 1
}

/// The highest own limit anyone in `band` has, `default_km` standing for
/// those who stated none.
pub fn band_upper_km(band: u8, default_km: u32) -> u32 {
    match band {
        0 => default_km,
        b => BAND_UPPER_KM
            .get(usize::from(b) - 1)
            .copied()
            .unwrap_or(u32::MAX),
    }
}

/// The non-empty mobility bands of one posting list, by band.
#[derive(Debug, Clone, Default)]
pub struct Bands(Vec<(u8, RoaringBitmap)>);

impl Bands {
    /// Each band with its members.
    pub fn iter(&self) -> impl Iterator<Item = (u8, &RoaringBitmap)> {
        self.0.iter().map(|(b, m)| (*b, m))
    }

    pub fn get(&self, band: u8) -> Option<&RoaringBitmap> {
        self.0.iter().find(|(b, _)| *b == band).map(|(_, m)| m)
    }

    pub fn len(&self) -> u64 {
        self.0.iter().map(|(_, m)| m.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&mut self, band: u8, slot: u32) {
        match self.0.iter_mut().find(|(b, _)| *b == band) {
            Some((_, m)) => {
                m.insert(slot);
            }
            None => self.0.push((band, RoaringBitmap::from_iter([slot]))),
        }
    }

    fn remove(&mut self, band: u8, slot: u32) {
        if let Some((_, m)) = self.0.iter_mut().find(|(b, _)| *b == band) {
            m.remove(slot);
        }
    }
}

/// The prefixes of a CP2011 code at every level, shortest first
/// ("5.2.2" gives "5", "5.2", "5.2.2").
pub fn prefixes(code: &str) -> impl Iterator<Item = &str> {
    let ends = code
        .char_indices()
        .filter(|&(_, c)| c == '.')
        .map(|(i, _)| i)
        .chain((!code.is_empty()).then_some(code.len()));
    ends.map(move |end| &code[..end])
}

/// The distinct prefixes of all the professions a profile desires or has
/// practised, and the empty one: the keys it is posted under.
pub fn profile_prefixes(profile: &CandidateProfile) -> Vec<&str> {
    let codes = profile
        .desired_professions
        .iter()
        .map(String::as_str)
        .chain(
            profile
                .experience
                .iter()
                .map(|e| e.profession_code.as_str()),
        );
    let mut out: Vec<&str> = std::iter::once("")
        .chain(codes.flat_map(prefixes))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl ProfessionIndex {
    pub fn insert(&mut self, slot: u32, comune: &str, profile: &CandidateProfile) {
        let band = band(profile.max_distance_km);
        for prefix in profile_prefixes(profile) {
            let by_comune = match self.by_prefix.get_mut(prefix) {
                Some(m) => m,
                None => self.by_prefix.entry(prefix.to_owned()).or_default(),
            };
            match by_comune.get_mut(comune) {
                Some(b) => b.insert(band, slot),
                None => {
                    let mut bands = Bands::default();
                    bands.insert(band, slot);
                    by_comune.insert(comune.to_owned(), bands);
                }
            }
        }
    }

    pub fn remove(&mut self, slot: u32, comune: &str, profile: &CandidateProfile) {
        let band = band(profile.max_distance_km);
        for prefix in profile_prefixes(profile) {
            if let Some(b) = self
                .by_prefix
                .get_mut(prefix)
                .and_then(|m| m.get_mut(comune))
            {
                b.remove(band, slot);
            }
        }
    }

    /// Residents of `comune` with a profession under `prefix` (everyone
    /// for the empty prefix), by mobility band.
    pub fn get(&self, prefix: &str, comune: &str) -> Option<&Bands> {
        self.by_prefix.get(prefix)?.get(comune)
    }

    pub fn clear(&mut self) {
        self.by_prefix.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{band, band_upper_km, prefixes};
    use crate::scoring::shared_depth;
    use proptest::prelude::*;

    #[test]
    fn prefixes_at_every_level() {
        assert_eq!(
            prefixes("5.2.2.1.0").collect::<Vec<_>>(),
            ["5", "5.2", "5.2.2", "5.2.2.1", "5.2.2.1.0"]
        );
        assert_eq!(prefixes("7").collect::<Vec<_>>(), ["7"]);
        assert_eq!(prefixes("").count(), 0);
    }

    #[test]
    fn a_limit_is_at_most_its_band_upper() {
        for km in 0..400 {
            let upper = band_upper_km(band(km), 30);
            assert!(if km == 0 { upper == 30 } else { km <= upper }, "{km}");
        }
        assert_eq!(band(10), 1);
        assert_eq!(band(11), 2);
        assert_eq!(band(1_000), 9);
    }

    proptest! {
        /// The index's premise: sharing at least `d` levels is having the
        /// same `d`-th prefix.
        #[test]
        fn shared_depth_is_the_deepest_common_prefix(
            a in "[1-3](\\.[0-2]){0,4}",
            b in "[1-3](\\.[0-2]){0,4}",
        ) {
            let pa: Vec<&str> = prefixes(&a).collect();
            let pb: Vec<&str> = prefixes(&b).collect();
            let common = pa.iter().zip(&pb).take_while(|(x, y)| x == y).count();
            prop_assert_eq!(shared_depth(&a, &b), common);
        }
    }
}

/// Listable vacancy slots (open, with a position left) by the number of
/// levels of their CP2011 code, then by its prefix at every level (and the
/// empty prefix), then by workplace comune: the groups a list of vacancies
/// for a person visits best first. The levels are part of the key because a
/// vacancy's profession credit is the shared depth over its own levels.
#[derive(Debug, Clone, Default)]
pub struct VacancyIndex {
    /// By code length, then prefix, then comune.
    by_prefix: HashMap<u8, HashMap<String, HashMap<String, RoaringBitmap>>>,
    /// What each slot is posted under, to take it out again.
    posted: HashMap<u32, (String, String)>,
    /// Listable vacancies by the levels of their code.
    by_levels: HashMap<u8, u64>,
}

impl VacancyIndex {
    /// Posts `slot` under `code` in `comune`, or takes it out (`None`),
    /// replacing whatever it was posted under before.
    pub fn set(&mut self, slot: u32, listing: Option<(&str, &str)>) {
        let same = match (self.posted.get(&slot), listing) {
            (Some((c, m)), Some((code, comune))) => c == code && m == comune,
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        if let Some((code, comune)) = self.posted.remove(&slot) {
            let levels = level_count(&code);
            for prefix in std::iter::once("").chain(prefixes(&code)) {
                if let Some(m) = self
                    .by_prefix
                    .get_mut(&levels)
                    .and_then(|m| m.get_mut(prefix))
                    .and_then(|m| m.get_mut(&comune))
                {
                    m.remove(slot);
                }
            }
            if let Some(n) = self.by_levels.get_mut(&levels) {
                *n = n.saturating_sub(1);
            }
        }
        if let Some((code, comune)) = listing {
            let levels = level_count(code);
            for prefix in std::iter::once("").chain(prefixes(code)) {
                self.by_prefix
                    .entry(levels)
                    .or_default()
                    .entry(prefix.to_owned())
                    .or_default()
                    .entry(comune.to_owned())
                    .or_default()
                    .insert(slot);
            }
            self.posted
                .insert(slot, (code.to_owned(), comune.to_owned()));
            *self.by_levels.entry(levels).or_default() += 1;
        }
    }

    /// Listable vacancies in `comune` whose code has `levels` levels and
    /// lies under `prefix`.
    pub fn get(&self, levels: u8, prefix: &str, comune: &str) -> Option<&RoaringBitmap> {
        self.by_prefix.get(&levels)?.get(prefix)?.get(comune)
    }

    /// Whether `slot` is posted (open, with a position left).
    pub fn is_listed(&self, slot: u32) -> bool {
        self.posted.contains_key(&slot)
    }

    /// The code lengths (in levels) that some listable vacancy has.
    pub fn level_counts(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self
            .by_levels
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(l, _)| *l)
            .collect();
        out.sort_unstable();
        out
    }

    pub fn clear(&mut self) {
        self.by_prefix.clear();
        self.posted.clear();
        self.by_levels.clear();
    }
}

fn level_count(code: &str) -> u8 {
    u8::try_from(prefixes(code).count()).unwrap_or(u8::MAX)
}
