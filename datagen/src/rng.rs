//! Deterministic randomness: one ChaCha stream per entity, and sampling helpers that use
//! integer arithmetic only, so that the same configuration yields the same bytes on every
//! machine (no transcendental floating-point functions, whose last bits vary by libm).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Streams of entities; part of the seed so that vacancy 7 and candidate 7 differ.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    Vacancy = 1,
    Candidate = 2,
}

/// SplitMix64 finaliser: spreads nearby inputs (consecutive indices) over the whole space.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of one entity, independent of every other entity's, so that entities can
/// be produced in any order or in parallel and still come out identical.
pub fn entity_rng(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    let words = [
        mix(seed),
        mix(seed ^ (stream as u64).rotate_left(32)),
        mix(index ^ mix(stream as u64)),
        mix(index.wrapping_add(seed).wrapping_mul(31)),
    ];
    for (chunk, w) in key.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// A uniformly chosen element. The catalogue's lists are never empty (a test checks), so
/// an empty slice is a programming error; it yields the default instead of panicking.
pub fn pick<R: Rng, T: Copy + Default>(rng: &mut R, items: &[T]) -> T {
    if items.is_empty() {
        return T::default();
    }
    items[rng.random_range(0..items.len())]
}

/// A uniformly chosen element by reference, or `fallback` for an empty slice.
pub fn pick_or<'a, R: Rng, T>(rng: &mut R, items: &'a [T], fallback: &'a T) -> &'a T {
    if items.is_empty() {
        return fallback;
    }
    &items[rng.random_range(0..items.len())]
}

/// Index drawn with integer weights; 0 when all weights are zero.
pub fn weighted_index<R: Rng, T>(rng: &mut R, items: &[T], weight: impl Fn(&T) -> u64) -> usize {
    let total: u64 = items.iter().map(&weight).sum();
    if total == 0 {
        return 0;
    }
    let mut x = rng.random_range(0..total);
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if x < w {
            return i;
        }
        x -= w;
    }
    items.len().saturating_sub(1)
}

/// A precomputed cumulative table for large weighted draws (comuni, CPIs): O(log n) a draw.
#[derive(Debug, Clone, Default)]
pub struct Cumulative {
    cum: Vec<u64>,
}

impl Cumulative {
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut acc = 0u64;
        let cum = weights
            .into_iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Cumulative { cum }
    }

    pub fn total(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }

    /// Index drawn in proportion to its weight; `None` when the table is empty or all zero.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> Option<usize> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let x = rng.random_range(0..total);
        Some(self.cum.partition_point(|&c| c <= x))
    }
}

/// True with probability `percent`/100.
pub fn chance<R: Rng>(rng: &mut R, percent: f64) -> bool {
    rng.random::<f64>() * 100.0 < percent
}

/// Milliseconds since the epoch at a random office-hours moment of `day` (07:00-17:59 UTC,
/// 08:00-18:59 in Italy in winter).
pub fn office_ms<R: Rng>(rng: &mut R, day: i32) -> i64 {
    i64::from(day) * 86_400_000 + rng.random_range(7 * 3_600_000..18 * 3_600_000i64)
}
