//! GAX's elementwise chains as single passes with their own backward (the step loop is small
//! tensors and many steps, where one op per arithmetic step would cost more than the arithmetic):
//! the generator h = tanh(w ⊙ x + b) and the similarity S = mean((h − x + ε)² / den) per sample.

use crate::tensor::cpu::Floats;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use num_traits::Float;

fn f64s(t: &Tensor) -> Result<Vec<f64>> {
    t.flatten_all()?
        .to_dtype(candle_core::DType::F64)?
        .to_vec1::<f64>()
}

fn to_storage(v: Vec<f64>, like: &CpuStorage) -> CpuStorage {
    match like {
        CpuStorage::F32(_) => CpuStorage::F32(v.into_iter().map(|x| x as f32).collect()),
        _ => CpuStorage::F64(v),
    }
}

fn read<T: Float>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64().unwrap_or(f64::NAN)).collect()
}

fn values(s: &CpuStorage, l: &Layout, op: &str) -> Result<Vec<f64>> {
    Ok(match crate::tensor::cpu::floats(s, l, op)? {
        Floats::F32(v) => read(v),
        Floats::F64(v) => read(v),
    })
}

/// h = tanh(w ⊙ x + b) with x fixed; gradients for w and b.
pub struct Generator {
    pub x: Vec<f64>,
}

impl CustomOp2 for Generator {
    fn name(&self) -> &'static str {
        "gax-generator"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (w, b) = (
            values(s1, l1, "gax generator")?,
            values(s2, l2, "gax generator")?,
        );
        let h: Vec<f64> = w
            .iter()
            .zip(&b)
            .zip(&self.x)
            .map(|((w, b), x)| (w * x + b).tanh())
            .collect();
        Ok((to_storage(h, s1), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _w: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (h, g) = (f64s(res)?, f64s(grad)?);
        let db: Vec<f64> = h.iter().zip(&g).map(|(h, g)| g * (1.0 - h * h)).collect();
        let dw: Vec<f64> = db.iter().zip(&self.x).map(|(d, x)| d * x).collect();
        let mk =
            |v: Vec<f64>| Tensor::from_vec(v, res.shape(), res.device())?.to_dtype(res.dtype());
        Ok((Some(mk(dw)?), Some(mk(db)?)))
    }
}

/// S_i = mean over sample i of (h − x + ε)² / den, for `rows` samples.
#[derive(Clone)]
pub struct Similarity {
    pub x: Vec<f64>,
    pub den: Vec<f64>,
    pub eps: f64,
    pub rows: usize,
}

impl CustomOp1 for Similarity {
    fn name(&self) -> &'static str {
        "gax-similarity"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let h = values(s, l, "gax similarity")?;
        let per = h.len() / self.rows.max(1);
        let out: Vec<f64> = (0..self.rows)
            .map(|i| {
                let r = i * per..(i + 1) * per;
                h[r.clone()]
                    .iter()
                    .zip(&self.x[r.clone()])
                    .zip(&self.den[r])
                    .map(|((h, x), d)| (h - x + self.eps).powi(2) / d)
                    .sum::<f64>()
                    / per as f64
            })
            .collect();
        Ok((to_storage(out, s), Shape::from(self.rows)))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (h, g) = (f64s(arg)?, f64s(grad)?);
        let per = h.len() / self.rows.max(1);
        let dh: Vec<f64> = (0..h.len())
            .map(|k| g[k / per] * 2.0 * (h[k] - self.x[k] + self.eps) / self.den[k] / per as f64)
            .collect();
        Ok(Some(
            Tensor::from_vec(dh, arg.shape(), arg.device())?.to_dtype(arg.dtype())?,
        ))
    }
}

/// The generator and similarity as tensor ops with candle's autograd, for devices without the
/// fused kernels (`tensor/portable.rs`): same formulas, in the model's dtype rather than f64.
pub mod portable {
    use candle_core::{Result, Tensor};

    /// h = tanh(w ⊙ x + b), or tanh(w ⊙ x) without a bias.
    pub fn generator(w: &Tensor, b: Option<&Tensor>, x: &Tensor) -> Result<Tensor> {
        let wx = (w * x.to_dtype(w.dtype())?)?;
        match b {
            Some(b) => (wx + b)?.tanh(),
            None => wx.tanh(),
        }
    }

    /// S_i = mean over sample i of (h − x + ε)² / (x + ε), with |x| when `use_abs`.
    pub fn similarity(h: &Tensor, x: &Tensor, use_abs: bool, eps: f64) -> Result<Tensor> {
        let x = x.to_dtype(h.dtype())?;
        let den = (if use_abs { x.abs()? } else { x.clone() } + eps)?;
        let terms = ((h - &x)? + eps)?.sqr()?.div(&den)?;
        terms.flatten_from(1)?.mean(1)
    }
}

/// PyTorch's single-tensor Adam (`nn::optim::update`) on a flat parameter, state kept in f64.
pub struct AdamState {
    pub m: Vec<f64>,
    pub v: Vec<f64>,
}

impl AdamState {
    pub fn new(n: usize) -> Self {
        AdamState {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// Update `p` by gradient `g` at step `t` (1-based).
    pub fn step(&mut self, p: &mut [f64], g: &[f64], t: i32, o: &super::GaxOptions) {
        let config = crate::nn::optim::AdamConfig {
            lr: o.lr,
            beta1: o.beta1,
            beta2: o.beta2,
            eps: o.eps,
            weight_decay: 0.0,
        };
        let step = crate::nn::optim::AdamStep::new(config, t);
        crate::nn::optim::update(p, g, &mut self.m, &mut self.v, &step);
    }

    /// Keep only the rows `keep` (each `per` long).
    pub fn keep(&mut self, keep: &[usize], per: usize) {
        self.m = keep
            .iter()
            .flat_map(|&r| self.m[r * per..(r + 1) * per].to_vec())
            .collect();
        self.v = keep
            .iter()
            .flat_map(|&r| self.v[r * per..(r + 1) * per].to_vec())
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::{agree, rand};

    /// The GPU's tensor-op steps against the fused kernels: values and gradients in f64.
    #[test]
    fn portable_steps_match_the_kernels() {
        let x = rand(&[3, 2, 4], 1);
        let xv = f64s(&x).unwrap();
        let (w, b) = (rand(&[3, 2, 4], 2), rand(&[3, 2, 4], 3));
        agree(
            &[w.clone(), b],
            |t| t[0].apply_op2(&t[1], Generator { x: xv.clone() }),
            |t| portable::generator(&t[0], Some(&t[1]), &x),
            (1e-14, 1e-14),
            "generator",
        );
        for use_abs in [true, false] {
            // Positive inputs where the denominator is x + ε itself.
            let x = if use_abs { x.clone() } else { x.abs().unwrap() };
            let xv = f64s(&x).unwrap();
            let den: Vec<f64> = xv
                .iter()
                .map(|&v| if use_abs { v.abs() } else { v } + 1e-4)
                .collect();
            let kernel = Similarity {
                x: xv,
                den,
                eps: 1e-4,
                rows: 3,
            };
            agree(
                std::slice::from_ref(&w),
                |t| t[0].tanh()?.apply_op1(kernel.clone()),
                |t| portable::similarity(&t[0].tanh()?, &x, use_abs, 1e-4),
                (1e-12, 1e-12),
                &format!("similarity, use_abs {use_abs}"),
            );
        }
    }
}
