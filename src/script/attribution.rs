//! Script bindings: `attribute(net, x, "Method", #{…})` and heatmap normalisation.

use super::convert::ScriptTensor as T;
use super::convert::*;
use super::models::Net;
use super::registry::{Category::Attribution as Cat, FnDoc, Registrar, func, options_fn};
use crate::attr::{AttrOptions, Method, attribute_named, normalize};
use crate::data::Dataset;
use crate::options::Options;
use candle_core::Tensor;
use rhai::{Dynamic, Map};

/// `attribute`'s options; a dataset's labels are the default `labels`.
pub fn attr_options(what: &str, m: &Map, labels: Option<&[usize]>) -> RResult<AttrOptions> {
    let mut o: AttrOptions = read_options(what, m)?;
    if o.labels.is_none() {
        o.labels = labels.map(<[usize]>::to_vec);
    }
    Ok(o)
}

fn run(net: &Net, x: &Tensor, method: &str, m: Map, labels: Option<&[usize]>) -> RResult<T> {
    let opts = attr_options("attribute", &m, labels)?;
    attribute_named(&net.0, x, method, &opts).map(T).rh()
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(Cat, "attribute", "attribute(net, x_or_dataset, method, #{target, labels, baseline, layer, layer_input, relu, upsample, abs, steps, ig_method, internal_batch, chunk}) -> Tensor", "Heatmaps, one per sample, matching Captum: Saliency (signed; abs: true = Captum's default), InputXGradient, LayerGradCam (paper layer by default), Deconvolution, GuidedBackprop, DeepLift (per-sample, zero baseline), IntegratedGradients, NoiseTunnel (#{method, nt_type, samples, stdev}). target: the prediction (default), a class, one per sample, or \"label\". LayerGradCam's map is brought to the input's size (upsample: \"bilinear\", default, or \"nearest\"); upsample: false returns it at the layer's size, (N, 1, …), as Captum's LayerGradCam does.")
        .options(|| AttrOptions::KEYS.to_vec()).example_is("let b = load_drybean().head(4); attribute(drybean_fpa(), b.x, \"Saliency\").shape", "[4, 16]"),
    func(Cat, "methods", "methods() -> array", "The six attribution methods of the paper, in its order.")
        .example_is("methods()", "[\"Saliency\", \"InputXGradient\", \"LayerGradCam\", \"Deconvolution\", \"GuidedBackprop\", \"DeepLift\"]"),
    func(Cat, "normalize", "h.normalize() -> Tensor | normalize(mean, std) -> Transform", "For a heatmap: h / max|h| per sample over all channels and positions (an all-zero heatmap stays zero, never NaN). With two arguments: the per-channel image transform (x - mean)/std.")
        .example_is("tensor([[1, -2], [0, 0]]).normalize()", "tensor([[ 0.5000, -1.0000],\n        [ 0.0000,  0.0000]])"),
    func(Cat, "zero_maps", "h.zero_maps() -> int", "How many samples have an all-zero heatmap (they normalise to zero).")
        .example_is("tensor([[1, -2], [0, 0]]).zero_maps()", "1"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    options_fn!(r, "attribute", fn(n: Net, x: T, method: &str; m) -> RResult<T> {
        run(&n, &x.0, method, m, None)
    });
    options_fn!(r, "attribute", fn(n: Net, d: Dataset, method: &str; m) -> RResult<T> {
        run(&n, &d.x().rh()?, method, m, Some(&d.y))
    });

    r.register_fn("methods", || {
        Method::PAPER
            .map(|m| Dynamic::from(m.name().to_string()))
            .to_vec()
    });
    fn normalized(h: &T) -> RResult<(candle_core::Tensor, usize)> {
        normalize(&crate::tensor::ops::as_float(&h.0).rh()?).rh()
    }
    r.register_fn("normalize", |h: &mut T| -> RResult<T> {
        Ok(T(normalized(h)?.0))
    });
    r.register_fn("zero_maps", |h: &mut T| -> RResult<i64> {
        Ok(normalized(h)?.1 as i64)
    });
}
