//! Guided Backpropagation (Springenberg et al.): every ReLU passes relu(grad)·1[x > 0]; other
//! nonlinearities keep their true gradients, as in Captum.

use super::gradient::gradient;
use crate::error::Result;
use crate::nn::{Model, Rule};
use candle_core::Tensor;

pub fn guided_backprop(model: &Model, x: &Tensor, targets: Option<&[usize]>) -> Result<Tensor> {
    Ok(gradient(model, x, targets, Rule::GuidedBackprop, 0)?.grad)
}
