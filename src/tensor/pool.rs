//! Pooling with PyTorch's semantics and correct gradients.
//!
//! candle 0.11's `max_pool2d` backward scales the gradient by 1/(k·k) and refuses overlapping
//! windows (`../shared/STACK.md` §2), so max pooling is a custom op here: padding with −∞, any
//! kernel and stride, and the gradient routed to the **first** maximum of each window in
//! row-major order (PyTorch's tie rule, which Deconvolution needs to match Captum on the all-zero
//! windows that follow a ReLU). Overlapping windows accumulate.

use super::cpu::dims4;
pub use super::geometry::Pool2d;
pub(crate) use super::geometry::adaptive_windows;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use num_traits::Float;

/// For every output position `o` of a plane (`base`, H × W), in order, `visit(o, i)` with the
/// flat index `i` within the plane of the first maximum of its window.
///
/// One window at a time, the running maximum is a chain of dependent compares whose branch
/// mispredicts about half the time (AlexNet's three pools took 8 % of its attribution). The
/// windows of a row that lie inside the plane's columns are therefore run side by side, tap by
/// tap in the window's row-major order (which keeps the first maximum first): neighbouring
/// windows are independent, and in f32 on AVX-512F sixteen go in one vector
/// ([`side_by_side`]). ResNet's stem pool at batch 8 (64×112² planes, 3×3 stride 2) went from
/// 64 to 9 ms, AlexNet's first (64×55²) from 15 to 2.3 ms (Xeon, one thread, fastest of 9).
/// Windows cut by the padding go one at a time.
fn argmax_windows<T: Float + 'static>(
    base: &[T],
    h: usize,
    w: usize,
    p: &Pool2d,
    mut visit: impl FnMut(usize, usize),
) {
    let (oh, ow) = p.out_hw(h, w);
    let (kw, sw, pw) = (p.kernel.1, p.stride.1, p.padding.1);
    let cols_of = |ox: usize| {
        let x0 = (ox * sw) as isize - pw as isize;
        x0.max(0) as usize..((x0 + kw as isize).min(w as isize)).max(0) as usize
    };
    // Outputs whose window starts at or after column 0 and ends by column w.
    let inner_end = if w + pw >= kw {
        ((w + pw - kw) / sw + 1).min(ow)
    } else {
        0
    };
    let inner = pw.div_ceil(sw).min(inner_end)..inner_end;
    let mut firsts = vec![0usize; ow];
    for oy in 0..oh {
        let y0 = (oy * p.stride.0) as isize - p.padding.0 as isize;
        let rows = y0.max(0) as usize..((y0 + p.kernel.0 as isize).min(h as isize)).max(0) as usize;
        // An empty window (refused by `max_pool2d`) has no maximum to visit.
        if rows.is_empty() {
            continue;
        }
        for ox in (0..inner.start).chain(inner.end..ow) {
            let cols = cols_of(ox);
            firsts[ox] = usize::MAX;
            if cols.is_empty() {
                continue;
            }
            let mut best_i = rows.start * w + cols.start;
            let mut best_v = base[best_i];
            for y in rows.clone() {
                let row = y * w + cols.start;
                for (i, &v) in (row..).zip(&base[row..y * w + cols.end]) {
                    if first_max_moves(v, best_v) {
                        (best_v, best_i) = (v, i);
                    }
                }
            }
            firsts[ox] = best_i;
        }
        if !inner.is_empty() {
            let first_tap = rows.start * w + inner.start * sw - pw;
            let window = Window {
                rows: rows.len(),
                w,
                kw,
                sw,
            };
            side_by_side(base, first_tap, window, &mut firsts[inner.clone()]);
        }
        for (ox, &i) in firsts.iter().enumerate() {
            if i != usize::MAX {
                visit(oy * ow + ox, i);
            }
        }
    }
}

/// The taps of windows that lie inside their plane: `rows` rows of `kw` columns, rows `w` apart,
/// neighbouring windows `sw` columns apart.
#[derive(Clone, Copy)]
struct Window {
    rows: usize,
    w: usize,
    kw: usize,
    sw: usize,
}

/// `firsts[j]` = the first maximum of window j, whose top-left tap is `first_tap + j·sw`, all
/// windows run tap by tap side by side.
fn side_by_side<T: Float + 'static>(
    base: &[T],
    first_tap: usize,
    win: Window,
    firsts: &mut [usize],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && let Some(base) = super::streamed::as_f32(base)
        && i32::try_from(base.len()).is_ok()
    {
        // Every tap read is an index below base.len() (the windows lie inside the plane).
        let last = first_tap + (firsts.len() - 1) * win.sw + (win.rows - 1) * win.w + win.kw - 1;
        assert!(last < base.len());
        // SAFETY: AVX-512F detected; every index is below base.len() ≤ i32::MAX (asserted).
        return unsafe { side_by_side_f32(base, first_tap, win, firsts) };
    }
    for (j, f) in firsts.iter_mut().enumerate() {
        *f = first_tap + j * win.sw;
    }
    for y in 0..win.rows {
        for kx in 0..win.kw {
            let tap = first_tap + y * win.w + kx;
            for (f, i) in firsts.iter_mut().zip((tap..).step_by(win.sw)) {
                // Only the index is selected (a conditional move); the maximum so far is read
                // back through it. A selected float became a branch.
                let take = first_max_moves(base[i], base[*f]);
                *f = std::hint::select_unpredictable(take, i, *f);
            }
        }
    }
}

/// [`side_by_side`] for f32, sixteen windows per AVX-512 vector: each tap gathered, compared
/// (greater, or NaN) and blended into the running maximum and its index.
///
/// # Safety
/// The CPU has AVX-512F, and every tap index is below `base.len()` ≤ `i32::MAX`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn side_by_side_f32(base: &[f32], first_tap: usize, win: Window, firsts: &mut [usize]) {
    use std::arch::x86_64::*;
    let lanes = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(win.sw as i32),
    );
    for (block, out) in firsts.chunks_mut(16).enumerate() {
        let mask: __mmask16 = if out.len() == 16 {
            !0
        } else {
            (1 << out.len()) - 1
        };
        let start = (first_tap + block * 16 * win.sw) as i32;
        let at = |tap: usize| _mm512_add_epi32(lanes, _mm512_set1_epi32(start + tap as i32));
        let gather = |i: __m512i| unsafe {
            _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), mask, i, base.as_ptr().cast())
        };
        let mut best_i = at(0);
        let mut best = gather(best_i);
        for y in 0..win.rows {
            for kx in 0..win.kw {
                let i = at(y * win.w + kx);
                let v = gather(i);
                let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best)
                    | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                best = _mm512_mask_blend_ps(take, best, v);
                best_i = _mm512_mask_blend_epi32(take, best_i, i);
            }
        }
        let mut idx = [0u32; 16];
        unsafe { _mm512_storeu_si512(idx.as_mut_ptr().cast(), best_i) };
        for (f, &i) in out.iter_mut().zip(&idx) {
            *f = i as usize;
        }
    }
}

/// Whether `v`, met after `best` in a window, becomes its maximum: strictly greater keeps the
/// first maximum; NaN wins, as in PyTorch. Both tests are evaluated (`|`): which value wins is
/// data, and a branch on it mispredicts.
#[inline(always)]
fn first_max_moves<T: Float>(v: T, best: T) -> bool {
    (v > best) | v.is_nan()
}

/// Planes (one (sample, channel) each) are pooled side by side on the compute threads. With
/// `firsts`, each output's window also writes where in its plane its first maximum lies.
fn max_pool_fwd<T: Float + Send + Sync + Default + 'static>(
    x: &[T],
    d: [usize; 4],
    p: &Pool2d,
    firsts: Option<&mut Vec<u32>>,
) -> Vec<T> {
    let [n, c, h, w] = d;
    let (oh, ow) = p.out_hw(h, w);
    let plane_out = (oh * ow).max(1);
    let firsts = firsts.map(|f| {
        f.clear();
        f.resize(n * c * oh * ow, 0);
        super::cpu::SharedOut(f.as_mut_ptr())
    });
    super::cpu::filled_par(n * c * oh * ow, plane_out, |offset, out| {
        for (k, dst) in out.chunks_mut(plane_out).enumerate() {
            let plane = offset / plane_out + k;
            let base = &x[plane * h * w..(plane + 1) * h * w];
            argmax_windows(base, h, w, p, |o, i| {
                dst[o] = base[i];
                if let Some(f) = &firsts {
                    // SAFETY: this piece's planes are this thread's alone, and `i` < h·w fits
                    // in u32 (`MaxPool2dOp::cpu_fwd` asks for positions only then).
                    unsafe { f.get().add(plane * plane_out + o).write(i as u32) };
                }
            });
        }
    })
}

fn max_pool_bwd<T: Float + Send + Sync + Default + 'static>(
    x: &[T],
    g: &[T],
    d: [usize; 4],
    p: &Pool2d,
) -> Vec<T> {
    let [n, c, h, w] = d;
    let (oh, ow) = p.out_hw(h, w);
    let plane_in = (h * w).max(1);
    super::cpu::filled_par(n * c * h * w, plane_in, |offset, out| {
        for (k, dst) in out.chunks_mut(plane_in).enumerate() {
            let plane = offset / plane_in + k;
            let grad = &g[plane * oh * ow..(plane + 1) * oh * ow];
            argmax_windows(&x[plane * h * w..(plane + 1) * h * w], h, w, p, |o, i| {
                dst[i] = dst[i] + grad[o];
            });
        }
    })
}

/// Max pooling as a custom op. When the input's gradient will be asked for, the forward also
/// keeps where each window's first maximum lies, so that the backward only scatters: searching
/// every window a second time was about 3 % of a ResNet18 training step.
struct MaxPool2dOp {
    pool: Pool2d,
    /// The first maximum of every output's window, as an index within its plane; set by the
    /// forward when it is `Some`.
    firsts: Option<std::sync::OnceLock<Vec<u32>>>,
}

impl MaxPool2dOp {
    fn new(pool: Pool2d, keep_firsts: bool) -> Self {
        MaxPool2dOp {
            pool,
            firsts: keep_firsts.then(std::sync::OnceLock::new),
        }
    }
}

impl CustomOp1 for MaxPool2dOp {
    fn name(&self) -> &'static str {
        "max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let d = dims4(l, "max_pool2d")?;
        let (oh, ow) = self.pool.out_hw(d[2], d[3]);
        // A plane too large for u32 positions is searched again in the backward instead.
        let keep = self
            .firsts
            .as_ref()
            .filter(|_| d[2] * d[3] <= u32::MAX as usize);
        let mut firsts = Vec::new();
        let out = crate::with_float!(s, l, "max_pool2d", |x| max_pool_fwd(
            x,
            d,
            &self.pool,
            keep.map(|_| &mut firsts)
        ));
        if let Some(kept_firsts) = keep {
            let _ = kept_firsts.set(firsts);
        }
        Ok((out, Shape::from((d[0], d[1], oh, ow))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let g = match self.firsts.as_ref().and_then(|f| f.get()) {
            Some(firsts) => grad.apply_op1_no_bwd(&MaxPool2dScatter {
                firsts,
                input: arg.dims4()?.into(),
            })?,
            None => arg.apply_op2_no_bwd(&grad, &MaxPool2dBwd(self.pool))?,
        };
        Ok(Some(g))
    }
}

/// The gradient of max pooling from the kept first maxima: each output's gradient added at its
/// window's first maximum (overlapping windows can share one).
struct MaxPool2dScatter<'a> {
    firsts: &'a [u32],
    input: [usize; 4],
}

impl CustomOp1 for MaxPool2dScatter<'_> {
    fn name(&self) -> &'static str {
        "max-pool2d-scatter"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = crate::with_float!(s, l, "max_pool2d backward", |g| max_pool_scatter(
            g,
            self.firsts,
            self.input
        ));
        Ok((out, Shape::from(self.input.to_vec())))
    }
}

/// The input gradient (N, C, H, W) from the output gradient `g` and the kept first maxima.
fn max_pool_scatter<T: Float + Send + Sync + Default>(
    g: &[T],
    firsts: &[u32],
    [n, c, h, w]: [usize; 4],
) -> Vec<T> {
    let plane_in = (h * w).max(1);
    let plane_out = g.len() / (n * c).max(1);
    super::cpu::filled_par(n * c * h * w, plane_in, |offset, out| {
        for (k, dst) in out.chunks_mut(plane_in).enumerate() {
            let plane = offset / plane_in + k;
            let at = plane * plane_out..(plane + 1) * plane_out;
            for (&i, &gv) in firsts[at.clone()].iter().zip(&g[at]) {
                dst[i as usize] = dst[i as usize] + gv;
            }
        }
    })
}

struct MaxPool2dBwd(Pool2d);

impl CustomOp2 for MaxPool2dBwd {
    fn name(&self) -> &'static str {
        "max-pool2d-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = dims4(l1, "max_pool2d backward")?;
        let out = crate::with_float2!(s1, l1, s2, l2, "max_pool2d backward", |x, g| max_pool_bwd(
            x, g, d, &self.0
        ));
        Ok((out, l1.shape().clone()))
    }
}

/// Max pooling of an (N, C, H, W) tensor with PyTorch's semantics.
pub fn max_pool2d(x: &Tensor, p: Pool2d) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let end = p.padding_end();
    if p.kernel.0 == 0 || p.kernel.1 == 0 || p.stride.0 == 0 || p.stride.1 == 0 {
        candle_core::bail!("max_pool2d: kernel and stride must be positive");
    }
    if h + p.padding.0 + end.0 < p.kernel.0 || w + p.padding.1 + end.1 < p.kernel.1 {
        candle_core::bail!(
            "max_pool2d: kernel {:?} larger than the padded input {h}x{w}",
            p.kernel
        );
    }
    if 2 * p.padding.0 > p.kernel.0 || 2 * p.padding.1 > p.kernel.1 {
        candle_core::bail!("max_pool2d: padding must be at most half the kernel size");
    }
    // Every window must overlap the input (its last one starts inside it, as PyTorch's
    // ceil_mode demands): ONNX pads after the input can ask for windows wholly past its end.
    let (oh, ow) = p.out_hw(h, w);
    if oh == 0
        || ow == 0
        || (oh - 1) * p.stride.0 >= h + p.padding.0
        || (ow - 1) * p.stride.1 >= w + p.padding.1
    {
        candle_core::bail!(
            "max_pool2d: padding {:?} after the {h}x{w} input makes windows that hold none of it (kernel {:?}, stride {:?})",
            end,
            p.kernel,
            p.stride
        );
    }
    if super::portable::enabled(x) {
        return super::portable::max_pool2d(x, p);
    }
    x.contiguous()?.apply_op1(MaxPool2dOp::new(p, x.track_op()))
}

/// Captum's DeepLift rule for a max-pool module (`captum.attr._core.deep_lift.maxpool`), on a
/// batch of 2B rows (B inputs, then their B baselines):
///
/// * Δin = x − x_ref per element (the same for both halves); the output's cross maximum
///   m = max(y, y_ref) gives Δout = [m − y_ref ; y − m];
/// * g·Δout is scattered back through each row's own first-maximum positions as
///   `max_unpool2d` does (a later window overwrites an earlier one where they share an
///   element), the two halves are summed, and the result divided by Δin;
/// * where |Δin| < 1e-10 the plain max-pool gradient of the input row is kept, for the input
///   and for its baseline (Captum indexes `grad_input[0]`, the first row of its 2-row call).
///
/// Captum computes this rule only where the pool's input is not the output of another hooked
/// module (otherwise that module's rule takes over); the caller decides (`nn/graph`).
fn max_pool_deeplift_bwd<T: Float + Send + Sync + Default + 'static>(
    x: &[T],
    y: &[T],
    g: &[T],
    d: [usize; 4],
    p: &Pool2d,
) -> Vec<T> {
    let [n, c, h, w] = d;
    let (oh, ow) = p.out_hw(h, w);
    let (plane_in, plane_out) = (h * w, oh * ow);
    let half_planes = n / 2 * c;
    let plain = max_pool_bwd(x, g, d, p);
    let eps = T::from(1e-10).expect("eps");
    let pair = |plane: usize| {
        if plane < half_planes {
            (plane, plane + half_planes)
        } else {
            (plane - half_planes, plane)
        }
    };
    // Whole planes per piece (a plane holds at least one value: `max_pool2d`'s checks).
    let piece = plane_in.max(1);
    // unpooled[k] for every row: the scattered g·Δout. Planes side by side on the compute
    // threads, as in both passes.
    let unpooled: Vec<T> = super::cpu::filled_par(n * c * plane_in, piece, |at, out| {
        for (k, dst) in out.chunks_mut(piece).enumerate() {
            let plane = at / piece + k;
            let (inp, refp) = pair(plane);
            let base = &x[plane * plane_in..(plane + 1) * plane_in];
            argmax_windows(base, h, w, p, |o, i| {
                let (yi, yr) = (y[inp * plane_out + o], y[refp * plane_out + o]);
                let m = if yi > yr { yi } else { yr };
                let dout = if plane < half_planes { m - yr } else { yi - m };
                dst[i] = g[plane * plane_out + o] * dout;
            });
        }
    });
    super::cpu::filled_par(n * c * plane_in, piece, |at, out| {
        for (k, dst) in out.chunks_mut(piece).enumerate() {
            let plane = at / piece + k;
            let (inp, refp) = pair(plane);
            for (i, o) in dst.iter_mut().enumerate() {
                let din = x[inp * plane_in + i] - x[refp * plane_in + i];
                *o = if din.abs() >= eps {
                    (unpooled[inp * plane_in + i] + unpooled[refp * plane_in + i]) / din
                } else {
                    // Captum takes `grad_input[0]` here, the plain gradient of the pair's first
                    // row (the input), for both rows.
                    plain[inp * plane_in + i]
                };
            }
        }
    })
}

struct MaxPoolDeepLiftOp(Pool2d);

impl CustomOp1 for MaxPoolDeepLiftOp {
    fn name(&self) -> &'static str {
        "max-pool2d-deeplift"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        MaxPool2dOp::new(self.0, false).cpu_fwd(s, l)
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = arg.apply_op3_no_bwd(res, &grad.contiguous()?, &MaxPoolDeepLiftBwd(self.0))?;
        Ok(Some(g))
    }
}

struct MaxPoolDeepLiftBwd(Pool2d);

impl candle_core::CustomOp3 for MaxPoolDeepLiftBwd {
    fn name(&self) -> &'static str {
        "max-pool2d-deeplift-bwd"
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
        let d = dims4(l1, "max_pool2d DeepLift backward")?;
        let out = crate::with_float3!(
            s1,
            l1,
            s2,
            l2,
            s3,
            l3,
            "max_pool2d DeepLift backward",
            |x, y, g| max_pool_deeplift_bwd(x, y, g, d, &self.0)
        );
        Ok((out, l1.shape().clone()))
    }
}

/// Max pooling whose backward is Captum's DeepLift rule for max-pool modules (see
/// [`max_pool_deeplift_bwd`]); `x` holds B inputs then their B baselines.
pub fn max_pool2d_deeplift(x: &Tensor, p: Pool2d) -> Result<Tensor> {
    let n = x.dim(0)?;
    if n % 2 != 0 {
        candle_core::bail!(
            "max_pool2d (DeepLift): the batch must hold inputs and baselines, got {n} rows"
        );
    }
    // Same checks and value as the plain op.
    let plain = max_pool2d(x, p)?;
    if super::portable::enabled(x) {
        // The rule needs the per-window scatter order; it runs on the host.
        let cpu = candle_core::Device::Cpu;
        let (xc, yc) = (x.to_device(&cpu)?, plain.detach().to_device(&cpu)?);
        let device = x.device().clone();
        return super::portable::with_grad(x, &plain, move |_, _, g| {
            let g = g.to_device(&cpu)?.contiguous()?;
            xc.contiguous()?
                .apply_op3_no_bwd(&yc.contiguous()?, &g, &MaxPoolDeepLiftBwd(p))?
                .to_device(&device)
        });
    }
    x.contiguous()?.apply_op1(MaxPoolDeepLiftOp(p))
}

fn adaptive_fwd<T: Float>(x: &[T], d: [usize; 4], oh: usize, ow: usize) -> Vec<T> {
    let [n, c, h, w] = d;
    let (wy, wx) = (adaptive_windows(h, oh), adaptive_windows(w, ow));
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for plane in 0..n * c {
        let base = &x[plane * h * w..(plane + 1) * h * w];
        for &(y0, y1) in &wy {
            for &(x0, x1) in &wx {
                let mut s = T::zero();
                for y in y0..y1 {
                    for xx in x0..x1 {
                        s = s + base[y * w + xx];
                    }
                }
                out.push(s / T::from((y1 - y0) * (x1 - x0)).expect("window size fits a float"));
            }
        }
    }
    out
}

fn adaptive_bwd<T: Float>(g: &[T], d: [usize; 4], oh: usize, ow: usize) -> Vec<T> {
    let [n, c, h, w] = d;
    let (wy, wx) = (adaptive_windows(h, oh), adaptive_windows(w, ow));
    let mut out = vec![T::zero(); n * c * h * w];
    for plane in 0..n * c {
        for (i, &(y0, y1)) in wy.iter().enumerate() {
            for (j, &(x0, x1)) in wx.iter().enumerate() {
                let gv = g[plane * oh * ow + i * ow + j]
                    / T::from((y1 - y0) * (x1 - x0)).expect("window size fits a float");
                for y in y0..y1 {
                    for xx in x0..x1 {
                        let k = plane * h * w + y * w + xx;
                        out[k] = out[k] + gv;
                    }
                }
            }
        }
    }
    out
}

struct AdaptiveAvgPool2dOp(usize, usize);

impl CustomOp1 for AdaptiveAvgPool2dOp {
    fn name(&self) -> &'static str {
        "adaptive-avg-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let d = dims4(l, "adaptive_avg_pool2d")?;
        let out = crate::with_float!(s, l, "adaptive_avg_pool2d", |x| adaptive_fwd(
            x, d, self.0, self.1
        ));
        Ok((out, Shape::from((d[0], d[1], self.0, self.1))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = arg.apply_op2_no_bwd(&grad.contiguous()?, &AdaptiveAvgPool2dBwd(self.0, self.1))?;
        Ok(Some(g))
    }
}

struct AdaptiveAvgPool2dBwd(usize, usize);

impl CustomOp2 for AdaptiveAvgPool2dBwd {
    fn name(&self) -> &'static str {
        "adaptive-avg-pool2d-bwd"
    }

    fn cpu_fwd(
        &self,
        _s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = dims4(l1, "adaptive_avg_pool2d backward")?;
        let out = crate::with_float!(s2, l2, "adaptive_avg_pool2d backward", |g| adaptive_bwd(
            g, d, self.0, self.1
        ));
        Ok((out, l1.shape().clone()))
    }
}

/// PyTorch's `AdaptiveAvgPool2d((oh, ow))`.
pub fn adaptive_avg_pool2d(x: &Tensor, oh: usize, ow: usize) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if (h, w) == (oh, ow) {
        return Ok(x.clone());
    }
    if super::portable::enabled(x) {
        return super::portable::adaptive_avg_pool2d(x, oh, ow);
    }
    x.contiguous()?.apply_op1(AdaptiveAvgPool2dOp(oh, ow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t(v: &[f64], d: (usize, usize, usize, usize)) -> Tensor {
        Tensor::from_slice(v, d, &Device::Cpu).unwrap()
    }

    /// The gradient of `x` in `grads`, flattened.
    fn grad_values(grads: &candle_core::backprop::GradStore, x: &Var) -> Vec<f64> {
        grads
            .get(x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn planes_pooled_side_by_side_match_one_by_one() {
        // Large enough for every thread to take a share (tensor::cpu::fill_par): 3×3 stride 2
        // padding 1, as ResNet's stem, against a direct per-window maximum.
        let (n, c, h, w) = (2, 24, 97, 81);
        let v: Vec<f64> = (0..n * c * h * w)
            .map(|i| ((i * 7919) % 1013) as f64)
            .collect();
        let p = Pool2d::square(3, 2, 1);
        let got = max_pool_fwd(&v, [n, c, h, w], &p, None);
        let (oh, ow) = p.out_hw(h, w);
        assert_eq!(got.len(), n * c * oh * ow);
        for plane in 0..n * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut m = f64::NEG_INFINITY;
                    for y in (2 * oy).saturating_sub(1)..(2 * oy + 2).min(h) {
                        for x in (2 * ox).saturating_sub(1)..(2 * ox + 2).min(w) {
                            m = m.max(v[(plane * h + y) * w + x]);
                        }
                    }
                    assert_eq!(
                        got[(plane * oh + oy) * ow + ox],
                        m,
                        "plane {plane} ({oy}, {ox})"
                    );
                }
            }
        }
        // Every window's gradient lands once: the input gradient sums to the output count.
        let g = vec![1.0; got.len()];
        let dx = max_pool_bwd(&v, &g, [n, c, h, w], &p);
        assert_eq!(dx.iter().sum::<f64>(), got.len() as f64);
    }

    #[test]
    fn windows_side_by_side_find_each_first_maximum() {
        // f32 takes the AVX-512 gathers where the CPU has them, f64 the scalar side-by-side
        // loop; both against one window at a time in row-major order. Values from a small set
        // (ties in most windows) with NaNs among them (a later NaN wins); widths that give
        // interiors of several 16-window blocks and a partial one, kernels 1–4, strides 1–3,
        // padding 0–2 (windows cut at both edges).
        fn by_definition(v: &[f64], h: usize, w: usize, p: &Pool2d) -> Vec<(usize, usize)> {
            let (oh, ow) = p.out_hw(h, w);
            let mut out = vec![];
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best: Option<usize> = None;
                    for y in 0..p.kernel.0 {
                        for x in 0..p.kernel.1 {
                            let (y, x) = (oy * p.stride.0 + y, ox * p.stride.1 + x);
                            let (Some(y), Some(x)) =
                                (y.checked_sub(p.padding.0), x.checked_sub(p.padding.1))
                            else {
                                continue;
                            };
                            if y >= h || x >= w {
                                continue;
                            }
                            let i = y * w + x;
                            if best.is_none_or(|b| v[i] > v[b] || v[i].is_nan()) {
                                best = Some(i);
                            }
                        }
                    }
                    out.extend(best.map(|b| (oy * ow + ox, b)));
                }
            }
            out
        }
        for (h, w) in [(9, 71), (6, 40), (5, 17)] {
            let v: Vec<f64> = (0..h * w)
                .map(|i| match (i * 7919) % 23 {
                    0 => f64::NAN,
                    r => (r % 4) as f64,
                })
                .collect();
            let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            for k in 1..=4 {
                for s in 1..=3 {
                    for pad in 0..=2.min(k / 2) {
                        let p = Pool2d::square(k, s, pad);
                        let want = by_definition(&v, h, w, &p);
                        let mut got64 = vec![];
                        argmax_windows(&v, h, w, &p, |o, i| got64.push((o, i)));
                        let mut got32 = vec![];
                        argmax_windows(&v32, h, w, &p, |o, i| got32.push((o, i)));
                        assert_eq!(got64, want, "f64 {h}×{w} {p:?}");
                        assert_eq!(got32, want, "f32 {h}×{w} {p:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn kept_first_maxima_give_the_searched_gradient() {
        // Values from a small set, so windows tie often; kernel 3 stride 2 overlaps, padding 1
        // puts −∞ at the edges. The backward through the op (which keeps the first maxima in
        // its forward) must equal searching the windows again, sums of overlaps included.
        let (n, c, h, w) = (2, 5, 13, 10);
        let v: Vec<f64> = (0..n * c * h * w).map(|i| ((i * 37) % 5) as f64).collect();
        let g_out: Vec<f64> = (0..n * c * h * w).map(|i| 1.0 + (i % 11) as f64).collect();
        for p in [
            Pool2d::square(3, 2, 1),
            Pool2d::square(2, 2, 0),
            Pool2d::square(3, 1, 1),
        ] {
            let x = Var::from_tensor(&t(&v, (n, c, h, w))).unwrap();
            let y = max_pool2d(&x, p).unwrap();
            let gy = Tensor::from_slice(&g_out[..y.elem_count()], y.dims(), &Device::Cpu).unwrap();
            let grads = (y * &gy).unwrap().sum_all().unwrap().backward().unwrap();
            let got = grad_values(&grads, &x);
            let searched = max_pool_bwd(&v, &g_out[..gy.elem_count()], [n, c, h, w], &p);
            assert_eq!(got, searched, "{p:?}");
        }
    }

    #[test]
    fn max_pool_gradient_goes_to_the_first_maximum() {
        // STACK.md's case: candle's own pool gives [0, 0, 0, 0.25] here.
        let x = Var::from_tensor(&t(&[1., 2., 3., 4.], (1, 1, 2, 2))).unwrap();
        let y = max_pool2d(&x, Pool2d::square(2, 2, 0)).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(grad_values(&g, &x), vec![0., 0., 0., 1.]);
        // Ties: the first in row-major order takes all the gradient.
        let x = Var::from_tensor(&t(&[4., 4., 3., 4.], (1, 1, 2, 2))).unwrap();
        let y = max_pool2d(&x, Pool2d::square(2, 2, 0)).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(grad_values(&g, &x), vec![1., 0., 0., 0.]);
    }

    #[test]
    fn overlapping_padded_windows_accumulate() {
        // 3x3 input, kernel 3, stride 2, padding 1 → 2x2 output; the centre is the max of all
        // four windows, so it collects all four gradients.
        let x = Var::from_tensor(&t(&[0., 0., 0., 0., 9., 0., 0., 0., 0.], (1, 1, 3, 3))).unwrap();
        let y = max_pool2d(&x, Pool2d::square(3, 2, 1)).unwrap();
        assert_eq!(y.dims(), &[1, 1, 2, 2]);
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(grad_values(&g, &x)[4], 4.0);
    }

    #[test]
    fn adaptive_pool_7_to_6_uses_overlapping_pairs() {
        let v: Vec<f64> = (0..49).map(|i| i as f64).collect();
        let x = Var::from_tensor(&t(&v, (1, 1, 7, 7))).unwrap();
        let y = adaptive_avg_pool2d(&x, 6, 6).unwrap();
        // Window (0..2, 0..2) = mean(0, 1, 7, 8) = 4.
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f64>().unwrap()[0], 4.0);
        let g = y.sum_all().unwrap().backward().unwrap();
        let gx = grad_values(&g, &x);
        // The corner belongs to one window (1/4), an inner element to four (4 × 1/4).
        assert_eq!(gx[0], 0.25);
        assert_eq!(gx[8], 1.0);
    }
}
