//! The `gaxsh` command: exit codes, messages, script options.

use std::process::{Command, Output};

fn gaxsh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .args(args)
        .env("RUST_BACKTRACE", "1") // errors must stay one line even so
        .output()
        .expect("run gaxsh")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn script(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("gaxsh-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn eval_prints_the_value() {
    let o = gaxsh(&["-e", "let x = randn([2,3]); (x * 2 + 1).shape"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o.stdout), "[2, 3]\n");
}

#[test]
fn script_error_exits_1_with_file_line_and_caret() {
    let p = script(
        "bad.rhai",
        "let a = 1;\nlet b = tensor([1, 2]);\nlet c = b + zeros([3]);\n",
    );
    let o = gaxsh(&[&p]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("error: shape mismatch: [2] + [3]"), "{err}");
    assert!(err.contains(&format!("{p}:3:11")), "{err}");
    assert!(
        err.contains("3 | let c = b + zeros([3]);\n  |           ^"),
        "{err}"
    );
    assert!(
        !err.contains("stack backtrace") && !err.contains("panicked"),
        "{err}"
    );
}

/// An error inside an imported module shows the module's line, not the script's line of the
/// same number, with the calls that led there.
#[test]
fn errors_inside_modules_show_the_module_line() {
    script(
        "helpers.rhai",
        "fn inner(x) {\n    let y = x + 1;\n    y.no_such_method()\n}\nfn outer(x) { inner(x) }\n",
    );
    let p = script(
        "uses_helpers.rhai",
        "import \"helpers\" as h;\nprint(\"start\");\nh::outer(3);\n",
    );
    let err = text(&gaxsh(&[&p]).stderr);
    assert!(
        err.contains("helpers:3:7") && err.contains("3 |     y.no_such_method()"),
        "{err}"
    );
    assert!(
        err.contains("in call to 'outer' at line 3")
            && err.contains("in call to 'inner' at helpers:5"),
        "{err}"
    );
    let o = gaxsh(&["-e", "import \"experiment\" as ex; ex::seed_list(\"3..x\")"]);
    let err = text(&o.stderr);
    assert!(
        err.contains("--> stdlib/experiment.rhai:") && err.contains("parse_int(t)"),
        "{err}"
    );
    assert!(
        err.contains("in call to a closure at stdlib/experiment.rhai:"),
        "{err}"
    );
}

#[test]
fn syntax_error_exits_1() {
    let p = script("syntax.rhai", "let x = (1 + ;\n");
    let o = gaxsh(&[&p]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("syntax error"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn unknown_function_suggests_close_names() {
    let o = gaxsh(&["-e", "let t = linspase(0, 1, 3);"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("did you mean linspace"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(gaxsh(&["--no-such-flag"]).status.code(), Some(2));
    assert_eq!(gaxsh(&["/no/such/script.rhai"]).status.code(), Some(2));
    let p = script("ok.rhai", "print(1);");
    assert_eq!(gaxsh(&[&p, "stray"]).status.code(), Some(2));
}

#[test]
fn device_choice_is_checked_before_any_work() {
    let o = gaxsh(&["--device", "tpu", "-e", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("unknown device 'tpu': valid choices are cpu, cuda, cuda:N"),
        "{}",
        text(&o.stderr)
    );
    let o = gaxsh(&["--device", "cpu", "-e", "[device(), drybean_fpa().device]"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "[\"cpu\", \"cpu\"]\n");
    if !cfg!(feature = "cuda") {
        let o = gaxsh(&["--device", "cuda", "-e", "1"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            text(&o.stderr).contains("--features cuda"),
            "{}",
            text(&o.stderr)
        );
    }
}

#[test]
fn script_options_are_typed_listed_and_checked() {
    let p = script(
        "opts.rhai",
        "let o = options(\"Demo script.\", #{steps: [10, \"how many steps\"], name: [\"x\", \"a name\"]});\nprint(`${o.steps * 2} ${o.name}`);\n",
    );
    let o = gaxsh(&[&p, "--steps", "21", "--name", "bean"]);
    assert_eq!(text(&o.stdout), "42 bean\n", "{}", text(&o.stderr));
    let o = gaxsh(&[&p, "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = text(&o.stdout);
    assert!(
        help.contains("Demo script.")
            && help.contains("--steps")
            && help.contains("how many steps (default: 10)"),
        "{help}"
    );
    let o = gaxsh(&[&p, "--step", "3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("unknown option --step (did you mean --steps?)"),
        "{}",
        text(&o.stderr)
    );
    let o = gaxsh(&[&p, "--steps", "many"]);
    assert!(text(&o.stderr).contains("option --steps: expected an integer, got 'many'"));
}

#[test]
fn arg_reads_one_option() {
    let p = script("arg.rhai", "print(arg(\"n\", 1) + 1);");
    assert_eq!(text(&gaxsh(&[&p, "--n", "4"]).stdout), "5\n");
    assert_eq!(text(&gaxsh(&[&p]).stdout), "2\n");
}

#[test]
fn help_subcommand_and_version() {
    let o = gaxsh(&["help", "softmax"]);
    assert!(
        text(&o.stdout).starts_with("softmax(x, dim)")
            || text(&o.stdout).contains("x.softmax(dim)")
    );
    let o = gaxsh(&["--version"]);
    assert!(text(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn threads_option_is_applied() {
    let o = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .args(["--threads", "2", "-e", "threads()"])
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "2\n");
    let o = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .env("GAXSH_THREADS", "3")
        .args(["-e", "threads()"])
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "3\n");
    let o = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .env_remove("GAXSH_THREADS")
        .args(["-e", "threads()"])
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "1\n");
}

#[test]
fn ctrl_c_stops_a_script_loop() {
    let p = script(
        "loop.rhai",
        "print(\"started\"); let i = 0; loop { i += 1; }",
    );
    let child = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .arg(&p)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    unsafe_sigint(child.id());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    assert!(
        text(&o.stderr).contains("interrupted"),
        "{}",
        text(&o.stderr)
    );
}

fn unsafe_sigint(pid: u32) {
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
}

/// A long run whose stderr is a file (a Slurm log) shows life: heartbeat lines with the work
/// done, rate and time, at the interval `GAXSH_HEARTBEAT` asks for.
#[test]
fn piped_long_runs_print_heartbeats() {
    let o = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GAXSH_HEARTBEAT", "0.01")
        .args([
            "-e",
            "let b = load_drybean(); let s = b.standardize(); drybean_fpa().fit(b.head(400).map(s), #{epochs: 8, batch: 8}); 1",
        ])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let beats: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("train: ") && l.contains("/s, ") && l.contains(" elapsed"))
        .collect();
    assert!(beats.len() >= 2, "expected heartbeat lines in:\n{err}");
    assert!(
        beats
            .iter()
            .any(|l| l.contains("ETA ") && l.contains("epoch ")),
        "{beats:?}"
    );
    // Off when asked.
    let quiet = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("GAXSH_HEARTBEAT", "0")
        .args([
            "-e",
            "let b = load_drybean(); drybean_fpa().fit(b.head(40), #{epochs: 2}); 1",
        ])
        .output()
        .unwrap();
    assert!(
        !text(&quiet.stderr).contains("/s, "),
        "{}",
        text(&quiet.stderr)
    );
}

/// A report made at a prompt (here `-e`; the REPL and notebook cells alike) saves the commands
/// that made it as `session.rhai`, recorded as the run's script, so `gaxsh rerun` replays it.
#[test]
fn a_report_made_at_a_prompt_replays_with_rerun() {
    let dir = std::env::temp_dir().join(format!("gaxsh-cli-session-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gaxsh"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("GAXSH_HEARTBEAT", "0")
            .args(args)
            .output()
            .unwrap()
    };
    let code = format!(
        "seed(3); let b = load_drybean().head(12); ax_sweep(drybean_fpa(), b, #{{methods: \"Saliency\"}}); report({:?})",
        dir.display().to_string()
    );
    let o = run(&["-e", &code]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let session = std::fs::read_to_string(dir.join("session.rhai")).unwrap();
    assert!(
        session.contains("ax_sweep(drybean_fpa()") && session.contains("report("),
        "{session}"
    );
    let record = std::fs::read_to_string(dir.join("run.yaml")).unwrap();
    assert!(record.contains("session.rhai"), "{record}");
    std::fs::remove_file(dir.join("index.html")).unwrap();
    let o = run(&["rerun", dir.join("run.yaml").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        dir.join("index.html").exists(),
        "the replay wrote the report again"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
