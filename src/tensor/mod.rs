//! Helpers over candle: what candle lacks or does differently from PyTorch.

pub mod affine;
pub mod conv;
pub mod cpu;
pub mod format;
pub mod geometry;
pub mod grad_hook;
pub mod ops;
pub mod pool;
pub mod portable;
pub mod products;
pub mod random;
pub mod resize;
pub mod shape;
pub mod simd;
mod streamed;
mod thin;
mod winograd;

/// Overwrites a weight (or any variable) in place. The one place that does: convolutions keep
/// their kernels' Winograd transforms between calls, and this tells them every kept one is stale.
pub fn assign(var: &candle_core::Var, value: &candle_core::Tensor) -> candle_core::Result<()> {
    var.set(value)?;
    weights_changed();
    Ok(())
}

/// Tells the convolutions that weights were overwritten (by [`assign`], or in place by the
/// optimizer's own kernel, `nn/optim.rs`): every kept Winograd transform is stale.
pub fn weights_changed() {
    winograd::kept::weights_changed();
}

#[cfg(test)]
pub mod testing;
