//! Every registered function and method, called with generated edge-value arguments (the
//! registry-driven fuzzer, `tests/fuzz/engine.rs`): no call may panic or outlive its interrupt.
//! CI runs a short fixed-seed round; a long run:
//!
//!     GAXSH_FUZZ_ADAPTIVE=1 GAXSH_FUZZ_CALLS=1000000 GAXSH_FUZZ_SEED=1 \
//!         cargo test --release --test fuzz -- --nocapture
//!
//! The calls run in a scratch copy of the bundled data (this test's own process), so nothing a
//! call writes can touch the repository.

// `ScriptError` carries the whole diagnostic (source line, caret); the library allows it too.
#![allow(clippy::result_large_err)]

mod engine;

use engine::{FuzzConfig, run};
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

#[test]
fn no_call_panics_or_hangs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = std::env::temp_dir().join(format!("gaxsh-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    let put_back = move || {
        // Calls write onto these files too; every fresh session gets them as bundled.
        let _ = std::fs::remove_dir_all(&data);
        for d in ["drybean", "chest_xray/test", "images", "pneumoniamnist"] {
            copy_dir(&root.join("data").join(d), &data.join(d));
        }
    };
    put_back();
    std::env::set_current_dir(&work).unwrap();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let cfg = FuzzConfig {
        calls: env("GAXSH_FUZZ_CALLS").unwrap_or(1_500),
        seed: env("GAXSH_FUZZ_SEED").unwrap_or(0),
        only: std::env::var("GAXSH_FUZZ_ONLY").ok(),
        log: std::env::var_os("GAXSH_FUZZ_LOG").map(Into::into),
        reset: Some(std::sync::Arc::new(put_back)),
        adaptive: std::env::var_os("GAXSH_FUZZ_ADAPTIVE").is_some(),
        ..Default::default()
    };
    let report = run(&cfg);
    // The calls write files, some to the absolute paths in the fuzzer's pool: none may have
    // replaced a device (an atomic write's rename once turned /dev/zero into a plain file).
    use std::os::unix::fs::FileTypeExt;
    for dev in ["/dev/zero", "/dev/null"] {
        let kind = std::fs::metadata(dev).map(|m| m.file_type());
        assert!(
            kind.is_ok_and(|k| k.is_char_device()),
            "{dev} is no longer a device"
        );
    }
    println!("{}", report.summary());
    let _ = std::fs::remove_dir_all(&work);
    assert!(
        report.calls > 0 && report.per_function.len() > 100,
        "{}",
        report.summary()
    );
    assert!(report.findings.is_empty(), "{}", report.summary());
}
