//! Layer Grad-CAM (Captum's `LayerGradCam`): for a layer activation A with gradient G = ∂y_t/∂A,
//! the map Σ_c mean_spatial(G_c)·A_c, without ReLU unless asked (`relu_attributions=False` is
//! Captum's default and the paper's setting), then brought to the input's size with PyTorch's
//! interpolation and replicated over the input channels so it can be added to x.
//!
//! For the FPA models the paper captures the *input* of `fpa.fconvs.0` (the unsqueezed sample),
//! which gives the closed form LGC = x · mean_j(∂y_t/∂x_j) (METHOD.md §4.2).

use super::gradient::layer_gradient;
use crate::error::{Error, Result};
use crate::nn::{LayerRef, Model};
use crate::tensor::resize::{Mode, resize};
use candle_core::Tensor;

pub fn layer_gradcam(
    model: &Model,
    x: &Tensor,
    targets: Option<&[usize]>,
    layer: &LayerRef,
    relu: bool,
    upsample: Option<Mode>,
) -> Result<(Tensor, Tensor)> {
    let layer = &model.resolve_layer(layer)?;
    let which = if layer.input { "input" } else { "output" };
    let (captured, logits) = layer_gradient(model, x, targets, layer.clone())?;
    let cap = captured.ok_or_else(|| {
        Error::invalid(format!(
            "layer '{}' was not reached by the forward pass",
            layer.name
        ))
    })?;
    let act = cap.activation;
    let grad = match cap.hook.grad() {
        Some(gr) => gr,
        None => act.zeros_like()?, // the layer does not influence the output
    };
    if act.rank() < 2 {
        return Err(Error::invalid(format!(
            "Grad-CAM needs a layer {which} of shape (N, C, …), got {:?}",
            act.dims()
        )));
    }
    let spatial: Vec<usize> = (2..act.rank()).collect();
    let weights = if spatial.is_empty() {
        grad
    } else {
        grad.mean_keepdim(spatial.as_slice())?
    };
    let map = weights.broadcast_mul(&act)?.sum_keepdim(1)?;
    let map = if relu { map.relu()? } else { map };
    let maps = match upsample {
        Some(mode) => to_input_shape(&map, x, mode)?,
        None => map.to_dtype(x.dtype())?,
    };
    Ok((maps, logits))
}

/// Bring a (N, 1, …) map to the input's shape.
fn to_input_shape(map: &Tensor, x: &Tensor, mode: Mode) -> Result<Tensor> {
    let (n, xd) = (x.dim(0)?, x.dims().to_vec());
    let md = map.dims().to_vec();
    let out = match (xd.len(), md.len()) {
        // Tabular input, 1-D map (FPA: the map over the d features).
        (2, 3) => {
            let l = md[2];
            let m = if l == xd[1] {
                map.clone()
            } else {
                resize(&map.unsqueeze(2)?, 1, xd[1], mode)?.squeeze(2)?
            };
            m.reshape((n, xd[1]))?
        }
        // Images: resize to H×W, replicate over channels.
        (4, 4) => resize(map, xd[2], xd[3], mode)?
            .broadcast_as(xd.as_slice())?
            .contiguous()?,
        // A map without spatial extent: one value per sample, spread over the input.
        (_, 2) => map
            .reshape((n, 1))?
            .broadcast_as((n, x.elem_count() / n))?
            .reshape(xd.as_slice())?
            .contiguous()?,
        _ => {
            return Err(Error::invalid(format!(
                "cannot bring a Grad-CAM map of shape {md:?} to the input shape {xd:?}; choose a convolutional layer"
            )));
        }
    };
    Ok(out.to_dtype(x.dtype())?)
}
