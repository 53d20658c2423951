//! Attribution methods (heatmaps), batched, with Captum 0.9's exact semantics
//! (`../shared/paper/METHOD.md` §4.2–4.2b). One file per method; this module chooses targets,
//! splits large batches into chunks and normalises heatmaps.
//!
//! Every method returns a tensor of the input's shape and dtype, one heatmap per sample, equal to
//! what Captum returns for that sample alone.

pub mod deconvolution;
pub mod deeplift;
pub mod gradient;
pub mod guided_backprop;
pub mod input_x_gradient;
pub mod integrated_gradients;
pub mod layer_gradcam;
pub mod noise_tunnel;
pub mod saliency;

use crate::error::{Error, Result};
use crate::nn::{LayerRef, Model};
use crate::options::{Given, Value};
use crate::tensor::resize::Mode;
use candle_core::{DType, Tensor};
use noise_tunnel::NoiseKind;

/// The methods, by Captum's names (serialised as the name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Saliency,
    InputXGradient,
    LayerGradCam,
    Deconvolution,
    GuidedBackprop,
    DeepLift,
    IntegratedGradients,
}

impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Method {
    /// The six methods of the paper, in its order.
    pub const PAPER: [Method; 6] = [
        Method::Saliency,
        Method::InputXGradient,
        Method::LayerGradCam,
        Method::Deconvolution,
        Method::GuidedBackprop,
        Method::DeepLift,
    ];

    pub const ALL: [Method; 7] = [
        Method::Saliency,
        Method::InputXGradient,
        Method::LayerGradCam,
        Method::Deconvolution,
        Method::GuidedBackprop,
        Method::DeepLift,
        Method::IntegratedGradients,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Saliency => "Saliency",
            Method::InputXGradient => "InputXGradient",
            Method::LayerGradCam => "LayerGradCam",
            Method::Deconvolution => "Deconvolution",
            Method::GuidedBackprop => "GuidedBackprop",
            Method::DeepLift => "DeepLift",
            Method::IntegratedGradients => "IntegratedGradients",
        }
    }

    /// Parse a method name; `NoiseTunnel` is an option of the others (see [`noise_tunnel`]).
    /// A method name, or `"all"`/`"paper"` for the paper's six.
    pub fn selection(name: &str) -> Result<Vec<Method>> {
        match name {
            "all" | "paper" => Ok(Method::PAPER.to_vec()),
            one => Ok(vec![Method::parse(one)?]),
        }
    }

    /// A `methods` option: one name or `"all"` ([`Method::selection`]), or several names.
    pub fn selection_of(names: &[String]) -> Result<Vec<Method>> {
        match names {
            [one] => Method::selection(one),
            many => many.iter().map(|m| Method::parse(m)).collect(),
        }
    }

    pub fn parse(name: &str) -> Result<Method> {
        Method::ALL
            .iter()
            .copied()
            .find(|m| m.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let valid: Vec<&str> = Method::ALL
                    .iter()
                    .map(|m| m.name())
                    .chain(["NoiseTunnel"])
                    .collect();
                Error::unknown("method", name, &valid)
            })
    }
}

/// Which output each sample's heatmap explains.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The model's prediction for the sample (the paper's choice).
    Predicted,
    /// One class for every sample.
    Class(usize),
    /// One class per sample.
    PerSample(Vec<usize>),
    /// Each sample's label (`AttrOptions::labels`, or a dataset's).
    Label,
}

fn labels_missing() -> Error {
    Error::invalid(
        "target \"label\" needs the labels: give #{labels: ds.y} (or pass the dataset itself)",
    )
}

impl Target {
    /// `"pred"` (also `"predicted"`, `"prediction"`), `"label"` (also `"labels"`), a class
    /// index, or one class per sample (an array or a tensor).
    pub fn from_value(v: &Given) -> Result<Target> {
        match v.value {
            Value::Text(s) => match s.as_str() {
                "pred" | "predicted" | "prediction" => Ok(Target::Predicted),
                "label" | "labels" => Ok(Target::Label),
                other => Err(Error::invalid(format!(
                    "target: '{other}' is not a class index, \"pred\" or \"label\""
                ))),
            },
            Value::Int(_) | Value::Float(_) => Ok(Target::Class(v.classes()?[0])),
            _ => Ok(Target::PerSample(v.classes()?)),
        }
    }

    /// This target with `Label` replaced by the labels (an error when there are none).
    pub fn with_labels(&self, labels: Option<&[usize]>) -> Result<Target> {
        match (self, labels) {
            (Target::Label, Some(l)) => Ok(Target::PerSample(l.to_vec())),
            (Target::Label, None) => Err(labels_missing()),
            (other, _) => Ok(other.clone()),
        }
    }
}

/// Numerical integration of Integrated Gradients (Captum's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgMethod {
    GaussLegendre,
    RiemannLeft,
    RiemannRight,
    RiemannMiddle,
    RiemannTrapezoid,
}

impl IgMethod {
    pub fn parse(s: &str) -> Result<IgMethod> {
        Ok(match s {
            "gausslegendre" => IgMethod::GaussLegendre,
            "riemann_left" => IgMethod::RiemannLeft,
            "riemann_right" => IgMethod::RiemannRight,
            "riemann_middle" => IgMethod::RiemannMiddle,
            "riemann_trapezoid" => IgMethod::RiemannTrapezoid,
            other => {
                return Err(Error::unknown(
                    "integration method",
                    other,
                    &[
                        "gausslegendre",
                        "riemann_left",
                        "riemann_right",
                        "riemann_middle",
                        "riemann_trapezoid",
                    ],
                ));
            }
        })
    }
}

crate::options! {
    /// The options of `attribute`, shared by the methods (each uses the ones that concern it).
    pub struct AttrOptions {
        "target" => target: Target = Target::Predicted; Texts, "\"pred\"", "the class explained: \"pred\" (the prediction, the paper's), \"label\", a class, or one per sample", |v| Target::from_value(&v)?;
        "labels" => labels: Option<Vec<usize>> = None; Ints, "a dataset's labels", "the labels target \"label\" refers to", |v| Some(v.classes()?);
        "baseline" => baseline: Option<Tensor> = None; Floats, "zeros", "DeepLift and IntegratedGradients: the reference input (a tensor or a number, broadcast to the input)", |v| Some(v.tensor()?);
        "layer" => layer: Option<String> = None; Text, "the model's paper layer (net.cam_layer)", "LayerGradCam: the layer, by a name from net.layers()", |v| Some(v.text()?);
        "layer_input" => layer_input: Option<bool> = None; Bool, "the paper layer's; false for a named layer", "LayerGradCam: the layer's input instead of its output", |v| Some(v.bool()?);
        "relu" => relu: bool = false; Bool, "false", "LayerGradCam: ReLU on the map (Captum's relu_attributions)", |v| v.bool()?;
        "upsample" => upsample: Option<Mode> = Some(Mode::Bilinear); Text, "\"bilinear\"", "LayerGradCam: bring the map to the input's size (\"bilinear\" or \"nearest\"); false keeps it at the layer's size, (N, 1, …), as Captum's LayerGradCam returns it", |v| upsample_of(&v)?;
        "abs" => abs: bool = false; Bool, "false", "Saliency: |gradient| (Captum's default) instead of the signed gradient (the paper's)", |v| v.bool()?;
        "steps" => ig_steps: usize = 50; Int, "50", "IntegratedGradients: integration steps", |v| v.usize()?;
        "ig_method" => ig_method: IgMethod = IgMethod::GaussLegendre; Text, "\"gausslegendre\"", "IntegratedGradients: the integration rule (gausslegendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid)", |v| IgMethod::parse(&v.text()?)?;
        "internal_batch" => internal_batch: usize = 0; Int, "0", "IntegratedGradients: scaled inputs per pass (0: all steps at once)", |v| v.usize()?;
        "chunk" => chunk: usize = 0; Int, "0", "samples per forward/backward pass (0: about four million input values)", |v| v.usize()?;
        "method" => noise_method: Option<Method> = None; Text, "none", "NoiseTunnel: the method it smooths", |v| Some(Method::parse(&v.text()?)?);
        "nt_type" => nt_type: NoiseKind = NoiseKind::SmoothGrad; Text, "\"smoothgrad\"", "NoiseTunnel: smoothgrad (mean), smoothgrad_sq (mean of squares) or vargrad (variance)", |v| NoiseKind::parse(&v.text()?)?;
        "samples" => nt_samples: usize = 5; Int, "5", "NoiseTunnel: noisy copies averaged", |v| v.usize()?;
        "stdev" => nt_stdev: f64 = 1.0; Float, "1.0", "NoiseTunnel: σ of the Gaussian noise", |v| v.f64()?;
    }
}

/// The keys that belong to NoiseTunnel alone.
pub const NOISE_KEYS: [&str; 4] = ["method", "nt_type", "samples", "stdev"];

fn upsample_of(v: &Given) -> Result<Option<Mode>> {
    match v.value {
        Value::Bool(false) => Ok(None),
        Value::Text(s) => Ok(Some(Mode::parse(s)?)),
        _ => Err(v.value.wrong(v.key, "\"bilinear\", \"nearest\" or false")),
    }
}

impl AttrOptions {
    /// The target, `Label` resolved from the labels.
    pub fn resolved_target(&self) -> Result<Target> {
        self.target.with_labels(self.labels.as_deref())
    }

    /// The Grad-CAM layer: the one named, or the model's paper layer; on its input or output.
    pub fn cam_layer(&self, model: &Model) -> Result<LayerRef> {
        let layer = match &self.layer {
            Some(name) => LayerRef {
                name: name.clone(),
                input: false,
            },
            None => model.cam_layer.clone().ok_or_else(|| {
                Error::invalid(format!(
                    "LayerGradCam needs a layer for {}; give one of: {}",
                    model.arch.name(),
                    layer_list(model)
                ))
            })?,
        };
        Ok(LayerRef {
            input: self.layer_input.unwrap_or(layer.input),
            ..layer
        })
    }
}

/// Heatmaps by method name: one of [`Method`]'s, or `"NoiseTunnel"` over the method that
/// `noise_method` names. The NoiseTunnel options belong to NoiseTunnel alone.
pub fn attribute_named(
    model: &Model,
    x: &Tensor,
    name: &str,
    opts: &AttrOptions,
) -> Result<Tensor> {
    if name.eq_ignore_ascii_case("NoiseTunnel") {
        return noise_tunnel::noise_tunnel(model, x, opts);
    }
    let method = Method::parse(name)?;
    let d = AttrOptions::default();
    if opts.noise_method.is_some()
        || opts.nt_type != d.nt_type
        || opts.nt_samples != d.nt_samples
        || opts.nt_stdev != d.nt_stdev
    {
        return Err(Error::invalid(format!(
            "the options {} belong to \"NoiseTunnel\", not {}",
            NOISE_KEYS.join("/"),
            method.name()
        )));
    }
    attribute(model, x, method, opts)
}

/// A chunk size keeping about four million input values per pass.
fn auto_chunk(model: &Model) -> usize {
    let per = model.input_shape.iter().product::<usize>().max(1);
    (4_000_000 / per).clamp(1, 4096)
}

/// Resolve targets for a batch: the prediction, one class, or one per sample.
pub fn resolve_targets(model: &Model, x: &Tensor, target: &Target) -> Result<Vec<usize>> {
    let n = x.dim(0)?;
    let t = match target {
        Target::Label => return Err(labels_missing()),
        Target::Predicted => model.predict(x, crate::nn::CHUNK)?,
        Target::Class(c) => vec![*c; n],
        Target::PerSample(v) => {
            if v.len() != n {
                return Err(Error::invalid(format!(
                    "{} targets for {n} samples",
                    v.len()
                )));
            }
            v.clone()
        }
    };
    crate::classes::check("target", &t, model.classes)?;
    Ok(t)
}

/// Heatmaps of `method` for a batch, computed in chunks; targets resolved once for the batch.
pub fn attribute(model: &Model, x: &Tensor, method: Method, opts: &AttrOptions) -> Result<Tensor> {
    Ok(attribute_with_logits(model, x, method, opts)?.heatmaps)
}

/// What [`attribute_with_logits`] gives.
pub struct Attribution {
    pub heatmaps: Tensor,
    /// The model's logits for `x` from the method's own forward pass (every backward rule leaves
    /// the forward pass as it is), so the AX process needs no separate forward pass for its
    /// "before" side; `None` for Integrated Gradients, whose passes run on scaled inputs.
    pub logits: Option<Tensor>,
}

/// [`attribute`], keeping the logits of the forward pass the heatmaps came from.
pub fn attribute_with_logits(
    model: &Model,
    x: &Tensor,
    method: Method,
    opts: &AttrOptions,
) -> Result<Attribution> {
    let x = x.to_dtype(model.dtype)?;
    // Predictions come from each method's own forward pass, except for Integrated Gradients,
    // whose passes run on scaled inputs.
    let targets = match (opts.resolved_target()?, method) {
        (Target::Predicted, m) if m != Method::IntegratedGradients => None,
        (t, _) => Some(resolve_targets(model, &x, &t)?),
    };
    let n = x.dim(0)?;
    let chunk = if opts.chunk == 0 {
        auto_chunk(model)
    } else {
        opts.chunk
    };
    let (mut parts, mut logit_parts) = (Vec::new(), Vec::new());
    let mut start = 0;
    // Progress in samples, when the batch takes more than one pass.
    let task = (n > chunk).then(|| crate::progress::Task::start(method.name(), n as u64));
    while start < n {
        crate::interrupt::check()?;
        let len = chunk.min(n - start);
        if let Some(t) = &task {
            t.update(start as u64, &format!("samples {start}/{n}"));
        }
        let xs = x.narrow(0, start, len)?;
        let ts = targets.as_ref().map(|t| &t[start..start + len]);
        let baseline = match &opts.baseline {
            Some(b) => Some(baseline_for(b, &xs)?),
            None => None,
        };
        let (h, logits) = match method {
            Method::Saliency => saliency::saliency(model, &xs, ts, opts.abs)?,
            Method::InputXGradient => input_x_gradient::input_x_gradient(model, &xs, ts)?,
            Method::Deconvolution => deconvolution::deconvolution(model, &xs, ts)?,
            Method::GuidedBackprop => guided_backprop::guided_backprop(model, &xs, ts)?,
            Method::DeepLift => deeplift::deeplift(model, &xs, ts, baseline.as_ref())?,
            Method::LayerGradCam => {
                let layer = opts.cam_layer(model)?;
                layer_gradcam::layer_gradcam(model, &xs, ts, &layer, opts.relu, opts.upsample)?
            }
            Method::IntegratedGradients => {
                let h = integrated_gradients::integrated_gradients(
                    model,
                    &xs,
                    ts.expect("resolved above"),
                    baseline.as_ref(),
                    opts.ig_steps,
                    opts.ig_method,
                    opts.internal_batch,
                )?;
                parts.push(h);
                start += len;
                continue;
            }
        };
        parts.push(h);
        logit_parts.push(logits);
        start += len;
    }
    if parts.is_empty() {
        return Err(Error::invalid("attribute: empty batch"));
    }
    Ok(Attribution {
        heatmaps: Tensor::cat(&parts, 0)?,
        logits: if logit_parts.len() == parts.len() {
            Some(Tensor::cat(&logit_parts, 0)?)
        } else {
            None
        },
    })
}

fn layer_list(model: &Model) -> String {
    model
        .layers()
        .into_iter()
        .map(|(n, _)| n)
        .take(30)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A baseline for a chunk: a full batch of the chunk's size, one sample (broadcast) or a scalar.
fn baseline_for(b: &Tensor, xs: &Tensor) -> Result<Tensor> {
    let b = b.to_dtype(xs.dtype())?;
    let out = if b.dims() == xs.dims() {
        b
    } else if b.rank() + 1 == xs.rank()
        || b.elem_count() == 1
        || (b.rank() == xs.rank() && b.dim(0)? == 1)
    {
        b.broadcast_as(xs.shape())?.contiguous()?
    } else {
        return Err(Error::ShapeMismatch {
            op: "baseline".into(),
            lhs: xs.dims().to_vec(),
            rhs: b.dims().to_vec(),
        });
    };
    Ok(out)
}

/// h / max|h| per sample over all its elements (channels and positions together). A sample
/// whose heatmap is all zeros stays zero (never NaN); the count of such samples is returned.
pub fn normalize(h: &Tensor) -> Result<(Tensor, usize)> {
    let n = h.dim(0)?;
    let flat = h.reshape((n, ()))?;
    let maxabs = flat.abs()?.max_keepdim(1)?;
    let zeros = maxabs
        .to_dtype(DType::F64)?
        .flatten_all()?
        .to_vec1::<f64>()?
        .iter()
        .filter(|&&m| m == 0.0)
        .count();
    // Where the maximum is 0 the heatmap is 0 too; dividing by 1 keeps it 0.
    let safe = maxabs.eq(0.0)?.where_cond(&maxabs.ones_like()?, &maxabs)?;
    Ok((flat.broadcast_div(&safe)?.reshape(h.shape())?, zeros))
}
