//! The one Ctrl-C flag of the process.
//!
//! The front-ends (CLI, REPL, Jupyter kernel) set it from a signal handler or an interrupt
//! request; the rhai engine polls it between operations, and every long native loop (training,
//! AX sweeps, GAX, attribution chunks) calls [`check`] so that an interrupt stops native code as
//! quickly as script code.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ask the running computation to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forget an earlier request (before the next evaluation starts).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// `Err(Error::Interrupted)` once an interrupt was requested.
pub fn check() -> Result<()> {
    if requested() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
