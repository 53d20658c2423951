//! Imported ONNX models against PyTorch + Captum 0.9 and onnxruntime (fixtures from
//! tools/reference/onnx_fixtures.py): every architecture exported by both of torch 2.15's
//! exporters gives PyTorch's logits in f64 and onnxruntime's in f32, and every method's heatmap
//! equals Captum's on the original `nn.Module`, Grad-CAM by module path and by default.

mod common;
use candle_core::{DType, Tensor};
use common::*;
use gaxsh::attr::{AttrOptions, Method, Target, attribute};
use gaxsh::nn::{LayerRef, Model};
use gaxsh::onnx::{LoadOptions, load_onnx};
use std::collections::HashMap;
use std::path::PathBuf;

/// (name, Grad-CAM layer by module path, heatmaps stored at sampled positions)
const ARCHS: &[(&str, Option<&str>, bool)] = &[
    ("resnet18", Some("layer3"), false),
    ("resnet50", Some("layer2"), false),
    ("alexnet", Some("features.7"), true),
    ("vgg11", Some("features.12"), true),
    ("mobilenet_v2", Some("features.5"), false),
    ("mobilenet_v3", Some("features.3"), false),
    ("densenet", Some("features.denseblock2"), false),
    ("efficientnet", Some("features.3"), false),
    ("squeezenet", Some("features.6"), false),
    ("convnext", Some("features.3"), false),
    ("mlp", None, false),
    ("conv1d", None, false),
    ("mixed_cnn", Some("lrelu"), false),
    ("drybean_fpa", None, false),
    ("ccf_fpa", None, false),
    ("cxc_multi_spa", Some("spa1.act.0"), false),
];

const EXPORTERS: [&str; 2] = ["ts", "dy"];

/// Where gaxsh's default Grad-CAM layer is the paper's (exported copies of its models whose
/// export kept that layer; the dynamo exporter attributes FPA's folded first convolution to the
/// batch norm, so there the last spatial convolution is the default).
const PAPER_DEFAULT: &[(&str, &str, &str, bool)] = &[
    ("drybean_fpa", "ts", "fpa.fconvs.0", true),
    ("ccf_fpa", "ts", "fpa.fconvs.0", true),
    ("alexnet", "ts", "features.0", false),
    ("alexnet", "dy", "features.0", false),
];

fn path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(file)
}

fn load(name: &str, exporter: &str, dtype: DType) -> Model {
    let p = path(&format!("{name}_{exporter}.onnx"));
    load_onnx(
        &p,
        &LoadOptions {
            dtype: Some(dtype),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn f64s(t: &Tensor) -> Tensor {
    t.to_dtype(DType::F64).unwrap()
}

fn targets(fx: &HashMap<String, Tensor>, which: &str) -> Vec<usize> {
    fx[&format!("target_{which}")]
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
        .into_iter()
        .map(|v| v as usize)
        .collect()
}

/// The inputs of a fixture: stored, or the shared formula for the 224 × 224 ones.
fn input(fx: &HashMap<String, Tensor>, m: &Model) -> Tensor {
    match fx.get("input") {
        Some(x) => f64s(x),
        None => {
            let n = fx["logits"].dim(0).unwrap();
            let mut shape = vec![n];
            shape.extend(&m.input_shape);
            let x = gaxsh::nn::formula::formula_input(&shape, 0.5, DType::F32).unwrap();
            f64s(&x)
        }
    }
}

/// Compare a heatmap with the fixture's (whole, or at its sampled positions).
fn check(h: &Tensor, fx: &HashMap<String, Tensor>, key: &str, tol: f64, what: &str) {
    let want = f64s(&fx[key]);
    match fx.get("sample_idx") {
        None => assert_tensor_close(h, &want, tol, what),
        Some(idx) => {
            let n = h.dim(0).unwrap();
            let idx = idx.to_dtype(DType::U32).unwrap();
            let picked = h.reshape((n, ())).unwrap().index_select(&idx, 1).unwrap();
            assert_tensor_close(&picked, &want, tol, what);
        }
    }
}

fn methods() -> Vec<(&'static str, Method, AttrOptions, f64)> {
    let o = AttrOptions::default;
    vec![
        ("Saliency", Method::Saliency, o(), 1e-5),
        ("InputXGradient", Method::InputXGradient, o(), 1e-5),
        ("Deconvolution", Method::Deconvolution, o(), 1e-4),
        ("GuidedBackprop", Method::GuidedBackprop, o(), 1e-4),
        ("DeepLift", Method::DeepLift, o(), 1e-4),
    ]
}

/// Integrated Gradients (8 Gauss–Legendre steps), checked with the predicted targets.
fn ig() -> AttrOptions {
    AttrOptions {
        ig_steps: 8,
        ..Default::default()
    }
}

fn for_targets(fx: &HashMap<String, Tensor>, mut f: impl FnMut(&str, Target)) {
    f("pred", Target::Predicted);
    f("given", Target::PerSample(targets(fx, "given")));
}

#[test]
fn imported_logits_match_pytorch_and_onnxruntime() {
    for &(name, _, _) in ARCHS {
        let fx = fixture(&format!("onnx/{name}.safetensors"));
        for exporter in EXPORTERS {
            let what = format!("{name} ({exporter})");
            let m = load(name, exporter, DType::F64);
            let x = input(&fx, &m);
            assert_tensor_close(
                &m.logits(&x, 64).unwrap(),
                &f64s(&fx["logits"]),
                1e-6,
                &what,
            );
            assert_eq!(
                m.predict(&x, 64).unwrap(),
                targets(&fx, "pred"),
                "{what} predictions"
            );
            let Some(ort) = fx.get(&format!("{exporter}.ort_logits")) else {
                // Exported in float64, which onnxruntime's Conv does not run.
                eprintln!(
                    "{what}: no onnxruntime logits (a float64 graph); checked against PyTorch"
                );
                continue;
            };
            let m32 = load(name, exporter, DType::F32);
            let l32 = m32.logits(&x.to_dtype(DType::F32).unwrap(), 64).unwrap();
            assert_tensor_close(&l32, ort, 1e-4, &format!("{what} f32 vs onnxruntime"));
        }
    }
}

#[test]
fn every_method_matches_captum_on_imported_models() {
    for &(name, layer, _) in ARCHS {
        let fx = fixture(&format!("onnx/{name}.safetensors"));
        for exporter in EXPORTERS {
            let m = load(name, exporter, DType::F64);
            let x = input(&fx, &m);
            for_targets(&fx, |which, target| {
                for (key, method, opts, tol) in methods() {
                    let opts = AttrOptions {
                        target: target.clone(),
                        ..opts
                    };
                    let h = attribute(&m, &x, method, &opts).unwrap();
                    check(
                        &h,
                        &fx,
                        &format!("{key}.{which}"),
                        tol,
                        &format!("{name} ({exporter}) {key} target={which}"),
                    );
                }
                if which == "pred" {
                    let h = attribute(&m, &x, Method::IntegratedGradients, &ig()).unwrap();
                    check(&h, &fx, "IG.pred", 1e-5, &format!("{name} ({exporter}) IG"));
                }
                if let Some(layer) = layer {
                    let opts = AttrOptions {
                        target: target.clone(),
                        layer: Some(layer.to_string()),
                        ..Default::default()
                    };
                    let h = attribute(&m, &x, Method::LayerGradCam, &opts).unwrap();
                    check(
                        &h,
                        &fx,
                        &format!("LayerGradCam.{which}"),
                        1e-5,
                        &format!("{name} ({exporter}) LayerGradCam on {layer} target={which}"),
                    );
                }
                // The default layer: the paper's where an export keeps it, else the last
                // convolution whose output is a map.
                let paper = PAPER_DEFAULT
                    .iter()
                    .find(|(n, e, _, _)| *n == name && *e == exporter)
                    .map(|&(_, _, module, input)| {
                        m.resolve_layer(&LayerRef {
                            name: module.into(),
                            input,
                        })
                        .unwrap()
                    });
                if let Some(paper) = &paper {
                    assert_eq!(
                        m.cam_layer.as_ref(),
                        Some(paper),
                        "{name} ({exporter}) default"
                    );
                }
                let key = if paper.is_some() {
                    format!("cam_paper.{which}")
                } else {
                    format!("{exporter}.cam_default.{which}")
                };
                if fx.contains_key(&key) {
                    let opts = AttrOptions {
                        target: target.clone(),
                        ..Default::default()
                    };
                    let h = attribute(&m, &x, Method::LayerGradCam, &opts).unwrap();
                    check(
                        &h,
                        &fx,
                        &key,
                        1e-5,
                        &format!(
                            "{name} ({exporter}) LayerGradCam on the default layer {:?}",
                            m.cam_layer
                        ),
                    );
                }
            });
        }
    }
}

/// ONNX erases the difference between `torch.relu(x)` and an `nn.ReLU` module: gaxsh treats
/// every Relu node as the module, so on a model written with function calls it gives Captum's
/// result for the module version, where Captum itself leaves the calls' gradient alone.
#[test]
fn functional_relus_are_treated_as_modules() {
    let fx = fixture("onnx/mlp_functional.safetensors");
    for exporter in EXPORTERS {
        let m = load("mlp_functional", exporter, DType::F64);
        let x = input(&fx, &m);
        for (key, method) in [
            ("GuidedBackprop", Method::GuidedBackprop),
            ("Deconvolution", Method::Deconvolution),
            ("DeepLift", Method::DeepLift),
        ] {
            let h = attribute(&m, &x, method, &AttrOptions::default()).unwrap();
            let what = format!("mlp_functional ({exporter}) {key}");
            check(&h, &fx, &format!("modules.{key}.pred"), 1e-4, &what);
            // And Captum on the functional model differs: its ReLUs follow no rule.
            let plain = f64s(&fx[&format!("{key}.pred")]);
            let diff = h
                .sub(&plain)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            assert!(
                diff > 1e-3,
                "{what}: Captum's functional result should differ"
            );
        }
        // Saliency does not depend on rules: equal to both.
        let h = attribute(&m, &x, Method::Saliency, &AttrOptions::default()).unwrap();
        check(&h, &fx, "Saliency.pred", 1e-5, "mlp_functional Saliency");
    }
}

/// Exporters fold an eval-mode batch norm into the convolution before it: asking for that
/// convolution's output (pre-norm in PyTorch) is an error that says so, never the folded value.
#[test]
fn a_folded_convolution_is_not_taken_for_its_module() {
    for exporter in EXPORTERS {
        let m = load("mixed_cnn", exporter, DType::F64);
        let e = m.check_layer("conv2").unwrap_err().to_string();
        assert!(e.contains("conv2"), "{exporter}: {e}");
        if exporter == "ts" {
            assert!(e.contains("folded the batch norm"), "{e}");
        }
        // conv1 has no batch norm after it: its module path is its node.
        assert!(m.check_layer("conv1").is_ok(), "{exporter}");
    }
}
