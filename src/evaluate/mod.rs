//! CO beside the field's standard explanation metrics, on the same heatmaps: for every sample
//! and method, CO (x + h and x ⊙ h), deletion and insertion curves with their AUC, ROAD (images),
//! Captum's infidelity and max-sensitivity, sparseness (Gini) and complexity (entropy) as Quantus
//! computes them, and cascading model-parameter randomisation; then how far the metrics agree.
//!
//! Every metric reads the raw attribution (Captum's and Quantus's input), except CO, which
//! reads it normalised by its maximum as the paper does. The metrics that rank or count
//! relevance (flipping, sparseness, complexity, randomisation) work on *units*: a feature of a
//! table, or a pixel (or a patch) of an image with its channels together, its relevance the sum
//! of |h| over the unit ([`Units`]).
//!
//! Where gaxsh differs from the reference, and why:
//! - flipping AUC is the area under the target's probability against the fraction of units
//!   flipped, from the unflipped input (0) to all flipped (1), so it lies in [0, 1] whatever the
//!   step count; Quantus's `PixelFlipping` returns the same curve without its first point and
//!   sums it with unit spacing (`np.trapz(curve, dx=1)`), which grows with the step count;
//! - Quantus 0.5 normalises a batch of heatmaps by the batch's largest value, so a sample's
//!   sparseness depends on its batch-mates; gaxsh normalises each sample by its own maximum
//!   (Quantus with `normalise_axes` over the sample's axes, which the fixtures use);
//! - randomisation draws new weights from PyTorch's default initialisation with gaxsh's own
//!   seeded generator: equal to Quantus's MPRT in distribution, not draw for draw;
//! - ROAD orders pixels by Σ|h| over channels (Quantus by the heatmap it is given), scores each
//!   sample by the share of imputation steps after which the prediction holds, runs both orders
//!   (Quantus most relevant first only), and imputes at 10 %, 20 % … 90 % by default (Quantus
//!   at 1 %, 3 % … 99 %, fifty sparse solves per sample); its imputation equals Quantus's
//!   `noisy_linear_imputation` (conjugate gradients to 1e-14 instead of a sparse LU).

mod complexity;
mod flipping;
mod randomisation;
mod road;
mod robustness;
mod table;

pub use complexity::{complexity, sparseness};
pub use flipping::{Units, auc, flip_curves, flip_fractions, is_insertion};
pub use randomisation::{Cascade, randomisation_similarities};
pub use road::{Road, impute, road_curves};
pub use robustness::{infidelity, sensitivity_max};
pub use table::{MetricTable, number};

use crate::attr::{AttrOptions, Method, Target, attribute_named, normalize};
use crate::ax::{Mode, Output, co_scores};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::nn::{CHUNK, Model};
use crate::options::{Key, Kind, Options, Value, key};
use candle_core::{DType, Tensor};
use std::time::Instant;

/// The metrics of the panel, in the order tables show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    CoSum,
    CoMult,
    Deletion,
    Insertion,
    RoadMorf,
    RoadLerf,
    Infidelity,
    SensitivityMax,
    Sparseness,
    Complexity,
    Randomisation,
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Metric::CoSum,
        Metric::CoMult,
        Metric::Deletion,
        Metric::Insertion,
        Metric::RoadMorf,
        Metric::RoadLerf,
        Metric::Infidelity,
        Metric::SensitivityMax,
        Metric::Sparseness,
        Metric::Complexity,
        Metric::Randomisation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::CoSum => "co_sum",
            Metric::CoMult => "co_mult",
            Metric::Deletion => "deletion",
            Metric::Insertion => "insertion",
            Metric::RoadMorf => "road_morf",
            Metric::RoadLerf => "road_lerf",
            Metric::Infidelity => "infidelity",
            Metric::SensitivityMax => "sensitivity_max",
            Metric::Sparseness => "sparseness",
            Metric::Complexity => "complexity",
            Metric::Randomisation => "randomisation",
        }
    }

    /// Whether a larger value means a better explanation (the direction the field reads it).
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::CoSum
                | Metric::CoMult
                | Metric::Insertion
                | Metric::RoadLerf
                | Metric::Sparseness
        )
    }

    /// What the number is, for help and table legends.
    pub fn meaning(self) -> &'static str {
        match self {
            Metric::CoSum => {
                "CO of x + h (h normalised by its maximum): what the model gains from h"
            }
            Metric::CoMult => "CO of x ⊙ h",
            Metric::Deletion => {
                "area under the target's probability as the most relevant units are set to the baseline"
            }
            Metric::Insertion => {
                "area under the target's probability as the most relevant units are put back into the baseline"
            }
            Metric::RoadMorf => {
                "ROAD, most relevant pixels first: the share of imputation steps after which the model still predicts the explained class"
            }
            Metric::RoadLerf => "ROAD, least relevant pixels first: the same share",
            Metric::Infidelity => {
                "Captum's infidelity: E[(Iᵀh − (f(x) − f(x − I)))²], I ~ N(0, noise²)"
            }
            Metric::SensitivityMax => {
                "Captum's sensitivity_max: max ‖h(x + δ) − h(x)‖ / ‖h(x)‖, δ uniform in ±radius"
            }
            Metric::Sparseness => "Gini index of the units' |h| (Quantus Sparseness)",
            Metric::Complexity => "entropy of the units' |h| share (Quantus Complexity)",
            Metric::Randomisation => {
                "mean Spearman similarity of h to the heatmaps of the model randomised layer by layer from the top (Quantus MPRT)"
            }
        }
    }

    pub fn parse(name: &str) -> Result<Metric> {
        Metric::ALL
            .iter()
            .copied()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                let valid: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                Error::unknown("metric", name, &valid)
            })
    }
}

/// The options of `evaluate_heatmaps`.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    pub methods: Vec<Method>,
    pub metrics: Vec<Metric>,
    /// Samples per batch of the panel.
    pub batch: usize,
    /// At most this many flipping steps; each flips ⌈units / steps⌉ units.
    pub steps: usize,
    /// Side of the square patch that forms one unit of an image (1: pixels).
    pub patch: usize,
    /// The value a flipped input element takes.
    pub baseline: f64,
    /// Perturbations per sample for infidelity and max-sensitivity (Captum's n_perturb_samples).
    pub perturbations: usize,
    /// σ of infidelity's Gaussian perturbation I.
    pub noise: f64,
    /// Captum's `normalize` of infidelity (the optimal scaling β of h first).
    pub normalize: bool,
    /// The L∞ radius of max-sensitivity's uniform perturbation (Captum's perturb_radius).
    pub radius: f64,
    /// How many layers, from the top, the randomisation cascade goes through (0: all).
    pub layers: usize,
    /// ROAD: the shares of pixels imputed, in %, and the σ of the imputation noise.
    pub road_percentages: Vec<f64>,
    pub road_noise: f64,
    /// Seeds the perturbations and the randomised weights (per sample, so results do not
    /// depend on the batch size).
    pub seed: u64,
    /// The methods' options; the target is the class each heatmap explains and the flipping
    /// curves follow.
    pub attr: AttrOptions,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            methods: Method::PAPER.to_vec(),
            metrics: Metric::ALL.to_vec(),
            batch: CHUNK,
            steps: 32,
            patch: 1,
            baseline: 0.0,
            perturbations: 10,
            noise: 0.1,
            normalize: false,
            radius: 0.02,
            layers: 0,
            road_percentages: (1..10).map(|k| k as f64 * 10.0).collect(),
            road_noise: 0.01,
            seed: 0,
            attr: AttrOptions::default(),
        }
    }
}

/// The options of `attribute` the panel takes besides its own.
const EVAL_ATTR_KEYS: [&str; 11] = [
    "target",
    "baseline",
    "layer",
    "layer_input",
    "relu",
    "abs",
    "steps",
    "ig_method",
    "internal_batch",
    "chunk",
    "upsample",
];

impl Options for EvalOptions {
    const KEYS: &'static [Key] = &[
        key(
            "methods",
            Kind::Texts,
            "\"all\"",
            "\"all\" (the paper's six), one method or an array of them",
        ),
        key(
            "metrics",
            Kind::Texts,
            "\"all\"",
            "\"all\" (every metric the data allows: ROAD needs images) or some of: co_sum, co_mult, deletion, insertion, road_morf, road_lerf, infidelity, sensitivity_max, sparseness, complexity, randomisation",
        ),
        key("batch", Kind::Int, "256", "samples per batch"),
        key(
            "flip_steps",
            Kind::Int,
            "32",
            "deletion/insertion: at most this many steps, each flipping ⌈units / steps⌉ units (a unit: a feature, or an image's pixel or patch with its channels)",
        ),
        key(
            "patch",
            Kind::Int,
            "1",
            "deletion/insertion and the unit metrics: side of the square patch that is one unit of an image",
        ),
        key(
            "flip_baseline",
            Kind::Float,
            "0.0",
            "deletion/insertion: the value a flipped input element takes (0: the mean of standardised or normalised inputs)",
        ),
        key(
            "perturbations",
            Kind::Int,
            "10",
            "infidelity and sensitivity_max: perturbations per sample (Captum's n_perturb_samples)",
        ),
        key(
            "noise",
            Kind::Float,
            "0.1",
            "infidelity: σ of the Gaussian perturbation I, x − I fed to the model",
        ),
        key(
            "normalize",
            Kind::Bool,
            "false",
            "infidelity: scale h by its optimal β first (Captum's normalize)",
        ),
        key(
            "radius",
            Kind::Float,
            "0.02",
            "sensitivity_max: L∞ radius of the uniform perturbation (Captum's perturb_radius)",
        ),
        key(
            "layers",
            Kind::Int,
            "0",
            "randomisation: how many layers from the top the cascade randomises (0: all)",
        ),
        key(
            "road_percentages",
            Kind::Floats,
            "[10, 20, 30, 40, 50, 60, 70, 80, 90]",
            "ROAD: the shares of pixels imputed, in % (Quantus: 1, 3, … 99)",
        ),
        key(
            "road_noise",
            Kind::Float,
            "0.01",
            "ROAD: σ of the noise added to imputed pixels (Quantus's default)",
        ),
        key(
            "seed",
            Kind::Int,
            "0",
            "seeds perturbations and randomised weights (per sample: independent of batch)",
        ),
    ];

    fn keys() -> Vec<Key> {
        let attr = crate::options::only(AttrOptions::KEYS, &EVAL_ATTR_KEYS);
        Self::KEYS.iter().copied().chain(attr).collect()
    }

    fn set(&mut self, k: &str, v: &Value) -> Result<()> {
        match k {
            "methods" => self.methods = Method::selection_of(&v.texts(k)?)?,
            "metrics" => {
                let names = v.texts(k)?;
                self.metrics = match names.as_slice() {
                    [all] if all == "all" => Metric::ALL.to_vec(),
                    many => many
                        .iter()
                        .map(|m| Metric::parse(m))
                        .collect::<Result<_>>()?,
                }
            }
            "batch" => self.batch = positive(k, v.usize(k)?)?,
            "flip_steps" => self.steps = positive(k, v.usize(k)?)?,
            "patch" => self.patch = positive(k, v.usize(k)?)?,
            "flip_baseline" => self.baseline = finite(k, v.f64(k)?)?,
            "perturbations" => self.perturbations = positive(k, v.usize(k)?)?,
            "noise" => self.noise = finite(k, v.f64(k)?)?,
            "normalize" => self.normalize = v.bool(k)?,
            "radius" => self.radius = finite(k, v.f64(k)?)?,
            "layers" => self.layers = v.usize(k)?,
            "road_percentages" => {
                let p = v.f64s(k)?;
                if p.is_empty() || p.iter().any(|x| !(0.0..100.0).contains(x)) {
                    return Err(Error::OutOfRange {
                        what: k.into(),
                        value: format!("{p:?}"),
                        valid: "one or more percentages, each at least 0 and below 100".into(),
                    });
                }
                self.road_percentages = p;
            }
            "road_noise" => self.road_noise = finite(k, v.f64(k)?)?,
            "seed" => self.seed = v.usize(k)? as u64,
            attr => self.attr.set(attr, v)?,
        }
        Ok(())
    }
}

fn positive(key: &str, n: usize) -> Result<usize> {
    if n == 0 {
        return Err(Error::OutOfRange {
            what: key.into(),
            value: "0".into(),
            valid: "1 or more".into(),
        });
    }
    Ok(n)
}

fn finite(key: &str, v: f64) -> Result<f64> {
    if !v.is_finite() {
        return Err(Error::OutOfRange {
            what: key.into(),
            value: v.to_string(),
            valid: "a finite number".into(),
        });
    }
    Ok(v)
}

impl EvalOptions {
    fn has(&self, m: Metric) -> bool {
        self.metrics.contains(&m)
    }

    fn check(&self) -> Result<()> {
        if self.methods.is_empty() || self.metrics.is_empty() {
            return Err(Error::invalid(
                "evaluate_heatmaps: give at least one method and one metric",
            ));
        }
        if self.attr.upsample.is_none() && self.methods.contains(&Method::LayerGradCam) {
            return Err(Error::invalid(
                "evaluate_heatmaps: upsample: false keeps Grad-CAM maps at the layer's size, which the metrics cannot lay over the input; use \"bilinear\" or \"nearest\"",
            ));
        }
        if self.road_noise < 0.0 {
            return Err(Error::OutOfRange {
                what: "road_noise".into(),
                value: self.road_noise.to_string(),
                valid: "0 or more".into(),
            });
        }
        for (what, v) in [("noise", self.noise), ("radius", self.radius)] {
            if v <= 0.0 {
                return Err(Error::OutOfRange {
                    what: what.into(),
                    value: v.to_string(),
                    valid: "a number above 0".into(),
                });
            }
        }
        Ok(())
    }
}

/// A stream of draws of its own per (seed, sample, purpose): the same sample gets the same
/// perturbations in any batch, shard or method.
fn sample_seed(seed: u64, sample: usize, purpose: u64) -> u64 {
    // SplitMix64's finaliser: nearby inputs give unrelated seeds.
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((sample as u64) << 8 | purpose);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Perturbations of a batch, `opts.perturbations` per sample, sample by sample (Captum's
/// repeat_interleave layout): infidelity's N(0, noise²) draws, or max-sensitivity's uniform
/// draws in ±radius (`uniform`).
fn draws(
    opts: &EvalOptions,
    first: usize,
    n: usize,
    shape: &[usize],
    uniform: bool,
    dtype: DType,
) -> Result<Tensor> {
    let per = opts.perturbations;
    let d: usize = shape.iter().product();
    let total = crate::limits::count("perturbations", &[n, per, d])?;
    crate::limits::check("perturbations", total, 8)?;
    let mut v = Vec::with_capacity(total);
    for i in first..first + n {
        let s =
            crate::tensor::random::isolated(sample_seed(opts.seed, i, 1 + uniform as u64), || {
                if uniform {
                    crate::tensor::random::uniform_vec(per * d, -opts.radius, opts.radius)
                } else {
                    crate::tensor::random::normal_vec(per * d)
                        .into_iter()
                        .map(|z| z * opts.noise)
                        .collect()
                }
            });
        v.extend(s);
    }
    let dims: Vec<usize> = [n * per].into_iter().chain(shape.iter().copied()).collect();
    Ok(Tensor::from_vec(v, dims, &crate::device::current())?.to_dtype(dtype)?)
}

/// Each sample repeated `per` times in a row (torch's `repeat_interleave` on dim 0).
fn repeat_each(x: &Tensor, per: usize) -> Result<Tensor> {
    let mut dims = x.dims().to_vec();
    let n = dims[0];
    let mut wide = vec![n, per];
    wide.extend_from_slice(&dims[1..]);
    dims[0] = n * per;
    Ok(x.unsqueeze(1)?
        .broadcast_as(wide)?
        .contiguous()?
        .reshape(dims)?)
}

/// The panel over a dataset: every method's heatmaps of every sample, scored by every metric.
pub fn evaluate_heatmaps(model: &Model, ds: &Dataset, opts: &EvalOptions) -> Result<MetricTable> {
    opts.check()?;
    if ds.is_empty() {
        return Err(Error::invalid("evaluate_heatmaps: the dataset is empty"));
    }
    if ds.class_names.len() != model.classes {
        return Err(Error::invalid(format!(
            "evaluate_heatmaps: the data has {} classes, the model {} outputs",
            ds.class_names.len(),
            model.classes
        )));
    }
    let started = Instant::now();
    let sample_shape = ds.sample_shape();
    // "all" means every metric the data allows; ROAD asked for by name on a table is an error.
    let mut opts = opts.clone();
    let mut notes = Vec::new();
    let is_road = |m: &Metric| matches!(m, Metric::RoadMorf | Metric::RoadLerf);
    if sample_shape.len() != 3 && opts.metrics.iter().any(is_road) {
        if opts.metrics == Metric::ALL {
            opts.metrics.retain(|m| !is_road(m));
            notes.push(
                "ROAD left out: it imputes pixels from their neighbours, and these samples are not images"
                    .to_string(),
            );
        } else {
            return Err(Error::invalid(format!(
                "evaluate_heatmaps: ROAD imputes pixels from their neighbours and needs images (C, H, W), not samples of shape {sample_shape:?}"
            )));
        }
    }
    let opts = &opts;
    let road = Road {
        percentages: &opts.road_percentages,
        noise: opts.road_noise,
        seed: opts.seed,
    };
    let pixels = if sample_shape.len() == 3 {
        Some(Units::new(&sample_shape, 1)?)
    } else {
        None
    };
    let units = Units::new(&sample_shape, opts.patch)?;
    let fractions = flip_fractions(units.count, opts.steps);
    let cascade = if opts.has(Metric::Randomisation) {
        Some(Cascade::new(model, opts.layers, opts.seed)?)
    } else {
        None
    };
    let mut table = MetricTable::new(opts, ds, units.count, fractions.clone(), cascade.as_ref());
    table.notes = notes;
    let n = ds.len();
    let task = crate::progress::Task::start("evaluate_heatmaps", n as u64);
    let mut start = 0;
    while start < n {
        crate::interrupt::check()?;
        let len = opts.batch.min(n - start);
        // A batch lives several times over (inputs, heatmaps and flipped copies in f64, the
        // perturbed inputs): ask the memory budget before loading it.
        let copies = 4 + 2 * opts.perturbations;
        let per_sample = crate::limits::count("evaluate_heatmaps sample", &sample_shape)?;
        crate::limits::check(
            "evaluate_heatmaps batch (lower batch:)",
            crate::limits::count("evaluate_heatmaps batch", &[len, per_sample, copies])?,
            8,
        )?;
        task.update(start as u64, &format!("samples {start}/{n}"));
        let x = ds.batch(start, len)?.to_dtype(model.dtype)?;
        let labels = &ds.y[start..start + len];
        // The logits of the inputs, once per batch: the predictions and CO's "before" side.
        let before = model.logits(&x, CHUNK)?;
        let preds: Vec<usize> = before
            .argmax(1)?
            .to_vec1::<u32>()?
            .into_iter()
            .map(|p| p as usize)
            .collect();
        let target = opts.attr.target.with_labels(Some(labels))?;
        let targets = crate::attr::resolve_targets(
            model,
            &x,
            &match target {
                Target::Predicted => Target::PerSample(preds.clone()),
                t => t,
            },
        )?;
        let attr = AttrOptions {
            target: Target::PerSample(targets.clone()),
            labels: None,
            ..opts.attr.clone()
        };
        let drawn = |metric: Metric| -> Result<Option<Tensor>> {
            let uniform = metric == Metric::SensitivityMax;
            opts.has(metric)
                .then(|| draws(opts, start, len, &sample_shape, uniform, model.dtype))
                .transpose()
        };
        let infid_noise = drawn(Metric::Infidelity)?;
        let sens_noise = drawn(Metric::SensitivityMax)?;
        table.push_samples(&preds, &targets);
        for (mi, method) in opts.methods.iter().enumerate() {
            let name = method.name();
            let h = attribute_named(model, &x, name, &attr)?.to_dtype(model.dtype)?;
            if h.dims() != x.dims() {
                return Err(Error::ShapeMismatch {
                    op: format!("evaluate_heatmaps: {name}'s heatmap and the input"),
                    lhs: h.dims().to_vec(),
                    rhs: x.dims().to_vec(),
                });
            }
            let h_rows = rows_f64(&h)?;
            let relevance: Vec<Vec<f64>> = h_rows.iter().map(|r| units.relevance(r)).collect();
            for &metric in &opts.metrics {
                let scores = match metric {
                    Metric::CoSum | Metric::CoMult => {
                        let mode = if metric == Metric::CoSum {
                            Mode::Sum
                        } else {
                            Mode::Mult
                        };
                        let (hn, _) = normalize(&h)?;
                        let after = model.logits(&mode.apply(&x, &hn)?, CHUNK)?;
                        co_scores(&before, &after, labels, Output::Raw)?
                    }
                    Metric::Deletion | Metric::Insertion => {
                        let insertion = metric == Metric::Insertion;
                        let curves = flip_curves(
                            model,
                            &x,
                            &relevance,
                            &targets,
                            &units,
                            opts.steps,
                            opts.baseline,
                            insertion,
                        )?;
                        let aucs = curves.iter().map(|c| auc(c, &fractions)).collect();
                        table.push_curves(mi, insertion, curves);
                        aucs
                    }
                    Metric::RoadMorf | Metric::RoadLerf => {
                        let px = pixels.as_ref().expect("ROAD runs on images only");
                        let by_pixel: Vec<Vec<f64>> =
                            h_rows.iter().map(|r| px.relevance(r)).collect();
                        let least_first = metric == Metric::RoadLerf;
                        road_curves(model, &x, &by_pixel, &targets, &road, least_first, start)?
                            .iter()
                            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
                            .collect()
                    }
                    Metric::Infidelity => infidelity(
                        model,
                        &x,
                        &h,
                        &targets,
                        infid_noise.as_ref().expect("drawn when asked for"),
                        opts.normalize,
                    )?,
                    Metric::SensitivityMax => sensitivity_max(
                        model,
                        &x,
                        &h,
                        name,
                        &attr,
                        sens_noise.as_ref().expect("drawn when asked for"),
                    )?,
                    Metric::Sparseness => relevance.iter().map(|r| sparseness(r)).collect(),
                    Metric::Complexity => relevance.iter().map(|r| complexity(r)).collect(),
                    Metric::Randomisation => {
                        let c = cascade.as_ref().expect("built when asked for");
                        let stages =
                            randomisation_similarities(c, &x, &relevance, &units, name, &attr)?;
                        let mean = (0..len)
                            .map(|i| {
                                let v: Vec<f64> = stages.iter().map(|s| s[i]).collect();
                                finite_mean(&v)
                            })
                            .collect();
                        table.push_stages(mi, stages);
                        mean
                    }
                };
                table.push_scores(mi, metric, scores);
            }
        }
        start += len;
    }
    task.update(n as u64, "done");
    table.seconds = started.elapsed().as_secs_f64();
    Ok(table)
}

/// The mean of the finite values (NaN when there are none).
pub fn finite_mean(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        f.iter().sum::<f64>() / f.len() as f64
    }
}

/// A batch as one f64 row per sample.
fn rows_f64(t: &Tensor) -> Result<Vec<Vec<f64>>> {
    let n = t.dim(0)?;
    Ok(t.to_dtype(DType::F64)?.reshape((n, ()))?.to_vec2::<f64>()?)
}

/// The probability the model gives each sample's target (softmax of the logits, in f64).
fn target_probabilities(model: &Model, x: &Tensor, targets: &[usize]) -> Result<Vec<f64>> {
    let logits = model
        .logits(x, CHUNK)?
        .to_dtype(DType::F64)?
        .to_vec2::<f64>()?;
    Ok(logits
        .iter()
        .zip(targets)
        .map(|(row, &t)| {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
            (row[t] - max).exp() / sum
        })
        .collect())
}

/// The logit of each sample's target.
fn target_logits(model: &Model, x: &Tensor, targets: &[usize]) -> Result<Vec<f64>> {
    let logits = model
        .logits(x, CHUNK)?
        .to_dtype(DType::F64)?
        .to_vec2::<f64>()?;
    Ok(logits.iter().zip(targets).map(|(row, &t)| row[t]).collect())
}
