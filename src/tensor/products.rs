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
    let (a_rs, a_cs) = if at { (1, m as isize) } else { (k as isize, 1) };
    // SAFETY: A holds m·k values; B and C are indexed within their row strides.
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
            1,
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
