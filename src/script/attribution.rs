//! Script bindings: `attribute(net, x, "Method", #{…})` and heatmap normalisation.

use super::convert::*;
use super::models::Net;
use super::registry::{Category::Attribution as Cat, Registrar};
use crate::attr::noise_tunnel::{NoiseKind, noise_tunnel};
use crate::attr::{AttrOptions, IgMethod, Method, Target, attribute, normalize};
use crate::data::Dataset;
use crate::nn::LayerRef;
use crate::tensor::resize::Mode;
use rhai::{Array, Dynamic, Map};

/// Read a target: an int, an array or tensor of ints, "pred", or "label" (with `labels`).
pub fn target_of(d: Option<Dynamic>, labels: Option<Vec<usize>>) -> RResult<Target> {
    let Some(d) = d else {
        return Ok(Target::Predicted);
    };
    if let Ok(i) = d.as_int() {
        return crate::classes::index("target", i as f64, None)
            .map(Target::Class)
            .rh();
    }
    if let Some(s) = d.clone().try_cast::<rhai::ImmutableString>() {
        return match s.as_str() {
            "pred" | "predicted" | "prediction" => Ok(Target::Predicted),
            "label" | "labels" => match labels {
                Some(l) => Ok(Target::PerSample(l)),
                None => err(
                    "target \"label\" needs the labels: give #{labels: ds.y} (or use attribute(net, dataset, …))",
                ),
            },
            other => err(format!(
                "target: '{other}' is not a class index, \"pred\" or \"label\""
            )),
        };
    }
    Ok(Target::PerSample(indices(&d, "target")?))
}

/// Class indices from an array or a tensor.
pub fn indices(d: &Dynamic, what: &str) -> RResult<Vec<usize>> {
    if let Some(t) = d.clone().try_cast::<ScriptTensor>() {
        return crate::tensor::ops::to_f64_vec(&t.0)
            .rh()?
            .into_iter()
            .map(|v| crate::classes::index(what, v, None))
            .collect::<crate::Result<_>>()
            .rh();
    }
    match d.clone().try_cast::<Array>() {
        Some(a) => a.iter().map(|x| index(x, what)).collect(),
        None => err(format!(
            "{what}: expected a class index, an array or a tensor of them"
        )),
    }
}

/// NoiseTunnel settings: the smoothed method, the kind, samples and σ.
pub type NoiseSpec = (Method, NoiseKind, usize, f64);

/// The options map of `attribute`, for any method; also returns the noise-tunnel settings.
pub fn attr_options(
    what: &str,
    model: &crate::nn::Model,
    m: Map,
    labels: Option<Vec<usize>>,
) -> RResult<(AttrOptions, Option<NoiseSpec>, Opts)> {
    let mut o = Opts::new(what, m);
    let labels = match o.raw("labels") {
        Some(l) => Some(indices(&l, "labels")?),
        None => labels,
    };
    let target = target_of(o.raw("target"), labels)?;
    let name = o.opt_string("layer")?;
    let input = match o.raw("layer_input") {
        Some(d) => Some(d.as_bool().or_else(|_| {
            err(format!(
                "{what} option 'layer_input': expected true or false"
            ))
        })?),
        None => None,
    };
    // Without a layer, the paper's layer for this model (input or output as the paper used it).
    let layer = match name {
        Some(name) => Some(LayerRef {
            name,
            input: input.unwrap_or(false),
        }),
        None => model.cam_layer.clone().map(|l| LayerRef {
            input: input.unwrap_or(l.input),
            ..l
        }),
    };
    let baseline = match o.raw("baseline") {
        Some(b) => Some(tensor_arg(&b, "baseline")?),
        None => None,
    };
    // Every default is AttrOptions::default()'s; only what is given changes.
    let d = AttrOptions::default();
    let opts = AttrOptions {
        target,
        abs: o.bool("abs", d.abs)?,
        baseline,
        layer,
        relu: o.bool("relu", d.relu)?,
        upsample: match o.raw("upsample") {
            None => d.upsample,
            Some(v) if v.as_bool() == Ok(false) => None,
            Some(v) => match v.into_string() {
                Ok(s) => Some(Mode::parse(&s).rh()?),
                Err(t) => {
                    return err(format!(
                        "{what} option 'upsample': \"bilinear\", \"nearest\" or false (the map at the layer's size), got {t}"
                    ));
                }
            },
        },
        ig_steps: o.usize("steps", d.ig_steps)?,
        ig_method: match o.opt_string("ig_method")? {
            Some(s) => IgMethod::parse(&s).rh()?,
            None => d.ig_method,
        },
        internal_batch: o.usize("internal_batch", d.internal_batch)?,
        chunk: o.usize("chunk", d.chunk)?,
    };
    let noise = match o.opt_string("method")? {
        Some(base) => {
            let base = Method::parse(&base).rh()?;
            let kind = NoiseKind::parse(&o.string("nt_type", "smoothgrad")?).rh()?;
            Some((base, kind, o.usize("samples", 5)?, o.f64("stdev", 1.0)?))
        }
        None => None,
    };
    Ok((opts, noise, o))
}

fn run(
    net: &Net,
    x: &candle_core::Tensor,
    method: &str,
    m: Map,
    labels: Option<Vec<usize>>,
) -> RResult<ScriptTensor> {
    let (opts, noise, o) = attr_options("attribute", &net.0, m, labels)?;
    if method.eq_ignore_ascii_case("NoiseTunnel") {
        let Some((base, kind, samples, stdev)) = noise else {
            return err(
                "NoiseTunnel needs the method to smooth: #{method: \"Saliency\", nt_type: \"smoothgrad\", samples: 5, stdev: 1.0}",
            );
        };
        o.finish()?;
        return noise_tunnel(&net.0, x, base, &opts, kind, samples, stdev)
            .map(ScriptTensor)
            .rh();
    }
    if noise.is_some() {
        return err("the options method/nt_type/samples/stdev belong to \"NoiseTunnel\"");
    }
    o.finish()?;
    let method = Method::parse(method).rh()?;
    attribute(&net.0, x, method, &opts).map(ScriptTensor).rh()
}

pub fn register(r: &mut Registrar) {
    r.doc(Cat, "attribute", "attribute(net, x_or_dataset, method, #{target, labels, baseline, layer, layer_input, relu, upsample, abs, steps, ig_method, internal_batch, chunk}) -> Tensor",
        "Heatmaps, one per sample, matching Captum: Saliency (signed; abs: true = Captum's default), InputXGradient, LayerGradCam (paper layer by default), Deconvolution, GuidedBackprop, DeepLift (per-sample, zero baseline), IntegratedGradients, NoiseTunnel (#{method, nt_type, samples, stdev}). target: the prediction (default), a class, one per sample, or \"label\". LayerGradCam's map is brought to the input's size (upsample: \"bilinear\", default, or \"nearest\"); upsample: false returns it at the layer's size, (N, 1, …), as Captum's LayerGradCam does.")
        .example_is("let b = load_drybean().head(4); attribute(drybean_fpa(), b.x, \"Saliency\").shape", "[4, 16]");
    r.engine
        .register_fn("attribute", |n: Net, x: ScriptTensor, method: &str| {
            run(&n, &x.0, method, Map::new(), None)
        });
    r.engine.register_fn(
        "attribute",
        |n: Net, x: ScriptTensor, method: &str, m: Map| run(&n, &x.0, method, m, None),
    );
    r.engine
        .register_fn("attribute", |n: Net, d: Dataset, method: &str| {
            run(&n, &d.x().rh()?, method, Map::new(), Some(d.y.clone()))
        });
    r.engine
        .register_fn("attribute", |n: Net, d: Dataset, method: &str, m: Map| {
            run(&n, &d.x().rh()?, method, m, Some(d.y.clone()))
        });

    r.doc(Cat, "methods", "methods() -> array", "The six attribution methods of the paper, in its order.")
        .example_is("methods()", "[\"Saliency\", \"InputXGradient\", \"LayerGradCam\", \"Deconvolution\", \"GuidedBackprop\", \"DeepLift\"]");
    r.engine.register_fn("methods", || {
        Method::PAPER
            .iter()
            .map(|m| Dynamic::from(m.name().to_string()))
            .collect::<Array>()
    });

    r.doc(Cat, "normalize", "h.normalize() -> Tensor | normalize(mean, std) -> Transform",
        "For a heatmap: h / max|h| per sample over all channels and positions (an all-zero heatmap stays zero, never NaN). With two arguments: the per-channel image transform (x - mean)/std.")
        .example_is("tensor([[1, -2], [0, 0]]).normalize()", "tensor([[ 0.5000, -1.0000],\n        [ 0.0000,  0.0000]])");
    r.engine.register_fn(
        "normalize",
        |h: &mut ScriptTensor| -> RResult<ScriptTensor> {
            normalize(&crate::tensor::ops::as_float(&h.0).rh()?)
                .map(|(t, _)| ScriptTensor(t))
                .rh()
        },
    );
    r.doc(
        Cat,
        "zero_maps",
        "h.zero_maps() -> int",
        "How many samples have an all-zero heatmap (they normalise to zero).",
    )
    .example_is("tensor([[1, -2], [0, 0]]).zero_maps()", "1");
    r.engine
        .register_fn("zero_maps", |h: &mut ScriptTensor| -> RResult<i64> {
            normalize(&crate::tensor::ops::as_float(&h.0).rh()?)
                .map(|(_, z)| z as i64)
                .rh()
        });
}
