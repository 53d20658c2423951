//! InputXGradient: x ⊙ ∂y_t/∂x.

use super::gradient::gradient;
use crate::error::Result;
use crate::nn::{Model, Rule};
use candle_core::Tensor;

/// The heatmaps and the logits of the forward pass they came from.
pub fn input_x_gradient(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
) -> Result<(Tensor, Tensor)> {
    let g = gradient(model, x, targets, Rule::Plain, 0)?;
    Ok(((x.to_dtype(g.grad.dtype())? * g.grad)?, g.logits))
}
