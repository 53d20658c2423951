//! Progress of long loops, shown by whichever front-end runs them.
//!
//! The library reports `(done, total, message)`; the CLI draws a bar on stderr, the Jupyter kernel
//! updates one display in place, tests see nothing. A front-end installs its reporter once.

use std::sync::{Arc, RwLock};

pub trait Reporter: Send + Sync {
    /// A task with `total` steps starts.
    fn start(&self, label: &str, total: u64);
    /// `done` of the `total` steps are finished; `message` says how it goes (loss, accuracy…).
    fn update(&self, done: u64, message: &str);
    /// The task ended (completed, failed or interrupted).
    fn finish(&self);
}

struct Silent;

impl Reporter for Silent {
    fn start(&self, _: &str, _: u64) {}
    fn update(&self, _: u64, _: &str) {}
    fn finish(&self) {}
}

static REPORTER: RwLock<Option<Arc<dyn Reporter>>> = RwLock::new(None);

/// Install the reporter used by every later task.
pub fn set_reporter(r: Arc<dyn Reporter>) {
    *REPORTER.write().unwrap_or_else(|p| p.into_inner()) = Some(r);
}

fn reporter() -> Arc<dyn Reporter> {
    REPORTER
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| Arc::new(Silent))
}

/// A running task; it reports its end when dropped, also on errors and interrupts.
pub struct Task {
    reporter: Arc<dyn Reporter>,
}

impl Task {
    pub fn start(label: &str, total: u64) -> Task {
        let reporter = reporter();
        reporter.start(label, total);
        Task { reporter }
    }

    pub fn update(&self, done: u64, message: &str) {
        self.reporter.update(done, message);
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.reporter.finish();
    }
}
