//! 3×3 convolutions at stride 1 with padding 1 (ResNet's, VGG's, most of any modern CNN's) by
//! Winograd's minimal filtering F(m×m, 3×3) (Lavin & Gray 2016): each (m + 2)² input tile and
//! the 3×3 kernel are transformed so that an m×m output tile costs (m + 2)² multiplications
//! instead of 9m², and the channel sums become (m + 2)² independent matrix products. F(2×2)
//! spends 2.25× fewer multiply-adds than im2col, F(4×4) 4× fewer; [`tiling`] picks one per call.
//!
//! F(2×2)'s transforms use only 0, ±1 and ±½, so rounding stays within a few ulps of the direct
//! sum; F(4×4)'s coefficients (up to 8, down to 1/24) cost it about twenty times that, 5e-6 of
//! the largest output in f32 (tests below) and still 1e-12 in f64, where the parity tests run.
//! The input gradient of such a convolution is the same kind of convolution (the kernel flipped
//! and its channel axes swapped), so attribution's backward pass takes this path too, and the
//! weight gradient is the same products read backwards ([`grad_weight`]).

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

/// The two tilings of Winograd's F(m×m, 3×3): m×m output tiles from (m + 2)×(m + 2) input tiles,
/// (m + 2)² multiplications each. F(2×2) spends 16 per 4 outputs and transforms with 0, ±1, ±½
/// only; F(4×4) spends 36 per 16 (1.78× fewer) with coefficients up to 8 and 1/24, whose
/// rounding stays within a few dozen ulps of the direct sum (the tests below bound it in f32 and
/// f64).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Tile {
    F2,
    F4,
}

impl Tile {
    /// Output pixels along a tile's side.
    const fn out(self) -> usize {
        match self {
            Tile::F2 => 2,
            Tile::F4 => 4,
        }
    }

    /// Input pixels along a tile's side.
    const fn side(self) -> usize {
        self.out() + 2
    }

    /// Tile positions: the matrices a convolution's channel sums split into.
    const fn positions(self) -> usize {
        self.side() * self.side()
    }
}

/// Whether the Winograd path pays: with few channels the products are too thin for gemm and the
/// transforms dominate (a first layer over RGB, a tabular 1×C map), so im2col stays faster.
pub(super) fn pays(s: &Sizes) -> bool {
    s.c >= 16 && s.k >= 16 && s.h * s.w >= 16
}

/// Values between consecutive matrices of the 16 or 36 a Winograd convolution keeps side by side.
/// Their sizes are often powers of two (512 × 512 kernels, 512 channels × 32 tiles), and 16 streams
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

/// Channel pairs a kernel transform takes at once, as vectors.
const LANES: usize = 16;

crate::avx2_dispatch!(
    /// U = G·g·Gᵀ for 16 channel pairs at once: `taps` holds their nine taps (tap-major), `u`
    /// receives the `tile.positions()` transformed values (position-major). F(2×2)'s G has rows
    /// (1, 0, 0), (½, ½, ½), (½, −½, ½), (0, 0, 1); F(4×4)'s (¼, 0, 0), −⅙(1, 1, 1),
    /// −⅙(1, −1, 1), (1/24, 1/12, ⅙), (1/24, −1/12, ⅙), (0, 0, 1).
    fn transform_taps<T: Float>(
        taps: &[[T; LANES]; 9],
        tile: Tile,
        u: &mut [[T; LANES]; 36],
    ) => transform_taps_loops
);

#[inline(always)]
fn transform_taps_loops<T: Float>(taps: &[[T; LANES]; 9], tile: Tile, u: &mut [[T; LANES]; 36]) {
    type Lanes<T> = [T; LANES];
    let side = tile.side();
    let (half, quarter) = (T::from(0.5).unwrap(), T::from(0.25).unwrap());
    let (sixth, twelfth, t24th) = (
        T::from(1.0 / 6.0).unwrap(),
        T::from(1.0 / 12.0).unwrap(),
        T::from(1.0 / 24.0).unwrap(),
    );
    // G applied to three taps (a, b, d) on all lanes; only the first `side` rows are set.
    let g3 = |a: &Lanes<T>, b: &Lanes<T>, d: &Lanes<T>| -> [Lanes<T>; 6] {
        let mut out = [[T::zero(); LANES]; 6];
        // The tiling chosen outside the lane loops, so that each vectorises on its own.
        match tile {
            Tile::F2 => {
                for l in 0..LANES {
                    out[0][l] = a[l];
                    out[1][l] = (a[l] + b[l] + d[l]) * half;
                    out[2][l] = (a[l] - b[l] + d[l]) * half;
                    out[3][l] = d[l];
                }
            }
            Tile::F4 => {
                for l in 0..LANES {
                    let (ad, q, odd) = (a[l] + d[l], a[l] * t24th + d[l] * sixth, b[l] * twelfth);
                    out[0][l] = a[l] * quarter;
                    out[1][l] = T::zero() - (ad + b[l]) * sixth;
                    out[2][l] = T::zero() - (ad - b[l]) * sixth;
                    out[3][l] = q + odd;
                    out[4][l] = q - odd;
                    out[5][l] = d[l];
                }
            }
        }
        out
    };
    // G·g: per column j of the kernel, its transformed rows.
    let cols: [[Lanes<T>; 6]; 3] =
        std::array::from_fn(|j| g3(&taps[j], &taps[3 + j], &taps[6 + j]));
    for i in 0..side {
        // (G·g)·Gᵀ along row i.
        let row = g3(&cols[0][i], &cols[1][i], &cols[2][i]);
        u[i * side..(i + 1) * side].copy_from_slice(&row[..side]);
    }
}

/// U = G·g·Gᵀ for every (output, input) channel pair of a weight (K, C, 3, 3), laid out as
/// `tile.positions()` matrices (K × C), one per tile position, `matrix_stride(k · c)` apart; with
/// `flipped`, of each kernel turned by 180° (the input gradient's, for the tiles whose transform
/// cannot be read from the unflipped one, [`FLIPPED`]). Made on every call unless [`kept`] holds
/// it, so it has to be cheap: 16 input channels at a time as vectors, each result written as one
/// run of 16, and output channels split over the threads.
fn transform_kernel<T: Float + Send + Sync>(
    w: &[T],
    k: usize,
    c: usize,
    tile: Tile,
    flipped: bool,
) -> Vec<T> {
    let positions = tile.positions();
    let stride = matrix_stride(k * c);
    let mut u: Vec<T> = Vec::with_capacity(positions * stride);
    let sink = SharedOut(u.as_mut_ptr());
    // Input channels outermost: the rows for these 16 channels stay in cache while the output
    // channels run.
    let rows = |ko: std::ops::Range<usize>| {
        let mut taps = [[T::zero(); LANES]; 9];
        let mut out = [[T::zero(); LANES]; 36];
        for c0 in (0..c).step_by(LANES) {
            let lanes = LANES.min(c - c0);
            for ki in ko.clone() {
                // The 16 kernels' nine taps lie side by side in the weight: transposed to nine
                // runs of 16 (whole kernels at once, so the loops unroll into shuffles).
                let kernels = &w[(ki * c + c0) * 9..(ki * c + c0 + lanes) * 9];
                for (l, kernel) in kernels.chunks_exact(9).enumerate() {
                    let kernel: &[T; 9] = kernel.try_into().expect("nine taps");
                    if flipped {
                        for t in 0..9 {
                            taps[8 - t][l] = kernel[t];
                        }
                    } else {
                        for t in 0..9 {
                            taps[t][l] = kernel[t];
                        }
                    }
                }
                transform_taps(&taps, tile, &mut out);
                for (xi, run) in out[..positions].iter().enumerate() {
                    let at = xi * stride + ki * c + c0;
                    // SAFETY: within the capacity; each (position, ki, ci) is written once, by
                    // the thread that owns output channel ki.
                    unsafe {
                        let dst = sink.get().add(at);
                        if lanes == LANES {
                            // A whole run as one store (a call to memmove per run cost more than
                            // the arithmetic).
                            dst.cast::<[T; LANES]>().write_unaligned(*run);
                        } else {
                            std::ptr::copy_nonoverlapping(run.as_ptr(), dst, lanes);
                        }
                    };
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
    for xi in 0..positions {
        for pad in k * c..stride {
            // SAFETY: within the capacity.
            unsafe { sink.get().add(xi * stride + pad).write(T::zero()) };
        }
    }
    // SAFETY: every one of the matrices and the padding after each was written above.
    unsafe { u.set_len(positions * stride) };
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

/// Tile rows per block, so that a block's transformed input matrices hold about 2^18 values
/// (they and the products stay in the outer caches) but at least 64 tiles (the products run
/// over a block's tiles; on fewer, gemm falls back to its half-width kernels: F(4×4) over a
/// 14×14 map at batch 8 had 28), and no more than a thread's share.
fn rows_per_block(s: &Sizes, tile: Tile, tile_rows: usize, tw: usize, threads: usize) -> usize {
    const MIN_TILES: usize = 64;
    let by_cache = ((1 << 18) / (tile.positions() * s.c.max(s.k) * tw)).max(1);
    let by_threads = tile_rows.div_ceil(threads.max(1)).max(1);
    by_cache.max(MIN_TILES.div_ceil(tw)).min(by_threads)
}

/// Which tiling a convolution takes: F(4×4) where the activations dominate, F(2×2) where the
/// kernel does. F(4×4)'s kernel transform, made on every call, is 2.25× F(2×2)'s and pays only
/// over enough tiles: on ResNet's 14×14 maps at batch 8 (128 tiles) F(4×4) saved nothing
/// (13.5–13.7 against 13.8–15.3 ms a layer, one thread), on its 28×28 maps (392) it was 1.3×
/// faster. The weight gradient follows the same rule (it has no kernel transform, but its
/// products run over the same tiles: F(4×4) was 1.17× faster on 28×28, even on 56×56). And where output channels exceed
/// twice the F(2×2) tiles of the batch (a ResNet's last stages at small batches, GAX's single
/// image) the transform is kept between calls ([`kept`]): F(2×2)'s is the smaller, and one
/// serves the forward and the input gradient ([`FLIPPED`]).
fn tiling(s: &Sizes) -> Tile {
    const F4_MIN_TILES: usize = 256;
    let f2_tiles = s.n * s.h.div_ceil(2) * s.w.div_ceil(2);
    let f4_tiles = s.n * s.h.div_ceil(4) * s.w.div_ceil(4);
    if s.k.max(s.c) >= 2 * f2_tiles || f4_tiles < F4_MIN_TILES {
        Tile::F2
    } else {
        Tile::F4
    }
}

/// y (N, K, H, W) = conv(x (N, C, H, W), w (K, C, 3, 3)) with padding 1 and stride 1.
pub(super) fn conv3x3<T: Float + Send + Sync + 'static>(
    x: &[T],
    w: Kernel<'_, T>,
    s: &Sizes,
) -> Vec<T> {
    conv3x3_tiled(x, w, s, tiling(s))
}

/// [`conv3x3`] by the given tiling.
fn conv3x3_tiled<T: Float + Send + Sync + 'static>(
    x: &[T],
    w: Kernel<'_, T>,
    s: &Sizes,
    tile: Tile,
) -> Vec<T> {
    let (th, tw) = (s.h.div_ceil(tile.out()), s.w.div_ceil(tile.out()));
    // U of the weight as it is: (s.k × s.c) matrices forward, (s.c × s.k) for the flipped kernel.
    let (values, weight, flipped, (wk, wc)) = match w {
        Kernel::Forward(v, weight) => (v, weight, false, (s.k, s.c)),
        Kernel::Flipped(v, weight) => (v, weight, true, (s.c, s.k)),
    };
    let u = match (tile, weight) {
        (Tile::F2, Some(weight)) => {
            kept::transformed(weight, || transform_kernel(values, wk, wc, tile, false))
        }
        (Tile::F2, None) => std::sync::Arc::new(transform_kernel(values, wk, wc, tile, false)),
        // F(4×4)'s flipped transform is not a permutation of the unflipped one; made afresh.
        (Tile::F4, _) => std::sync::Arc::new(transform_kernel(values, wk, wc, tile, flipped)),
    };
    // Not zeroed first: the blocks write every output value (transform_output), on their threads.
    let mut out = Vec::with_capacity(s.n * s.k * s.h * s.w);
    let tile_rows = s.n * th;
    let threads = crate::threads::current().max(1);
    let per_block = rows_per_block(s, tile, tile_rows, tw, threads);
    // Blocks of at most `per_block` tile rows covering `rows`.
    let blocks = |rows: std::ops::Range<usize>| {
        let end = rows.end;
        rows.step_by(per_block)
            .map(move |r0| (r0, (r0 + per_block).min(end)))
    };
    let sink = SharedOut(out.as_mut_ptr());
    // Scratch for the largest block's transformed input and products, reused block by block.
    let positions = tile.positions();
    let (u_stride, v_stride, m_stride) = (
        matrix_stride(s.k * s.c),
        matrix_stride(s.c * per_block * tw),
        matrix_stride(s.k * per_block * tw),
    );
    let scratch = || {
        (
            vec![T::zero(); positions * v_stride],
            vec![T::zero(); positions * m_stride],
        )
    };
    let run = |(v, m): &mut (Vec<T>, Vec<T>), &(r0, r1): &(usize, usize), par| {
        let tb = (r1 - r0) * tw;
        match tile {
            Tile::F2 => transform_input(x, s, r0, r1, tw, v_stride, v),
            Tile::F4 => transform_input_f4(x, s, r0, r1, tw, v_stride, v),
        }
        for xi in 0..positions {
            let ux = if flipped && tile == Tile::F2 {
                FLIPPED[xi]
            } else {
                xi
            };
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
        unsafe { transform_output(m, s, tile, r0, r1, tw, m_stride, sink) };
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
    // each (every channel, every image row of a tile row that falls inside the image).
    unsafe { out.set_len(s.n * s.k * s.h * s.w) };
    out
}

/// dW (K, C, 3, 3) of y = conv3x3(x, w) from dy (N, K, H, W): the weight gradient of the same
/// convolution by the same tiling, read backwards. The forward is a trilinear form
/// Σ dy·y = Σ_ξ (A·e·Aᵀ)_ξ (G·g·Gᵀ)_ξ (Bᵀ·d·B)_ξ over the tiles (e an m×m tile of dy, d the
/// (m + 2)² input tile under it, g the kernel), so its derivative in g is dW = Gᵀ·M·G with
/// M_ξ = Σ_tiles (A·e·Aᵀ)_ξ (Bᵀ·d·B)_ξ: the input tiles are transformed exactly as in the forward,
/// and the channel sums are (m + 2)² products (K × tiles)·(tiles × C) — for F(2×2) 16
/// multiplications per tile and channel pair where im2col spends 36, for F(4×4) 36 where it
/// spends 144.
pub(super) fn grad_weight<T: Float + Send + Sync + 'static>(
    x: &[T],
    dy: &[T],
    s: &Sizes,
) -> Vec<T> {
    grad_weight_tiled(x, dy, s, tiling(s))
}

/// [`grad_weight`] by the given tiling.
fn grad_weight_tiled<T: Float + Send + Sync + 'static>(
    x: &[T],
    dy: &[T],
    s: &Sizes,
    tile: Tile,
) -> Vec<T> {
    let positions = tile.positions();
    let (th, tw) = (s.h.div_ceil(tile.out()), s.w.div_ceil(tile.out()));
    let tile_rows = s.n * th;
    let threads = crate::threads::current().clamp(1, tile_rows.max(1));
    let share = tile_rows.div_ceil(threads);
    // Blocks as long as the products allow (the transformed tiles of x and dy together about
    // 2^21 values): each block adds into all K × C matrices, so fewer blocks, fewer passes.
    let per_block = ((1 << 21) / (positions * (s.c + s.k) * tw)).clamp(1, share.max(1));
    let (v_stride, p_stride, m_stride) = (
        matrix_stride(s.c * per_block * tw),
        matrix_stride(s.k * per_block * tw),
        matrix_stride(s.k * s.c),
    );
    // M over the tile rows `rows`: one matrix K × C per tile position, `m_stride` apart.
    let sums = |rows: std::ops::Range<usize>, par: gemm::Parallelism| {
        let mut m = vec![T::zero(); positions * m_stride];
        let mut v = vec![T::zero(); positions * v_stride];
        let mut p = vec![T::zero(); positions * p_stride];
        let end = rows.end;
        for r0 in rows.step_by(per_block) {
            let r1 = (r0 + per_block).min(end);
            let tb = (r1 - r0) * tw;
            match tile {
                Tile::F2 => {
                    transform_input(x, s, r0, r1, tw, v_stride, &mut v);
                    transform_grad_output(dy, s, r0, r1, tw, p_stride, &mut p);
                }
                Tile::F4 => {
                    transform_input_f4(x, s, r0, r1, tw, v_stride, &mut v);
                    transform_grad_output_f4(dy, s, r0, r1, tw, p_stride, &mut p);
                }
            }
            for xi in 0..positions {
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
    untransform_weight_grad(&m, tile, s.k * s.c, m_stride)
}

/// dW = Gᵀ·M·G for every channel pair. F(2×2)'s Gᵀ rows are (1, ½, ½, 0), (0, ½, −½, 0),
/// (0, ½, ½, 1); F(4×4)'s (¼, −⅙, −⅙, 1/24, 1/24, 0), (0, −⅙, ⅙, 1/12, −1/12, 0),
/// (0, −⅙, −⅙, ⅙, ⅙, 1).
fn untransform_weight_grad<T: Float>(m: &[T], tile: Tile, pairs: usize, stride: usize) -> Vec<T> {
    let side = tile.side();
    let c = |v: f64| T::from(v).unwrap();
    let (half, quarter, sixth, twelfth, t24th) =
        (c(0.5), c(0.25), c(1.0 / 6.0), c(1.0 / 12.0), c(1.0 / 24.0));
    // Gᵀ applied to one column of M (`side` values).
    let gt = |v: &[T]| -> [T; 3] {
        match tile {
            Tile::F2 => {
                let [a, b, c, d] = [v[0], v[1], v[2], v[3]];
                [a + (b + c) * half, (b - c) * half, (b + c) * half + d]
            }
            Tile::F4 => {
                let (sum12, diff12) = (v[1] + v[2], v[1] - v[2]);
                let (sum34, diff34) = (v[3] + v[4], v[3] - v[4]);
                [
                    v[0] * quarter - sum12 * sixth + sum34 * t24th,
                    diff34 * twelfth - diff12 * sixth,
                    (sum34 - sum12) * sixth + v[5],
                ]
            }
        }
    };
    let mut dw = vec![T::zero(); pairs * 9];
    for (pair, out) in dw.chunks_exact_mut(9).enumerate() {
        let at = |xi: usize| m[xi * stride + pair];
        // Gᵀ·M: column j of M (rows i are ξ = side·i + j) to three rows.
        let mut cols = [[T::zero(); 3]; 6];
        for (j, col) in cols[..side].iter_mut().enumerate() {
            let column: [T; 6] = std::array::from_fn(|i| {
                if i < side {
                    at(side * i + j)
                } else {
                    T::zero()
                }
            });
            *col = gt(&column);
        }
        // (Gᵀ·M)·G along each of the three rows.
        for a in 0..3 {
            let row: [T; 6] =
                std::array::from_fn(|j| if j < side { cols[j][a] } else { T::zero() });
            out[a * 3..a * 3 + 3].copy_from_slice(&gt(&row));
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
                let row = |j: usize| (i * 4 + j) * stride + ki * tb + t0;
                let [p0, p1, p2, p3] = runs(p, [0, 1, 2, 3].map(row), tw);
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
    /// F(4×4)'s [`transform_grad_output`]: P = A·e·Aᵀ for the 4×4 tiles of dy in tile rows
    /// `r0..r1`, as 36 matrices (K × tiles) `stride` apart; A's rows are (1, 0, 0, 0),
    /// (1, 1, 1, 1), (1, −1, 1, −1), (1, 2, 4, 8), (1, −2, 4, −8), (0, 0, 0, 1). Output rows and
    /// columns past the image count as zeros.
    fn transform_grad_output_f4<T: Float>(
        dy: &[T],
        s: &Sizes,
        r0: usize,
        r1: usize,
        tw: usize,
        stride: usize,
        p: &mut [T],
    ) => transform_grad_output_f4_loops
);

/// A applied to four values: six.
#[inline(always)]
fn a6<T: Float>(e: [T; 4]) -> [T; 6] {
    let (two, four, eight) = (
        T::from(2.0).unwrap(),
        T::from(4.0).unwrap(),
        T::from(8.0).unwrap(),
    );
    let [e0, e1, e2, e3] = e;
    let (even, odd) = (e0 + e2, e1 + e3);
    let (even4, odd4) = (e0 + e2 * four, e1 * two + e3 * eight);
    [e0, even + odd, even - odd, even4 + odd4, even4 - odd4, e3]
}

#[inline(always)]
fn transform_grad_output_f4_loops<T: Float>(
    dy: &[T],
    s: &Sizes,
    r0: usize,
    r1: usize,
    tw: usize,
    stride: usize,
    p: &mut [T],
) {
    let th = s.h.div_ceil(4);
    let tb = (r1 - r0) * tw;
    // The tile row's four image rows, zero past the image on the right (and below).
    let rw = 4 * tw;
    let mut y = vec![T::zero(); 4 * rw];
    let mut a = vec![T::zero(); 6 * rw];
    let mut phases = vec![T::zero(); 4 * tw];
    // Channels outermost, as in transform_input.
    for ki in 0..s.k {
        for r in r0..r1 {
            let (ni, ty) = (r / th, r % th);
            let t0 = (r - r0) * tw;
            let plane = &dy[(ni * s.k + ki) * s.h * s.w..(ni * s.k + ki + 1) * s.h * s.w];
            for (i, row) in y.chunks_exact_mut(rw).enumerate() {
                let oy = 4 * ty + i;
                if oy < s.h {
                    row[..s.w].copy_from_slice(&plane[oy * s.w..(oy + 1) * s.w]);
                    row[s.w..].fill(T::zero());
                } else {
                    row.fill(T::zero());
                }
            }
            // A·e down the columns, whole rows at once.
            {
                let [y0, y1, y2, y3] = four(&y, rw);
                let [a0, a1, a2, a3, a4, a5] = runs(&mut a, [0, 1, 2, 3, 4, 5].map(|i| i * rw), rw);
                for j in 0..rw {
                    [a0[j], a1[j], a2[j], a3[j], a4[j], a5[j]] = a6([y0[j], y1[j], y2[j], y3[j]]);
                }
            }
            // ·Aᵀ along the rows: tile tx's four pixels are the four column phases at tx.
            for (i, ar) in a.chunks_exact(rw).enumerate() {
                {
                    let [f0, f1, f2, f3] = runs(&mut phases, [0, 1, 2, 3].map(|q| q * tw), tw);
                    for (t, quad) in ar.chunks_exact(4).enumerate() {
                        (f0[t], f1[t], f2[t], f3[t]) = (quad[0], quad[1], quad[2], quad[3]);
                    }
                }
                let [c0, c1, c2, c3] = four(&phases, tw);
                let at = [0, 1, 2, 3, 4, 5].map(|j| (i * 6 + j) * stride + ki * tb + t0);
                let [q0, q1, q2, q3, q4, q5] = runs(p, at, tw);
                for tx in 0..tw {
                    [q0[tx], q1[tx], q2[tx], q3[tx], q4[tx], q5[tx]] =
                        a6([c0[tx], c1[tx], c2[tx], c3[tx]]);
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
                let row = |j: usize| (i * 4 + j) * stride + ci * tb + t0;
                let [v0, v1, v2, v3] = runs(v, [0, 1, 2, 3].map(row), tw);
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

crate::avx2_dispatch!(
    /// V = Bᵀ·d·B for F(4×4, 3×3): the 6×6 tiles (4 apart) of tile rows `r0..r1`, as 36
    /// matrices (C × tiles) `stride` apart. Bᵀ's rows are (4, 0, −5, 0, 1, 0),
    /// (0, −4, −4, 1, 1, 0), (0, 4, −4, −1, 1, 0), (0, −2, −1, 2, 1, 0), (0, 2, −1, −2, 1, 0),
    /// (0, 4, 0, −5, 0, 1). Rows outside the image and the one-pixel border are zeros.
    fn transform_input_f4<T: Float>(
        x: &[T],
        s: &Sizes,
        r0: usize,
        r1: usize,
        tw: usize,
        stride: usize,
        v: &mut [T],
    ) => transform_input_f4_loops
);

/// Bᵀ applied to six values (or six runs of values, element by element).
#[inline(always)]
fn bt6<T: Float>(d: [T; 6]) -> [T; 6] {
    let (two, four, five) = (
        T::from(2.0).unwrap(),
        T::from(4.0).unwrap(),
        T::from(5.0).unwrap(),
    );
    let [d0, d1, d2, d3, d4, d5] = d;
    [
        d0 * four - d2 * five + d4,
        d3 + d4 - (d1 + d2) * four,
        d4 - d3 + (d1 - d2) * four,
        d4 - d2 + (d3 - d1) * two,
        d4 - d2 - (d3 - d1) * two,
        d1 * four - d3 * five + d5,
    ]
}

#[inline(always)]
fn transform_input_f4_loops<T: Float>(
    x: &[T],
    s: &Sizes,
    r0: usize,
    r1: usize,
    tw: usize,
    stride: usize,
    v: &mut [T],
) {
    let th = s.h.div_ceil(4);
    let tb = (r1 - r0) * tw;
    // A padded row: one zero on the left, the row, zeros up to the tiles' reach (4·tw + 2),
    // rounded up so that each of the four column phases below has tw + 1 values.
    let pw = 4 * tw + 4;
    let mut rows = vec![T::zero(); 6 * pw];
    let mut e = vec![T::zero(); 6 * pw];
    let mut phases = vec![T::zero(); 4 * (tw + 1)];
    // Channels outermost, as in transform_input.
    for ci in 0..s.c {
        for r in r0..r1 {
            let (ni, ty) = (r / th, r % th);
            let plane = &x[(ni * s.c + ci) * s.h * s.w..(ni * s.c + ci + 1) * s.h * s.w];
            for (i, row) in rows.chunks_exact_mut(pw).enumerate() {
                let iy = (4 * ty + i) as isize - 1;
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
            {
                let [d0, d1, d2, d3, d4, d5] = six(&rows, pw);
                let [e0, e1, e2, e3, e4, e5] = runs(&mut e, [0, 1, 2, 3, 4, 5].map(|i| i * pw), pw);
                for j in 0..pw {
                    [e0[j], e1[j], e2[j], e3[j], e4[j], e5[j]] =
                        bt6([d0[j], d1[j], d2[j], d3[j], d4[j], d5[j]]);
                }
            }
            // ·B along the columns: tile tx reads padded columns 4tx..4tx+6, i.e. the four column
            // phases at tx and the first two at tx + 1, so every term is a contiguous run.
            let t0 = (r - r0) * tw;
            for (i, er) in e.chunks_exact(pw).enumerate() {
                {
                    let [p0, p1, p2, p3] =
                        runs(&mut phases, [0, 1, 2, 3].map(|q| q * (tw + 1)), tw + 1);
                    for (t, quad) in er.chunks_exact(4).enumerate() {
                        (p0[t], p1[t], p2[t], p3[t]) = (quad[0], quad[1], quad[2], quad[3]);
                    }
                }
                let [p0, p1, p2, p3] = four(&phases, tw + 1);
                let (c0, c1, c2, c3, c4, c5) = (
                    &p0[..tw],
                    &p1[..tw],
                    &p2[..tw],
                    &p3[..tw],
                    &p0[1..],
                    &p1[1..],
                );
                let at = [0, 1, 2, 3, 4, 5].map(|j| (i * 6 + j) * stride + ci * tb + t0);
                let [v0, v1, v2, v3, v4, v5] = runs(v, at, tw);
                for tx in 0..tw {
                    [v0[tx], v1[tx], v2[tx], v3[tx], v4[tx], v5[tx]] =
                        bt6([c0[tx], c1[tx], c2[tx], c3[tx], c4[tx], c5[tx]]);
                }
            }
        }
    }
}

/// The first six runs of `len` values of `v`, side by side.
#[inline(always)]
fn six<T>(v: &[T], len: usize) -> [&[T]; 6] {
    let (a, rest) = v.split_at(len);
    let (b, rest) = rest.split_at(len);
    let (c, rest) = rest.split_at(len);
    let (d, rest) = rest.split_at(len);
    let (e, rest) = rest.split_at(len);
    [a, b, c, d, e, &rest[..len]]
}

/// The first four runs of `len` values of `v`, side by side.
#[inline(always)]
fn four<T>(v: &[T], len: usize) -> [&[T]; 4] {
    let (a, rest) = v.split_at(len);
    let (b, rest) = rest.split_at(len);
    let (c, rest) = rest.split_at(len);
    [a, b, c, &rest[..len]]
}

/// Aᵀ applied to six values: F(4×4)'s rows (1, 1, 1, 1, 1, 0), (0, 1, −1, 2, −2, 0),
/// (0, 1, 1, 4, 4, 0), (0, 1, −1, 8, −8, 1).
#[inline(always)]
fn at6<T: Float>(m: [T; 6]) -> [T; 4] {
    let (two, four, eight) = (
        T::from(2.0).unwrap(),
        T::from(4.0).unwrap(),
        T::from(8.0).unwrap(),
    );
    let [m0, m1, m2, m3, m4, m5] = m;
    let (sum12, diff12, sum34, diff34) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
    [
        m0 + sum12 + sum34,
        diff12 + diff34 * two,
        sum12 + sum34 * four,
        diff12 + diff34 * eight + m5,
    ]
}

crate::avx2_dispatch!(
    /// F(4×4)'s [`untransform_tile`]: one channel's tiles of one tile row (the `tw` values from
    /// `at` in each of the 36 matrices `stride` apart) to its four output rows, in `block`.
    fn untransform_tile_f4<T: Float>(
        m: &[T],
        stride: usize,
        at: usize,
        tw: usize,
        rows: &mut [T],
        block: &mut [T],
    ) => untransform_tile_f4_loops
);

#[inline(always)]
fn untransform_tile_f4_loops<T: Float>(
    m: &[T],
    stride: usize,
    at: usize,
    tw: usize,
    rows: &mut [T],
    block: &mut [T],
) {
    let m_row = |xi: usize| &m[xi * stride + at..xi * stride + at + tw];
    // Aᵀ·m: four rows of six, each a contiguous run over the tiles (rows[(i·6 + j)·tw..]).
    for j in 0..6 {
        let (m0, m1, m2) = (m_row(j), m_row(6 + j), m_row(12 + j));
        let (m3, m4, m5) = (m_row(18 + j), m_row(24 + j), m_row(30 + j));
        let [a0, a1, a2, a3] = runs(rows, [0, 1, 2, 3].map(|i| (i * 6 + j) * tw), tw);
        for tx in 0..tw {
            [a0[tx], a1[tx], a2[tx], a3[tx]] =
                at6([m0[tx], m1[tx], m2[tx], m3[tx], m4[tx], m5[tx]]);
        }
    }
    // ·A: each output row's four pixel phases, interleaved.
    for (i, out_row) in block.chunks_exact_mut(4 * tw).enumerate() {
        let [a0, a1, a2, a3, a4, a5] = six(&rows[i * 6 * tw..], tw);
        for (tx, px) in out_row.chunks_exact_mut(4).enumerate() {
            let [o0, o1, o2, o3] = at6([a0[tx], a1[tx], a2[tx], a3[tx], a4[tx], a5[tx]]);
            (px[0], px[1], px[2], px[3]) = (o0, o1, o2, o3);
        }
    }
}

/// N disjoint runs of `len` values starting at `starts` (increasing, at least `len` apart).
#[inline(always)]
fn runs<T, const N: usize>(v: &mut [T], starts: [usize; N], len: usize) -> [&mut [T]; N] {
    let mut rest = v;
    let mut base = 0;
    let mut out: [&mut [T]; N] = std::array::from_fn(|_| Default::default());
    for (run, start) in out.iter_mut().zip(starts) {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - base);
        (*run, rest) = tail.split_at_mut(len);
        base = start + len;
    }
    out
}

/// Y = Aᵀ·m·A for the tiles of tile rows `r0..r1`, written into the output (a tile's rows and
/// columns past the image are dropped where its size is not a multiple of the tile's).
/// Channels outermost, as in transform_input: each of the matrices is read in order.
///
/// # Safety
/// `out` must point to the (N, K, H, W) output; only the rows of tile rows `r0..r1` are written.
#[allow(clippy::too_many_arguments)]
unsafe fn transform_output<T: Float>(
    m: &[T],
    s: &Sizes,
    tile: Tile,
    r0: usize,
    r1: usize,
    tw: usize,
    stride: usize,
    out: SharedOut<T>,
) {
    let mo = tile.out();
    let th = s.h.div_ceil(mo);
    let tb = (r1 - r0) * tw;
    let mut rows = vec![T::zero(); mo * tile.side() * tw];
    let mut block = vec![T::zero(); mo * mo * tw];
    for ki in 0..s.k {
        for r in r0..r1 {
            let (ni, ty) = (r / th, r % th);
            let at = ki * tb + (r - r0) * tw;
            match tile {
                Tile::F2 => untransform_tile(m, stride, at, tw, &mut rows, &mut block),
                Tile::F4 => untransform_tile_f4(m, stride, at, tw, &mut rows, &mut block),
            }
            for i in 0..mo {
                let oy = mo * ty + i;
                if oy >= s.h {
                    break;
                }
                let start = ((ni * s.k + ki) * s.h + oy) * s.w;
                let src = &block[i * mo * tw..i * mo * tw + s.w];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::rand;

    /// The tiling rule on ResNet's 3×3 layers, and on the shapes the tests in `conv.rs` use.
    #[test]
    fn the_tiling_follows_the_kernel_against_the_tiles() {
        let sizes = |n, c, h, k| Sizes { n, c, h, w: h, k };
        // Batch 8: F(4×4) on the 56×56 and 28×28 maps; too few tiles on 14×14; 7×7 kept.
        assert_eq!(tiling(&sizes(8, 64, 56, 64)), Tile::F4);
        assert_eq!(tiling(&sizes(8, 128, 28, 128)), Tile::F4);
        assert_eq!(tiling(&sizes(8, 256, 14, 256)), Tile::F2);
        assert_eq!(tiling(&sizes(8, 512, 7, 512)), Tile::F2);
        // Batch 32: 14×14 has the tiles; 7×7 still not (4 tiles an image).
        assert_eq!(tiling(&sizes(32, 256, 14, 256)), Tile::F4);
        assert_eq!(tiling(&sizes(32, 512, 7, 512)), Tile::F2);
        // conv.rs: its last shape is the one F(4×4) case.
        assert_eq!(tiling(&sizes(2, 16, 8, 16)), Tile::F2);
        assert_eq!(tiling(&sizes(4, 16, 32, 16)), Tile::F4);
    }

    /// Both tilings against candle's direct convolution in f64: the forward, the input
    /// gradient (the flipped kernel) and the weight gradient, on sizes off both tiles, maps
    /// smaller than a tile, more outputs than inputs, channel counts off the kernel transform's
    /// 16 lanes, and a kernel large enough that its transform splits over the threads.
    #[test]
    fn both_tilings_match_the_direct_sum_in_f64() {
        use candle_core::Var;
        let flat = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let close = |ours: &[f64], theirs: &[f64], what: &str| {
            let scale = theirs.iter().fold(1f64, |m, a| m.max(a.abs()));
            let worst = ours
                .iter()
                .zip(theirs)
                .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
            assert_eq!(ours.len(), theirs.len(), "{what}");
            assert!(
                worst < 1e-12 * scale,
                "{what}: off by {worst:e} (scale {scale:e})"
            );
        };
        for (seed, (n, c, h, w, k)) in [
            (2, 16, 8, 8, 16),
            (3, 17, 7, 9, 20),
            (1, 24, 5, 4, 16),
            (2, 16, 4, 5, 32),
            (2, 16, 13, 11, 16),
            (1, 20, 6, 7, 24),
            (1, 128, 9, 11, 130),
        ]
        .into_iter()
        .enumerate()
        {
            let seed = 20 + 3 * seed as u64;
            let x = Var::from_tensor(&rand(&[n, c, h, w], seed)).unwrap();
            let wt = Var::from_tensor(&rand(&[k, c, 3, 3], seed + 1)).unwrap();
            let dy = rand(&[n, k, h, w], seed + 2);
            let y = x.as_tensor().conv2d(wt.as_tensor(), 1, 1, 1, 1).unwrap();
            let grads = (&y * &dy).unwrap().sum_all().unwrap().backward().unwrap();
            let (dx, dw) = (grads.get(&x).unwrap(), grads.get(&wt).unwrap());
            let (xv, wv, dyv) = (flat(x.as_tensor()), flat(wt.as_tensor()), flat(&dy));
            let forward = Sizes { n, c, h, w, k };
            let back = Sizes {
                n,
                c: k,
                h,
                w,
                k: c,
            };
            for tile in [Tile::F2, Tile::F4] {
                let what = |part: &str| format!("{tile:?} {part} {:?}", (n, c, h, w, k));
                let ours = conv3x3_tiled(&xv, Kernel::Forward(&wv, None), &forward, tile);
                close(&ours, &flat(&y), &what("forward"));
                let ours = conv3x3_tiled(&dyv, Kernel::Flipped(&wv, None), &back, tile);
                close(&ours, &flat(dx), &what("input gradient"));
                let ours = grad_weight_tiled(&xv, &dyv, &forward, tile);
                close(&ours, &flat(dw), &what("weight gradient"));
            }
        }
    }

    /// Both tilings, forward and flipped, in f32 against the direct sum in f64: the error
    /// relative to the largest output stays within what the parity tolerances allow (F(4×4)'s
    /// larger coefficients cost it a few times F(2×2)'s rounding, not orders of magnitude).
    #[test]
    fn both_tilings_stay_close_to_the_direct_sum_in_f32() {
        let (n, c, h, w, k) = (2, 64, 14, 13, 48);
        let x64 = rand(&[n, c, h, w], 11);
        let w64 = rand(&[k, c, 3, 3], 12);
        let to32 = |t: &candle_core::Tensor| {
            t.to_dtype(candle_core::DType::F32)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let flat64 = |t: candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let (x32, w32) = (to32(&x64), to32(&w64));
        let direct = flat64(x64.conv2d(&w64, 1, 1, 1, 1).unwrap());
        // The flipped kernel of w read as the input gradient's: conv(dy, flip(w)ᵀ) with dy (N, K, …).
        let dy64 = rand(&[n, k, h, w], 13);
        let wt64 = w64
            .flip(&[2, 3])
            .unwrap()
            .transpose(0, 1)
            .unwrap()
            .contiguous()
            .unwrap();
        let direct_back = flat64(dy64.conv2d(&wt64, 1, 1, 1, 1).unwrap());
        let dy32 = to32(&dy64);
        let scale = |v: &[f64]| v.iter().fold(0f64, |m, a| m.max(a.abs()));
        let error = |ours: &[f32], theirs: &[f64]| {
            let worst = ours
                .iter()
                .zip(theirs)
                .fold(0f64, |m, (&a, &b)| m.max((a as f64 - b).abs()));
            worst / scale(theirs)
        };
        let forward = Sizes { n, c, h, w, k };
        let back = Sizes {
            n,
            c: k,
            h,
            w,
            k: c,
        };
        // Measured: F(2×2) 3e-7, F(4×4) 5–7e-6 (a few dozen f32 ulps of the largest output).
        for (tile, bound) in [(Tile::F2, 1e-6), (Tile::F4, 2e-5)] {
            let y = conv3x3_tiled(&x32, Kernel::Forward(&w32, None), &forward, tile);
            let e = error(&y, &direct);
            assert!(e < bound, "{tile:?} forward: relative error {e:e}");
            let dx = conv3x3_tiled(&dy32, Kernel::Flipped(&w32, None), &back, tile);
            let e = error(&dx, &direct_back);
            assert!(e < bound, "{tile:?} flipped: relative error {e:e}");
        }
    }
}
