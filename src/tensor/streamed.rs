//! The input gradient of a linear layer for a few rows (a batch of up to [`MAX_ROWS`] images),
//! dx = dy·W, as one pass over W.
//!
//! At such batches the product is bound by reading W (AlexNet's first classifier layer is
//! 4096×9216, 151 MB in f32, for 0.3 G multiply-adds), and gemm reads it badly either way
//! round: with the batch as gemm's rows its 16-row kernels run half empty and walk W down its
//! columns, a whole row of W apart per step; with W's columns as gemm's rows it packs them
//! anew each call. Here blocks of [`W_ROWS`] rows of W are read once, in order, and added into
//! dx held in registers a panel of [`PANEL`] columns at a time. Measured on the 2-vCPU AMD EPYC
//! development machine (f32, one thread, median of 9): batch 8 through 4096×9216 17 ms against
//! gemm's 29–39 ms, 4096×4096 5.8 against 12–19 ms, 1000×4096 1.2 against 3.5–4.3 ms; at
//! batch 16 gemm is as fast, so the kernel stops at 8 rows.
//!
//! Only f32 on CPUs with AVX-512F: the panel's 16 accumulators fill half of AVX-512's 32
//! registers. Elsewhere (f64, other CPUs) [`grad_input`] returns `false` and gemm runs.

/// The most rows of dy the kernel takes: one register block of them.
pub(super) const MAX_ROWS: usize = 8;
/// Rows of W read per pass over dx's panels: dx's panel is loaded and stored once per block.
const W_ROWS: usize = 8;
/// Columns per register block: two AVX-512 vectors per row of dx.
const PANEL: usize = 32;

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
    if n <= MAX_ROWS
        && std::arch::is_x86_feature_detected!("avx512f")
        && let (Some(dy), Some(w), Some(dx)) = (as_f32(dy), as_f32(w), as_f32_mut(dx))
    {
        assert!(dy.len() >= n * m && w.len() >= m * k && dx.len() >= n * k);
        split_columns(dy, w, dx, (n, m, k), threads);
        return true;
    }
    let _ = (dy, w, dx, n, m, k, threads);
    false
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

/// dx's rows, shared by threads that each write their own columns of every row.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Columns(*mut f32);
// SAFETY: the threads write disjoint column ranges (`split_columns`).
#[cfg(target_arch = "x86_64")]
unsafe impl Send for Columns {}
#[cfg(target_arch = "x86_64")]
unsafe impl Sync for Columns {}

/// Runs the kernel over `threads` column ranges of whole panels (each thread reads its share of
/// every row of W).
#[cfg(target_arch = "x86_64")]
fn split_columns(
    dy: &[f32],
    w: &[f32],
    dx: &mut [f32],
    nmk: (usize, usize, usize),
    threads: usize,
) {
    let k = nmk.2;
    let panels = k.div_ceil(PANEL);
    let threads = threads.clamp(1, panels.max(1));
    let out = Columns(dx.as_mut_ptr());
    let range = |t: usize| {
        let edge = |t: usize| (t * panels / threads * PANEL).min(k);
        (edge(t), edge(t + 1))
    };
    // SAFETY: AVX-512F was detected by the caller; dy, w and dx hold n×m, m×k and n×k values
    // (asserted by the caller), and the ranges are disjoint and within k.
    let run = move |cols: (usize, usize)| unsafe {
        match nmk.0 {
            1 => columns::<1>(dy, w, out, nmk, cols),
            2 => columns::<2>(dy, w, out, nmk, cols),
            3 => columns::<3>(dy, w, out, nmk, cols),
            4 => columns::<4>(dy, w, out, nmk, cols),
            5 => columns::<5>(dy, w, out, nmk, cols),
            6 => columns::<6>(dy, w, out, nmk, cols),
            7 => columns::<7>(dy, w, out, nmk, cols),
            8 => columns::<8>(dy, w, out, nmk, cols),
            _ => {}
        }
    };
    if threads == 1 {
        return run((0, k));
    }
    rayon::scope(|s| {
        for t in 1..threads {
            s.spawn(move |_| run(range(t)));
        }
        run(range(0));
    });
}

/// dx[.., j0..j1] = dy · W[.., j0..j1] for N rows (a constant, so that the accumulators are
/// registers and the loops over them unrolled).
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
    }
}
