//! Rule-aware nonlinearities: every activation in a model is one application of this op, and its
//! backward pass follows the rule chosen for that call (plain gradient, Guided Backprop,
//! Deconvolution or DeepLift's rescale), so attribution methods never mutate the model and a
//! reused module can never confuse them (Captum's "ReLU reused / in-place" failures).
//!
//! Conventions follow PyTorch + Captum 0.9 exactly (`../shared/paper/METHOD.md` §4.2b):
//! ReLU'(0) = 0; GBP and Deconvolution modify plain ReLUs only; DeepLift rescales ReLU,
//! LeakyReLU, tanh, sigmoid and softmax (with Captum's mean subtraction over the input/baseline
//! pair) and leaves ReLU6 and everything else to the ordinary gradient.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use num_traits::Float;

/// The elementwise (or row-wise, for softmax) nonlinearities gaxsh models use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActKind {
    Relu,
    LeakyRelu(f64),
    /// `nn.ELU(alpha)`: x for x > 0, α(eˣ − 1) otherwise.
    Elu(f64),
    /// `nn.Softplus()` (β = 1, threshold 20): ln(1 + eˣ), x itself above 20.
    Softplus,
    Relu6,
    Tanh,
    Sigmoid,
    /// Softmax over the last dimension.
    Softmax,
}

impl ActKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActKind::Relu => "relu",
            ActKind::LeakyRelu(_) => "leaky_relu",
            ActKind::Elu(_) => "elu",
            ActKind::Softplus => "softplus",
            ActKind::Relu6 => "relu6",
            ActKind::Tanh => "tanh",
            ActKind::Sigmoid => "sigmoid",
            ActKind::Softmax => "softmax",
        }
    }
}

/// Which backward pass the activations of one forward pass run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Rule {
    /// The true gradient.
    #[default]
    Plain,
    /// ReLU passes relu(grad)·1[x > 0].
    GuidedBackprop,
    /// ReLU passes relu(grad), ignoring the forward mask.
    Deconvolution,
    /// The batch holds inputs then their baselines (2B rows); rescale rule per pair.
    DeepLift,
}

/// Captum's threshold below which DeepLift falls back to the plain gradient.
const DEEPLIFT_EPS: f64 = 1e-10;

/// PyTorch's `nn.Softplus` default: above it the function is x itself.
const SOFTPLUS_THRESHOLD: f64 = 20.0;

impl ActKind {
    /// Whether Captum's DeepLift rescales this nonlinearity (its `SUPPORTED_NON_LINEAR`
    /// modules; ReLU6 and the rest keep their ordinary gradient).
    pub fn deeplift_rescaled(&self) -> bool {
        !matches!(self, ActKind::Relu6)
    }
}

/// An elementwise map of one or two inputs, on every compute thread for large tensors (ReLU
/// and its backward rules run after every convolution of a ResNet).
fn map_par<T: Float + Send + Sync + Default>(
    a: &[T],
    b: &[T],
    f: impl Fn(T, T) -> T + Sync,
) -> Vec<T> {
    crate::tensor::cpu::filled_par(a.len(), 1, |offset, out| {
        let inputs = a[offset..].iter().zip(&b[offset..]);
        out.iter_mut()
            .zip(inputs)
            .for_each(|(o, (&u, &v))| *o = f(u, v));
    })
}

fn fwd<T: Float + Send + Sync + Default>(kind: ActKind, x: &[T], last: usize) -> Vec<T> {
    let zero = T::zero();
    match kind {
        ActKind::Relu => map_par(x, x, |v, _| if v > zero { v } else { zero }),
        ActKind::LeakyRelu(a) => {
            let a = T::from(a).expect("slope");
            x.iter()
                .map(|&v| if v > zero { v } else { v * a })
                .collect()
        }
        ActKind::Elu(a) => {
            let a = T::from(a).expect("alpha");
            x.iter()
                .map(|&v| if v > zero { v } else { a * v.exp_m1() })
                .collect()
        }
        ActKind::Softplus => {
            let threshold = T::from(SOFTPLUS_THRESHOLD).expect("threshold");
            x.iter()
                .map(|&v| if v > threshold { v } else { v.exp().ln_1p() })
                .collect()
        }
        ActKind::Relu6 => {
            let six = T::from(6.0).expect("6");
            x.iter().map(|&v| v.max(zero).min(six)).collect()
        }
        ActKind::Tanh => x.iter().map(|v| v.tanh()).collect(),
        ActKind::Sigmoid => x
            .iter()
            .map(|&v| T::one() / (T::one() + (-v).exp()))
            .collect(),
        ActKind::Softmax => {
            let mut out = vec![T::zero(); x.len()];
            for (row, dst) in x.chunks(last).zip(out.chunks_mut(last)) {
                let m = row.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
                let mut s = T::zero();
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d = (v - m).exp();
                    s = s + *d;
                }
                for d in dst.iter_mut() {
                    *d = *d / s;
                }
            }
            out
        }
    }
}

/// The ordinary gradient, with PyTorch's formulas (and ReLU'(0) = 0).
fn plain_bwd<T: Float + Send + Sync + Default>(
    kind: ActKind,
    x: &[T],
    y: &[T],
    g: &[T],
    last: usize,
) -> Vec<T> {
    let zero = T::zero();
    let one = T::one();
    match kind {
        ActKind::Relu => map_par(x, g, |v, gv| if v > zero { gv } else { zero }),
        ActKind::LeakyRelu(a) => {
            let a = T::from(a).expect("slope");
            x.iter()
                .zip(g)
                .map(|(&v, &gv)| if v > zero { gv } else { gv * a })
                .collect()
        }
        ActKind::Elu(a) => {
            let a = T::from(a).expect("alpha");
            x.iter()
                .zip(g)
                .map(|(&v, &gv)| if v > zero { gv } else { gv * a * v.exp() })
                .collect()
        }
        ActKind::Softplus => {
            let threshold = T::from(SOFTPLUS_THRESHOLD).expect("threshold");
            x.iter()
                .zip(g)
                .map(|(&v, &gv)| {
                    if v > threshold {
                        gv
                    } else {
                        let z = v.exp();
                        gv * z / (z + one)
                    }
                })
                .collect()
        }
        ActKind::Relu6 => {
            let six = T::from(6.0).expect("6");
            x.iter()
                .zip(g)
                // `&`, not `&&`: no branch, so the loop vectorises (selects instead of jumps).
                .map(|(&v, &gv)| if (v > zero) & (v < six) { gv } else { zero })
                .collect()
        }
        ActKind::Tanh => y
            .iter()
            .zip(g)
            .map(|(&yv, &gv)| gv * (one - yv * yv))
            .collect(),
        ActKind::Sigmoid => y
            .iter()
            .zip(g)
            .map(|(&yv, &gv)| gv * (one - yv) * yv)
            .collect(),
        ActKind::Softmax => {
            let mut out = Vec::with_capacity(x.len());
            for (yr, gr) in y.chunks(last).zip(g.chunks(last)) {
                let s = yr.iter().zip(gr).fold(zero, |s, (&a, &b)| s + b * a);
                out.extend(yr.iter().zip(gr).map(|(&a, &b)| a * (b - s)));
            }
            out
        }
    }
}

struct ActOp {
    kind: ActKind,
    rule: Rule,
    /// Samples per half of a DeepLift batch (B of the 2B rows).
    samples: usize,
}

impl CustomOp1 for ActOp {
    fn name(&self) -> &'static str {
        "activation"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let last = l.dims().last().copied().unwrap_or(1).max(1);
        let out = crate::with_float!(s, l, self.kind.name(), |x| fwd(self.kind, x, last));
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let op = ActBwd {
            kind: self.kind,
            rule: self.rule,
            samples: self.samples,
        };
        Ok(Some(arg.apply_op3_no_bwd(res, &grad.contiguous()?, &op)?))
    }
}

struct ActBwd {
    kind: ActKind,
    rule: Rule,
    samples: usize,
}

impl ActBwd {
    fn run<T: Float + Send + Sync + Default>(
        &self,
        x: &[T],
        y: &[T],
        g: &[T],
        last: usize,
    ) -> Vec<T> {
        let zero = T::zero();
        match (self.rule, self.kind) {
            (Rule::GuidedBackprop, ActKind::Relu) => {
                map_par(
                    x,
                    g,
                    |v, gv| if (v > zero) & (gv > zero) { gv } else { zero },
                )
            }
            (Rule::Deconvolution, ActKind::Relu) => map_par(g, g, |gv, _| gv.max(zero)),
            (Rule::DeepLift, kind) => deeplift_rescale(kind, x, y, g, last, self.samples),
            (_, kind) => plain_bwd(kind, x, y, g, last),
        }
    }
}

/// DeepLift's rescale rule on a batch of 2B rows: inputs, then their baselines.
fn deeplift_rescale<T: Float + Send + Sync + Default>(
    kind: ActKind,
    x: &[T],
    y: &[T],
    g: &[T],
    last: usize,
    samples: usize,
) -> Vec<T> {
    let plain = plain_bwd(kind, x, y, g, last);
    if !kind.deeplift_rescaled() {
        return plain;
    }
    let eps = T::from(DEEPLIFT_EPS).expect("eps");
    let half = x.len() / 2;
    let mut out: Vec<T> = crate::tensor::cpu::filled_par(x.len(), 1, |offset, piece| {
        for (j, o) in piece.iter_mut().enumerate() {
            let k = offset + j;
            let (i, r) = if k < half {
                (k, k + half)
            } else {
                (k - half, k)
            };
            let d_in = x[i] - x[r];
            *o = if d_in.abs() < eps {
                plain[k]
            } else {
                g[k] * (y[i] - y[r]) / d_in
            };
        }
    });
    if kind == ActKind::Softmax && samples > 0 {
        // Captum subtracts sum/numel over the whole [input; baseline] tensor of its one-sample
        // call; done per sample here, so a batched call gives the per-sample results.
        let per = half / samples;
        let n = T::from(2 * per).expect("count");
        for s in 0..samples {
            let (a, b) = (s * per, half + s * per);
            let total = out[a..a + per]
                .iter()
                .chain(&out[b..b + per])
                .fold(T::zero(), |acc, &v| acc + v);
            let shift = total * T::one() / n;
            for k in (a..a + per).chain(b..b + per) {
                out[k] = out[k] - shift;
            }
        }
    }
    out
}

impl CustomOp3 for ActBwd {
    fn name(&self) -> &'static str {
        "activation-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let last = l1.dims().last().copied().unwrap_or(1).max(1);
        let out = crate::with_float3!(s1, l1, s2, l2, s3, l3, "activation backward", |x, y, g| {
            self.run(x, y, g, last)
        });
        Ok((out, l1.shape().clone()))
    }
}

/// DeepLift's rescale pairs row i with row i + samples: the batch must be exactly twice that.
fn check_deeplift_batch(x: &Tensor, rule: Rule, samples: usize) -> Result<()> {
    if rule == Rule::DeepLift && x.dim(0)? != 2 * samples {
        candle_core::bail!(
            "DeepLift batch must hold {samples} inputs and {samples} baselines, got {} rows",
            x.dim(0)?
        );
    }
    Ok(())
}

/// Apply an activation whose backward follows `rule`. For [`Rule::DeepLift`] the batch must be
/// `[inputs; baselines]` and `samples` is the number of inputs.
pub fn activation(x: &Tensor, kind: ActKind, rule: Rule, samples: usize) -> Result<Tensor> {
    check_deeplift_batch(x, rule, samples)?;
    if crate::tensor::portable::enabled(x) {
        return portable::activation(x, kind, rule, samples);
    }
    x.contiguous()?.apply_op1(ActOp {
        kind,
        rule,
        samples,
    })
}

/// act(x·scale[c] + shift[c] (+ residual)) over channel axis 1, the activation's backward
/// following `rule`: an eval-mode batch norm, a ResNet block's identity where there is one, and
/// the nonlinearity as one op. The graph keeps only its input (kept anyway, as the convolution's
/// output) and its output; the pre-activation is recomputed in the backward, with the same
/// arithmetic, so values and every rule's gradients are those of the three separate steps. The
/// batch norm's output and the sum were a third of what a ResNet block kept for the backward.
pub fn affine_activation(
    x: &Tensor,
    (scale, shift): (Vec<f64>, Vec<f64>),
    residual: Option<&Tensor>,
    kind: ActKind,
    rule: Rule,
    samples: usize,
) -> Result<Tensor> {
    if crate::tensor::portable::enabled(x) {
        let h = crate::tensor::affine::channel_affine(x, scale, shift)?;
        let h = match residual {
            Some(r) => (h + r)?,
            None => h,
        };
        return activation(&h, kind, rule, samples);
    }
    check_deeplift_batch(x, rule, samples)?;
    let op = AffineAct {
        scale,
        shift,
        act: ActBwd {
            kind,
            rule,
            samples,
        },
    };
    match residual {
        None => x.contiguous()?.apply_op1(op),
        Some(r) => x.contiguous()?.apply_op2(&r.contiguous()?, op),
    }
}

struct AffineAct {
    scale: Vec<f64>,
    shift: Vec<f64>,
    act: ActBwd,
}

impl AffineAct {
    /// x·scale + shift (+ residual), as the batch norm and the addition compute it.
    fn pre<T: Float + Send + Sync + Default>(
        &self,
        x: &[T],
        dims: &[usize],
        residual: Option<&[T]>,
    ) -> Vec<T> {
        let mut pre = crate::tensor::affine::affine_planes(x, dims, &self.scale, Some(&self.shift));
        if let Some(r) = residual {
            pre.iter_mut().zip(r).for_each(|(p, &v)| *p = *p + v);
        }
        pre
    }

    fn forward<T: Float + Send + Sync + Default>(
        &self,
        x: &[T],
        l: &Layout,
        residual: Option<&[T]>,
    ) -> Vec<T> {
        let last = l.dims().last().copied().unwrap_or(1).max(1);
        fwd(self.act.kind, &self.pre(x, l.dims(), residual), last)
    }

    /// The pre-activation again, as a tensor outside the graph.
    fn recompute(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        let pre = x.apply_op1_no_bwd(&crate::tensor::affine::ChannelAffine::new(
            self.scale.clone(),
            self.shift.clone(),
        ))?;
        match residual {
            Some(r) => pre.add(r),
            None => Ok(pre),
        }
    }

    /// The gradient at the pre-activation (the residual's), and at x.
    fn backward(
        &self,
        x: &Tensor,
        residual: Option<&Tensor>,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let pre = self.recompute(x, residual)?;
        let d_pre = pre.apply_op3_no_bwd(y, &grad.contiguous()?, &self.act)?;
        let dx = d_pre.apply_op1_no_bwd(&crate::tensor::affine::ChannelAffine::scale_only(
            self.scale.clone(),
        ))?;
        Ok((d_pre, dx))
    }

    fn check(&self, l: &Layout) -> Result<()> {
        if l.dims().len() < 2 || l.dims()[1] != self.scale.len() {
            candle_core::bail!(
                "batch norm: {} channels for input {:?}",
                self.scale.len(),
                l.dims()
            );
        }
        Ok(())
    }
}

impl CustomOp1 for AffineAct {
    fn name(&self) -> &'static str {
        "affine-activation"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        self.check(l)?;
        let out = crate::with_float!(s, l, "batch norm", |x| self.forward(x, l, None));
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.backward(arg, None, res, grad)?.1))
    }
}

impl CustomOp2 for AffineAct {
    fn name(&self) -> &'static str {
        "affine-add-activation"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.check(l1)?;
        if l1.dims() != l2.dims() {
            candle_core::bail!("residual add: shapes {:?} and {:?}", l1.dims(), l2.dims());
        }
        let out = crate::with_float2!(s1, l1, s2, l2, "residual add", |x, r| self.forward(
            x,
            l1,
            Some(r)
        ));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        r: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (d_pre, dx) = self.backward(x, Some(r), res, grad)?;
        Ok((x.track_op().then_some(dx), r.track_op().then_some(d_pre)))
    }
}

/// The same activations and backward rules as tensor ops, for devices without gaxsh's kernels
/// (`tensor/portable.rs`): candle computes the value, `with_grad` applies the rule.
mod portable {
    use super::{ActKind, DEEPLIFT_EPS, Rule, SOFTPLUS_THRESHOLD};
    use crate::tensor::portable::with_grad;
    use candle_core::{D, Result, Tensor};

    fn value(kind: ActKind, x: &Tensor) -> Result<Tensor> {
        match kind {
            ActKind::Relu => x.relu(),
            ActKind::LeakyRelu(a) => x.gt(0.0)?.where_cond(x, &(x * a)?),
            ActKind::Elu(a) => x.gt(0.0)?.where_cond(x, &((x.exp()? - 1.0)? * a)?),
            ActKind::Softplus => x
                .gt(SOFTPLUS_THRESHOLD)?
                .where_cond(x, &(x.exp()? + 1.0)?.log()?),
            ActKind::Relu6 => x.clamp(0.0, 6.0),
            ActKind::Tanh => x.tanh(),
            ActKind::Sigmoid => (x.neg()?.exp()? + 1.0)?.recip(),
            ActKind::Softmax => {
                let e = x.broadcast_sub(&x.max_keepdim(D::Minus1)?)?.exp()?;
                e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
            }
        }
    }

    /// The ordinary gradient, with ReLU'(0) = 0 (candle's own relu gradient has 1 there).
    fn plain(kind: ActKind, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Tensor> {
        let zero = g.zeros_like()?;
        match kind {
            ActKind::Relu => x.gt(0.0)?.where_cond(g, &zero),
            ActKind::LeakyRelu(a) => x.gt(0.0)?.where_cond(g, &(g * a)?),
            ActKind::Elu(a) => x.gt(0.0)?.where_cond(g, &((g * x.exp()?)? * a)?),
            ActKind::Softplus => {
                let z = x.exp()?;
                x.gt(SOFTPLUS_THRESHOLD)?
                    .where_cond(g, &((g * &z)? / (&z + 1.0)?)?)
            }
            ActKind::Relu6 => (x.gt(0.0)? * x.lt(6.0)?)?.where_cond(g, &zero),
            ActKind::Tanh => g * (1.0 - y.sqr()?)?,
            ActKind::Sigmoid => (g * (1.0 - y)?)? * y,
            ActKind::Softmax => {
                let s = (g * y)?.sum_keepdim(D::Minus1)?;
                y * g.broadcast_sub(&s)?
            }
        }
    }

    fn deeplift(
        kind: ActKind,
        x: &Tensor,
        y: &Tensor,
        g: &Tensor,
        samples: usize,
    ) -> Result<Tensor> {
        let plain = plain(kind, x, y, g)?;
        if !kind.deeplift_rescaled() {
            return Ok(plain);
        }
        let b = x.dim(0)? / 2;
        let pair = |t: &Tensor| -> Result<Tensor> {
            let d = (t.narrow(0, 0, b)? - t.narrow(0, b, b)?)?;
            Tensor::cat(&[&d, &d], 0)
        };
        let (dx, dy) = (pair(x)?, pair(y)?);
        let out = dx
            .abs()?
            .lt(DEEPLIFT_EPS)?
            .where_cond(&plain, &((g * dy)? / &dx)?)?;
        if kind != ActKind::Softmax || samples == 0 {
            return Ok(out);
        }
        // Captum's mean subtraction over each sample's [input; baseline] pair.
        let per = out.elem_count() / (2 * samples);
        let rows = out.reshape((2, samples, per))?;
        let shift = (rows.sum_keepdim(2)?.sum_keepdim(0)? / (2 * per) as f64)?;
        rows.broadcast_sub(&shift)?.reshape(out.shape())
    }

    pub fn activation(x: &Tensor, kind: ActKind, rule: Rule, samples: usize) -> Result<Tensor> {
        let x = x.contiguous()?;
        let y = value(kind, &x)?;
        with_grad(&x, &y, move |x, y, g| match (rule, kind) {
            (Rule::GuidedBackprop, ActKind::Relu) => {
                (x.gt(0.0)? * g.gt(0.0)?)?.where_cond(g, &g.zeros_like()?)
            }
            (Rule::Deconvolution, ActKind::Relu) => g.relu(),
            (Rule::DeepLift, kind) => deeplift(kind, x, y, g, samples),
            (_, kind) => plain(kind, x, y, g),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn grad_of(
        kind: ActKind,
        rule: Rule,
        x: &[f64],
        g: &[f64],
        samples: usize,
        shape: &[usize],
    ) -> Vec<f64> {
        let xv = Var::from_tensor(&Tensor::from_slice(x, shape, &Device::Cpu).unwrap()).unwrap();
        let y = activation(&xv, kind, rule, samples).unwrap();
        let w = Tensor::from_slice(g, shape, &Device::Cpu).unwrap();
        let grads = (y * w).unwrap().sum_all().unwrap().backward().unwrap();
        grads
            .get(&xv)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    /// The tensor-op path (what a GPU runs) against the CPU kernel: every kind under every rule,
    /// on a DeepLift-shaped batch of 2 inputs and their 2 baselines with exact zeros, ties
    /// between input and baseline (the rescale fallback) and values past ReLU6's 6.
    /// The tensor-op path (what a GPU runs) against the CPU kernel: every kind under every rule,
    /// on a DeepLift-shaped batch of 2 inputs and their 2 baselines with exact zeros, ties
    /// between input and baseline (the rescale fallback) and values past ReLU6's 6.
    #[test]
    fn portable_path_matches_the_kernel() {
        let mut x: Vec<f64> = crate::tensor::testing::rand(&[20], 4)
            .to_vec1::<f64>()
            .unwrap()
            .iter()
            .map(|v| v * 4.0)
            .collect();
        x[0] = 0.0;
        x[3] = 7.5;
        x[11] = x[1]; // input row 0, column 1 equals its baseline
        let x = Tensor::from_vec(x, (4, 5), &Device::Cpu).unwrap();
        let kinds = [
            ActKind::Relu,
            ActKind::LeakyRelu(0.01),
            ActKind::Elu(0.7),
            ActKind::Softplus,
            ActKind::Relu6,
            ActKind::Tanh,
            ActKind::Sigmoid,
            ActKind::Softmax,
        ];
        let rules = [
            Rule::Plain,
            Rule::GuidedBackprop,
            Rule::Deconvolution,
            Rule::DeepLift,
        ];
        for kind in kinds {
            for rule in rules {
                crate::tensor::testing::agree(
                    std::slice::from_ref(&x),
                    |t| activation(&t[0], kind, rule, 2),
                    |t| portable::activation(&t[0], kind, rule, 2),
                    (1e-12, 1e-12),
                    &format!("{kind:?} {rule:?}"),
                );
            }
        }
    }

    #[test]
    fn relu_rules() {
        let x = [-1.0, 0.0, 2.0, 3.0];
        let g = [1.0, 1.0, -1.0, 2.0];
        // ReLU'(0) = 0 as in PyTorch.
        assert_eq!(
            grad_of(ActKind::Relu, Rule::Plain, &x, &g, 0, &[4]),
            vec![0., 0., -1., 2.]
        );
        assert_eq!(
            grad_of(ActKind::Relu, Rule::GuidedBackprop, &x, &g, 0, &[4]),
            vec![0., 0., 0., 2.]
        );
        assert_eq!(
            grad_of(ActKind::Relu, Rule::Deconvolution, &x, &g, 0, &[4]),
            vec![1., 1., 0., 2.]
        );
        // GBP and Deconvolution leave other nonlinearities alone.
        assert_eq!(
            grad_of(
                ActKind::Relu6,
                Rule::Deconvolution,
                &[-1., 3., 7.],
                &[1., 1., 1.],
                0,
                &[3]
            ),
            vec![0., 1., 0.]
        );
    }

    #[test]
    fn deeplift_rescale_and_fallback() {
        // Rows: input [2, -1], baseline [1, -1]. Δin = [1, 0]; Δout = [1, 0].
        let x = [2.0, -1.0, 1.0, -1.0];
        let g = [3.0, 5.0, 7.0, 11.0];
        let out = grad_of(ActKind::Relu, Rule::DeepLift, &x, &g, 1, &[2, 2]);
        // Element 0: g·Δout/Δin = 3; element 1: Δin = 0 → plain ReLU gradient (x < 0 → 0).
        assert_eq!(out, vec![3.0, 0.0, 7.0, 0.0]);
    }

    #[test]
    fn softmax_gradient_matches_finite_differences() {
        let x = [0.3, -0.2, 1.1, 0.5, 0.0, -0.7];
        let g = [0.2, -1.0, 0.4, 1.5, 0.3, -0.2];
        let an = grad_of(ActKind::Softmax, Rule::Plain, &x, &g, 0, &[2, 3]);
        let f = |x: &[f64]| -> f64 {
            let y = fwd(ActKind::Softmax, x, 3);
            y.iter().zip(&g).map(|(a, b)| a * b).sum()
        };
        for i in 0..6 {
            let mut a = x.to_vec();
            let mut b = x.to_vec();
            a[i] += 1e-6;
            b[i] -= 1e-6;
            let fd = (f(&a) - f(&b)) / 2e-6;
            assert!((fd - an[i]).abs() < 1e-8, "{i}: {fd} vs {}", an[i]);
        }
    }
}
