//! gaxsh's own ops as compositions of candle's tensor ops: the path they take on a GPU.
//!
//! The custom ops (convolution, pooling, batch-norm affine, the rule-aware activations, and GAX's
//! steps in `gax/ops.rs`) have CPU kernels only. On any other device each entry point (`conv2d`, `max_pool2d`, `activation`, …)
//! builds the same result from candle operations, which candle runs as CUDA kernels, so the data
//! stays on the GPU. Where the gradient must differ from what candle's autograd would give
//! (PyTorch's first-maximum rule in max pooling, ReLU'(0) = 0, the attribution rules), the value
//! goes through [`with_grad`], an identity op whose backward is a closure of tensor ops. The
//! custom ops themselves have no GPU forward: one reached off the CPU would fail with candle's
//! "no cuda implementation for …", naming it, rather than copy through the host unnoticed.
//!
//! Setting `GAXSH_PORTABLE_OPS=1` takes this path on the CPU too. That is how it is tested
//! without a GPU: the unit tests here and in `nn/act.rs` compare it with the CPU kernels, and the
//! PyTorch/Captum parity tests run again under the variable in `.ci/run`.

use candle_core::backend::{BackendDevice, BackendStorage};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use std::sync::OnceLock;

/// Whether ops on `t` take the portable path: always off the CPU, and on it when asked.
pub fn enabled(t: &Tensor) -> bool {
    !t.device().is_cpu() || forced()
}

fn forced() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| {
        std::env::var("GAXSH_PORTABLE_OPS").is_ok_and(|v| !v.is_empty() && v != "0")
    })
}

/// A copy of a storage on its own device: the forward of [`with_grad`], the same code on every
/// backend.
pub fn copy_storage<S>(s: &S, l: &Layout) -> Result<(S, Shape)>
where
    S: BackendStorage,
    S::Device: BackendDevice<Storage = S>,
{
    // SAFETY: `copy_strided_src` writes every element of the fresh allocation before it is read.
    let mut out = unsafe { s.device().alloc_uninit(l.shape(), s.dtype())? };
    s.copy_strided_src(&mut out, 0, l)?;
    Ok((out, l.shape().clone()))
}

type GradRule = dyn Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor> + Send + Sync;

struct WithGrad {
    rule: Box<GradRule>,
}

impl CustomOp2 for WithGrad {
    fn name(&self) -> &'static str {
        "with-grad"
    }

    fn cpu_fwd(
        &self,
        _s1: &CpuStorage,
        _l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        copy_storage(s2, l2)
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _s1: &candle_core::CudaStorage,
        _l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        copy_storage(s2, l2)
    }

    fn bwd(
        &self,
        x: &Tensor,
        value: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some((self.rule)(x, value, grad)?), None))
    }
}

/// `value` (a function of `x` computed by the caller), whose backward gives `x` the gradient
/// `rule(x, value, output_grad)` instead of what autograd would derive.
pub fn with_grad(
    x: &Tensor,
    value: &Tensor,
    rule: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor> + Send + Sync + 'static,
) -> Result<Tensor> {
    x.apply_op2(
        &value.detach(),
        WithGrad {
            rule: Box::new(rule),
        },
    )
}

/// Pad the two spatial axes of (N, C, H, W) by (top, bottom, left, right) with a constant.
fn pad2d(x: &Tensor, pad: (usize, usize, usize, usize), value: f64) -> Result<Tensor> {
    let axis = |x: &Tensor, dim: usize, before: usize, after: usize| -> Result<Tensor> {
        if before == 0 && after == 0 {
            return Ok(x.clone());
        }
        if value == 0.0 {
            return x.pad_with_zeros(dim, before, after);
        }
        let block = |n: usize| -> Result<Tensor> {
            let mut dims = x.dims().to_vec();
            dims[dim] = n;
            Tensor::full(value, dims, x.device())?.to_dtype(x.dtype())
        };
        Tensor::cat(&[&block(before)?, x, &block(after)?], dim)
    };
    axis(&axis(x, 2, pad.0, pad.1)?, 3, pad.2, pad.3)
}

/// The sum of a non-empty sequence of tensors.
fn sum(terms: impl IntoIterator<Item = Result<Tensor>>, what: &str) -> Result<Tensor> {
    let mut acc: Option<Tensor> = None;
    for t in terms {
        let t = t?;
        acc = Some(match acc {
            Some(a) => (a + t)?,
            None => t,
        });
    }
    acc.ok_or_else(|| candle_core::Error::Msg(format!("{what}: empty kernel")))
}

/// Every `stride`-th of `n` positions along `dim`, starting at `start`.
fn strided(x: &Tensor, dim: usize, start: usize, n: usize, stride: usize) -> Result<Tensor> {
    if stride == 1 {
        return x.narrow(dim, start, n);
    }
    x.index_select(&positions(start, n, stride, x)?, dim)
}

fn positions(start: usize, n: usize, stride: usize, like: &Tensor) -> Result<Tensor> {
    let idx: Vec<u32> = (0..n).map(|i| (start + i * stride) as u32).collect();
    Tensor::from_vec(idx, n, like.device())
}

/// The window tap (ky, kx) of every output position of a sliding window over a padded
/// (N, C, H, W) input: an (N, C, oh, ow) view-like tensor.
fn tap(
    xp: &Tensor,
    ky: usize,
    kx: usize,
    out: (usize, usize),
    stride: (usize, usize),
) -> Result<Tensor> {
    strided(
        &strided(xp, 2, ky, out.0, stride.0)?,
        3,
        kx,
        out.1,
        stride.1,
    )
}

/// The transpose of [`tap`]: `g` (N, C, oh, ow) added into zeros of the padded input's size at
/// the positions that tap read.
fn untap(
    g: &Tensor,
    ky: usize,
    kx: usize,
    padded: (usize, usize),
    stride: (usize, usize),
) -> Result<Tensor> {
    let (n, c, oh, ow) = g.dims4()?;
    let cols = Tensor::zeros((n, c, oh, padded.1), g.dtype(), g.device())?.index_add(
        &positions(kx, ow, stride.1, g)?,
        g,
        3,
    )?;
    Tensor::zeros((n, c, padded.0, padded.1), g.dtype(), g.device())?.index_add(
        &positions(ky, oh, stride.0, g)?,
        &cols,
        2,
    )
}

/// `conv::conv2d` from candle's convolution (groups, stride, symmetric padding) or, for depthwise
/// layers, a sum over the kernel taps (candle runs a grouped convolution as one per group).
pub fn conv2d(x: &Tensor, w: &Tensor, geom: super::geometry::ConvGeom) -> Result<Tensor> {
    let (xd, wd) = (dims4(x)?, dims4(w)?);
    // The kernels' shape checks and output size, with their messages.
    let out = geom.out_size(xd, wd)?;
    let (t, b, l, r) = geom.pad;
    let depthwise = geom.groups > 1 && geom.groups == xd[1] && wd[0] == xd[1];
    if !depthwise && t == b && l == r && t == l {
        return x.conv2d(w, t, geom.stride, 1, geom.groups);
    }
    let xp = pad2d(x, geom.pad, 0.0)?;
    if !depthwise {
        return xp.conv2d(w, 0, geom.stride, 1, geom.groups);
    }
    let (c, kh, kw) = (wd[0], wd[2], wd[3]);
    let taps = (0..kh).flat_map(|ky| (0..kw).map(move |kx| (ky, kx)));
    sum(
        taps.map(|(ky, kx)| {
            let wk = w
                .narrow(2, ky, 1)?
                .narrow(3, kx, 1)?
                .reshape((1, c, 1, 1))?;
            tap(&xp, ky, kx, out, (geom.stride, geom.stride))?.broadcast_mul(&wk)
        }),
        "conv2d",
    )
}

fn dims4(t: &Tensor) -> Result<[usize; 4]> {
    let (a, b, c, d) = t.dims4()?;
    Ok([a, b, c, d])
}

/// `conv::conv_transpose2d` (groups 1, no padding) through candle's own op.
pub fn conv_transpose2d(x: &Tensor, w: &Tensor, stride: usize) -> Result<Tensor> {
    x.conv_transpose2d(w, 0, 0, stride, 1)
}

/// `pool::max_pool2d`: the maximum over the window taps, the gradient routed to the first
/// maximum of each window in row-major order (PyTorch's rule), padding with −∞.
pub fn max_pool2d(x: &Tensor, p: super::geometry::Pool2d) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let (py, px) = p.padding;
    let (ey, ex) = p.padding_end();
    let xp = pad2d(x, (py, ey, px, ex), f64::NEG_INFINITY)?.detach();
    let (ph, pw) = (h + py + ey, w + px + ex);
    let (stride, out) = (p.stride, p.out_hw(h, w));
    let taps: Vec<(usize, usize)> = (0..p.kernel.0)
        .flat_map(|ky| (0..p.kernel.1).map(move |kx| (ky, kx)))
        .collect();
    let Some((&(ky0, kx0), rest)) = taps.split_first() else {
        candle_core::bail!("max_pool2d: empty kernel");
    };
    let mut y = tap(&xp, ky0, kx0, out, stride)?;
    for &(ky, kx) in rest {
        y = y.maximum(&tap(&xp, ky, kx, out, stride)?)?;
    }
    with_grad(x, &y, move |_, y, g| {
        // Taps in row-major order; `taken` marks windows whose first maximum is already found.
        let mut taken = y.zeros_like()?;
        let parts = taps.iter().map(|&(ky, kx)| {
            let hit = tap(&xp, ky, kx, out, stride)?.eq(y)?.to_dtype(y.dtype())?;
            let first = (&hit * (1.0 - &taken)?)?;
            taken = (&taken + &first)?;
            untap(&(g * &first)?, ky, kx, (ph, pw), stride)
        });
        sum(parts, "max_pool2d")?.narrow(2, py, h)?.narrow(3, px, w)
    })
}

/// `pool::adaptive_avg_pool2d`: PyTorch's windows `[floor(i·n/m), ceil((i+1)·n/m))`, each a mean.
pub fn adaptive_avg_pool2d(x: &Tensor, oh: usize, ow: usize) -> Result<Tensor> {
    use super::geometry::adaptive_windows;
    let (_, _, h, w) = x.dims4()?;
    let mut rows = Vec::with_capacity(oh);
    for (y0, y1) in adaptive_windows(h, oh) {
        let mut cells = Vec::with_capacity(ow);
        for (x0, x1) in adaptive_windows(w, ow) {
            let cell = x.narrow(2, y0, y1 - y0)?.narrow(3, x0, x1 - x0)?;
            let count =
                Tensor::new(((y1 - y0) * (x1 - x0)) as f64, x.device())?.to_dtype(x.dtype())?;
            cells.push(cell.sum_keepdim((2, 3))?.broadcast_div(&count)?);
        }
        rows.push(Tensor::cat(&cells, 3)?);
    }
    Tensor::cat(&rows, 2)
}

/// `affine::channel_affine`: x·scale[c] + shift[c] over axis 1, broadcast.
pub fn channel_affine(x: &Tensor, scale: &[f64], shift: &[f64]) -> Result<Tensor> {
    let mut dims = vec![1; x.rank()];
    if dims.len() < 2 || x.dim(1)? != scale.len() {
        candle_core::bail!(
            "channel affine: {} channels for input {:?}",
            scale.len(),
            x.dims()
        );
    }
    dims[1] = scale.len();
    let column = |v: &[f64]| -> Result<Tensor> {
        Tensor::from_slice(v, dims.as_slice(), x.device())?.to_dtype(x.dtype())
    };
    x.broadcast_mul(&column(scale)?)?
        .broadcast_add(&column(shift)?)
}

/// Each portable op against the CPU kernel it stands in for: values and gradients, in f64, on
/// the geometries the model zoo uses (the kernels themselves are checked against PyTorch).
/// Meaningful in a plain `cargo test`; under `GAXSH_PORTABLE_OPS=1` both sides are portable.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::conv::ConvGeom;
    use crate::tensor::pool::Pool2d;
    use crate::tensor::testing::{agree, max_diff, rand};
    use candle_core::{Device, Var};

    /// Portable against kernel: f64 values and gradients, summed in different orders.
    const TOL: (f64, f64) = (1e-12, 1e-11);

    #[test]
    fn convolutions_match_the_kernels() {
        let geom = |stride, pad, groups| ConvGeom {
            stride,
            pad,
            groups,
        };
        for (g, x, w) in [
            (geom(1, (1, 1, 1, 1), 1), [2, 3, 9, 9], [4, 3, 3, 3]),
            (geom(2, (0, 1, 0, 1), 1), [2, 3, 10, 10], [4, 3, 3, 3]), // TensorFlow "SAME"
            (geom(4, (2, 2, 2, 2), 1), [1, 3, 23, 23], [8, 3, 11, 11]), // AlexNet's first
            (geom(1, (0, 0, 2, 2), 1), [3, 4, 1, 12], [5, 4, 1, 5]),  // a Conv1d as 2-D
            (geom(1, (1, 1, 1, 1), 6), [2, 6, 7, 7], [6, 1, 3, 3]),   // depthwise
            (geom(2, (0, 1, 0, 1), 6), [2, 6, 8, 8], [6, 1, 3, 3]),   // depthwise, SAME, stride 2
            (geom(1, (0, 0, 0, 0), 2), [2, 4, 5, 5], [6, 2, 3, 3]),   // grouped
        ] {
            let inputs = [rand(&x, 1), rand(&w, 2)];
            agree(
                &inputs,
                |t| crate::tensor::conv::conv2d(&t[0], &t[1], g),
                |t| conv2d(&t[0], &t[1], g),
                TOL,
                &format!("conv2d {g:?} {x:?} {w:?}"),
            );
        }
        let inputs = [rand(&[2, 4, 5, 5], 3), rand(&[4, 3, 2, 2], 4)];
        agree(
            &inputs,
            |t| crate::tensor::conv::conv_transpose2d(&t[0], &t[1], 2),
            |t| conv_transpose2d(&t[0], &t[1], 2),
            TOL,
            "conv_transpose2d",
        );
    }

    #[test]
    fn max_pooling_matches_the_kernel_ties_included() {
        // relu leaves windows of zeros: the gradient must go to the first of them only.
        let relu = |t: Tensor| t.relu().unwrap();
        for (p, x) in [
            (Pool2d::square(2, 2, 0), relu(rand(&[2, 3, 8, 8], 5))),
            (Pool2d::square(3, 2, 1), relu(rand(&[2, 3, 9, 9], 6))), // overlapping, padded
            (Pool2d::square(3, 2, 0), rand(&[1, 2, 13, 13], 7)),     // AlexNet's
            (
                // ceil_mode (SqueezeNet): a last, partial window past the end
                Pool2d {
                    extra_end: (1, 1),
                    ..Pool2d::square(3, 2, 0)
                },
                relu(rand(&[1, 2, 8, 8], 8)),
            ),
            (
                Pool2d {
                    kernel: (1, 2),
                    stride: (1, 2),
                    padding: (0, 0),
                    extra_end: (0, 0),
                },
                Tensor::zeros((1, 1, 2, 6), candle_core::DType::F64, &Device::Cpu).unwrap(),
            ),
        ] {
            agree(
                &[x],
                |t| crate::tensor::pool::max_pool2d(&t[0], p),
                |t| max_pool2d(&t[0], p),
                TOL,
                &format!("max_pool2d {p:?}"),
            );
        }
    }

    #[test]
    fn adaptive_pooling_and_affine_match_the_kernels() {
        for (x, (oh, ow)) in [
            ([2, 3, 13, 13], (6, 6)),
            ([2, 3, 10, 7], (7, 7)),
            ([2, 3, 5, 5], (1, 1)),
        ] {
            agree(
                &[rand(&x, 8)],
                |t| crate::tensor::pool::adaptive_avg_pool2d(&t[0], oh, ow),
                |t| adaptive_avg_pool2d(&t[0], oh, ow),
                TOL,
                &format!("adaptive_avg_pool2d {x:?} → {oh}×{ow}"),
            );
        }
        let (scale, shift) = (vec![0.5, -2.0, 3.25], vec![1.0, 0.0, -0.75]);
        for x in [vec![2, 3, 4, 4], vec![5, 3]] {
            agree(
                &[rand(&x, 9)],
                |t| crate::tensor::affine::channel_affine(&t[0], scale.clone(), shift.clone()),
                |t| channel_affine(&t[0], &scale, &shift),
                TOL,
                &format!("channel_affine {x:?}"),
            );
        }
    }

    #[test]
    fn with_grad_passes_the_value_and_applies_the_rule() {
        let x = Var::from_tensor(&rand(&[3, 4], 10)).unwrap();
        let value = (x.as_tensor() * 3.0).unwrap();
        let y = with_grad(x.as_tensor(), &value, |_, _, g| g * 7.0).unwrap();
        assert_eq!(max_diff(&y, &value), 0.0);
        let grads = y.sum_all().unwrap().backward().unwrap();
        let want = Tensor::full(7.0, (3, 4), &Device::Cpu).unwrap();
        assert_eq!(max_diff(grads.get(&x).unwrap(), &want), 0.0);
    }
}
