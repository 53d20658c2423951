//! The AX process and the CO score (METHOD.md §4.1).
//!
//! For each sample: the prediction t = argmax f(x); a heatmap A for t; h = A / max|A|; the
//! augmented logits f(x + h) ("sum") or f(x ⊙ h) ("mult"); and the CO score
//! s = Σ_j κ_j (f(x + h)_j − f(x)_j) with κ = 1 for the true class and −1/(C−1) for the others.
//!
//! [`ax_sweep`] runs every method × mode over a dataset in batches, appends each sample's row to
//! a CSV as it goes (an interrupted sweep keeps its rows and resumes where it stopped) and
//! returns the [`AxTable`] the gap statistics and plots are made from.

use crate::attr::{self, AttrOptions, Method, Target};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::nn::{CHUNK, Model};
use crate::options::{Key, Kind, Options, Value, key};
use crate::progress::Task;
use candle_core::{DType, Tensor};
use serde::Serialize;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How the heatmap is fed back to the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// x + h (the paper's main variant, v2).
    Sum,
    /// x ⊙ h (v1's "mult").
    Mult,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode> {
        match s {
            "sum" => Ok(Mode::Sum),
            "mult" => Ok(Mode::Mult),
            other => Err(Error::unknown("AX mode", other, &["sum", "mult"])),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sum => "sum",
            Mode::Mult => "mult",
        }
    }
    /// The augmented input.
    pub fn apply(self, x: &Tensor, h: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Mode::Sum => (x + h)?,
            Mode::Mult => (x * h)?,
        })
    }
}

/// Which outputs the CO score compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Raw logits (the paper's main CO).
    Raw,
    /// Σκ·(softmax(y_a) − softmax(y_b)), the evidently intended softmax form.
    Softmax,
    /// Σκ·(softmax(y_a) − y_b), the v2 code's formula (appendix Figs 14–16).
    SoftmaxAsCoded,
}

impl Output {
    pub fn parse(s: &str) -> Result<Output> {
        match s {
            "raw" => Ok(Output::Raw),
            "softmax" => Ok(Output::Softmax),
            "softmax_as_coded" => Ok(Output::SoftmaxAsCoded),
            other => Err(Error::unknown(
                "CO output",
                other,
                &["raw", "softmax", "softmax_as_coded"],
            )),
        }
    }
}

impl Output {
    pub fn name(self) -> &'static str {
        match self {
            Output::Raw => "raw",
            Output::Softmax => "softmax",
            Output::SoftmaxAsCoded => "softmax_as_coded",
        }
    }

    /// This form's CO column of a sweep row.
    pub fn of(self, r: &AxRow) -> f64 {
        match self {
            Output::Raw => r.co,
            Output::Softmax => r.co_softmax,
            Output::SoftmaxAsCoded => r.co_softmax_as_coded,
        }
    }

    /// The axis label of a figure showing this form.
    pub fn label(self) -> &'static str {
        match self {
            Output::Raw => "CO score",
            Output::Softmax => "CO score (softmax)",
            Output::SoftmaxAsCoded => "CO score (softmax, as coded)",
        }
    }
}

crate::options! {
    /// The options of a CO score from a model and heatmaps (`co_score(net, x, h, labels, …)`).
    pub struct CoOptions {
        "mode" => mode: Mode = Mode::Sum; Text, "\"sum\"", "how h enters: sum (x + h) or mult (x ⊙ h)", |v| Mode::parse(&v.text()?)?;
        "output" => output: Output = Output::Raw; Text, "\"raw\"", "raw logits, softmax, or softmax_as_coded (the v2 code's formula)", |v| Output::parse(&v.text()?)?;
    }
}

fn softmax_row(v: &[f64]) -> Vec<f64> {
    let m = v.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f64> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// The CO score of one sample with `label` among C = len classes.
pub fn co_row(before: &[f64], after: &[f64], label: usize, output: Output) -> f64 {
    let c = before.len();
    let kappa = |j: usize| {
        if j == label {
            1.0
        } else {
            -1.0 / (c as f64 - 1.0)
        }
    };
    let (a, b): (Vec<f64>, Vec<f64>) = match output {
        Output::Raw => (after.to_vec(), before.to_vec()),
        Output::Softmax => (softmax_row(after), softmax_row(before)),
        Output::SoftmaxAsCoded => (softmax_row(after), before.to_vec()),
    };
    (0..c).map(|j| kappa(j) * (a[j] - b[j])).sum()
}

/// The AX step: the model's logits for `x` and for `x` with its heatmap applied (`x + h` or
/// `x ⊙ h`), in the model's dtype, `CHUNK` samples per pass.
pub fn ax_logits(model: &Model, x: &Tensor, h: &Tensor, mode: Mode) -> Result<(Tensor, Tensor)> {
    let x = x.to_dtype(model.dtype)?;
    let h = h.to_dtype(model.dtype)?;
    let before = model.logits(&x, CHUNK)?;
    let after = model.logits(&mode.apply(&x, &h)?, CHUNK)?;
    Ok((before, after))
}

/// CO scores of a batch from logits before and after AX (N, C).
pub fn co_scores(
    before: &Tensor,
    after: &Tensor,
    labels: &[usize],
    output: Output,
) -> Result<Vec<f64>> {
    if before.dims() != after.dims() || before.rank() != 2 {
        return Err(Error::ShapeMismatch {
            op: "co_score".into(),
            lhs: before.dims().to_vec(),
            rhs: after.dims().to_vec(),
        });
    }
    let (n, c) = before.dims2()?;
    if labels.len() != n {
        return Err(Error::invalid(format!(
            "co_score: {} labels for {n} samples",
            labels.len()
        )));
    }
    if c < 2 {
        return Err(Error::invalid("co_score needs at least two classes"));
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= c) {
        return Err(Error::invalid(format!(
            "co_score: label {bad} but only {c} classes"
        )));
    }
    let b = before.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let a = after.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    Ok((0..n)
        .map(|i| co_row(&b[i], &a[i], labels[i], output))
        .collect())
}

/// One sample's AX outcome for one method and mode.
#[derive(Clone, Debug, Serialize)]
pub struct AxRow {
    pub method: Method,
    pub mode: Mode,
    /// Position in the dataset.
    pub index: usize,
    pub id: String,
    pub label: usize,
    pub pred_before: usize,
    pub pred_after: usize,
    /// CO on raw logits.
    pub co: f64,
    pub co_softmax: f64,
    pub co_softmax_as_coded: f64,
    /// The method gave an all-zero heatmap (h = 0 then, or NaN in the compatibility mode).
    pub zero_map: bool,
    /// Maximum softmax probability before AX (the trivial correctness baseline).
    pub msp: f64,
    /// The label-free baselines of the other logits: the top-1 − top-2 logit margin before AX,
    /// and the maximum softmax and that margin after AX (NaN in CSVs older than these columns).
    pub margin: f64,
    pub msp_after: f64,
    pub margin_after: f64,
    /// The like-for-like baselines that, as CO, see the label: the label's logit minus the
    /// largest other logit, before and after AX. Positive exactly when the prediction is right,
    /// so their AUROC for "correct" is 1: what knowing the label alone gives away.
    pub label_margin: f64,
    pub label_margin_after: f64,
}

impl AxRow {
    pub fn correct_before(&self) -> bool {
        self.pred_before == self.label
    }
    pub fn correct_after(&self) -> bool {
        self.pred_after == self.label
    }
}

pub const HEADER: &str = "method,mode,index,id,label,pred_before,pred_after,correct_before,correct_after,co,co_softmax,co_softmax_as_coded,zero_map,msp,margin,msp_after,margin_after,label_margin,label_margin_after";

/// The columns of sweep CSVs written before the baselines of every meaning were recorded; they
/// are still read (those baselines NaN).
const HEADER_V1: &str = "method,mode,index,id,label,pred_before,pred_after,correct_before,correct_after,co,co_softmax,co_softmax_as_coded,zero_map,msp";

/// The baselines of one sample from its logits before and after AX.
pub struct Baselines {
    pub msp: f64,
    pub margin: f64,
    pub label_margin: f64,
}

impl Baselines {
    /// The maximum softmax probability, the top-1 − top-2 margin and the label's margin over the
    /// largest other logit (NaN for a NaN row).
    pub fn of(logits: &[f64], label: usize) -> Baselines {
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = logits.iter().map(|v| (v - max).exp()).sum();
        let mut sorted = logits.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let other = logits
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != label)
            .map(|(_, &v)| v)
            .fold(f64::NEG_INFINITY, f64::max);
        Baselines {
            msp: 1.0 / sum,
            margin: sorted[0] - sorted.get(1).copied().unwrap_or(f64::NAN),
            label_margin: logits[label] - other,
        }
    }
}

impl AxRow {
    pub fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.method,
            self.mode.name(),
            self.index,
            crate::io::csv_field(&self.id),
            self.label,
            self.pred_before,
            self.pred_after,
            self.correct_before() as u8,
            self.correct_after() as u8,
            self.co,
            self.co_softmax,
            self.co_softmax_as_coded,
            self.zero_map as u8,
            self.msp,
            self.margin,
            self.msp_after,
            self.margin_after,
            self.label_margin,
            self.label_margin_after
        )
    }
}

/// Every row of a sweep and what produced it.
#[derive(Clone, Debug, Serialize)]
pub struct AxTable {
    pub rows: Vec<AxRow>,
    pub class_names: Vec<String>,
    pub methods: Vec<Method>,
    pub modes: Vec<Mode>,
    /// `<dataset>_<model>`, the paper's row label.
    pub label: String,
    pub n_samples: usize,
    /// Caveats carried from the data (substitute splits…).
    pub notes: Vec<String>,
    /// A few samples' heatmaps for the report's gallery ([`gallery`]); empty unless asked for.
    #[serde(skip)]
    pub examples: Vec<Example>,
}

/// One sample of the report's gallery: its input and every method's normalised heatmap.
#[derive(Clone, Debug)]
pub struct Example {
    pub index: usize,
    pub id: String,
    pub label: usize,
    pub pred_before: usize,
    /// The sample's shape (without the batch axis) and values.
    pub dims: Vec<usize>,
    pub x: Vec<f64>,
    /// Per method, h = A / max|A| (the heatmap the AX process adds).
    pub heatmaps: Vec<(String, Vec<f64>)>,
}

/// Samples per group (correct, wrong) in a report's heatmap gallery.
pub const GALLERY_PER_GROUP: usize = 3;

/// The sweep's first `per_group` correctly and wrongly predicted samples (by index) with every
/// method's heatmap, recomputed for those few samples only (a sweep does not keep its
/// heatmaps: an ImageNet sweep's would not fit in memory).
pub fn gallery(
    model: &Model,
    ds: &Dataset,
    table: &AxTable,
    opts: &SweepOptions,
    per_group: usize,
) -> Result<Vec<Example>> {
    let mut seen = HashSet::new();
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for r in &table.rows {
        if !seen.insert(r.index) {
            continue;
        }
        let group = if r.pred_before == r.label {
            &mut right
        } else {
            &mut wrong
        };
        if group.len() < per_group {
            group.push((r.index, r.label, r.pred_before));
        }
    }
    let picked: Vec<(usize, usize, usize)> = right.into_iter().chain(wrong).collect();
    if picked.is_empty() {
        return Ok(vec![]);
    }
    let parts: Vec<Tensor> = picked
        .iter()
        .map(|&(i, _, _)| ds.batch(i, 1))
        .collect::<Result<_>>()?;
    let x = Tensor::cat(&parts, 0)?.to_dtype(model.dtype)?;
    let dims = x.dims()[1..].to_vec();
    let preds: Vec<usize> = picked.iter().map(|p| p.2).collect();
    let mut maps = Vec::new();
    for m in &opts.methods {
        let a = attr::attribute(
            model,
            &x,
            *m,
            &AttrOptions {
                target: Target::PerSample(preds.clone()),
                ..opts.attr.clone()
            },
        )?;
        // Only heatmaps of the input's shape can be shown over it (a layer-sized Grad-CAM map,
        // `upsample: false`, is left out).
        if a.dims() != x.dims() {
            continue;
        }
        let (h, _) = attr::normalize(&a)?;
        maps.push((
            m.name().to_string(),
            h.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?,
        ));
    }
    let xs = x.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let per = xs.len() / picked.len();
    Ok(picked
        .iter()
        .enumerate()
        .map(|(k, &(index, label, pred_before))| Example {
            index,
            id: ds.ids[index].clone(),
            label,
            pred_before,
            dims: dims.clone(),
            x: xs[k * per..(k + 1) * per].to_vec(),
            heatmaps: maps
                .iter()
                .map(|(m, h)| (m.clone(), h[k * per..(k + 1) * per].to_vec()))
                .collect(),
        })
        .collect())
}

/// Options of an AX sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub methods: Vec<Method>,
    pub modes: Vec<Mode>,
    pub batch: usize,
    /// Append rows here as they are computed; resume from the rows already there.
    pub csv: Option<PathBuf>,
    pub resume: bool,
    /// The authors' behaviour for all-zero heatmaps: h = NaN, prediction after = class 0,
    /// CO = NaN (reproduces Table 2 exactly); off by default (h = 0, counted).
    pub nan_compat: bool,
    /// The methods' options (the target is always the prediction).
    pub attr: AttrOptions,
    /// The sweep's name in tables and figures; empty: the model's architecture.
    pub label: String,
    /// Run only this shard's batches, writing them to the csv path tagged with the shard.
    pub shard: Option<crate::shard::Shard>,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            methods: Method::PAPER.to_vec(),
            modes: vec![Mode::Sum],
            batch: CHUNK,
            csv: None,
            resume: true,
            nan_compat: false,
            attr: AttrOptions::default(),
            label: String::new(),
            shard: crate::shard::current(),
        }
    }
}

/// The options of `attribute` a sweep takes (its target is the prediction, and NoiseTunnel is
/// not one of its methods).
const SWEEP_ATTR_KEYS: [&str; 10] = [
    "baseline",
    "layer",
    "layer_input",
    "relu",
    "upsample",
    "abs",
    "steps",
    "ig_method",
    "internal_batch",
    "chunk",
];

impl Options for SweepOptions {
    const KEYS: &'static [Key] = &[
        key(
            "methods",
            Kind::Texts,
            "\"all\"",
            "\"all\" (the paper's six), one method or an array of them",
        ),
        key(
            "modes",
            Kind::Texts,
            "[\"sum\"]",
            "how h enters: sum (x + h), mult (x ⊙ h), or both",
        ),
        key(
            "batch",
            Kind::Int,
            "256",
            "samples per forward/backward pass",
        ),
        key(
            "csv",
            Kind::Text,
            "none",
            "append rows to this file as they come; an interrupted sweep resumes from it",
        ),
        key(
            "resume",
            Kind::Bool,
            "true",
            "reuse the rows already in csv (false starts over)",
        ),
        key(
            "nan_compat",
            Kind::Bool,
            "false",
            "the authors' all-zero-heatmap behaviour (h = NaN, CO = NaN; Table 2 exactly)",
        ),
        key(
            "label",
            Kind::Text,
            "the model's architecture",
            "the sweep's name in tables and figures",
        ),
        key(
            "shard",
            Kind::Text,
            "the process's (--shard, job variables)",
            "\"i/n\" to run one shard's batches, \"none\" for all",
        ),
    ];

    fn keys() -> Vec<Key> {
        let attr = crate::options::only(AttrOptions::KEYS, &SWEEP_ATTR_KEYS);
        Self::KEYS.iter().copied().chain(attr).collect()
    }

    fn set(&mut self, k: &str, v: &Value) -> Result<()> {
        match k {
            "methods" => self.methods = Method::selection_of(&v.texts(k)?)?,
            "modes" => {
                self.modes = v
                    .texts(k)?
                    .iter()
                    .map(|m| Mode::parse(m))
                    .collect::<Result<_>>()?
            }
            "batch" => self.batch = v.usize(k)?,
            "csv" => self.csv = Some(PathBuf::from(v.text(k)?)),
            "resume" => self.resume = v.bool(k)?,
            "nan_compat" => self.nan_compat = v.bool(k)?,
            "label" => self.label = v.text(k)?,
            "shard" => self.shard = crate::shard::from_option(Some(&v.text(k)?))?,
            attr => self.attr.set(attr, v)?,
        }
        Ok(())
    }
}

/// One CSV row, every field checked: a known method and mode, integer positions and classes,
/// finite CO scores (NaN is written for all-zero heatmaps in the compatibility mode), 0/1 flags
/// that agree with the predictions.
fn parse_row(r: &::csv::StringRecord) -> std::result::Result<AxRow, String> {
    if r.len() != 14 && r.len() != 19 {
        return Err(format!(
            "{} fields, expected 19 (or 14 in older files)",
            r.len()
        ));
    }
    let p = |i: usize| r.get(i).unwrap_or("").trim();
    let int = |i: usize, what: &str| -> std::result::Result<usize, String> {
        p(i).parse::<usize>()
            .map_err(|_| format!("{what} '{}' is not a non-negative integer", p(i)))
    };
    let num = |i: usize, what: &str| -> std::result::Result<f64, String> {
        p(i).parse::<f64>()
            .map_err(|_| format!("{what} '{}' is not a number", p(i)))
            .and_then(|v| {
                if v.is_infinite() {
                    Err(format!("{what} '{}' is infinite", p(i)))
                } else {
                    Ok(v)
                }
            })
    };
    let flag = |i: usize, what: &str| -> std::result::Result<bool, String> {
        match p(i) {
            "0" => Ok(false),
            "1" => Ok(true),
            other => Err(format!("{what} '{other}' is not 0 or 1")),
        }
    };
    let row = AxRow {
        method: Method::parse(p(0)).map_err(|e| e.to_string())?,
        mode: Mode::parse(p(1)).map_err(|e| e.to_string())?,
        index: int(2, "index")?,
        id: p(3).to_string(),
        label: int(4, "label")?,
        pred_before: int(5, "pred_before")?,
        pred_after: int(6, "pred_after")?,
        co: num(9, "co")?,
        co_softmax: num(10, "co_softmax")?,
        co_softmax_as_coded: num(11, "co_softmax_as_coded")?,
        zero_map: flag(12, "zero_map")?,
        msp: num(13, "msp")?,
        margin: f64::NAN,
        msp_after: f64::NAN,
        margin_after: f64::NAN,
        label_margin: f64::NAN,
        label_margin_after: f64::NAN,
    };
    let row = if r.len() == 19 {
        AxRow {
            margin: num(14, "margin")?,
            msp_after: num(15, "msp_after")?,
            margin_after: num(16, "margin_after")?,
            label_margin: num(17, "label_margin")?,
            label_margin_after: num(18, "label_margin_after")?,
            ..row
        }
    } else {
        row
    };
    if flag(7, "correct_before")? != row.correct_before()
        || flag(8, "correct_after")? != row.correct_after()
    {
        return Err("the correct_* flags disagree with label and predictions".into());
    }
    if !(0.0..=1.0).contains(&row.msp) {
        return Err(format!("msp {} is not a probability", row.msp));
    }
    Ok(row)
}

/// What reading a sweep CSV found besides its rows.
#[derive(Clone, Debug, Default)]
pub struct ReadReport {
    /// (line, why) of rows left out.
    pub skipped: Vec<(usize, String)>,
    /// Repeated (method, mode, index) rows left out (the first is kept).
    pub duplicates: usize,
}

impl ReadReport {
    /// One sentence for the run's notes, when anything was left out.
    pub fn note(&self, path: &Path) -> Option<String> {
        if self.skipped.is_empty() && self.duplicates == 0 {
            return None;
        }
        let mut parts = Vec::new();
        if let Some((line, why)) = self.skipped.first() {
            parts.push(format!(
                "skipped {} unreadable line(s) (first: line {line}, {why})",
                self.skipped.len()
            ));
        }
        if self.duplicates > 0 {
            parts.push(format!("dropped {} repeated row(s)", self.duplicates));
        }
        Some(format!(
            "{}: {}; those rows are computed again",
            path.display(),
            parts.join(", ")
        ))
    }
}

fn open_sweep_csv(path: &Path) -> Result<::csv::Reader<std::fs::File>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::bad_file(path, "not a regular file"));
    }
    crate::limits::bytes(&path.display().to_string(), meta.len().saturating_mul(4))?;
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::bad_file(path, e.to_string()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::bad_file(path, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let columns = header.join(",");
    if columns != HEADER && columns != HEADER_V1 {
        return Err(Error::bad_file(
            path,
            "exists but is not an AX sweep CSV (different columns); choose another path or remove it",
        ));
    }
    Ok(rdr)
}

/// The rows of a sweep CSV being resumed: unreadable lines (one cut by an interruption, or
/// damaged) and repeated rows are left out, and said, while every valid row around them is
/// kept.
pub fn read_existing(path: &Path) -> Result<(Vec<AxRow>, ReadReport)> {
    let mut rdr = open_sweep_csv(path)?;
    let mut rows = Vec::new();
    let mut report = ReadReport::default();
    let mut seen: HashSet<(Method, Mode, usize)> = HashSet::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        if i % 4096 == 0 {
            crate::interrupt::check()?;
        }
        let parsed = rec.map_err(|e| e.to_string()).and_then(|r| parse_row(&r));
        match parsed {
            Ok(row) => {
                if seen.insert((row.method, row.mode, row.index)) {
                    rows.push(row);
                } else {
                    report.duplicates += 1;
                }
            }
            Err(why) => report.skipped.push((line, why)),
        }
    }
    Ok((rows, report))
}

/// Every row of a finished sweep CSV, each checked; any bad or repeated row, or a class outside
/// `classes` (when known), is an error naming its line.
pub fn read_strict(path: &Path, classes: Option<usize>) -> Result<Vec<AxRow>> {
    let mut rdr = open_sweep_csv(path)?;
    let mut rows = Vec::new();
    let mut seen: HashSet<(Method, Mode, usize)> = HashSet::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let bad = |msg: String| Error::Parse {
            path: path.into(),
            line,
            column: None,
            msg,
        };
        let row = rec
            .map_err(|e| e.to_string())
            .and_then(|r| parse_row(&r))
            .map_err(bad)?;
        if let Some(c) = classes {
            crate::classes::check(
                "label or prediction",
                &[row.label, row.pred_before, row.pred_after],
                c,
            )
            .map_err(|e| bad(e.to_string()))?;
        }
        if !seen.insert((row.method, row.mode, row.index)) {
            return Err(bad(format!(
                "a second row for {} {} sample {}",
                row.method,
                row.mode.name(),
                row.index
            )));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Run the AX process for every method × mode over a dataset.
pub fn ax_sweep(model: &Model, ds: &Dataset, opts: &SweepOptions) -> Result<AxTable> {
    if ds.is_empty() {
        return Err(Error::invalid("ax_sweep: the dataset is empty"));
    }
    if ds.class_names.len() != model.classes {
        return Err(Error::invalid(format!(
            "ax_sweep: the data has {} classes, the model {} outputs",
            ds.class_names.len(),
            model.classes
        )));
    }
    if opts.attr.upsample.is_none() && opts.methods.contains(&Method::LayerGradCam) {
        return Err(Error::invalid(
            "ax_sweep: upsample: false keeps Grad-CAM maps at the layer's size, which cannot be added to the input; use \"bilinear\" or \"nearest\"",
        ));
    }
    let batch = opts.batch.max(1);
    // The samples this process covers: all, or a shard's run of whole batches.
    let items = match opts.shard {
        Some(s) => s.items(ds.len(), batch),
        None => 0..ds.len(),
    };
    let csv_path = match (&opts.csv, opts.shard) {
        (Some(p), Some(s)) => Some(s.path(p)),
        (Some(p), None) => Some(p.clone()),
        (None, Some(s)) => {
            return Err(Error::invalid(format!(
                "ax_sweep: shard {s} needs a csv path to write its rows to (gaxsh merge joins the shards' files)"
            )));
        }
        (None, None) => None,
    };
    let mut rows: Vec<AxRow> = Vec::new();
    let mut resume_note = None;
    let mut writer = None;
    if let Some(path) = &csv_path {
        crate::io::ensure_parent(path)?;
        // Rows may only be resumed by the same model, data and settings: a fingerprint of them
        // sits beside the CSV, with the shard and the rows it will hold (for `gaxsh merge`).
        let stamp_file = stamp_path(path);
        let expected = items.len() * opts.methods.len() * opts.modes.len();
        let stamp = Stamp {
            fingerprint: fingerprint(model, ds, opts)?,
            shard: opts.shard.map(|s| (s, items.clone())),
            rows: expected,
        }
        .to_string();
        if path.exists() && opts.resume {
            let old = std::fs::read_to_string(&stamp_file).unwrap_or_default();
            if old.trim() != stamp.trim() {
                return Err(Error::bad_file(
                    path,
                    "holds rows from a different model, dataset or sweep settings, so it cannot be resumed; remove it, choose another csv path, or pass resume: false to start over",
                ));
            }
            let (kept, report) = read_existing(path)?;
            rows = kept;
            resume_note = report.note(path);
            // Rewrite the file from the rows that parsed; the rest are computed again.
            let mut text = String::from(HEADER);
            text.push('\n');
            for r in &rows {
                text.push_str(&r.csv_line());
                text.push('\n');
            }
            crate::io::write_atomic(path, text.as_bytes())?;
        } else {
            crate::io::write_atomic(path, format!("{HEADER}\n").as_bytes())?;
        }
        crate::io::write_atomic(&stamp_file, stamp.as_bytes())?;
        writer = Some(
            std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?,
        );
    }
    let done: HashSet<(Method, Mode, usize)> =
        rows.iter().map(|r| (r.method, r.mode, r.index)).collect();
    let n_batches = ds.len().div_ceil(batch);
    let my_batches: Vec<usize> = (items.start / batch..items.end.div_ceil(batch)).collect();
    let task = Task::start("AX sweep", (my_batches.len() * opts.methods.len()) as u64);
    let mut step = 0u64;
    // With several compute threads, batches run side by side (each is independent and computed
    // exactly as alone); their rows are written in batch order, as a one-thread run writes them.
    let window = crate::threads::current().max(1);
    for group in my_batches.chunks(window) {
        crate::interrupt::check()?;
        let computed: Vec<Result<Vec<Vec<AxRow>>>> = if group.len() > 1 {
            use rayon::prelude::*;
            group
                .par_iter()
                .map(|&bi| sweep_batch(model, ds, opts, bi, &done))
                .collect()
        } else {
            group
                .iter()
                .map(|&bi| sweep_batch(model, ds, opts, bi, &done))
                .collect()
        };
        for (&bi, per_method) in group.iter().zip(computed) {
            let mut out = String::new();
            for (method, new_rows) in opts.methods.iter().zip(per_method?) {
                step += 1;
                for row in new_rows {
                    out.push_str(&row.csv_line());
                    out.push('\n');
                    rows.push(row);
                }
                task.update(
                    step,
                    &format!("batch {}/{n_batches}, {}", bi + 1, method.name()),
                );
            }
            if let (Some(w), Some(path)) = (writer.as_mut(), &csv_path) {
                w.write_all(out.as_bytes())
                    .and_then(|_| w.flush())
                    .map_err(|e| Error::io(path, e))?;
            }
        }
    }
    // Rows in a stable order (method, mode, index), whatever order a resumed run produced.
    let method_rank = |m: &Method| {
        opts.methods
            .iter()
            .position(|x| x == m)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(|r| {
        (
            method_rank(&r.method),
            opts.modes.iter().position(|&m| m == r.mode).unwrap_or(0),
            r.index,
        )
    });
    Ok(AxTable {
        rows,
        class_names: ds.class_names.clone(),
        methods: opts.methods.clone(),
        modes: opts.modes.clone(),
        label: if opts.label.is_empty() {
            model.arch.name()
        } else {
            opts.label.clone()
        },
        n_samples: items.len(),
        notes: ds
            .provenance
            .notes
            .iter()
            .cloned()
            .chain(resume_note)
            .collect(),
        examples: vec![],
    })
}

/// One batch of a sweep: per method, the rows not already done (for every mode).
fn sweep_batch(
    model: &Model,
    ds: &Dataset,
    opts: &SweepOptions,
    bi: usize,
    done: &HashSet<(Method, Mode, usize)>,
) -> Result<Vec<Vec<AxRow>>> {
    let batch = opts.batch.max(1);
    let start = bi * batch;
    let len = batch.min(ds.len() - start);
    let todo =
        |m: &Method, mode: Mode| (start..start + len).any(|i| !done.contains(&(*m, mode, i)));
    let mut per_method: Vec<Vec<AxRow>> = vec![Vec::new(); opts.methods.len()];
    if !opts
        .methods
        .iter()
        .any(|m| opts.modes.iter().any(|&md| todo(m, md)))
    {
        return Ok(per_method);
    }
    let x = ds.batch(start, len)?.to_dtype(model.dtype)?;
    let labels = &ds.y[start..start + len];
    // The first method's own forward pass gives the logits before AX (and with them the
    // predictions it explains), saving the model one forward pass per batch.
    let pending = |m: &Method| opts.modes.iter().any(|&md| todo(m, md));
    let mut first: Option<(usize, Tensor)> = None;
    let mut before = None;
    if matches!(opts.attr.target, Target::Predicted)
        && let Some(mi) = opts
            .methods
            .iter()
            .position(|m| pending(m) && *m != Method::IntegratedGradients)
    {
        let a = attr::attribute_with_logits(model, &x, opts.methods[mi], &opts.attr)?;
        before = a.logits;
        first = Some((mi, a.heatmaps));
    }
    let before = match before {
        Some(b) => b,
        None => model.logits(&x, batch)?,
    };
    let pred_before: Vec<usize> = before
        .argmax(1)?
        .to_vec1::<u32>()?
        .into_iter()
        .map(|v| v as usize)
        .collect();
    let b64 = before.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let base: Vec<Baselines> = b64
        .iter()
        .zip(labels)
        .map(|(l, &y)| Baselines::of(l, y))
        .collect();
    for (mi, method) in opts.methods.iter().enumerate() {
        if !pending(method) {
            continue;
        }
        crate::interrupt::check()?;
        let a = match first.take_if(|(i, _)| *i == mi) {
            Some((_, heatmaps)) => heatmaps,
            None => attr::attribute(
                model,
                &x,
                *method,
                &AttrOptions {
                    target: Target::PerSample(pred_before.clone()),
                    ..opts.attr.clone()
                },
            )?,
        };
        let (h, _) = attr::normalize(&a)?;
        let zero: Vec<bool> = a
            .reshape((len, ()))?
            .abs()?
            .max(1)?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?
            .iter()
            .map(|&m| m == 0.0)
            .collect();
        let h = if opts.nan_compat && zero.iter().any(|&z| z) {
            let mask = Tensor::from_vec(
                zero.iter()
                    .map(|&z| if z { f64::NAN } else { 0.0 })
                    .collect::<Vec<_>>(),
                len,
                x.device(),
            )?
            .to_dtype(h.dtype())?;
            let mut shape = vec![1usize; h.rank()];
            shape[0] = len;
            h.broadcast_add(&mask.reshape(shape)?)?
        } else {
            h
        };
        for &mode in &opts.modes {
            let after = model.logits(&mode.apply(&x, &h)?, batch)?;
            let a64 = after.to_dtype(DType::F64)?.to_vec2::<f64>()?;
            for i in 0..len {
                if done.contains(&(*method, mode, start + i)) {
                    continue;
                }
                // torch.argmax of an all-NaN row is 0 (the authors' counting, §8.4).
                let pa = if a64[i].iter().any(|v| v.is_nan()) {
                    0
                } else {
                    argmax(&a64[i])
                };
                let after_base = Baselines::of(&a64[i], labels[i]);
                per_method[mi].push(AxRow {
                    method: *method,
                    mode,
                    index: start + i,
                    id: ds.ids[start + i].clone(),
                    label: labels[i],
                    pred_before: pred_before[i],
                    pred_after: pa,
                    co: co_row(&b64[i], &a64[i], labels[i], Output::Raw),
                    co_softmax: co_row(&b64[i], &a64[i], labels[i], Output::Softmax),
                    co_softmax_as_coded: co_row(
                        &b64[i],
                        &a64[i],
                        labels[i],
                        Output::SoftmaxAsCoded,
                    ),
                    zero_map: zero[i],
                    msp: base[i].msp,
                    margin: base[i].margin,
                    msp_after: after_base.msp,
                    margin_after: after_base.margin,
                    label_margin: base[i].label_margin,
                    label_margin_after: after_base.label_margin,
                });
            }
        }
    }
    Ok(per_method)
}

/// The file beside a sweep CSV that says what produced it (`co.csv.run`).
pub fn stamp_path(csv: &Path) -> PathBuf {
    csv.with_file_name(format!(
        "{}.run",
        csv.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ))
}

/// What a sweep CSV holds: a fingerprint of the model, data and settings, the shard and its
/// samples (if sharded), and how many rows the finished file has.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamp {
    pub fingerprint: String,
    pub shard: Option<(crate::shard::Shard, std::ops::Range<usize>)>,
    pub rows: usize,
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.fingerprint)?;
        match &self.shard {
            Some((s, r)) => writeln!(f, "shard: {s} samples {}..{}", r.start, r.end)?,
            None => writeln!(f, "shard: none")?,
        }
        writeln!(f, "rows: {}", self.rows)
    }
}

impl Stamp {
    pub fn read(csv: &Path) -> Result<Stamp> {
        let path = stamp_path(csv);
        let text = crate::limits::read_text(&path)?;
        let bad = || Error::bad_file(&path, "not a sweep stamp (fingerprint, shard, rows)");
        let mut lines = text.lines();
        let fingerprint = lines.next().ok_or_else(bad)?.trim().to_string();
        let shard_line = lines
            .next()
            .and_then(|l| l.strip_prefix("shard: "))
            .ok_or_else(bad)?;
        let shard = if shard_line == "none" {
            None
        } else {
            let (s, r) = shard_line.split_once(" samples ").ok_or_else(bad)?;
            let (a, b) = r.split_once("..").ok_or_else(bad)?;
            Some((
                crate::shard::Shard::parse(s)?,
                a.parse().map_err(|_| bad())?..b.parse().map_err(|_| bad())?,
            ))
        };
        let rows = lines
            .next()
            .and_then(|l| l.strip_prefix("rows: "))
            .and_then(|r| r.parse().ok())
            .ok_or_else(bad)?;
        Ok(Stamp {
            fingerprint,
            shard,
            rows,
        })
    }
}

/// A fingerprint of what a sweep's rows depend on: the weights, the samples and the settings.
fn fingerprint(model: &Model, ds: &Dataset, opts: &SweepOptions) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for e in &model.params.entries {
        e.name.hash(&mut h);
        for v in e
            .var
            .as_tensor()
            .flatten_all()?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?
        {
            v.to_bits().hash(&mut h);
        }
    }
    ds.ids.hash(&mut h);
    ds.y.hash(&mut h);
    format!("{:?}", ds.transform).hash(&mut h);
    for m in &opts.methods {
        m.name().hash(&mut h);
    }
    opts.modes.hash(&mut h);
    (opts.batch, opts.nan_compat, format!("{:?}", opts.attr)).hash(&mut h);
    Ok(format!("{} {:016x}", model.arch.name(), h.finish()))
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Accuracy before and after AX, per mode and method: the paper's Table 2 layout.
#[derive(Clone, Debug, Serialize)]
pub struct AccuracyRow {
    pub mode: Mode,
    /// The model alone, before AX.
    pub baseline: Accuracy,
    /// Per method, after AX.
    pub methods: Vec<MethodAccuracy>,
}

/// How many of a sweep's samples a model classifies correctly, and the fraction.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Accuracy {
    pub correct: usize,
    pub fraction: f64,
}

/// One method's column of the accuracy table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MethodAccuracy {
    pub method: Method,
    /// Correct after AX.
    pub after: Accuracy,
    /// Samples whose heatmap is all zero (x + h = x for them).
    pub zero_maps: usize,
}

impl AxTable {
    /// The sweep's method called `name`, or an error naming the sweep's methods.
    pub fn method_named(&self, name: &str) -> Result<Method> {
        match Method::parse(name) {
            Ok(m) if self.methods.contains(&m) => Ok(m),
            _ => Err(Error::UnknownName {
                what: "method in this sweep",
                name: name.into(),
                valid: self.methods.iter().map(|m| m.to_string()).collect(),
            }),
        }
    }

    /// The CO scores of one method and mode, in sample order.
    pub fn co(&self, method: &str, mode: Mode) -> Result<Vec<f64>> {
        let method = self.method_named(method)?;
        Ok(self.rows_of(method, mode).map(|r| r.co).collect())
    }

    pub fn rows_of(&self, method: Method, mode: Mode) -> impl Iterator<Item = &AxRow> + '_ {
        self.rows
            .iter()
            .filter(move |r| r.method == method && r.mode == mode)
    }

    pub fn accuracy(&self) -> Vec<AccuracyRow> {
        self.modes
            .iter()
            .map(|&mode| {
                let first = self
                    .methods
                    .first()
                    .map(|&m| self.rows_of(m, mode).collect::<Vec<_>>())
                    .unwrap_or_default();
                let n = first.len().max(1);
                let base = first.iter().filter(|r| r.correct_before()).count();
                let methods = self
                    .methods
                    .iter()
                    .map(|&m| {
                        let rows: Vec<&AxRow> = self.rows_of(m, mode).collect();
                        let correct = rows.iter().filter(|r| r.correct_after()).count();
                        MethodAccuracy {
                            method: m,
                            after: Accuracy {
                                correct,
                                fraction: correct as f64 / rows.len().max(1) as f64,
                            },
                            zero_maps: rows.iter().filter(|r| r.zero_map).count(),
                        }
                    })
                    .collect();
                AccuracyRow {
                    mode,
                    baseline: Accuracy {
                        correct: base,
                        fraction: base as f64 / n as f64,
                    },
                    methods,
                }
            })
            .collect()
    }

    /// The accuracy table as text: one line per mode, the paper's column order.
    pub fn accuracy_text(&self) -> String {
        let mut s = format!(
            "accuracy before / after AX ({}, N = {})\n",
            if self.label.is_empty() {
                "sweep"
            } else {
                &self.label
            },
            self.n_samples
        );
        let mut header = format!("{:<6} {:>9}", "mode", "Baseline");
        for m in &self.methods {
            header.push_str(&format!(" {:>14}", m));
        }
        s.push_str(&header);
        s.push('\n');
        for a in self.accuracy() {
            let mut line = format!("{:<6} {:>9.4}", a.mode.name(), a.baseline.fraction);
            for acc in a.methods.iter().map(|m| m.after.fraction) {
                line.push_str(&format!(" {acc:>14.4}"));
            }
            s.push_str(&line);
            s.push('\n');
        }
        let zeros: Vec<String> = self
            .accuracy()
            .iter()
            .flat_map(|a| {
                a.methods
                    .iter()
                    .filter(|m| m.zero_maps > 0)
                    .map(move |m| format!("{} {} ({})", m.method, m.zero_maps, a.mode.name()))
            })
            .collect();
        if !zeros.is_empty() {
            s.push_str(&format!(
                "all-zero heatmaps (h = 0): {}\n",
                zeros.join(", ")
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s.trim_end().to_string()
    }

    /// Write all rows to a CSV (atomically).
    pub fn save_csv(&self, path: &Path) -> Result<()> {
        let mut text = String::from(HEADER);
        text.push('\n');
        for r in &self.rows {
            text.push_str(&r.csv_line());
            text.push('\n');
        }
        crate::io::write_atomic(path, text.as_bytes())
    }

    /// Read a sweep CSV back (for plots, gap statistics, merging shards).
    pub fn load_csv(path: &Path, class_names: Vec<String>) -> Result<AxTable> {
        let rows = read_strict(path, Some(class_names.len()))?;
        let mut methods: Vec<Method> = Vec::new();
        let mut modes: Vec<Mode> = Vec::new();
        for r in &rows {
            if !methods.contains(&r.method) {
                methods.push(r.method);
            }
            if !modes.contains(&r.mode) {
                modes.push(r.mode);
            }
        }
        let n_samples = rows.iter().map(|r| r.index + 1).max().unwrap_or(0);
        Ok(AxTable {
            rows,
            class_names,
            methods,
            modes,
            label: String::new(),
            n_samples,
            notes: vec![],
            examples: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn co_identities() {
        let b = [1.0, 2.0, 3.0];
        // h = 0: no change, CO = 0.
        assert_eq!(co_row(&b, &b, 1, Output::Raw), 0.0);
        // κ sums to 0: a uniform logit shift gives 0.
        let shifted: Vec<f64> = b.iter().map(|v| v + 5.0).collect();
        assert!(co_row(&b, &shifted, 2, Output::Raw).abs() < 1e-12);
        // C = 2: Δy[y0] − Δy[other].
        assert_eq!(co_row(&[0.0, 0.0], &[3.0, 1.0], 0, Output::Raw), 2.0);
        // Softmax of a uniform shift is unchanged; the coded form compares with raw logits.
        assert!(co_row(&b, &shifted, 0, Output::Softmax).abs() < 1e-12);
        assert!(co_row(&b, &b, 0, Output::SoftmaxAsCoded).abs() > 0.5);
    }
}
