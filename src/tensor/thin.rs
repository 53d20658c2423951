//! Convolutions with few channels, computed directly instead of through im2col.
//!
//! im2col turns a convolution into a product whose column matrix holds every input value once
//! per kernel tap. With many channels the product's arithmetic hides that copy; with few it
//! does not: cxc_multi_spa's first layers (1 or 3 channels in, 7 out, 7×7 at stride 2 on 257²
//! images) have columns 49–147 times the size of their input for products only 7 rows deep,
//! and its training spent more time in im2col, col2im and gemm's packing than in arithmetic
//! (PyTorch was 1.5–3.4× faster on those layers; training one epoch of 64 images took 0.85 s,
//! 0.62 s with these kernels, one thread). Here the input is split once by stride phase
//! (so each tap reads a contiguous run) and zero-padded (so no tap needs a bounds check), and
//! the kernels add tap after tap into AVX-512 registers that hold a block of outputs:
//!
//! - forward, few output channels: all of them × 32 columns of one output row in registers;
//! - input gradient, few channels in and out: all input channels × 32 columns of one phase
//!   row of dx (the phase planes of dx are put back together afterwards);
//! - weight gradient, few output channels: 3 taps × every output channel as vector sums.
//!
//! Only f32 on CPUs with AVX-512F; elsewhere (f64, other CPUs) the functions return `false`
//! and conv.rs runs im2col and gemm as before.

#[cfg(target_arch = "x86_64")]
use super::streamed::{as_f32, as_f32_mut};

/// The most channels on the "few" side: twelve channels × two vectors are 24 of AVX-512's 32
/// registers.
pub(super) const MAX_CHANNELS: usize = 12;
/// The weight gradient keeps 3 taps × output channels in registers: at most 8 channels. (Taken
/// eight at a time, ResNet's and AlexNet's first layers, 3 → 64, ran no faster than im2col.)
const MAX_WEIGHT_GRAD_CHANNELS: usize = 8;
/// Output columns per register block: two AVX-512 vectors.
const BLOCK: usize = 32;
/// Narrower outputs waste most of a block; they stay with im2col.
const MIN_WIDTH: usize = 24;

/// One sample's convolution: c input channels of h×w, k output channels of oh×ow, a kh×kw
/// kernel at `stride`, zero padding (top, bottom, left, right).
#[derive(Clone, Copy, Debug)]
pub(super) struct Thin {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride: usize,
    pub pad: (usize, usize, usize, usize),
}

/// How the padded input of one sample is laid out split by phase: plane (channel, row phase,
/// column phase) holds rows of `stride` values, `rows` of them.
#[derive(Clone, Copy, Debug)]
struct Phases {
    rows: usize,
    stride: usize,
}

impl Thin {
    fn kernel_taps(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// The phase layout of the padded input: enough rows and columns for every tap of every
    /// output block (blocks run past `ow` to a whole [`BLOCK`]).
    fn phases(&self) -> Phases {
        let s = self.stride;
        let (hp, wp) = (
            self.h + self.pad.0 + self.pad.1,
            self.w + self.pad.2 + self.pad.3,
        );
        Phases {
            rows: hp.div_ceil(s).max(self.oh + (self.kh - 1) / s),
            stride: wp
                .div_ceil(s)
                .max(self.ow.next_multiple_of(BLOCK) + (self.kw - 1) / s),
        }
    }

    fn plane_len(&self) -> usize {
        let p = self.phases();
        p.rows * p.stride
    }

    /// Values of one sample's input split by phase.
    pub(super) fn split_len(&self) -> usize {
        self.c * self.stride * self.stride * self.plane_len()
    }

    fn wide_enough(&self) -> bool {
        self.ow >= MIN_WIDTH
            && self.stride >= 1
            && [self.c, self.k, self.kh, self.kw].iter().all(|&n| n >= 1)
    }

    pub(super) fn forward_applies(&self) -> bool {
        self.wide_enough() && self.k <= MAX_CHANNELS && avx512()
    }

    /// Few channels on both sides: each output channel's run of dy feeds only c
    /// multiply-adds per load, and with many of them (ResNet's or AlexNet's first layer, 64)
    /// im2col's deep product was 1.5× faster.
    pub(super) fn grad_input_applies(&self) -> bool {
        self.wide_enough() && self.c <= MAX_CHANNELS && self.k <= MAX_CHANNELS && avx512()
    }

    pub(super) fn grad_weight_applies(&self) -> bool {
        self.wide_enough() && self.k <= MAX_WEIGHT_GRAD_CHANNELS && avx512()
    }

    /// Scratch values [`grad_input`] needs per sample: dy padded, and dx split by phase.
    pub(super) fn grad_input_scratch(&self) -> usize {
        let (rows, cols) = self.padded_dy();
        self.k * rows * cols + self.split_len()
    }

    /// dy padded so that every tap of every phase row block of dx reads inside it: (rows, row
    /// length), with (kh − 1)/s zero rows above and (kw − 1)/s zero columns to the left.
    fn padded_dy(&self) -> (usize, usize) {
        let p = self.phases();
        let s = self.stride;
        (
            p.rows + (self.kh - 1) / s,
            p.stride.next_multiple_of(BLOCK) + (self.kw - 1) / s,
        )
    }

    /// Split one sample's input (c×h×w) into zero-padded phase planes (`split_len` values).
    fn split(&self, x: &[f32], out: &mut [f32]) {
        out.fill(0.0);
        self.each_phase_run(|from, to, (x0, cols)| {
            let (src, dst) = (&x[from..][x0..self.w], &mut out[to..][..cols]);
            if self.stride == 2 {
                // Pairs vectorise; a step_by(2) gather does not.
                for (d, pair) in dst.iter_mut().zip(src.chunks_exact(2)) {
                    *d = pair[0];
                }
                if src.len() % 2 == 1 {
                    dst[cols - 1] = src[src.len() - 1];
                }
            } else {
                for (d, &v) in dst.iter_mut().zip(src.iter().step_by(self.stride)) {
                    *d = v;
                }
            }
        });
    }

    /// The inverse of [`Thin::split`] for a gradient: dx[ci][y][x] from the phase planes.
    fn merge(&self, split: &[f32], dx: &mut [f32]) {
        self.each_phase_run(|from, to, (x0, cols)| {
            let (src, dst) = (&split[to..][..cols], &mut dx[from..][x0..self.w]);
            if self.stride == 2 {
                for (pair, &v) in dst.chunks_exact_mut(2).zip(src) {
                    pair[0] = v;
                }
                if dst.len() % 2 == 1 {
                    dst[dst.len() - 1] = src[cols - 1];
                }
            } else {
                for (d, &v) in dst.iter_mut().step_by(self.stride).zip(src) {
                    *d = v;
                }
            }
        });
    }

    /// Calls `f(input row start, phase row start, (first column, count))` for every input row
    /// and column phase: the row's columns x0, x0 + s, … (count of them) are the phase row's
    /// values from its start. No division per value: the scatter was a quarter of a layer.
    fn each_phase_run(&self, mut f: impl FnMut(usize, usize, (usize, usize))) {
        let (s, p) = (self.stride, self.phases());
        let plane = self.plane_len();
        for ci in 0..self.c {
            for y in 0..self.h {
                let yy = y + self.pad.0;
                let from = (ci * self.h + y) * self.w;
                for px in 0..s {
                    // The first input column whose padded column xx = x + left has phase px.
                    let x0 = (px + s - self.pad.2 % s) % s;
                    if x0 >= self.w {
                        continue;
                    }
                    let cols = (self.w - x0).div_ceil(s);
                    let to = ((ci * s + yy % s) * s + px) * plane
                        + yy / s * p.stride
                        + (x0 + self.pad.2) / s;
                    f(from, to, (x0, cols));
                }
            }
        }
    }
}

/// `$f::<N>(args)` for the runtime count `$n` among the listed constants: the kernels take their
/// channel count as a constant so that their accumulators are registers.
macro_rules! with_count {
    ($n:expr; $($c:literal)+; $f:ident $args:tt) => {
        match $n {
            $($c => $f::<$c> $args,)+
            n => unreachable!("the applies check caps the channel count, not {n}"),
        }
    };
}

/// Whether the kernels take elements of type T (f32 only).
pub(super) fn takes<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
}

fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f");
    #[allow(unreachable_code)]
    false
}

/// One sample's output (k×oh×ow) of input x (c×h×w) and weight w (k×c×kh×kw), with `scratch`
/// of at least `split_len` values; `false` (nothing written) where the kernel does not apply
/// (`forward_applies`) or T is not f32.
pub(super) fn forward<T: 'static>(
    t: &Thin,
    x: &[T],
    w: &[T],
    out: &mut [T],
    scratch: &mut [T],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if t.forward_applies()
        && let (Some(x), Some(w), Some(out), Some(split)) =
            (as_f32(x), as_f32(w), as_f32_mut(out), as_f32_mut(scratch))
    {
        assert!(
            x.len() >= t.c * t.h * t.w
                && w.len() >= t.k * t.kernel_taps()
                && out.len() >= t.k * t.oh * t.ow
                && split.len() >= t.split_len()
        );
        t.split(x, split);
        // SAFETY: AVX-512F is present (`forward_applies`); the lengths are asserted above and
        // `phases` sizes the planes for every block's reads.
        unsafe {
            with_count!(t.k; 1 2 3 4 5 6 7 8 9 10 11 12; forward_rows(t, split, w, out));
        }
        return true;
    }
    let _ = (t, x, w, out, scratch);
    false
}

/// The lanes of a 16-value vector at columns `j..j + 16` that lie before `end`.
#[cfg(target_arch = "x86_64")]
fn lanes(j: usize, end: usize) -> u16 {
    match end.saturating_sub(j) {
        0 => 0,
        n if n >= 16 => u16::MAX,
        n => (1u16 << n) - 1,
    }
}

/// out[co][oy][j..j + 32] = Σ over channels and taps of w · the tap's run of the split input,
/// for K output channels (a constant, so the accumulators are registers).
///
/// # Safety
/// AVX-512F; `split` is `t.split`'s layout, `w` holds K×c×kh×kw and `out` K×oh×ow values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_rows<const K: usize>(t: &Thin, split: &[f32], w: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let (s, p, plane, taps) = (t.stride, t.phases(), t.plane_len(), t.kernel_taps());
    let (sp, wp, op) = (split.as_ptr(), w.as_ptr(), out.as_mut_ptr());
    unsafe {
        for oy in 0..t.oh {
            for j in (0..t.ow).step_by(BLOCK) {
                let mut acc = [[_mm512_setzero_ps(); 2]; K];
                for ci in 0..t.c {
                    for ky in 0..t.kh {
                        let row = ((ci * s + ky % s) * s) * plane + (oy + ky / s) * p.stride + j;
                        for kx in 0..t.kw {
                            let at = sp.add(row + (kx % s) * plane + kx / s);
                            let (a0, a1) = (_mm512_loadu_ps(at), _mm512_loadu_ps(at.add(16)));
                            let tap = (ci * t.kh + ky) * t.kw + kx;
                            for (co, a) in acc.iter_mut().enumerate() {
                                let wv = _mm512_set1_ps(*wp.add(co * taps + tap));
                                a[0] = _mm512_fmadd_ps(wv, a0, a[0]);
                                a[1] = _mm512_fmadd_ps(wv, a1, a[1]);
                            }
                        }
                    }
                }
                let (m0, m1) = (lanes(j, t.ow), lanes(j + 16, t.ow));
                for (co, a) in acc.iter().enumerate() {
                    let o = op.add((co * t.oh + oy) * t.ow + j);
                    _mm512_mask_storeu_ps(o, m0, a[0]);
                    if m1 != 0 {
                        _mm512_mask_storeu_ps(o.add(16), m1, a[1]);
                    }
                }
            }
        }
    }
}

/// One sample's input gradient dx (c×h×w) from dy (k×oh×ow) and w (k×c×kh×kw), with `scratch`
/// of at least `grad_input_scratch` values; `false` (nothing written) where the kernel does
/// not apply (`grad_input_applies`) or T is not f32.
pub(super) fn grad_input<T: 'static>(
    t: &Thin,
    w: &[T],
    dy: &[T],
    dx: &mut [T],
    scratch: &mut [T],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if t.grad_input_applies()
        && let (Some(w), Some(dy), Some(dx), Some(scratch)) =
            (as_f32(w), as_f32(dy), as_f32_mut(dx), as_f32_mut(scratch))
    {
        assert!(
            dy.len() >= t.k * t.oh * t.ow
                && w.len() >= t.k * t.kernel_taps()
                && dx.len() >= t.c * t.h * t.w
                && scratch.len() >= t.grad_input_scratch()
        );
        let (rows, cols) = t.padded_dy();
        let (padded, split) = scratch.split_at_mut(t.k * rows * cols);
        // dy with (kh − 1)/s zero rows above and (kw − 1)/s zero columns to the left: the taps
        // of dx's row y′ read dy rows y′ − a for a up to (kh − 1)/s.
        padded.fill(0.0);
        let (top, left) = ((t.kh - 1) / t.stride, (t.kw - 1) / t.stride);
        for co in 0..t.k {
            for oy in 0..t.oh {
                padded[(co * rows + top + oy) * cols + left..][..t.ow]
                    .copy_from_slice(&dy[(co * t.oh + oy) * t.ow..][..t.ow]);
            }
        }
        // SAFETY: AVX-512F is present (`grad_input_applies`); `padded_dy` and `phases` size
        // the buffers for every block's reads and writes.
        unsafe {
            with_count!(t.c; 1 2 3 4 5 6 7 8 9 10 11 12; grad_input_rows(t, padded, w, split));
        }
        t.merge(split, dx);
        return true;
    }
    let _ = (t, w, dy, dx, scratch);
    false
}

/// dx split by phase: the value at phase (py, px), row y′, column x′ of channel ci is
/// Σ over output channels and the taps (ky, kx) = (a·s + py, b·s + px) of
/// w[co][ci][ky][kx] · dy[co][y′ − a][x′ − b] (zero outside dy), for C input channels.
///
/// # Safety
/// AVX-512F; `padded` is dy laid out by `padded_dy`, `split` has `split_len` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn grad_input_rows<const C: usize>(t: &Thin, padded: &[f32], w: &[f32], split: &mut [f32]) {
    use std::arch::x86_64::*;
    let (s, p, plane, taps) = (t.stride, t.phases(), t.plane_len(), t.kernel_taps());
    let (rows, cols) = t.padded_dy();
    let (top, left) = ((t.kh - 1) / s, (t.kw - 1) / s);
    let (dp, wp, xp) = (padded.as_ptr(), w.as_ptr(), split.as_mut_ptr());
    unsafe {
        for py in 0..s {
            for px in 0..s {
                // Taps of this phase: ky = a·s + py < kh, kx = b·s + px < kw.
                let (na, nb) = (
                    t.kh.saturating_sub(py).div_ceil(s),
                    t.kw.saturating_sub(px).div_ceil(s),
                );
                for y in 0..p.rows {
                    for j in (0..p.stride).step_by(BLOCK) {
                        let mut acc = [[_mm512_setzero_ps(); 2]; C];
                        for co in 0..t.k {
                            for a in 0..na {
                                let row = dp.add((co * rows + y + top - a) * cols + j + left);
                                for b in 0..nb {
                                    let at = row.sub(b);
                                    let (d0, d1) =
                                        (_mm512_loadu_ps(at), _mm512_loadu_ps(at.add(16)));
                                    let tap = (a * s + py) * t.kw + b * s + px;
                                    for (ci, acc) in acc.iter_mut().enumerate() {
                                        let wv = _mm512_set1_ps(
                                            *wp.add(co * taps + ci * t.kh * t.kw + tap),
                                        );
                                        acc[0] = _mm512_fmadd_ps(wv, d0, acc[0]);
                                        acc[1] = _mm512_fmadd_ps(wv, d1, acc[1]);
                                    }
                                }
                            }
                        }
                        let (m0, m1) = (lanes(j, p.stride), lanes(j + 16, p.stride));
                        for (ci, acc) in acc.iter().enumerate() {
                            let o = xp.add(((ci * s + py) * s + px) * plane + y * p.stride + j);
                            _mm512_mask_storeu_ps(o, m0, acc[0]);
                            if m1 != 0 {
                                _mm512_mask_storeu_ps(o.add(16), m1, acc[1]);
                            }
                        }
                    }
                }
            }
        }
    }
    let _ = cols;
}

/// Adds samples `x` (n×c×h×w) and `dy` (n×k×oh×ow) into the weight gradient `dw` (k×c×kh×kw);
/// `false` (nothing written) where the kernel does not apply (`grad_weight_applies`) or T is
/// not f32.
pub(super) fn grad_weight<T: 'static>(t: &Thin, x: &[T], dy: &[T], n: usize, dw: &mut [T]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if t.grad_weight_applies()
        && let (Some(x), Some(dy), Some(dw)) = (as_f32(x), as_f32(dy), as_f32_mut(dw))
    {
        let (xs, ys) = (t.c * t.h * t.w, t.k * t.oh * t.ow);
        assert!(x.len() >= n * xs && dy.len() >= n * ys && dw.len() >= t.k * t.kernel_taps());
        let width = t.ow.next_multiple_of(16);
        let mut split = vec![0f32; t.split_len()];
        // dy with its rows padded to whole vectors by zeros, so that the lanes past ow add
        // nothing whatever the split input holds there.
        let mut rows = vec![0f32; t.k * t.oh * width];
        let taps = t.kernel_taps();
        let mut sums = vec![0f32; t.k * taps * 16];
        for i in 0..n {
            t.split(&x[i * xs..][..xs], &mut split);
            for (dst, src) in rows
                .chunks_exact_mut(width)
                .zip(dy[i * ys..][..ys].chunks_exact(t.ow))
            {
                dst[..t.ow].copy_from_slice(src);
            }
            // SAFETY: AVX-512F is present (`grad_weight_applies`); `phases` sizes the split
            // planes for reads up to `width` columns past each tap's start.
            unsafe {
                with_count!(t.k; 1 2 3 4 5 6 7 8; grad_weight_sample(t, &split, &rows, &mut sums));
            }
        }
        for (d, lanes) in dw.iter_mut().zip(sums.chunks_exact(16)) {
            *d += lanes.iter().sum::<f32>();
        }
        return true;
    }
    let _ = (t, x, dy, n, dw);
    false
}

/// Rows of output per block of the weight gradient: the block's dy and split-input rows stay in
/// cache across the taps, and the vector sums are reduced once per block.
const WEIGHT_GRAD_ROWS: usize = 4;
/// Taps whose sums are held in registers at once (sharing each load of dy).
const TAPS_AT_ONCE: usize = 3;

/// sums[co][tap] (16 lanes each) += Σ over one sample's output positions of dy[co] · the tap's
/// input, for K output channels, [`TAPS_AT_ONCE`] taps at a time. The lanes are added up once,
/// after the last sample: reducing each block's registers cost a quarter of the arithmetic.
///
/// # Safety
/// AVX-512F; `split` is `t.split`'s layout, `rows` holds K×oh rows of ow rounded up to 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn grad_weight_sample<const K: usize>(
    t: &Thin,
    split: &[f32],
    rows: &[f32],
    sums: &mut [f32],
) {
    use std::arch::x86_64::*;
    assert!(sums.len() >= K * t.kernel_taps() * 16);
    let (s, p, plane, taps) = (t.stride, t.phases(), t.plane_len(), t.kernel_taps());
    let width = t.ow.next_multiple_of(16);
    // Where tap `tap`'s run for output row 0, column 0 starts in the split input.
    let start = |tap: usize| {
        let (ci, ky, kx) = (tap / (t.kh * t.kw), tap / t.kw % t.kh, tap % t.kw);
        ((ci * s + ky % s) * s + kx % s) * plane + ky / s * p.stride + kx / s
    };
    let (sp, dp) = (split.as_ptr(), rows.as_ptr());
    unsafe {
        for oy0 in (0..t.oh).step_by(WEIGHT_GRAD_ROWS) {
            let oy1 = (oy0 + WEIGHT_GRAD_ROWS).min(t.oh);
            for first in (0..taps).step_by(TAPS_AT_ONCE) {
                // The last group repeats its last tap; the repeats are not added.
                let group: [usize; TAPS_AT_ONCE] =
                    std::array::from_fn(|i| start((first + i).min(taps - 1)));
                let mut acc = [[_mm512_setzero_ps(); TAPS_AT_ONCE]; K];
                for oy in oy0..oy1 {
                    for j in (0..width).step_by(16) {
                        let inp: [__m512; TAPS_AT_ONCE] = std::array::from_fn(|i| {
                            _mm512_loadu_ps(sp.add(group[i] + oy * p.stride + j))
                        });
                        for (co, acc) in acc.iter_mut().enumerate() {
                            let d = _mm512_loadu_ps(dp.add((co * t.oh + oy) * width + j));
                            for (a, v) in acc.iter_mut().zip(&inp) {
                                *a = _mm512_fmadd_ps(d, *v, *a);
                            }
                        }
                    }
                }
                for (co, acc) in acc.iter().enumerate() {
                    for (i, a) in acc.iter().enumerate().take(taps - first) {
                        let at = sums.as_mut_ptr().add((co * taps + first + i) * 16);
                        _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), *a));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::values;

    fn shape(
        (c, h, w): (usize, usize, usize),
        (k, kh, kw): (usize, usize, usize),
        stride: usize,
        pad: (usize, usize, usize, usize),
    ) -> Thin {
        let oh = (h + pad.0 + pad.1 - kh) / stride + 1;
        let ow = (w + pad.2 + pad.3 - kw) / stride + 1;
        Thin {
            c,
            h,
            w,
            k,
            kh,
            kw,
            oh,
            ow,
            stride,
            pad,
        }
    }

    /// The input position a tap of an output reads, if inside the input.
    fn source(t: &Thin, (oy, ox): (usize, usize), (ky, kx): (usize, usize)) -> Option<usize> {
        let y = (oy * t.stride + ky)
            .checked_sub(t.pad.0)
            .filter(|&y| y < t.h)?;
        let x = (ox * t.stride + kx)
            .checked_sub(t.pad.2)
            .filter(|&x| x < t.w)?;
        Some(y * t.w + x)
    }

    /// The three results in f64 by definition, one sample: (out, dx, dw).
    fn reference(t: &Thin, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut out = vec![0f64; t.k * t.oh * t.ow];
        let mut dx = vec![0f64; t.c * t.h * t.w];
        let mut dw = vec![0f64; t.k * t.kernel_taps()];
        for co in 0..t.k {
            for ci in 0..t.c {
                for ky in 0..t.kh {
                    for kx in 0..t.kw {
                        let wi = ((co * t.c + ci) * t.kh + ky) * t.kw + kx;
                        for oy in 0..t.oh {
                            for ox in 0..t.ow {
                                let Some(at) = source(t, (oy, ox), (ky, kx)) else {
                                    continue;
                                };
                                let (xi, oi) = (ci * t.h * t.w + at, (co * t.oh + oy) * t.ow + ox);
                                out[oi] += w[wi] as f64 * x[xi] as f64;
                                dx[xi] += w[wi] as f64 * dy[oi] as f64;
                                dw[wi] += dy[oi] as f64 * x[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
        (out, dx, dw)
    }

    fn close(what: &str, t: &Thin, got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (i, (&g, &e)) in got.iter().zip(want).enumerate() {
            let tol =
                1e-5 * (t.kernel_taps().max(t.k * t.kh * t.kw) as f64).sqrt() * (1.0 + e.abs());
            assert!(
                (g as f64 - e).abs() <= tol,
                "{what} {t:?}: [{i}] {g} against {e}"
            );
        }
    }

    #[test]
    fn direct_kernels_match_the_definition() {
        if !avx512() {
            eprintln!("skipped: the direct kernels need AVX-512F, which this CPU lacks");
            return;
        }
        // Strides 1–3, kernels 1×1 to 7×7 (and non-square), asymmetric padding, widths with and
        // without a partial block, every channel count the kernels take on the few side.
        let cases = [
            shape((1, 40, 61), (7, 7, 7), 2, (0, 0, 0, 0)),
            shape((3, 37, 70), (7, 7, 7), 2, (3, 3, 3, 3)),
            shape((7, 30, 61), (7, 3, 3), 2, (0, 1, 0, 1)),
            shape((2, 26, 33), (12, 3, 5), 1, (1, 1, 2, 2)),
            shape((12, 9, 50), (3, 1, 1), 1, (0, 0, 0, 0)),
            shape((5, 20, 90), (1, 4, 4), 3, (2, 0, 1, 0)),
            shape((4, 17, 77), (8, 2, 3), 2, (0, 0, 0, 0)),
        ];
        for t in cases {
            let (x, w) = (values(t.c * t.h * t.w, 1), values(t.k * t.kernel_taps(), 2));
            let dy = values(t.k * t.oh * t.ow, 3);
            let (out_ref, dx_ref, dw_ref) = reference(&t, &x, &w, &dy);
            assert!(t.forward_applies() && t.grad_input_applies(), "{t:?}");
            assert_eq!(
                t.grad_weight_applies(),
                t.k <= MAX_WEIGHT_GRAD_CHANNELS,
                "{t:?}"
            );
            {
                let mut out = vec![f32::NAN; t.k * t.oh * t.ow];
                let mut scratch = vec![f32::NAN; t.split_len()];
                assert!(forward(&t, &x, &w, &mut out, &mut scratch));
                close("forward", &t, &out, &out_ref);
            }
            {
                let mut dx = vec![f32::NAN; t.c * t.h * t.w];
                let mut scratch = vec![f32::NAN; t.grad_input_scratch()];
                assert!(grad_input(&t, &w, &dy, &mut dx, &mut scratch));
                close("grad_input", &t, &dx, &dx_ref);
            }
            if t.grad_weight_applies() {
                // Two samples: the second adds to the first's sums.
                let (x2, dy2) = (
                    [x.clone(), x.clone()].concat(),
                    [dy.clone(), dy.clone()].concat(),
                );
                let mut dw = vec![0f32; t.k * t.kernel_taps()];
                assert!(grad_weight(&t, &x2, &dy2, 2, &mut dw));
                let twice: Vec<f64> = dw_ref.iter().map(|v| 2.0 * v).collect();
                close("grad_weight", &t, &dw, &twice);
            }
        }
    }

    #[test]
    fn other_shapes_and_types_are_left_to_im2col() {
        let narrow = shape((1, 20, 20), (4, 3, 3), 1, (0, 0, 0, 0));
        let many = shape((16, 40, 40), (16, 3, 3), 1, (1, 1, 1, 1));
        let first_of_resnet = shape((3, 224, 224), (64, 7, 7), 2, (3, 3, 3, 3));
        assert!(!narrow.forward_applies() && !narrow.grad_input_applies());
        assert!(!first_of_resnet.grad_input_applies());
        assert!(
            !many.forward_applies() && !many.grad_input_applies() && !many.grad_weight_applies()
        );
        let t = shape((1, 30, 40), (2, 3, 3), 1, (0, 0, 0, 0));
        let mut out = vec![0f64; t.k * t.oh * t.ow];
        let mut scratch = vec![0f64; t.split_len()];
        assert!(!forward(
            &t,
            &[1f64; 1200],
            &[1f64; 18],
            &mut out,
            &mut scratch
        ));
        assert!(out.iter().all(|&v| v == 0.0));
    }
}
