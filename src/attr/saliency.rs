//! Saliency: the gradient ∂y_t/∂x. Signed by default, as the paper uses it (`abs=False`);
//! `abs` gives Captum's default |∂y_t/∂x|.

use super::gradient::gradient;
use crate::error::Result;
use crate::nn::{Model, Rule};
use candle_core::Tensor;

/// The heatmaps and the logits of the forward pass they came from.
pub fn saliency(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
    abs: bool,
) -> Result<(Tensor, Tensor)> {
    let g = gradient(model, x, targets, Rule::Plain, 0)?;
    Ok((if abs { g.grad.abs()? } else { g.grad }, g.logits))
}
