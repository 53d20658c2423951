//! InputXGradient: x ⊙ ∂y_t/∂x.

use super::gradient::gradient;
use crate::error::Result;
use crate::nn::{Model, Rule};
use candle_core::Tensor;

pub fn input_x_gradient(model: &Model, x: &Tensor, targets: Option<&[usize]>) -> Result<Tensor> {
    let g = gradient(model, x, targets, Rule::Plain, 0)?.grad;
    Ok((x.to_dtype(g.dtype())? * g)?)
}
