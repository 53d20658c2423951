//! Script bindings: help, files, timing and threads.

use super::convert::*;
use super::registry::{Category::Session as Cat, FnDoc, Registrar, func};
use std::sync::OnceLock;
use std::time::Instant;

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(Cat, "version", "version() -> string", "The gaxsh version.")
        .example_is("version()", env!("CARGO_PKG_VERSION")),
    func(Cat, "now", "now() -> float", "Seconds since the session started (for timing). On a GPU it first waits for the work \
         queued there, so that `now() - t0` times the work, not its launch.")
        .example("let t = now(); now() - t"),
    func(Cat, "format_float", "format_float(x, decimals) -> string", "A number with a fixed number of decimals.")
        .example_is("format_float(3.14159, 2)", "3.14"),
    func(Cat, "temp_path", "temp_path(name) -> string", "A path in a scratch folder private to this process, removed when it ends; the name stays inside it.")
        .example("temp_path(\"x.csv\")"),
    func(Cat, "exists", "exists(path) -> bool", "Whether a file or folder exists.")
        .example_is("exists(\"/no/such/file\")", "false"),
    func(Cat, "list_dir", "list_dir(path) -> array", "The names in a folder, sorted bytewise.")
        .example_is("list_dir(\"data/chest_xray/test\")", "[\"NORMAL\", \"PNEUMONIA\"]"),
    func(Cat, "read_text", "read_text(path) -> string", "The whole content of a text file.")
        .example("let p = temp_path(\"t.txt\"); write_text(p, \"hi\"); read_text(p)"),
    func(Cat, "write_text", "write_text(path, text)", "Write a text file (whole or not at all; folders created).")
        .example("write_text(temp_path(\"t.txt\"), \"hello\")"),
    func(Cat, "peak_memory_mb", "peak_memory_mb() -> float", "The process's peak resident memory so far in MiB (Linux VmHWM; -1 where unknown).")
        .example_is("peak_memory_mb() > 0", "true"),
    func(Cat, "threads", "threads() -> int", "The number of compute threads (see --threads / GAXSH_THREADS).")
        .example("threads()"),
    func(Cat, "device", "device() -> string | device(name) | x.device", "Where new tensors, models and loaded data go: \"cpu\", or \"cuda\" / \"cuda:N\" in a \
         gaxsh built with --features cuda (see --device / GAXSH_DEVICE, docs/GPU.md). With a \
         name, switch; models already built stay where they are and move their inputs to \
         themselves. `x.device` is where a tensor or a model's weights live.")
        .example_is("[device(), zeros([1]).device, drybean_fpa().device]", "[\"cpu\", \"cpu\", \"cpu\"]"),
    func(Cat, "help", "help() | help(name)", "List every function by category, or show one function's signature, doc and example.")
        .example("help(\"randn\")"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    start();
    r.register_fn("version", || env!("CARGO_PKG_VERSION").to_string());

    r.register_fn("now", || {
        // A failed wait shows up in the next tensor operation anyway.
        let _ = crate::device::current().synchronize();
        start().elapsed().as_secs_f64()
    });

    r.register_fn(
        "format_float",
        |x: rhai::Dynamic, decimals: i64| -> RResult<String> {
            crate::tensor::format::fixed(number(&x, "format_float")?, decimals).rh()
        },
    );

    r.register_fn("temp_path", |name: &str| -> RResult<String> {
        Ok(crate::io::scratch_path(name).rh()?.display().to_string())
    });

    r.register_fn("exists", |p: &str| std::path::Path::new(p).exists());

    r.register_fn("list_dir", |p: &str| -> RResult<rhai::Array> {
        Ok(strings(&crate::io::list_dir(p.as_ref()).rh()?))
    });

    r.register_fn("read_text", |p: &str| -> RResult<String> {
        crate::limits::read_text(std::path::Path::new(p)).map_err(to_rhai)
    });

    r.register_fn("write_text", |p: &str, text: &str| -> RResult<()> {
        crate::io::write_atomic(p.as_ref(), text.as_bytes()).rh()
    });

    r.register_fn("peak_memory_mb", crate::limits::peak_memory_mb);

    r.register_fn("threads", || crate::threads::current() as i64);

    r.register_fn("device", || crate::device::name(&crate::device::current()));
    r.register_fn("device", |name: &str| -> RResult<()> {
        crate::device::parse(name).map(crate::device::set).rh()
    });
}
