//! The rankings the engine is compared with, computed from the same world:
//! text relevance alone (BM25 of the vacancy's words against candidate
//! profiles, from the projection's own text index, with no hard filter and
//! no other criterion), and uniform random draws (seeded) either from every
//! active candidate or from the hidden applicant pool.

use std::collections::HashMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The best `k` candidates by text relevance (as returned by
/// `View::best_candidates_by_text`), best first, ties broken by id.
pub fn bm25_ranking(relevance: &HashMap<String, f64>, k: usize) -> Vec<String> {
    let mut scored: Vec<(&String, f64)> = relevance
        .iter()
        .filter(|(_, s)| **s > 0.0)
        .map(|(id, s)| (id, *s))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    scored
        .into_iter()
        .take(k)
        .map(|(id, _)| id.clone())
        .collect()
}

/// `k` distinct members of `population` drawn uniformly, in draw order; the
/// draw is fixed by `seed` and `vacancy_id`.
pub fn random_ranking(population: &[String], k: usize, seed: u64, vacancy_id: &str) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(xxh3_64_with_seed(vacancy_id.as_bytes(), seed));
    rand::seq::index::sample(&mut rng, population.len(), k.min(population.len()))
        .into_iter()
        .filter_map(|i| population.get(i).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bm25_ranks_by_relevance_then_id_and_drops_zeros() {
        let rel: HashMap<String, f64> = [("b", 0.5), ("a", 0.5), ("c", 1.0), ("d", 0.0)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(bm25_ranking(&rel, 10), vec!["c", "a", "b"]);
        assert_eq!(bm25_ranking(&rel, 1), vec!["c"]);
    }

    #[test]
    fn random_draws_are_distinct_seeded_and_bounded() {
        let pop: Vec<String> = (0..100).map(|i| format!("C{i:03}")).collect();
        let a = random_ranking(&pop, 50, 1, "V1");
        assert_eq!(a.len(), 50);
        let distinct: std::collections::HashSet<&String> = a.iter().collect();
        assert_eq!(distinct.len(), 50);
        assert_eq!(a, random_ranking(&pop, 50, 1, "V1"));
        assert_ne!(a, random_ranking(&pop, 50, 1, "V2"));
        assert_eq!(random_ranking(&pop[..3], 50, 1, "V1").len(), 3);
    }
}
