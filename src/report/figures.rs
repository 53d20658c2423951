//! The paper's figures from AX sweeps and GAX runs: CO box plots split by correct/wrong per method
//! (Figs 2, 3, 7), overlaid CO histograms, GAX CO-vs-iteration curves (Fig 4) and heatmap frames
//! (Fig 5); and the metric panel's: mean deletion/insertion curves, one metric against another.

use crate::attr::Method;
use crate::ax::{AxTable, Mode, Output};
use crate::error::Result;
use crate::evaluate::MetricTable;
use crate::gap::Meaning;
use crate::gax::GaxResult;
use crate::gax::toy::ToySweep;
use crate::plot::charts::{BoxPlot, Histogram, Labels, LineStyle, Lines, Panels, Scatter};
use crate::plot::colormap::ColorMap;
use crate::plot::heatmap::{HeatmapSpec, heatmap_png};
use crate::plot::save;
use std::path::Path;

crate::options! {
    /// The options of the CO figures (`boxplot_co`, `histogram_co`).
    pub struct CoPlotOptions {
        "method" => method: Option<String> = None; Text, "the sweep's first method", "histogram_co: the method shown", |v| Some(v.text()?);
        "mode" => mode: Mode = Mode::Sum; Text, "\"sum\"", "the sweep's mode: sum or mult", |v| Mode::parse(&v.text()?)?;
        "correct" => meaning: Meaning = Meaning::Before; Text, "\"before\"", "what counts as correct: the original prediction (the paper's main figures) or the one after AX", |v| Meaning::parse(&v.text()?)?;
        "output" => output: Output = Output::Raw; Text, "\"raw\"", "the CO form: raw logits, softmax or softmax_as_coded", |v| Output::parse(&v.text()?)?;
    }
}

/// CO values of correct and wrong samples for every method of a sweep.
fn split(
    table: &AxTable,
    mode: Mode,
    meaning: Meaning,
    form: Output,
) -> Vec<(String, Vec<f64>, Vec<f64>)> {
    table
        .methods
        .iter()
        .map(|m| {
            let (mut ok, mut bad) = (Vec::new(), Vec::new());
            for r in table.rows_of(*m, mode) {
                if meaning.correct(r) {
                    ok.push(form.of(r));
                } else {
                    bad.push(form.of(r));
                }
            }
            (m.to_string(), ok, bad)
        })
        .collect()
}

fn meaning_text(m: Meaning) -> &'static str {
    match m {
        Meaning::Before => "correct = original prediction",
        Meaning::After => "correct = prediction after AX",
    }
}

/// CO box plots, correct vs wrong, one pair per method. The figures of a sweep return their
/// captions.
pub fn boxplot_co(table: &AxTable, path: &Path, opts: &CoPlotOptions) -> Result<String> {
    let (mode, meaning, form) = (opts.mode, opts.meaning, opts.output);
    let s = split(table, mode, meaning, form);
    let chart = BoxPlot {
        labels: Labels {
            title: format!(
                "{} ({}, x{}h; {})",
                form.label(),
                table.label,
                if mode == Mode::Sum { "+" } else { "*" },
                meaning_text(meaning)
            ),
            x: "method".into(),
            y: form.label().into(),
        },
        // Each box's group size beside its method: correct/wrong.
        categories: s
            .iter()
            .map(|(m, ok, bad)| format!("{} (n={}/{})", short(m), ok.len(), bad.len()))
            .collect(),
        series: vec!["correct".into(), "wrong".into()],
        values: s.into_iter().map(|(_, a, b)| vec![a, b]).collect(),
    };
    save(&chart, path, (1100, 480))?;
    Ok(format!(
        "CO scores by method (correct = {} AX)",
        meaning.name()
    ))
}

fn short(m: &str) -> String {
    match m {
        "InputXGradient" => "InputXGrad".into(),
        "GuidedBackprop" => "GuidedBP".into(),
        "Deconvolution" => "Deconv".into(),
        "LayerGradCam" => "LayerGradCAM".into(),
        other => other.into(),
    }
}

/// Overlaid CO histograms of correct and wrong samples for one method (the sweep's first
/// unless `opts.method` names another).
pub fn histogram_co(table: &AxTable, path: &Path, opts: &CoPlotOptions) -> Result<String> {
    let (mode, meaning, form) = (opts.mode, opts.meaning, opts.output);
    let method = match &opts.method {
        Some(m) => table.method_named(m)?,
        None => table.methods.first().copied().unwrap_or(Method::Saliency),
    };
    let method = method.name();
    let s = split(table, mode, meaning, form);
    let (_, ok, bad) = s
        .into_iter()
        .find(|(m, _, _)| m == method)
        .unwrap_or_default();
    let chart = Histogram {
        labels: Labels {
            title: format!("{method}: {} ({})", form.label(), meaning_text(meaning)),
            x: form.label().into(),
            y: "count".into(),
        },
        series: vec![("correct".into(), ok), ("wrong".into(), bad)],
        bins: 30,
    };
    save(&chart, path, (700, 420))?;
    Ok(format!("{method}: CO histograms, correct vs wrong"))
}

/// ROC curves of CO (per method) and of the maximum softmax probability, the trivial baseline,
/// as scores of whether a prediction is correct; the legend gives each AUROC.
pub fn roc_co(table: &AxTable, path: &Path, opts: &CoPlotOptions) -> Result<String> {
    let (mode, meaning, form) = (opts.mode, opts.meaning, opts.output);
    let curve = |name: String, pos: &[f64], neg: &[f64]| {
        let c = crate::stats::roc_curve(pos, neg);
        let auc = crate::stats::auroc(pos, neg);
        let label = format!("{name} (AUROC {auc:.3})");
        (
            label,
            c.iter().map(|p| p.0).collect::<Vec<_>>(),
            c.iter().map(|p| p.1).collect(),
        )
    };
    let mut series: Vec<(String, Vec<f64>, Vec<f64>)> = split(table, mode, meaning, form)
        .into_iter()
        .filter(|(_, ok, bad)| !ok.is_empty() && !bad.is_empty())
        .map(|(m, ok, bad)| curve(short(&m), &ok, &bad))
        .collect();
    // Before AX the baseline is the same for every method: take it from the first method's
    // rows. After AX each method has its own post-AX logits, so its own baselines: the gap
    // table lists them.
    if let (Meaning::Before, Some(first)) = (meaning, table.methods.first()) {
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        for r in table.rows_of(*first, mode) {
            if meaning.correct(r) {
                ok.push(r.msp)
            } else {
                bad.push(r.msp)
            }
        }
        if !ok.is_empty() && !bad.is_empty() {
            series.push(curve("max softmax (baseline)".into(), &ok, &bad));
        }
    }
    if series.is_empty() {
        return Err(crate::Error::invalid(
            "roc_co: every prediction is correct (or every one wrong): no ROC curve to draw",
        ));
    }
    series.push((String::new(), vec![0.0, 1.0], vec![0.0, 1.0]));
    let chart = Lines {
        labels: Labels {
            title: format!(
                "ROC, correct = {} AX ({}, x{}h)",
                meaning.name(),
                table.label,
                if mode == Mode::Sum { "+" } else { "*" },
            ),
            x: "false positive rate".into(),
            y: "true positive rate".into(),
        },
        series,
        hlines: vec![],
        points: false,
        styles: vec![],
    };
    save(&chart, path, (760, 560))?;
    Ok("ROC of CO vs the max-softmax baseline".into())
}

/// The paper's Fig. 1, a panel per point (a₁, a₂): x₁ and x₂ (solid) and the heatmap's h₁ and
/// h₂ (dashed) against θ, each component's x and h in one colour (1 red, 2 blue, as the paper).
pub fn toy_panels(sweeps: &[ToySweep], path: &Path) -> Result<()> {
    /// Panels side by side before a figure grows too wide to look at (or to allocate).
    const MAX_PANELS: usize = 8;
    if !(1..=MAX_PANELS).contains(&sweeps.len()) {
        return Err(crate::Error::OutOfRange {
            what: "toy2d_figure: the number of sweeps (a panel each)".into(),
            value: sweeps.len().to_string(),
            valid: format!("1 to {MAX_PANELS}"),
        });
    }
    for s in sweeps {
        s.check()?;
    }
    const RED: usize = 1;
    const BLUE: usize = 0;
    let k_eta = |s: &ToySweep| format!("kη = {}", (s.k_eta * 1e9).round() / 1e9);
    let same_step = sweeps.iter().all(|s| k_eta(s) == k_eta(&sweeps[0]));
    let panels = sweeps
        .iter()
        .map(|s| Lines {
            labels: Labels {
                title: format!(
                    "a₁ = {}, a₂ = {}{}",
                    s.a1,
                    (1e9 * (1.0 - s.a1)).round() / 1e9,
                    if same_step {
                        String::new()
                    } else {
                        format!(", {}", k_eta(s))
                    }
                ),
                x: "θ (rad)".into(),
                y: String::new(),
            },
            series: vec![
                ("x₁".into(), s.theta.clone(), s.x[0].clone()),
                ("x₂".into(), s.theta.clone(), s.x[1].clone()),
                ("h₁".into(), s.theta.clone(), s.h[0].clone()),
                ("h₂".into(), s.theta.clone(), s.h[1].clone()),
            ],
            styles: vec![
                LineStyle {
                    color: RED,
                    dashed: false,
                },
                LineStyle {
                    color: BLUE,
                    dashed: false,
                },
                LineStyle {
                    color: RED,
                    dashed: true,
                },
                LineStyle {
                    color: BLUE,
                    dashed: true,
                },
            ],
            ..Lines::default()
        })
        .collect();
    let chart = Panels {
        title: format!(
            "x (solid) and the heatmap h = w ⊙ x found by gradient ascent (dashed){}",
            if same_step {
                format!(", {}", k_eta(&sweeps[0]))
            } else {
                String::new()
            }
        ),
        panels,
    };
    save(&chart, path, (480 * sweeps.len() as u32, 440))
}

/// CO against GAX step, one line per sample, with the target.
pub fn curves_co(g: &GaxResult, path: &Path) -> Result<String> {
    let series = g
        .scores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = if g.scores.len() <= 10 {
                g.ids[i].rsplit('/').next().unwrap_or("").to_string()
            } else {
                String::new()
            };
            (name, (0..s.len()).map(|k| k as f64).collect(), s.clone())
        })
        .collect();
    let target = g.options.target_co;
    let hlines = if target.abs() < 1e6 {
        vec![(format!("target {target}"), target)]
    } else {
        vec![]
    };
    let chart = Lines {
        labels: Labels {
            title: format!(
                "GAX: CO score per iteration ({} sample{})",
                g.scores.len(),
                if g.scores.len() == 1 { "" } else { "s" }
            ),
            x: "iter".into(),
            y: "CO score".into(),
        },
        series,
        hlines,
        points: false,
        styles: vec![],
    };
    save(&chart, path, (800, 460))?;
    Ok("GAX: CO score per iteration".into())
}

/// Each method's mean deletion (or insertion) curve: the target's probability against the
/// fraction of units flipped, most relevant first.
pub fn flip_curves(t: &MetricTable, path: &Path, insertion: bool) -> Result<String> {
    let series = t
        .methods
        .iter()
        .map(|m| Ok((m.clone(), t.fractions.clone(), t.mean_curve(m, insertion)?)))
        .collect::<Result<Vec<_>>>()?;
    let (kind, how) = if insertion {
        ("Insertion", "put back into the baseline")
    } else {
        ("Deletion", "set to the baseline")
    };
    let chart = Lines {
        labels: Labels {
            title: format!(
                "{kind}: most relevant units {how} first (mean of {} samples)",
                t.len()
            ),
            x: "fraction of units flipped".into(),
            y: "probability of the explained class".into(),
        },
        series,
        hlines: vec![],
        points: false,
        styles: vec![],
    };
    save(&chart, path, (800, 460))?;
    Ok(format!(
        "mean {} curve per method",
        if insertion { "insertion" } else { "deletion" }
    ))
}

/// One metric against another, a point per sample, a colour per method (CO against deletion
/// AUC by default in the report).
pub fn metric_scatter(t: &MetricTable, path: &Path, x: &str, y: &str) -> Result<String> {
    let series = t
        .methods
        .iter()
        .map(|m| {
            Ok((
                m.clone(),
                t.scores_of(m, x)?.to_vec(),
                t.scores_of(m, y)?.to_vec(),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let chart = Scatter {
        labels: Labels {
            title: format!("{y} against {x}, per sample"),
            x: x.into(),
            y: y.into(),
        },
        series,
    };
    save(&chart, path, (800, 520))?;
    Ok(format!("{y} against {x}, per sample"))
}

/// One heatmap frame (channels side by side, bwr, limit 1 since h = tanh(…) ∈ [−1, 1]).
pub fn frame_png(
    h: &candle_core::Tensor,
    path: &Path,
    title: &str,
    names: &[String],
    cmap: ColorMap,
    limit: Option<f64>,
) -> Result<()> {
    let dims = h.dims().to_vec();
    let v = crate::tensor::ops::to_f64_vec(h)?;
    // Large images are shown at up to 128 px per side in the viewer.
    let (v, dims) = if dims.len() == 3 && dims[1] > 128 {
        let t = crate::tensor::resize::resize(
            h,
            128,
            128 * dims[2] / dims[1],
            crate::tensor::resize::Mode::Bilinear,
        )?;
        (crate::tensor::ops::to_f64_vec(&t)?, t.dims().to_vec())
    } else {
        (v, dims)
    };
    let spec = HeatmapSpec {
        title: title.into(),
        cmap,
        limit,
        names: names.to_vec(),
        panel: 128,
        ..Default::default()
    };
    heatmap_png(&v, &dims, &spec, path)
}

/// The (channels, height, width) of an image sample, `None` for other shapes (tabular rows).
fn image_dims(dims: &[usize]) -> Option<(usize, usize, usize)> {
    match *dims {
        [c, h, w] => Some((c, h, w)),
        [h, w] => Some((1, h, w)),
        _ => None,
    }
}

/// An input image as RGB bytes, every `step`-th pixel of every `step`-th row, scaled to
/// [0, 1] by its own range (normalised inputs are not in [0, 1]); grey below three channels.
fn input_rgb(x: &[f64], (c, h, w): (usize, usize, usize), step: usize) -> Vec<u8> {
    let (lo, hi) = x
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut rgb = Vec::with_capacity(h.div_ceil(step) * w.div_ceil(step) * 3);
    for y in (0..h).step_by(step) {
        for px in (0..w).step_by(step) {
            for ch in 0..3 {
                let source = if c >= 3 { ch } else { 0 };
                let v = (x[(source * h + y) * w + px] - lo) / span;
                rgb.push((v.clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
    }
    rgb
}

/// Pixels skipped per side so that an image is drawn at most 128 px per side.
fn thinning(h: usize, w: usize) -> usize {
    h.max(w).div_ceil(128).max(1)
}

/// An input image (C, H, W) or (H, W) as a PNG of at most 128 px per side; `false` (nothing
/// written) for a sample that is not an image.
pub fn input_png(x: &candle_core::Tensor, path: &Path) -> Result<bool> {
    let Some(dims) = image_dims(x.dims()) else {
        return Ok(false);
    };
    let step = thinning(dims.1, dims.2);
    let rgb = input_rgb(&crate::tensor::ops::to_f64_vec(x)?, dims, step);
    crate::plot::write_png(
        path,
        dims.2.div_ceil(step) as u32,
        dims.1.div_ceil(step) as u32,
        rgb,
    )?;
    Ok(true)
}

/// The images of a gallery row: the input (`None` for a tabular sample) and each method's
/// heatmap over it, as PNG files named `{stem}_input.png` and `{stem}_{method}.png` in `dir`.
/// Channels are summed into one map, drawn in bwr with opacity growing with |h| (the image
/// shows through where the method sees nothing); images over 128 pixels are thinned to it.
pub fn gallery_images(ex: &crate::ax::Example, dir: &Path, stem: &str) -> Result<Vec<String>> {
    let Some((c, h, w)) = image_dims(&ex.dims) else {
        return Ok(vec![]);
    };
    let step = thinning(h, w);
    let (oh, ow) = (h.div_ceil(step), w.div_ceil(step));
    let input = input_rgb(&ex.x, (c, h, w), step);
    let mut names = Vec::new();
    let mut write = |name: String, rgb: Vec<u8>| -> Result<()> {
        crate::plot::write_png(&dir.join(&name), ow as u32, oh as u32, rgb)?;
        names.push(name);
        Ok(())
    };
    write(format!("{stem}_input.png"), input.clone())?;
    for (method, hm) in &ex.heatmaps {
        let summed: Vec<f64> = (0..h * w)
            .map(|p| (0..c).map(|ch| hm[ch * h * w + p]).sum())
            .collect();
        let limit = summed.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut rgb = Vec::with_capacity(oh * ow * 3);
        let mut at = 0;
        for y in (0..h).step_by(step) {
            for x in (0..w).step_by(step) {
                let v = summed[y * w + x];
                let col = crate::plot::colormap::ColorMap::Bwr.color(v, limit);
                let a = if limit > 0.0 {
                    0.85 * v.abs() / limit
                } else {
                    0.0
                };
                for ch in 0..3 {
                    let img = f64::from(input[at + ch]) / 255.0;
                    let mixed = (1.0 - a) * img + a * col[ch] as f64 / 255.0;
                    rgb.push((mixed * 255.0).round() as u8);
                }
                at += 3;
            }
        }
        write(format!("{stem}_{method}.png"), rgb)?;
    }
    Ok(names)
}
