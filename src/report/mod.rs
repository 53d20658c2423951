//! The experiment report: a folder with a self-contained `index.html` (no network; figures and
//! viewer frames embedded, each PNG also beside it), and the `run.yaml` run record that
//! `gaxsh rerun` repeats.

pub mod figures;
mod html;
pub use html::{accuracy as accuracy_html, gaps as gaps_html, metric_table as metric_table_html};
pub mod log;
pub mod record;

/// The paper whose methods gaxsh implements, cited in every report (and in the README).
pub struct Paper {
    pub citation: &'static str,
    pub link: &'static str,
    pub code: &'static str,
}

pub const PAPER: Paper = Paper {
    citation: "E. Tjoa, H. J. Khok, T. Chouhan and C. Guan, \u{201c}Improving Deep Neural Network Classification Confidence using Heatmap-based eXplainable AI\u{201d}",
    link: "https://arxiv.org/abs/2201.00009",
    code: "https://github.com/ericotjo001/explainable_ai/tree/master/gax",
};

use crate::ax::AxTable;
use crate::error::{Error, Result};
use crate::gap::{Gap, Meaning, gap_stats};
use crate::gax::GaxResult;
use record::RunRecord;
use std::path::{Path, PathBuf};

/// One block of the report, in the order it was added.
#[derive(Clone, Debug)]
pub enum Section {
    /// A heading and preformatted text (metrics, training summaries, notes).
    Text { title: String, body: String },
    /// An AX sweep: accuracy table, gap statistics, CO figures.
    Sweep(Box<AxTable>),
    /// A GAX run: summary, CO curves and the frame viewer.
    Gax(Box<GaxResult>),
    /// The explanation-metric panel: its table, agreement and figures.
    Metrics(Box<crate::evaluate::MetricTable>),
    /// A figure file made elsewhere (copied into the report folder).
    Figure { caption: String, path: PathBuf },
    /// Rows of numbers side by side with the paper's (label, ours, paper).
    Comparison {
        title: String,
        rows: Vec<(String, String, String)>,
    },
}

#[derive(Clone, Debug)]
pub struct Report {
    pub title: String,
    pub record: RunRecord,
    pub sections: Vec<Section>,
    /// Feature or channel names for heatmap frames.
    pub feature_names: Vec<String>,
    /// Figures inside `index.html` as data URIs (one self-contained file), or linked.
    pub embed: bool,
    /// Wall seconds of each stage of the session (see [`log::RunLog::stages`]).
    pub stages: Vec<(String, f64)>,
}

crate::options! {
    /// The options of a report.
    pub struct ReportOptions {
        "title" => title: String = "gaxsh experiment".into(); Text, "\"gaxsh experiment\"", "the report's title", |v| v.text()?;
        "features" => features: Vec<String> = vec![]; Texts, "[]", "feature or channel names for the heatmap frames", |v| v.texts()?;
        "embed" => embed: bool = true; Bool, "true", "embed every figure in index.html (one file to share); false links the PNGs beside it (huge runs)", |v| v.bool()?;
    }
}

/// What `write` produced.
pub struct Written {
    pub index: PathBuf,
    pub files: Vec<PathBuf>,
}

impl Report {
    pub fn new(title: &str, record: RunRecord) -> Report {
        Report {
            title: title.into(),
            record,
            sections: vec![],
            feature_names: vec![],
            embed: true,
            stages: vec![],
        }
    }

    /// A report of everything a session's log holds.
    pub fn of_log(log: &log::RunLog, record: RunRecord, opts: ReportOptions) -> Report {
        Report {
            title: opts.title,
            record,
            sections: log.sections.clone(),
            feature_names: opts.features,
            embed: opts.embed,
            stages: log.stages.clone(),
        }
    }

    /// Write `index.html`, its figures and `run.yaml` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Written> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut files = Vec::new();
        let mut body = String::new();
        for (si, s) in self.sections.iter().enumerate() {
            crate::interrupt::check()?;
            body.push_str(&match s {
                Section::Text { title, body } => html::text(title, body),
                Section::Comparison { title, rows } => html::comparison(title, rows),
                Section::Figure { caption, path } => {
                    let name = match inside(dir, path) {
                        // Written into the report's folder already: linked where it is, so
                        // each figure exists once.
                        Some(relative) => relative,
                        None => {
                            let name = format!(
                                "fig{si}_{}",
                                path.file_name()
                                    .map(|n| n.to_string_lossy().into_owned())
                                    .unwrap_or_default()
                            );
                            crate::io::copy_atomic(path, &dir.join(&name))?;
                            name
                        }
                    };
                    files.push(dir.join(&name));
                    html::figure(&name, caption)
                }
                Section::Sweep(t) => self.sweep_section(si, t, dir, &mut files)?,
                Section::Gax(g) => self.gax_section(si, g, dir, &mut files)?,
                Section::Metrics(t) => metrics_section(si, t, dir, &mut files)?,
            });
        }
        body.push_str(&html::stages(&self.stages));
        let (listed, complete) = artefacts(dir)?;
        body.push_str(&html::artefacts(&listed, complete));
        let page = html::resolve_images(
            &html::page(&self.title, &self.record, &body),
            dir,
            self.embed,
        )?;
        let index = dir.join("index.html");
        crate::io::write_atomic(&index, page.as_bytes())?;
        files.push(self.record.write_in(dir)?);
        Ok(Written { index, files })
    }

    fn sweep_section(
        &self,
        si: usize,
        t: &AxTable,
        dir: &Path,
        files: &mut Vec<PathBuf>,
    ) -> Result<String> {
        use crate::ax::Output;
        use figures::{CoPlotOptions, boxplot_co};
        let mut out = html::heading(&format!(
            "AX process: {}",
            if t.label.is_empty() {
                "sweep"
            } else {
                &t.label
            }
        ));
        out.push_str(&html::accuracy(t));
        let gaps: Vec<Gap> = gap_stats(t);
        out.push_str(&html::gaps(&gaps));
        let images: Vec<Vec<String>> = t
            .examples
            .iter()
            .enumerate()
            .map(|(k, e)| figures::gallery_images(e, dir, &format!("s{si}_gallery{k}")))
            .collect::<Result<_>>()?;
        files.extend(images.iter().flatten().map(|f| dir.join(f)));
        out.push_str(&html::gallery(
            &t.examples,
            &t.class_names,
            &self.feature_names,
            &images,
        ));
        for &mode in &t.modes {
            let roc = format!("s{si}_roc_{}.png", mode.name());
            let roc_opts = CoPlotOptions {
                mode,
                ..Default::default()
            };
            // A sweep where every prediction is right (or wrong) has no ROC curve.
            if figures::roc_co(t, &dir.join(&roc), &roc_opts).is_ok() {
                files.push(dir.join(&roc));
                out.push_str(&html::figure(
                    &roc,
                    &format!(
                        "ROC curves of CO (x{}h, raw logits) and of the max-softmax baseline as scores of a correct original prediction: above the baseline, CO tells right from wrong better than the model's confidence.",
                        if mode.name() == "sum" { "+" } else { "*" }
                    ),
                ));
            }
            for meaning in [Meaning::Before, Meaning::After] {
                for form in [Output::Raw, Output::Softmax] {
                    let name = format!(
                        "s{si}_co_{}_{}_{}.png",
                        mode.name(),
                        meaning.name(),
                        if form == Output::Raw {
                            "raw"
                        } else {
                            "softmax"
                        }
                    );
                    boxplot_co(
                        t,
                        &dir.join(&name),
                        &CoPlotOptions {
                            mode,
                            meaning,
                            output: form,
                            method: None,
                        },
                    )?;
                    files.push(dir.join(&name));
                    let caption = format!(
                        "CO scores of correct and wrong predictions per method (x{}h, {}, correct = {} AX{}).",
                        if mode.name() == "sum" { "+" } else { "*" },
                        if form == Output::Raw {
                            "raw logits"
                        } else {
                            "softmax"
                        },
                        meaning.name(),
                        if meaning == Meaning::Before {
                            "; the paper's main figures"
                        } else {
                            "; the paper's appendix figures"
                        }
                    );
                    out.push_str(&html::figure(&name, &caption));
                }
            }
        }
        Ok(out)
    }

    fn gax_section(
        &self,
        si: usize,
        g: &GaxResult,
        dir: &Path,
        files: &mut Vec<PathBuf>,
    ) -> Result<String> {
        let mut out = html::heading("GAX");
        out.push_str(&html::text("", &g.summary()));
        let curves = format!("s{si}_gax_curves.png");
        figures::curves_co(g, &dir.join(&curves))?;
        files.push(dir.join(&curves));
        out.push_str(&html::figure(
            &curves,
            "CO score against GAX iteration, one line per sample (the paper's Fig. 4).",
        ));
        // The viewer: every sample of an ordinary run. Tabular frames travel as numbers (drawn by
        // the page), up to 40 per sample; image frames as PNGs, IMAGE_FRAMES shared among the
        // samples (each keeps at least its first and last). A run too large for one page shows
        // its first VIEWER_SAMPLES and says so (all are in the saved GAX files).
        const IMAGE_FRAMES: usize = 480;
        const VIEWER_SAMPLES: usize = 1000;
        let shown = g.frames.len().min(VIEWER_SAMPLES);
        if shown < g.frames.len() {
            out.push_str(&html::text(
                "",
                &format!(
                    "The viewer shows the first {shown} of {} samples; every sample's frames are in the saved GAX files (g.save).",
                    g.frames.len()
                ),
            ));
        }
        let frames_dir = dir.join(format!("gax{si}"));
        let mut samples = Vec::new();
        for i in 0..shown {
            let fr = &g.frames[i];
            if fr.is_empty() {
                continue;
            }
            let cap = if fr[0].1.rank() == 1 {
                40
            } else {
                (IMAGE_FRAMES / shown).clamp(2, 40)
            };
            let pick: Vec<usize> = if fr.len() <= cap {
                (0..fr.len()).collect()
            } else {
                (0..cap).map(|k| k * (fr.len() - 1) / (cap - 1)).collect()
            };
            let mut sample = html::ViewerSample {
                id: g.ids[i].clone(),
                label: g.labels[i],
                target: g.targets[i],
                frames: vec![],
                values: vec![],
                input_image: String::new(),
                input_values: vec![],
            };
            let x = g.inputs.get(i)?;
            if fr[0].1.rank() == 1 {
                sample.input_values = crate::tensor::ops::to_f64_vec(&x)?;
                for &k in &pick {
                    let (step, h) = &fr[k];
                    sample.values.push(crate::tensor::ops::to_f64_vec(h)?);
                    sample.frames.push((
                        *step,
                        g.scores[i].get(*step).copied().unwrap_or(f64::NAN),
                        String::new(),
                        String::new(),
                    ));
                }
                samples.push(sample);
                continue;
            }
            std::fs::create_dir_all(&frames_dir).map_err(|e| Error::io(&frames_dir, e))?;
            let input = format!("gax{si}/s{i}_x.png");
            if figures::input_png(&x, &dir.join(&input))? {
                files.push(dir.join(&input));
                sample.input_image = input;
            }
            // Per-step change |h_k+1 − h_k| between the frames shown, on one scale per sample.
            let changes: Vec<candle_core::Tensor> = pick
                .iter()
                .enumerate()
                .map(|(j, &k)| match pick.get(j + 1) {
                    Some(&n) => (&fr[n].1 - &fr[k].1).and_then(|d| d.abs()),
                    None => fr[k].1.zeros_like(),
                })
                .collect::<candle_core::Result<_>>()?;
            let change_max = changes
                .iter()
                .map(|c| {
                    c.max_all()
                        .and_then(|m| m.to_dtype(candle_core::DType::F64))
                        .and_then(|m| m.to_scalar::<f64>())
                        .unwrap_or(0.0)
                })
                .fold(0.0f64, f64::max);
            for (j, &k) in pick.iter().enumerate() {
                let (step, h) = &fr[k];
                let f = format!("gax{si}/s{i}_f{j}.png");
                let c = format!("gax{si}/s{i}_d{j}.png");
                let score = g.scores[i].get(*step).copied().unwrap_or(f64::NAN);
                figures::frame_png(
                    h,
                    &dir.join(&f),
                    &format!("step {step}, CO {score:.3}"),
                    &[],
                    crate::plot::colormap::ColorMap::Bwr,
                    Some(1.0),
                )?;
                figures::frame_png(
                    &changes[j],
                    &dir.join(&c),
                    "|change to the next frame|",
                    &[],
                    crate::plot::colormap::ColorMap::Reds,
                    Some(change_max.max(1e-12)),
                )?;
                files.push(dir.join(&f));
                files.push(dir.join(&c));
                sample.frames.push((*step, score, f, c));
            }
            samples.push(sample);
        }
        out.push_str(&html::viewer(si, &samples, &self.feature_names));
        Ok(out)
    }
}

/// The metric panel: the table, the mean deletion and insertion curves, CO against each.
fn metrics_section(
    si: usize,
    t: &crate::evaluate::MetricTable,
    dir: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<String> {
    use crate::evaluate::Metric;
    let mut out = html::heading(&format!("Explanation metrics: {}", t.data));
    out.push_str(&html::metric_table(t));
    let has = |m: Metric| t.metrics.contains(&m);
    for (metric, insertion) in [(Metric::Deletion, false), (Metric::Insertion, true)] {
        if !has(metric) {
            continue;
        }
        let name = format!("s{si}_{}.png", metric.name());
        figures::flip_curves(t, &dir.join(&name), insertion)?;
        files.push(dir.join(&name));
        out.push_str(&html::figure(
            &name,
            &format!(
                "Mean {} curve per method: the probability of the explained class as the input's units (features, pixels or patches) are flipped in order of |h|, {}. AUC in the table.",
                metric.name(),
                if insertion { "higher is better" } else { "lower is better" }
            ),
        ));
        if has(Metric::CoSum) {
            let name = format!("s{si}_co_vs_{}.png", metric.name());
            figures::metric_scatter(t, &dir.join(&name), metric.name(), "co_sum")?;
            files.push(dir.join(&name));
            out.push_str(&html::figure(
                &name,
                &format!(
                    "CO (x + h) against {} AUC, one point per sample and method: do the two measures agree on which heatmaps carry information?",
                    metric.name()
                ),
            ));
        }
    }
    Ok(out)
}

/// The path of `file` relative to `dir` (with `/` separators, as a link in the page) when it
/// lies inside it.
fn inside(dir: &Path, file: &Path) -> Option<String> {
    let (dir, file) = (dir.canonicalize().ok()?, file.canonicalize().ok()?);
    let relative = file.strip_prefix(&dir).ok()?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The files of a report's folder a reader may want beside its figures (sweep tables, weights,
/// GAX runs, the session, the run record), relative to it and with their sizes, in name order.
/// Figures (shown on the page) and the page itself are left out; `run.yaml` is always in.
fn artefacts(dir: &Path) -> Result<(Vec<(String, u64)>, bool)> {
    /// Folders below the report's own that are searched (GAX runs sit one level down).
    const DEPTH: usize = 3;
    /// Entries looked at before the listing stops: a report written into a big folder (a home
    /// directory, `/`) must not walk it all.
    const MAX_VISITED: usize = 5_000;
    let mut found = Vec::new();
    let mut visited = 0;
    let mut folders = vec![(dir.to_path_buf(), String::new(), 0)];
    while let Some((folder, prefix, depth)) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > MAX_VISITED {
                found.sort();
                return Ok((found, false));
            }
            crate::interrupt::check()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            // Links are not followed: a link to a parent would list the same files forever.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth < DEPTH {
                    folders.push((entry.path(), relative, depth + 1));
                }
            } else if !(name.ends_with(".png")
                || name.ends_with(".svg")
                || relative == "index.html")
            {
                found.push((relative, entry.metadata().map_or(0, |m| m.len())));
            }
        }
    }
    if !found.iter().any(|(name, _)| name == "run.yaml") {
        found.push(("run.yaml".into(), 0));
    }
    found.sort();
    Ok((found, true))
}
