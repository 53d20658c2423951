//! Script bindings: CO scores, AX sweeps, gap statistics and GAX.

use super::convert::ScriptTensor as T;
use super::convert::*;
use super::models::Net;
use super::registry::{Category, FnDoc, Registrar, func, options_fn, prop};
use crate::ax::{
    AxTable, CoOptions, GALLERY_PER_GROUP, Mode, Output, SweepOptions, ax_logits, ax_sweep,
    co_scores, gallery,
};
use crate::data::Dataset;
use crate::gap::{FlagOptions, Gap, flag_errors, gap_stats, gap_text};
use crate::gax::{GaxOptions, GaxResult, Samples, gax_samples};
use crate::options::{Key, Options, only};
use rhai::serde::to_dynamic;
use rhai::{Array, Dynamic, Map};
use std::path::Path;

const AX: Category = Category::Ax;
const GAX: Category = Category::Gax;

/// The gap statistics of a sweep, printable as a table.
#[derive(Clone)]
pub struct GapReport(pub Vec<Gap>);

/// One mode's row of the accuracy table: `#{mode, Baseline, Saliency, …}`.
fn accuracy_map(a: &crate::ax::AccuracyRow) -> RResult<Dynamic> {
    let mut m = Map::new();
    m.insert("mode".into(), a.mode.name().into());
    m.insert("Baseline".into(), a.baseline.fraction.into());
    for col in &a.methods {
        m.insert(col.method.name().into(), col.after.fraction.into());
    }
    Ok(m.into())
}

fn register_co(r: &mut Registrar) {
    fn from_logits(b: &T, a: &T, labels: &Dynamic, out: Output) -> RResult<T> {
        let l = indices(labels, "labels")?;
        vector(co_scores(&b.0, &a.0, &l, out).rh()?)
    }
    options_fn!(r, "co_score", fn(b: T, a: T, l: Dynamic; m) -> RResult<T> {
        // From logits there is no mode: only the output form applies.
        let o: CoOptions = read_options_among("co_score", &only(CoOptions::KEYS, &["output"]), &m)?;
        from_logits(&b, &a, &l, o.output)
    });
    options_fn!(r, "co_score", fn(n: Net, x: T, h: T, l: Dynamic; m) -> RResult<T> {
        let o: CoOptions = read_options("co_score", &m)?;
        let (before, after) = ax_logits(&n.0, &x.0, &h.0, o.mode).rh()?;
        from_logits(&T(before), &T(after), &l, o.output)
    });
}

fn sweep_keys() -> Vec<Key> {
    with_report_key(SweepOptions::keys())
}

fn register_sweep(r: &mut Registrar) {
    r.printable("AxTable", |t: &AxTable| t.accuracy_text());
    let log = r.log.clone();
    options_fn!(r, "ax_sweep", fn(n: Net, ds: Dataset; m) -> RResult<AxTable> {
        let mut m = m;
        let in_report = take_bool(&mut m, &IN_REPORT)?;
        let opts: SweepOptions = read_options_among("ax_sweep", &sweep_keys(), &m)?;
        let mut t = ax_sweep(&n.0, &ds, &opts).rh()?;
        if in_report {
            t.examples = gallery(&n.0, &ds, &t, &opts, GALLERY_PER_GROUP).rh()?;
            crate::report::log::lock(&log).add_sweep(&t, &ds.provenance);
        }
        Ok(t)
    });

    r.register_fn("save_csv", |t: &mut AxTable, p: &str| {
        t.save_csv(Path::new(p)).rh()
    });
    r.register_fn("load_ax_csv", |p: &str, classes: Array| {
        AxTable::load_csv(Path::new(p), texts(&classes)).rh()
    });
    r.register_fn("accuracy_table", |t: &mut AxTable| -> RResult<Array> {
        t.accuracy().iter().map(accuracy_map).collect()
    });
    fn co_of(t: &AxTable, method: &str, mode: &str) -> RResult<T> {
        vector(t.co(method, Mode::parse(mode).rh()?).rh()?)
    }
    r.register_fn("co", |t: &mut AxTable, m: &str| co_of(t, m, "sum"));
    r.register_fn("co", |t: &mut AxTable, m: &str, mode: &str| {
        co_of(t, m, mode)
    });
    r.register_fn("rows", |t: &mut AxTable| -> RResult<Array> {
        t.rows.iter().map(to_dynamic).collect()
    });
    r.register_get("notes", |t: &mut AxTable| strings(&t.notes));
}

fn register_gap(r: &mut Registrar) {
    r.printable("GapStats", |g: &GapReport| gap_text(&g.0));
    r.register_fn("gap_stats", |t: AxTable| GapReport(gap_stats(&t)));
    r.register_fn("to_maps", |g: &mut GapReport| -> RResult<Array> {
        g.0.iter().map(to_dynamic).collect()
    });
    options_fn!(r, "flag_errors", fn(t: AxTable, method: &str; m) -> RResult<Array> {
        let o: FlagOptions = read_options("flag_errors", &m)?;
        flag_errors(&t, method, &o).rh()?.iter().map(to_dynamic).collect()
    });
}

fn register_gax(r: &mut Registrar) {
    r.printable("GaxResult", |g: &GaxResult| g.summary());
    // Over a dataset (its labels and provenance kept) or a batch of inputs.
    let log = r.log.clone();
    options_fn!(r, "gax", fn(n: Net, d: Dataset; m) -> RResult<GaxResult> {
        let g = gax_samples(&n.0, Samples::Dataset(&d), &read_options("gax", &m)?).rh()?;
        crate::report::log::lock(&log).add_gax(&g, Some(&d.provenance));
        Ok(g)
    });
    let log = r.log.clone();
    options_fn!(r, "gax", fn(n: Net, x: T; m) -> RResult<GaxResult> {
        let g = gax_samples(&n.0, Samples::Batch(&x.0), &read_options("gax", &m)?).rh()?;
        crate::report::log::lock(&log).add_gax(&g, None);
        Ok(g)
    });
    r.register_fn("gax_vs_methods", |n: Net, d: Dataset, g: GaxResult| {
        to_dynamic(crate::gax::versus_methods(&n.0, &d, &g).rh()?)
    });
    r.register_fn("co_ceiling", |n: Net| {
        to_dynamic(crate::gax::co_ceiling(&n.0).rh()?)
    });

    options_fn!(r, "toy2d", fn(theta: f64, a1: f64; m) -> RResult<Dynamic> {
        let opts = read_options("toy2d", &m)?;
        to_dynamic(crate::gax::toy::toy2d(theta, [a1, 1.0 - a1], &opts).rh()?)
    });
    options_fn!(r, "toy2d_sweep", fn(a1: f64, points: i64; m) -> RResult<Dynamic> {
        let points = count(points, "toy2d_sweep: points")?;
        let opts = read_options("toy2d_sweep", &m)?;
        to_dynamic(crate::gax::toy::sweep(a1, points, &opts).rh()?)
    });

    // Per sample, one value per step.
    r.register_get("scores", |g: &mut GaxResult| to_dynamic(&g.scores));
    r.register_get("losses", |g: &mut GaxResult| to_dynamic(&g.losses));
    r.register_get("similarity_terms", |g: &mut GaxResult| {
        to_dynamic(&g.similarity_terms)
    });
    r.register_get("updated_heatmaps", |g: &mut GaxResult| T(g.updated.clone()));
    r.register_get("steps_to_target", |g: &mut GaxResult| -> Array {
        g.steps_to_target
            .iter()
            .map(|s| Dynamic::from_int(s.map(|v| v as i64).unwrap_or(-1)))
            .collect()
    });
    r.register_get("heatmaps", |g: &mut GaxResult| T(g.heatmaps.clone()));
    r.register_get("final_scores", |g: &mut GaxResult| vector(g.final_scores()));
    r.register_get("reached", |g: &mut GaxResult| g.reached().len() as i64);
    r.register_fn("save", |g: &mut GaxResult, d: &str| {
        g.save(Path::new(d)).rh()
    });
    r.register_fn("summary", |g: &mut GaxResult| g.summary());
}

fn register_shard(r: &mut Registrar) {
    r.register_fn("shard", || -> RResult<Dynamic> {
        crate::shard::current().map_or(Ok(Dynamic::UNIT), to_dynamic)
    });
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(AX, "co_score", "co_score(y_before, y_after, labels) | co_score(net, x, h, labels, #{mode, output}) -> Tensor", "Per-sample CO = Σ κ·(after − before), κ = 1 for the true class and −1/(C−1) otherwise; mode sum (x + h) or mult (x ⊙ h); output raw (default), softmax, or softmax_as_coded (the v2 code's formula).")
        .options(|| CoOptions::KEYS.to_vec()).example_is("co_score(tensor([[0.0, 0.0]]), tensor([[3.0, 1.0]]), [0]).item()", "2.0"),
    func(AX, "ax_sweep", "ax_sweep(net, ds, #{methods, modes, batch, csv, resume, nan_compat, label, report, layer, …}) -> AxTable", "The AX process over a dataset for every method × mode: per sample the prediction before/after, CO (raw and softmax forms), correctness; rows are appended to csv as they come and an interrupted sweep resumes from them; report: false keeps it out of the report.")
        .options(sweep_keys).example("let b = load_drybean(); let t = ax_sweep(drybean_fpa(), b.head(8).map(b.standardize()), #{modes: [\"sum\", \"mult\"]}); print(t)"),
    func(AX, "save_csv", "table.save_csv(path)", "Write every row of a sweep (AxTable) or of a metric panel (MetricTable: one row per method and sample, a column per metric), whole or not at all.")
        .example("let b = load_drybean(); ax_sweep(drybean_fpa(), b.head(4), #{methods: \"Saliency\"}).save_csv(temp_path(\"co.csv\"))"),
    func(AX, "load_ax_csv", "load_ax_csv(path, classes) -> AxTable", "Read a sweep's CSV back (for plots, gap statistics, reports).")
        .example("let b = load_drybean(); let p = temp_path(\"c.csv\"); ax_sweep(drybean_fpa(), b.head(4), #{methods: \"Saliency\"}).save_csv(p); load_ax_csv(p, b.classes)"),
    func(AX, "accuracy_table", "table.accuracy_table() -> array", "Accuracy before and after AX per mode and method (the paper's Table 2 layout) as maps.")
        .example("let b = load_drybean(); ax_sweep(drybean_fpa(), b.head(4), #{methods: \"Saliency\"}).accuracy_table()"),
    func(AX, "co", "table.co(method, mode?) -> Tensor", "The CO scores of one method (and mode, sum by default), in sample order.")
        .example("let b = load_drybean(); ax_sweep(drybean_fpa(), b.head(4), #{methods: \"Saliency\"}).co(\"Saliency\")"),
    func(AX, "rows", "table.rows() -> array", "Every row of a sweep as a map (method, mode, index, id, label, pred_before, pred_after, co, …).")
        .example("let b = load_drybean(); ax_sweep(drybean_fpa(), b.head(2), #{methods: \"Saliency\"}).rows()[0].co"),
    prop(AX, "notes", "table.notes -> array", "What the sweep left out or repaired (samples skipped, rows a resume dropped or could not read), one sentence each.")
        .example("let b = load_drybean(); ax_sweep(drybean_fpa(), b.head(2), #{methods: \"Saliency\"}).notes"),
    func(AX, "gap_stats", "gap_stats(table) -> GapStats", "Per method, mode and meaning of \"correct\" (before AX / after AX): CO summaries of correct vs wrong, AUROC of CO as a correctness score, the widest gap (KS) and its threshold, beside the max-softmax-probability AUROC baseline.")
        .example("let b = load_drybean(); print(gap_stats(ax_sweep(drybean_fpa(), b.head(20), #{methods: \"Saliency\"})))"),
    func(AX, "to_maps", "gaps.to_maps() -> array", "The gap statistics as maps, one per method × mode × meaning.")
        .example("let b = load_drybean(); gap_stats(ax_sweep(drybean_fpa(), b.head(20), #{methods: \"Saliency\"})).to_maps()[0].auroc"),
    func(AX, "flag_errors", "flag_errors(table, method, #{mode, correct}) -> array", "The samples whose CO falls on the wrong side of the widest-gap threshold (candidate prediction or label errors); correct: \"after\" (default) or \"before\".")
        .options(|| FlagOptions::KEYS.to_vec()).example("let b = load_drybean(); flag_errors(ax_sweep(drybean_fpa(), b.head(20), #{methods: \"Saliency\"}), \"Saliency\")"),
    func(GAX, "gax", "gax(net, x_or_dataset, #{options}) -> GaxResult", "Optimise h = tanh(w·x + b) per sample (w = 1, b = 0.01; bias: false for the ImageNet variant) with Adam (lr 0.1) on −CO + l_s/S until CO > target_co (48) or max_steps (500); |x| + ε denominators when inputs can be negative. target: the prediction (default), \"label\", or classes.")
        .options(GaxOptions::keys).example("let b = load_drybean(); let s = b.standardize(); gax(drybean_fpa(), b.head(2).map(s), #{max_steps: 5, target_co: 100})"),
    func(GAX, "gax_vs_methods", "gax_vs_methods(net, ds, g) -> map", "GAX against the six methods on the same samples (g = gax(net, ds, …)): for how many GAX's final CO, and its best CO along the run, exceed the best CO any method reaches, in GAX's mode. Returns #{n, final_wins, best_wins, text}.")
        .example("let b = load_drybean(); let d = b.head(2).map(b.standardize()); let n = drybean_fpa(); gax_vs_methods(n, d, gax(n, d, #{steps: 3})).n"),
    func(GAX, "co_ceiling", "co_ceiling(net) -> array", "The largest CO any input can reach, per class, for the paper's attention nets (drybean_fpa, ccf_fpa, fpa, cxc_multi_spa): their logits are one linear layer over softmax rows, so CO is bounded by the weights. A GAX target above it cannot be reached.")
        .example("let n = ccf_fpa(); n.init_formula(); co_ceiling(n).len()"),
    func(GAX, "toy2d", "toy2d(theta, a1, #{steps, eta, as_coded}) -> map", "The paper's 2-D example (Figs 1, 6): the perfect classifier of data rotated by theta explains x = W·(a1, 1 − a1) with h = w ⊙ x by gradient ascent; returns #{x, h, h_closed (eq. 4), co}. The ascent and eq. (4) agree to rounding.")
        .options(|| crate::gax::toy::ToyOptions::KEYS.to_vec()).example_is("toy2d(0.0, 0.7).h", "[1.288, 0.192]"),
    func(GAX, "toy2d_sweep", "toy2d_sweep(a1, points, #{steps, eta, as_coded}) -> map", "toy2d at `points` angles θ evenly spaced in [−π, π] (the paper's figure: 128): #{a1, k_eta, theta, x, h, co, max_diff} (x and h: [component 1, component 2] over θ), max_diff the largest |h − h by eq. (4)|. `toy2d_figure` draws them as the paper's Fig. 1.")
        .options(|| crate::gax::toy::ToyOptions::KEYS.to_vec()).example("toy2d_sweep(0.95, 16).max_diff < 1e-9"),
    prop(GAX, "scores", "g.scores -> array", "The CO trajectory of every sample (one array per sample).")
        .example("let b = load_drybean(); gax(drybean_fpa(), b.head(1).map(b.standardize()), #{max_steps: 3, target_co: 100}).scores[0].len()"),
    prop(GAX, "losses", "g.losses -> array", "The loss −CO + l_s/S of every step, per sample (what Adam minimised).")
        .example("let b = load_drybean(); gax(drybean_fpa(), b.head(1).map(b.standardize()), #{max_steps: 3, target_co: 100}).losses[0].len()"),
    prop(GAX, "similarity_terms", "g.similarity_terms -> array", "The similarity term S of every step, per sample (empty with similarity: 0).")
        .example("let b = load_drybean(); gax(drybean_fpa(), b.head(1).map(b.standardize()), #{max_steps: 3, target_co: 100}).similarity_terms[0]"),
    prop(GAX, "updated_heatmaps", "g.updated_heatmaps -> Tensor", "Each sample's heatmap after its last Adam update, tanh(w·x + b) with the final parameters (heatmaps holds the one of the last score).")
        .example("let b = load_drybean(); gax(drybean_fpa(), b.head(2).map(b.standardize()), #{max_steps: 3, target_co: 100}).updated_heatmaps.shape"),
    prop(GAX, "steps_to_target", "g.steps_to_target -> array", "Per sample, the step whose CO first exceeded the target, or -1.")
        .example("let b = load_drybean(); gax(drybean_fpa(), b.head(2).map(b.standardize()), #{max_steps: 3, target_co: 100}).steps_to_target"),
    prop(GAX, "heatmaps", "g.heatmaps -> Tensor", "Each sample's heatmap at its last score (the input's shape).")
        .example("let b = load_drybean(); gax(drybean_fpa(), b.head(2).map(b.standardize()), #{max_steps: 3, target_co: 100}).heatmaps.shape"),
    prop(GAX, "final_scores", "g.final_scores -> Tensor", "Each sample's last CO score.")
        .example("let b = load_drybean(); gax(drybean_fpa(), b.head(2).map(b.standardize()), #{max_steps: 3, target_co: 100}).final_scores"),
    prop(GAX, "reached", "g.reached -> int", "How many samples passed the target CO.")
        .example_is("let b = load_drybean(); gax(drybean_fpa(), b.head(2).map(b.standardize()), #{max_steps: 2, target_co: 1000}).reached", "0"),
    func(GAX, "save", "g.save(dir) / net.save(path)", "GAX: gax_scores.csv and gax_heatmaps.safetensors (final heatmaps and frames) in dir. Model: its weights as safetensors.")
        .example("let b = load_drybean(); gax(drybean_fpa(), b.head(1).map(b.standardize()), #{max_steps: 2}).save(temp_path(\"gax\"))"),
    func(GAX, "summary", "g.summary() / net.summary() -> string", "A GAX run in one line (reached, steps to target) or a model's layers.")
        .example("print(ccf_fpa().summary())"),
    func(AX, "shard", "shard() -> map or ()", "The shard this process runs (#{index, count}, from --shard i/n, GAXSH_SHARD, a Slurm array or a Kubernetes indexed job), or () when it runs everything. ax_sweep and gax then cover only their shard's batches (option shard: \"i/n\" or \"none\" overrides); `gaxsh merge` joins the outputs.")
        .example("if shard() == () { \"whole run\" } else { `shard ${shard().index}` }"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    register_shard(r);
    register_co(r);
    register_sweep(r);
    register_gap(r);
    register_gax(r);
}
