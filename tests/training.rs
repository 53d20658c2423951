//! Training: a convolutional net's steps against PyTorch, and the paper's models on the bundled
//! real data.

mod common;

use candle_core::DType;
use gaxsh::data::csv::{drybean_options, load_csv};
use gaxsh::data::split::split_mod3;
use gaxsh::data::transform::Transform;
use gaxsh::nn::Arch;
use gaxsh::train::{TrainOptions, evaluate_model, fit};
use std::path::Path;

#[test]
fn drybean_fpa_reaches_the_papers_accuracy() {
    gaxsh::tensor::random::seed(0);
    let d = load_csv(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/drybean/Dry_Bean_Dataset.csv"),
        &drybean_options(),
    )
    .unwrap();
    let norm = Transform::standardize_from(&d.raw_x().unwrap(), &d.feature_names, 0.5).unwrap();
    let s = split_mod3(&d, false).unwrap();
    let (train, val, test) = (
        s.train.with_transform(norm.clone()),
        s.val.with_transform(norm.clone()),
        s.test.with_transform(norm),
    );
    let net = Arch::DrybeanFpa.build(DType::F32).unwrap();
    let opts = TrainOptions {
        epochs: 30,
        target_val_acc: Some(0.85),
        ..Default::default()
    };
    let report = fit(&net, &train, Some(&val), &opts).unwrap();
    let m = evaluate_model(&net, &test, 512).unwrap();
    eprintln!(
        "drybean_fpa: {} epochs, {:.1} s, best val {:?}, test {:.4}",
        report.epochs.len(),
        report.seconds,
        report.best_val_acc,
        m.accuracy
    );
    // The paper reports 0.877 test accuracy (target val acc 0.85).
    assert!(m.accuracy >= 0.85, "test accuracy {}", m.accuracy);
    assert_eq!(report.stopped, "target reached");
    assert!(report.best_val_acc.unwrap() > 0.85);
    // The model holds the best-validation weights.
    let v = evaluate_model(&net, &val, 512).unwrap().accuracy;
    assert_eq!(Some(v), report.best_val_acc);
}

/// A convolutional net's training steps equal PyTorch's (`tools/reference/training_fixtures.py`):
/// batch statistics and their gradients, the running-statistics updates, convolution and
/// transposed-convolution weight gradients, cross-entropy and Adam. cxc_multi_spa at 64² in
/// f64, one epoch of 8 formula images in batches of 4.
#[test]
fn cxc_training_steps_match_pytorch() {
    use gaxsh::nn::ModelOptions;
    let reference = common::fixture("train_cxc.safetensors");
    let o = ModelOptions {
        size: Some(64),
        dtype: DType::F64,
        ..Default::default()
    };
    let net = gaxsh::nn::zoo::model("cxc_multi_spa", &o).unwrap();
    gaxsh::nn::formula::load_formula_weights(&net).unwrap();
    let x = gaxsh::nn::formula::formula_input(&[8, 1, 64, 64], 0.5, DType::F64).unwrap();
    let labels = (0..8).map(|i| i % 4).collect();
    let classes = (0..4).map(|c| c.to_string()).collect();
    let ds = gaxsh::data::Dataset::in_memory(x, labels, classes, "formula images").unwrap();
    let opts = TrainOptions {
        epochs: 1,
        batch: 4,
        shuffle: false,
        ..Default::default()
    };
    let report = fit(&net, &ds, None, &opts).unwrap();
    let steps = reference["loss"].to_vec1::<f64>().unwrap();
    let mean_loss = steps.iter().sum::<f64>() / steps.len() as f64;
    assert!(
        (report.epochs[0].loss - mean_loss).abs() < 1e-10,
        "{} vs {mean_loss}",
        report.epochs[0].loss
    );
    let state = net.state_dict();
    let mut compared = 0;
    for (key, want) in &reference {
        let Some(name) = key.strip_prefix("state.") else {
            continue;
        };
        let got = state
            .get(name)
            .unwrap_or_else(|| panic!("no tensor '{name}' in the model"));
        // Not 1e-12: the biases ahead of batch norm get gradients that are rounding noise (the
        // batch mean removes them), and Adam divides by their square root's running mean, so
        // their updates carry the noise up to ~1e-8. A wrong term is off by 1e-3 and more.
        common::assert_tensor_close(got, want, 1e-7, name);
        compared += 1;
    }
    assert!(compared > 30, "{compared} tensors compared");
}
