//! Deconvolution (Zeiler & Fergus): back-propagation in which every ReLU passes relu(grad),
//! ignoring its forward mask. Other nonlinearities (LeakyReLU, ReLU6, softmax, max-pool) keep
//! their true gradients, as in Captum.

use super::gradient::gradient;
use crate::error::Result;
use crate::nn::{Model, Rule};
use candle_core::Tensor;

/// The heatmaps and the logits of the forward pass they came from.
pub fn deconvolution(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
) -> Result<(Tensor, Tensor)> {
    let g = gradient(model, x, targets, Rule::Deconvolution, 0)?;
    Ok((g.grad, g.logits))
}
