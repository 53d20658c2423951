//! The `gaxsh` command: run a script, evaluate an expression, open the REPL, show help.

use clap::{Parser, Subcommand};
use gaxsh::front::{ScriptError, SessionBuilder};
use gaxsh::script::ScriptArgs;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gaxsh",
    version,
    about = "A scripting kernel for heatmap-explainability research (AX process, CO score, GAX).",
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true,
    after_help = "Examples:\n  gaxsh scripts/drybean.rhai            run the dry-bean experiment\n  gaxsh scripts/covid.rhai --help       list a script's options\n  gaxsh -e 'randn([2, 3]).shape'        evaluate one expression\n  gaxsh                                 open the REPL"
)]
struct Cli {
    /// Evaluate an expression (or statements) and print the value.
    #[arg(
        short = 'e',
        long = "eval",
        value_name = "EXPR",
        conflicts_with = "script"
    )]
    eval: Option<String>,

    /// Compute threads (default 1, or GAXSH_THREADS; see README "Threads").
    #[arg(long, value_name = "N", global = true)]
    threads: Option<usize>,

    /// Where tensors and models live: cpu (default, or GAXSH_DEVICE), cuda, cuda:N
    /// (a build with --features cuda; docs/GPU.md).
    #[arg(long, value_name = "NAME", global = true)]
    device: Option<String>,

    /// The most memory one request may take, e.g. 8G or 512M (default: GAXSH_MAX_MEMORY, else
    /// three quarters of physical memory, the container's limit or `ulimit -v`, whichever is
    /// least). Larger tensors, files and models are refused.
    #[arg(long, value_name = "SIZE", global = true)]
    max_memory: Option<String>,

    /// Run only shard I of N of every AX sweep and GAX run (I counts from 0), or `none`;
    /// default: GAXSH_SHARD, a Slurm array or a Kubernetes indexed job. `gaxsh merge` joins them.
    #[arg(long, value_name = "I/N", global = true)]
    shard: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,

    /// A .rhai script to run.
    #[arg(value_name = "SCRIPT")]
    script: Option<PathBuf>,

    /// Options passed to the script (`--name value`, `--flag`); `--help` after the script lists them.
    #[arg(
        value_name = "OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        requires = "script"
    )]
    script_args: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Repeat a run from the run.yaml it wrote (same script, options and seed).
    Rerun {
        /// The run.yaml of an earlier run.
        record: PathBuf,
        /// Repeat it even though a recorded input (script, data, weights) has changed since.
        #[arg(long)]
        allow_changed_data: bool,
        /// Options that override the recorded ones (`--out other/dir`…).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        overrides: Vec<String>,
    },
    /// Run as a Jupyter kernel (`-f CONNECTION_FILE`), or `kernel install` its kernelspec.
    Kernel {
        /// The connection file Jupyter passes to the kernel.
        #[arg(short = 'f', long = "connection-file", value_name = "FILE")]
        connection_file: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<KernelAction>,
    },
    /// Join the per-shard outputs of a sharded run into what the unsharded run writes.
    Merge {
        /// The outputs as the script names them (`out/co_scores.csv`, `out/gax`); their
        /// `.shard-I-of-N` siblings are found beside them.
        #[arg(required = true)]
        targets: Vec<PathBuf>,
    },
    /// Show the function list, or one function's documentation.
    Help {
        /// A function name or a category.
        name: Option<String>,
        /// Print the whole registry as Markdown (docs/FUNCTIONS.md).
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Subcommand)]
enum KernelAction {
    /// Write the kernelspec "gaxsh (rhai)" so Jupyter can start this gaxsh.
    Install {
        /// Into the user's Jupyter folder (the default).
        #[arg(long, conflicts_with = "prefix")]
        user: bool,
        /// Into PREFIX/share/jupyter (a virtual environment: `--prefix "$VIRTUAL_ENV"`).
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<PathBuf>,
        /// The kernelspec's name.
        #[arg(long, default_value = "gaxsh")]
        name: String,
    },
}

/// mimalloc keeps freed tensor buffers for reuse; glibc's malloc hands large ones back to the
/// kernel and faults fresh pages in on the next batch (142k page faults against 1.6k for
/// 20 dry-bean sweeps, 15–25 % of the time; `perf stat -e page-faults`, BENCHMARKS.md). How
/// long it keeps them: `allocator.rs`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    gaxsh::allocator::keep_freed_pages();
    // candle appends backtraces to errors when this is set; users get one line.
    // SAFETY: first thing in main, no other threads yet.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let (own, script_args) = split_script_args(std::env::args().collect());
    let mut cli = Cli::parse_from(own);
    cli.script_args = script_args;
    if let Err(e) = gaxsh::limits::init(cli.max_memory.as_deref()) {
        eprintln!("gaxsh: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = gaxsh::threads::init(cli.threads) {
        eprintln!("gaxsh: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = gaxsh::device::init(cli.device.as_deref()) {
        eprintln!("gaxsh: {e}");
        return ExitCode::from(2);
    }
    if let Err(code) = choose_shard(cli.shard.as_deref()) {
        return code;
    }
    install_ctrlc(matches!(cli.command, Some(Command::Kernel { .. })));
    gaxsh::progress::set_reporter(std::sync::Arc::new(
        gaxsh::cli_progress::TerminalProgress::new(),
    ));

    let code = gaxsh::threads::run_in_pool(move || dispatch(&cli));
    gaxsh::io::remove_scratch();
    code
}

fn dispatch(cli: &Cli) -> ExitCode {
    match (&cli.command, &cli.eval, &cli.script) {
        (Some(Command::Help { name, markdown }), _, _) => help(name.as_deref(), *markdown),
        (
            Some(Command::Rerun {
                record,
                allow_changed_data,
                overrides,
            }),
            _,
            _,
        ) => rerun(record, *allow_changed_data, overrides),
        (Some(Command::Merge { targets }), _, _) => merge(targets),
        (
            Some(Command::Kernel {
                connection_file,
                action,
            }),
            _,
            _,
        ) => kernel(connection_file.as_deref(), action.as_ref()),
        (None, Some(expr), _) => eval_expr(expr),
        (None, None, Some(script)) => run_script(script, &cli.script_args),
        (None, None, None) => {
            let session = SessionBuilder::default().build();
            match gaxsh::repl::run(session) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gaxsh: terminal error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// Everything after the script path belongs to the script, `--help` included, so split argv
/// there before clap sees it.
fn split_script_args(argv: Vec<String>) -> (Vec<String>, Vec<String>) {
    const TAKES_VALUE: &[&str] = &[
        "-e",
        "--eval",
        "--threads",
        "--shard",
        "--device",
        "--max-memory",
    ];
    const SUBCOMMANDS: &[&str] = &["help", "rerun", "kernel", "merge"];
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if TAKES_VALUE.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        if SUBCOMMANDS.contains(&a.as_str()) {
            break;
        }
        // The script path: keep it, hand the rest to the script.
        return (argv[..=i].to_vec(), argv[i + 1..].to_vec());
    }
    (argv, Vec::new())
}

/// First Ctrl-C asks the computation to stop; a second one (if it does not) ends the process.
/// A Jupyter kernel only ever stops the running cell: Jupyter ends it by message.
fn install_ctrlc(kernel: bool) {
    let _ = ctrlc::set_handler(move || {
        if gaxsh::interrupt::requested() && !kernel {
            eprintln!("\ninterrupted twice: exiting");
            gaxsh::io::exit(130);
        }
        gaxsh::interrupt::request();
    });
}

#[cfg(feature = "kernel")]
fn kernel(connection_file: Option<&std::path::Path>, action: Option<&KernelAction>) -> ExitCode {
    use gaxsh::kernel::{InstallTarget, install, run};
    match (connection_file, action) {
        (_, Some(KernelAction::Install { prefix, name, .. })) => {
            let target = match prefix {
                Some(p) => InstallTarget::Prefix(p.clone()),
                None => InstallTarget::User,
            };
            match install(&target, name) {
                Ok(dir) => {
                    println!(
                        "installed the Jupyter kernel \"gaxsh (rhai)\" in {}",
                        dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("gaxsh: {e}");
                    ExitCode::from(1)
                }
            }
        }
        (Some(file), None) => match run(file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gaxsh kernel: {e}");
                ExitCode::from(1)
            }
        },
        (None, None) => {
            eprintln!(
                "gaxsh kernel: give -f CONNECTION_FILE (Jupyter does), or `gaxsh kernel install`"
            );
            ExitCode::from(2)
        }
    }
}

#[cfg(not(feature = "kernel"))]
fn kernel(_: Option<&std::path::Path>, _: Option<&KernelAction>) -> ExitCode {
    eprintln!(
        "gaxsh: this build has no Jupyter kernel (it was built without the `kernel` feature)"
    );
    ExitCode::from(2)
}

/// The shard from `--shard`, else from the job's environment (said on stderr, since a job
/// array may not mean to shard: `--shard none` says so).
fn choose_shard(flag: Option<&str>) -> Result<(), ExitCode> {
    use gaxsh::shard::{Shard, set_current};
    let chosen = match flag {
        Some("none") => None,
        Some(s) => Some(Shard::parse(s).map_err(|e| {
            eprintln!("gaxsh: --shard: {e}");
            ExitCode::from(2)
        })?),
        None => match Shard::from_vars(|k| std::env::var(k).ok()) {
            Ok(Some((s, from))) => {
                eprintln!("gaxsh: running shard {s} (from {from}; --shard none to run everything)");
                Some(s)
            }
            Ok(None) => None,
            Err(e) => {
                eprintln!("gaxsh: {e}");
                return Err(ExitCode::from(2));
            }
        },
    };
    set_current(chosen);
    Ok(())
}

fn merge(targets: &[PathBuf]) -> ExitCode {
    for t in targets {
        match gaxsh::merge::merge(t) {
            Ok(msg) => gaxsh::io::say(&msg),
            Err(e) => {
                eprintln!("gaxsh merge: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

fn help(name: Option<&str>, markdown: bool) -> ExitCode {
    let session = SessionBuilder::default().build();
    let reg = &session.registry;
    if markdown {
        gaxsh::io::say(reg.markdown().trim_end_matches('\n'));
    } else if let Some(n) = name {
        gaxsh::io::say(&reg.help(n));
    } else {
        gaxsh::io::say(reg.overview().trim_end());
    }
    ExitCode::SUCCESS
}

fn report(e: &ScriptError) -> ExitCode {
    if e.help_shown {
        return ExitCode::SUCCESS;
    }
    eprintln!("{e}");
    if e.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::from(1)
    }
}

fn eval_expr(expr: &str) -> ExitCode {
    let mut session = SessionBuilder::default().build();
    match session.eval(expr, "<-e>") {
        Ok(v) => {
            if let Some(s) = session.display(&v) {
                gaxsh::io::say(&s);
            }
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}

fn rerun(record: &std::path::Path, allow_changed: bool, overrides: &[String]) -> ExitCode {
    let text = match gaxsh::limits::read_text(record) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gaxsh: {}: {e}", record.display());
            return ExitCode::from(2);
        }
    };
    let rec =
        match gaxsh::report::record::RunRecord::from_yaml(&text, &record.display().to_string()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("gaxsh: {e}");
                return ExitCode::from(2);
            }
        };
    if rec.script.is_empty() {
        eprintln!("gaxsh: {} does not name a script", record.display());
        return ExitCode::from(2);
    }
    let changed = rec.changed_inputs();
    if !changed.is_empty() {
        if !allow_changed {
            eprintln!(
                "gaxsh: the run's inputs are not what they were, so it would not repeat: {}\n(--allow-changed-data reruns anyway)",
                changed.join(", ")
            );
            return ExitCode::from(2);
        }
        eprintln!("gaxsh: rerunning on changed inputs: {}", changed.join(", "));
    }
    // Later options win, so the overrides go after the recorded ones.
    let mut args = rec.rerun_args();
    args.extend(overrides.iter().cloned());
    eprintln!("gaxsh: rerunning {} {}", rec.script, args.join(" "));
    // Scripts that never call seed() draw from the recorded seed too.
    gaxsh::tensor::random::seed(rec.seed);
    run_script(std::path::Path::new(&rec.script), &args)
}

fn run_script(path: &std::path::Path, raw: &[String]) -> ExitCode {
    let args = match ScriptArgs::parse(&path.display().to_string(), raw) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("gaxsh: {msg}");
            return ExitCode::from(2);
        }
    };
    if !path.exists() {
        eprintln!("gaxsh: no such script: {}", path.display());
        return ExitCode::from(2);
    }
    let help_asked = args.help;
    let mut session = SessionBuilder::default().args(args).build();
    match session.run_file(path) {
        Ok(_) => {
            if help_asked {
                gaxsh::io::say(&format!(
                    "{} declares no options (it does not call options()).",
                    path.display()
                ));
            }
            let unused = session.args.lock().map(|a| a.unused()).unwrap_or_default();
            if !unused.is_empty() {
                eprintln!(
                    "gaxsh: warning: the script never read option(s) {}",
                    unused
                        .iter()
                        .map(|u| format!("--{u}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}
