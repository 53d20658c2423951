//! Script bindings: plots, heatmaps, the HTML report and the run record.

use super::convert::ScriptTensor as T;
use super::convert::*;
use super::options::ScriptArgs;
use super::output::OutputSink;
use super::registry::{Category, FnDoc, Registrar, func, options_fn};
use crate::ax::AxTable;
use crate::gax::GaxResult;
use crate::options::{Options, only};
use crate::plot::charts::{ChartData, ChartOptions};
use crate::plot::heatmap::{HeatmapSpec, tensor_png};
use crate::report::figures::{CoPlotOptions, boxplot_co, curves_co, histogram_co, roc_co};
use crate::report::log::{SharedLog, lock};
use crate::report::record::RunRecord;
use crate::report::{Report, ReportOptions, Section};
use rhai::{Array, Dynamic, Map};
use std::path::Path;
use std::sync::{Arc, Mutex};

const P: Category = Category::Plots;
const R: Category = Category::Report;

/// `#{name: values, …}` or `[values, …]` as named series.
fn series(d: &Dynamic, what: &str) -> RResult<Vec<(String, Vec<f64>)>> {
    if let Some(m) = d.clone().try_cast::<Map>() {
        return m
            .iter()
            .map(|(k, v)| Ok((k.to_string(), floats(v, what)?)))
            .collect();
    }
    if let Some(a) = d
        .clone()
        .try_cast::<Array>()
        .filter(|a| !a.is_empty() && a.iter().all(|x| x.is::<Array>() || x.is::<T>()))
    {
        return a
            .iter()
            .enumerate()
            .map(|(i, v)| Ok((format!("series {}", i + 1), floats(v, what)?)))
            .collect();
    }
    Ok(vec![(String::new(), floats(d, what)?)])
}

/// Record a written plot and return its path (the REPL prints it, Jupyter shows it).
pub(super) fn done(log: &SharedLog, path: &str, caption: &str) -> String {
    lock(log).add_plot(Path::new(path), caption);
    path.to_string()
}

/// The figure functions of a sweep: `name(table, path)` and `name(table, path, #{…})`, the
/// options read into `CoPlotOptions` (only `keys` of them); `draw` writes the figure and returns
/// its caption.
fn co_figure(
    r: &mut Registrar,
    name: &'static str,
    keys: &'static [&'static str],
    draw: fn(&AxTable, &Path, &CoPlotOptions) -> crate::Result<String>,
) {
    let log = r.log.clone();
    options_fn!(r, name, fn(t: AxTable, p: &str; m) -> RResult<String> {
        let o: CoPlotOptions = read_options_among(name, &only(CoPlotOptions::KEYS, keys), &m)?;
        let caption = draw(&t, Path::new(p), &o).rh()?;
        Ok(done(&log, p, &caption))
    });
}

const SWEEP_FIGURE_KEYS: &[&str] = &["mode", "correct", "output"];
const HISTOGRAM_KEYS: &[&str] = &["method", "mode", "correct", "output"];

fn register_co_plots(r: &mut Registrar) {
    co_figure(r, "boxplot_co", SWEEP_FIGURE_KEYS, boxplot_co);
    co_figure(r, "roc_co", SWEEP_FIGURE_KEYS, roc_co);
    co_figure(r, "histogram_co", HISTOGRAM_KEYS, histogram_co);
    let log = r.log.clone();
    r.register_fn(
        "curves_co",
        move |g: GaxResult, p: &str| -> RResult<String> {
            let caption = curves_co(&g, Path::new(p)).rh()?;
            Ok(done(&log, p, &caption))
        },
    );
}

fn register_general_plots(r: &mut Registrar) {
    let log = r.log.clone();
    let l = log.clone();
    options_fn!(r, "heatmap", fn(h: T, p: &str; m) -> RResult<String> {
        let spec: HeatmapSpec = read_options("heatmap", &m)?;
        tensor_png(&h.0, &spec, Path::new(p)).rh()?;
        let caption = if spec.title.is_empty() {
            "heatmap"
        } else {
            &spec.title
        };
        Ok(done(&l, p, caption))
    });

    let l = log.clone();
    r.register_fn(
        "toy2d_figure",
        move |sweeps: Array, p: &str| -> RResult<String> {
            const WHAT: &str = "toy2d_figure: each sweep is a map made by toy2d_sweep";
            let sweeps = sweeps.iter().map(|d| from_map(d, WHAT));
            let sweeps = sweeps.collect::<RResult<Vec<crate::gax::toy::ToySweep>>>()?;
            crate::report::figures::toy_panels(&sweeps, Path::new(p)).rh()?;
            Ok(done(
                &l,
                p,
                "x and the GAX heatmap h against θ (the paper's Fig. 1)",
            ))
        },
    );

    for name in ["line", "scatter", "bar", "histogram", "boxplot"] {
        let l = log.clone();
        options_fn!(r, name, fn(a: Dynamic, b: Dynamic, p: &str; m) -> RResult<String> {
            let o: ChartOptions = read_options(name, &m)?;
            chart_data(name, &a, &b)?.save(Path::new(p), &o).rh()?;
            Ok(done(&l, p, &o.title))
        });
    }
}

/// The data arguments of `line`, `scatter`, `bar`, `histogram` or `boxplot`.
fn chart_data(name: &str, a: &Dynamic, b: &Dynamic) -> RResult<ChartData> {
    Ok(match name {
        "line" => ChartData::Line {
            x: floats(a, name)?,
            series: series(b, name)?,
        },
        "scatter" => ChartData::Scatter {
            x: floats(a, name)?,
            y: floats(b, name)?,
        },
        "bar" => ChartData::Bar {
            names: texts(&cast(a, "bar: names is an array")?),
            values: floats(b, name)?,
        },
        "histogram" => ChartData::Histogram {
            series: series(a, name)?,
            bins: index(b, "histogram bins")?,
        },
        _ => {
            let groups: Map = cast(a, "boxplot: groups is a map of name → values")?;
            let values = |v| -> RResult<Vec<_>> {
                Ok(series(v, name)?.into_iter().map(|(_, v)| v).collect())
            };
            let groups = groups
                .iter()
                .map(|(k, v)| Ok((k.to_string(), values(v)?)))
                .collect::<RResult<_>>()?;
            ChartData::Box {
                groups,
                series: texts(&b.clone().try_cast::<Array>().unwrap_or_default()),
            }
        }
    })
}

/// The run record of a session for an output folder, with the script's options as they
/// resolved (a session without a script file saves its commands there: `RunLog::record_in`).
pub fn run_record(
    log: &SharedLog,
    args: &Arc<Mutex<ScriptArgs>>,
    dir: &Path,
) -> RResult<RunRecord> {
    let args = args.lock().unwrap_or_else(|p| p.into_inner());
    let options = args.resolved.iter().cloned().collect();
    lock(log).record_in(dir, options).rh()
}

fn register_report(r: &mut Registrar, args: Arc<Mutex<ScriptArgs>>) {
    let log = r.log.clone();
    let (l, a) = (log.clone(), args.clone());
    options_fn!(r, "report", fn(dir: &str; m) -> RResult<String> {
        let o: ReportOptions = read_options("report", &m)?;
        let record = run_record(&l, &a, Path::new(dir))?;
        let written = Report::of_log(&lock(&l), record, o)
            .write(Path::new(dir))
            .rh()?;
        Ok(written.index.display().to_string())
    });

    let l = log.clone();
    r.register_fn("report_text", move |t: &str, body: &str| {
        lock(&l).add_text(t, body)
    });

    let l = log.clone();
    r.register_fn(
        "report_compare",
        move |t: &str, rows: Array| -> RResult<()> {
            let row = |d: &Dynamic| match d.clone().try_cast::<Array>().map(|c| texts(&c)) {
                Some(c) if c.len() == 3 => Ok((c[0].clone(), c[1].clone(), c[2].clone())),
                _ => err("report_compare: each row is [label, ours, paper]"),
            };
            let rows = rows.iter().map(row).collect::<RResult<Vec<_>>>()?;
            lock(&l).sections.push(Section::Comparison {
                title: t.to_string(),
                rows,
            });
            Ok(())
        },
    );

    let (l, a) = (log, args);
    r.register_fn("record_run", move |dir: &str| -> RResult<String> {
        let written = run_record(&l, &a, Path::new(dir))?
            .write_in(Path::new(dir))
            .rh()?;
        Ok(written.display().to_string())
    });
}

/// `show(path_or_tensor)`: a figure file (or a tensor drawn as a heatmap) shown inline in Jupyter;
/// outside a notebook the path is printed.
fn register_show(r: &mut Registrar, output: OutputSink) {
    let log = r.log.clone();
    let show_file = move |p: &str| -> RResult<String> {
        let path = Path::new(p);
        crate::plot::format_of(path).rh()?;
        if !path.is_file() {
            return err(format!("show: no such figure: {p}"));
        }
        let sink = lock(&log).display.clone();
        match sink {
            Some(show) => show(path),
            None => output(&format!("figure: {p}")),
        }
        Ok(p.to_string())
    };
    let f = show_file.clone();
    r.register_fn("show", move |p: &str| f(p));
    let counter = std::sync::atomic::AtomicUsize::new(0);
    r.register_fn("show", move |t: T| -> RResult<String> {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = crate::io::scratch_path(&format!("show-{n}.png")).rh()?;
        tensor_png(&t.0, &HeatmapSpec::default(), &path).rh()?;
        show_file(&path.display().to_string())
    });
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(P, "boxplot_co", "boxplot_co(table, path, #{mode, correct, output}) -> string", "CO box plots of correct vs wrong predictions per method (the paper's Figs 2, 3, 7).")
        .options(|| only(CoPlotOptions::KEYS, SWEEP_FIGURE_KEYS)).example("let b = load_drybean(); boxplot_co(ax_sweep(drybean_fpa(), b.head(30)), temp_path(\"box.png\"))"),
    func(P, "roc_co", "roc_co(table, path, #{mode, correct, output}) -> string", "ROC curves of CO per method and of the max-softmax baseline, as scores of whether a prediction is correct (AUROC in the legend): the gap statistics as a figure.")
        .options(|| only(CoPlotOptions::KEYS, SWEEP_FIGURE_KEYS)).example("seed(1); let b = load_drybean(); let s = b.standardize(); roc_co(ax_sweep(drybean_fpa(), b.shuffle().head(100).map(s)), temp_path(\"roc.png\"))"),
    func(P, "histogram_co", "histogram_co(table, path, #{method, mode, correct, output}) -> string", "Overlaid CO histograms of correct and wrong predictions for one method.")
        .options(|| only(CoPlotOptions::KEYS, HISTOGRAM_KEYS)).example("let b = load_drybean(); histogram_co(ax_sweep(drybean_fpa(), b.head(30)), temp_path(\"hist.png\"), #{method: \"DeepLift\"})"),
    func(P, "curves_co", "curves_co(gax_result, path) -> string", "CO score against GAX iteration, one line per sample (the paper's Fig. 4).")
        .example("let b = load_drybean(); curves_co(gax(drybean_fpa(), b.head(3).map(b.standardize()), #{max_steps: 5}), temp_path(\"curves.png\"))"),
    func(P, "heatmap", "heatmap(h, path, #{image, names, cmap, limit, title, alpha, panel}) -> string", "One heatmap, (C, H, W) as per-channel panels or (d) as labelled cells, in a diverging red/blue map with symmetric limits (±max|h| unless limit), a colour bar and the abs max; image overlays the input.")
        .options(|| HeatmapSpec::KEYS.to_vec()).example("heatmap(randn([3, 16, 16]), temp_path(\"h.png\"), #{title: \"noise\"})"),
    func(P, "toy2d_figure", "toy2d_figure(sweeps, path) -> string", "The paper's Fig. 1 from `toy2d_sweep` results: a panel per sweep, x₁ and x₂ solid, the heatmap's h₁ and h₂ dashed, each component's x and h in one colour.")
        .example("toy2d_figure([toy2d_sweep(0.95, 16), toy2d_sweep(0.55, 16)], temp_path(\"toy.png\"))"),
    func(R, "report", "report(dir, #{title, features}) -> string", "Write dir/index.html (self-contained: run record, accuracy and gap-statistics tables, every figure, the GAX viewer) and dir/run.yaml from what the script has done; returns the index path.")
        .options(|| ReportOptions::KEYS.to_vec()).example("let b = load_drybean(); let n = drybean_fpa(); ax_sweep(n, b.head(20)); report(temp_path(\"rep\"), #{title: \"demo\"})"),
    func(R, "report_text", "report_text(title, text)", "Add a titled block of text to the report.")
        .example("report_text(\"Notes\", \"trained on the bundled data\")"),
    func(R, "report_compare", "report_compare(title, rows)", "Add a table of [label, ours, paper] rows to the report (numbers side by side with the paper's).")
        .example("report_compare(\"Table 2, dry bean\", [[\"Baseline\", \"0.868\", \"0.877\"]])"),
    func(R, "record_run", "record_run(dir) -> string", "Write dir/run.yaml (seed, options, data provenance, versions); `gaxsh rerun dir/run.yaml` repeats the run.")
        .example("record_run(temp_path(\"rec\"))"),
    func(P, "show", "show(path_or_tensor) -> string", "Show a figure: a .png/.jpg/.svg file, or a tensor drawn as a heatmap. Inline in Jupyter (plots written by a cell are shown anyway); the REPL and scripts print the path. Returns the path.")
        .example("show(heatmap(randn([8, 8]), temp_path(\"s.png\")))"),
    func(P, "line", "line(x, y_or_series, path, #{title, xlabel, ylabel, size}) -> string", "Line plot: y an array/tensor, or a map / array of named series sharing x.")
        .options(|| ChartOptions::KEYS.to_vec()).example("line(arange(10), #{sin: arange(10).sin(), cos: arange(10).cos()}, temp_path(\"l.png\"))"),
    func(P, "scatter", "scatter(x, y, path, #{title, xlabel, ylabel, size}) -> string", "Scatter plot of y against x (arrays or tensors).")
        .options(|| ChartOptions::KEYS.to_vec()).example("scatter(randn([50]), randn([50]), temp_path(\"s.png\"), #{title: \"noise\"})"),
    func(P, "bar", "bar(names, values, path, #{title, xlabel, ylabel, size}) -> string", "A bar per name.")
        .options(|| ChartOptions::KEYS.to_vec()).example("bar([\"a\", \"b\"], [3, 5], temp_path(\"b.png\"))"),
    func(P, "histogram", "histogram(values_or_series, bins, path, #{title, xlabel, size}) -> string", "Histograms of one or several samples (a map of named arrays) on common bins.")
        .options(|| ChartOptions::KEYS.to_vec()).example("histogram(#{a: randn([200]), b: randn([200]) + 1}, 20, temp_path(\"hh.png\"))"),
    func(P, "boxplot", "boxplot(groups, series_names, path, #{title, xlabel, ylabel, size}) -> string", "Box plots: groups is a map name → array of values (one box each), or name → array of arrays (one per series).")
        .options(|| ChartOptions::KEYS.to_vec()).example("boxplot(#{a: randn([50]), b: randn([50]) * 2}, [], temp_path(\"bx.png\"))"),
];

pub fn register(r: &mut Registrar, args: Arc<Mutex<ScriptArgs>>, output: OutputSink) {
    r.document(DOCS);
    register_show(r, output);
    register_co_plots(r);
    register_general_plots(r);
    register_report(r, args);
}
