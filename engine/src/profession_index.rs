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
//! "exactly `d` levels in common" as the difference of two bitmaps.

use foldhash::HashMap;
use roaring::RoaringBitmap;

use crate::model::CandidateProfile;

/// Candidate slots by profession prefix, then by domicile comune.
#[derive(Debug, Clone, Default)]
pub struct ProfessionIndex {
    by_prefix: HashMap<String, HashMap<String, RoaringBitmap>>,
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
/// practised: the keys it is posted under.
pub fn profile_prefixes(profile: &CandidateProfile) -> Vec<&str> {
    let mut out: Vec<&str> = profile
        .desired_professions
        .iter()
        .map(String::as_str)
        .chain(
            profile
                .experience
                .iter()
                .map(|e| e.profession_code.as_str()),
        )
        .flat_map(prefixes)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl ProfessionIndex {
    pub fn insert(&mut self, slot: u32, comune: &str, profile: &CandidateProfile) {
        for prefix in profile_prefixes(profile) {
            let by_comune = match self.by_prefix.get_mut(prefix) {
                Some(m) => m,
                None => self.by_prefix.entry(prefix.to_owned()).or_default(),
            };
            match by_comune.get_mut(comune) {
                Some(b) => {
                    b.insert(slot);
                }
                None => {
                    by_comune.insert(comune.to_owned(), RoaringBitmap::from_iter([slot]));
                }
            }
        }
    }

    pub fn remove(&mut self, slot: u32, comune: &str, profile: &CandidateProfile) {
        for prefix in profile_prefixes(profile) {
            if let Some(b) = self
                .by_prefix
                .get_mut(prefix)
                .and_then(|m| m.get_mut(comune))
            {
                b.remove(slot);
            }
        }
    }

    /// Residents of `comune` with a profession under `prefix`.
    pub fn get(&self, prefix: &str, comune: &str) -> Option<&RoaringBitmap> {
        self.by_prefix.get(prefix)?.get(comune)
    }

    pub fn clear(&mut self) {
        self.by_prefix.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::prefixes;
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
