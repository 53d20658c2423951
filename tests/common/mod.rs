//! Helpers shared by the integration tests.
#![allow(dead_code)]

use gaxsh::front::{Session, SessionBuilder};
use std::sync::{Arc, Mutex};

/// A session whose printed output is captured.
pub fn session() -> (Session, Arc<Mutex<String>>) {
    let buf = Arc::new(Mutex::new(String::new()));
    let b = buf.clone();
    let s = SessionBuilder::default()
        .output(Arc::new(move |t: &str| {
            let mut g = b.lock().unwrap();
            g.push_str(t);
            g.push('\n');
        }))
        .build();
    (s, buf)
}

/// Evaluate and show the value as the REPL would.
pub fn show(src: &str) -> String {
    let (mut s, _) = session();
    match s.eval(src, "<test>") {
        Ok(v) => s.display(&v).unwrap_or_default(),
        Err(e) => panic!("{src}\n{e}"),
    }
}

/// Evaluate, expecting an error; return its full text.
pub fn error_of(src: &str) -> String {
    let (mut s, _) = session();
    match s.eval(src, "<test>") {
        Ok(v) => panic!("expected an error from {src}, got {:?}", s.display(&v)),
        Err(e) => e.to_string(),
    }
}

/// Evaluate to a vector of f64 (a tensor's values, flattened).
pub fn values(src: &str) -> Vec<f64> {
    let (mut s, _) = session();
    let v = s
        .eval(src, "<test>")
        .unwrap_or_else(|e| panic!("{src}\n{e}"));
    let t = v
        .try_cast::<gaxsh::script::ScriptTensor>()
        .unwrap_or_else(|| panic!("{src} did not give a tensor"));
    gaxsh::tensor::ops::to_f64_vec(&t.0).unwrap()
}

pub fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "lengths differ: {a:?} vs {b:?}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let scale = x.abs().max(y.abs()).max(1.0);
        assert!(
            (x - y).abs() <= tol * scale,
            "element {i}: {x} vs {y} (tol {tol})\n{a:?}\n{b:?}"
        );
    }
}

/// A committed fixture file (tests/fixtures/NAME).
pub fn fixture(name: &str) -> std::collections::HashMap<String, candle_core::Tensor> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    candle_core::safetensors::load(&p, &gaxsh::device::current())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A check that cannot run here: a failure when `switch` (a `GAXSH_REQUIRE_*` variable) is
/// set, as CI sets it; otherwise "SKIPPED: why" written straight to the terminal, past the test
/// harness's output capture, so a passing run still shows what it did not check.
pub fn skip(switch: &str, why: &str) {
    if std::env::var_os(switch).is_some() {
        panic!("{switch} is set, but {why}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// A path under ../shared/data, or None after `skip` (`GAXSH_REQUIRE_SHARED`).
pub fn shared_data(rel: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    if p.exists() {
        return Some(p);
    }
    skip(
        "GAXSH_REQUIRE_SHARED",
        &format!(
            "{} is not available (real data lives in ../shared/data)",
            p.display()
        ),
    );
    None
}

/// max|a − b| ≤ tol · max|b| (relative to the reference's scale), with the worst element named.
pub fn assert_tensor_close(a: &candle_core::Tensor, b: &candle_core::Tensor, tol: f64, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let av = gaxsh::tensor::ops::to_f64_vec(a).unwrap();
    let bv = gaxsh::tensor::ops::to_f64_vec(b).unwrap();
    let scale = bv.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
    let (i, worst) = av
        .iter()
        .zip(&bv)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold((0, 0.0), |acc, (i, d)| if d > acc.1 { (i, d) } else { acc });
    assert!(
        worst <= tol * scale,
        "{what}: element {i}: {} vs {} (|diff| {worst:.3e} > {tol:.0e} × scale {scale:.3e})",
        av[i],
        bv[i]
    );
}
