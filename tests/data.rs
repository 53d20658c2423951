//! Data loading against METHOD.md's numbers, PyTorch's resize, and every kind of bad input.

mod common;
use candle_core::DType;
use common::*;
use gaxsh::data::csv::{CsvOptions, creditcard_options, drybean_options, load_csv};
use gaxsh::data::images::{FolderOptions, Gray, ImageSpec, image_folder};
use gaxsh::data::split::split_mod3;
use gaxsh::data::transform::Transform;
use gaxsh::data::{creditcard, npz};
use std::path::{Path, PathBuf};

fn bundled(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel)
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gaxsh-data-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn beans() -> gaxsh::data::Dataset {
    load_csv(&bundled("drybean/Dry_Bean_Dataset.csv"), &drybean_options()).unwrap()
}

#[test]
fn drybean_loads_with_the_papers_class_order() {
    let d = beans();
    assert_eq!(d.len(), 13_611);
    assert_eq!(d.feature_names.len(), 16);
    assert_eq!(d.feature_names[4], "AspectRation");
    assert_eq!(
        d.class_names,
        vec![
            "SEKER", "BARBUNYA", "BOMBAY", "CALI", "DERMASON", "HOROZ", "SIRA"
        ]
    );
    // METHOD.md §2.3 class counts.
    assert_eq!(
        d.class_counts(),
        vec![2027, 1322, 522, 1630, 3546, 1928, 2636]
    );
}

#[test]
fn drybean_split_mod3_global_row_index() {
    let s = split_mod3(&beans(), false).unwrap();
    assert_eq!(
        (s.train.len(), s.val.len(), s.test.len()),
        (4537, 4537, 4537)
    );
    // Per class (train, val, test), METHOD.md §2.3, in the paper's class order.
    let want = [
        ("SEKER", [676, 676, 675]),
        ("BARBUNYA", [441, 440, 441]),
        ("BOMBAY", [174, 174, 174]),
        ("CALI", [543, 544, 543]),
        ("DERMASON", [1182, 1182, 1182]),
        ("HOROZ", [643, 642, 643]),
        ("SIRA", [878, 879, 879]),
    ];
    for (k, (name, counts)) in want.iter().enumerate() {
        let got = [
            s.train.class_counts()[k],
            s.val.class_counts()[k],
            s.test.class_counts()[k],
        ];
        assert_eq!(&got, counts, "{name}");
    }
    // The paper's wording (index within class) differs: BARBUNYA 441/441/440.
    let w = split_mod3(&beans(), true).unwrap();
    assert_eq!(
        [
            w.train.class_counts()[1],
            w.val.class_counts()[1],
            w.test.class_counts()[1]
        ],
        [441, 441, 440]
    );
    assert!(
        s.test
            .provenance
            .steps
            .last()
            .unwrap()
            .contains("global row index mod 3 = 2")
    );
}

#[test]
fn drybean_standardisation_statistics() {
    let d = beans();
    let t = Transform::standardize_from(&d.raw_x().unwrap(), &d.feature_names, 0.5).unwrap();
    let Transform::Standardize { mean, std, offset } = &t else {
        panic!()
    };
    assert_eq!(*offset, 0.5);
    // METHOD.md §2.3 (population std over all 13,611 rows).
    let want_mean: [f64; 16] = [
        53048.284549,
        855.283459,
        320.141867,
        202.270714,
        1.583242,
        0.750895,
        53768.200206,
        253.064220,
        0.749733,
        0.987143,
        0.873282,
        0.799864,
        0.006564,
        0.001716,
        0.643590,
        0.995063,
    ];
    let want_std: [f64; 16] = [
        29323.018477,
        214.281824,
        85.691038,
        44.968439,
        0.246669,
        0.091998,
        29773.822016,
        59.174946,
        0.049085,
        0.004660,
        0.059518,
        0.061711,
        0.001128,
        0.000596,
        0.098993,
        0.004366,
    ];
    for j in 0..16 {
        // The table rounds to 6 decimals, so small stds are only good to ~1e-3 relative there.
        let tol_m = 1e-4 * want_mean[j].abs() + 6e-7;
        let tol_s = 1e-4 * want_std[j] + 6e-7;
        assert!(
            (mean[j] - want_mean[j]).abs() <= tol_m,
            "mean {j}: {} vs {}",
            mean[j],
            want_mean[j]
        );
        assert!(
            (std[j] - want_std[j]).abs() <= tol_s,
            "std {j}: {} vs {}",
            std[j],
            want_std[j]
        );
    }
    // Applied: standardised values have mean 0.5.
    let x = t.apply(&d.raw_x().unwrap()).unwrap();
    let m = x.mean(0).unwrap().to_vec1::<f64>().unwrap();
    assert!(m.iter().all(|v| (v - 0.5).abs() < 1e-9), "{m:?}");
}

#[test]
fn creditcard_bundled_construction() {
    let s = creditcard::from_bundled(&bundled("creditcard")).unwrap();
    // Train: 2499 negatives (rows ≤ 2500 minus the frauds at 541 and 623) + 2460 synthetic.
    assert_eq!(s.train.len(), 4959);
    assert_eq!(s.train.class_counts(), vec![2499, 2460]);
    assert_eq!(s.val.class_counts(), vec![2500, 2460]);
    assert_eq!(s.test.class_counts(), vec![2479, 492]);
    // Row 2500 is a negative; the label slicing is inclusive, so it ends train.
    assert_eq!(s.train.ids[2498], "row 2500");
    // Each synthetic row = 0.05·reference + 0.95·fraud: fraud i, j-th reference = negative 5i+j.
    let frauds = load_csv(
        &bundled("creditcard/creditcard_all492frauds.csv"),
        &creditcard_options(),
    )
    .unwrap();
    let fx = frauds.raw_x().unwrap().to_vec2::<f64>().unwrap();
    let tx = s.train.raw_x().unwrap().to_vec2::<f64>().unwrap();
    for (i, j) in [(0, 0), (0, 4), (17, 2), (491, 4)] {
        let synth = &tx[2499 + 5 * i + j];
        let r = &tx[5 * i + j];
        for f in 0..28 {
            let want = 0.05 * r[f] + 0.95 * fx[i][f];
            assert!(
                (synth[f] - want).abs() < 1e-12,
                "fraud {i} ref {j} feature {f}"
            );
        }
    }
    // The substitute is said, not hidden.
    for d in [&s.train, &s.val, &s.test] {
        assert!(
            d.provenance.notes.iter().any(|n| n.contains("SUBSTITUTE")),
            "{:?}",
            d.provenance.notes
        );
    }
    // The paper's scaling: clip(x, −3, 3)/3 + 0.5 lies in [−0.5, 1.5].
    let x = s
        .test
        .with_transform(creditcard::paper_scaling())
        .x()
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert!(x.iter().all(|v| (-0.5..=1.5).contains(v)));
    assert!(x.contains(&1.5) && x.contains(&-0.5));
}

#[test]
fn creditcard_full_file_slicing_is_by_original_row_label() {
    // A file laid out like the full Kaggle one: the real first 4002 rows, then real normals
    // from the subsample as rows 4002.. (the construction only looks at labels and classes).
    let first =
        std::fs::read_to_string(bundled("creditcard/creditcard_first4002rows.csv")).unwrap();
    let union =
        std::fs::read_to_string(bundled("creditcard/creditcard_union_subsample.csv")).unwrap();
    let mut text = first.trim_end().to_string();
    let mut added = 0;
    for line in union.lines().skip(1) {
        if line.ends_with(",0") || line.ends_with(",\"0\"") {
            text.push('\n');
            text.push_str(line);
            added += 1;
            if added == 3600 {
                break;
            }
        }
    }
    let p = temp("creditcard_like_full.csv");
    std::fs::write(&p, text + "\n").unwrap();
    let s = creditcard::from_full_file(&p).unwrap();
    // Only the two frauds at 541 and 623 are in this file: every one gets 5 projections.
    assert_eq!(s.train.class_counts(), vec![2499, 10]);
    // Rows 2500..=5000 inclusive: 2501 negatives, row 2500 also in train (the authors' overlap).
    assert_eq!(s.val.class_counts(), vec![2501, 10]);
    assert_eq!(s.val.ids[0], "row 2500");
    assert_eq!(s.test.class_counts(), vec![2501, 2]);
    let short = temp("short.csv");
    std::fs::write(&short, first).unwrap();
    let e = creditcard::from_full_file(&short).unwrap_err().to_string();
    assert!(e.contains("4002 rows") && e.contains("full file"), "{e}");
}

#[test]
fn pneumoniamnist_official_splits() {
    let p = bundled("pneumoniamnist/pneumoniamnist.npz");
    let names = Some(vec!["normal".to_string(), "pneumonia".to_string()]);
    let sizes: Vec<usize> = ["train", "val", "test"]
        .iter()
        .map(|s| npz::load_npz(&p, s, names.clone()).unwrap().len())
        .collect();
    assert_eq!(sizes, vec![4708, 524, 624]);
    let t = npz::load_npz(&p, "test", names).unwrap();
    assert_eq!(t.sample_shape(), vec![1, 28, 28]);
    let x = t
        .x()
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(x.iter().all(|v| (0.0..=1.0).contains(v)) && x.iter().any(|v| *v > 0.9));
    let e = npz::load_npz(&p, "tset", None).unwrap_err().to_string();
    assert!(
        e.contains("no array 'tset_images'") && e.contains("train_images"),
        "{e}"
    );
}

#[test]
fn image_folder_layout_and_torch_resize() {
    let spec = ImageSpec {
        channels: 1,
        size: Some((64, 64)),
        gray: Gray::Mean,
    };
    let d = image_folder(
        &bundled("chest_xray/test"),
        &FolderOptions {
            classes: None,
            spec,
            workers: 2,
        },
    )
    .unwrap();
    assert_eq!(d.class_names, vec!["NORMAL", "PNEUMONIA"]);
    assert_eq!(d.class_counts(), vec![60, 60]);
    // Files sorted bytewise within each class.
    assert!(
        d.ids[0].ends_with("NORMAL/IM-0001-0001.jpeg"),
        "{}",
        d.ids[0]
    );
    assert_eq!(d.batch(0, 3).unwrap().dims(), &[3, 1, 64, 64]);

    // Decoding + PyTorch bilinear resize against PIL + F.interpolate.
    let fx = fixture("resize.safetensors");
    let one = |channels, size| {
        let spec = ImageSpec {
            channels,
            size: Some(size),
            gray: Gray::Mean,
        };
        let (v, h, w) = gaxsh::data::images::decode(&bundled("images/cat.png"), &spec).unwrap();
        candle_core::Tensor::from_vec(v, (channels, h, w), &gaxsh::device::current()).unwrap()
    };
    assert_tensor_close(&one(3, (64, 80)), &fx["cat_rgb_64x80"], 1e-12, "rgb resize");
    assert_tensor_close(
        &one(1, (50, 50)),
        &fx["cat_gray_50x50"],
        1e-12,
        "gray (mean) resize",
    );
    let up = gaxsh::tensor::resize::resize(
        &candle_core::Tensor::arange(0f64, 12., &gaxsh::device::current())
            .unwrap()
            .reshape((3, 4))
            .unwrap(),
        7,
        9,
        gaxsh::tensor::resize::Mode::Bilinear,
    )
    .unwrap();
    assert_tensor_close(&up, &fx["upsample_3x4_to_7x9"], 1e-12, "upsample");
}

#[test]
fn bad_input_gives_clear_errors() {
    let opts = drybean_options();
    // Missing file.
    let e = load_csv(Path::new("/no/such/beans.csv"), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/no/such/beans.csv") && e.contains("No such file"),
        "{e}"
    );
    // A table written to `p`, loaded with the given label column.
    let p = temp("beans_small.csv");
    let table = |text: &str, label: &str| {
        std::fs::write(&p, text).unwrap();
        load_csv(
            &p,
            &CsvOptions {
                label: label.into(),
                ..Default::default()
            },
        )
    };
    let error = |text: &str, label: &str| table(text, label).unwrap_err().to_string();
    // Misspelt column: the columns are listed, the close one suggested.
    let e = error("Area,Perimeter,Class\n1,2,SEKER\n3,4,SIRA\n", "Clas");
    assert!(
        e.contains(
            "no label column 'Clas' (did you mean 'Class'?); columns: Area, Perimeter, Class"
        ),
        "{e}"
    );
    // Non-numeric cell: file:line:column and the text.
    let e = error("Area,Perimeter,Class\n1,2,SEKER\n3,four,SIRA\n", "Class");
    assert!(
        e.ends_with("beans_small.csv:3:2: column 'Perimeter': 'four' is not a number"),
        "{e}"
    );
    // Ragged row.
    let e = error("Area,Perimeter,Class\n1,2,SEKER\n3,SIRA\n", "Class");
    assert!(
        e.contains("beans_small.csv:3") && e.contains("row has 2 fields, the header has 3"),
        "{e}"
    );
    // Empty dataset.
    let e = error("Area,Perimeter,Class\n", "Class");
    assert!(e.contains("no data rows"), "{e}");
    // A label outside the given classes.
    std::fs::write(&p, "Area,Perimeter,Class\n1,2,SEKER\n3,4,PINTO\n").unwrap();
    let e = load_csv(&p, &opts).unwrap_err().to_string();
    assert!(
        e.contains(":3:3: label 'PINTO' is not one of the classes SEKER"),
        "{e}"
    );
    // Zero-variance feature in standardisation.
    let d = table("Area,Perimeter,Class\n1,2,SEKER\n1,4,SIRA\n", "Class").unwrap();
    let e = Transform::standardize_from(&d.raw_x().unwrap(), &d.feature_names, 0.5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("feature 'Area' has zero variance"), "{e}");
    // Unknown label folder.
    let spec = ImageSpec {
        channels: 1,
        size: Some((32, 32)),
        gray: Gray::Mean,
    };
    let e = image_folder(
        &bundled("chest_xray/test"),
        &FolderOptions {
            classes: Some(vec!["NORMAL".into(), "COVID".into()]),
            spec: spec.clone(),
            workers: 1,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no label folder 'COVID'; folders found: NORMAL, PNEUMONIA"),
        "{e}"
    );
    // Corrupt and truncated images name the file.
    let root = temp("badimgs");
    std::fs::create_dir_all(root.join("A")).unwrap();
    std::fs::write(root.join("A/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let full = std::fs::read(bundled("images/cat.png")).unwrap();
    std::fs::write(root.join("A/cut.png"), &full[..full.len() / 3]).unwrap();
    let d = image_folder(
        &root,
        &FolderOptions {
            classes: None,
            spec,
            workers: 1,
        },
    )
    .unwrap();
    for i in 0..2 {
        let e = d.batch(i, 1).unwrap_err().to_string();
        assert!(
            e.contains(".png") && e.contains("cannot decode image"),
            "{e}"
        );
    }
    assert!(
        d.batch(0, 1)
            .unwrap_err()
            .to_string()
            .contains("broken.png")
    );
}

#[test]
fn f64_tables_keep_full_precision() {
    let d = beans();
    assert_eq!(d.raw_x().unwrap().dtype(), DType::F64);
    // The first Perimeter is 610.2909999999998 in the file.
    assert_eq!(
        d.raw_x().unwrap().to_vec2::<f64>().unwrap()[0][1],
        610.2909999999998
    );
}
