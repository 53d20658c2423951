//! A registry-driven fuzzer: every function and method the engine knows, called with generated
//! arguments drawn from edge values (0, −1, huge and non-finite numbers, empty and odd strings,
//! empty and huge shapes, tensors of every rank, real models and datasets), in process, under a
//! memory budget and a time limit per call. A panic, or a call that outlives its time limit even
//! after an interrupt, is a finding, reported as a one-line rhai repro; errors are the expected
//! answer to bad input and are only counted.
//!
//! ```text
//! GAXSH_FUZZ_CALLS=1000000 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! (`tests/fuzz.rs` runs a short fixed-seed round in CI; `FUZZING.md` records the long runs.)

use super::session::{Session, SessionBuilder};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a run is set up.
#[derive(Clone, Debug)]
pub struct FuzzConfig {
    pub calls: u64,
    pub seed: u64,
    /// After this a call is interrupted (as Ctrl-C would).
    pub time_limit: Duration,
    /// The memory budget during the run (`limits`).
    pub budget: u64,
    /// Only functions whose name contains this.
    pub only: Option<String>,
    /// Each call is appended (and flushed) here before it runs, and its time after, so a crash
    /// the process cannot report itself (an abort, the kernel's OOM killer) still leaves its
    /// repro as the last line.
    pub log: Option<std::path::PathBuf>,
}

impl Default for FuzzConfig {
    fn default() -> Self {
        FuzzConfig {
            calls: 2_000,
            seed: 0,
            time_limit: Duration::from_secs(5),
            budget: 1 << 30,
            only: None,
            log: None,
        }
    }
}

/// Something that must never happen, with the line that makes it happen.
#[derive(Clone, Debug)]
pub struct Finding {
    /// "panic" or "hang".
    pub kind: &'static str,
    pub repro: String,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct FuzzReport {
    pub calls: u64,
    pub ok: u64,
    pub errors: u64,
    /// Calls per function name.
    pub per_function: BTreeMap<String, u64>,
    pub findings: Vec<Finding>,
    pub seconds: f64,
}

/// One registered signature: the name and the parameter types as rhai states them.
#[derive(Clone, Debug)]
struct Signature {
    name: String,
    params: Vec<String>,
}

fn signatures(s: &Session) -> Vec<Signature> {
    let mut out: Vec<Signature> = s
        .engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter_map(|sig| {
            let (name, rest) = sig.split_once('(')?;
            let name = name.trim();
            let name = name.strip_prefix("get$").unwrap_or(name);
            let operator = name.chars().all(|c| !c.is_alphanumeric() && c != '_');
            if operator
                || name.starts_with("set$")
                || name.starts_with("index$")
                || ["to_string", "to_debug", "exit", "sleep"].contains(&name)
            {
                return None;
            }
            let inside = rest.rsplit_once(')')?.0;
            let params = if inside.trim().is_empty() {
                Vec::new()
            } else {
                inside
                    .split(',')
                    .map(|p| {
                        p.rsplit_once(':')
                            .map(|(_, t)| t)
                            .unwrap_or(p)
                            .trim()
                            .trim_start_matches("&mut ")
                            .trim_start_matches('&')
                            .to_string()
                    })
                    .collect()
            };
            Some(Signature {
                name: name.to_string(),
                params,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.params.len().cmp(&b.params.len()))
    });
    out
}

const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "7",
    "64",
    "100000",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
];
const FLOATS: &[&str] = &[
    "0.0", "1.0", "-1.0", "0.5", "1e308", "-1e308", "1e-308", "1e9", "3.7",
];
const NONFINITE: &[&str] = &["(0.0 / 0.0)", "(1.0 / 0.0)", "(-1.0 / 0.0)"];
const STRINGS: &[&str] = &[
    "\"\"",
    "\"x\"",
    "\"Saliency\"",
    "\"DeepLift\"",
    "\"LayerGradCam\"",
    "\"f64\"",
    "\"f32\"",
    "\"sum\"",
    "\"mult\"",
    "\"../x\"",
    "\"/dev/zero\"",
    "\"/dev/null\"",
    "\"/\"",
    "\"data/drybean/Dry_Bean_Dataset.csv\"",
    "\"data/images/owl.jpg\"",
    "\"label\"",
    "\"pred\"",
    "\"mobilenet_v1\"",
    "\"no_such_thing\"",
    "\"\\u{0}\"",
    "\"é🦀\"",
];
const ARRAYS: &[&str] = &[
    "[]",
    "[0]",
    "[1]",
    "[2, 3]",
    "[-1]",
    "[0, 0]",
    "[1, 1, 100000]",
    "[4294967296, 4294967296]",
    "[9223372036854775807]",
    "[1.5, -2.0]",
    "[\"a\", \"b\"]",
    "[[1, 2], [3]]",
    "[1, 3, 8, 8]",
];
const TENSORS: &[&str] = &[
    "zeros([0])",
    "zeros([2, 0])",
    "tensor(1.5)",
    "tensor([1, 2, 3])",
    "randn([2, 3])",
    "randn([3, 16])",
    "randn([2, 28])",
    "randn([1, 1, 64, 64])",
    "randn([1, 3, 32, 32])",
    "ones([1, 1, 100000])",
    "tensor([0.0 / 0.0, 1.0])",
    "randn([4]).to_dtype(\"f64\")",
    "arange(6).reshape([2, 3])",
    "tensor([-1, 2])",
];
const MODELS: &[&str] = &[
    "drybean_fpa()",
    "ccf_fpa()",
    "cxc_multi_spa(#{size: 48})",
    "build_model(#{name: \"m\", input: [4], layers: [#{linear: #{out: 3}}]})",
    "resnet(#{blocks: [1], widths: [4], classes: 3, size: 16})",
];
const DATASETS: &[&str] = &[
    "load_drybean().head(5)",
    "load_drybean().head(0)",
    "load_drybean().head(3).map(load_drybean().standardize())",
    "image_folder(\"data/chest_xray/test\", #{size: 48, channels: 1}).head(2)",
];
const MAP_KEYS: &[&str] = &[
    "target",
    "steps",
    "layer",
    "method",
    "methods",
    "modes",
    "batch",
    "chunk",
    "max_steps",
    "target_co",
    "size",
    "classes",
    "dtype",
    "epochs",
    "lr",
    "bins",
    "title",
    "csv",
    "resume",
    "baseline",
    "n",
    "similarity",
    "label",
    "weights",
    "input_shape",
];

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// An argument of a given rhai type, as source text.
fn argument(rng: &mut ChaCha8Rng, ty: &str, depth: usize) -> String {
    let any = |rng: &mut ChaCha8Rng| -> String {
        let pools: [&[&str]; 7] = [INTS, FLOATS, STRINGS, ARRAYS, TENSORS, MODELS, DATASETS];
        let pool = pools[rng.random_range(0..pools.len())];
        pick(rng, pool).to_string()
    };
    match ty {
        "i64" | "INT" | "usize" | "i32" | "u64" => pick(rng, INTS).to_string(),
        "f64" | "FLOAT" | "f32" => {
            if rng.random_bool(0.2) {
                pick(rng, NONFINITE).to_string()
            } else {
                pick(rng, FLOATS).to_string()
            }
        }
        "bool" => ["true", "false"][rng.random_range(0..2)].to_string(),
        "ImmutableString" | "str" | "String" => pick(rng, STRINGS).to_string(),
        "Array" => pick(rng, ARRAYS).to_string(),
        "ScriptTensor" | "Tensor" => pick(rng, TENSORS).to_string(),
        "Net" | "Model" => pick(rng, MODELS).to_string(),
        "Dataset" => pick(rng, DATASETS).to_string(),
        "Map" if depth < 2 => {
            let n = rng.random_range(0..3);
            let entries: Vec<String> = (0..n)
                .map(|_| {
                    let key = pick(rng, MAP_KEYS);
                    format!("{key}: {}", argument(rng, "Dynamic", depth + 1))
                })
                .collect();
            format!("#{{{}}}", entries.join(", "))
        }
        "Map" => "#{}".to_string(),
        // Results of the library's own types, made fresh.
        "AxTable" => {
            "ax_sweep(drybean_fpa(), load_drybean().head(3), #{methods: \"Saliency\"})".to_string()
        }
        "GaxResult" => {
            "gax(drybean_fpa(), load_drybean().head(2), #{max_steps: 2, target_co: 1e9})"
                .to_string()
        }
        "GapReport" | "GapStats" => {
            "gap_stats(ax_sweep(drybean_fpa(), load_drybean().head(3), #{methods: \"Saliency\"}))"
                .to_string()
        }
        "Metrics" => "drybean_fpa().evaluate(load_drybean().head(4))".to_string(),
        "Transform" => "load_drybean().standardize()".to_string(),
        _ => any(rng),
    }
}

/// Run the fuzzer.
pub fn run(cfg: &FuzzConfig) -> FuzzReport {
    let started = Instant::now();
    let old_budget = crate::limits::budget();
    crate::limits::set_budget(cfg.budget);
    let quiet: super::session::OutputSink = Arc::new(|_| {});
    let mut session = SessionBuilder::default().output(quiet.clone()).build();
    let sigs: Vec<Signature> = signatures(&session)
        .into_iter()
        .filter(|s| {
            cfg.only
                .as_ref()
                .is_none_or(|o| s.name.contains(o.as_str()))
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut report = FuzzReport::default();
    if sigs.is_empty() {
        return report;
    }
    // A watchdog interrupts a call that runs past its limit, as Ctrl-C would.
    let current: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let watched = current.clone();
    let limit = cfg.time_limit;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping = stop.clone();
    let watchdog = std::thread::spawn(move || {
        while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            let since = *watched.lock().unwrap_or_else(|e| e.into_inner());
            if since.is_some_and(|t| t.elapsed() > limit) {
                crate::interrupt::request();
            }
        }
    });
    let mut log = cfg.log.as_ref().and_then(|p| std::fs::File::create(p).ok());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..cfg.calls {
        let sig = &sigs[rng.random_range(0..sigs.len())];
        let args: Vec<String> = sig
            .params
            .iter()
            .map(|t| argument(&mut rng, t, 0))
            .collect();
        let repro = format!("{}({})", sig.name, args.join(", "));
        *report.per_function.entry(sig.name.clone()).or_default() += 1;
        if let Some(f) = log.as_mut() {
            use std::io::Write;
            let _ = write!(f, "{i}\t{repro}").and_then(|_| f.flush());
        }
        // A fresh session now and then: state from earlier calls must not pile up.
        if i % 200 == 0 {
            session = SessionBuilder::default().output(quiet.clone()).build();
        }
        let t0 = Instant::now();
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(t0);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            session.eval(&repro, "<fuzz>")
        }));
        *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let took = t0.elapsed();
        crate::interrupt::clear();
        if let Some(f) = log.as_mut() {
            use std::io::Write;
            let _ = writeln!(f, "\t{:.1} ms", took.as_secs_f64() * 1e3);
        }
        report.calls += 1;
        match outcome {
            Ok(Ok(_)) => report.ok += 1,
            Ok(Err(_)) => report.errors += 1,
            Err(p) => {
                let message = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                report.findings.push(Finding {
                    kind: "panic",
                    repro: repro.clone(),
                    message,
                });
                session = SessionBuilder::default().output(quiet.clone()).build();
            }
        }
        // Interrupted and still running long after: Ctrl-C would not have stopped it.
        if took > cfg.time_limit * 3 {
            report.findings.push(Finding {
                kind: "hang",
                repro,
                message: format!("ran {:.1} s despite the interrupt", took.as_secs_f64()),
            });
        }
    }
    std::panic::set_hook(hook);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watchdog.join();
    crate::limits::set_budget(old_budget);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

impl FuzzReport {
    /// A summary with every finding as a one-line repro.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} calls of {} functions in {:.0} s: {} returned, {} errors, {} findings\n",
            self.calls,
            self.per_function.len(),
            self.seconds,
            self.ok,
            self.errors,
            self.findings.len()
        );
        for f in &self.findings {
            s.push_str(&format!("{}: {}    // {}\n", f.kind, f.repro, f.message));
        }
        s
    }
}
