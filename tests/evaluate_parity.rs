//! The explanation-metric panel against Captum 0.9 and Quantus 0.5.3 (fixtures from
//! `tools/reference/metrics_fixtures.py`, float64): infidelity and max-sensitivity with the
//! reference's own perturbations, deletion/insertion curves (Quantus's PixelFlipping is the
//! deletion curve), sparseness and complexity; then the panel's own rules (seeded draws
//! independent of the batch, randomisation reaching every layer, bad options refused).

mod common;
use candle_core::{DType, Tensor};
use common::*;
use gaxsh::attr::{AttrOptions, Method, Target, attribute};
use gaxsh::ax::{Mode, Output, ax_logits, co_scores};
use gaxsh::evaluate::{
    EvalOptions, Metric, Units, auc, complexity, evaluate_heatmaps, flip_curves, flip_fractions,
    infidelity, sensitivity_max, sparseness,
};
use gaxsh::nn::formula::load_formula_weights;
use gaxsh::nn::{Arch, Model};
use std::collections::HashMap;

fn formula(arch: Arch) -> Model {
    let m = arch.build(DType::F64).unwrap();
    load_formula_weights(&m).unwrap();
    m
}

fn vec64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// |a − b| ≤ 1e-6 |b| (+1e-12 for values at zero), element by element.
fn assert_rel(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-6 * y.abs() + 1e-12,
            "{what}[{i}]: gaxsh {x} vs reference {y}"
        );
    }
}

/// `name`'s results on `data`'s inputs and targets.
fn case(
    fx: &HashMap<String, Tensor>,
    data: &str,
    name: &str,
    model: &Model,
    methods: &[Method],
    patch: usize,
    steps: usize,
) {
    let x = fx[&format!("{data}.input")].clone();
    let targets: Vec<usize> = vec64(&fx[&format!("{data}.targets")])
        .iter()
        .map(|&v| v as usize)
        .collect();
    let units = Units::new(&x.dims()[1..], patch).unwrap();
    let opts = AttrOptions {
        target: Target::PerSample(targets.clone()),
        ..Default::default()
    };
    for &method in methods {
        let m = method.name();
        let key = |what: &str| format!("{name}.{m}.{what}");
        let h = attribute(model, &x, method, &opts).unwrap();
        assert_tensor_close(
            &h,
            &fx[&format!("{data}.{m}")],
            1e-9,
            &format!("{name} {m}"),
        );
        if fx.contains_key(&key("infidelity")) {
            let noise = &fx[&format!("{data}.infid_noise")];
            for (norm, k) in [(false, "infidelity"), (true, "infidelity_norm")] {
                let got = infidelity(model, &x, &h, &targets, noise, norm).unwrap();
                assert_rel(&got, &vec64(&fx[&key(k)]), &format!("{name} {m} {k}"));
            }
            let sens = sensitivity_max(model, &x, &h, m, &opts, &fx[&format!("{data}.sens_noise")])
                .unwrap();
            assert_rel(
                &sens,
                &vec64(&fx[&key("sensitivity_max")]),
                &format!("{name} {m} sensitivity_max"),
            );
        }
        let rows: Vec<Vec<f64>> = (0..x.dim(0).unwrap())
            .map(|i| units.relevance(&vec64(&h.get(i).unwrap())))
            .collect();
        for (insertion, k) in [(false, "deletion"), (true, "insertion")] {
            let curves =
                flip_curves(model, &x, &rows, &targets, &units, steps, 0.0, insertion).unwrap();
            let want = &fx[&key(k)];
            let points = want.dim(1).unwrap();
            assert_eq!(
                flip_fractions(units.count, steps).len(),
                points,
                "{name} {m} {k}: points"
            );
            for (i, c) in curves.iter().enumerate() {
                assert_rel(
                    c,
                    &vec64(&want.get(i).unwrap()),
                    &format!("{name} {m} {k} sample {i}"),
                );
                let area = auc(c, &flip_fractions(units.count, steps));
                assert!((0.0..=1.0).contains(&area), "{name} {m} {k}: AUC {area}");
            }
        }
        if fx.contains_key(&key("sparseness")) {
            let sp: Vec<f64> = rows.iter().map(|r| sparseness(r)).collect();
            assert_rel(
                &sp,
                &vec64(&fx[&key("sparseness")]),
                &format!("{name} {m} sparseness"),
            );
            let cx: Vec<f64> = rows.iter().map(|r| complexity(r)).collect();
            assert_rel(
                &cx,
                &vec64(&fx[&key("complexity")]),
                &format!("{name} {m} complexity"),
            );
        }
    }
}

const CXC: Arch = Arch::CxcMultiSpa {
    classes: 4,
    size: 64,
};

#[test]
fn tabular_metrics_match_captum_and_quantus() {
    let fx = fixture("metrics.safetensors");
    let methods = [
        Method::Saliency,
        Method::InputXGradient,
        Method::GuidedBackprop,
    ];
    case(
        &fx,
        "drybean",
        "drybean",
        &formula(Arch::DrybeanFpa),
        &methods,
        1,
        32,
    );
}

#[test]
fn image_metrics_match_captum_and_quantus() {
    let fx = fixture("metrics.safetensors");
    let m = formula(CXC);
    // 4,096 pixels in 32 steps of 128 (Quantus features_in_step = 128).
    case(
        &fx,
        "cxc",
        "cxc",
        &m,
        &[Method::Saliency, Method::GuidedBackprop],
        1,
        32,
    );
    // 8×8 patches: 64 units in 8 steps of 8.
    case(&fx, "cxc", "cxc_patch", &m, &[Method::Saliency], 8, 8);
}

fn bean_data(n: usize) -> gaxsh::data::Dataset {
    let x = (Tensor::randn(0f64, 1.0, (n, 16), &candle_core::Device::Cpu).unwrap() * 0.8).unwrap();
    let classes = (0..7).map(|c| c.to_string()).collect();
    gaxsh::data::Dataset::in_memory(x, (0..n).map(|i| i % 7).collect(), classes, "random rows")
        .unwrap()
}

#[test]
fn the_panel_is_independent_of_the_batch_and_complete() {
    let m = formula(Arch::DrybeanFpa);
    let ds = bean_data(10);
    let small = EvalOptions {
        batch: 3,
        perturbations: 3,
        ..Default::default()
    };
    let whole = EvalOptions {
        batch: 10,
        ..small.clone()
    };
    let a = evaluate_heatmaps(&m, &ds, &small).unwrap();
    let b = evaluate_heatmaps(&m, &ds, &whole).unwrap();
    assert_eq!(a.methods.len(), 6);
    for (mi, method) in a.methods.iter().enumerate() {
        for (k, metric) in a.metrics.iter().enumerate() {
            let (x, y) = (&a.scores[mi][k], &b.scores[mi][k]);
            assert_eq!(x.len(), 10, "{method} {}", metric.name());
            for (p, q) in x.iter().zip(y) {
                assert!(
                    (p - q).abs() <= 1e-9 * q.abs().max(1.0) || (p.is_nan() && q.is_nan()),
                    "{method} {}: batch 3 gives {p}, batch 10 {q}",
                    metric.name()
                );
            }
        }
    }
    // The panel's CO is the AX process's: the same as co_scores on ax_logits.
    let x = ds.x().unwrap();
    let h = attribute(&m, &x, Method::Saliency, &AttrOptions::default()).unwrap();
    let (hn, _) = gaxsh::attr::normalize(&h).unwrap();
    for (mode, metric) in [(Mode::Sum, "co_sum"), (Mode::Mult, "co_mult")] {
        let (before, after) = ax_logits(&m, &x, &hn, mode).unwrap();
        let want = co_scores(&before, &after, &ds.y, Output::Raw).unwrap();
        let got = a.scores_of("Saliency", metric).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{metric}: {g} vs {w}"
            );
        }
    }
    // The cascade covers the FPA's layers, top (fc) first.
    assert_eq!(
        a.stages.first().map(String::as_str),
        Some("fc"),
        "{:?}",
        a.stages
    );
    assert!(a.stages.len() >= 3, "{:?}", a.stages);
    // Randomising every layer leaves a heatmap unlike the trained one for gradient methods.
    let sal = a.scores_of("Saliency", "randomisation").unwrap();
    assert!(gaxsh::evaluate::finite_mean(sal) < 0.9, "{sal:?}");
    let text = a.text();
    assert!(
        text.contains("deletion ↓") && text.contains("co_sum ↑"),
        "{text}"
    );
    assert!(
        text.contains("Per sample, CO (x + h) against deletion AUC"),
        "{text}"
    );
}

#[test]
fn bad_panel_options_are_refused_with_the_valid_choices() {
    let m = formula(Arch::DrybeanFpa);
    let ds = bean_data(4);
    let pairs = |k: &str, v: gaxsh::options::Value| vec![(k.to_string(), v)];
    use gaxsh::options::Value;
    let err = |p: Vec<(String, Value)>| {
        gaxsh::options::read::<EvalOptions>("evaluate_heatmaps", &p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err(pairs("metrics", Value::Text("delet".into()))).contains("deletion"));
    assert!(err(pairs("flip_steps", Value::Int(0))).contains("1 or more"));
    assert!(err(pairs("noise", Value::Float(f64::NAN))).contains("finite"));
    assert!(err(pairs("stepz", Value::Int(3))).contains("steps"));
    let opts = EvalOptions {
        patch: 2,
        ..Default::default()
    };
    let e = evaluate_heatmaps(&m, &ds, &opts).unwrap_err().to_string();
    assert!(e.contains("patch") && e.contains("feature"), "{e}");
    let opts = EvalOptions {
        radius: -1.0,
        ..Default::default()
    };
    assert!(evaluate_heatmaps(&m, &ds, &opts).is_err());
    assert_eq!(Metric::parse("co_mult").unwrap(), Metric::CoMult);
}

/// ROAD against Quantus with noise 0: the noisy linear imputation itself (image by image) and
/// the share of images still predicted as their target at each percentage, both orders.
#[test]
fn road_matches_quantus() {
    use gaxsh::evaluate::{Road, impute, road_curves};
    let fx = fixture("metrics.safetensors");
    let m = formula(CXC);
    let x = fx["cxc.input"].clone();
    let targets: Vec<usize> = vec64(&fx["cxc.targets"])
        .iter()
        .map(|&v| v as usize)
        .collect();
    // Σ|h| per pixel with a tie-breaking ramp (a third of the gradients are 0 and numpy orders
    // ties its own way): the fixture's, checked against the heatmap here.
    let units = Units::new(&x.dims()[1..], 1).unwrap();
    let stored = &fx["cxc.Saliency.road_relevance"];
    let rel: Vec<Vec<f64>> = (0..2).map(|i| vec64(&stored.get(i).unwrap())).collect();
    for (i, r) in rel.iter().enumerate() {
        let plain = units.relevance(&vec64(&fx["cxc.Saliency"].get(i).unwrap()));
        assert!(
            r.iter().zip(&plain).all(|(a, b)| (a - b).abs() <= 1e-9),
            "image {i}"
        );
    }
    for p in [10, 50, 90] {
        let want = &fx[&format!("cxc.Saliency.road_imputed_{p}")];
        for (i, r) in rel.iter().enumerate() {
            let mut order: Vec<usize> = (0..r.len()).collect();
            order.sort_by(|&a, &b| r[b].total_cmp(&r[a]));
            let count = r.len() * p / 100;
            let got = impute(
                &vec64(&x.get(i).unwrap()),
                [1, 64, 64],
                &order[..count],
                None,
            )
            .unwrap();
            assert_rel(
                &got,
                &vec64(&want.get(i).unwrap()),
                &format!("imputation at {p} %, image {i}"),
            );
        }
    }
    let percentages = [10.0, 30.0, 50.0, 70.0, 90.0];
    let road = Road {
        percentages: &percentages,
        noise: 0.0,
        seed: 0,
    };
    for (least_first, name) in [(false, "road_morf"), (true, "road_lerf")] {
        let curves = road_curves(&m, &x, &rel, &targets, &road, least_first, 0).unwrap();
        let share: Vec<f64> = (0..percentages.len())
            .map(|k| curves.iter().map(|c| c[k]).sum::<f64>() / curves.len() as f64)
            .collect();
        assert_eq!(share, vec64(&fx[&format!("cxc.Saliency.{name}")]), "{name}");
    }
    // Asked for by name on a table, ROAD is refused; "all" leaves it out and says so.
    let bean = formula(Arch::DrybeanFpa);
    let ds = bean_data(4);
    let opts = EvalOptions {
        metrics: vec![Metric::RoadMorf],
        ..Default::default()
    };
    let e = evaluate_heatmaps(&bean, &ds, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs images"), "{e}");
    let all = EvalOptions {
        methods: vec![Method::Saliency],
        perturbations: 1,
        ..Default::default()
    };
    let t = evaluate_heatmaps(&bean, &ds, &all).unwrap();
    assert!(!t.metrics.contains(&Metric::RoadMorf));
    assert!(t.text().contains("ROAD left out"), "{}", t.text());
}
