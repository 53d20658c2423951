//! The one random number generator behind every random draw in gaxsh.
//!
//! `seed(n)` resets it, so a script that seeds once gets the same tensors, weight
//! initialisations, shuffles and noise on every run. Draws are sequential and single-threaded on
//! purpose: reproducibility matters more here than a parallel RNG.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::sync::{Mutex, MutexGuard};

/// The seed used when a script never calls `seed`.
pub const DEFAULT_SEED: u64 = 0;

static RNG: Mutex<Option<(u64, ChaCha8Rng)>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<(u64, ChaCha8Rng)>> {
    // A panic while holding the lock cannot leave the RNG in a broken state, so recover.
    let mut guard = RNG.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        *guard = Some((DEFAULT_SEED, ChaCha8Rng::seed_from_u64(DEFAULT_SEED)));
    }
    guard
}

/// Reset the generator; every later draw depends only on `seed` and the order of draws.
pub fn seed(seed: u64) {
    *lock() = Some((seed, ChaCha8Rng::seed_from_u64(seed)));
}

/// The seed last set (recorded in run records).
pub fn current_seed() -> u64 {
    lock().as_ref().map(|(s, _)| *s).unwrap_or(DEFAULT_SEED)
}

/// Run `f` with the generator held.
pub fn with_rng<T>(f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
    let mut guard = lock();
    let (_, rng) = guard.as_mut().expect("initialised by lock()");
    f(rng)
}

/// `n` draws from N(0, 1).
pub fn normal_vec(n: usize) -> Vec<f64> {
    with_rng(|r| (0..n).map(|_| StandardNormal.sample(r)).collect())
}

/// `n` draws from U[lo, hi).
pub fn uniform_vec(n: usize, lo: f64, hi: f64) -> Vec<f64> {
    with_rng(|r| (0..n).map(|_| r.random_range(lo..hi)).collect())
}

/// A uniformly random permutation of `0..n` (Fisher–Yates).
pub fn permutation(n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    with_rng(|r| {
        for i in (1..n).rev() {
            let j = r.random_range(0..=i);
            idx.swap(i, j);
        }
    });
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_repeats_draws() {
        seed(7);
        let a = normal_vec(5);
        let p = permutation(10);
        seed(7);
        assert_eq!(a, normal_vec(5));
        assert_eq!(p, permutation(10));
        let mut sorted = p.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}
