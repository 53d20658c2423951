//! Guided Backpropagation (Springenberg et al.): every ReLU passes relu(grad)·1[x > 0]; other
//! nonlinearities keep their true gradients, as in Captum.

use super::gradient::gradient;
use crate::error::Result;
use crate::nn::{Model, Rule};
use candle_core::Tensor;

/// The heatmaps and the logits of the forward pass they came from.
pub fn guided_backprop(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
) -> Result<(Tensor, Tensor)> {
    let g = gradient(model, x, targets, Rule::GuidedBackprop, 0)?;
    Ok((g.grad, g.logits))
}
