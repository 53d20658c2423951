//! Property tests of the file readers (CSV, NPZ, safetensors, torch checkpoints, ONNX, YAML): what a
//! reader accepts it reads back exactly, and what it refuses it refuses with an error, never a
//! panic or an allocation the file does not justify. (The kernel's message decoding has its
//! own properties in `src/kernel/wire.rs`.)

use gaxsh::data::csv::{CsvOptions, load_csv};
use gaxsh::data::npz::load_npz;
use gaxsh::nn::Arch;
use gaxsh::nn::spec::ModelSpec;
use gaxsh::nn::weights::read_tensors;
use gaxsh::onnx::load_onnx;
use gaxsh::report::record::RunRecord;
use proptest::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh file path in this test's scratch folder.
fn scratch(ext: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("gaxsh-properties-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}.{ext}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

fn write(ext: &str, bytes: &[u8]) -> PathBuf {
    let p = scratch(ext);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    }
}

/// A table of finite numbers with a text label column placed at `label_at`.
fn table() -> impl Strategy<Value = (Vec<Vec<f64>>, Vec<usize>, usize)> {
    (1usize..5, 1usize..12).prop_flat_map(|(cols, rows)| {
        (
            prop::collection::vec(
                prop::collection::vec(
                    prop_oneof![-1e6..1e6f64, Just(0.0), Just(-0.0), Just(1e-300)],
                    cols,
                ),
                rows,
            ),
            prop::collection::vec(0usize..3, rows),
            0..=cols,
        )
    })
}

fn csv_text(rows: &[Vec<f64>], labels: &[usize], label_at: usize) -> String {
    let cols = rows[0].len();
    let mut header: Vec<String> = (0..cols).map(|c| format!("f{c}")).collect();
    header.insert(label_at, "Class".into());
    let mut s = header.join(",") + "\n";
    for (r, l) in rows.iter().zip(labels) {
        // `{:?}` writes the shortest text that reads back as the same f64.
        let mut cells: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
        cells.insert(label_at, ["bean", "pea", "lentil"][*l].to_string());
        s += &(cells.join(",") + "\n");
    }
    s
}

fn opts() -> CsvOptions {
    CsvOptions {
        label: "Class".into(),
        classes: Some(vec!["bean".into(), "pea".into(), "lentil".into()]),
        ..Default::default()
    }
}

/// A named `.npy` entry (dtype descr, shape, data bytes).
type Npy<'a> = (&'a str, &'a str, Vec<usize>, Vec<u8>);

fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let dims = if dims.len() == 1 {
        format!("{},", dims[0])
    } else {
        dims.join(", ")
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn npz(entries: &[Npy]) -> PathBuf {
    let p = scratch("npz");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    for (name, descr, shape, data) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&npy_bytes(descr, shape, data)).unwrap();
    }
    z.finish().unwrap();
    p
}

/// A safetensors file of f32 tensors, written by hand from the format's definition.
fn safetensors(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        values.iter().for_each(|v| data.extend(v.to_le_bytes()));
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let header = serde_json::Value::Object(header).to_string();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn values_of(t: &candle_core::Tensor) -> Vec<f64> {
    t.to_dtype(candle_core::DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(config())]

    /// Any table of finite numbers reads back bit for bit, labels as class indices, wherever
    /// the label column stands.
    #[test]
    fn csv_tables_read_back_exactly((rows, labels, label_at) in table()) {
        let p = write("csv", csv_text(&rows, &labels, label_at).as_bytes());
        let d = load_csv(&p, &opts()).unwrap();
        let want: Vec<f64> = rows.iter().flatten().copied().collect();
        let got = values_of(&d.raw_x().unwrap());
        prop_assert_eq!(got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        let y: Vec<usize> = values_of(&d.labels().unwrap()).iter().map(|&v| v as usize).collect();
        prop_assert_eq!(y, labels);
    }

    /// A NaN or infinite cell anywhere is refused, naming its line and column.
    #[test]
    fn csv_nonfinite_cells_are_named(
        (rows, labels, label_at) in table(),
        at in any::<prop::sample::Index>(),
        bad in prop_oneof![Just("NaN"), Just("nan"), Just("inf"), Just("-inf"), Just("Infinity")],
    ) {
        let mut text: Vec<Vec<String>> = csv_text(&rows, &labels, label_at)
            .lines()
            .map(|l| l.split(',').map(String::from).collect())
            .collect();
        let cells: Vec<(usize, usize)> = (1..text.len())
            .flat_map(|r| (0..text[r].len()).filter(|&c| c != label_at).map(move |c| (r, c)))
            .collect();
        let (r, c) = cells[at.index(cells.len())];
        text[r][c] = bad.to_string();
        let body: String = text.iter().map(|l| l.join(",") + "\n").collect();
        let p = write("csv", body.as_bytes());
        let e = load_csv(&p, &opts()).unwrap_err().to_string();
        let place = format!(":{}:{}", r + 1, c + 1);
        prop_assert!(e.contains(&place) && e.contains(bad), "{}", e);
        let kept = load_csv(&p, &CsvOptions { allow_nonfinite: true, ..opts() }).unwrap();
        prop_assert_eq!(kept.len(), rows.len());
    }

    /// Any bytes at all: a dataset or an error, never a panic.
    #[test]
    fn csv_arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(prop_oneof![
            Just(b','), Just(b'\n'), Just(b'"'), Just(b'1'), Just(b'.'), Just(b'e'), any::<u8>()
        ], 0..300),
        header in any::<bool>(),
    ) {
        let mut text = if header { b"a,b,Class\n".to_vec() } else { Vec::new() };
        text.extend(bytes);
        let p = write("csv", &text);
        let _ = load_csv(&p, &opts());
    }

    /// MedMNIST-style archives read back exactly: uint8 images scaled to [0, 1], labels as
    /// they are.
    #[test]
    fn npz_archives_read_back_exactly(
        n in 1usize..5, h in 1usize..6, w in 1usize..6, channels in prop_oneof![Just(1usize), Just(3)],
        seed in any::<u64>(),
    ) {
        let mut shape = vec![n, h, w];
        if channels == 3 {
            shape.push(3);
        }
        let count: usize = shape.iter().product();
        let pixels: Vec<u8> = (0..count).map(|i| (seed.wrapping_mul(i as u64 + 1) >> 7) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
        let p = npz(&[
            ("train_images.npy", "|u1", shape.clone(), pixels.clone()),
            ("train_labels.npy", "|u1", vec![n, 1], labels.clone()),
        ]);
        let d = load_npz(&p, "train", None).unwrap();
        let x = d.raw_x().unwrap();
        prop_assert_eq!(x.dims(), &[n, channels, h, w]);
        // (N, H, W, C) on disk, (N, C, H, W) in memory.
        let got = values_of(&x);
        for (i, &v) in pixels.iter().enumerate() {
            let (s, rest) = (i / (h * w * channels), i % (h * w * channels));
            let (y, x_, c) = (rest / (w * channels), (rest / channels) % w, rest % channels);
            let at = ((s * channels + c) * h + y) * w + x_;
            prop_assert!((got[at] - v as f64 / 255.0).abs() < 1e-6);
        }
        let y: Vec<u8> = values_of(&d.labels().unwrap()).iter().map(|&v| v as u8).collect();
        prop_assert_eq!(y, labels);
    }

    /// A header that declares more than the archive holds, or more than memory allows, is
    /// refused before anything is allocated.
    #[test]
    fn npz_headers_cannot_ask_for_more_than_the_file_holds(
        dims in prop::collection::vec(prop_oneof![1usize..1000, Just(1usize << 31), Just(usize::MAX / 3)], 1..4),
        descr in prop_oneof![Just("|u1"), Just("<f4"), Just("<f8"), Just("<i8")],
    ) {
        let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        prop_assume!(count.is_none_or(|c| c > 64));
        let p = npz(&[("train_images.npy", descr, dims.clone(), vec![7; 64])]);
        let e = load_npz(&p, "train", None).unwrap_err().to_string();
        prop_assert!(e.contains("train_images") || e.contains("more elements"), "{}", e);
    }

    /// Any bytes, or any damage to a valid archive: an error, never a panic.
    #[test]
    fn npz_damaged_archives_never_panic(
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..6),
    ) {
        let good = npz(&[
            ("train_images.npy", "|u1", vec![2, 3, 3], vec![9; 18]),
            ("train_labels.npy", "|u1", vec![2, 1], vec![0, 1]),
        ]);
        let mut bytes = std::fs::read(&good).unwrap();
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if flips.is_empty() {
            bytes.truncate(cut.index(bytes.len()));
        }
        let p = write("npz", &bytes);
        let _ = load_npz(&p, "train", None);
    }

    /// Tensors written in the safetensors format read back exactly.
    #[test]
    fn safetensors_read_back_exactly(
        tensors in prop::collection::vec(
            (prop::collection::vec(1usize..4, 0..4), any::<u32>()), 1..5),
    ) {
        let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = tensors
            .into_iter()
            .enumerate()
            .map(|(i, (shape, seed))| {
                let n: usize = shape.iter().product();
                let v = (0..n).map(|k| ((seed as f32) * 1e-3 + k as f32).sin()).collect();
                (format!("layer{i}.weight"), shape, v)
            })
            .collect();
        let p = write("safetensors", &safetensors(&tensors));
        let got = read_tensors(&p).unwrap();
        prop_assert_eq!(got.len(), tensors.len());
        for (name, shape, values) in &tensors {
            let t = &got[name];
            prop_assert_eq!(t.dims(), shape.as_slice());
            let want: Vec<f64> = values.iter().map(|&v| v as f64).collect();
            prop_assert_eq!(values_of(t), want);
        }
    }

    /// Damaged safetensors files and torch checkpoints: an error, never a panic, never an
    /// allocation the file does not hold.
    #[test]
    fn damaged_weight_files_never_panic(
        torch in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..6),
    ) {
        let (mut bytes, ext) = if torch {
            (fixture("tiny_checkpoint.pt"), "pt")
        } else {
            (safetensors(&[("w".into(), vec![2, 3], vec![0.5; 6])]), "safetensors")
        };
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if flips.is_empty() {
            bytes.truncate(cut.index(bytes.len()));
        }
        let p = write(ext, &bytes);
        let _ = read_tensors(&p);
    }

    /// Damaged ONNX models (bytes flipped, or cut short): a model or an error, never a panic.
    #[test]
    fn damaged_onnx_models_never_panic(
        which in prop_oneof![Just("conv1d_ts.onnx"), Just("ccf_fpa_ts.onnx"), Just("mlp_functional_ts.onnx")],
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
    ) {
        let mut bytes = fixture(&format!("onnx/{which}"));
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if flips.is_empty() {
            bytes.truncate(cut.index(bytes.len()));
        }
        let p = write("onnx", &bytes);
        let _ = load_onnx(&p, &Default::default());
    }

    /// Any text as a model description or a run record: a value or an error naming the
    /// source, never a panic.
    #[test]
    fn yaml_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = ModelSpec::from_yaml(&text, "model.yaml") {
            prop_assert!(e.to_string().contains("model.yaml"), "{}", e);
        }
        if let Err(e) = RunRecord::from_yaml(&text, "run.yaml") {
            prop_assert!(e.to_string().contains("run.yaml"), "{}", e);
        }
    }

    /// Model descriptions with any widths either build a model of that shape or are refused
    /// by the size guard, never allocated blindly.
    #[test]
    fn yaml_models_build_or_are_refused(
        input in 1usize..40,
        widths in prop::collection::vec(prop_oneof![1usize..50, Just(1usize << 40), Just(usize::MAX)], 1..4),
    ) {
        let layers: Vec<String> = widths.iter().map(|w| format!("  - linear: {{out: {w}}}\n  - relu\n")).collect();
        let text = format!("name: m\ninput: [{input}]\nlayers:\n{}", layers.concat());
        let spec = ModelSpec::from_yaml(&text, "m.yaml");
        let huge = widths.iter().any(|&w| w >= 1 << 40);
        match spec.and_then(|s| Arch::Custom(s).build(candle_core::DType::F32)) {
            Ok(m) => {
                prop_assert!(!huge);
                prop_assert_eq!(m.classes, *widths.last().unwrap());
            }
            Err(e) => prop_assert!(huge, "{}", e),
        }
    }
}

/// The torch checkpoint the mutation test starts from is itself read correctly.
#[test]
fn the_tiny_checkpoint_reads() {
    let p = write("pt", &fixture("tiny_checkpoint.pt"));
    let t = read_tensors(&p).unwrap();
    assert_eq!(t["0.weight"].dims(), &[3, 4]);
    assert_eq!(t["1.running_var"].dims(), &[3]);
    assert_eq!(t["2.bias"].dims(), &[2]);
}
