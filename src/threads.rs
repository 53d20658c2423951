//! Compute threads.
//!
//! Measured on the 2-vCPU machines gaxsh is developed on (`../shared/STACK.md` §4, and
//! `BENCHMARKS.md`): one compute thread is 10–20× faster than two for the small tensor operations
//! that dominate tabular models and GAX, because waking a second thread costs more than the work.
//! So the default is one thread; `--threads N` or `GAXSH_THREADS=N` asks for more (worth it on
//! larger machines and large conv batches).

use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// The default when neither `--threads` nor `GAXSH_THREADS` is given.
pub const DEFAULT_THREADS: usize = 1;

/// The most compute threads gaxsh starts (more than any machine it runs on has cores).
pub const MAX_THREADS: usize = 1024;

/// Decide the thread count from an explicit request, then `GAXSH_THREADS`, then the default, and
/// configure candle's gemm and rayon with it. Call once, before any tensor work.
pub fn init(requested: Option<usize>) -> crate::Result<usize> {
    let from_env = match std::env::var("GAXSH_THREADS") {
        Ok(s) => Some(s.trim().parse::<usize>().map_err(|_| {
            crate::Error::invalid(format!("GAXSH_THREADS='{s}' is not a thread count"))
        })?),
        Err(_) => None,
    };
    let n = requested.or(from_env).unwrap_or(DEFAULT_THREADS);
    if n == 0 || n > MAX_THREADS {
        return Err(crate::Error::out_of_range(
            "compute threads",
            n,
            format!("1 to {MAX_THREADS}"),
        ));
    }
    // candle reads RAYON_NUM_THREADS on every matmul; rayon reads it when its pool starts.
    // SAFETY: called at start-up, before any other thread exists.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    // candle also keeps a pool of spinning threads for large elementwise ops; gaxsh parallelises
    // over batches and GAX chunks itself, and those spinners then compete with it for the cores
    // (DeepLift sweeps ran 1.7× slower on two threads than on one). One thread: no pool.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: as above.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    // Already built (a second init in one process, as in tests) is fine; anything else (the
    // system refusing threads) is said.
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        && THREADS.load(Ordering::Relaxed) == 0
    {
        return Err(crate::Error::invalid(format!(
            "cannot start {n} compute threads: {e}"
        )));
    }
    THREADS.store(n, Ordering::Relaxed);
    Ok(n)
}

/// The thread count in use.
pub fn current() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => candle_core::utils::get_num_threads(),
        n => n,
    }
}

/// Run `f` on a thread of the compute pool. candle splits its CPU ops with rayon; called from a
/// thread outside the pool, every op is handed to a pool thread and waited for, which costs more
/// than a small op itself. Running the whole session inside the pool makes those calls local.
pub fn run_in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let mut out = None;
    rayon::scope(|_| out = Some(f()));
    out.expect("the scope ran the closure")
}
