//! A linear layer for a few rows (a batch of up to [`MAX_ROWS`] images) as one pass over its
//! weight: the forward y = x·Wᵀ and the input gradient dx = dy·W.
//!
//! At such batches both products are bound by reading W (AlexNet's first classifier layer is
//! 4096×9216, 151 MB in f32, for 0.3 G multiply-adds), and gemm reads it badly either way
//! round: with the batch as gemm's rows its 16-row kernels run half empty and walk W down its
//! columns, a whole row of W apart per step; with W's rows as gemm's rows it packs them anew
//! each call.
//!
//! - [`grad_input`]: blocks of [`W_ROWS`] rows of W are read once, in order, and added into dx
//!   held in registers a panel of [`PANEL`] columns at a time. Measured on the 2-vCPU AMD EPYC
//!   development machine (f32, one thread, median of 9): batch 8 through 4096×9216 17 ms
//!   against gemm's 29–39 ms, 4096×4096 5.8 against 12–19 ms, 1000×4096 1.2 against 3.5–4.3 ms.
//! - [`forward`]: [`DOT_ROWS`] rows of W at a time, each dotted with every row of x (x, 295 KB
//!   at batch 8 through 9216 inputs, stays in L2), the sums held in registers until the rows
//!   end. Measured on the 2-vCPU Intel Xeon (f32, batch 8, fastest of 9, several runs):
//!   4096×9216 14–16 ms against gemm's 20–24 on one thread, 7–8 against 11–12 on two;
//!   4096×4096 6.2–6.9 against 7.8 ms on one thread.
//!
//! Only f32 on CPUs with AVX-512F: the kernels' accumulators fill 16–24 of AVX-512's 32
//! registers. Elsewhere (f64, other CPUs) both functions return `false` and gemm runs.

/// The most rows of x or dy the kernels take: one register block of them.
pub(super) const MAX_ROWS: usize = 8;
/// Rows of W the forward dots with x at once: 3 × [`MAX_ROWS`] accumulators, each vector of x
/// loaded once for three rows of W.
const DOT_ROWS: usize = 3;
/// How far ahead (in values: 512 bytes) the forward asks for W's rows: its three rows of W and
/// eight of x are more streams than the hardware prefetchers follow well (4096×9216 at batch 8
/// on the Xeon, one thread: 16.3 ms without, 14.1 with; 1,024 bytes or more ahead was slower).
const PREFETCH: usize = 128;
/// Rows of W read per pass over dx's panels: dx's panel is loaded and stored once per block.
const W_ROWS: usize = 8;
/// Columns per register block: two AVX-512 vectors per row of dx.
const PANEL: usize = 32;

/// Calls `$kernel::<N>(args)` with N the row count `$n` (1 to [`MAX_ROWS`]) as a constant, so
/// that a kernel's accumulators are registers and its loops over them unrolled.
#[cfg(target_arch = "x86_64")]
macro_rules! with_rows {
    ($n:expr, $kernel:ident($($arg:expr),*)) => {
        match $n {
            1 => $kernel::<1>($($arg),*),
            2 => $kernel::<2>($($arg),*),
            3 => $kernel::<3>($($arg),*),
            4 => $kernel::<4>($($arg),*),
            5 => $kernel::<5>($($arg),*),
            6 => $kernel::<6>($($arg),*),
            7 => $kernel::<7>($($arg),*),
            8 => $kernel::<8>($($arg),*),
            _ => unreachable!("at most MAX_ROWS rows reach the kernels"),
        }
    };
}

/// dx (n×k) = dy (n×m) · W (m×k) into `dx`, all row-major, when the element type is f32, n is
/// at most [`MAX_ROWS`] and the CPU has AVX-512F; `false` (dx untouched) otherwise. Columns
/// are split over `threads`.
pub(super) fn grad_input<T: 'static>(
    dy: &[T],
    w: &[T],
    dx: &mut [T],
    (n, m, k): (usize, usize, usize),
    threads: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let Some((dy, w, dx)) = kernel_operands(n, dy, w, dx) {
        assert!(dy.len() >= n * m && w.len() >= m * k && dx.len() >= n * k);
        let out = Columns(dx.as_mut_ptr());
        // SAFETY: AVX-512F was detected; dy, w and dx hold n×m, m×k and n×k values (asserted),
        // and `split` hands out disjoint ranges of dx's columns within k (whole panels: each
        // thread reads its share of every row of W).
        let run = move |cols: (usize, usize)| unsafe {
            with_rows!(n, columns(dy, w, out, (n, m, k), cols))
        };
        split(k.div_ceil(PANEL), PANEL, k, threads, run);
        return true;
    }
    let _ = (dy, w, dx, n, m, k, threads);
    false
}

/// y (n×m) = x (n×k) · Wᵀ, W (m×k), all row-major, when the element type is f32, n is at most
/// [`MAX_ROWS`] and the CPU has AVX-512F; `false` (y untouched) otherwise. W's rows are split
/// over `threads`.
pub(super) fn forward<T: 'static>(
    x: &[T],
    w: &[T],
    y: &mut [T],
    (n, m, k): (usize, usize, usize),
    threads: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let Some((x, w, y)) = kernel_operands(n, x, w, y) {
        assert!(x.len() >= n * k && w.len() >= m * k && y.len() >= n * m);
        let out = Columns(y.as_mut_ptr());
        // SAFETY: AVX-512F was detected; x, w and y hold n×k, m×k and n×m values (asserted),
        // and `split` hands out disjoint ranges of W's rows (y's columns) within m.
        let run = move |rows: (usize, usize)| unsafe {
            with_rows!(n, dot_rows(x, w, out, (n, m, k), rows))
        };
        split(m.div_ceil(DOT_ROWS), DOT_ROWS, m, threads, run);
        return true;
    }
    let _ = (x, w, y, n, m, k, threads);
    false
}

/// The operands as f32 when the kernels take them: f32 values, at most [`MAX_ROWS`] rows, a CPU
/// with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::type_complexity)]
fn kernel_operands<'a, T: 'static>(
    rows: usize,
    a: &'a [T],
    w: &'a [T],
    out: &'a mut [T],
) -> Option<(&'a [f32], &'a [f32], &'a mut [f32])> {
    if rows > MAX_ROWS || !std::arch::is_x86_feature_detected!("avx512f") {
        return None;
    }
    Some((as_f32(a)?, as_f32(w)?, as_f32_mut(out)?))
}

#[cfg(target_arch = "x86_64")]
pub(super) fn as_f32<T: 'static>(s: &[T]) -> Option<&[f32]> {
    // SAFETY: T is f32 (checked), so the slice is reinterpreted as itself.
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast(), s.len()) })
}

#[cfg(target_arch = "x86_64")]
pub(super) fn as_f32_mut<T: 'static>(s: &mut [T]) -> Option<&mut [f32]> {
    // SAFETY: as in `as_f32`.
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) })
}

/// An output's rows, shared by threads that each write their own columns of every row.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Columns(*mut f32);
// SAFETY: the threads write disjoint column ranges (`split`).
#[cfg(target_arch = "x86_64")]
unsafe impl Send for Columns {}
#[cfg(target_arch = "x86_64")]
unsafe impl Sync for Columns {}

/// Runs `run` over `threads` disjoint ranges of `0..len` made of whole `unit`s (`units` of them,
/// the last one possibly short), one range per thread.
#[cfg(target_arch = "x86_64")]
fn split(
    units: usize,
    unit: usize,
    len: usize,
    threads: usize,
    run: impl Fn((usize, usize)) + Copy + Send + Sync,
) {
    let threads = threads.clamp(1, units.max(1));
    if threads == 1 {
        return run((0, len));
    }
    let range = |t: usize| {
        let edge = |t: usize| (t * units / threads * unit).min(len);
        (edge(t), edge(t + 1))
    };
    rayon::scope(|s| {
        for t in 1..threads {
            s.spawn(move |_| run(range(t)));
        }
        run(range(0));
    });
}

/// y[.., r0..r1] = x · W[r0..r1, ..]ᵀ for N rows of x: [`DOT_ROWS`] rows of W at a time.
///
/// # Safety
/// The CPU has AVX-512F; `y` points at n rows of m values, `x` holds n×k and `w` m×k values,
/// r0 ≤ r1 ≤ m, and no other thread touches y's columns r0..r1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_rows<const N: usize>(
    x: &[f32],
    w: &[f32],
    y: Columns,
    (_, m, k): (usize, usize, usize),
    (r0, r1): (usize, usize),
) {
    let mut r = r0;
    unsafe {
        while r + DOT_ROWS <= r1 {
            dot_block::<N, DOT_ROWS>(x, w, y, (m, k), r);
            r += DOT_ROWS;
        }
        match r1 - r {
            1 => dot_block::<N, 1>(x, w, y, (m, k), r),
            2 => dot_block::<N, 2>(x, w, y, (m, k), r),
            _ => {}
        }
    }
}

/// y[.., r..r + R] = x · W[r..r + R, ..]ᵀ: N×R dot products over k, each a register of 16
/// partial sums (the last vector of a row masked when k is not a multiple of 16), added
/// across at the end.
///
/// # Safety
/// As [`dot_rows`], with r + R ≤ m.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn dot_block<const N: usize, const R: usize>(
    x: &[f32],
    w: &[f32],
    y: Columns,
    (m, k): (usize, usize),
    r: usize,
) {
    use std::arch::x86_64::*;
    let (x, w) = (x.as_ptr(), w.as_ptr().wrapping_add(r * k));
    let mut acc = [[_mm512_setzero_ps(); R]; N];
    unsafe {
        let mut add = |j: usize, mask: __mmask16| {
            let wv: [__m512; R] =
                std::array::from_fn(|a| _mm512_maskz_loadu_ps(mask, w.add(a * k + j)));
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let xv = _mm512_maskz_loadu_ps(mask, x.add(i * k + j));
                for (s, wa) in acc_i.iter_mut().zip(&wv) {
                    *s = _mm512_fmadd_ps(xv, *wa, *s);
                }
            }
        };
        let whole = k / 16 * 16;
        for j in (0..whole).step_by(16) {
            for a in 0..R {
                _mm_prefetch::<_MM_HINT_T0>(w.wrapping_add(a * k + j + PREFETCH).cast());
            }
            add(j, !0);
        }
        if whole < k {
            add(whole, (1u16 << (k - whole)) - 1);
        }
        for (i, acc_i) in acc.iter().enumerate() {
            for (a, s) in acc_i.iter().enumerate() {
                *y.0.add(i * m + r + a) = _mm512_reduce_add_ps(*s);
            }
        }
    }
}

/// dx[.., j0..j1] = dy · W[.., j0..j1] for N rows of dy.
///
/// # Safety
/// The CPU has AVX-512F; `dx` points at n rows of k values, `dy` holds n×m and `w` m×k values,
/// j0 ≤ j1 ≤ k, and no other thread touches dx's columns j0..j1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn columns<const N: usize>(
    dy: &[f32],
    w: &[f32],
    dx: Columns,
    (_, m, k): (usize, usize, usize),
    (j0, j1): (usize, usize),
) {
    use std::arch::x86_64::*;
    let dx = dx.0;
    let whole_panels_end = j0 + (j1 - j0) / PANEL * PANEL;
    unsafe {
        for i in 0..N {
            std::ptr::write_bytes(dx.add(i * k + j0), 0, j1 - j0);
        }
        for r0 in (0..m).step_by(W_ROWS) {
            let rows = W_ROWS.min(m - r0);
            // This block's multipliers, dy[i][r0 + a], read once.
            let mut d = [[0f32; W_ROWS]; N];
            for (i, di) in d.iter_mut().enumerate() {
                di[..rows].copy_from_slice(&dy[i * m + r0..i * m + r0 + rows]);
            }
            for j in (j0..whole_panels_end).step_by(PANEL) {
                let mut acc = [[_mm512_setzero_ps(); 2]; N];
                for (i, a) in acc.iter_mut().enumerate() {
                    a[0] = _mm512_loadu_ps(dx.add(i * k + j));
                    a[1] = _mm512_loadu_ps(dx.add(i * k + j + 16));
                }
                for r in 0..rows {
                    let wr = w.as_ptr().add((r0 + r) * k + j);
                    let (w0, w1) = (_mm512_loadu_ps(wr), _mm512_loadu_ps(wr.add(16)));
                    for (a, di) in acc.iter_mut().zip(&d) {
                        let s = _mm512_set1_ps(di[r]);
                        a[0] = _mm512_fmadd_ps(s, w0, a[0]);
                        a[1] = _mm512_fmadd_ps(s, w1, a[1]);
                    }
                }
                for (i, a) in acc.iter().enumerate() {
                    _mm512_storeu_ps(dx.add(i * k + j), a[0]);
                    _mm512_storeu_ps(dx.add(i * k + j + 16), a[1]);
                }
            }
            // The columns after the last whole panel (k not a multiple of 32), one at a time.
            for (i, di) in d.iter().enumerate() {
                for j in whole_panels_end..j1 {
                    let mut s = *dx.add(i * k + j);
                    for (r, &dr) in di[..rows].iter().enumerate() {
                        s = dr.mul_add(w[(r0 + r) * k + j], s);
                    }
                    *dx.add(i * k + j) = s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::values;

    #[test]
    fn the_streamed_input_gradient_is_the_product() {
        if !cfg!(target_arch = "x86_64") || !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: the streamed kernel needs AVX-512F, which this CPU lacks");
            return;
        }
        // Whole panels and a tail, fewer columns than a panel, rows of W off the block size.
        for (m, k) in [(13, 70), (8, 5), (37, 64), (1, 33), (24, 96)] {
            for n in 1..=MAX_ROWS {
                let (dy, w) = (values(n * m, 1), values(m * k, 2));
                for threads in [1, 2, 3] {
                    let mut dx = vec![f32::NAN; n * k];
                    assert!(grad_input(&dy, &w, &mut dx, (n, m, k), threads));
                    for i in 0..n {
                        for j in 0..k {
                            let exact: f64 = (0..m)
                                .map(|r| dy[i * m + r] as f64 * w[r * k + j] as f64)
                                .sum();
                            let got = dx[i * k + j] as f64;
                            assert!(
                                (got - exact).abs() <= 1e-5 * (m as f64).sqrt(),
                                "n {n} m {m} k {k} threads {threads}: dx[{i}][{j}] {got} against {exact}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_streamed_forward_is_the_product() {
        if !cfg!(target_arch = "x86_64") || !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: the streamed kernel needs AVX-512F, which this CPU lacks");
            return;
        }
        // Whole vectors and a masked tail, fewer inputs than a vector, W's rows off the block
        // of three (one and two left over), more threads than blocks.
        for (m, k) in [(13, 70), (8, 5), (37, 64), (1, 33), (24, 96), (2, 16)] {
            for n in 1..=MAX_ROWS {
                let (x, w) = (values(n * k, 1), values(m * k, 2));
                for threads in [1, 2, 3] {
                    let mut y = vec![f32::NAN; n * m];
                    assert!(forward(&x, &w, &mut y, (n, m, k), threads));
                    for i in 0..n {
                        for r in 0..m {
                            let exact: f64 = (0..k)
                                .map(|j| x[i * k + j] as f64 * w[r * k + j] as f64)
                                .sum();
                            let got = y[i * m + r] as f64;
                            assert!(
                                (got - exact).abs() <= 1e-5 * (k as f64).sqrt(),
                                "n {n} m {m} k {k} threads {threads}: y[{i}][{r}] {got} against {exact}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn other_batches_and_types_are_left_to_gemm() {
        let (n, m, k) = (MAX_ROWS + 1, 4, 40);
        let mut dx = vec![0f32; n * k];
        assert!(!grad_input(
            &values(n * m, 1),
            &values(m * k, 2),
            &mut dx,
            (n, m, k),
            1
        ));
        let mut dx64 = vec![0f64; 2 * k];
        assert!(!grad_input(
            &vec![1f64; 2 * m],
            &vec![1f64; m * k],
            &mut dx64,
            (2, m, k),
            1
        ));
        assert!(dx.iter().chain(&[0f32]).all(|&v| v == 0.0) && dx64.iter().all(|&v| v == 0.0));
        let mut y = vec![0f32; n * m];
        assert!(!forward(
            &values(n * k, 1),
            &values(m * k, 2),
            &mut y,
            (n, m, k),
            1
        ));
        let mut y64 = vec![0f64; 2 * m];
        assert!(!forward(
            &vec![1f64; 2 * k],
            &vec![1f64; m * k],
            &mut y64,
            (2, m, k),
            1
        ));
        assert!(y.iter().all(|&v| v == 0.0) && y64.iter().all(|&v| v == 0.0));
    }
}
