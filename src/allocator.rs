//! How long gaxsh keeps memory it has freed (the binary's global allocator is mimalloc,
//! `main.rs`).
//!
//! A sweep frees and reallocates the same large buffers batch after batch. Memory handed back
//! to the kernel comes back as fresh pages that must be faulted in and zeroed, which on some
//! machines costs more than the arithmetic (BENCHMARKS.md). So freed pages are kept while a
//! computation runs ([`keep_freed_pages`]) and handed back when it ends: after each REPL line
//! and each notebook cell ([`return_freed_pages`]), and at exit.

// mimalloc's C API (linked through the `mimalloc` crate; declared here rather than pulling in
// its `extended` bindings for two calls).
unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    fn mi_collect(force: bool);
}

/// `mi_option_purge_delay` in mimalloc 2's `mi_option_t` (mimalloc.h).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Milliseconds a freed page stays before mimalloc hands it back by itself (mimalloc's default
/// is 10; whole arenas wait ten times as long). A timed purge returns everything then free,
/// including the buffers the next batch is about to reuse: at 5 s, the ImageNet pipeline spent
/// 6–18 s of a 45–60 s slice in the kernel on page faults. At a minute, a long script is
/// purged rarely; an interactive session returns its memory after each line anyway.
const PURGE_DELAY_MS: std::ffi::c_long = 60_000;

/// Keep freed pages for reuse while a computation runs. `MIMALLOC_PURGE_DELAY` in the
/// environment still decides, as mimalloc documents.
pub fn keep_freed_pages() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a process-wide option of the allocator; any thread may call it at any
        // time.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}

/// Hand the pages freed so far back to the kernel: called when a session goes idle (after a
/// REPL line, after a notebook cell), so an idle session holds only what its variables need.
pub fn return_freed_pages() {
    // SAFETY: a process-wide collection any thread may request; it frees only unused memory.
    unsafe { mi_collect(true) };
}
