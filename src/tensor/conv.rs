//! 2-D convolution as gaxsh's own op: im2col + the `gemm` crate for ordinary convolutions,
//! direct loops for depthwise ones, asymmetric zero padding (TensorFlow "SAME") built in, and a
//! backward pass of the same kind (col2im for the input gradient; the weight gradient only when
//! the weight takes part in the graph, i.e. in training).
//!
//! candle 0.11's own conv2d backward goes through conv_transpose2d and an odd-shaped conv2d and
//! was 5–8× slower than PyTorch on small conv nets (STACK.md §4); its grouped convolution runs one
//! convolution per group, which makes MobileNet's depthwise layers very slow.

use super::cpu::dims4;
pub use super::geometry::ConvGeom;
use super::products::{matmul, matmul_add_strided_a_bt, matmul_on, matmul_strided, parallelism};
use super::thin::{self, Thin};
use super::winograd;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use num_traits::Float;
use rayon::prelude::*;
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
}

impl ConvGeom {
    fn dims(&self, x: [usize; 4], w: [usize; 4]) -> Result<Dims> {
        let [n, c, h, wd] = x;
        let [k, cg, kh, kw] = w;
        if c != cg * self.groups || k % self.groups != 0 {
            candle_core::bail!(
                "conv2d: {c} input channels and a kernel of {cg} channels per group do not fit {} groups",
                self.groups
            );
        }
        let (ph, pw) = (h + self.pad.0 + self.pad.1, wd + self.pad.2 + self.pad.3);
        if ph < kh || pw < kw {
            candle_core::bail!(
                "conv2d: kernel {kh}×{kw} is larger than the padded input {ph}×{pw}"
            );
        }
        Ok(Dims {
            n,
            c,
            h,
            w: wd,
            k,
            kh,
            kw,
            oh: (ph - kh) / self.stride + 1,
            ow: (pw - kw) / self.stride + 1,
        })
    }

    /// The output's (height, width), after the same shape checks as the kernels.
    pub(crate) fn out_size(&self, x: [usize; 4], w: [usize; 4]) -> Result<(usize, usize)> {
        let d = self.dims(x, w)?;
        Ok((d.oh, d.ow))
    }

    fn depthwise(&self, d: &Dims) -> bool {
        self.groups > 1 && self.groups == d.c && d.k == d.c
    }

    /// A 1×1 convolution with stride 1 and no padding: a plain matrix product per sample, the
    /// input itself being its im2col matrix.
    fn pointwise(&self, d: &Dims) -> bool {
        self.groups == 1 && d.kh == 1 && d.kw == 1 && self.stride == 1 && self.pad == (0, 0, 0, 0)
    }

    /// A 3×3 convolution at stride 1 with padding 1 and enough channels for Winograd to pay:
    /// the input gradient is then the same kind of convolution.
    fn winograd(&self, d: &Dims) -> Option<winograd::Sizes> {
        let s = winograd::Sizes {
            n: d.n,
            c: d.c,
            h: d.h,
            w: d.w,
            k: d.k,
        };
        let fits = self.groups == 1
            && (d.kh, d.kw, self.stride) == (3, 3, 1)
            && self.pad == (1, 1, 1, 1)
            && winograd::pays(&s);
        fits.then_some(s)
    }

    /// The convolution of one sample as the direct kernels (`thin.rs`) see it; they take
    /// ungrouped f32 convolutions with few channels on one side (each says which).
    fn thin<T: 'static>(&self, d: &Dims) -> Option<Thin> {
        (self.groups == 1 && thin::takes::<T>()).then_some(Thin {
            c: d.c,
            h: d.h,
            w: d.w,
            k: d.k,
            kh: d.kh,
            kw: d.kw,
            oh: d.oh,
            ow: d.ow,
            stride: self.stride,
            pad: self.pad,
        })
    }

    /// Small outputs (1-D convolutions on tabular rows) run as one product over the whole batch:
    /// per-sample products of a few hundred elements cost more in calls than in arithmetic. Not
    /// on several threads where each sample's product is sizeable (a ResNet's stride-2 layers):
    /// the batched product gathers its columns on one thread, shares of the samples run side by
    /// side.
    fn batched(&self, d: &Dims) -> bool {
        let rows = d.c / self.groups.max(1) * d.kh * d.kw;
        let per_sample = d.k * rows * d.oh * d.ow;
        self.groups == 1
            && d.oh * d.ow <= 1024
            && rows * d.n * d.oh * d.ow <= 1 << 24
            && (per_sample <= 1 << 20 || crate::threads::current() < 2)
    }
}

/// (N, K, P) ↔ (K, N·P) layouts of a batched product.
fn to_batch_major<T: Copy>(kn: &[T], n: usize, k: usize, p: usize, out: &mut [T]) {
    for ki in 0..k {
        for ni in 0..n {
            out[(ni * k + ki) * p..(ni * k + ki + 1) * p]
                .copy_from_slice(&kn[ki * n * p + ni * p..ki * n * p + (ni + 1) * p]);
        }
    }
}

fn to_channel_major<T: Copy>(nk: &[T], n: usize, k: usize, p: usize, out: &mut [T]) {
    for ni in 0..n {
        for ki in 0..k {
            out[ki * n * p + ni * p..ki * n * p + (ni + 1) * p]
                .copy_from_slice(&nk[(ni * k + ki) * p..(ni * k + ki + 1) * p]);
        }
    }
}

/// Output rows per band so that a band's column matrix holds about 32k values.
fn band_rows(rows: usize, ow: usize, oh: usize) -> usize {
    (32_768 / (rows * ow).max(1)).clamp(1, oh.max(1))
}

/// The output positions `lo..hi` whose input index `o·stride + k − pad` lies inside `0..size`.
fn valid_range(k: usize, pad: usize, stride: usize, size: usize, out: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(k).div_ceil(stride).min(out);
    let hi = if size + pad < k + 1 {
        0
    } else {
        ((size - 1 + pad - k) / stride + 1).min(out)
    };
    (lo, hi.max(lo))
}

// Depthwise convolutions run as direct loops, one kernel tap at a time over a whole output row:
// out[ox] += w · in[ox·stride + kx − pad]. The valid output range of each tap is worked out once,
// so the inner loops have no branches; for stride > 1 each input row is first split by phase
// (row[p], row[p + s], …) so that a tap reads, or in the backward pass writes, a contiguous run
// and the loops vectorise.

/// Split rows `y0..y1` of an (h, w) plane by stride phase:
/// `ph[(y·s + p)·pl + j] = plane[y·w + j·s + p]`.
#[allow(clippy::too_many_arguments)]
fn split_phases<T: Copy>(
    plane: &[T],
    y0: usize,
    y1: usize,
    w: usize,
    s: usize,
    pl: usize,
    ph: &mut [T],
) {
    for y in y0..y1 {
        let row = &plane[y * w..(y + 1) * w];
        let out = &mut ph[y * s * pl..(y + 1) * s * pl];
        if s == 2 {
            let (even, odd) = out.split_at_mut(pl);
            for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                *e = pair[0];
                *o = pair[1];
            }
            if w % 2 == 1 {
                even[w / 2] = row[w - 1];
            }
        } else {
            for (x, &v) in row.iter().enumerate() {
                out[(x % s) * pl + x / s] = v;
            }
        }
    }
}

/// Add rows split by phase back into rows `y0..y1` of the plane (the inverse of
/// [`split_phases`], accumulating).
#[allow(clippy::too_many_arguments)]
fn merge_add_phases<T: Float>(
    ph: &[T],
    y0: usize,
    y1: usize,
    w: usize,
    s: usize,
    pl: usize,
    plane: &mut [T],
) {
    for y in y0..y1 {
        let row = &mut plane[y * w..(y + 1) * w];
        let src = &ph[y * s * pl..(y + 1) * s * pl];
        if s == 2 {
            let (even, odd) = src.split_at(pl);
            for ((&e, &o), pair) in even.iter().zip(odd).zip(row.chunks_exact_mut(2)) {
                pair[0] = pair[0] + e;
                pair[1] = pair[1] + o;
            }
            if w % 2 == 1 {
                row[w - 1] = row[w - 1] + even[w / 2];
            }
        } else {
            for (x, v) in row.iter_mut().enumerate() {
                *v = *v + src[(x % s) * pl + x / s];
            }
        }
    }
}

/// The contiguous input run a tap reads: `len` values from input column `first` of row `iy`.
#[inline(always)]
fn tap_index(iy: usize, first: usize, s: usize, pl: usize, w: usize) -> usize {
    if s == 1 {
        iy * w + first
    } else {
        (iy * s + first % s) * pl + first / s
    }
}

/// A depthwise convolution's output or input gradient, `planes` planes of `plane` values made by
/// `fill(first plane, their values)` with the planes split over the compute threads (each
/// thread zeroes its own share first). Each plane is its own small loop nest; on MobileNetV1 at
/// batch 8 these layers were a third of an attribution run, on one thread while the other idled.
fn by_planes<T: Float + Default + Send + Sync>(
    planes: usize,
    plane: usize,
    fill: impl Fn(usize, &mut [T]) + Sync,
) -> Vec<T> {
    crate::tensor::cpu::filled_par(planes * plane, plane, |at, out| {
        fill(at / plane.max(1), out)
    })
}

crate::avx2_dispatch!(
    fn depthwise_forward_planes<T: Float>(x: &[T], w: &[T], d: &Dims, g: &ConvGeom, first: usize, out: &mut [T])
        => depthwise_forward_loops
);

/// Output planes `first..` (plane p is sample p / c, channel p % c) into `out`, zeroed.
#[inline(always)]
fn depthwise_forward_loops<T: Float>(
    x: &[T],
    w: &[T],
    d: &Dims,
    g: &ConvGeom,
    first: usize,
    out: &mut [T],
) {
    let (oh, ow, s) = (d.oh, d.ow, g.stride);
    let pl = d.w.div_ceil(s);
    let mut ph = vec![T::zero(); if s > 1 { d.h * s * pl } else { 0 }];
    for (p, dst) in (first..).zip(out.chunks_exact_mut((oh * ow).max(1))) {
        let c = p % d.c;
        let plane = &x[p * d.h * d.w..(p + 1) * d.h * d.w];
        let src: &[T] = if s > 1 {
            split_phases(plane, 0, d.h, d.w, s, pl, &mut ph);
            &ph
        } else {
            plane
        };
        let ker = &w[c * d.kh * d.kw..(c + 1) * d.kh * d.kw];
        for oy in 0..oh {
            let out_row = &mut dst[oy * ow..(oy + 1) * ow];
            for ky in 0..d.kh {
                let iy = (oy * s + ky) as isize - g.pad.0 as isize;
                if iy < 0 || iy >= d.h as isize {
                    continue;
                }
                for kx in 0..d.kw {
                    let (lo, hi) = valid_range(kx, g.pad.2, s, d.w, ow);
                    if lo >= hi {
                        continue;
                    }
                    let at = tap_index(iy as usize, lo * s + kx - g.pad.2, s, pl, d.w);
                    let wv = ker[ky * d.kw + kx];
                    for (o, &v) in out_row[lo..hi].iter_mut().zip(&src[at..at + (hi - lo)]) {
                        *o = *o + wv * v;
                    }
                }
            }
        }
    }
}

crate::avx2_dispatch!(
    fn depthwise_grad_input_planes<T: Float>(w: &[T], dy: &[T], d: &Dims, g: &ConvGeom, first: usize, dx: &mut [T])
        => depthwise_grad_input_loops
);

/// Input-gradient planes `first..` (as the forward's) into `dx`, zeroed.
#[inline(always)]
fn depthwise_grad_input_loops<T: Float>(
    w: &[T],
    dy: &[T],
    d: &Dims,
    g: &ConvGeom,
    first: usize,
    dx: &mut [T],
) {
    let (oh, ow, s) = (d.oh, d.ow, g.stride);
    let pl = d.w.div_ceil(s);
    let mut ph = vec![T::zero(); if s > 1 { d.h * s * pl } else { 0 }];
    for (p, plane) in (first..).zip(dx.chunks_exact_mut((d.h * d.w).max(1))) {
        let c = p % d.c;
        let ker = &w[c * d.kh * d.kw..(c + 1) * d.kh * d.kw];
        let src = &dy[p * oh * ow..(p + 1) * oh * ow];
        if s > 1 {
            ph.iter_mut().for_each(|v| *v = T::zero());
        }
        let acc: &mut [T] = if s > 1 { &mut ph } else { plane };
        for oy in 0..oh {
            let dy_row = &src[oy * ow..(oy + 1) * ow];
            for ky in 0..d.kh {
                let iy = (oy * s + ky) as isize - g.pad.0 as isize;
                if iy < 0 || iy >= d.h as isize {
                    continue;
                }
                for kx in 0..d.kw {
                    let (lo, hi) = valid_range(kx, g.pad.2, s, d.w, ow);
                    if lo >= hi {
                        continue;
                    }
                    let at = tap_index(iy as usize, lo * s + kx - g.pad.2, s, pl, d.w);
                    let wv = ker[ky * d.kw + kx];
                    for (a, &v) in acc[at..at + (hi - lo)].iter_mut().zip(&dy_row[lo..hi]) {
                        *a = *a + wv * v;
                    }
                }
            }
        }
        if s > 1 {
            // Put the phases back in place.
            merge_add_phases(&ph, 0, d.h, d.w, s, pl, plane);
        }
    }
}

/// The columns of one sample and group: (cg·kh·kw) × (oh·ow).
fn im2col<T: Float>(x: &[T], d: &Dims, g: &ConvGeom, c0: usize, cg: usize, col: &mut [T]) {
    im2col_band(x, d, g, c0, cg, 0, d.oh, col)
}

/// The columns of output rows `oy0..oy1` only: (cg·kh·kw) × ((oy1 − oy0)·ow). Working band by
/// band keeps the column matrix in cache for large images.
#[allow(clippy::too_many_arguments)]
fn im2col_band<T: Float>(
    x: &[T],
    d: &Dims,
    g: &ConvGeom,
    c0: usize,
    cg: usize,
    oy0: usize,
    oy1: usize,
    col: &mut [T],
) {
    let (ow, s) = (d.ow, g.stride);
    let bl = (oy1 - oy0) * ow;
    let pl = d.w.div_ceil(s);
    let (y0, y1) = band_input_rows(d, g, oy0, oy1);
    // Strided reads become contiguous copies from the rows split by phase.
    let mut ph = vec![T::zero(); if s > 1 { (y1 - y0) * s * pl } else { 0 }];
    for ci in 0..cg {
        let plane = &x[(c0 + ci) * d.h * d.w..(c0 + ci + 1) * d.h * d.w];
        // The split rows start at input row y0.
        let (src_all, row0): (&[T], usize) = if s > 1 {
            split_phases(&plane[y0 * d.w..], 0, y1 - y0, d.w, s, pl, &mut ph);
            (&ph, y0)
        } else {
            (plane, 0)
        };
        for ky in 0..d.kh {
            let (ylo, yhi) = valid_range(ky, g.pad.0, s, d.h, d.oh);
            for kx in 0..d.kw {
                let (xlo, xhi) = valid_range(kx, g.pad.2, s, d.w, ow);
                let row = (ci * d.kh + ky) * d.kw + kx;
                let dst = &mut col[row * bl..(row + 1) * bl];
                for oy in oy0..oy1 {
                    let out = &mut dst[(oy - oy0) * ow..(oy - oy0 + 1) * ow];
                    if oy < ylo || oy >= yhi || xlo >= xhi {
                        out.fill(T::zero());
                        continue;
                    }
                    let iy = oy * s + ky - g.pad.0;
                    out[..xlo].fill(T::zero());
                    out[xhi..].fill(T::zero());
                    let at = tap_index(iy - row0, xlo * s + kx - g.pad.2, s, pl, d.w);
                    out[xlo..xhi].copy_from_slice(&src_all[at..at + (xhi - xlo)]);
                }
            }
        }
    }
}

/// The input rows that output rows `oy0..oy1` read.
fn band_input_rows(d: &Dims, g: &ConvGeom, oy0: usize, oy1: usize) -> (usize, usize) {
    if oy0 >= oy1 {
        return (0, 0);
    }
    let y0 = (oy0 * g.stride).saturating_sub(g.pad.0);
    let y1 = ((oy1 - 1) * g.stride + d.kh)
        .saturating_sub(g.pad.0)
        .min(d.h);
    (y0.min(y1), y1)
}

/// Add the columns back into the input gradient of one sample and group.
fn col2im<T: Float>(col: &[T], d: &Dims, g: &ConvGeom, c0: usize, cg: usize, dx: &mut [T]) {
    col2im_band(col, d, g, c0, cg, 0, d.oh, dx)
}

/// [`col2im`] for the output rows `oy0..oy1`.
#[allow(clippy::too_many_arguments)]
fn col2im_band<T: Float>(
    col: &[T],
    d: &Dims,
    g: &ConvGeom,
    c0: usize,
    cg: usize,
    oy0: usize,
    oy1: usize,
    dx: &mut [T],
) {
    let (ow, s) = (d.ow, g.stride);
    let bl = (oy1 - oy0) * ow;
    let pl = d.w.div_ceil(s);
    let (y0, y1) = band_input_rows(d, g, oy0, oy1);
    // Strided scatters become contiguous additions into the rows split by phase.
    let mut ph = vec![T::zero(); if s > 1 { (y1 - y0) * s * pl } else { 0 }];
    for ci in 0..cg {
        let plane = &mut dx[(c0 + ci) * d.h * d.w..(c0 + ci + 1) * d.h * d.w];
        // Accumulate into rows split by phase (starting at input row y0), added back below.
        let row0 = if s > 1 {
            ph.fill(T::zero());
            y0
        } else {
            0
        };
        let acc: &mut [T] = if s > 1 { &mut ph } else { plane };
        for ky in 0..d.kh {
            let (ylo, yhi) = valid_range(ky, g.pad.0, s, d.h, d.oh);
            for kx in 0..d.kw {
                let (xlo, xhi) = valid_range(kx, g.pad.2, s, d.w, ow);
                if xlo >= xhi {
                    continue;
                }
                let row = (ci * d.kh + ky) * d.kw + kx;
                let src = &col[row * bl..(row + 1) * bl];
                for oy in ylo.max(oy0)..yhi.min(oy1) {
                    let iy = oy * s + ky - g.pad.0;
                    let at = tap_index(iy - row0, xlo * s + kx - g.pad.2, s, pl, d.w);
                    let r = (oy - oy0) * ow;
                    add_into(&mut acc[at..at + (xhi - xlo)], &src[r + xlo..r + xhi]);
                }
            }
        }
        if s > 1 {
            let plane = &mut dx[(c0 + ci) * d.h * d.w..(c0 + ci + 1) * d.h * d.w];
            merge_add_phases(&ph, 0, y1 - y0, d.w, s, pl, &mut plane[y0 * d.w..]);
        }
    }
}

crate::avx2_dispatch!(
    /// `dst += src`, elementwise.
    fn add_into<T: Float>(dst: &mut [T], src: &[T]) => add_into_loop
);

#[inline(always)]
fn add_into_loop<T: Float>(dst: &mut [T], src: &[T]) {
    for (o, &v) in dst.iter_mut().zip(src) {
        *o = *o + v;
    }
}

fn forward<T: Float + Default + Send + Sync + 'static>(
    x: &[T],
    w: &[T],
    weight: Option<&winograd::kept::Weight>,
    d: &Dims,
    g: &ConvGeom,
) -> Vec<T> {
    if let Some(s) = g.winograd(d) {
        return winograd::conv3x3(x, winograd::Kernel::Forward(w, weight), &s);
    }
    if g.depthwise(d) {
        return by_planes(d.n * d.k, d.oh * d.ow, |first, out| {
            depthwise_forward_planes(x, w, d, g, first, out)
        });
    }
    let (oh, ow) = (d.oh, d.ow);
    let mut out = vec![T::zero(); d.n * d.k * oh * ow];
    let cg = d.c / g.groups;
    let kg = d.k / g.groups;
    let rows = cg * d.kh * d.kw;
    let p = oh * ow;
    if g.pointwise(d) {
        // One product per sample (samples side by side on several threads).
        per_sample(
            &mut out,
            d.k * p,
            0,
            parallelism(d.k, p, d.c),
            |n, dst, _, par| {
                let xs = &x[n * d.c * p..(n + 1) * d.c * p];
                matmul_on(d.k, p, d.c, w, false, xs, false, dst, false, par);
            },
        );
        return out;
    }
    if g.batched(d) {
        let mut col = vec![T::zero(); rows * d.n * p];
        let mut one = vec![T::zero(); rows * p];
        for n in 0..d.n {
            im2col(
                &x[n * d.c * d.h * d.w..(n + 1) * d.c * d.h * d.w],
                d,
                g,
                0,
                d.c,
                &mut one,
            );
            for r in 0..rows {
                col[r * d.n * p + n * p..r * d.n * p + (n + 1) * p]
                    .copy_from_slice(&one[r * p..(r + 1) * p]);
            }
        }
        let mut kn = vec![T::zero(); d.k * d.n * p];
        matmul(d.k, d.n * p, rows, w, false, &col, false, &mut kn, false);
        to_batch_major(&kn, d.n, d.k, p, &mut out);
        return out;
    }
    // After `batched`: small 1-D outputs of tabular rows stay one product over the batch.
    if let Some(t) = g.thin::<T>(d).filter(Thin::forward_applies) {
        let xs = d.c * d.h * d.w;
        per_sample(
            &mut out,
            d.k * p,
            t.split_len(),
            gemm::Parallelism::None,
            |n, dst, split, _| {
                let done = thin::forward(&t, &x[n * xs..][..xs], w, dst, split);
                debug_assert!(done, "thin::forward_applies said yes");
            },
        );
        return out;
    }
    let band = band_rows(rows, ow, oh);
    let inner = parallelism(kg, band * ow, rows);
    per_sample(
        &mut out,
        d.k * p,
        rows * band * ow,
        inner,
        |n, dst, col, par| {
            let xs = &x[n * d.c * d.h * d.w..(n + 1) * d.c * d.h * d.w];
            for gi in 0..g.groups {
                let wg = &w[gi * kg * rows..(gi + 1) * kg * rows];
                let dst = &mut dst[gi * kg * p..(gi + 1) * kg * p];
                for oy0 in (0..oh).step_by(band) {
                    let oy1 = (oy0 + band).min(oh);
                    let bl = (oy1 - oy0) * ow;
                    im2col_band(xs, d, g, gi * cg, cg, oy0, oy1, &mut col[..rows * bl]);
                    matmul_strided(
                        kg,
                        bl,
                        rows,
                        wg,
                        false,
                        &col[..rows * bl],
                        bl,
                        &mut dst[oy0 * ow..],
                        p,
                        false,
                        par,
                    );
                }
            }
        },
    );
    out
}

/// Run `f(sample, its slice of out, scratch, gemm's threads)` for every sample: side by side on
/// the compute threads when there are several of both (each with its own scratch, gemm on one
/// thread), else in order with `inner` threads for gemm.
fn per_sample<T: Float + Send + Sync>(
    out: &mut [T],
    per: usize,
    scratch: usize,
    inner: gemm::Parallelism,
    f: impl Fn(usize, &mut [T], &mut [T], gemm::Parallelism) + Sync,
) {
    if crate::threads::current() > 1 && out.len() > per {
        out.par_chunks_mut(per).enumerate().for_each_init(
            || vec![T::zero(); scratch],
            |col, (n, o)| f(n, o, col, gemm::Parallelism::None),
        );
    } else {
        let mut col = vec![T::zero(); scratch];
        for (n, o) in out.chunks_mut(per).enumerate() {
            f(n, o, &mut col, inner);
        }
    }
}

fn grad_input<T: Float + Default + Send + Sync + 'static>(
    w: &[T],
    weight: Option<&winograd::kept::Weight>,
    dy: &[T],
    d: &Dims,
    g: &ConvGeom,
) -> Vec<T> {
    if let Some(s) = g.winograd(d) {
        let back = winograd::Sizes {
            c: d.k,
            k: d.c,
            ..s
        };
        return winograd::conv3x3(dy, winograd::Kernel::Flipped(w, weight), &back);
    }
    if g.depthwise(d) {
        return by_planes(d.n * d.c, d.h * d.w, |first, dx| {
            depthwise_grad_input_planes(w, dy, d, g, first, dx)
        });
    }
    let (oh, ow) = (d.oh, d.ow);
    let mut dx = vec![T::zero(); d.n * d.c * d.h * d.w];
    let cg = d.c / g.groups;
    let kg = d.k / g.groups;
    let rows = cg * d.kh * d.kw;
    let p = oh * ow;
    if g.pointwise(d) {
        per_sample(
            &mut dx,
            d.c * p,
            0,
            parallelism(d.c, p, d.k),
            |n, dst, _, par| {
                let dys = &dy[n * d.k * p..(n + 1) * d.k * p];
                matmul_on(d.c, p, d.k, w, true, dys, false, dst, false, par);
            },
        );
        return dx;
    }
    if g.batched(d) {
        let mut dyt = vec![T::zero(); d.k * d.n * p];
        to_channel_major(dy, d.n, d.k, p, &mut dyt);
        let mut col = vec![T::zero(); rows * d.n * p];
        matmul(rows, d.n * p, d.k, w, true, &dyt, false, &mut col, false);
        let mut one = vec![T::zero(); rows * p];
        for n in 0..d.n {
            for r in 0..rows {
                one[r * p..(r + 1) * p]
                    .copy_from_slice(&col[r * d.n * p + n * p..r * d.n * p + (n + 1) * p]);
            }
            col2im(
                &one,
                d,
                g,
                0,
                d.c,
                &mut dx[n * d.c * d.h * d.w..(n + 1) * d.c * d.h * d.w],
            );
        }
        return dx;
    }
    if let Some(t) = g.thin::<T>(d).filter(Thin::grad_input_applies) {
        per_sample(
            &mut dx,
            d.c * d.h * d.w,
            t.grad_input_scratch(),
            gemm::Parallelism::None,
            |n, dxs, scratch, _| {
                let dys = &dy[n * d.k * p..(n + 1) * d.k * p];
                let done = thin::grad_input(&t, w, dys, dxs, scratch);
                debug_assert!(done, "thin::grad_input_applies said yes");
            },
        );
        return dx;
    }
    let band = band_rows(rows, ow, oh);
    let inner = parallelism(rows, band * ow, kg);
    per_sample(
        &mut dx,
        d.c * d.h * d.w,
        rows * band * ow,
        inner,
        |n, dxs, col, par| {
            for gi in 0..g.groups {
                let wg = &w[gi * kg * rows..(gi + 1) * kg * rows];
                let dys = &dy[(n * d.k + gi * kg) * p..(n * d.k + (gi + 1) * kg) * p];
                for oy0 in (0..oh).step_by(band) {
                    let oy1 = (oy0 + band).min(oh);
                    let bl = (oy1 - oy0) * ow;
                    // dcol = Wᵀ (rows × kg) · dy band (kg × bl)
                    matmul_strided(
                        rows,
                        bl,
                        kg,
                        wg,
                        true,
                        &dys[oy0 * ow..],
                        p,
                        &mut col[..rows * bl],
                        bl,
                        false,
                        par,
                    );
                    col2im_band(&col[..rows * bl], d, g, gi * cg, cg, oy0, oy1, dxs);
                }
            }
        },
    );
    dx
}

fn grad_weight<T: Float + Send + Sync + 'static>(
    x: &[T],
    dy: &[T],
    d: &Dims,
    g: &ConvGeom,
) -> Vec<T> {
    let (oh, ow) = (d.oh, d.ow);
    let cg = d.c / g.groups;
    let kg = d.k / g.groups;
    let rows = cg * d.kh * d.kw;
    let p = oh * ow;
    if let Some(s) = g.winograd(d) {
        return winograd::grad_weight(x, dy, &s);
    }
    if g.pointwise(d) {
        let mut dw = vec![T::zero(); d.k * rows];
        for n in 0..d.n {
            let (xs, dys) = (
                &x[n * d.c * p..(n + 1) * d.c * p],
                &dy[n * d.k * p..(n + 1) * d.k * p],
            );
            matmul(d.k, d.c, p, dys, false, xs, true, &mut dw, true);
        }
        return dw;
    }
    if g.batched(d) {
        let mut col = vec![T::zero(); rows * d.n * p];
        let mut one = vec![T::zero(); rows * p];
        for n in 0..d.n {
            im2col(
                &x[n * d.c * d.h * d.w..(n + 1) * d.c * d.h * d.w],
                d,
                g,
                0,
                d.c,
                &mut one,
            );
            for r in 0..rows {
                col[r * d.n * p + n * p..r * d.n * p + (n + 1) * p]
                    .copy_from_slice(&one[r * p..(r + 1) * p]);
            }
        }
        let mut dyt = vec![T::zero(); d.k * d.n * p];
        to_channel_major(dy, d.n, d.k, p, &mut dyt);
        let mut dw = vec![T::zero(); d.k * rows];
        matmul(d.k, rows, d.n * p, &dyt, false, &col, true, &mut dw, false);
        return dw;
    }
    // dW sums over the samples, a reduction gemm does not split: with several threads each
    // takes a share of the samples into its own dW (one thread per product), then they add up.
    // Band by band, as the forward pass: a whole sample's column matrix of a large image (9 MB
    // for cxc_multi_spa's 7×7 layer on 257², where `thin` does not take it: f64, no AVX-512) left the cache between im2col and the product.
    // Bands of about 128k values, four times the forward's: each product's depth is the band,
    // and 32k-value bands made products too shallow to pay for their packing (that layer's
    // weight gradient at batch 16, one thread: 37 ms whole, 30 ms in 32k bands, 28 ms in 128k).
    let band = (131_072 / (rows * ow).max(1)).clamp(1, oh.max(1));
    let direct = g.thin::<T>(d).filter(Thin::grad_weight_applies);
    let samples_dw = |samples: std::ops::Range<usize>, par: gemm::Parallelism| {
        let mut dw = vec![T::zero(); d.k * rows];
        if let Some(t) = &direct {
            let (xs, ys) = (d.c * d.h * d.w, d.k * p);
            let count = samples.len();
            let (x, dy) = (&x[samples.start * xs..], &dy[samples.start * ys..]);
            let done = thin::grad_weight(t, x, dy, count, &mut dw);
            debug_assert!(done, "thin::grad_weight_applies said yes");
            return dw;
        }
        let mut col = vec![T::zero(); rows * band * ow];
        for n in samples {
            let xs = &x[n * d.c * d.h * d.w..(n + 1) * d.c * d.h * d.w];
            for gi in 0..g.groups {
                let dys = &dy[(n * d.k + gi * kg) * p..(n * d.k + (gi + 1) * kg) * p];
                let dst = &mut dw[gi * kg * rows..(gi + 1) * kg * rows];
                for oy0 in (0..oh).step_by(band) {
                    let oy1 = (oy0 + band).min(oh);
                    let bl = (oy1 - oy0) * ow;
                    im2col_band(xs, d, g, gi * cg, cg, oy0, oy1, &mut col[..rows * bl]);
                    // dW (kg × rows) += dy band (kg × bl) · col bandᵀ (bl × rows)
                    matmul_add_strided_a_bt(
                        kg,
                        rows,
                        bl,
                        &dys[oy0 * ow..],
                        p,
                        &col[..rows * bl],
                        dst,
                        par,
                    );
                }
            }
        }
        dw
    };
    let threads = crate::threads::current().clamp(1, d.n.max(1));
    if threads < 2 {
        return samples_dw(0..d.n, parallelism(kg, rows, oh * ow));
    }
    use rayon::prelude::*;
    let share = d.n.div_ceil(threads);
    let partial: Vec<Vec<T>> = (0..threads)
        .into_par_iter()
        .map(|t| {
            samples_dw(
                t * share..((t + 1) * share).min(d.n),
                gemm::Parallelism::None,
            )
        })
        .collect();
    let mut parts = partial.into_iter();
    let mut dw = parts.next().unwrap_or_default();
    for part in parts {
        dw.iter_mut().zip(part).for_each(|(a, b)| *a = *a + b);
    }
    dw
}

/// The geometry, and the weight's id where it is a tensor that may be met again (for Winograd's
/// kept kernel transforms).
struct Conv2dOp(ConvGeom, Option<Arc<winograd::kept::Weight>>);

impl CustomOp2 for Conv2dOp {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = self
            .0
            .dims(dims4(l1, "conv2d")?, dims4(l2, "conv2d weight")?)?;
        let out = crate::with_float2!(s1, l1, s2, l2, "conv2d", |x, w| forward(
            x,
            w,
            self.1.as_deref(),
            &d,
            &self.0
        ));
        Ok((out, Shape::from((d.n, d.k, d.oh, d.ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dx = if x.track_op() {
            Some(w.apply_op2_no_bwd(&grad, &InputGrad(self.0, x.dims().to_vec(), self.1.clone()))?)
        } else {
            None
        };
        let dw = if w.track_op() {
            Some(x.apply_op3_no_bwd(w, &grad, &WeightGrad(self.0))?)
        } else {
            None
        };
        Ok((dx, dw))
    }
}

/// (weight, grad) → input gradient of the given shape.
struct InputGrad(ConvGeom, Vec<usize>, Option<Arc<winograd::kept::Weight>>);

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "conv2d-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x: [usize; 4] = self
            .1
            .clone()
            .try_into()
            .map_err(|_| candle_core::Error::Msg("conv2d: bad input shape".into()))?;
        let d = self.0.dims(x, dims4(l1, "conv2d weight")?)?;
        let out = crate::with_float2!(s1, l1, s2, l2, "conv2d backward", |w, dy| grad_input(
            w,
            self.2.as_deref(),
            dy,
            &d,
            &self.0
        ));
        Ok((out, Shape::from(self.1.clone())))
    }
}

/// (input, weight, grad) → weight gradient.
struct WeightGrad(ConvGeom);

impl CustomOp3 for WeightGrad {
    fn name(&self) -> &'static str {
        "conv2d-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = self
            .0
            .dims(dims4(l1, "conv2d")?, dims4(l2, "conv2d weight")?)?;
        let out = if self.0.depthwise(&d) {
            crate::with_float2!(s1, l1, s3, l3, "conv2d backward", |x, dy| {
                depthwise_weight_grad(x, dy, &d, &self.0)
            })
        } else {
            crate::with_float2!(s1, l1, s3, l3, "conv2d backward", |x, dy| grad_weight(
                x, dy, &d, &self.0
            ))
        };
        Ok((out, l2.shape().clone()))
    }
}

fn depthwise_weight_grad<T: Float>(x: &[T], dy: &[T], d: &Dims, g: &ConvGeom) -> Vec<T> {
    let (oh, ow) = (d.oh, d.ow);
    let mut dw = vec![T::zero(); d.c * d.kh * d.kw];
    for n in 0..d.n {
        for c in 0..d.c {
            let plane = &x[(n * d.c + c) * d.h * d.w..(n * d.c + c + 1) * d.h * d.w];
            let src = &dy[(n * d.k + c) * oh * ow..(n * d.k + c + 1) * oh * ow];
            for ky in 0..d.kh {
                for kx in 0..d.kw {
                    let mut s = T::zero();
                    for oy in 0..oh {
                        let iy = (oy * g.stride + ky) as isize - g.pad.0 as isize;
                        if iy < 0 || iy >= d.h as isize {
                            continue;
                        }
                        for ox in 0..ow {
                            let ix = (ox * g.stride + kx) as isize - g.pad.2 as isize;
                            if ix >= 0 && (ix as usize) < d.w {
                                s = s + src[oy * ow + ox] * plane[iy as usize * d.w + ix as usize];
                            }
                        }
                    }
                    let i = c * d.kh * d.kw + ky * d.kw + kx;
                    dw[i] = dw[i] + s;
                }
            }
        }
    }
    dw
}

/// Transposed convolution (groups 1, no padding): (N, Cin, H, W) by (Cin, Cout, kh, kw) →
/// (N, Cout, (H−1)·s + kh, (W−1)·s + kw). It is the input gradient of a convolution, so it reuses
/// those kernels with the roles of input and output exchanged.
struct ConvTranspose2dOp {
    stride: usize,
}

impl ConvTranspose2dOp {
    fn dims(&self, x: [usize; 4], w: [usize; 4]) -> Result<(Dims, ConvGeom)> {
        let [n, cin, h, wd] = x;
        let [wi, cout, kh, kw] = w;
        if wi != cin {
            candle_core::bail!("conv_transpose2d: {cin} input channels but a kernel for {wi}");
        }
        let s = self.stride;
        let d = Dims {
            n,
            c: cout,
            h: (h - 1) * s + kh,
            w: (wd - 1) * s + kw,
            k: cin,
            kh,
            kw,
            oh: h,
            ow: wd,
        };
        Ok((
            d,
            ConvGeom {
                stride: s,
                pad: (0, 0, 0, 0),
                groups: 1,
            },
        ))
    }
}

impl CustomOp2 for ConvTranspose2dOp {
    fn name(&self) -> &'static str {
        "conv-transpose2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (d, g) = self.dims(
            dims4(l1, "conv_transpose2d")?,
            dims4(l2, "conv_transpose2d weight")?,
        )?;
        let out = crate::with_float2!(s1, l1, s2, l2, "conv_transpose2d", |x, w| grad_input(
            w, None, x, &d, &g
        ));
        Ok((out, Shape::from((d.n, d.c, d.h, d.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let geom = ConvGeom {
            stride: self.stride,
            pad: (0, 0, 0, 0),
            groups: 1,
        };
        // d/dx: the convolution of the output gradient by the same kernel.
        let dx = if x.track_op() {
            Some(grad.apply_op2_no_bwd(w, &Conv2dOp(geom, None))?)
        } else {
            None
        };
        // d/dw: the convolution's weight gradient with the output gradient as its input.
        let dw = if w.track_op() {
            Some(grad.apply_op3_no_bwd(w, x, &WeightGrad(geom))?)
        } else {
            None
        };
        Ok((dx, dw))
    }
}

/// `ConvTranspose2d` (groups 1, no padding, no output padding).
pub fn conv_transpose2d(x: &Tensor, w: &Tensor, stride: usize) -> Result<Tensor> {
    if stride == 0 {
        candle_core::bail!("conv_transpose2d: stride must be positive");
    }
    let [n, _, h, wd] = dims4(x.layout(), "conv_transpose2d")?;
    let [_, cout, kh, kw] = dims4(w.layout(), "conv_transpose2d")?;
    let out = [
        n,
        cout,
        (h.saturating_sub(1)) * stride + kh,
        (wd.saturating_sub(1)) * stride + kw,
    ];
    output_fits("conv_transpose2d", &out, x)?;
    if super::portable::enabled(x) {
        return super::portable::conv_transpose2d(x, w, stride);
    }
    x.contiguous()?
        .apply_op2(&w.contiguous()?, ConvTranspose2dOp { stride })
}

/// A convolution's output grows with its channels and the batch: a batch that fits in memory
/// can ask for activations that do not, so the output is held to the memory budget first.
fn output_fits(what: &str, out: &[usize], x: &Tensor) -> Result<()> {
    crate::limits::shape(
        &format!("{what} output {out:?} (a smaller batch?)"),
        out,
        x.dtype().size_in_bytes(),
    )
    .map(|_| ())
    .map_err(|e| candle_core::Error::Msg(e.to_string()))
}

/// 2-D convolution of (N, C, H, W) by (K, C/groups, kh, kw), no bias.
pub fn conv2d(x: &Tensor, w: &Tensor, geom: ConvGeom) -> Result<Tensor> {
    if geom.stride == 0 || geom.groups == 0 {
        candle_core::bail!("conv2d: stride and groups must be positive");
    }
    let xd = dims4(x.layout(), "conv2d")?;
    let wd = dims4(w.layout(), "conv2d")?;
    let (oh, ow) = geom.out_size(xd, wd)?;
    output_fits("conv2d", &[xd[0], wd[0], oh, ow], x)?;
    if super::portable::enabled(x) {
        return super::portable::conv2d(x, w, geom);
    }
    let w = w.contiguous()?;
    let weight = Arc::new(winograd::kept::Weight::of(&w));
    x.contiguous()?.apply_op2(&w, Conv2dOp(geom, Some(weight)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::{agree, max_diff, rand};

    /// The same values and gradients as candle's own conv2d (symmetric padding).
    fn check(geom: ConvGeom, x: &[usize], w: &[usize]) {
        agree(
            &[rand(x, 1), rand(w, 2)],
            |t| conv2d(&t[0], &t[1], geom),
            |t| t[0].conv2d(&t[1], geom.pad.0, geom.stride, 1, geom.groups),
            (1e-10, 1e-9),
            &format!("conv2d {geom:?} {x:?} {w:?}"),
        );
    }

    #[test]
    fn matches_candle_values_and_gradients() {
        check(
            ConvGeom {
                stride: 1,
                pad: (1, 1, 1, 1),
                groups: 1,
            },
            &[2, 3, 9, 9],
            &[5, 3, 3, 3],
        );
        check(
            ConvGeom {
                stride: 2,
                pad: (3, 3, 3, 3),
                groups: 1,
            },
            &[2, 3, 16, 16],
            &[4, 3, 7, 7],
        );
        check(
            ConvGeom {
                stride: 2,
                pad: (0, 0, 0, 0),
                groups: 1,
            },
            &[1, 2, 11, 11],
            &[3, 2, 3, 3],
        );
        check(
            ConvGeom {
                stride: 1,
                pad: (1, 1, 1, 1),
                groups: 4,
            },
            &[2, 4, 7, 7],
            &[4, 1, 3, 3],
        );
        check(
            ConvGeom {
                stride: 2,
                pad: (1, 1, 1, 1),
                groups: 2,
            },
            &[2, 4, 8, 8],
            &[6, 2, 3, 3],
        );
        // Depthwise at stride 2 with TensorFlow's asymmetric "SAME" padding and odd widths
        // (the phase-split path).
        check(
            ConvGeom {
                stride: 2,
                pad: (0, 1, 0, 1),
                groups: 3,
            },
            &[2, 3, 9, 11],
            &[3, 1, 3, 3],
        );
        // Depthwise outputs and input gradients large enough to be split over the compute
        // threads by planes (where the machine has more than one core), at stride 1 and 2.
        check(
            ConvGeom {
                stride: 1,
                pad: (1, 1, 1, 1),
                groups: 16,
            },
            &[2, 16, 48, 48],
            &[16, 1, 3, 3],
        );
        check(
            ConvGeom {
                stride: 2,
                pad: (1, 1, 1, 1),
                groups: 16,
            },
            &[4, 16, 65, 65],
            &[16, 1, 3, 3],
        );
        // Stride 3 (the general phase path), and an image large enough to be done in bands.
        check(
            ConvGeom {
                stride: 3,
                pad: (1, 1, 1, 1),
                groups: 1,
            },
            &[1, 2, 10, 13],
            &[2, 2, 3, 3],
        );
        check(
            ConvGeom {
                stride: 2,
                pad: (3, 3, 3, 3),
                groups: 1,
            },
            &[1, 1, 131, 131],
            &[4, 1, 7, 7],
        );
        // Groups over several bands of the weight gradient, the last one partial.
        check(
            ConvGeom {
                stride: 1,
                pad: (2, 2, 2, 2),
                groups: 2,
            },
            &[2, 4, 150, 150],
            &[4, 2, 5, 5],
        );
    }

    /// 3×3 stride-1 convolutions with enough channels take the Winograd path, forward and
    /// input gradient; odd and even sizes, maps smaller than a tile, more outputs than inputs,
    /// channel counts off the kernel transform's 16 lanes, one large enough that the kernel
    /// transform splits its output channels over the threads, and (the last) one with the tiles
    /// for F(4×4). `winograd.rs`'s tests check both tilings on every kind of shape.
    #[test]
    fn winograd_path_matches_candle() {
        let geom = ConvGeom {
            stride: 1,
            pad: (1, 1, 1, 1),
            groups: 1,
        };
        for (x, w) in [
            ([2, 16, 8, 8], [16, 16, 3, 3]),
            ([3, 17, 7, 9], [20, 17, 3, 3]),
            ([1, 24, 5, 4], [16, 24, 3, 3]),
            ([2, 16, 4, 5], [32, 16, 3, 3]),
            ([2, 128, 6, 5], [136, 128, 3, 3]),
            ([4, 16, 32, 32], [16, 16, 3, 3]),
        ] {
            let d = geom.dims(x, w).unwrap();
            assert!(
                geom.winograd(&d).is_some(),
                "{x:?} should take the Winograd path"
            );
            check(geom, &x, &w);
        }
    }

    #[test]
    fn transposed_convolution_matches_candle() {
        let inputs = [rand(&[2, 1, 6, 6], 6), rand(&[1, 3, 3, 3], 7)];
        let y = conv_transpose2d(&inputs[0], &inputs[1], 2).unwrap();
        assert_eq!(y.dims(), &[2, 3, 13, 13]);
        agree(
            &inputs,
            |t| conv_transpose2d(&t[0], &t[1], 2),
            |t| t[0].conv_transpose2d(&t[1], 0, 0, 2, 1),
            (1e-10, 1e-9),
            "conv_transpose2d",
        );
    }

    #[test]
    fn asymmetric_padding_equals_explicit_zero_padding() {
        let (x, w) = (rand(&[1, 2, 8, 8], 4), rand(&[3, 2, 3, 3], 5));
        let ours = conv2d(
            &x,
            &w,
            ConvGeom {
                stride: 2,
                pad: (0, 1, 0, 1),
                groups: 1,
            },
        )
        .unwrap();
        let padded = x
            .pad_with_zeros(2, 0, 1)
            .unwrap()
            .pad_with_zeros(3, 0, 1)
            .unwrap();
        let theirs = padded.conv2d(&w, 0, 2, 1, 1).unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-12);
    }

    /// A deep layer at a small batch keeps its kernel's Winograd transform between passes; the
    /// kept transform serves the forward and the input gradient, and is dropped when the weight
    /// is overwritten in place (a stale one would give the old weights' outputs).
    #[test]
    fn kept_kernel_transforms_follow_the_weights() {
        let geom = ConvGeom {
            stride: 1,
            pad: (1, 1, 1, 1),
            groups: 1,
        };
        let var = candle_core::Var::from_tensor(&rand(&[64, 16, 3, 3], 7)).unwrap();
        let x = candle_core::Var::from_tensor(&rand(&[1, 16, 5, 4], 8)).unwrap();
        let d = geom.dims([1, 16, 5, 4], [64, 16, 3, 3]).unwrap();
        assert!(geom.winograd(&d).is_some());
        let gy = rand(&[1, 64, 5, 4], 9);
        for round in 0..3 {
            // Each pass hands the weight out as a fresh detached tensor, as a model's pass does.
            for _ in 0..2 {
                let w = var.as_tensor().detach();
                let ours = conv2d(x.as_tensor(), &w, geom).unwrap();
                let theirs = x.as_tensor().conv2d(&w, 1, 1, 1, 1).unwrap();
                assert!(max_diff(&ours, &theirs) < 1e-10, "round {round}: values");
                let dx = (&ours * &gy)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let dx_theirs = (&theirs * &gy)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let (a, b) = (dx.get(&x).unwrap(), dx_theirs.get(&x).unwrap());
                assert!(max_diff(a, b) < 1e-9, "round {round}: input gradient");
            }
            crate::tensor::assign(&var, &rand(&[64, 16, 3, 3], 10 + round)).unwrap();
        }
    }
}
