//! The one random number generator behind every random draw in gaxsh.
//!
//! `seed(n)` resets it, so a script that seeds once gets the same tensors, weight
//! initialisations, shuffles and noise on every run. Draws are sequential and single-threaded on
//! purpose: reproducibility matters more here than a parallel RNG.
//!
//! One process-wide generator is right for a script, but two computations in one process (two
//! tests on parallel threads, a program embedding the library) would interleave their draws and
//! lose their sequences. [`isolated`] gives one computation its own generator on its thread.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard};

/// The seed used when a script never calls `seed`.
pub const DEFAULT_SEED: u64 = 0;

/// The seed and the generator it started.
type State = (u64, ChaCha8Rng);

static RNG: Mutex<Option<State>> = Mutex::new(None);

thread_local! {
    /// This thread's own generator while it runs inside [`isolated`].
    static ISOLATED: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn lock() -> MutexGuard<'static, Option<State>> {
    // A panic while holding the lock cannot leave the RNG in a broken state, so recover.
    let mut guard = RNG.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        *guard = Some((DEFAULT_SEED, ChaCha8Rng::seed_from_u64(DEFAULT_SEED)));
    }
    guard
}

/// Run `f` on the generator in use: this thread's isolated one if any, else the process's.
fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    ISOLATED.with(|cell| {
        let mut local = cell.borrow_mut();
        match local.as_mut() {
            Some(state) => f(state),
            None => {
                drop(local);
                f(lock().as_mut().expect("initialised by lock()"))
            }
        }
    })
}

/// Reset the generator; every later draw depends only on `seed` and the order of draws.
pub fn seed(seed: u64) {
    with_state(|s| *s = (seed, ChaCha8Rng::seed_from_u64(seed)));
}

/// The seed last set (recorded in run records).
pub fn current_seed() -> u64 {
    with_state(|s| s.0)
}

/// Run `f` with the generator held.
pub fn with_rng<T>(f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
    with_state(|s| f(&mut s.1))
}

/// Run `f` with a generator of its own, seeded with `seed`, for every draw (and `seed` call) made
/// on this thread until it returns; the process's generator is neither used nor changed. Draws
/// on other threads (rayon workers included) still use the process's generator.
pub fn isolated<T>(seed: u64, f: impl FnOnce() -> T) -> T {
    /// Puts the enclosing state back, also when `f` panics.
    struct Restore(Option<State>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            ISOLATED.with(|cell| *cell.borrow_mut() = outer);
        }
    }
    let fresh = Some((seed, ChaCha8Rng::seed_from_u64(seed)));
    let _restore = Restore(ISOLATED.with(|cell| cell.replace(fresh)));
    f()
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
        isolated(0, || {
            seed(7);
            let a = normal_vec(5);
            let p = permutation(10);
            seed(7);
            assert_eq!(a, normal_vec(5));
            assert_eq!(p, permutation(10));
            let mut sorted = p.clone();
            sorted.sort();
            assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        });
    }

    /// An isolated sequence is the same whatever other threads draw meanwhile, reseeds only
    /// itself, and leaves the process's generator where it was.
    #[test]
    fn isolated_sequences_ignore_other_threads() {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let noise = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    normal_vec(7);
                }
            })
        };
        let draw = || {
            isolated(5, || {
                let mut v = Vec::new();
                for _ in 0..200 {
                    v.extend(normal_vec(3));
                }
                seed(6);
                v.extend(uniform_vec(3, 0.0, 1.0));
                (v, current_seed())
            })
        };
        let (a, b) = (draw(), draw());
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        noise.join().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.1, 6);
        isolated(8, || {
            let outer = normal_vec(4);
            isolated(9, || normal_vec(100));
            isolated(8, || assert_eq!(normal_vec(4), outer));
        });
    }
}
