//! The Jupyter kernel, driven by Jupyter's own client (`jupyter_client`, `nbclient` from PyPI).
//!
//! The Python side lives in `tests/kernel/`; it needs a Python with jupyter_client, nbclient and
//! nbformat: `GAXSH_JUPYTER_PYTHON`, or the `.venv-jupyter` that `.ci/run` creates. Without one
//! the tests say so and skip, unless `GAXSH_REQUIRE_JUPYTER=1` (set by CI) makes that a failure.
#![cfg(feature = "kernel")]

mod common;
use common::skip;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A Python that can import Jupyter's client libraries, or `None` (after saying why).
fn jupyter_python() -> Option<PathBuf> {
    let python = std::env::var_os("GAXSH_JUPYTER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-jupyter/bin/python"));
    let usable = Command::new(&python)
        .args(["-c", "import jupyter_client, nbclient, nbformat"])
        .output()
        .is_ok_and(|o| o.status.success());
    if usable {
        return Some(python);
    }
    let why = format!(
        "no Python with jupyter_client/nbclient at {} (set GAXSH_JUPYTER_PYTHON, or run .ci/run which creates .venv-jupyter)",
        python.display()
    );
    skip("GAXSH_REQUIRE_JUPYTER", &why);
    None
}

fn run_python(python: &Path, args: &[&str]) -> String {
    let out = Command::new(python)
        .args(args)
        .current_dir(root())
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{args:?} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

#[test]
fn jupyter_client_drives_every_message_the_kernel_serves() {
    let Some(python) = jupyter_python() else {
        return;
    };
    let out = run_python(
        &python,
        &["tests/kernel/drive_kernel.py", env!("CARGO_BIN_EXE_gaxsh")],
    );
    // Every check of the driver must have run and passed, in order.
    let expected = [
        "kernel_info",
        "execute: stream and execute_result",
        "execute: a trailing ; hides the value",
        "execute: a tensor result",
        "display_data: a plot written by a cell is shown inline as PNG",
        "show(path) and show(tensor)",
        "error: the script line and a caret",
        "error: a misspelt function suggests the right one",
        "variables survive an error",
        "complete: after a tensor's dot, tensor methods only",
        "complete: methods, functions and variables",
        "inspect: the registry's help and variables",
        "is_complete",
        "history",
        "execute: name? shows help; tables come as HTML too",
        "comm_info",
        "progress: one display updated in place",
        "interrupt (message): a native training loop stops; variables are kept",
        "interrupt (signal): a script loop stops; variables are kept",
        "a panic becomes an error reply; the kernel lives on",
        "restart",
        "shutdown: the kernel exits by itself with status 0",
    ];
    let passed: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ok ")).collect();
    assert_eq!(passed, expected, "driver output:\n{out}");
}

#[test]
fn the_tour_notebook_runs_and_keeps_its_inline_plots() {
    let Some(python) = jupyter_python() else {
        return;
    };
    let executed = std::env::temp_dir().join(format!("gaxsh-tour-{}.ipynb", std::process::id()));
    let out = run_python(
        &python,
        &[
            "tests/kernel/run_notebook.py",
            env!("CARGO_BIN_EXE_gaxsh"),
            "examples/tour.ipynb",
            executed.to_str().unwrap(),
        ],
    );
    let count = |kind: &str| -> usize {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("outputs {kind} ")))
            .map(|n| n.parse().unwrap())
            .unwrap_or(0)
    };
    assert_eq!(count("error"), 0, "{out}");
    // The box plot, the GAX curves and the GAX heatmap.
    assert_eq!(count("image/png"), 3, "{out}");
    // Training, the AX sweep and GAX each drew one progress display; the sweep's accuracy
    // table and its gap statistics come as HTML tables too.
    assert_eq!(count("text/html"), 5, "{out}");
    let nb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&executed).unwrap()).unwrap();
    let text: String = nb["cells"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["outputs"].as_array().cloned().unwrap_or_default())
        // nbformat stores multi-line text as a list of lines.
        .map(|o| match &o["data"]["text/plain"] {
            serde_json::Value::Array(lines) => {
                lines.iter().filter_map(|l| l.as_str()).collect::<String>()
            }
            v => v.as_str().unwrap_or("").to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("accuracy 0."),
        "the evaluation is shown:\n{text}"
    );
    assert!(
        text.contains("AUROC"),
        "the gap statistics are shown:\n{text}"
    );
    std::fs::remove_file(&executed).ok();
}

#[test]
fn bad_and_unsigned_messages_are_dropped_and_the_kernel_keeps_serving() {
    let Some(python) = jupyter_python() else {
        return;
    };
    let out = run_python(
        &python,
        &[
            "tests/kernel/flood_kernel.py",
            env!("CARGO_BIN_EXE_gaxsh"),
            "10000",
        ],
    );
    let passed: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ok ")).collect();
    assert_eq!(
        passed,
        [
            "10000 bad messages sent on shell and control",
            "execute still works",
            "kernel_info still works",
            "interrupt still works",
            "shutdown still works",
        ],
        "driver output:\n{out}"
    );
}
