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
//! (`tests/fuzz/main.rs` runs a short fixed-seed round in CI; `FUZZING.md` records the long runs.)

use gaxsh::front::{Session, SessionBuilder};
use gaxsh::script::OutputSink;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a run is set up.
#[derive(Clone)]
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
    /// Called before each fresh session: calls write files, some onto the data the next calls
    /// read (`write_text("data/…csv", …)`), so the caller puts its data back here.
    pub reset: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Draw slow functions less often, in proportion to their measured time, so a long run
    /// makes more calls per hour. The call stream then depends on the machine's speed, so the
    /// CI round leaves it off: the same seed gives the same calls on every machine.
    pub adaptive: bool,
}

impl Default for FuzzConfig {
    fn default() -> Self {
        FuzzConfig {
            calls: 2_000,
            seed: 0,
            time_limit: Duration::from_secs(3),
            budget: 1 << 30,
            only: None,
            log: None,
            reset: None,
            adaptive: false,
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
    /// Calls per function name that returned a value (a function never here was only ever
    /// refused: the generated arguments do not reach its body).
    pub returned: BTreeMap<String, u64>,
    pub findings: Vec<Finding>,
    pub seconds: f64,
}

/// One registered signature: the name and the parameter types as rhai states them.
#[derive(Clone, Debug)]
struct Signature {
    name: String,
    params: Vec<String>,
    /// A property getter: called as `(value).name`.
    getter: bool,
}

fn signatures(s: &Session) -> Vec<Signature> {
    let mut out: Vec<Signature> = s
        .engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter_map(|sig| {
            let (name, rest) = sig.split_once('(')?;
            let name = name.trim();
            let getter = name.starts_with("get$");
            let name = name.strip_prefix("get$").unwrap_or(name);
            let operator = name.chars().all(|c| !c.is_alphanumeric() && c != '_');
            if operator
                || name.starts_with("set$")
                || name.starts_with("index$")
                || ["to_string", "to_debug", "exit", "sleep"].contains(&name)
            {
                return None;
            }
            // The parameters end at the first `)`: a return type such as `Result<(), …>`
            // has parentheses of its own.
            let inside = &rest[..rest.find(')')?];
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
                getter: getter && params.len() == 1,
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
    // A big folder nothing can be written into, not even as root (CI runs as root: "/" would
    // fill the machine's root with reports).
    "\"/proc\"",
    "\"data/drybean/Dry_Bean_Dataset.csv\"",
    "\"data/images/owl.jpg\"",
    "\"label\"",
    "\"pred\"",
    "\"mobilenet_v1\"",
    "\"no_such_thing\"",
    "\"\\u0000\"",
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
    "[1.0, 1e308, -1e308]",
    "[1e-300, 2e-300]",
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

/// Values that fit together: a model, an input it takes and a dataset of such inputs. Half the
/// calls draw their arguments from one world, so they get past argument checks into the body of
/// the function (edge values alone are mostly refused at the door).
struct World {
    model: &'static str,
    input: &'static str,
    data: &'static str,
}

const WORLDS: &[World] = &[
    World {
        model: "drybean_fpa()",
        input: "randn([3, 16])",
        data: "load_drybean().head(6)",
    },
    World {
        model: "ccf_fpa()",
        input: "randn([2, 28])",
        data: "load_drybean().head(4)",
    },
    World {
        model: "cxc_multi_spa(#{size: 48})",
        input: "randn([1, 1, 48, 48])",
        data: "image_folder(\"data/chest_xray/test\", #{size: 48, channels: 1}).head(2)",
    },
    World {
        model: "build_model(#{name: \"m\", input: [4], layers: [#{linear: #{out: 5}}, \"relu\", #{linear: #{out: 3}}]})",
        input: "randn([2, 4])",
        data: "load_drybean().head(3)",
    },
    World {
        model: "resnet(#{blocks: [1], widths: [4], classes: 3, size: 16})",
        input: "randn([2, 3, 16, 16])",
        data: "image_folder(\"data/chest_xray/test\", #{size: 16, channels: 3}).head(2)",
    },
];

const SANE_INTS: &[&str] = &["0", "1", "2", "3"];
const SANE_FLOATS: &[&str] = &["0.5", "1.0", "0.1", "2.0", "-0.5"];
const SANE_STRINGS: &[&str] = &[
    "\"Saliency\"",
    "\"InputXGradient\"",
    "\"LayerGradCam\"",
    "\"Deconvolution\"",
    "\"GuidedBackprop\"",
    "\"DeepLift\"",
    "\"IntegratedGradients\"",
    "\"sum\"",
    "\"mult\"",
    "\"f32\"",
    "\"f64\"",
    "\"cpu\"",
    "\"out.png\"",
    "\"out.svg\"",
    "\"t.csv\"",
    "\"w.safetensors\"",
    "\"m.onnx\"",
    "\"m.yaml\"",
    "\"report\"",
    "\"Class\"",
    "\"label\"",
    "\"pred\"",
    "\"0\"",
    "\"data/drybean/Dry_Bean_Dataset.csv\"",
    "\"data/images/owl.jpg\"",
    "\"data/chest_xray/test\"",
    "\"data/pneumoniamnist/pneumoniamnist.npz\"",
    "\"name: m\\ninput: [4]\\nlayers:\\n  - linear: {out: 3}\\n\"",
];
const SANE_ARRAYS: &[&str] = &[
    "[2, 3]",
    "[0, 1]",
    "[1]",
    "[\"Saliency\"]",
    "[\"Saliency\", \"DeepLift\"]",
    "[0.5, 1.0]",
    "[\"a\", \"b\", \"c\"]",
    "[1.0, 2.0, 3.0]",
    "[1e308, -1e308]",
];
const SANE_OPTIONS: &[(&str, &str)] = &[
    ("target", "0"),
    ("steps", "3"),
    ("method", "\"Saliency\""),
    ("methods", "[\"Saliency\", \"DeepLift\"]"),
    ("modes", "[\"sum\", \"mult\"]"),
    ("batch", "2"),
    ("max_steps", "2"),
    ("target_co", "1e9"),
    ("size", "16"),
    ("classes", "3"),
    ("epochs", "1"),
    ("lr", "0.01"),
    ("bins", "10"),
    ("title", "\"t\""),
    ("label", "\"Class\""),
    ("n", "2"),
    ("csv", "\"co.csv\""),
    ("resume", "true"),
    ("baseline", "0.0"),
    ("similarity", "\"mse\""),
    ("dtype", "\"f64\""),
    ("abs", "true"),
];

/// An argument of a given rhai type, as source text: from `world` when given (now and then an
/// edge value even so), else an edge value.
fn argument(rng: &mut ChaCha8Rng, ty: &str, depth: usize, world: Option<&World>) -> String {
    match world {
        Some(w) if !rng.random_bool(0.1) => sane(rng, ty, depth, w),
        _ => edge(rng, ty, depth),
    }
}

fn sane(rng: &mut ChaCha8Rng, ty: &str, depth: usize, w: &World) -> String {
    match ty {
        "i64" | "INT" | "usize" | "i32" | "u64" => pick(rng, SANE_INTS).to_string(),
        "f64" | "FLOAT" | "f32" => pick(rng, SANE_FLOATS).to_string(),
        "string" | "ImmutableString" | "str" | "String" => pick(rng, SANE_STRINGS).to_string(),
        "array" | "Array" => match rng.random_range(0..4) {
            0 => format!("[{0}, {0}]", w.input),
            1 => format!("[{0}, {0}]", w.data),
            _ => pick(rng, SANE_ARRAYS).to_string(),
        },
        "Tensor" | "ScriptTensor" => w.input.to_string(),
        "Model" | "Net" => w.model.to_string(),
        "Dataset" => w.data.to_string(),
        "map" | "Map" if depth < 2 && rng.random_bool(0.1) => {
            // Maps that are data, not options (named groups of values; named tensors).
            if rng.random_bool(0.5) {
                "#{a: [1.0, 2.0], b: [3.0, 4.5]}".to_string()
            } else {
                format!("#{{w: {}}}", w.input)
            }
        }
        "map" | "Map" if depth < 2 => {
            let n = rng.random_range(0..4);
            let entries: Vec<String> = (0..n)
                .map(|_| {
                    let (k, v) = SANE_OPTIONS[rng.random_range(0..SANE_OPTIONS.len())];
                    format!("{k}: {v}")
                })
                .collect();
            format!("#{{{}}}", entries.join(", "))
        }
        "bool" | "map" | "Map" | "AxTable" | "GaxResult" | "GapReport" | "GapStats" | "Metrics"
        | "Transform" | "MetricTable" => edge(rng, ty, depth),
        // An untyped parameter: something of the world, or a plain value.
        _ => match rng.random_range(0..6) {
            0 => w.input.to_string(),
            1 => w.data.to_string(),
            2 => pick(rng, SANE_INTS).to_string(),
            3 => pick(rng, SANE_STRINGS).to_string(),
            4 => pick(rng, SANE_ARRAYS).to_string(),
            _ => pick(rng, SANE_FLOATS).to_string(),
        },
    }
}

/// An edge value of a given rhai type.
fn edge(rng: &mut ChaCha8Rng, ty: &str, depth: usize) -> String {
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
        "string" | "ImmutableString" | "str" | "String" => pick(rng, STRINGS).to_string(),
        "array" | "Array" => pick(rng, ARRAYS).to_string(),
        "Tensor" | "ScriptTensor" => pick(rng, TENSORS).to_string(),
        "Model" | "Net" => pick(rng, MODELS).to_string(),
        "Dataset" => pick(rng, DATASETS).to_string(),
        "map" | "Map" if depth < 2 => {
            let n = rng.random_range(0..3);
            let entries: Vec<String> = (0..n)
                .map(|_| {
                    let key = pick(rng, MAP_KEYS);
                    format!("{key}: {}", edge(rng, "Dynamic", depth + 1))
                })
                .collect();
            format!("#{{{}}}", entries.join(", "))
        }
        "map" | "Map" => "#{}".to_string(),
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
        "MetricTable" => "evaluate_heatmaps(drybean_fpa(), load_drybean().head(3), #{methods: \"Saliency\", perturbations: 1, layers: 1})".to_string(),
        "FitResult" => "drybean_fpa().fit(load_drybean().head(4), #{epochs: 1})".to_string(),
        // Function pointers: a registered function's name is one (`help(attribute)`).
        "Fn" | "FnPtr" => pick(rng, &["abs", "attribute", "Fn(\"sum\")", "|x| x"]).to_string(),
        "Transform" => "load_drybean().standardize()".to_string(),
        _ => any(rng),
    }
}

/// Run the fuzzer.
pub fn run(cfg: &FuzzConfig) -> FuzzReport {
    let started = Instant::now();
    let old_budget = gaxsh::limits::budget();
    gaxsh::limits::set_budget(cfg.budget);
    let quiet: OutputSink = Arc::new(|_| {});
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
    // A watchdog interrupts a call that runs past its limit, as Ctrl-C would. A call that the
    // interrupt does not stop either would hang the run itself: past `GIVE_UP` limits, the
    // watchdog prints it as a finding and ends the process.
    const GIVE_UP: u32 = 6;
    let current: Arc<std::sync::Mutex<Option<(Instant, String)>>> = Arc::default();
    let watched = current.clone();
    let limit = cfg.time_limit;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping = stop.clone();
    let watchdog = std::thread::spawn(move || {
        while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            let running = watched.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let Some((since, repro)) = running else {
                continue;
            };
            if since.elapsed() > limit * GIVE_UP {
                eprintln!(
                    "hang: {repro}    // still running {:.0} s after the interrupt; the fuzz run stops here",
                    (since.elapsed() - limit).as_secs_f64()
                );
                std::process::exit(3);
            }
            if since.elapsed() > limit {
                gaxsh::interrupt::request();
            }
        }
    });
    let mut log = cfg.log.as_ref().and_then(|p| std::fs::File::create(p).ok());
    const SLOW_MS: f64 = 20.0;
    let mut weights = vec![1.0f64; sigs.len()];
    let mut mean_ms = vec![0.0f64; sigs.len()];
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..cfg.calls {
        let pick_at = rng.random_range(0.0..weights.iter().sum::<f64>());
        let k = weights
            .iter()
            .scan(0.0, |acc, w| {
                *acc += w;
                Some(*acc)
            })
            .position(|c| c > pick_at)
            .unwrap_or(sigs.len() - 1);
        let sig = &sigs[k];
        let world = rng
            .random_bool(0.5)
            .then(|| &WORLDS[rng.random_range(0..WORLDS.len())]);
        let args: Vec<String> = sig
            .params
            .iter()
            .map(|t| argument(&mut rng, t, 0, world))
            .collect();
        let repro = if sig.getter {
            format!("({}).{}", args[0], sig.name)
        } else {
            format!("{}({})", sig.name, args.join(", "))
        };
        *report.per_function.entry(sig.name.clone()).or_default() += 1;
        if let Some(f) = log.as_mut() {
            use std::io::Write;
            let _ = write!(f, "{i}\t{repro}").and_then(|_| f.flush());
        }
        // A fresh session now and then: state from earlier calls must not pile up.
        if i % 200 == 0 {
            if let Some(reset) = &cfg.reset {
                reset();
            }
            session = SessionBuilder::default().output(quiet.clone()).build();
        }
        let t0 = Instant::now();
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some((t0, repro.clone()));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            session.eval(&repro, "<fuzz>")
        }));
        *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let took = t0.elapsed();
        gaxsh::interrupt::clear();
        // Slow functions (building AlexNet takes a second) are drawn less often, in proportion,
        // so the run spends its time on many calls rather than a few; every one is still drawn.
        let ms = took.as_secs_f64() * 1e3;
        mean_ms[k] = if mean_ms[k] == 0.0 {
            ms
        } else {
            0.8 * mean_ms[k] + 0.2 * ms
        };
        if cfg.adaptive {
            weights[k] = 1.0 / (1.0 + mean_ms[k] / SLOW_MS);
        }
        if let Some(f) = log.as_mut() {
            use std::io::Write;
            let answer = match &outcome {
                Ok(Ok(_)) => "ok".to_string(),
                Ok(Err(e)) => e
                    .message
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(120)
                    .collect(),
                Err(_) => "PANIC".to_string(),
            };
            let _ = writeln!(f, "\t{:.1} ms\t{answer}", took.as_secs_f64() * 1e3);
        }
        report.calls += 1;
        match outcome {
            Ok(Ok(_)) => {
                report.ok += 1;
                *report.returned.entry(sig.name.clone()).or_default() += 1;
            }
            Ok(Err(_)) => report.errors += 1,
            Err(p) => {
                let message = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("panic: {repro}    // {message}");
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
            let message = format!("ran {:.1} s despite the interrupt", took.as_secs_f64());
            eprintln!("hang: {repro}    // {message}");
            report.findings.push(Finding {
                kind: "hang",
                repro,
                message,
            });
        }
    }
    std::panic::set_hook(hook);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watchdog.join();
    gaxsh::limits::set_budget(old_budget);
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
        let never: Vec<&str> = self
            .per_function
            .keys()
            .filter(|f| !self.returned.contains_key(*f))
            .map(String::as_str)
            .collect();
        if !never.is_empty() {
            s.push_str(&format!(
                "{} functions never returned a value (only refused): {}\n",
                never.len(),
                never.join(", ")
            ));
        }
        for f in &self.findings {
            s.push_str(&format!("{}: {}    // {}\n", f.kind, f.repro, f.message));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_registry() {
        let s = SessionBuilder::default().build();
        let sigs = signatures(&s);
        assert!(sigs.len() > 200, "{}", sigs.len());
        // Parameter types as rhai writes them, each one the generator knows by name.
        let known = [
            "Tensor",
            "string",
            "i64",
            "map",
            "Model",
            "f64",
            "Dataset",
            "array",
            "bool",
            "AxTable",
            "GaxResult",
            "Metrics",
            "Transform",
            "GapStats",
            "FitResult",
            "MetricTable",
            "Fn",
        ];
        let unknown: Vec<&Signature> = sigs
            .iter()
            .filter(|g| {
                g.params
                    .iter()
                    .any(|p| !known.contains(&p.as_str()) && !p.contains("Dynamic"))
            })
            .collect();
        assert!(unknown.len() <= 3, "{unknown:?}");
    }
}
