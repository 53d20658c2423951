//! Bad input, huge numbers and damaged files: each case of the hardening issue as a regression
//! test named for what it guards. A bad call is an error that says what and why, never a panic,
//! a hang, an out-of-memory death, a silent guess or a half-written file; the session lives on.

mod common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gaxsh-hardening-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gaxsh(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gaxsh")
}

/// The call fails with a message containing every fragment.
fn refused(src: &str, fragments: &[&str]) {
    let e = error_of(src);
    for f in fragments {
        assert!(e.contains(f), "{src}:\n{e}\n(expected '{f}')");
    }
}

#[test]
fn sizes_are_checked_before_anything_is_allocated() {
    refused("zeros([9223372036854775807])", &["zeros", "memory budget"]);
    // 2³² × 2³² wraps to 0 in unchecked arithmetic; it must not become an empty tensor.
    refused(
        "zeros([4294967296, 4294967296])",
        &["zeros", "more elements than exist"],
    );
    refused(
        "zeros([100000, 100000, 100])",
        &["zeros", "TiB", "memory budget"],
    );
    refused("arange(0, 1e308, 1)", &["arange", "memory budget"]);
    // The metric panel asks before it loads a batch and its perturbed copies.
    refused(
        "evaluate_heatmaps(drybean_fpa(), load_drybean().head(256), #{perturbations: 100000000})",
        &["evaluate_heatmaps batch", "lower batch", "memory budget"],
    );
    // Many small layers add up: refused before any of them is drawn.
    refused(
        "model(\"resnet\", #{blocks: [100000000], widths: [64]})",
        &["resnet", "memory budget"],
    );
    // Degenerate classifiers are refused by name, not built.
    refused(
        "model(\"alexnet\", #{classes: 0})",
        &["alexnet", "at least 2"],
    );
    refused("resnet34(#{in_channels: 0})", &["in_channels", "1 or more"]);
    refused(
        "linspace(2, 3, 9223372036854775807)",
        &["linspace", "memory budget"],
    );
    refused(
        "randn([100000, 1]) + randn([1, 100000])",
        &["memory budget"],
    );
    refused(
        "model(\"fpa\", #{c: 100000000})",
        &["parameter fpa.fconvs.1.weight", "memory budget"],
    );
    refused(
        "cxc_multi_spa(#{classes: 1000000000})",
        &["parameter fc.weight"],
    );
    refused(
        "build_model(#{name: \"x\", input: [4], layers: [#{linear: #{out: 1000000000000}}]})",
        &["memory budget"],
    );
    refused(
        "image_folder(\"data/chest_xray/test\", #{size: 100000})",
        &["image size", "32768"],
    );
    refused(
        "histogram(randn([10]), 1000000000000, temp_path(\"h.png\"))",
        &["bins", "10000"],
    );
    refused(
        "load_csv(\"/dev/zero\", #{label: \"a\"})",
        &["not a regular file"],
    );
    refused(
        "let s = \"xxxxxxxx\"; loop { s += s; }",
        &["string too large"],
    );
    refused("let a = [1]; loop { a += a; }", &["too large"]);
    // Found by the fuzzer: a bare number as a shape, and a reshape whose product overflows.
    refused(
        "formula_input(4294967296, 0.0)",
        &["formula_input", "memory budget"],
    );
    refused(
        "randn([2, 3]).reshape([4294967296, 4294967296, -1])",
        &["cannot reshape"],
    );
    // Outputs larger than their inputs: one tensor listed many times, arrays of every value,
    // image folders decoded whole, batches past the end.
    refused(
        "let x = zeros([1000000]); let a = []; for i in 0..10000 { a.push(x) }; stack(a)",
        &["stack", "memory budget"],
    );
    refused(
        "let x = zeros([1000000]); let a = []; for i in 0..10000 { a.push(x) }; cat(a)",
        &["cat", "memory budget"],
    );
    refused(
        "zeros([20000000]).to_array()",
        &["to_array", "more than a script array holds"],
    );
    refused(
        "load_drybean().batch(9223372036854775807, 2)",
        &["outside the dataset"],
    );
}

/// A batch that fits can ask for activations that do not: each convolution's output is held to
/// the budget before it is computed.
#[test]
fn convolution_outputs_are_held_to_the_budget() {
    let out = gaxsh(&[
        "--max-memory",
        "20M",
        "-e",
        "resnet(#{blocks: [1], widths: [64], classes: 3, size: 224}).logits(randn([8, 3, 224, 224]))",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("conv2d output [8, 64, 112, 112]") && err.contains("memory budget"),
        "{err}"
    );
    let out = gaxsh(&[
        "--max-memory",
        "20M",
        "-e",
        "image_folder(\"data/chest_xray/test\", #{size: 600}).x",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("decoding images"), "{err}");
}

#[test]
fn the_memory_budget_is_set_by_flag_or_environment_and_bad_values_are_named() {
    let out = gaxsh(&["--max-memory", "1M", "-e", "zeros([1000000]).numel()"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("1.0 MiB"), "{err}");
    let out = gaxsh(&["--max-memory", "1M", "-e", "zeros([1000]).numel()"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1000");
    for (flag, env, named) in [
        (Some("lots"), None, "--max-memory"),
        (None, Some("12 parsecs"), "GAXSH_MAX_MEMORY"),
        (Some("0"), None, "--max-memory"),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gaxsh"));
        if let Some(f) = flag {
            cmd.args(["--max-memory", f]);
        }
        if let Some(e) = env {
            cmd.env("GAXSH_MAX_MEMORY", e);
        }
        let out = cmd.args(["-e", "1"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(named), "{err}");
    }
}

/// Under `ulimit -v` the default budget follows the limit: a request the address space cannot
/// hold is refused with the budget named, not an allocation failure that aborts.
#[test]
fn the_default_budget_follows_an_address_space_limit() {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 2000000 && exec {} -e 'zeros([600000000]).numel()'",
            env!("CARGO_BIN_EXE_gaxsh")
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("memory budget"), "{err}");
}

#[test]
fn calls_that_used_to_panic_are_errors() {
    refused(
        "gax(drybean_fpa(), randn([2, 16]), #{target: 99, max_steps: 2})",
        &["class 99 is out of range", "0..6"],
    );
    refused("format_float(1.5, 70000)", &["format_float", "0 to 100"]);
    // Negative counts were read as 0 (an empty dataset, a sweep of no points) without a word.
    refused(
        "load_drybean().head(-1)",
        &["head: n", "non-negative", "-1"],
    );
    refused("load_drybean().skip(-3)", &["skip: n", "non-negative"]);
    refused(
        "load_drybean().head(4).first_n_correct(drybean_fpa(), -2)",
        &["first_n_correct"],
    );
    refused("toy2d_sweep(0.9, -5)", &["toy2d_sweep: points", "-5"]);
    // Silently accepted before: a line drew as many points as the shorter list.
    refused(
        "line([1.0, 2.0], [1.0], temp_path(\"l.png\"))",
        &["2 x values and 1 y values"],
    );
    refused(
        "ax_sweep(drybean_fpa(), load_drybean().head(4), #{methods: \"LayerGradCam\", upsample: false})",
        &["ax_sweep", "layer's size", "bilinear"],
    );
    assert_eq!(
        show(
            "attribute(cxc_multi_spa(#{size: 64}), formula_input([2, 1, 64, 64], 0.5), \"LayerGradCam\", #{upsample: false}).shape"
        ),
        "[2, 1, 29, 29]",
        "the Grad-CAM map at the layer's size"
    );
    refused(
        "arange(6).reshape([2, 3]).narrow(-1, 3, 9223372036854775807)",
        &["narrow", "outside 0..3"],
    );
    assert_eq!(
        show("arange(4)[1..=9223372036854775807].shape"),
        "[3]",
        "an inclusive slice to the largest integer runs to the end"
    );
    refused(
        "heatmap(zeros([1, 1, 100000]), temp_path(\"a.png\"))",
        &["too large to draw"],
    );
    // Silently clamped before: a panel size out of range.
    refused(
        "heatmap(randn([4, 4]), temp_path(\"p.png\"), #{panel: 100000})",
        &["option 'panel'", "16..=2048"],
    );
    // Silently drawn without the image before: an overlay of another size.
    refused(
        "heatmap(randn([3, 8, 8]), temp_path(\"o.png\"), #{image: rand([3, 4, 4])})",
        &["shape mismatch", "[8, 8]", "[3, 4, 4]"],
    );
    // A sweep's target is always the prediction: a target given to it is refused, not ignored.
    refused(
        "ax_sweep(drybean_fpa(), load_drybean().head(4), #{target: 2})",
        &["ax_sweep", "unknown option 'target'"],
    );
    let o = gaxsh(&["--threads", "2000", "-e", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("threads 2000 is out of range; valid: 1 to 1024")
    );
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .args(["-e", "for i in 0..200000 { print(i) }"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read three lines, then close the pipe (as `| head -3` does).
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 16];
    std::io::Read::read(&mut out, &mut buf).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

#[test]
fn calls_that_used_to_hang_end_at_once() {
    let started = std::time::Instant::now();
    refused(
        "heatmap(zeros([0]), temp_path(\"a.png\"))",
        &["nothing to draw"],
    );
    refused("show(zeros([0]))", &["nothing to draw"]);
    refused(
        "attribute(drybean_fpa(), randn([2, 16]), \"IntegratedGradients\", #{steps: 100000000})",
        &["steps 100000000", "1 to 10000"],
    );
    // Found by the fuzzer: reading a device as a text file never ended.
    refused("model_from_yaml(\"/dev/zero\")", &["not a regular file"]);
    refused("read_text(\"/dev/zero\")", &["not a regular file"]);
    // Axes over spans f64 cannot subdivide used to loop forever inside the plotting library.
    refused(
        "histogram([1.0, 1e308, -1e308], 10, temp_path(\"h.png\"))",
        &["too far apart", "1e300"],
    );
    refused(
        "scatter([1e308, -1e308], [1.0, 2.0], temp_path(\"s.png\"))",
        &["too far apart"],
    );
    assert!(started.elapsed().as_secs() < 30);
}

/// Found by the fuzzer: a report written into a crowded folder (it was `/` as root) listed the
/// folder's files three levels down and ran on past its interrupt.
#[test]
fn a_report_in_a_crowded_folder_lists_part_of_it_and_ends() {
    let dir = scratch("crowded");
    for i in 0..30 {
        let sub = dir.join(format!("d{i}"));
        std::fs::create_dir_all(&sub).unwrap();
        for j in 0..200 {
            std::fs::write(sub.join(format!("f{j}.txt")), b"x").unwrap();
        }
    }
    let started = std::time::Instant::now();
    let index = show(&format!("report({:?})", dir.display().to_string()));
    assert!(started.elapsed().as_secs() < 30);
    let html = std::fs::read_to_string(index.trim().trim_matches('"')).unwrap();
    assert!(
        html.contains("more files than a report looks through"),
        "{index}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A script may come from a pipe (`gaxsh /dev/stdin`), but a stream that never ends is cut off.
#[test]
fn scripts_read_from_pipes_and_endless_streams_are_cut_off() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gaxsh"))
        .arg("/dev/stdin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"print(40 + 2)")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    let out = gaxsh(&["/dev/zero"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("longer than 64.0 MiB"), "{err}");
}

/// Found by the fuzzer: a folder that failed to load (`image_folder("/")`) was still noted as
/// an input, and the next report hashed the whole file system into `run.yaml`.
#[test]
fn only_inputs_that_loaded_are_hashed_into_the_run_record() {
    let d = scratch("inputs");
    let out = d.join("rec");
    let v = show(&format!(
        "try {{ image_folder(\"/\") }} catch {{ }}; load_drybean(); record_run({:?}); read_text({:?})",
        out.display().to_string(),
        out.join("run.yaml").display().to_string()
    ));
    assert!(v.contains("Dry_Bean_Dataset.csv: sha256:"), "{v}");
    assert!(!v.contains("/: sha256"), "{v}");
}

#[test]
fn nan_cells_are_named_not_loaded() {
    let d = scratch("nan");
    let p = d.join("t.csv");
    std::fs::write(&p, "a,b,label\n1,2,x\n3,NaN,y\n").unwrap();
    let src = format!(
        "load_csv({:?}, #{{label: \"label\"}})",
        p.display().to_string()
    );
    refused(
        &src,
        &[
            "t.csv:3:2",
            "'NaN' is not a finite number",
            "allow_nonfinite",
        ],
    );
    let kept = show(&format!(
        "load_csv({:?}, #{{label: \"label\", allow_nonfinite: true}}).len()",
        p.display().to_string()
    ));
    assert_eq!(kept, "2");
}

#[test]
fn targets_are_checked_against_the_classes() {
    refused(
        "gax(drybean_fpa(), randn([2, 16]), #{target: -3, max_steps: 2})",
        &["-3 is not a class index"],
    );
    // "label" means the dataset's labels; a bare tensor has none to give.
    refused(
        "gax(drybean_fpa(), randn([2, 16]), #{target: \"label\", max_steps: 2})",
        &["target \"label\" needs"],
    );
    refused(
        "attribute(drybean_fpa(), randn([2, 16]), \"Saliency\", #{target: tensor([-1, 2])})",
        &["-1 is not a class index"],
    );
}

/// An `.npz` archive with the given `.npy` entries (name, dtype descr, shape, data bytes).
fn npz(path: &Path, entries: &[(&str, &str, &[usize], Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    for (name, descr, shape, data) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let dims = if dims.len() == 1 {
            format!("{},", dims[0])
        } else {
            dims.join(", ")
        };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        z.write_all(b"\x93NUMPY\x01\x00").unwrap();
        z.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
        z.write_all(header.as_bytes()).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn npz_labels_images_and_headers_are_checked() {
    let d = scratch("npz");
    let images: Vec<u8> = (0..2 * 4 * 4).map(|i| i as u8).collect();
    let labels = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    // A label of −1 must not become class 0.
    let p = d.join("neg.npz");
    npz(
        &p,
        &[
            ("test_images.npy", "|u1", &[2, 4, 4], images.clone()),
            ("test_labels.npy", "<i8", &[2, 1], labels(&[0, -1])),
        ],
    );
    refused(
        &format!("load_npz({:?}, \"test\")", p.display().to_string()),
        &["test_labels[1]", "-1 is not a class index"],
    );
    // Float images are taken as they are, not divided by 255 again.
    let p = d.join("float.npz");
    let floats: Vec<u8> = (0..2 * 4 * 4)
        .flat_map(|i| (i as f32 / 32.0).to_le_bytes())
        .collect();
    npz(
        &p,
        &[
            ("test_images.npy", "<f4", &[2, 4, 4], floats),
            ("test_labels.npy", "<i8", &[2, 1], labels(&[0, 1])),
        ],
    );
    let max = show(&format!(
        "load_npz({:?}, \"test\").x.max().item() > 0.9",
        p.display().to_string()
    ));
    assert_eq!(max, "true");
    // A header declaring far more than the archive holds is refused before it is read.
    let p = d.join("huge.npz");
    npz(
        &p,
        &[
            ("test_images.npy", "|u1", &[1 << 20, 1 << 20, 64], images),
            ("test_labels.npy", "<i8", &[2, 1], labels(&[0, 1])),
        ],
    );
    refused(
        &format!("load_npz({:?}, \"test\")", p.display().to_string()),
        &["test_images.npy"],
    );
}

#[test]
fn a_class_folder_with_a_non_utf8_name_is_named() {
    use std::os::unix::ffi::OsStrExt;
    let d = scratch("utf8");
    let bad = d.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/images/owl.jpg"),
        bad.join("a.jpg"),
    )
    .unwrap();
    refused(
        &format!("image_folder({:?})", d.display().to_string()),
        &["not valid UTF-8", "caf"],
    );
}

#[test]
fn temp_paths_stay_in_the_scratch_folder() {
    refused("temp_path(\"../x\")", &["without '..'"]);
    refused("temp_path(\"/etc/passwd\")", &["leading '/'"]);
    assert!(show("temp_path(\"a/b.txt\")").contains("gaxsh-"));
}

#[test]
fn writing_onto_a_folder_leaves_no_partial_file() {
    let d = scratch("onto");
    let target = d.join("dir");
    std::fs::create_dir_all(&target).unwrap();
    let t = target.display().to_string();
    refused(&format!("drybean_fpa().save({t:?})"), &["is a folder"]);
    refused(&format!("write_text({t:?}, \"x\")"), &["is a folder"]);
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The rename that makes writes atomic must never replace a device with a plain file (as root,
/// `save("/dev/null")` once did).
#[test]
fn writing_onto_a_device_is_refused_and_the_device_stays() {
    use std::os::unix::fs::FileTypeExt;
    refused(
        "write_text(\"/dev/null\", \"x\")",
        &["/dev/null", "not a file"],
    );
    refused("drybean_fpa().save(\"/dev/null\")", &["not a file"]);
    let kind = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(kind.is_char_device(), "/dev/null is no longer a device");
}

/// A sweep CSV of drybean_fpa on the first rows, written by a script; returns its path.
fn sweep_csv(dir: &Path, n: usize) -> PathBuf {
    let csv = dir.join("co.csv");
    show(&format!(
        "seed(0); let b = load_drybean(); ax_sweep(drybean_fpa(), b.head({n}), #{{methods: \"Saliency\", modes: [\"sum\"], csv: {:?}}}).rows().len()",
        csv.display().to_string()
    ));
    csv
}

#[test]
fn resume_drops_repeated_rows_and_keeps_rows_around_a_corrupt_one() {
    let d = scratch("resume");
    let csv = sweep_csv(&d, 6);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7);
    // Line 3 damaged, line 5 repeated.
    let mut damaged: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    damaged[2] = damaged[2].replace("Saliency", "Salency");
    damaged.push(lines[4].to_string());
    std::fs::write(&csv, damaged.join("\n") + "\n").unwrap();
    let (mut s, _) = session();
    let v = s
        .eval(
            &format!(
                "seed(0); let b = load_drybean(); let t = ax_sweep(drybean_fpa(), b.head(6), #{{methods: \"Saliency\", modes: [\"sum\"], csv: {:?}}}); [t.rows().len(), t.notes]",
                csv.display().to_string()
            ),
            "<test>",
        )
        .unwrap();
    let out = s.display(&v).unwrap();
    let first = out.split(',').next().unwrap_or("");
    assert_eq!(first.trim_matches(['[', ' ', '\n']), "6", "{out}");
    assert!(
        out.contains("line 3") && out.contains("1 repeated row"),
        "{out}"
    );
    // The file now holds each row once.
    let after = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(after.lines().count(), 7, "{after}");
}

#[test]
fn loading_a_sweep_checks_its_classes_and_fields() {
    let d = scratch("loadax");
    let csv = sweep_csv(&d, 4);
    let p = csv.display().to_string();
    // drybean labels go up to 6: one class name is not enough.
    refused(
        &format!("load_ax_csv({p:?}, [\"only\"])"),
        &["out of range", "1 classes"],
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    fields[9] = "abc".into();
    lines[1] = fields.join(",");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    refused(
        &format!("load_ax_csv({p:?}, load_drybean().classes)"),
        &["co.csv:2", "co 'abc' is not a number"],
    );
}

#[test]
fn merge_checks_every_field_and_every_index_against_its_shard() {
    let d = scratch("merge");
    let out = d.display().to_string();
    for i in 0..2 {
        let o = gaxsh(&[
            "--shard",
            &format!("{i}/2"),
            "-e",
            &format!(
                "let b = load_drybean(); ax_sweep(drybean_fpa(), b.head(8), #{{methods: \"Saliency\", modes: [\"sum\"], batch: 4, csv: \"{out}/co.csv\"}}); 0"
            ),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let shard1 = d.join("co.shard-1-of-2.csv");
    let good = std::fs::read_to_string(&shard1).unwrap();
    // A row whose CO is not a number.
    std::fs::write(&shard1, good.replacen(",0.", ",abc", 1)).unwrap();
    let o = gaxsh(&["merge", &format!("{out}/co.csv")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a number"));
    // A row for a sample outside the shard.
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let mut f: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    f[2] = "0".into();
    lines[1] = f.join(",");
    std::fs::write(&shard1, lines.join("\n") + "\n").unwrap();
    let o = gaxsh(&["merge", &format!("{out}/co.csv")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("outside shard 1/2"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn rerun_refuses_changed_inputs() {
    let d = scratch("rerun");
    let data = d.join("beans.csv");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/drybean/Dry_Bean_Dataset.csv"),
        &data,
    )
    .unwrap();
    let out = d.join("run");
    let o = gaxsh(&[
        "scripts/drybean.rhai",
        "--quick",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let record = std::fs::read_to_string(out.join("run.yaml")).unwrap();
    assert!(record.contains("beans.csv: sha256:"), "{record}");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&data)
        .unwrap();
    writeln!(f).unwrap();
    let o = gaxsh(&["rerun", out.join("run.yaml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("beans.csv (changed)") && err.contains("--allow-changed-data"),
        "{err}"
    );
}
