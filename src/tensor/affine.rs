//! y = x·scale[c] + shift[c] per channel of (N, C, …): batch-norm in eval mode as one pass, the
//! way PyTorch's CPU inference kernel computes it (α = w/√(var+ε), β = b − mean·α). Its backward
//! is dx = dy·scale; the constants get no gradient (eval mode never trains them). And batch norm
//! in training mode as one op with its own backward ([`batch_norm_train`]).

use super::cpu::Floats;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use num_traits::{Float, ToPrimitive};

pub(crate) struct ChannelAffine {
    scale: Vec<f64>,
    shift: Vec<f64>,
    /// Multiply only (the backward of the op).
    backward: bool,
}

impl ChannelAffine {
    pub(crate) fn new(scale: Vec<f64>, shift: Vec<f64>) -> Self {
        ChannelAffine {
            scale,
            shift,
            backward: false,
        }
    }

    /// x·scale[c]: the backward of the map.
    pub(crate) fn scale_only(scale: Vec<f64>) -> Self {
        ChannelAffine {
            scale,
            shift: vec![],
            backward: true,
        }
    }
}

/// y = x·scale[c] (+ shift[c]) per (N, C, …) plane of a contiguous buffer, on every compute
/// thread: the one loop of eval-mode batch norm, its backward, training-mode batch norm's output
/// and a convolution's bias.
pub(crate) fn affine_planes<T: Float + Send + Sync + Default>(
    x: &[T],
    dims: &[usize],
    scale: &[f64],
    shift: Option<&[f64]>,
) -> Vec<T> {
    let (_, c, inner) = ncx(dims);
    let inner = inner.max(1);
    let scale: Vec<T> = scale
        .iter()
        .map(|&v| T::from(v).unwrap_or(T::one()))
        .collect();
    let shift: Option<Vec<T>> =
        shift.map(|s| s.iter().map(|&v| T::from(v).unwrap_or(T::zero())).collect());
    super::cpu::filled_par(x.len(), inner, |offset, out| {
        let planes = out.chunks_mut(inner).zip(x[offset..].chunks(inner));
        for (i, (dst, src)) in planes.enumerate() {
            let ch = (offset / inner + i) % c;
            let s = scale[ch];
            match &shift {
                Some(b) => dst
                    .iter_mut()
                    .zip(src)
                    .for_each(|(d, &v)| *d = v * s + b[ch]),
                None => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v * s),
            }
        }
    })
}

impl ChannelAffine {
    fn run<T: Float + Send + Sync + Default>(&self, x: &[T], l: &Layout) -> Vec<T> {
        let shift = (!self.backward).then_some(self.shift.as_slice());
        affine_planes(x, l.dims(), &self.scale, shift)
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
        let op = ChannelAffine::scale_only(self.scale.clone());
        Ok(Some(grad.contiguous()?.apply_op1(op)?))
    }
}

/// x·scale[c] + shift[c] over channel axis 1.
pub fn channel_affine(x: &Tensor, scale: Vec<f64>, shift: Vec<f64>) -> Result<Tensor> {
    if super::portable::enabled(x) {
        return super::portable::channel_affine(x, &scale, &shift);
    }
    x.contiguous()?.apply_op1(ChannelAffine::new(scale, shift))
}

/// Per-channel statistics of a training batch norm's batch, kept between its forward and
/// backward (the op's one shared state).
#[derive(Default)]
struct BatchStats {
    mean: Vec<f64>,
    /// The biased batch variance, and 1/√(var + ε).
    var: Vec<f64>,
    inv_std: Vec<f64>,
    /// Σ dy and Σ dy·x̂ per channel: the bias and weight gradients, left by the backward kernel.
    sum_dy: Vec<f64>,
    sum_dy_xhat: Vec<f64>,
}

type SharedStats = std::sync::Arc<std::sync::Mutex<BatchStats>>;

fn lock(s: &SharedStats) -> std::sync::MutexGuard<'_, BatchStats> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// (N, C, inner) of a contiguous input with channels on axis 1.
fn ncx(dims: &[usize]) -> (usize, usize, usize) {
    let inner = dims[2..].iter().product::<usize>();
    (dims[0], dims[1], inner)
}

/// Partial sums kept side by side when summing a channel of f32 values: one running sum waits
/// on every addition and keeps the loop scalar; eight let it run as vectors. f64 values are
/// summed one after the other, in PyTorch's order: a bias ahead of a batch norm trains on the
/// rounding noise of these sums (tests/training.rs matches PyTorch's f64 steps), and eight lanes
/// move that noise past the test's tolerance.
const LANES: usize = 8;

fn lanes<T>() -> usize {
    if std::mem::size_of::<T>() == 4 {
        LANES
    } else {
        1
    }
}

fn as_f64<T: Float>(v: T) -> f64 {
    v.to_f64().unwrap_or(0.0)
}

/// Σ over every (sample, position) of channel `ch` of `f(value)`, in f64.
fn channel_sum<T: Float>(
    x: &[T],
    (n, c, inner): (usize, usize, usize),
    ch: usize,
    f: impl Fn(f64) -> f64,
) -> f64 {
    let mut acc = [0.0; LANES];
    for b in 0..n {
        let start = (b * c + ch) * inner;
        let mut runs = x[start..start + inner].chunks_exact(lanes::<T>());
        for run in &mut runs {
            for (a, &v) in acc.iter_mut().zip(run) {
                *a += f(as_f64(v));
            }
        }
        for (a, &v) in acc.iter_mut().zip(runs.remainder()) {
            *a += f(as_f64(v));
        }
    }
    acc.iter().sum()
}

/// (Σ dy, Σ dy·(x − mean)) over channel `ch`, in f64, in one pass over both.
fn channel_sums_dy<T: Float>(
    x: &[T],
    dy: &[T],
    (n, c, inner): (usize, usize, usize),
    ch: usize,
    mean: f64,
) -> (f64, f64) {
    let (mut sum_dy, mut sum_dy_x) = ([0.0; LANES], [0.0; LANES]);
    let mut add = |l: usize, v: T, g: T| {
        let g = as_f64(g);
        sum_dy[l] += g;
        sum_dy_x[l] += g * (as_f64(v) - mean);
    };
    let lanes = lanes::<T>();
    for b in 0..n {
        let at = (b * c + ch) * inner..(b * c + ch + 1) * inner;
        let (mut xs, mut gs) = (
            x[at.clone()].chunks_exact(lanes),
            dy[at].chunks_exact(lanes),
        );
        for (xr, gr) in (&mut xs).zip(&mut gs) {
            for l in 0..lanes {
                add(l, xr[l], gr[l]);
            }
        }
        for (l, (&v, &g)) in xs.remainder().iter().zip(gs.remainder()).enumerate() {
            add(l, v, g);
        }
    }
    (sum_dy.iter().sum(), sum_dy_x.iter().sum())
}

/// Batch norm in training mode, one op: the batch statistics, x̂ = (x − mean)/√(var + ε) and
/// y = x̂·w + b in two passes, instead of the eight broadcast operations (and their backward)
/// of the textbook formula.
struct BatchNormTrain {
    eps: f64,
    stats: SharedStats,
}

impl BatchNormTrain {
    fn run<T: Float + Send + Sync + Default>(
        &self,
        x: &[T],
        dims: &[usize],
        w: &[T],
        b: &[T],
    ) -> Vec<T> {
        use rayon::prelude::*;
        let d = ncx(dims);
        let m = (d.0 * d.2).max(1) as f64;
        let per_channel: Vec<(f64, f64)> = (0..d.1)
            .into_par_iter()
            .map(|ch| {
                let mean = channel_sum(x, d, ch, |v| v) / m;
                let var = channel_sum(x, d, ch, |v| (v - mean) * (v - mean)) / m;
                (mean, var)
            })
            .collect();
        let mut st = lock(&self.stats);
        st.mean = per_channel.iter().map(|p| p.0).collect();
        st.var = per_channel.iter().map(|p| p.1).collect();
        st.inv_std = st.var.iter().map(|v| 1.0 / (v + self.eps).sqrt()).collect();
        // y = x·scale + shift per channel, scale = w/σ and shift = b − mean·scale.
        let to_f64 = |v: &T| v.to_f64().unwrap_or(0.0);
        let scale: Vec<f64> = (0..d.1).map(|ch| st.inv_std[ch] * to_f64(&w[ch])).collect();
        let shift: Vec<f64> = (0..d.1)
            .map(|ch| to_f64(&b[ch]) - st.mean[ch] * scale[ch])
            .collect();
        affine_planes(x, dims, &scale, Some(&shift))
    }
}

impl candle_core::CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "batch-norm-train"
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
        let dims = l1.dims();
        if dims.len() < 2 || l2.dims() != [dims[1]] || l3.dims() != [dims[1]] {
            candle_core::bail!(
                "batch norm: weight {:?} and bias {:?} for input {dims:?}",
                l2.dims(),
                l3.dims()
            );
        }
        let out = crate::with_float3!(s1, l1, s2, l2, s3, l3, "batch norm", |x, w, b| self
            .run(x, dims, w, b));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let w_values = w.to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?;
        let op = BatchNormTrainGrad {
            w: w_values,
            stats: self.stats.clone(),
        };
        let dx = x.apply_op2_no_bwd(&grad.contiguous()?, &op)?;
        let st = lock(&self.stats);
        let per_channel = |v: &[f64]| Tensor::new(v, w.device())?.to_dtype(w.dtype());
        Ok((
            Some(dx),
            Some(per_channel(&st.sum_dy_xhat)?),
            Some(per_channel(&st.sum_dy)?),
        ))
    }
}

/// The input gradient of [`BatchNormTrain`] (the batch statistics depend on every input):
/// dx = w/σ · (dy − mean(dy) − x̂·mean(dy·x̂)) per channel, leaving Σ dy and Σ dy·x̂ (the bias
/// and weight gradients) in the shared state.
struct BatchNormTrainGrad {
    w: Vec<f64>,
    stats: SharedStats,
}

impl BatchNormTrainGrad {
    fn run<T: Float + Send + Sync + Default>(&self, x: &[T], dy: &[T], dims: &[usize]) -> Vec<T> {
        use rayon::prelude::*;
        let d = ncx(dims);
        let m = (d.0 * d.2).max(1) as f64;
        let mut st = lock(&self.stats);
        let (mean, inv_std) = (st.mean.clone(), st.inv_std.clone());
        let sums: Vec<(f64, f64)> = (0..d.1)
            .into_par_iter()
            .map(|ch| {
                let (sum_dy, sum_dy_x) = channel_sums_dy(x, dy, d, ch, mean[ch]);
                (sum_dy, sum_dy_x * inv_std[ch])
            })
            .collect();
        st.sum_dy = sums.iter().map(|s| s.0).collect();
        st.sum_dy_xhat = sums.iter().map(|s| s.1).collect();
        // dx = (dy − (x − mean)·proj − mean(dy))·k with proj = mean(dy·x̂)/σ and k = w/σ, in
        // PyTorch's order (the rounding noise it leaves is what a bias ahead of the batch norm
        // trains on); the constants in f64, the elements in T, so the loop runs as vectors.
        let constants: Vec<[T; 4]> = (0..d.1)
            .map(|ch| {
                let to_t = |v: f64| T::from(v).unwrap_or(T::zero());
                [
                    to_t(sums[ch].1 / m * inv_std[ch]),
                    to_t(sums[ch].0 / m),
                    to_t(self.w[ch] * inv_std[ch]),
                    to_t(mean[ch]),
                ]
            })
            .collect();
        let inner = d.2.max(1);
        super::cpu::filled_par(x.len(), inner, |offset, out| {
            let planes = out
                .chunks_mut(inner)
                .zip(x[offset..].chunks(inner))
                .zip(dy[offset..].chunks(inner));
            for (i, ((dst, xs), gs)) in planes.enumerate() {
                let [proj, mean_dy, k, mu] = constants[(offset / inner + i) % d.1];
                for ((o, &v), &g) in dst.iter_mut().zip(xs).zip(gs) {
                    *o = (g - (v - mu) * proj - mean_dy) * k;
                }
            }
        })
    }
}

impl candle_core::CustomOp2 for BatchNormTrainGrad {
    fn name(&self) -> &'static str {
        "batch-norm-train-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = l1.dims();
        let out = crate::with_float2!(s1, l1, s2, l2, "batch norm backward", |x, dy| self
            .run(x, dy, dims));
        Ok((out, l1.shape().clone()))
    }
}

/// Batch norm in training mode over channel axis 1 of a float (N, C, …) tensor with weight and
/// bias of shape (C,): y with its gradient to x, w and b, and the batch's per-channel mean and
/// biased variance (for the running statistics).
pub fn batch_norm_train(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    eps: f64,
) -> Result<(Tensor, Vec<f64>, Vec<f64>)> {
    let stats = SharedStats::default();
    let op = BatchNormTrain {
        eps,
        stats: stats.clone(),
    };
    let y = x
        .contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, op)?;
    let st = lock(&stats);
    Ok((y, st.mean.clone(), st.var.clone()))
}

/// x + b[c] over channel axis 1 (a convolution's bias) in one pass. Its backward passes the
/// gradient through to x as it is and sums it per channel for b, only when b is trained: the
/// broadcast addition it replaces allocated and summed a full-size gradient for a bias that
/// attribution never asks about.
struct ChannelBias;

impl candle_core::CustomOp2 for ChannelBias {
    fn name(&self) -> &'static str {
        "channel-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = l1.dims();
        if dims.len() < 2 || l2.dims() != [dims[1]] {
            candle_core::bail!("channel bias: bias {:?} for input {dims:?}", l2.dims());
        }
        let out = crate::with_float2!(s1, l1, s2, l2, "channel bias", |x, b| {
            let shift: Vec<f64> = b.iter().map(|v| v.to_f64().unwrap_or(0.0)).collect();
            affine_planes(x, dims, &vec![1.0; shift.len()], Some(&shift))
        });
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let db = match b.track_op() {
            true => Some(grad.contiguous()?.apply_op1_no_bwd(&ChannelSum)?),
            false => None,
        };
        Ok((Some(grad.clone()), db))
    }
}

/// Σ over every axis but channel axis 1, as a (C,) tensor (accumulated in f64).
struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "channel-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let d = ncx(l.dims());
        fn sums<T: Float + Send + Sync>(x: &[T], d: (usize, usize, usize)) -> Vec<T> {
            (0..d.1)
                .into_par_iter()
                .map(|ch| T::from(channel_sum(x, d, ch, |v| v)).unwrap_or(T::zero()))
                .collect()
        }
        let out = crate::with_float!(s, l, "channel sum", |x| sums(x, d));
        Ok((out, Shape::from(d.1)))
    }
}

/// x + b[c] over channel axis 1 of a float (N, C, …) tensor, b of shape (C,).
pub fn add_channel_bias(x: &Tensor, b: &Tensor) -> Result<Tensor> {
    if super::portable::enabled(x) {
        let mut shape = vec![1usize; x.rank()];
        shape[1] = b.elem_count();
        return x.broadcast_add(&b.reshape(shape)?);
    }
    x.contiguous()?.apply_op2(&b.contiguous()?, ChannelBias)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::{max_diff, rand};
    use candle_core::{DType, Var};

    /// f32 sums each channel in eight lanes and computes the backward's elements in f32; f64
    /// sums in order. Both must give the same output, statistics and gradients to f32's
    /// precision, on planes whose length leaves a remainder after the lanes (37 = 4·8 + 5).
    #[test]
    fn training_batch_norm_in_f32_matches_f64() {
        let x = rand(&[3, 5, 37], 1).affine(2.0, 3.0).unwrap();
        let w = (rand(&[5], 2) + 1.0).unwrap();
        let b = rand(&[5], 3);
        let gy = rand(&[3, 5, 37], 4);
        let run = |dt: DType| {
            let var = |t: &Tensor| Var::from_tensor(&t.to_dtype(dt).unwrap()).unwrap();
            let (xv, wv, bv) = (var(&x), var(&w), var(&b));
            let (y, mean, variance) = batch_norm_train(&xv, &wv, &bv, 1e-5).unwrap();
            let grads = (&y * gy.to_dtype(dt).unwrap())
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let f64s = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
            let stats = Tensor::new([mean, variance].concat(), &candle_core::Device::Cpu).unwrap();
            [
                f64s(&y),
                f64s(grads.get(&xv).unwrap()),
                f64s(grads.get(&wv).unwrap()),
                f64s(grads.get(&bv).unwrap()),
                stats,
            ]
        };
        let (single, double) = (run(DType::F32), run(DType::F64));
        for (what, (s, d)) in ["y", "dx", "dw", "db", "mean and variance"]
            .iter()
            .zip(single.iter().zip(&double))
        {
            let scale = d
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            let diff = max_diff(s, d);
            assert!(
                diff <= 1e-5 * scale.max(1.0),
                "{what}: {diff} (scale {scale})"
            );
        }
    }
}
