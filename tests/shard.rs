//! Sharded runs: four shards run as separate processes merge into exactly what the unsharded run
//! writes (on two threads, so the parallel paths agree with the serial ones too), and
//! `gaxsh merge` refuses missing or incomplete shards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const SCRIPT: &str = "tests/shard/sweep.rhai";

fn gaxsh() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gaxsh"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for k in [
        "GAXSH_SHARD",
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "JOB_COMPLETION_INDEX",
    ] {
        c.env_remove(k);
    }
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gaxsh-shard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn wait_ok(mut child: Child, what: &str) {
    let status = child.wait().unwrap();
    assert!(status.success(), "{what} failed: {status}");
}

fn spawn_shard(out: &Path, i: usize) -> Child {
    gaxsh()
        .args([
            "--shard",
            &format!("{i}/4"),
            SCRIPT,
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn merge(targets: &[PathBuf]) -> std::process::Output {
    gaxsh().arg("merge").args(targets).output().unwrap()
}

fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let mut t: Vec<(String, Vec<f32>)> = gaxsh::io::load_safetensors(path)
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .flatten_all()
                .unwrap()
                .to_dtype(candle_core::DType::F32)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            (k, v)
        })
        .collect();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

#[test]
fn four_shards_merge_into_exactly_the_unsharded_outputs() {
    let whole = scratch("whole");
    let sharded = scratch("sharded");
    // The whole run on two compute threads (batches and GAX chunks side by side), the shards
    // on one: the outputs must still agree to the byte.
    let run_whole = gaxsh()
        .args(["--threads", "2", SCRIPT, "--out", whole.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Shards 0-2 by --shard, at the same time.
    let shards: Vec<Child> = (0..3).map(|i| spawn_shard(&sharded, i)).collect();
    wait_ok(run_whole, "the unsharded run");
    for (i, c) in shards.into_iter().enumerate() {
        wait_ok(c, &format!("shard {i}/4"));
    }
    let targets = [sharded.join("co.csv"), sharded.join("gax")];

    // With shard 3 missing, nothing is merged and the message says which shard is missing.
    let out = merge(&targets);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("3/4") && err.contains("not written yet"),
        "{err}"
    );
    assert!(!sharded.join("co.csv").exists());

    // Shard 3 as a Slurm array task would run it.
    let slurm = gaxsh()
        .args([SCRIPT, "--out", sharded.to_str().unwrap()])
        .envs([
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ])
        .output()
        .unwrap();
    assert!(slurm.status.success());
    let note = String::from_utf8_lossy(&slurm.stderr);
    assert!(note.contains("running shard 3/4"), "{note}");

    let out = merge(&targets);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let merged_csv = read(sharded.join("co.csv"));
    assert_eq!(
        merged_csv.iter().filter(|&&b| b == b'\n').count(),
        1 + 1000 * 6 * 2
    );
    assert!(
        merged_csv == read(whole.join("co.csv")),
        "the merged sweep CSV differs"
    );
    // The stamp too: the unsharded script would resume every row from the merged file.
    assert_eq!(
        read(sharded.join("co.csv.run")),
        read(whole.join("co.csv.run"))
    );
    assert!(
        read(sharded.join("gax/gax_scores.csv")) == read(whole.join("gax/gax_scores.csv")),
        "the merged GAX scores differ"
    );
    assert_eq!(
        tensors(&sharded.join("gax/gax_heatmaps.safetensors")),
        tensors(&whole.join("gax/gax_heatmaps.safetensors"))
    );

    // A shard cut short (an interrupted run) is refused.
    let cut = scratch("cut");
    for i in 0..4 {
        for suffix in ["csv", "csv.run"] {
            let name = format!("co.shard-{i}-of-4.{suffix}");
            std::fs::copy(sharded.join(&name), cut.join(&name)).unwrap();
        }
    }
    let victim = cut.join("co.shard-2-of-4.csv");
    let text = std::fs::read_to_string(&victim).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    std::fs::write(&victim, kept[..kept.len() - 5].join("\n") + "\n").unwrap();
    let out = merge(&[cut.join("co.csv")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shard 2/4 is incomplete"), "{err}");

    for d in [whole, sharded, cut] {
        std::fs::remove_dir_all(d).ok();
    }
}

#[test]
fn bad_shard_settings_are_usage_errors() {
    let out = gaxsh()
        .args(["--shard", "4/4", "-e", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 to 3"));
    let out = gaxsh()
        .args(["-e", "1"])
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GAXSH_SHARD_COUNT"));
}
