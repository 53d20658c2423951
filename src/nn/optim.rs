//! Adam exactly as PyTorch's single-tensor implementation computes it (METHOD.md §4.2b):
//! m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g·g; p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε).
//! Weight decay, when set, is PyTorch's L2 form (g ← g + λp), not AdamW's.
//!
//! [`update`] is the arithmetic, the one home of it: the training loop's [`Adam`] runs it in
//! place on each parameter's CPU buffer, and GAX (`gax/ops.rs`) on its flat f64 state. Off the
//! CPU (and under `GAXSH_PORTABLE_OPS`) [`Adam`] takes the same steps as tensor ops.

use crate::error::Result;
use candle_core::{CpuStorage, InplaceOp2, Layout, Tensor, Var, backprop::GradStore};
use num_traits::{AsPrimitive, Float};
use std::cell::RefCell;

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

/// The scalars of step `t` (1-based), computed in f64 as Python computes them; the kernels
/// round them to the parameter's float type, as torch does with a Python scalar.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    config: AdamConfig,
    /// √(1 − β2^t).
    bias_correction2_sqrt: f64,
    /// lr / (1 − β1^t).
    step_size: f64,
}

impl AdamStep {
    pub fn new(config: AdamConfig, t: i32) -> Self {
        AdamStep {
            config,
            bias_correction2_sqrt: (1.0 - config.beta2.powi(t)).sqrt(),
            step_size: config.lr / (1.0 - config.beta1.powi(t)),
        }
    }
}

/// One Adam update of a flat parameter `p` with gradient `g` and moments `m`, `v`, in place,
/// in the operand order of torch's `lerp_`, `mul_(β2).addcmul_` and the bias-corrected
/// denominator. All four slices have one length.
pub fn update<T>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], s: &AdamStep)
where
    T: Float + Send + Sync + 'static,
    f64: AsPrimitive<T>,
{
    use rayon::prelude::*;
    let c = s.config;
    let k = Scalars {
        one_minus_b1: (1.0 - c.beta1).as_(),
        b2: c.beta2.as_(),
        one_minus_b2: (1.0 - c.beta2).as_(),
        eps: c.eps.as_(),
        weight_decay: (c.weight_decay != 0.0).then(|| c.weight_decay.as_()),
        bias_correction2_sqrt: s.bias_correction2_sqrt.as_(),
        step_size: s.step_size.as_(),
    };
    // Memory-bound: one pass over four buffers, split over the compute threads when large.
    let piece = crate::tensor::cpu::piece_len(p.len());
    p.par_chunks_mut(piece)
        .zip(g.par_chunks(piece))
        .zip(m.par_chunks_mut(piece))
        .zip(v.par_chunks_mut(piece))
        .for_each(|(((p, g), m), v)| update_piece(p, g, m, v, &k));
}

/// [`AdamStep`] rounded to the parameter's float type.
struct Scalars<T> {
    one_minus_b1: T,
    b2: T,
    one_minus_b2: T,
    eps: T,
    weight_decay: Option<T>,
    bias_correction2_sqrt: T,
    step_size: T,
}

crate::avx2_dispatch!(fn update_piece<T: Float>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], k: &Scalars<T>) => update_piece_impl);

#[inline(always)]
fn update_piece_impl<T: Float>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], k: &Scalars<T>) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = match k.weight_decay {
            Some(wd) => g + *p * wd,
            None => g,
        };
        *m = *m + (g - *m) * k.one_minus_b1;
        *v = *v * k.b2 + k.one_minus_b2 * g * g;
        let denom = v.sqrt() / k.bias_correction2_sqrt + k.eps;
        *p = *p - *m / denom * k.step_size;
    }
}

/// A parameter's moments.
enum Moments {
    /// f32 and f64 on the CPU: buffers of the parameter's type, updated with it in one pass.
    Host(HostMoments),
    /// Elsewhere (and other dtypes): tensors beside the parameter, updated by tensor ops.
    Tensors { m: Tensor, v: Tensor },
}

enum HostMoments {
    F32(Vec<f32>, Vec<f32>),
    F64(Vec<f64>, Vec<f64>),
}

struct Slot {
    var: Var,
    moments: Moments,
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
                let n = var.elem_count();
                let on_host = !crate::tensor::portable::enabled(var.as_tensor());
                let moments = match var.dtype() {
                    candle_core::DType::F32 if on_host => {
                        Moments::Host(HostMoments::F32(vec![0.0; n], vec![0.0; n]))
                    }
                    candle_core::DType::F64 if on_host => {
                        Moments::Host(HostMoments::F64(vec![0.0; n], vec![0.0; n]))
                    }
                    _ => Moments::Tensors {
                        m: var.zeros_like()?,
                        v: var.zeros_like()?,
                    },
                };
                Ok(Slot { var, moments })
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
        let s = AdamStep::new(self.config, self.step);
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            match &mut slot.moments {
                Moments::Host(moments) => {
                    let op = InPlace {
                        moments: RefCell::new(moments),
                        step: s,
                    };
                    slot.var.as_tensor().inplace_op2(&g.contiguous()?, &op)?;
                }
                Moments::Tensors { m, v } => {
                    let p;
                    (*m, *v, p) = tensor_update(slot.var.as_tensor(), g, m, v, &s)?;
                    crate::tensor::assign(&slot.var, &p)?;
                }
            }
        }
        crate::tensor::weights_changed();
        Ok(())
    }
}

/// [`update`] as tensor ops, for parameters off the CPU: the new (m, v, p).
fn tensor_update(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    s: &AdamStep,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let c = s.config;
    let g = if c.weight_decay != 0.0 {
        (g + (p * c.weight_decay)?)?
    } else {
        g.clone()
    };
    let m = (m + ((&g - m)? * (1.0 - c.beta1))?)?;
    let v = ((v * c.beta2)? + ((&g * (1.0 - c.beta2))? * &g)?)?;
    // A true division, as torch computes it (candle's `t / f64` multiplies by 1/x).
    let bc2 = Tensor::new(s.bias_correction2_sqrt, v.device())?.to_dtype(v.dtype())?;
    let denom = (v.sqrt()?.broadcast_div(&bc2)? + c.eps)?;
    let p = (p - (m.broadcast_div(&denom)? * s.step_size)?)?;
    Ok((m, v, p))
}

/// [`update`] on a parameter's own buffer (the gradient is the op's second operand).
struct InPlace<'a> {
    moments: RefCell<&'a mut HostMoments>,
    step: AdamStep,
}

impl InplaceOp2 for InPlace<'_> {
    fn name(&self) -> &'static str {
        "adam-step"
    }

    fn cpu_fwd(
        &self,
        p: &mut CpuStorage,
        lp: &Layout,
        g: &CpuStorage,
        lg: &Layout,
    ) -> candle_core::Result<()> {
        let (Some((p0, p1)), Some((g0, g1))) = (lp.contiguous_offsets(), lg.contiguous_offsets())
        else {
            candle_core::bail!("adam-step: parameter and gradient must be contiguous");
        };
        let mut moments = self.moments.borrow_mut();
        let same_len = |m: usize| p1 - p0 == g1 - g0 && m == p1 - p0;
        match (p, g, &mut **moments) {
            (CpuStorage::F32(p), CpuStorage::F32(g), HostMoments::F32(m, v))
                if same_len(m.len()) =>
            {
                update(&mut p[p0..p1], &g[g0..g1], m, v, &self.step)
            }
            (CpuStorage::F64(p), CpuStorage::F64(g), HostMoments::F64(m, v))
                if same_len(m.len()) =>
            {
                update(&mut p[p0..p1], &g[g0..g1], m, v, &self.step)
            }
            _ => candle_core::bail!(
                "adam-step: parameter, gradient and moments differ in float type or length"
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::rand;

    /// The in-place kernel against the tensor-op path, over three steps with weight decay, in
    /// f32 and f64: the same arithmetic in the same order, so equal to the last bit.
    #[test]
    fn in_place_steps_match_the_tensor_ops() {
        let config = AdamConfig {
            lr: 0.01,
            weight_decay: 0.1,
            ..AdamConfig::default()
        };
        for dtype in [candle_core::DType::F32, candle_core::DType::F64] {
            let p0 = rand(&[4, 5, 3], 1).to_dtype(dtype).unwrap();
            let var = Var::from_tensor(&p0).unwrap();
            let mut adam = Adam::new(vec![var.clone()], config).unwrap();
            assert!(
                matches!(adam.slots[0].moments, Moments::Host(_))
                    || crate::tensor::portable::enabled(&p0)
            );
            let (mut p, mut m, mut v) = (
                p0.clone(),
                p0.zeros_like().unwrap(),
                p0.zeros_like().unwrap(),
            );
            for t in 1..=3 {
                let g = rand(&[4, 5, 3], 10 + t).to_dtype(dtype).unwrap();
                let loss = (var.as_tensor() * &g).unwrap().sum_all().unwrap();
                adam.step(&loss.backward().unwrap()).unwrap();
                (m, v, p) =
                    tensor_update(&p, &g, &m, &v, &AdamStep::new(config, t as i32)).unwrap();
                let values = |t: &Tensor| {
                    let t = t.flatten_all().unwrap().to_dtype(candle_core::DType::F64);
                    t.unwrap().to_vec1::<f64>().unwrap()
                };
                let (got, want) = (values(var.as_tensor()), values(&p));
                assert_eq!(got, want, "{dtype:?} step {t}");
            }
        }
    }
}
