//! Matrix products through the `gemm` crate shared by the convolution kernels: how many threads
//! a product gets, and a product with explicit row strides on given threads.

use num_traits::Float;

/// Threads for one product of m×k by k×n: all of them for large products, one for small ones,
/// whose split costs more than it saves (and whose callers may already run side by side).
pub(super) fn parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    const PARALLEL_MIN_MACS: usize = 1 << 22;
    match crate::threads::current() {
        0 | 1 => gemm::Parallelism::None,
        _ if m * n * k < PARALLEL_MIN_MACS => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    }
}

/// C = A·B (+ C when `acc`), all row-major: A m×k, B k×n, C m×n. `at`/`bt` read A or B
/// transposed from row-major storage of the transposed shape. Threads by [`parallelism`].
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul<T: Float + 'static>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    at: bool,
    b: &[T],
    bt: bool,
    c: &mut [T],
    acc: bool,
) {
    let (b_rs, b_cs) = if bt { (1, k) } else { (n, 1) };
    gemm_strided(
        m,
        n,
        k,
        a,
        at,
        b,
        (b_rs, b_cs),
        c,
        n,
        acc,
        parallelism(m, n, k),
    );
}

/// C = A·B (+ C when `acc`) with explicit row strides of B and C (their columns contiguous).
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul_strided<T: Float + 'static>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    at: bool,
    b: &[T],
    b_rs: usize,
    c: &mut [T],
    c_rs: usize,
    acc: bool,
    par: gemm::Parallelism,
) {
    gemm_strided(m, n, k, a, at, b, (b_rs, 1), c, c_rs, acc, par);
}

/// The one call into gemm: A (m×k, row-major or transposed), B with (row, column) strides, C
/// with a row stride and contiguous columns.
#[allow(clippy::too_many_arguments)]
fn gemm_strided<T: Float + 'static>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    at: bool,
    b: &[T],
    (b_rs, b_cs): (usize, usize),
    c: &mut [T],
    c_rs: usize,
    acc: bool,
    par: gemm::Parallelism,
) {
    let (a_rs, a_cs) = if at { (1, m as isize) } else { (k as isize, 1) };
    // SAFETY: A holds m·k values; B and C are indexed within their strides, as the callers lay
    // them out.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            c_rs as isize,
            acc,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        )
    }
}
