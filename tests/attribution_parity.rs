//! Every attribution method against Captum 0.9 (fixtures from tools/reference/make_fixtures.py):
//! f64 to 1e-5 (plain gradients) / 1e-4 (rules), with targets = prediction and = given classes,
//! batched calls giving per-sample results, f32 within f32 noise, and the known identities.

mod common;
use candle_core::{DType, Tensor};
use common::*;
use gaxsh::attr::{AttrOptions, IgMethod, Method, Target, attribute, normalize};
use gaxsh::nn::formula::load_formula_weights;
use gaxsh::nn::{Arch, Model, ModelOptions};

/// The fixture's models through the zoo's own table (`Arch::from_name`), at the sizes
/// tools/reference/make_fixtures.py uses.
fn arch(name: &str) -> Arch {
    let sized = |classes, size| ModelOptions {
        classes: Some(classes),
        size: Some(size),
        ..Default::default()
    };
    match name {
        "cxc_multi_spa" => Arch::from_name(name, &sized(4, 64)),
        "resnet_small" => Arch::from_name(
            "resnet",
            &ModelOptions {
                blocks: Some(vec![1, 1]),
                widths: Some(vec![8, 16]),
                ..sized(5, 32)
            },
        ),
        _ => Arch::from_name(name, &ModelOptions::default()),
    }
    .unwrap()
}

const MODELS: [&str; 4] = ["drybean_fpa", "ccf_fpa", "cxc_multi_spa", "resnet_small"];

fn model(name: &str, dtype: DType) -> Model {
    let m = arch(name).build(dtype).unwrap();
    load_formula_weights(&m).unwrap();
    m
}

fn targets(fx: &std::collections::HashMap<String, Tensor>, which: &str) -> Vec<usize> {
    fx[&format!("target_{which}")]
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
        .into_iter()
        .map(|v| v as usize)
        .collect()
}

/// (fixture key, method, options, tolerance)
fn methods() -> Vec<(&'static str, Method, AttrOptions, f64)> {
    let o = AttrOptions::default;
    vec![
        ("Saliency", Method::Saliency, o(), 1e-5),
        ("InputXGradient", Method::InputXGradient, o(), 1e-5),
        ("Deconvolution", Method::Deconvolution, o(), 1e-4),
        ("GuidedBackprop", Method::GuidedBackprop, o(), 1e-4),
        ("DeepLift", Method::DeepLift, o(), 1e-4),
        ("LayerGradCam", Method::LayerGradCam, o(), 1e-5),
        // The map at the layer's size, as Captum's LayerGradCam returns it.
        (
            "LayerGradCam_raw",
            Method::LayerGradCam,
            AttrOptions {
                upsample: None,
                ..o()
            },
            1e-5,
        ),
        (
            "IG_gl16",
            Method::IntegratedGradients,
            AttrOptions {
                ig_steps: 16,
                ..o()
            },
            1e-5,
        ),
        (
            "IG_trap10",
            Method::IntegratedGradients,
            AttrOptions {
                ig_steps: 10,
                ig_method: IgMethod::RiemannTrapezoid,
                ..o()
            },
            1e-5,
        ),
    ]
}

#[test]
fn every_method_matches_captum_in_f64() {
    for name in MODELS {
        let fx = fixture(&format!("attr_{name}.safetensors"));
        let m = model(name, DType::F64);
        let x = fx["input"].to_dtype(DType::F64).unwrap();
        // The model agrees with PyTorch on these inputs, and so do the predictions.
        assert_tensor_close(
            &m.logits(&x, 64).unwrap(),
            &fx["logits"].to_dtype(DType::F64).unwrap(),
            1e-6,
            name,
        );
        assert_eq!(
            m.predict(&x, 64).unwrap(),
            targets(&fx, "pred"),
            "{name} predictions"
        );
        for which in ["pred", "given"] {
            let target = if which == "pred" {
                Target::Predicted
            } else {
                Target::PerSample(targets(&fx, "given"))
            };
            for (key, method, opts, tol) in methods() {
                let opts = AttrOptions {
                    target: target.clone(),
                    ..opts
                };
                let h = attribute(&m, &x, method, &opts).unwrap();
                let want = fx[&format!("{key}.{which}")].to_dtype(DType::F64).unwrap();
                assert_tensor_close(&h, &want, tol, &format!("{name} {key} target={which}"));
            }
        }
    }
}

#[test]
fn batched_calls_give_per_sample_results() {
    // One sample at a time (chunk 1) and the whole batch at once agree, DeepLift included
    // (a batched Captum call would not: its softmax rule mixes the batch).
    for name in ["drybean_fpa", "cxc_multi_spa"] {
        let fx = fixture(&format!("attr_{name}.safetensors"));
        let m = model(name, DType::F64);
        let x = fx["input"].to_dtype(DType::F64).unwrap();
        for method in [
            Method::DeepLift,
            Method::GuidedBackprop,
            Method::LayerGradCam,
        ] {
            let whole = attribute(&m, &x, method, &AttrOptions::default()).unwrap();
            let single = attribute(
                &m,
                &x,
                method,
                &AttrOptions {
                    chunk: 1,
                    ..Default::default()
                },
            )
            .unwrap();
            assert_tensor_close(
                &whole,
                &single,
                1e-12,
                &format!("{name} {method:?} batched vs single"),
            );
        }
    }
}

#[test]
fn f32_stays_within_f32_noise() {
    for name in ["drybean_fpa", "ccf_fpa", "resnet_small"] {
        let fx = fixture(&format!("attr_{name}.safetensors"));
        let m = model(name, DType::F32);
        let x = fx["input"].to_dtype(DType::F32).unwrap();
        for (key, method, opts, _) in methods() {
            let h = attribute(&m, &x, method, &opts).unwrap();
            assert_eq!(h.dtype(), DType::F32);
            let want = fx[&format!("{key}.pred")].to_dtype(DType::F32).unwrap();
            assert_tensor_close(&h, &want, 2e-3, &format!("{name} {key} f32"));
        }
    }
}

#[test]
fn deeplift_completeness_holds_where_captums_does() {
    for name in MODELS {
        let fx = fixture(&format!("attr_{name}.safetensors"));
        let m = model(name, DType::F64);
        let x = fx["input"].to_dtype(DType::F64).unwrap();
        let t = targets(&fx, "pred");
        let h = attribute(&m, &x, Method::DeepLift, &AttrOptions::default()).unwrap();
        let n = x.dim(0).unwrap();
        let sums = h
            .reshape((n, ()))
            .unwrap()
            .sum(1)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let fx_logits = m.logits(&x, 64).unwrap().to_vec2::<f64>().unwrap();
        let f0 = m
            .logits(&x.zeros_like().unwrap(), 64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let captum_delta = fx["DeepLift_delta.pred"]
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for i in 0..n {
            // Captum's convergence delta = Σ attributions − (f(x) − f(baseline)).
            let delta = sums[i] - (fx_logits[i][t[i]] - f0[i][t[i]]);
            let scale = (fx_logits[i][t[i]] - f0[i][t[i]]).abs().max(1.0);
            assert!(
                (delta - captum_delta[i]).abs() <= 1e-4 * scale,
                "{name} sample {i}: delta {delta} vs Captum {}",
                captum_delta[i]
            );
            if name == "resnet_small" {
                // A plain ReLU conv net: completeness holds.
                assert!(
                    delta.abs() < 1e-6 * scale,
                    "{name}: completeness delta {delta}"
                );
            }
        }
    }
}

#[test]
fn fpa_gradcam_closed_form() {
    // METHOD.md §4.2: for FPA models LGC = x · mean_j(∂y_t/∂x_j).
    let fx = fixture("attr_drybean_fpa.safetensors");
    let m = model("drybean_fpa", DType::F64);
    let x = fx["input"].to_dtype(DType::F64).unwrap();
    let lgc = attribute(&m, &x, Method::LayerGradCam, &AttrOptions::default()).unwrap();
    let grad = attribute(&m, &x, Method::Saliency, &AttrOptions::default()).unwrap();
    let closed = x.broadcast_mul(&grad.mean_keepdim(1).unwrap()).unwrap();
    assert_tensor_close(&lgc, &closed, 1e-12, "LGC closed form");
    // After normalisation h = sign(mean grad) · x / max|x|.
    let (h, zeros) = normalize(&lgc).unwrap();
    assert_eq!(zeros, 0);
    let maxabs = h.abs().unwrap().max(1).unwrap().to_vec1::<f64>().unwrap();
    assert!(maxabs.iter().all(|v| (v - 1.0).abs() < 1e-12));
}

#[test]
fn normalize_guards_zero_heatmaps() {
    let h = Tensor::from_vec(
        vec![0.0f64, 0.0, 0.0, 2.0, -4.0, 1.0],
        (2, 3),
        &gaxsh::device::current(),
    )
    .unwrap();
    let (n, zeros) = normalize(&h).unwrap();
    assert_eq!(zeros, 1);
    assert_eq!(
        n.to_vec2::<f64>().unwrap(),
        vec![vec![0.0, 0.0, 0.0], vec![0.5, -1.0, 0.25]]
    );
}

/// NoiseTunnel over Saliency.
fn noisy_saliency(
    kind: gaxsh::attr::noise_tunnel::NoiseKind,
    samples: usize,
    stdev: f64,
) -> AttrOptions {
    AttrOptions {
        noise_method: Some(Method::Saliency),
        nt_type: kind,
        nt_samples: samples,
        nt_stdev: stdev,
        ..Default::default()
    }
}

#[test]
fn noise_tunnel_reduces_to_the_method_without_noise() {
    use gaxsh::attr::noise_tunnel::{NoiseKind, noise_tunnel};
    let fx = fixture("attr_ccf_fpa.safetensors");
    let m = model("ccf_fpa", DType::F64);
    let x = fx["input"].to_dtype(DType::F64).unwrap();
    let plain = attribute(&m, &x, Method::Saliency, &AttrOptions::default()).unwrap();
    let sg = noise_tunnel(&m, &x, &noisy_saliency(NoiseKind::SmoothGrad, 3, 0.0)).unwrap();
    assert_tensor_close(&sg, &plain, 1e-12, "smoothgrad at σ = 0");
    let vg = noise_tunnel(&m, &x, &noisy_saliency(NoiseKind::VarGrad, 3, 0.0)).unwrap();
    assert!(
        vg.abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
            < 1e-12
    );
    // With noise: smoothgrad_sq = vargrad + smoothgrad² for the same draws (the same seed, on a
    // generator of its own: tests on parallel threads draw too).
    let noisy = |kind| {
        gaxsh::tensor::random::isolated(3, || noise_tunnel(&m, &x, &noisy_saliency(kind, 4, 0.2)))
            .unwrap()
    };
    let (sq, mean, var) = (
        noisy(NoiseKind::SmoothGradSq),
        noisy(NoiseKind::SmoothGrad),
        noisy(NoiseKind::VarGrad),
    );
    assert_tensor_close(
        &sq,
        &(var + mean.sqr().unwrap()).unwrap(),
        1e-10,
        "sq = var + mean²",
    );
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let e = Method::parse("Saliancy").unwrap_err().to_string();
    assert!(
        e.contains("unknown method 'Saliancy'; valid: Saliency, InputXGradient, LayerGradCam"),
        "{e}"
    );
    let m = model("ccf_fpa", DType::F32);
    let x = Tensor::zeros((2, 28), DType::F32, &gaxsh::device::current()).unwrap();
    let e = attribute(
        &m,
        &x,
        Method::LayerGradCam,
        &AttrOptions {
            layer: Some("fpa.fconv.0".into()),
            layer_input: Some(true),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unknown layer 'fpa.fconv.0'") && e.contains("fpa.fconvs.0"),
        "{e}"
    );
    let e = attribute(
        &m,
        &x,
        Method::Saliency,
        &AttrOptions {
            target: Target::Class(5),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("target: class 5 is out of range; valid: 0..1 (2 classes)"),
        "{e}"
    );
}

/// Where Grad-CAM asks for a batch norm's output or an activation's input or output, the two run
/// as the layers they are (elsewhere in an eval pass they are one fused op that keeps neither
/// the batch norm's output nor a block's sum): the same tensor reached by two names gives the
/// same map, and every one of them agrees with the unfused reference taken at the convolution
/// that reads it.
#[test]
fn gradcam_reaches_layers_inside_fused_batch_norms() {
    let fx = fixture("attr_resnet_small.safetensors");
    let m = model("resnet_small", DType::F64);
    let x = fx["input"].to_dtype(DType::F64).unwrap();
    let layers: Vec<String> = m.layers().into_iter().map(|(name, _)| name).collect();
    let cam = |layer: &str, input: bool| {
        assert!(
            layers.iter().any(|l| l == layer),
            "no layer {layer} in {layers:?}"
        );
        attribute(
            &m,
            &x,
            Method::LayerGradCam,
            &AttrOptions {
                layer: Some(layer.into()),
                layer_input: Some(input),
                ..Default::default()
            },
        )
        .unwrap()
    };
    // The stem's batch norm output is its ReLU's input; a block's first ReLU output is its
    // second convolution's input, its last ReLU's output the next block's input.
    assert_tensor_close(
        &cam("bn1", false),
        &cam("relu", true),
        1e-12,
        "stem bn1 = relu input",
    );
    assert_tensor_close(
        &cam("layer1.0.relu1", false),
        &cam("layer1.0.conv2", true),
        1e-12,
        "relu1 output = conv2 input",
    );
    assert_tensor_close(
        &cam("layer1.0.bn1", false),
        &cam("layer1.0.relu1", true),
        1e-12,
        "bn1 output = relu1 input",
    );
    assert_tensor_close(
        &cam("layer1.0.relu2", false),
        &cam("layer2.0", true),
        1e-12,
        "relu2 output = next block's input",
    );
    // A batch norm before the identity joins has no other name: it is reached, and its map is
    // not the one of the sum after it.
    let bn2 = cam("layer1.0.bn2", false);
    let sum = cam("layer1.0.relu2", true);
    let gap = (&bn2 - &sum)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(gap > 1e-6, "bn2's map equals the sum's: {gap}");
}
