//! Reproducible random-number streams.
//!
//! A computation that uses random numbers gets one master seed (recorded in the provenance
//! manifest) and draws every independent unit of work (a channel, an event, a job, a toy) from its
//! own stream, `stream(seed, key)`. The numbers a unit sees therefore depend only on the seed and
//! its key, never on which thread ran it or in which order: the result is byte-identical at any
//! thread count.
//!
//! # Construction
//!
//! Each stream is a PCG-XSL-RR 128/64 generator ([`rand_pcg::Pcg64`], O'Neill 2014). Its 128-bit
//! state and its 128-bit stream selector (the LCG increment) are derived from `(seed, key)` by
//! four rounds of the SplitMix64 finaliser (Steele, Lea and Flood, OOPSLA 2014), which maps
//! nearby inputs to unrelated outputs. Different keys give different increments, so two streams
//! are different LCG sequences, not just offsets into one sequence.

use rand_pcg::Pcg64;

/// The generator type returned by [`stream`].
pub type StreamRng = Pcg64;

/// SplitMix64 finaliser: a bijective 64-bit mixing function.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The independent generator for unit `key` of a computation seeded with `seed`.
///
/// Same `(seed, key)` gives the same sequence on every platform and run.
///
/// ```
/// use hep_core::rng::stream;
/// use rand::RngExt;
/// let a: f64 = stream(42, 7).random();
/// let b: f64 = stream(42, 7).random();
/// assert_eq!(a, b);
/// ```
pub fn stream(seed: u64, key: u64) -> StreamRng {
    let k = splitmix64(key ^ 0x5851_F42D_4C95_7F2D);
    let s0 = splitmix64(seed ^ k);
    let s1 = splitmix64(s0 ^ 0xA076_1D64_78BD_642F);
    let i0 = splitmix64(s1 ^ k.rotate_left(17));
    let i1 = splitmix64(i0 ^ 0xE703_7ED1_A0B4_28DB);
    let state = (u128::from(s0) << 64) | u128::from(s1);
    let increment = (u128::from(i0) << 64) | u128::from(i1);
    Pcg64::new(state, increment)
}

/// The generator for a unit identified by several indices (e.g. `[run, channel, toy]`).
///
/// The keys are folded in order, so `[a, b]` and `[b, a]` give different streams, and
/// `stream_nested(seed, &[k])` equals `stream(seed, k)`.
pub fn stream_nested(seed: u64, keys: &[u64]) -> StreamRng {
    match keys.split_last() {
        None => stream(seed, 0),
        Some((last, rest)) => {
            let sub = rest
                .iter()
                .fold(seed, |acc, &k| splitmix64(acc ^ splitmix64(k)));
            stream(sub, *last)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use rand_distr::{Distribution, StandardNormal};
    use rayon::prelude::*;

    fn work(seed: u64, key: u64) -> f64 {
        let mut r = stream(seed, key);
        (0..100)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut r);
                z * z
            })
            .sum()
    }

    fn run_with_threads(n: usize) -> Vec<f64> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| {
                (0..10_000u64)
                    .into_par_iter()
                    .map(|k| work(2026, k))
                    .collect()
            })
    }

    #[test]
    fn identical_at_one_and_two_threads() {
        let one = run_with_threads(1);
        let two = run_with_threads(2);
        assert_eq!(one.len(), 10_000);
        assert!(
            one.iter()
                .zip(&two)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        // Each value is a chi-square with 100 degrees of freedom: the mean over 10 000 keys is
        // 100 with a standard error of sqrt(200 / 10 000) = 0.141; allow 5 standard errors.
        let mean = one.iter().sum::<f64>() / one.len() as f64;
        assert!((mean - 100.0).abs() < 5.0 * 0.1415, "mean {mean}");
    }

    #[test]
    fn keys_and_seeds_give_distinct_streams() {
        let firsts: std::collections::HashSet<u64> = (0..10_000u64)
            .map(|k| stream(1, k).random::<u64>())
            .collect();
        assert_eq!(firsts.len(), 10_000);
        assert_ne!(stream(1, 5).random::<u64>(), stream(2, 5).random::<u64>());
        assert_ne!(
            stream_nested(1, &[2, 3]).random::<u64>(),
            stream_nested(1, &[3, 2]).random::<u64>()
        );
        assert_eq!(
            stream_nested(9, &[4]).random::<u64>(),
            stream(9, 4).random::<u64>()
        );
    }

    #[test]
    fn neighbouring_streams_are_uncorrelated() {
        // Pearson correlation of the first uniform of key k and key k+1 over 20 000 pairs:
        // the standard error is 1/sqrt(20 000) = 0.0071; allow 5 standard errors.
        let n = 20_000u64;
        let u: Vec<f64> = (0..=n).map(|k| stream(77, k).random::<f64>()).collect();
        let (x, y) = (&u[..n as usize], &u[1..]);
        let mx = x.iter().sum::<f64>() / n as f64;
        let my = y.iter().sum::<f64>() / n as f64;
        let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        let r = cov / (vx * vy).sqrt();
        assert!(r.abs() < 5.0 / (n as f64).sqrt(), "r = {r}");
    }
}
