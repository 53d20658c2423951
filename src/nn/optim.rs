//! Adam exactly as PyTorch's single-tensor implementation computes it (METHOD.md §4.2b):
//! m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g²; p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε).
//! Weight decay, when set, is PyTorch's L2 form (g ← g + λp), not AdamW's.

use crate::error::Result;
use candle_core::{Tensor, Var, backprop::GradStore};

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    /// PyTorch's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay).
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

struct Slot {
    var: Var,
    m: Tensor,
    v: Tensor,
}

pub struct Adam {
    pub config: AdamConfig,
    slots: Vec<Slot>,
    step: i32,
}

impl Adam {
    pub fn new(vars: Vec<Var>, config: AdamConfig) -> Result<Adam> {
        let slots = vars
            .into_iter()
            .map(|var| {
                Ok(Slot {
                    m: var.zeros_like()?,
                    v: var.zeros_like()?,
                    var,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Adam {
            config,
            slots,
            step: 0,
        })
    }

    /// One update from the gradients of a backward pass (parameters without a gradient are
    /// left alone, as PyTorch skips `p.grad is None`).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let c = self.config;
        let bc1 = 1.0 - c.beta1.powi(self.step);
        let bc2_sqrt = (1.0 - c.beta2.powi(self.step)).sqrt();
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else {
                continue;
            };
            let g = if c.weight_decay != 0.0 {
                (g + (s.var.as_tensor() * c.weight_decay)?)?
            } else {
                g.clone()
            };
            s.m = (&s.m + ((&g - &s.m)? * (1.0 - c.beta1))?)?;
            s.v = ((&s.v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            // A true division, as torch computes it (candle's `t / f64` multiplies by 1/x).
            let bc2 = Tensor::new(bc2_sqrt, s.v.device())?.to_dtype(s.v.dtype())?;
            let denom = (s.v.sqrt()?.broadcast_div(&bc2)? + c.eps)?;
            let update = (s.m.broadcast_div(&denom)? * (c.lr / bc1))?;
            crate::tensor::assign(&s.var, &(s.var.as_tensor() - update)?)?;
        }
        Ok(())
    }
}
