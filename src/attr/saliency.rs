//! Saliency: the gradient ∂y_t/∂x. Signed by default, as the paper uses it (`abs=False`);
//! `abs` gives Captum's default |∂y_t/∂x|.

use super::gradient::gradient;
use crate::error::Result;
use crate::nn::{Model, Rule};
use candle_core::Tensor;

pub fn saliency(model: &Model, x: &Tensor, targets: Option<&[usize]>, abs: bool) -> Result<Tensor> {
    let g = gradient(model, x, targets, Rule::Plain, 0)?.grad;
    Ok(if abs { g.abs()? } else { g })
}
