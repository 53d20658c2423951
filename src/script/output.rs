//! Where a session's printed text goes: `print`, `debug`, `help()` and `show` all write through
//! one sink, so the REPL, the kernel and the tests each decide where text ends up.

use std::sync::Arc;

/// Where `print` and `debug` output goes (stdout, a notebook stream, a test buffer).
pub type OutputSink = Arc<dyn Fn(&str) + Send + Sync>;
