//! GAX: optimise a heatmap h = tanh(w ⊙ x + b) so that feeding it back (x + h, or x ⊙ h) pushes
//! the CO score past a target (METHOD.md §5, with the project defaults at its end).
//!
//! Each sample has its own w (init 1) and b (init 0.01; `bias: false` is the ImageNet variant),
//! optimised by Adam (lr 0.1, betas (0.9, 0.999)) on
//!   loss = −CO + l_s / S,  S = mean((h − x + ε)² / (x + ε)),  l_s = 100, ε = 1e-4,
//! with |x| + ε in the denominator when inputs can be negative (standardised tables), where the
//! paper's x + ε is meaningless. All samples run in one batch (Adam is elementwise, so this equals
//! optimising them one by one); each stops on its own once its CO exceeds the target, or at the
//! step cap. Score k and heatmap frame k belong together (frame k is the h whose CO is score k).
//! Ctrl-C returns what was computed so far, marked interrupted.

use crate::ax::Mode;
use crate::error::{Error, Result};
use crate::nn::{Model, Pass, Rule};
use crate::options::{Key, Kind, Value, key};
use crate::progress::Task;
use candle_core::{DType, Device, Tensor, Var};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

mod ops;
pub mod toy;

/// The columns of `gax_scores.csv`.
pub const SCORES_HEADER: &str = "sample,id,label,target,step,co,reached";
/// In a shard's folder: which samples of how many it holds.
pub const SHARD_FILE: &str = "gax_shard.txt";
use ops::{AdamState, Generator, Similarity};
use serde::Serialize;
use std::path::Path;

#[derive(Clone, Debug, Serialize)]
pub struct GaxOptions {
    pub mode: Mode,
    pub target_co: f64,
    pub max_steps: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// l_s; 0 switches the similarity term off.
    pub similarity: f64,
    /// ε of the similarity term.
    pub epsilon: f64,
    /// Divide by |x| + ε (None: when any input is negative).
    pub abs_denominator: Option<bool>,
    pub bias: bool,
    pub w_init: f64,
    pub b_init: f64,
    /// Keep a heatmap frame every this many steps (the last scored step is always kept).
    pub frame_every: usize,
    /// At most this many frames per sample (0: fit 256 MiB); beyond it every other frame is
    /// dropped and the interval doubles, so memory stays bounded on long runs.
    pub max_frames: usize,
    /// Samples optimised together.
    pub batch: usize,
    /// The class whose CO is pushed (resolved by the caller: `gax` takes the targets).
    #[serde(skip)]
    pub target: crate::attr::Target,
    /// Optimise only this shard's samples (the process's by default).
    #[serde(skip)]
    pub shard: Option<crate::shard::Shard>,
}

impl Default for GaxOptions {
    fn default() -> Self {
        GaxOptions {
            mode: Mode::Sum,
            target_co: 48.0,
            max_steps: 500,
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            similarity: 100.0,
            epsilon: 1e-4,
            abs_denominator: None,
            bias: true,
            w_init: 1.0,
            b_init: 0.01,
            frame_every: 1,
            max_frames: 0,
            batch: 64,
            target: crate::attr::Target::Predicted,
            shard: crate::shard::current(),
        }
    }
}

impl crate::options::Options for GaxOptions {
    const KEYS: &'static [Key] = &[
        key(
            "target_co",
            Kind::Float,
            "48",
            "stop a sample once its CO exceeds this",
        ),
        key(
            "max_steps",
            Kind::Int,
            "500",
            "at most this many Adam steps",
        ),
        key(
            "steps",
            Kind::Int,
            "none",
            "run exactly this many steps with no target (the CO trajectory is the result)",
        ),
        key("lr", Kind::Float, "0.1", "Adam's learning rate"),
        key("betas", Kind::Floats, "[0.9, 0.999]", "Adam's β1, β2"),
        key(
            "mode",
            Kind::Text,
            "\"sum\"",
            "how h enters: sum (x + h) or mult (x ⊙ h)",
        ),
        key(
            "similarity",
            Kind::Float,
            "100",
            "l_s of the similarity term l_s/S (0 switches it off)",
        ),
        key(
            "epsilon",
            Kind::Float,
            "1e-4",
            "ε of the similarity term's denominators",
        ),
        key(
            "abs",
            Kind::Bool,
            "when any input is negative",
            "divide by |x| + ε",
        ),
        key(
            "bias",
            Kind::Bool,
            "true",
            "h = tanh(w·x + b); false drops b (the ImageNet variant)",
        ),
        key("w_init", Kind::Float, "1", "initial w"),
        key("b_init", Kind::Float, "0.01", "initial b"),
        key(
            "frame_every",
            Kind::Int,
            "1",
            "keep a heatmap frame every this many steps",
        ),
        key(
            "max_frames",
            Kind::Int,
            "0 (what fits 256 MiB)",
            "at most this many frames per sample; beyond it every other frame is dropped",
        ),
        key("batch", Kind::Int, "64", "samples optimised together"),
        key(
            "target",
            Kind::Texts,
            "\"pred\"",
            "the class whose CO is pushed: \"pred\", \"label\" (a dataset's labels) or class indices",
        ),
        key(
            "shard",
            Kind::Text,
            "the process's (--shard, job variables)",
            "\"i/n\" to optimise one shard's samples, \"none\" for all",
        ),
    ];

    fn set(&mut self, k: &str, v: &Value) -> Result<()> {
        match k {
            "target_co" => self.target_co = v.f64(k)?,
            "max_steps" => self.max_steps = v.usize(k)?,
            "steps" => (self.max_steps, self.target_co) = (v.usize(k)?, f64::INFINITY),
            "lr" => self.lr = v.f64(k)?,
            "betas" => match v.f64s(k)?[..] {
                [b1, b2] => (self.beta1, self.beta2) = (b1, b2),
                _ => return Err(Error::invalid("option 'betas' is [beta1, beta2]")),
            },
            "mode" => self.mode = Mode::parse(&v.text(k)?)?,
            "similarity" => self.similarity = v.f64(k)?,
            "epsilon" => self.epsilon = v.f64(k)?,
            "abs" => self.abs_denominator = Some(v.bool(k)?),
            "bias" => self.bias = v.bool(k)?,
            "w_init" => self.w_init = v.f64(k)?,
            "b_init" => self.b_init = v.f64(k)?,
            "frame_every" => self.frame_every = v.usize(k)?,
            "max_frames" => self.max_frames = v.usize(k)?,
            "batch" => self.batch = v.usize(k)?,
            "target" => {
                self.target =
                    crate::attr::Target::from_value(&crate::options::Given { key: k, value: v })?
            }
            "shard" => self.shard = crate::shard::from_option(Some(&v.text(k)?))?,
            _ => return Err(crate::options::unknown_key("gax", k, Self::KEYS)),
        }
        Ok(())
    }
}

/// The outcome for every sample.
#[derive(Clone, Debug)]
pub struct GaxResult {
    pub ids: Vec<String>,
    pub labels: Vec<usize>,
    /// The class each CO score is built for (the prediction, unless told otherwise).
    pub targets: Vec<usize>,
    /// CO score per step, per sample.
    pub scores: Vec<Vec<f64>>,
    /// The loss −CO + l_s/S per step, per sample (−CO when the similarity term is off).
    pub losses: Vec<Vec<f64>>,
    /// The similarity term S per step, per sample (empty when it is off).
    pub similarity_terms: Vec<Vec<f64>>,
    /// The index of the first score above the target, if reached.
    pub steps_to_target: Vec<Option<usize>>,
    /// The samples x themselves (N, …, in the model's dtype): the report shows each beside its
    /// heatmaps.
    pub inputs: Tensor,
    /// The heatmap of each sample's last score (N, …).
    pub heatmaps: Tensor,
    /// Each sample's heatmap after its last Adam update, tanh(w·x + b) with the final w and b:
    /// what the next step would have scored (N, …; zeros for a sample an interrupt cut short).
    pub updated: Tensor,
    /// (step, heatmap) frames per sample.
    pub frames: Vec<Vec<(usize, Tensor)>>,
    pub interrupted: bool,
    pub options: GaxOptions,
    /// "x + eps" or "|x| + eps".
    pub denominator: String,
    pub seconds: f64,
    /// Set when this is one shard of a larger run (its samples are numbered run-wide).
    pub part: Option<ShardPart>,
    /// The largest CO any input can reach for the run's targets, where the architecture bounds
    /// it ([`co_ceiling`]).
    pub ceiling: Option<f64>,
}

/// Frames kept per sample when `max_frames` is 0: what fits 256 MiB for `n` samples of
/// `per_sample` values. (A shard asks with the whole run's `n`, so it keeps the same frames.)
pub fn frame_budget(per_sample: usize, dtype: DType, n: usize) -> usize {
    let bytes = per_sample * dtype.size_in_bytes() * n.max(1);
    (256 * 1024 * 1024 / bytes.max(1)).clamp(2, 512)
}

/// The part of a sharded GAX run a result holds.
#[derive(Clone, Copy, Debug)]
pub struct ShardPart {
    pub shard: crate::shard::Shard,
    /// The run-wide index of this part's first sample.
    pub first: usize,
    /// Samples in the whole run.
    pub total: usize,
}

impl ShardPart {
    /// The part of a GAX run over `n` samples that `shard` optimises (whole batches, so every
    /// number is the unsharded run's), or `None` unsharded. A shard sets the frame budget the
    /// whole run would have, so merged shards keep the same frames.
    pub fn plan(
        shard: Option<crate::shard::Shard>,
        n: usize,
        opts: &mut GaxOptions,
        per_sample: usize,
        dtype: DType,
    ) -> Result<Option<ShardPart>> {
        let Some(shard) = shard else {
            return Ok(None);
        };
        let items = shard.items(n, opts.batch);
        if items.is_empty() {
            return Err(Error::invalid(format!(
                "gax: shard {shard} gets no samples ({n} samples in batches of {} over {} shards); use fewer shards",
                opts.batch, shard.count
            )));
        }
        if opts.max_frames == 0 {
            opts.max_frames = frame_budget(per_sample, dtype, n);
        }
        Ok(Some(ShardPart {
            shard,
            first: items.start,
            total: n,
        }))
    }

    /// The run-wide indices of the samples this part holds.
    pub fn range(&self, batch: usize) -> std::ops::Range<usize> {
        let len = self.shard.items(self.total, batch).len();
        self.first..self.first + len
    }
}

/// Where the samples of a GAX run come from.
pub enum Samples<'a> {
    /// A dataset: its labels, ids, and only the shard's samples loaded.
    Dataset(&'a crate::data::Dataset),
    /// A batch of inputs: no labels (the predictions stand in), ids "0", "1", ….
    Batch(&'a Tensor),
}

/// GAX over `samples` as `opts` says: the target resolved (`"label"` needs a dataset), the
/// process's shard alone when sharded (its frame budget planned for the whole run).
pub fn gax_samples(model: &Model, samples: Samples, opts: &GaxOptions) -> Result<GaxResult> {
    let mut opts = opts.clone();
    let (n, per_sample) = match &samples {
        Samples::Dataset(d) => (d.len(), d.sample_shape().iter().product()),
        Samples::Batch(x) => {
            let n = x.dim(0)?;
            (n, x.elem_count() / n.max(1))
        }
    };
    let part = ShardPart::plan(opts.shard, n, &mut opts, per_sample, model.dtype)?;
    let range = match &part {
        Some(p) => p.range(opts.batch),
        None => 0..n,
    };
    let (x, labels, ids) = match samples {
        Samples::Dataset(d) => (
            d.batch(range.start, range.len())?,
            Some(d.y[range.clone()].to_vec()),
            d.ids[range].to_vec(),
        ),
        Samples::Batch(x) => (
            x.narrow(0, range.start, range.len())?,
            None,
            range.map(|i| i.to_string()).collect(),
        ),
    };
    let target = opts.target.with_labels(labels.as_deref())?;
    let targets = crate::attr::resolve_targets(model, &x, &target)?;
    let labels = match labels {
        Some(l) => l,
        None => model.predict(&x, crate::nn::CHUNK)?,
    };
    let mut g = gax(model, &x, &targets, &labels, &ids, &opts)?;
    g.part = part;
    Ok(g)
}

/// κ rows: 1 at the target, −1/(C−1) elsewhere.
fn kappa(targets: &[usize], classes: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let off = -1.0 / (classes as f64 - 1.0);
    let mut v = vec![off; targets.len() * classes];
    for (i, &t) in targets.iter().enumerate() {
        v[i * classes + t] = 1.0;
    }
    Ok(Tensor::from_vec(v, (targets.len(), classes), device)?.to_dtype(dtype)?)
}

/// Run GAX on a batch of samples. `targets` are the classes CO is built for.
pub fn gax(
    model: &Model,
    x: &Tensor,
    targets: &[usize],
    labels: &[usize],
    ids: &[String],
    opts: &GaxOptions,
) -> Result<GaxResult> {
    let started = std::time::Instant::now();
    let n = x.dim(0)?;
    if targets.len() != n || labels.len() != n || ids.len() != n {
        return Err(Error::invalid(
            "gax: targets, labels and ids must have one entry per sample",
        ));
    }
    if model.classes < 2 {
        return Err(Error::invalid(
            "gax needs a model with at least two classes",
        ));
    }
    crate::classes::check("gax target", targets, model.classes)?;
    let x = x.to_dtype(model.dtype)?;
    let negative = x.min_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()? < 0.0;
    let use_abs = opts.abs_denominator.unwrap_or(negative);
    let per_sample = x.elem_count() / n.max(1);
    let max_frames = if opts.max_frames > 0 {
        opts.max_frames
    } else {
        frame_budget(per_sample, x.dtype(), n)
    };
    let mut result = GaxResult {
        ids: ids.to_vec(),
        labels: labels.to_vec(),
        targets: targets.to_vec(),
        scores: vec![Vec::new(); n],
        losses: vec![Vec::new(); n],
        similarity_terms: vec![Vec::new(); n],
        steps_to_target: vec![None; n],
        inputs: x.clone(),
        heatmaps: x.zeros_like()?,
        updated: x.zeros_like()?,
        frames: vec![Vec::new(); n],
        interrupted: false,
        options: opts.clone(),
        denominator: if use_abs {
            "|x| + eps".into()
        } else {
            "x + eps".into()
        },
        seconds: 0.0,
        part: None,
        ceiling: co_ceiling(model).ok().map(|c| {
            targets
                .iter()
                .filter_map(|&t| c.get(t).copied())
                .fold(f64::NEG_INFINITY, f64::max)
        }),
    };
    let task = Task::start("GAX", (n * opts.max_steps) as u64);
    let batch = opts.batch.max(1);
    let progress = Progress {
        task: &task,
        steps: AtomicU64::new(0),
        reached: AtomicUsize::new(0),
        n,
        target: opts.target_co,
    };
    let run = Run {
        model,
        x: &x,
        targets,
        opts,
        per_sample,
        use_abs,
        max_frames,
        progress: &progress,
    };
    // Chunks of samples are independent; with several compute threads they run side by side,
    // each computed exactly as alone.
    let chunks: Vec<(usize, usize)> = (0..n)
        .step_by(batch)
        .map(|c0| (c0, (c0 + batch).min(n)))
        .collect();
    let window = crate::threads::current().max(1);
    let mut finals: Vec<Option<Tensor>> = vec![None; n];
    let mut updated: Vec<Option<Tensor>> = vec![None; n];
    for group in chunks.chunks(window) {
        let outcomes: Vec<Result<Chunk>> = if group.len() > 1 {
            use rayon::prelude::*;
            group
                .par_iter()
                .map(|&(c0, c1)| run.chunk(c0, c1))
                .collect()
        } else {
            group.iter().map(|&(c0, c1)| run.chunk(c0, c1)).collect()
        };
        for (&(c0, _), outcome) in group.iter().zip(outcomes) {
            let chunk = outcome?;
            result.interrupted |= chunk.interrupted;
            let per_sample = chunk
                .scores
                .into_iter()
                .zip(chunk.steps_to_target)
                .zip(chunk.frames.into_iter().zip(chunk.finals));
            let traces = chunk
                .losses
                .into_iter()
                .zip(chunk.similarity_terms)
                .zip(chunk.updated);
            for (j, ((losses, sims), after)) in traces.enumerate() {
                result.losses[c0 + j] = losses;
                result.similarity_terms[c0 + j] = sims;
                updated[c0 + j] = after;
            }
            for (j, ((scores, reached), (frames, last))) in per_sample.enumerate() {
                result.scores[c0 + j] = scores;
                result.steps_to_target[c0 + j] = reached;
                result.frames[c0 + j] = frames;
                finals[c0 + j] = last;
            }
        }
        if result.interrupted {
            break;
        }
    }
    let zero = x.get(0)?.zeros_like()?;
    let stack = |v: Vec<Option<Tensor>>| -> Result<Tensor> {
        let hs: Vec<Tensor> = v
            .into_iter()
            .map(|f| f.unwrap_or_else(|| zero.clone()))
            .collect();
        Ok(Tensor::stack(&hs, 0)?)
    };
    result.heatmaps = stack(finals)?;
    result.updated = stack(updated)?;
    result.seconds = started.elapsed().as_secs_f64();
    Ok(result)
}

/// A result for samples `c0..c1` of a run, indexed from 0.
struct Chunk {
    scores: Vec<Vec<f64>>,
    losses: Vec<Vec<f64>>,
    similarity_terms: Vec<Vec<f64>>,
    updated: Vec<Option<Tensor>>,
    steps_to_target: Vec<Option<usize>>,
    frames: Vec<Vec<(usize, Tensor)>>,
    finals: Vec<Option<Tensor>>,
    interrupted: bool,
}

/// Progress shared by the chunks of a run.
struct Progress<'a> {
    task: &'a Task,
    steps: AtomicU64,
    reached: AtomicUsize,
    n: usize,
    target: f64,
}

impl Progress<'_> {
    fn advance(&self, rows: usize) {
        let done = self.steps.fetch_add(rows as u64, Ordering::Relaxed) + rows as u64;
        let reached = self.reached.load(Ordering::Relaxed);
        let note = if self.target == f64::INFINITY {
            format!("{} samples, no target", self.n)
        } else {
            format!("{reached}/{} past CO {}", self.n, self.target)
        };
        self.task.update(done, &note);
    }
}

/// What every chunk of a run shares.
struct Run<'a> {
    model: &'a Model,
    x: &'a Tensor,
    targets: &'a [usize],
    opts: &'a GaxOptions,
    per_sample: usize,
    use_abs: bool,
    max_frames: usize,
    progress: &'a Progress<'a>,
}

impl Run<'_> {
    /// Optimise samples `c0..c1` together; each stops on its own.
    fn chunk(&self, c0: usize, c1: usize) -> Result<Chunk> {
        let (model, x, targets, opts) = (self.model, self.x, self.targets, self.opts);
        let (per_sample, use_abs, max_frames) = (self.per_sample, self.use_abs, self.max_frames);
        let batch = opts.batch.max(1);
        let mut out = Chunk {
            scores: vec![Vec::new(); c1 - c0],
            losses: vec![Vec::new(); c1 - c0],
            similarity_terms: vec![Vec::new(); c1 - c0],
            updated: vec![None; c1 - c0],
            steps_to_target: vec![None; c1 - c0],
            frames: vec![Vec::new(); c1 - c0],
            finals: vec![None; c1 - c0],
            interrupted: false,
        };
        let xs = x.narrow(0, c0, c1 - c0)?;
        let shape: Vec<usize> = xs.dims().to_vec();
        let y_ref = model.logits(&xs, batch)?;
        let k = kappa(
            &targets[c0..c1],
            model.classes,
            model.dtype,
            &model.device(),
        )?;
        // Per-row state, flat and in f64: parameters, Adam moments, inputs, denominators.
        let rows0 = c1 - c0;
        let mut xv = crate::tensor::ops::to_f64_vec(&xs)?;
        let mut den: Vec<f64> = xv
            .iter()
            .map(|&v| if use_abs { v.abs() } else { v } + opts.epsilon)
            .collect();
        let mut w = vec![opts.w_init; rows0 * per_sample];
        let mut b = vec![opts.b_init; rows0 * per_sample];
        let (mut aw, mut ab) = (AdamState::new(w.len()), AdamState::new(b.len()));
        // Rows still being optimised: their sample indices and their inputs.
        let mut active: Vec<usize> = (0..c1 - c0).collect();
        let (mut xa, mut ya, mut ka) = (xs.clone(), y_ref.clone(), k.clone());
        let mut every = vec![opts.frame_every.max(1); c1 - c0];
        for step in 0..opts.max_steps {
            if crate::interrupt::requested() {
                out.interrupted = true;
                break;
            }
            let rows = active.len();
            let mut dims = shape.clone();
            dims[0] = rows;
            let as_tensor = |v: &[f64]| -> Result<Tensor> {
                Ok(Tensor::from_slice(v, dims.as_slice(), xs.device())?.to_dtype(model.dtype)?)
            };
            let wv = Var::from_tensor(&as_tensor(&w)?)?;
            let bv = Var::from_tensor(&as_tensor(if opts.bias { &b } else { &w })?)?;
            let portable = crate::tensor::portable::enabled(&xa);
            let h = if portable {
                ops::portable::generator(&wv, opts.bias.then_some(bv.as_tensor()), &xa)?
            } else if opts.bias {
                wv.as_tensor()
                    .apply_op2(bv.as_tensor(), Generator { x: xv.clone() })?
            } else {
                let zeros = Tensor::zeros(dims.as_slice(), model.dtype, xs.device())?;
                wv.as_tensor()
                    .apply_op2(&zeros, Generator { x: xv.clone() })?
            };
            let y = model.forward(&opts.mode.apply(&xa, &h)?, &mut Pass::eval(Rule::Plain))?;
            let co = ((&y - &ya)? * &ka)?.sum(1)?;
            let mut loss = co.neg()?;
            let mut sims = None;
            if opts.similarity > 0.0 {
                let s = if portable {
                    ops::portable::similarity(&h, &xa, use_abs, opts.epsilon)?
                } else {
                    h.apply_op1(Similarity {
                        x: xv.clone(),
                        den: den.clone(),
                        eps: opts.epsilon,
                        rows,
                    })?
                };
                loss = (loss + (s.recip()? * opts.similarity)?)?;
                sims = Some(s.to_dtype(DType::F64)?.to_vec1::<f64>()?);
            }
            let losses = loss.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let grads = loss.sum_all()?.backward()?;
            let scores = co.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let h = h.detach();
            let mut finished = Vec::new();
            for (r, &i) in active.iter().enumerate() {
                out.scores[i].push(scores[r]);
                out.losses[i].push(losses[r]);
                if let Some(s) = &sims {
                    out.similarity_terms[i].push(s[r]);
                }
                let hr = h.get(r)?;
                let last = scores[r] > opts.target_co || step + 1 == opts.max_steps;
                if step % every[i] == 0 || last {
                    out.frames[i].push((step, hr.clone()));
                    if out.frames[i].len() > max_frames {
                        // Thin out: keep every other frame (the newest always stays).
                        let len = out.frames[i].len();
                        let kept: Vec<(usize, Tensor)> = out.frames[i]
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| j % 2 == 0 || *j + 1 == len)
                            .map(|(_, f)| f.clone())
                            .collect();
                        out.frames[i] = kept;
                        every[i] *= 2;
                    }
                }
                out.finals[i] = Some(hr);
                if scores[r] > opts.target_co {
                    out.steps_to_target[i] = Some(step);
                    self.progress.reached.fetch_add(1, Ordering::Relaxed);
                    finished.push(r);
                }
            }
            let grad_of = |v: &Var| -> Result<Vec<f64>> {
                match grads.get(v.as_tensor()) {
                    Some(g) => crate::tensor::ops::to_f64_vec(g),
                    None => Ok(vec![0.0; rows * per_sample]),
                }
            };
            let t = step as i32 + 1;
            aw.step(&mut w, &grad_of(&wv)?, t, opts);
            if opts.bias {
                ab.step(&mut b, &grad_of(&bv)?, t, opts);
            }
            self.progress.advance(rows);
            // The heatmap the updated parameters give, for every row that stops here.
            let last_step = step + 1 == opts.max_steps;
            for (r, &i) in active.iter().enumerate() {
                if last_step || finished.contains(&r) {
                    let span = r * per_sample..(r + 1) * per_sample;
                    let h: Vec<f64> = (span.clone())
                        .map(|j| (w[j] * xv[j] + if opts.bias { b[j] } else { 0.0 }).tanh())
                        .collect();
                    out.updated[i] =
                        Some(Tensor::from_vec(h, &shape[1..], xs.device())?.to_dtype(model.dtype)?);
                }
            }
            if !finished.is_empty() {
                let keep: Vec<usize> = (0..rows).filter(|r| !finished.contains(r)).collect();
                if keep.is_empty() {
                    break;
                }
                let pick = |v: &[f64]| -> Vec<f64> {
                    keep.iter()
                        .flat_map(|&r| v[r * per_sample..(r + 1) * per_sample].to_vec())
                        .collect()
                };
                w = pick(&w);
                b = pick(&b);
                xv = pick(&xv);
                den = pick(&den);
                aw.keep(&keep, per_sample);
                ab.keep(&keep, per_sample);
                let idx = Tensor::from_vec(
                    keep.iter().map(|&r| r as u32).collect::<Vec<_>>(),
                    keep.len(),
                    xs.device(),
                )?;
                active = keep.iter().map(|&r| active[r]).collect();
                xa = xa.index_select(&idx, 0)?;
                ya = ya.index_select(&idx, 0)?;
                ka = ka.index_select(&idx, 0)?;
            }
        }

        Ok(out)
    }
}

/// The largest CO any input can reach, per class, for the paper's attention networks
/// (drybean_fpa, ccf_fpa, fpa, cxc_multi_spa). Their last features are rows of a softmax (FPA's
/// and SPA's c × c attention), each row a set of weights summing to 1, fed to one linear layer;
/// so CO's κ-weighted logit change is at most Σ over rows of (max − min) of κ·W in that row,
/// whatever the input. Above it, a GAX target cannot be reached (scripts/covid.rhai's 48 against
/// a ceiling near 7: tools/gax_covid.rhai).
pub fn co_ceiling(model: &Model) -> Result<Vec<f64>> {
    use crate::nn::Arch;
    if !matches!(
        model.arch,
        Arch::DrybeanFpa | Arch::CcfFpa | Arch::Fpa { .. } | Arch::CxcMultiSpa { .. }
    ) {
        return Err(Error::invalid(format!(
            "co_ceiling: only the paper's attention networks (drybean_fpa, ccf_fpa, fpa, cxc_multi_spa) have a CO bound read from their weights, not {}",
            model.arch.name()
        )));
    }
    let w = model
        .state_dict()
        .remove("fc.weight")
        .ok_or_else(|| Error::invalid("co_ceiling: the model has no fc.weight"))?
        .to_dtype(DType::F64)?
        .to_vec2::<f64>()?;
    let (classes, features) = (w.len(), w.first().map_or(0, Vec::len));
    let side = (features as f64).sqrt().round() as usize;
    if classes < 2 || side * side != features {
        return Err(Error::invalid(format!(
            "co_ceiling: fc.weight of shape [{classes}, {features}] is not a classifier over c × c attention"
        )));
    }
    Ok((0..classes)
        .map(|y| {
            let coef: Vec<f64> = (0..features)
                .map(|j| {
                    let others: f64 = (0..classes).filter(|&o| o != y).map(|o| w[o][j]).sum();
                    w[y][j] - others / (classes - 1) as f64
                })
                .collect();
            coef.chunks(side)
                .map(|row| {
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let min = row.iter().copied().fold(f64::INFINITY, f64::min);
                    max - min
                })
                .sum()
        })
        .collect())
}

/// GAX against the paper's six methods on the same samples: how often GAX's CO beats the best
/// CO any of them reaches, with GAX's final heatmap (what a user takes away) and with the best
/// CO along its run (the more generous reading).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersusMethods {
    pub n: usize,
    pub final_wins: usize,
    pub best_wins: usize,
    /// The comparison in a sentence.
    pub text: String,
}

/// Compare a GAX run on `ds` with the six methods' CO on the same samples, in GAX's mode.
pub fn versus_methods(
    model: &Model,
    ds: &crate::data::Dataset,
    g: &GaxResult,
) -> Result<VersusMethods> {
    if g.scores.len() != ds.len() {
        return Err(Error::invalid(format!(
            "gax_vs_methods: the GAX run has {} samples, the dataset {}",
            g.scores.len(),
            ds.len()
        )));
    }
    let table = crate::ax::ax_sweep(
        model,
        ds,
        &crate::ax::SweepOptions {
            modes: vec![g.options.mode],
            shard: None,
            ..Default::default()
        },
    )?;
    let mut best = vec![f64::NEG_INFINITY; ds.len()];
    for r in &table.rows {
        if r.co > best[r.index] {
            best[r.index] = r.co;
        }
    }
    let beats = |v: f64, i: usize| v > best[i];
    let final_scores = g.final_scores();
    let n = ds.len();
    let final_wins = (0..n).filter(|&i| beats(final_scores[i], i)).count();
    let best_along = |i: usize| {
        g.scores[i]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let best_wins = (0..n).filter(|&i| beats(best_along(i), i)).count();
    Ok(VersusMethods {
        n,
        final_wins,
        best_wins,
        text: format!(
            "GAX's final CO exceeds the best CO of the six methods for {final_wins} of {n} samples (its best CO along the run: {best_wins} of {n})"
        ),
    })
}

impl GaxResult {
    /// Steps to target of the samples that reached it.
    pub fn reached(&self) -> Vec<usize> {
        self.steps_to_target.iter().flatten().copied().collect()
    }

    /// The last CO of each sample.
    pub fn final_scores(&self) -> Vec<f64> {
        self.scores
            .iter()
            .map(|s| s.last().copied().unwrap_or(f64::NAN))
            .collect()
    }

    pub fn summary(&self) -> String {
        if self.options.target_co == f64::INFINITY {
            return self.summary_without_target();
        }
        let n = self.scores.len();
        let r = self.reached();
        let mut sorted = r.clone();
        sorted.sort();
        let med =
            crate::stats::summarize(&sorted.iter().map(|&v| v as f64).collect::<Vec<_>>()).median;
        let mut s = format!(
            "GAX ({} mode, target CO {}, cap {} steps, lr {}, l_s {}, denominator {}): {}/{} samples reached the target",
            self.options.mode.name(),
            self.options.target_co,
            self.options.max_steps,
            self.options.lr,
            self.options.similarity,
            self.denominator,
            r.len(),
            n
        );
        if !sorted.is_empty() {
            s.push_str(&format!(
                "; steps to target: median {med}, min {}, max {}",
                sorted[0],
                sorted[sorted.len() - 1]
            ));
        }
        if let Some(c) = self.ceiling.filter(|&c| c < self.options.target_co) {
            s.push_str(&format!(
                "; the target is above this model's CO ceiling of {c:.2}: no input can reach it (co_ceiling)"
            ));
        }
        if self.interrupted {
            s.push_str(" (interrupted: partial result)");
        }
        s
    }

    /// A run of fixed length (`steps`): how far CO went, not how many reached a target.
    fn summary_without_target(&self) -> String {
        let last = self.final_scores();
        let first: Vec<f64> = self
            .scores
            .iter()
            .filter_map(|s| s.first().copied())
            .collect();
        let median = |v: &[f64]| crate::stats::summarize(v).median;
        let mut s = format!(
            "GAX ({} mode, ran {} steps without a target, lr {}, l_s {}, denominator {}): {} samples, median CO {:.4} at the first step, {:.4} at the last",
            self.options.mode.name(),
            self.options.max_steps,
            self.options.lr,
            self.options.similarity,
            self.denominator,
            self.scores.len(),
            median(&first),
            median(&last),
        );
        if self.interrupted {
            s.push_str(" (interrupted: partial result)");
        }
        s
    }

    /// `gax_scores.csv` (one row per sample and step) and `gax_heatmaps.safetensors` (final
    /// heatmaps, frames and their steps), both written atomically into `dir`.
    /// A shard's result goes to `dir` tagged with the shard (`gax.shard-1-of-4`), with
    /// `gax_shard.txt` saying which samples it holds; `gaxsh merge` joins them.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let owned;
        let dir = match &self.part {
            Some(p) => {
                owned = p.shard.path(dir);
                owned.as_path()
            }
            None => dir,
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let first = self.part.map(|p| p.first).unwrap_or(0);
        let mut csv = String::from(SCORES_HEADER);
        csv.push('\n');
        for (local, sc) in self.scores.iter().enumerate() {
            let i = first + local;
            for (k, v) in sc.iter().enumerate() {
                let reached = self.steps_to_target[local] == Some(k);
                csv.push_str(&format!(
                    "{i},{},{},{},{k},{v},{}\n",
                    self.ids[local].replace(',', ";"),
                    self.labels[local],
                    self.targets[local],
                    reached as u8
                ));
            }
        }
        crate::io::write_atomic(&dir.join("gax_scores.csv"), csv.as_bytes())?;
        let mut t = std::collections::HashMap::new();
        t.insert("heatmaps".to_string(), self.heatmaps.clone());
        for (local, f) in self.frames.iter().enumerate() {
            if f.is_empty() {
                continue;
            }
            let i = first + local;
            let frames: Vec<Tensor> = f.iter().map(|(_, h)| h.clone()).collect();
            t.insert(format!("frames.{i}"), Tensor::stack(&frames, 0)?);
            let steps: Vec<i64> = f.iter().map(|(s, _)| *s as i64).collect();
            t.insert(
                format!("frame_steps.{i}"),
                Tensor::from_vec(steps, f.len(), &candle_core::Device::Cpu)?,
            );
        }
        crate::io::save_safetensors(&t, &dir.join("gax_heatmaps.safetensors"))?;
        if let Some(p) = &self.part {
            let text = format!(
                "shard: {} samples {}..{} of {}\n",
                p.shard,
                p.first,
                p.first + self.scores.len(),
                p.total
            );
            crate::io::write_atomic(&dir.join(SHARD_FILE), text.as_bytes())?;
        }
        Ok(())
    }
}
