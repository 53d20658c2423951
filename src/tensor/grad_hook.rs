//! Capture the gradient flowing through an intermediate tensor.
//!
//! candle's `GradStore` drops the gradients of intermediate tensors during `backward`, and
//! Grad-CAM needs ∂y/∂A for a layer activation A. The hook is an identity op whose backward
//! records the incoming gradient and passes it on unchanged.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct GradHook(Arc<Mutex<Option<Tensor>>>);

impl GradHook {
    pub fn new() -> Self {
        Self::default()
    }

    /// `t`, unchanged, with the hook in its backward path.
    pub fn attach(&self, t: &Tensor) -> Result<Tensor> {
        t.contiguous()?.apply_op1(self.clone())
    }

    /// The gradient recorded by the last backward pass, if it reached the hook.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl CustomOp1 for GradHook {
    fn name(&self) -> &'static str {
        "grad-hook"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        super::portable::copy_storage(s, l)
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::portable::copy_storage(s, l)
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(grad.clone());
        Ok(Some(grad.clone()))
    }
}
