//! The gradient every method builds on: ∂(Σ_i y_{i, t_i})/∂x for a batch, with the chosen
//! backward rule at the activation sites and, optionally, a layer's activation and gradient.
//! Samples do not interact (batch-norm runs in eval mode), so row i of the result is the
//! gradient of sample i's own target output.

use crate::error::Result;
use crate::nn::pass::Captured;
use crate::nn::{LayerRef, Model, Pass, Rule};
use candle_core::{Tensor, Var};

/// What one forward/backward pass to the input gives.
pub struct Gradient {
    /// ∂objective/∂x, the input's shape.
    pub grad: Tensor,
    /// The logits of the pass.
    pub logits: Tensor,
}

/// A (B, C) mask with 1 at each row's target.
pub fn one_hot(targets: &[usize], classes: usize, like: &Tensor) -> Result<Tensor> {
    let mut v = vec![0f64; targets.len() * classes];
    for (i, &t) in targets.iter().enumerate() {
        v[i * classes + t] = 1.0;
    }
    Ok(Tensor::from_vec(v, (targets.len(), classes), like.device())?.to_dtype(like.dtype())?)
}

/// Run the model on `x` with `rule` and back-propagate the targets' outputs; `None` targets the
/// model's prediction, read from this same forward pass (the rules change only the backward
/// pass, so no separate forward is needed). For [`Rule::DeepLift`], `x` holds B inputs then B
/// baselines and `samples` is B; predictions are those of the inputs, shared by their baselines.
pub fn gradient(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
    rule: Rule,
    samples: usize,
) -> Result<Gradient> {
    let var = Var::from_tensor(&x.to_dtype(model.dtype)?)?;
    let mut pass = Pass::eval(rule);
    pass.samples = samples;
    let (logits, grads) = backward_from_targets(model, var.as_tensor(), targets, &mut pass)?;
    let grad = match grads.get(var.as_tensor()) {
        Some(g) => g.clone(),
        // No path from the input to the output (cannot happen for real models): zero gradient.
        None => var.as_tensor().zeros_like()?,
    };
    Ok(Gradient { grad, logits })
}

/// The gradient of the targets' outputs at one layer (plain rule): the input is not a variable,
/// so backward stops at the layer instead of running on to the input — for a late layer such
/// as ResNet's `layer4`, most of a backward pass saved. `None` when the forward pass never
/// reached the layer. With the logits of the pass.
pub fn layer_gradient(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
    layer: LayerRef,
) -> Result<(Option<Captured>, Tensor)> {
    let mut pass = Pass::eval(Rule::Plain).with_capture(Some(layer));
    let (logits, _) = backward_from_targets(model, &x.to_dtype(model.dtype)?, targets, &mut pass)?;
    Ok((pass.captured, logits))
}

/// The forward pass and the backward pass of Σ_i y_{i, t_i}.
fn backward_from_targets(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
    pass: &mut Pass,
) -> Result<(Tensor, candle_core::backprop::GradStore)> {
    let logits = model.forward(x, pass)?;
    let predicted: Vec<usize>;
    let targets = match targets {
        Some(t) => t,
        None => {
            let deeplift = pass.rule == Rule::DeepLift;
            let rows = if deeplift {
                pass.samples
            } else {
                logits.dim(0)?
            };
            let p: Vec<usize> = logits
                .narrow(0, 0, rows)?
                .argmax(1)?
                .to_vec1::<u32>()?
                .into_iter()
                .map(|v| v as usize)
                .collect();
            predicted = if deeplift {
                p.iter().chain(&p).copied().collect()
            } else {
                p
            };
            &predicted
        }
    };
    let objective = (&logits * one_hot(targets, model.classes, &logits)?)?.sum_all()?;
    let grads = objective.backward()?;
    Ok((logits.detach(), grads))
}
