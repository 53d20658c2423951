//! DeepLift (rescale rule) as Captum computes it for one sample at a time: the batch
//! [inputs; baselines] runs once, the objective is y_t(x) + y_t(baseline), ReLU / LeakyReLU /
//! tanh / sigmoid rescale the gradient by Δout/Δin, softmax does so and subtracts the mean over
//! the input–baseline pair, everything else (max-pool, ReLU6, Q·Kᵀ) uses its ordinary gradient,
//! and the attribution is (x − baseline) ⊙ gradient on the input rows. Because the pair mean is
//! taken per sample, a batched call gives each sample's one-sample result (METHOD.md §4.2b).

use super::gradient::gradient;
use crate::error::Result;
use crate::nn::{Model, Rule};
use candle_core::Tensor;

/// The heatmaps and the logits of the inputs (the first half of the pass; the rules change only
/// the backward pass).
pub fn deeplift(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
    baseline: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    let b = x.dim(0)?;
    let x = x.to_dtype(model.dtype)?;
    let base = match baseline {
        Some(t) => t.to_dtype(model.dtype)?,
        None => x.zeros_like()?,
    };
    let both = Tensor::cat(&[&x, &base], 0)?;
    let doubled: Option<Vec<usize>> = targets.map(|t| t.iter().chain(t).copied().collect());
    let g = gradient(model, &both, doubled.as_deref(), Rule::DeepLift, b)?;
    let maps = ((&x - &base)? * g.grad.narrow(0, 0, b)?)?;
    Ok((maps, g.logits.narrow(0, 0, b)?))
}
