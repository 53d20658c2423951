//! y = x·scale[c] + shift[c] per channel of (N, C, …): batch-norm in eval mode as one pass, the
//! way PyTorch's CPU inference kernel computes it (α = w/√(var+ε), β = b − mean·α). Its backward
//! is dx = dy·scale; the constants get no gradient (eval mode never trains them).

use super::cpu::Floats;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use num_traits::Float;

struct ChannelAffine {
    scale: Vec<f64>,
    shift: Vec<f64>,
    /// Multiply only (the backward of the op).
    backward: bool,
}

impl ChannelAffine {
    fn run<T: Float + Send + Sync + Default>(&self, x: &[T], l: &Layout) -> Vec<T> {
        let dims = l.dims();
        let c = dims[1];
        let inner = dims[2..].iter().product::<usize>().max(1);
        super::cpu::filled_par(x.len(), inner, |offset, out| {
            let planes = out.chunks_mut(inner).zip(x[offset..].chunks(inner));
            for (i, (dst, src)) in planes.enumerate() {
                let ch = (offset / inner + i) % c;
                let s = T::from(self.scale[ch]).unwrap_or(T::one());
                if self.backward {
                    dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v * s);
                } else {
                    let b = T::from(self.shift[ch]).unwrap_or(T::zero());
                    dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v * s + b);
                }
            }
        })
    }
}

impl CustomOp1 for ChannelAffine {
    fn name(&self) -> &'static str {
        "channel-affine"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        if l.dims().len() < 2 || l.dims()[1] != self.scale.len() {
            candle_core::bail!(
                "channel affine: {} channels for input {:?}",
                self.scale.len(),
                l.dims()
            );
        }
        let out = match super::cpu::floats(s, l, "channel affine")? {
            Floats::F32(x) => CpuStorage::F32(self.run(x, l)),
            Floats::F64(x) => CpuStorage::F64(self.run(x, l)),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let op = ChannelAffine {
            scale: self.scale.clone(),
            shift: vec![],
            backward: true,
        };
        Ok(Some(grad.contiguous()?.apply_op1(op)?))
    }
}

/// x·scale[c] + shift[c] over channel axis 1.
pub fn channel_affine(x: &Tensor, scale: Vec<f64>, shift: Vec<f64>) -> Result<Tensor> {
    if super::portable::enabled(x) {
        return super::portable::channel_affine(x, &scale, &shift);
    }
    x.contiguous()?.apply_op1(ChannelAffine {
        scale,
        shift,
        backward: false,
    })
}
