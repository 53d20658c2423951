//! Script bindings: the explanation-metric panel (`evaluate_heatmaps`) and its table.

use super::convert::*;
use super::models::Net;
use super::plots::done;
use super::registry::{Category, FnDoc, Registrar, func, options_fn, prop};
use crate::data::Dataset;
use crate::evaluate::{EvalOptions, MetricTable, evaluate_heatmaps, is_insertion};
use crate::options::{Key, Options};
use crate::report::figures::{flip_curves, metric_scatter};
use crate::report::log::lock;
use rhai::serde::to_dynamic;
use std::path::Path;

const EV: Category = Category::Evaluate;

fn panel_keys() -> Vec<Key> {
    with_report_key(EvalOptions::keys())
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(EV, "evaluate_heatmaps", "evaluate_heatmaps(net, ds, #{methods, metrics, flip_steps, patch, flip_baseline, perturbations, noise, radius, layers, seed, …}) -> MetricTable", "Every method's heatmaps of every sample scored by CO (x + h, x ⊙ h) and the field's standard metrics: deletion and insertion AUC, Captum's infidelity and sensitivity_max, Quantus's sparseness and complexity, cascading model-parameter randomisation; printed as the methods' means with how alike the metrics rank them. Numbers equal Captum 0.9 and Quantus 0.5.3 (tests/evaluate_parity.rs); the docs of `gaxsh::evaluate` say where the definitions differ and why.")
        .options(panel_keys).example("let b = load_drybean(); let t = evaluate_heatmaps(drybean_fpa(), b.head(6).map(b.standardize()), #{methods: [\"Saliency\", \"InputXGradient\", \"DeepLift\"], perturbations: 2}); print(t)"),
    func(EV, "values", "table.values(method, metric) -> Tensor", "One method's scores under one metric, in sample order.")
        .example("let b = load_drybean(); evaluate_heatmaps(drybean_fpa(), b.head(4), #{methods: \"Saliency\", metrics: \"deletion\"}).values(\"Saliency\", \"deletion\")"),
    func(EV, "means", "table.means() -> map", "Each method's mean (over samples, finite values) per metric: means[method][metric].")
        .example("let b = load_drybean(); evaluate_heatmaps(drybean_fpa(), b.head(4), #{methods: \"Saliency\", metrics: [\"sparseness\"]}).means().Saliency.sparseness"),
    func(EV, "agreement", "table.agreement() -> map", "How alike two metrics rank the methods: Spearman's correlation over the methods of their means, each read so that higher is better; agreement[metric][metric], NaN with fewer than three methods.")
        .example("let b = load_drybean(); evaluate_heatmaps(drybean_fpa(), b.head(4), #{methods: \"all\", metrics: [\"co_sum\", \"sparseness\"], layers: 1}).agreement().co_sum.sparseness"),
    func(EV, "sample_agreement", "table.sample_agreement(metric_a, metric_b) -> map", "Per method, Spearman's correlation over samples of two metrics (e.g. co_sum against deletion).")
        .example("let b = load_drybean(); evaluate_heatmaps(drybean_fpa(), b.head(6), #{methods: \"Saliency\", metrics: [\"co_sum\", \"deletion\"]}).sample_agreement(\"co_sum\", \"deletion\")"),
    func(EV, "curve", "table.curve(method, \"deletion\" | \"insertion\") -> Tensor", "A method's mean flipping curve: the explained class's probability at each of table.fractions.")
        .example("let b = load_drybean(); evaluate_heatmaps(drybean_fpa(), b.head(4), #{methods: \"Saliency\", metrics: \"deletion\"}).curve(\"Saliency\", \"deletion\")"),
    prop(EV, "fractions", "table.fractions -> Tensor", "The fraction of units flipped at each point of the deletion and insertion curves (0 to 1).")
        .example("let b = load_drybean(); evaluate_heatmaps(drybean_fpa(), b.head(2), #{methods: \"Saliency\", metrics: \"deletion\"}).fractions"),
    prop(EV, "stages", "table.stages -> array", "The layers the randomisation cascade replaced, top first.")
        .example("let b = load_drybean(); evaluate_heatmaps(drybean_fpa(), b.head(2), #{methods: \"Saliency\", metrics: \"randomisation\"}).stages"),
    func(EV, "plot_flip_curves", "plot_flip_curves(table, path, \"deletion\" | \"insertion\") -> string", "Each method's mean deletion (or insertion) curve in one chart.")
        .example("let b = load_drybean(); plot_flip_curves(evaluate_heatmaps(drybean_fpa(), b.head(4), #{metrics: \"deletion\", layers: 1}), temp_path(\"del.png\"), \"deletion\")"),
    func(EV, "plot_metrics", "plot_metrics(table, path, x_metric, y_metric) -> string", "One metric against another, a point per sample, a colour per method (e.g. deletion against co_sum).")
        .example("let b = load_drybean(); plot_metrics(evaluate_heatmaps(drybean_fpa(), b.head(4), #{metrics: [\"co_sum\", \"deletion\"]}), temp_path(\"s.png\"), \"deletion\", \"co_sum\")"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    r.printable("MetricTable", |t: &MetricTable| t.text());

    let log = r.log.clone();
    options_fn!(r, "evaluate_heatmaps", fn(n: Net, ds: Dataset; m) -> RResult<MetricTable> {
        let mut m = m;
        let in_report = take_bool(&mut m, &IN_REPORT)?;
        let opts: EvalOptions = read_options_among("evaluate_heatmaps", &panel_keys(), &m)?;
        let t = evaluate_heatmaps(&n.0, &ds, &opts).rh()?;
        if in_report {
            lock(&log).add_metrics(&t, &ds.provenance);
        }
        Ok(t)
    });

    r.register_fn(
        "values",
        |t: &mut MetricTable, method: &str, metric: &str| {
            vector(t.scores_of(method, metric).rh()?.to_vec())
        },
    );
    r.register_fn("means", |t: &mut MetricTable| to_dynamic(t.means_by_name()));
    r.register_fn("agreement", |t: &mut MetricTable| {
        to_dynamic(t.agreement_by_name())
    });
    r.register_fn(
        "sample_agreement",
        |t: &mut MetricTable, a: &str, b: &str| {
            to_dynamic(t.sample_agreement_by_method(a, b).rh()?)
        },
    );
    r.register_fn("curve", |t: &mut MetricTable, method: &str, kind: &str| {
        vector(t.mean_curve(method, is_insertion(kind).rh()?).rh()?)
    });
    r.register_get("fractions", |t: &mut MetricTable| {
        vector(t.fractions.clone())
    });
    r.register_get("stages", |t: &mut MetricTable| strings(&t.stages));
    // Documented with the sweep's save_csv (one entry per name).
    r.register_fn("save_csv", |t: &mut MetricTable, p: &str| {
        t.save_csv(Path::new(p)).rh()
    });

    // The figures of a table, recorded for the report with the caption the core gives them.
    let log = r.log.clone();
    r.register_fn(
        "plot_flip_curves",
        move |t: MetricTable, p: &str, kind: &str| {
            let caption = flip_curves(&t, Path::new(p), is_insertion(kind).rh()?).rh()?;
            RResult::Ok(done(&log, p, &caption))
        },
    );
    let log = r.log.clone();
    r.register_fn(
        "plot_metrics",
        move |t: MetricTable, p: &str, x: &str, y: &str| {
            RResult::Ok(done(&log, p, &metric_scatter(&t, Path::new(p), x, y).rh()?))
        },
    );
}
