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

/// The input gradient's kernel: `w` (K, C, 3, 3) flipped in space with its channel axes swapped,
/// (C, K, 3, 3), so that dx = conv(dy, flipped) for stride 1 and padding 1.
pub(super) fn flipped_kernel<T: Float>(w: &[T], k: usize, c: usize) -> Vec<T> {
    let mut out = vec![T::zero(); w.len()];
    for ki in 0..k {
        for ci in 0..c {
            for t in 0..9 {
                out[(ci * k + ki) * 9 + t] = w[(ki * c + ci) * 9 + (8 - t)];
            }
        }
    }
    out
}

/// U = G·g·Gᵀ for every (output, input) channel pair, laid out as 16 matrices (K × C), one per
/// tile position.
fn transform_kernel<T: Float>(w: &[T], k: usize, c: usize) -> Vec<T> {
    let half = T::from(0.5).unwrap();
    let mut u = vec![T::zero(); 16 * k * c];
    for ki in 0..k {
        for ci in 0..c {
            let g = &w[(ki * c + ci) * 9..(ki * c + ci + 1) * 9];
            // G·g: 4 rows × 3 columns.
            let mut gg = [[T::zero(); 3]; 4];
            for j in 0..3 {
                let (a, b, d) = (g[j], g[3 + j], g[6 + j]);
                gg[0][j] = a;
                gg[1][j] = (a + b + d) * half;
                gg[2][j] = (a - b + d) * half;
                gg[3][j] = d;
            }
            for (i, row) in gg.iter().enumerate() {
                let (a, b, d) = (row[0], row[1], row[2]);
                let cols = [a, (a + b + d) * half, (a - b + d) * half, d];
                for (j, &v) in cols.iter().enumerate() {
                    u[((i * 4 + j) * k + ki) * c + ci] = v;
                }
            }
        }
    }
    u
}

/// Tile rows per block, so that a block's 16 transformed input matrices hold about 2^18 values
/// (they and the products stay in the outer caches) and the threads get a block each.
fn rows_per_block(s: &Sizes, tile_rows: usize, tw: usize, threads: usize) -> usize {
    let by_cache = ((1 << 18) / (16 * s.c.max(s.k) * tw)).max(1);
    let by_threads = tile_rows.div_ceil(threads.max(1)).max(1);
    by_cache.min(by_threads)
}

/// y (N, K, H, W) = conv(x (N, C, H, W), w (K, C, 3, 3)) with padding 1 and stride 1.
pub(super) fn conv3x3<T: Float + Send + Sync + 'static>(x: &[T], w: &[T], s: &Sizes) -> Vec<T> {
    let (th, tw) = (s.h.div_ceil(2), s.w.div_ceil(2));
    let u = transform_kernel(w, s.k, s.c);
    let mut out = vec![T::zero(); s.n * s.k * s.h * s.w];
    let tile_rows = s.n * th;
    let threads = crate::threads::current().max(1);
    let per_block = rows_per_block(s, tile_rows, tw, threads);
    let blocks: Vec<(usize, usize)> = (0..tile_rows)
        .step_by(per_block)
        .map(|r0| (r0, (r0 + per_block).min(tile_rows)))
        .collect();
    let sink = Sink(out.as_mut_ptr());
    // Scratch for the largest block's transformed input and products, reused block by block.
    let scratch = || {
        let tb = per_block * tw;
        (
            vec![T::zero(); 16 * s.c * tb],
            vec![T::zero(); 16 * s.k * tb],
        )
    };
    let run = |(v, m): &mut (Vec<T>, Vec<T>), &(r0, r1): &(usize, usize), par| {
        let tb = (r1 - r0) * tw;
        transform_input(x, s, r0, r1, tw, v);
        for xi in 0..16 {
            super::products::matmul_strided(
                s.k,
                tb,
                s.c,
                &u[xi * s.k * s.c..(xi + 1) * s.k * s.c],
                false,
                &v[xi * s.c * tb..(xi + 1) * s.c * tb],
                tb,
                &mut m[xi * s.k * tb..(xi + 1) * s.k * tb],
                tb,
                false,
                par,
            );
        }
        // SAFETY: a block writes only the output rows of its own tile rows; blocks are disjoint.
        unsafe { transform_output(m, s, r0, r1, tw, sink) };
    };
    if threads > 1 && blocks.len() > 1 {
        blocks
            .par_iter()
            .for_each_init(scratch, |sc, b| run(sc, b, gemm::Parallelism::None));
    } else {
        let par = super::products::parallelism(s.k, per_block * tw, s.c);
        let mut sc = scratch();
        blocks.iter().for_each(|b| run(&mut sc, b, par));
    }
    out
}

/// The output buffer, written by several blocks at once at disjoint places.
#[derive(Clone, Copy)]
struct Sink<T>(*mut T);
// SAFETY: blocks write disjoint elements (see `transform_output`).
unsafe impl<T> Send for Sink<T> {}
unsafe impl<T> Sync for Sink<T> {}

crate::avx2_dispatch!(
    /// V = Bᵀ·d·B for the tiles of tile rows `r0..r1` (a tile row is one (sample, ty)), as 16
    /// matrices (C × tiles). Rows outside the image and the one-pixel border are zeros.
    fn transform_input<T: Float>(x: &[T], s: &Sizes, r0: usize, r1: usize, tw: usize, v: &mut [T])
        => transform_input_loops
);

#[inline(always)]
fn transform_input_loops<T: Float>(
    x: &[T],
    s: &Sizes,
    r0: usize,
    r1: usize,
    tw: usize,
    v: &mut [T],
) {
    let th = s.h.div_ceil(2);
    let tb = (r1 - r0) * tw;
    // A padded row: one zero on the left, the row, zeros up to the tiles' reach (2·tw + 2).
    let pw = 2 * tw + 2;
    let mut rows = vec![T::zero(); 4 * pw];
    let mut e = vec![T::zero(); 4 * pw];
    let (mut even, mut odd) = (vec![T::zero(); tw + 1], vec![T::zero(); tw + 1]);
    for r in r0..r1 {
        let (ni, ty) = (r / th, r % th);
        for ci in 0..s.c {
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
                let row = |j: usize| (((i * 4 + j) * s.c + ci) * tb + t0)..;
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
/// column of a tile is dropped where the image's size is odd).
///
/// # Safety
/// `out` must point to the (N, K, H, W) output; only the rows of tile rows `r0..r1` are written.
unsafe fn transform_output<T: Float>(
    m: &[T],
    s: &Sizes,
    r0: usize,
    r1: usize,
    tw: usize,
    out: Sink<T>,
) {
    let th = s.h.div_ceil(2);
    let tb = (r1 - r0) * tw;
    let mut rows = vec![T::zero(); 8 * tw];
    let mut pair = vec![T::zero(); 2 * 2 * tw];
    let mut tile_row = vec![T::zero(); s.k * 2 * s.w];
    for r in r0..r1 {
        let (ni, ty) = (r / th, r % th);
        let t0 = (r - r0) * tw;
        untransform_tile_row(m, s, tb, t0, tw, &mut rows, &mut pair, &mut tile_row);
        for ki in 0..s.k {
            for i in 0..2 {
                let oy = 2 * ty + i;
                if oy >= s.h {
                    break;
                }
                let start = ((ni * s.k + ki) * s.h + oy) * s.w;
                // SAFETY: row `oy` of (ni, ki) belongs to tile row r, which this block owns.
                let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add(start), s.w) };
                dst.copy_from_slice(&tile_row[(ki * 2 + i) * s.w..(ki * 2 + i + 1) * s.w]);
            }
        }
    }
}

crate::avx2_dispatch!(
    /// One tile row's output, every output channel: two image rows per channel in `tile_row`.
    #[allow(clippy::too_many_arguments)]
    fn untransform_tile_row<T: Float>(
        m: &[T],
        s: &Sizes,
        tb: usize,
        t0: usize,
        tw: usize,
        rows: &mut [T],
        pair: &mut [T],
        tile_row: &mut [T],
    ) => untransform_tile_row_loops
);

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn untransform_tile_row_loops<T: Float>(
    m: &[T],
    s: &Sizes,
    tb: usize,
    t0: usize,
    tw: usize,
    rows: &mut [T],
    pair: &mut [T],
    tile_row: &mut [T],
) {
    for ki in 0..s.k {
        let m_row = |xi: usize| &m[(xi * s.k + ki) * tb + t0..(xi * s.k + ki) * tb + t0 + tw];
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
            tile_row[(ki * 2 + i) * s.w..(ki * 2 + i + 1) * s.w].copy_from_slice(&out_row[..s.w]);
        }
    }
}
