//! 3×3 convolutions at stride 1 with padding 1 (ResNet's, VGG's, most of any modern CNN's) by
//! Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016): each 4×4 input tile and 3×3
//! kernel are transformed so that a 2×2 output tile costs 16 multiplications instead of 36, and
//! the channel sums become 16 independent matrix products. 2.25× fewer multiply-adds than im2col
//! at the same gemm speed, which is what puts a ResNet ahead of PyTorch's direct convolutions.
//!
//! The transforms use only 0, ±1 and ±½, so rounding stays within a few ulps of the direct sum
//! (f64 parity tests keep their 1e-9 tolerances; `conv.rs`'s tests compare both paths). The input
//! gradient of such a convolution is the same kind of convolution (the kernel flipped and its
//! channel axes swapped), so attribution's backward pass takes this path too.

use super::cpu::SharedOut;
use num_traits::Float;
use rayon::prelude::*;

/// Sizes of one convolution: batch, input channels, height, width, output channels.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sizes {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
}

/// Whether the Winograd path pays: with few channels the products are too thin for gemm and the
/// transforms dominate (a first layer over RGB, a tabular 1×C map), so im2col stays faster.
pub(super) fn pays(s: &Sizes) -> bool {
    s.c >= 16 && s.k >= 16 && s.h * s.w >= 16
}

/// Values between consecutive matrices of the 16 a Winograd convolution keeps side by side. Their
/// sizes are often powers of two (512 × 512 kernels, 512 channels × 32 tiles), and 16 streams
/// a power of two apart fall into the same cache sets and evict each other: one cache line of
/// padding between them made ResNet34's kernel transform several times faster.
const ALIAS_PAD: usize = 16;

/// The distance between consecutive matrices of `len` values each (see [`ALIAS_PAD`]).
fn matrix_stride(len: usize) -> usize {
    len + ALIAS_PAD
}

/// The kernel of a Winograd convolution: the layer's weight (K, C, 3, 3) as it is, or — for the
/// input gradient, dx = conv(dy, ·) at stride 1 and padding 1 — flipped in space with its channel
/// axes swapped. Both are read from the one transform U of the weight as it is: flipping g in
/// space reverses G's rows 0 and 3 (G·J = P·G), so the flipped kernel's transform is U with the
/// tile positions 0 and 3 exchanged along both axes ([`FLIPPED`]), each matrix read transposed.
/// The [`kept::Weight`] names the weight so its transform can be kept (None: made afresh).
#[derive(Clone, Copy)]
pub(super) enum Kernel<'a, T> {
    Forward(&'a [T], Option<&'a kept::Weight>),
    Flipped(&'a [T], Option<&'a kept::Weight>),
}

/// The tile position of the flipped kernel's transform that position ξ = 4i + j of U holds.
const FLIPPED: [usize; 16] = {
    const SWAP: [usize; 4] = [3, 1, 2, 0];
    let mut f = [0; 16];
    let mut xi = 0;
    while xi < 16 {
        f[xi] = 4 * SWAP[xi / 4] + SWAP[xi % 4];
        xi += 1;
    }
    f
};

/// U = G·g·Gᵀ for every (output, input) channel pair of a weight (K, C, 3, 3), laid out as 16
/// matrices (K × C), one per tile position, `matrix_stride(k · c)` apart. Made on every call
/// unless [`kept`] holds it, so it has to be cheap: 16 input channels at a time as vectors, each
/// of the 16 results written as one run of 16, and output channels split over the threads.
fn transform_kernel<T: Float + Send + Sync>(w: &[T], k: usize, c: usize) -> Vec<T> {
    const LANES: usize = 16;
    let half = T::from(0.5).unwrap();
    let stride = matrix_stride(k * c);
    let mut u: Vec<T> = Vec::with_capacity(16 * stride);
    let sink = SharedOut(u.as_mut_ptr());
    // The three-tap transform (a, (a + b + d)/2, (a − b + d)/2, d) on 16 lanes at once.
    let g3 = |a: &[T; LANES], b: &[T; LANES], d: &[T; LANES]| -> [[T; LANES]; 4] {
        let mut out = [[T::zero(); LANES]; 4];
        for l in 0..LANES {
            out[0][l] = a[l];
            out[1][l] = (a[l] + b[l] + d[l]) * half;
            out[2][l] = (a[l] - b[l] + d[l]) * half;
            out[3][l] = d[l];
        }
        out
    };
    // Input channels outermost: the rows for these 16 channels stay in cache while the output
    // channels run.
    let rows = |ko: std::ops::Range<usize>| {
        let mut taps = [[T::zero(); LANES]; 9];
        for c0 in (0..c).step_by(LANES) {
            let lanes = LANES.min(c - c0);
            for ki in ko.clone() {
                for (l, ci) in (c0..c0 + lanes).enumerate() {
                    for (t, &v) in w[(ki * c + ci) * 9..(ki * c + ci + 1) * 9]
                        .iter()
                        .enumerate()
                    {
                        taps[t][l] = v;
                    }
                }
                // G·g: per column j of the kernel, its 4 transformed rows.
                let cols: [[[T; LANES]; 4]; 3] =
                    std::array::from_fn(|j| g3(&taps[j], &taps[3 + j], &taps[6 + j]));
                let [col0, col1, col2] = &cols;
                for (i, ((a, b), d)) in col0.iter().zip(col1).zip(col2).enumerate() {
                    // (G·g)·Gᵀ along row i.
                    let out = g3(a, b, d);
                    for (j, run) in out.iter().enumerate() {
                        let at = (i * 4 + j) * stride + ki * c + c0;
                        // SAFETY: within the capacity; each (position, ki, ci) is written once,
                        // by the thread that owns output channel ki.
                        unsafe {
                            let dst = sink.get().add(at);
                            if lanes == LANES {
                                // A whole run as one store (a call to memmove per run cost more
                                // than the arithmetic).
                                dst.cast::<[T; LANES]>().write_unaligned(*run);
                            } else {
                                std::ptr::copy_nonoverlapping(run.as_ptr(), dst, lanes);
                            }
                        };
                    }
                }
            }
        }
    };
    let threads = crate::threads::current().max(1);
    // Below 2^14 channel pairs (ResNet's 64×64 kernels) the transform takes tens of
    // microseconds, less than waking a second thread.
    if threads > 1 && k * c >= 1 << 14 {
        let per = k.div_ceil(threads);
        (0..threads)
            .into_par_iter()
            .for_each(|t| rows(t * per..((t + 1) * per).min(k)));
    } else {
        rows(0..k);
    }
    // The padding between the matrices is never read, but set so the whole vector is.
    for xi in 0..16 {
        for pad in k * c..stride {
            // SAFETY: within the capacity.
            unsafe { sink.get().add(xi * stride + pad).write(T::zero()) };
        }
    }
    // SAFETY: every one of the 16 matrices and the padding after each was written above.
    unsafe { u.set_len(16 * stride) };
    u
}

/// Transformed kernels kept between calls while the weights stay as they are: an attribution
/// runs the same convolutions forward, backward and forward again (x + h), GAX a hundred times
/// over one image, and on a deep layer at a small batch transforming its kernel costs more than
/// convolving with it. A weight is known by where its values lie (every pass hands a model's
/// weights out as fresh, detached tensors over the same storage); an entry holds the weight, so
/// that place cannot be reused for other values while it is kept. Weights change in place only
/// through [`super::assign`], which calls [`weights_changed`]: the whole store is then dropped.
/// Bounded in bytes; the oldest entries go first.
pub(super) mod kept {
    use candle_core::Tensor;
    use std::any::Any;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    /// At most this many bytes of transformed kernels (ResNet34's last two stages in f32 are
    /// about 125 MiB).
    const MAX_BYTES: usize = 256 << 20;

    /// Bumped whenever any weight is overwritten in place.
    static GENERATION: AtomicU64 = AtomicU64::new(0);

    /// A weight tensor, known by its storage, offset and shape.
    pub struct Weight {
        storage: usize,
        offset: usize,
        dims: Vec<usize>,
        /// Keeps the storage alive (and its address taken) while the entry is kept.
        _held: Tensor,
    }

    impl Weight {
        /// Read outside any op: candle holds the storage's lock while an op runs.
        pub fn of(w: &Tensor) -> Weight {
            let (storage, layout) = w.storage_and_layout();
            Weight {
                storage: &*storage as *const candle_core::Storage as usize,
                offset: layout.start_offset(),
                dims: w.dims().to_vec(),
                _held: w.clone(),
            }
        }

        fn same(&self, other: &Weight) -> bool {
            (self.storage, self.offset, &self.dims) == (other.storage, other.offset, &other.dims)
        }

        fn held(&self) -> Weight {
            Weight {
                storage: self.storage,
                offset: self.offset,
                dims: self.dims.clone(),
                _held: self._held.clone(),
            }
        }
    }

    struct Store {
        generation: u64,
        bytes: usize,
        /// Oldest first.
        entries: Vec<(Weight, usize, Arc<dyn Any + Send + Sync>)>,
    }

    static STORE: Mutex<Store> = Mutex::new(Store {
        generation: 0,
        bytes: 0,
        entries: Vec::new(),
    });

    /// Every kept transform is stale from now on.
    pub fn weights_changed() {
        GENERATION.fetch_add(1, Ordering::SeqCst);
    }

    /// The transform of `weight`: the kept one, or `make`'s, kept for next time.
    pub(in super::super) fn transformed<T: Send + Sync + 'static>(
        weight: &Weight,
        make: impl FnOnce() -> Vec<T>,
    ) -> Arc<Vec<T>> {
        let now = GENERATION.load(Ordering::SeqCst);
        {
            let mut store = STORE.lock().unwrap_or_else(|e| e.into_inner());
            if store.generation != now {
                *store = Store {
                    generation: now,
                    bytes: 0,
                    entries: Vec::new(),
                };
            }
            let hit = store.entries.iter().find(|e| e.0.same(weight));
            if let Some(u) = hit.and_then(|e| e.2.clone().downcast::<Vec<T>>().ok()) {
                return u;
            }
        }
        let u = Arc::new(make());
        let bytes = u.len() * std::mem::size_of::<T>();
        let mut store = STORE.lock().unwrap_or_else(|e| e.into_inner());
        if store.generation == now && bytes <= MAX_BYTES {
            while store.bytes + bytes > MAX_BYTES {
                let (_, b, _) = store.entries.remove(0);
                store.bytes -= b;
            }
            store.bytes += bytes;
            store.entries.push((weight.held(), bytes, u.clone()));
        }
        u
    }
}

/// Tile rows per block, so that a block's 16 transformed input matrices hold about 2^18 values
/// (they and the products stay in the outer caches), and no more than a thread's share.
fn rows_per_block(s: &Sizes, tile_rows: usize, tw: usize, threads: usize) -> usize {
    let by_cache = ((1 << 18) / (16 * s.c.max(s.k) * tw)).max(1);
    let by_threads = tile_rows.div_ceil(threads.max(1)).max(1);
    by_cache.min(by_threads)
}

/// y (N, K, H, W) = conv(x (N, C, H, W), w (K, C, 3, 3)) with padding 1 and stride 1.
pub(super) fn conv3x3<T: Float + Send + Sync + 'static>(
    x: &[T],
    w: Kernel<'_, T>,
    s: &Sizes,
) -> Vec<T> {
    let (th, tw) = (s.h.div_ceil(2), s.w.div_ceil(2));
    // U of the weight as it is: (s.k × s.c) matrices forward, (s.c × s.k) for the flipped kernel.
    let (values, weight, flipped, (wk, wc)) = match w {
        Kernel::Forward(v, weight) => (v, weight, false, (s.k, s.c)),
        Kernel::Flipped(v, weight) => (v, weight, true, (s.c, s.k)),
    };
    // Kept where transforming the kernel costs more than the tiles it meets: output channels
    // beyond twice the tiles of the batch (a ResNet's last stages at small batches, GAX's single
    // image), where every call would otherwise rewrite 16/9 of the weights for little gemm work.
    let worth_keeping = s.k.max(s.c) >= 2 * s.n * th * tw;
    let u = match weight.filter(|_| worth_keeping) {
        Some(weight) => kept::transformed(weight, || transform_kernel(values, wk, wc)),
        None => std::sync::Arc::new(transform_kernel(values, wk, wc)),
    };
    // Not zeroed first: the blocks write every output value (transform_output), on their threads.
    let mut out = Vec::with_capacity(s.n * s.k * s.h * s.w);
    let tile_rows = s.n * th;
    let threads = crate::threads::current().max(1);
    let per_block = rows_per_block(s, tile_rows, tw, threads);
    // Blocks of at most `per_block` tile rows covering `rows`.
    let blocks = |rows: std::ops::Range<usize>| {
        let end = rows.end;
        rows.step_by(per_block)
            .map(move |r0| (r0, (r0 + per_block).min(end)))
    };
    let sink = SharedOut(out.as_mut_ptr());
    // Scratch for the largest block's transformed input and products, reused block by block.
    let (u_stride, v_stride, m_stride) = (
        matrix_stride(s.k * s.c),
        matrix_stride(s.c * per_block * tw),
        matrix_stride(s.k * per_block * tw),
    );
    let scratch = || {
        (
            vec![T::zero(); 16 * v_stride],
            vec![T::zero(); 16 * m_stride],
        )
    };
    let run = |(v, m): &mut (Vec<T>, Vec<T>), &(r0, r1): &(usize, usize), par| {
        let tb = (r1 - r0) * tw;
        transform_input(x, s, r0, r1, tw, v_stride, v);
        for xi in 0..16 {
            let ux = if flipped { FLIPPED[xi] } else { xi };
            super::products::matmul_strided(
                s.k,
                tb,
                s.c,
                &u[ux * u_stride..ux * u_stride + s.k * s.c],
                flipped,
                &v[xi * v_stride..xi * v_stride + s.c * tb],
                tb,
                &mut m[xi * m_stride..xi * m_stride + s.k * tb],
                tb,
                false,
                par,
            );
        }
        // SAFETY: a block writes only the output rows of its own tile rows; blocks are disjoint.
        unsafe { transform_output(m, s, r0, r1, tw, m_stride, sink) };
    };
    if threads > 1 && tile_rows > per_block {
        // Each thread an equal share of the tile rows (blocks handed out one by one would leave
        // a thread idle behind an odd last block) and one scratch, reused block by block.
        let share = tile_rows.div_ceil(threads);
        (0..threads).into_par_iter().for_each(|t| {
            let mut sc = scratch();
            let rows = (t * share).min(tile_rows)..((t + 1) * share).min(tile_rows);
            blocks(rows).for_each(|b| run(&mut sc, &b, gemm::Parallelism::None));
        });
    } else {
        let par = super::products::parallelism(s.k, per_block * tw, s.c);
        let mut sc = scratch();
        blocks(0..tile_rows).for_each(|b| run(&mut sc, &b, par));
    }
    // SAFETY: the blocks cover every tile row, and transform_output writes every output row of
    // each (every channel, both image rows of a tile row that fall inside the image).
    unsafe { out.set_len(s.n * s.k * s.h * s.w) };
    out
}

/// dW (K, C, 3, 3) of y = conv3x3(x, w) from dy (N, K, H, W): the weight gradient of the same
/// convolution by the same F(2×2, 3×3), read backwards. The forward is a trilinear form
/// Σ dy·y = Σ_ξ (A·e·Aᵀ)_ξ (G·g·Gᵀ)_ξ (Bᵀ·d·B)_ξ over the tiles (e a 2×2 tile of dy, d the 4×4
/// input tile under it, g the kernel), so its derivative in g is dW = Gᵀ·M·G with
/// M_ξ = Σ_tiles (A·e·Aᵀ)_ξ (Bᵀ·d·B)_ξ: the input tiles are transformed exactly as in the forward,
/// and the channel sums are 16 products (K × tiles)·(tiles × C) — 16 multiplications per tile and
/// channel pair where im2col spends 36, with the same 0, ±1, ±½ coefficients.
pub(super) fn grad_weight<T: Float + Send + Sync + 'static>(
    x: &[T],
    dy: &[T],
    s: &Sizes,
) -> Vec<T> {
    let (th, tw) = (s.h.div_ceil(2), s.w.div_ceil(2));
    let tile_rows = s.n * th;
    let threads = crate::threads::current().clamp(1, tile_rows.max(1));
    let share = tile_rows.div_ceil(threads);
    // Blocks as long as the products allow (the transformed tiles of x and dy together about
    // 2^21 values): each block adds into all 16 K × C matrices, so fewer blocks, fewer passes.
    let per_block = ((1 << 21) / (16 * (s.c + s.k) * tw)).clamp(1, share.max(1));
    let (v_stride, p_stride, m_stride) = (
        matrix_stride(s.c * per_block * tw),
        matrix_stride(s.k * per_block * tw),
        matrix_stride(s.k * s.c),
    );
    // M over the tile rows `rows`: 16 matrices K × C, `m_stride` apart.
    let sums = |rows: std::ops::Range<usize>, par: gemm::Parallelism| {
        let mut m = vec![T::zero(); 16 * m_stride];
        let mut v = vec![T::zero(); 16 * v_stride];
        let mut p = vec![T::zero(); 16 * p_stride];
        let end = rows.end;
        for r0 in rows.step_by(per_block) {
            let r1 = (r0 + per_block).min(end);
            let tb = (r1 - r0) * tw;
            transform_input(x, s, r0, r1, tw, v_stride, &mut v);
            transform_grad_output(dy, s, r0, r1, tw, p_stride, &mut p);
            for xi in 0..16 {
                // M_ξ (K × C) += P_ξ (K × tiles) · V_ξᵀ (tiles × C)
                super::products::matmul_on(
                    s.k,
                    s.c,
                    tb,
                    &p[xi * p_stride..xi * p_stride + s.k * tb],
                    false,
                    &v[xi * v_stride..xi * v_stride + s.c * tb],
                    true,
                    &mut m[xi * m_stride..xi * m_stride + s.k * s.c],
                    true,
                    par,
                );
            }
        }
        m
    };
    let m = if threads > 1 {
        // Each thread an equal share of the tile rows into its own M; then they add up.
        let parts: Vec<Vec<T>> = (0..threads)
            .into_par_iter()
            .map(|t| {
                let rows = (t * share).min(tile_rows)..((t + 1) * share).min(tile_rows);
                sums(rows, gemm::Parallelism::None)
            })
            .collect();
        let mut parts = parts.into_iter();
        let mut m = parts.next().unwrap_or_default();
        for part in parts {
            m.iter_mut().zip(part).for_each(|(a, b)| *a = *a + b);
        }
        m
    } else {
        sums(
            0..tile_rows,
            super::products::parallelism(s.k, s.c, per_block * tw),
        )
    };
    untransform_weight_grad(&m, s.k * s.c, m_stride)
}

/// dW = Gᵀ·M·G for every channel pair: Gᵀ's rows are (1, ½, ½, 0), (0, ½, −½, 0), (0, ½, ½, 1).
fn untransform_weight_grad<T: Float>(m: &[T], pairs: usize, stride: usize) -> Vec<T> {
    let half = T::from(0.5).unwrap();
    let gt = |a: T, b: T, c: T, d: T| [a + (b + c) * half, (b - c) * half, (b + c) * half + d];
    let mut dw = vec![T::zero(); pairs * 9];
    for (pair, out) in dw.chunks_exact_mut(9).enumerate() {
        let at = |xi: usize| m[xi * stride + pair];
        // Gᵀ·M: column j of M (rows i = 0..4 are ξ = 4i + j) to three rows.
        let cols: [[T; 3]; 4] =
            std::array::from_fn(|j| gt(at(j), at(4 + j), at(8 + j), at(12 + j)));
        // (Gᵀ·M)·G along each of the three rows.
        for a in 0..3 {
            let row = gt(cols[0][a], cols[1][a], cols[2][a], cols[3][a]);
            out[a * 3..a * 3 + 3].copy_from_slice(&row);
        }
    }
    dw
}

crate::avx2_dispatch!(
    /// P = A·e·Aᵀ for the 2×2 tiles of dy in tile rows `r0..r1`, as 16 matrices (K × tiles)
    /// `stride` apart; A's rows are (1, 0), (1, 1), (1, −1), (0, −1). Output rows and columns
    /// past the image (odd sizes) count as zeros.
    fn transform_grad_output<T: Float>(
        dy: &[T],
        s: &Sizes,
        r0: usize,
        r1: usize,
        tw: usize,
        stride: usize,
        p: &mut [T],
    ) => transform_grad_output_loops
);

#[inline(always)]
fn transform_grad_output_loops<T: Float>(
    dy: &[T],
    s: &Sizes,
    r0: usize,
    r1: usize,
    tw: usize,
    stride: usize,
    p: &mut [T],
) {
    let th = s.h.div_ceil(2);
    let tb = (r1 - r0) * tw;
    // The tile row's two image rows, zero past the image on the right (and below, if odd).
    let mut y = vec![T::zero(); 2 * 2 * tw];
    let mut a = vec![T::zero(); 2 * tw];
    let (mut even, mut odd) = (vec![T::zero(); tw], vec![T::zero(); tw]);
    // Channels outermost, as in transform_input.
    for ki in 0..s.k {
        for r in r0..r1 {
            let (ni, ty) = (r / th, r % th);
            let t0 = (r - r0) * tw;
            let plane = &dy[(ni * s.k + ki) * s.h * s.w..(ni * s.k + ki + 1) * s.h * s.w];
            for i in 0..2 {
                let row = &mut y[i * 2 * tw..(i + 1) * 2 * tw];
                let oy = 2 * ty + i;
                if oy < s.h {
                    row[..s.w].copy_from_slice(&plane[oy * s.w..(oy + 1) * s.w]);
                    row[s.w..].fill(T::zero());
                } else {
                    row.fill(T::zero());
                }
            }
            let (y0, y1) = y.split_at(2 * tw);
            for i in 0..4 {
                // A·e down the columns: row i of (y0, y0 + y1, y0 − y1, −y1), whole rows at once.
                for ((a, &u), &v) in a.iter_mut().zip(y0).zip(y1) {
                    *a = match i {
                        0 => u,
                        1 => u + v,
                        2 => u - v,
                        _ => T::zero() - v,
                    };
                }
                for tx in 0..tw {
                    even[tx] = a[2 * tx];
                    odd[tx] = a[2 * tx + 1];
                }
                // ·Aᵀ along the row pairs its even and odd pixels the same way.
                let row = |j: usize| ((i * 4 + j) * stride + ki * tb + t0)..;
                let [p0, p1, p2, p3] = four_rows(p, [row(0), row(1), row(2), row(3)], tw);
                for tx in 0..tw {
                    p0[tx] = even[tx];
                    p1[tx] = even[tx] + odd[tx];
                    p2[tx] = even[tx] - odd[tx];
                    p3[tx] = T::zero() - odd[tx];
                }
            }
        }
    }
}

crate::avx2_dispatch!(
    /// V = Bᵀ·d·B for the tiles of tile rows `r0..r1` (a tile row is one (sample, ty)), as 16
    /// matrices (C × tiles) `stride` apart. Rows outside the image and the one-pixel border are
    /// zeros.
    fn transform_input<T: Float>(
        x: &[T],
        s: &Sizes,
        r0: usize,
        r1: usize,
        tw: usize,
        stride: usize,
        v: &mut [T],
    ) => transform_input_loops
);

#[inline(always)]
fn transform_input_loops<T: Float>(
    x: &[T],
    s: &Sizes,
    r0: usize,
    r1: usize,
    tw: usize,
    stride: usize,
    v: &mut [T],
) {
    let th = s.h.div_ceil(2);
    let tb = (r1 - r0) * tw;
    // A padded row: one zero on the left, the row, zeros up to the tiles' reach (2·tw + 2).
    let pw = 2 * tw + 2;
    let mut rows = vec![T::zero(); 4 * pw];
    let mut e = vec![T::zero(); 4 * pw];
    let (mut even, mut odd) = (vec![T::zero(); tw + 1], vec![T::zero(); tw + 1]);
    // Channels outermost: consecutive tile rows of one channel fill each of the 16 matrices'
    // runs in order (tile rows outermost wrote 16 · C runs a block's width apart, and 4 KiB
    // strides evicted each other).
    for ci in 0..s.c {
        for r in r0..r1 {
            let (ni, ty) = (r / th, r % th);
            let plane = &x[(ni * s.c + ci) * s.h * s.w..(ni * s.c + ci + 1) * s.h * s.w];
            for i in 0..4 {
                let row = &mut rows[i * pw..(i + 1) * pw];
                let iy = (2 * ty + i) as isize - 1;
                if iy < 0 || iy as usize >= s.h {
                    row.fill(T::zero());
                } else {
                    let iy = iy as usize;
                    row[0] = T::zero();
                    row[1..=s.w].copy_from_slice(&plane[iy * s.w..(iy + 1) * s.w]);
                    row[s.w + 1..].fill(T::zero());
                }
            }
            // Bᵀ·d along the rows, whole padded rows at once (vectorised).
            let (d0, rest) = rows.split_at(pw);
            let (d1, rest) = rest.split_at(pw);
            let (d2, d3) = rest.split_at(pw);
            let (e0, rest) = e.split_at_mut(pw);
            let (e1, rest) = rest.split_at_mut(pw);
            let (e2, e3) = rest.split_at_mut(pw);
            for j in 0..pw {
                e0[j] = d0[j] - d2[j];
                e1[j] = d1[j] + d2[j];
                e2[j] = d2[j] - d1[j];
                e3[j] = d1[j] - d3[j];
            }
            // ·B along the columns: tile tx reads padded columns 2tx..2tx+4, i.e. the even and
            // odd columns tx and tx + 1, so every term is a contiguous (vectorised) run.
            let t0 = (r - r0) * tw;
            for (i, er) in [&*e0, &*e1, &*e2, &*e3].into_iter().enumerate() {
                for j in 0..=tw {
                    even[j] = er[2 * j];
                    odd[j] = er[2 * j + 1];
                }
                let (ev, ev1, od, od1) = (&even[..tw], &even[1..], &odd[..tw], &odd[1..]);
                let row = |j: usize| ((i * 4 + j) * stride + ci * tb + t0)..;
                let [v0, v1, v2, v3] = four_rows(v, [row(0), row(1), row(2), row(3)], tw);
                for tx in 0..tw {
                    v0[tx] = ev[tx] - ev1[tx];
                    v1[tx] = od[tx] + ev1[tx];
                    v2[tx] = ev1[tx] - od[tx];
                    v3[tx] = od[tx] - od1[tx];
                }
            }
        }
    }
}

/// Four disjoint runs of `len` values starting where the ranges start, in increasing order.
fn four_rows<T>(v: &mut [T], at: [std::ops::RangeFrom<usize>; 4], len: usize) -> [&mut [T]; 4] {
    let (a, rest) = v[at[0].start..].split_at_mut(at[1].start - at[0].start);
    let (b, rest) = rest.split_at_mut(at[2].start - at[1].start);
    let (c, d) = rest.split_at_mut(at[3].start - at[2].start);
    [&mut a[..len], &mut b[..len], &mut c[..len], &mut d[..len]]
}

/// Y = Aᵀ·m·A for the tiles of tile rows `r0..r1`, written into the output (the last row or
/// column of a tile is dropped where the image's size is odd). Channels outermost, as in
/// transform_input: each of the 16 matrices is read in order.
///
/// # Safety
/// `out` must point to the (N, K, H, W) output; only the rows of tile rows `r0..r1` are written.
unsafe fn transform_output<T: Float>(
    m: &[T],
    s: &Sizes,
    r0: usize,
    r1: usize,
    tw: usize,
    stride: usize,
    out: SharedOut<T>,
) {
    let th = s.h.div_ceil(2);
    let tb = (r1 - r0) * tw;
    let mut rows = vec![T::zero(); 8 * tw];
    let mut pair = vec![T::zero(); 2 * 2 * tw];
    for ki in 0..s.k {
        for r in r0..r1 {
            let (ni, ty) = (r / th, r % th);
            untransform_tile(m, stride, ki * tb + (r - r0) * tw, tw, &mut rows, &mut pair);
            for i in 0..2 {
                let oy = 2 * ty + i;
                if oy >= s.h {
                    break;
                }
                let start = ((ni * s.k + ki) * s.h + oy) * s.w;
                let src = &pair[i * 2 * tw..i * 2 * tw + s.w];
                // SAFETY: row `oy` of (ni, ki) belongs to tile row r, which this block owns; the
                // output may not be initialised yet, so it is written through the pointer.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), out.get().add(start), s.w) };
            }
        }
    }
}

crate::avx2_dispatch!(
    /// One channel's tiles of one tile row (the `tw` values from `at` in each of the 16
    /// matrices `stride` apart): its two output rows, even and odd pixels interleaved, in `pair`.
    fn untransform_tile<T: Float>(
        m: &[T],
        stride: usize,
        at: usize,
        tw: usize,
        rows: &mut [T],
        pair: &mut [T],
    ) => untransform_tile_loops
);

#[inline(always)]
fn untransform_tile_loops<T: Float>(
    m: &[T],
    stride: usize,
    at: usize,
    tw: usize,
    rows: &mut [T],
    pair: &mut [T],
) {
    let m_row = |xi: usize| &m[xi * stride + at..xi * stride + at + tw];
    // Aᵀ·m: two rows of four, each a contiguous run over the tiles.
    for j in 0..4 {
        let (m0, m1, m2, m3) = (m_row(j), m_row(4 + j), m_row(8 + j), m_row(12 + j));
        let (a0, a1) = rows.split_at_mut(4 * tw);
        let (a0, a1) = (&mut a0[j * tw..(j + 1) * tw], &mut a1[j * tw..(j + 1) * tw]);
        for tx in 0..tw {
            a0[tx] = m0[tx] + m1[tx] + m2[tx];
            a1[tx] = m1[tx] - m2[tx] - m3[tx];
        }
    }
    // ·A: the output row's even and odd pixels.
    for i in 0..2 {
        let a = |j: usize| &rows[(i * 4 + j) * tw..(i * 4 + j + 1) * tw];
        let (c0, c1, c2, c3) = (a(0), a(1), a(2), a(3));
        let out_row = &mut pair[i * 2 * tw..(i + 1) * 2 * tw];
        for tx in 0..tw {
            out_row[2 * tx] = c0[tx] + c1[tx] + c2[tx];
            out_row[2 * tx + 1] = c1[tx] - c2[tx] - c3[tx];
        }
    }
}
