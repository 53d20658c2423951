//! Every script (in --quick mode) and every example runs, so none can rot; script options are
//! listed and checked; a run repeats from its run.yaml; the README's tour runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn gaxsh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run gaxsh")
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gaxsh-scripts-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn ok(o: &Output, what: &str) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        o.status.success(),
        "{what} failed ({:?}):\n{out}\n{err}",
        o.status.code()
    );
    out.into_owned()
}

const SCRIPTS: [&str; 7] = [
    "drybean",
    "creditcard",
    "covid",
    "pneumonia",
    "imagenet",
    "toy2d",
    "metrics",
];

#[test]
fn every_script_runs_quick_and_writes_its_report() {
    for s in SCRIPTS {
        let out = out_dir(s);
        let o = gaxsh(&[
            &format!("scripts/{s}.rhai"),
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ]);
        let text = ok(&o, s);
        assert!(text.contains("report: "), "{s}: {text}");
        let html =
            std::fs::read_to_string(out.join("index.html")).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(html.contains("Run record"), "{s}");
        assert!(
            html.contains("https://arxiv.org/abs/2201.00009"),
            "{s}: the report cites the paper"
        );
        let rec = std::fs::read_to_string(out.join("run.yaml")).unwrap();
        assert!(
            rec.contains(&format!("script: scripts/{s}.rhai")) && rec.contains("quick: true"),
            "{s}: {rec}"
        );
        // Each figure is written once: no two figures of the folder hold the same picture.
        // (Gallery heatmaps may legitimately coincide: on MobileNet's ReLU6, which Captum's
        // Guided Backprop and Deconvolution leave alone, both are the plain gradient.)
        let mut seen = std::collections::HashMap::new();
        for entry in std::fs::read_dir(&out).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".png") && !name.contains("_gallery") {
                let bytes = std::fs::read(&path).unwrap();
                if let Some(first) = seen.insert(bytes, path.clone()) {
                    panic!(
                        "{s}: {} and {} are the same figure",
                        first.display(),
                        path.display()
                    );
                }
            }
        }
        if s == "drybean" {
            // Every artefact is linked, and the record shows the data's checksum.
            for file in [
                "co_scores.csv",
                "drybean_fpa.safetensors",
                "gax/gax_scores.csv",
                "gax/gax_heatmaps.safetensors",
                "run.yaml",
            ] {
                assert!(
                    html.contains(&format!("<a href=\"{file}\">")),
                    "drybean: no link to {file}"
                );
            }
            assert!(
                html.contains("Dry_Bean_Dataset.csv<br><span class=n>sha256:"),
                "drybean: no checksum"
            );
        }
        if s == "imagenet" {
            // 1,000 classes: the evaluation is summarised (lowest-F1 classes, top confusions),
            // never a thousand-row table or a 1000×1000 matrix.
            assert!(
                html.contains("lowest F1 of 1000") && html.contains("most frequent confusions")
            );
            assert!(
                html.matches("<tr>").count() < 200,
                "a table grew with the classes"
            );
            assert!(
                !html.contains("confusion (rows: true"),
                "the whole matrix was printed"
            );
        }
        if s == "toy2d" {
            // The paper's Fig. 1 as one figure of three panels and the CO figure, each written
            // once (the report links the figures already in its folder instead of copying).
            let mut pngs: Vec<String> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".png"))
                .collect();
            pngs.sort();
            assert_eq!(pngs, ["co.png", "fig1.png"]);
            let (w, h) = image::image_dimensions(out.join("fig1.png")).unwrap();
            assert_eq!((w, h), (3 * 480, 440), "three panels side by side");
            assert!(
                html.contains("href=\"fig1.png\""),
                "the report links fig1.png itself"
            );
        }
        if s == "metrics" {
            // Both panels reach the report: tables with every metric, curves, CO against each.
            assert_eq!(
                html.matches("CO beside the standard explanation metrics (")
                    .count(),
                2
            );
            for part in [
                "deletion ↓",
                "randomisation ↓",
                "co_vs_deletion",
                "Do the metrics rank",
            ] {
                assert!(html.contains(part), "metrics report lacks {part}");
            }
            let csv = std::fs::read_to_string(out.join("drybean_metrics.csv")).unwrap();
            assert!(csv.starts_with("method,index,id,label,pred,target,co_sum,co_mult,deletion"));
            assert_eq!(csv.lines().count(), 1 + 6 * 120, "six methods × 120 rows");
        }
    }
}

#[test]
fn scripts_list_their_options_and_reject_misspelt_ones() {
    for s in SCRIPTS {
        let path = format!("scripts/{s}.rhai");
        let text = ok(&gaxsh(&[&path, "--help"]), s);
        assert!(
            text.contains("--quick") && text.contains("--out") && text.contains("(default:"),
            "{s}: {text}"
        );
        let o = gaxsh(&[&path, "--quik"]);
        assert_eq!(o.status.code(), Some(1), "{s}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("unknown option --quik (did you mean --quick?)"),
            "{s}: {err}"
        );
    }
}

#[test]
fn substitutes_are_said() {
    let out = out_dir("cc-note");
    let text = ok(
        &gaxsh(&[
            "scripts/creditcard.rhai",
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ]),
        "creditcard",
    );
    assert!(text.contains("SUBSTITUTE"), "{text}");
    assert!(
        std::fs::read_to_string(out.join("index.html"))
            .unwrap()
            .contains("SUBSTITUTE")
    );
    assert!(
        std::fs::read_to_string(out.join("run.yaml"))
            .unwrap()
            .contains("SUBSTITUTE")
    );
    let out = out_dir("covid-note");
    let text = ok(
        &gaxsh(&[
            "scripts/covid.rhai",
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ]),
        "covid",
    );
    assert!(
        text.contains("bundled Kermany chest X-ray sample"),
        "{text}"
    );
}

#[test]
fn a_run_repeats_from_its_record() {
    let first = out_dir("rerun-a");
    ok(
        &gaxsh(&[
            "scripts/drybean.rhai",
            "--quick",
            "--out",
            first.to_str().unwrap(),
        ]),
        "drybean",
    );
    let second = out_dir("rerun-b");
    let rec = first.join("run.yaml");
    ok(
        &gaxsh(&[
            "rerun",
            rec.to_str().unwrap(),
            "--out",
            second.to_str().unwrap(),
        ]),
        "rerun",
    );
    // Same seed, options and data: the same CO scores, row for row.
    let a = std::fs::read_to_string(first.join("co_scores.csv")).unwrap();
    let b = std::fs::read_to_string(second.join("co_scores.csv")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn every_example_runs() {
    let dir = root().join("examples");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("rhai") {
            continue;
        }
        let rel = format!("examples/{}", p.file_name().unwrap().to_string_lossy());
        ok(&gaxsh(&[&rel]), &rel);
        n += 1;
    }
    assert!(n >= 5, "only {n} examples found");
}

#[test]
fn the_readme_tour_runs_and_prints_the_readme_numbers() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("```rhai\n")
        .expect("a rhai block in the README")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let code = &readme[start..end];
    let runs = out_dir("tour-runs");
    let script = out_dir("tour-script");
    std::fs::create_dir_all(&script).unwrap();
    let file = script.join("tour.rhai");
    std::fs::write(&file, code).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .arg(&file)
        .env("GAXSH_RUNS", &runs)
        .current_dir(root())
        .output()
        .unwrap();
    let printed = ok(&o, "README tour");
    assert!(
        runs.join("tour/index.html").exists(),
        "the tour writes to run_dir(\"tour\")"
    );
    // Every number the README shows after ⇒ is what the seeded tour prints.
    let shown: Vec<&str> = code
        .lines()
        .filter_map(|l| l.split_once("// ⇒ ").map(|(_, c)| c))
        .flat_map(|c| c.split([' ', ',', ';', ':', '[', ']']))
        .filter(|w| w.contains('.') && w.parse::<f64>().is_ok())
        .collect();
    assert!(shown.len() >= 6, "the tour shows its numbers: {shown:?}");
    for number in shown {
        assert!(
            printed.contains(number),
            "the README says {number}; the tour printed:\n{printed}"
        );
    }
}

/// `scripts/own_model.rhai` on an ONNX model and a CSV, and on an ONNX model and an image
/// folder; the paper's scripts take `--model file.onnx` too.
#[test]
fn own_model_and_model_options_take_onnx_files() {
    let fpa = root().join("tests/fixtures/onnx/drybean_fpa_ts.onnx");
    let out = out_dir("own_csv");
    let text = ok(
        &gaxsh(&[
            "scripts/own_model.rhai",
            "--model",
            fpa.to_str().unwrap(),
            "--data",
            "data/drybean/Dry_Bean_Dataset.csv",
            "--label",
            "Class",
            "--standardize",
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ]),
        "own_model on a CSV",
    );
    assert!(
        text.contains("16 parameters") || text.contains("input [16]"),
        "{text}"
    );
    assert!(out.join("index.html").exists() && out.join("co_scores.csv").exists());
    // An image model written by gaxsh itself, on the bundled chest X-rays (two class folders).
    let cnn = out_dir("own_cnn").with_extension("onnx");
    ok(
        &gaxsh(&[
            "-e",
            &format!(
                "build_model(#{{name: \"cnn\", input: [3, 32, 32], layers: [#{{conv2d: #{{out: 4, kernel: 3, stride: 2}}}}, \"relu\", \"avgpool\", \"flatten\", #{{linear: #{{out: 2}}}}]}}).save_onnx({:?})",
                cnn.to_str().unwrap()
            ),
        ]),
        "save_onnx",
    );
    let out = out_dir("own_images");
    let text = ok(
        &gaxsh(&[
            "scripts/own_model.rhai",
            "--model",
            cnn.to_str().unwrap(),
            "--data",
            "data/chest_xray/test",
            "--mean",
            "0.5,0.5,0.5",
            "--std",
            "0.25,0.25,0.25",
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ]),
        "own_model on images",
    );
    assert!(
        text.contains("classes [\"NORMAL\", \"PNEUMONIA\"]"),
        "{text}"
    );
    assert!(out.join("index.html").exists());
    // A mismatch between model and data is said plainly.
    let o = gaxsh(&[
        "scripts/own_model.rhai",
        "--model",
        fpa.to_str().unwrap(),
        "--data",
        "data/chest_xray/test",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("CSV") || err.contains("input"),
        "{err}"
    );
    // The paper's drybean script explains an ONNX model instead of training.
    let out = out_dir("drybean_onnx");
    let text = ok(
        &gaxsh(&[
            "scripts/drybean.rhai",
            "--model",
            fpa.to_str().unwrap(),
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ]),
        "drybean --model",
    );
    assert!(
        text.contains("report: ") && !text.contains("epoch"),
        "{text}"
    );
}
