//! Matrix products through the `gemm` crate shared by the convolution kernels: how many threads
//! a product gets, and a plain row-major product on given threads.

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

/// C = A·B, all row-major (A m×k, B k×n, C m×n), on the given threads.
pub(super) fn matmul_with<T: Float + 'static>(
    par: gemm::Parallelism,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the slices hold m·k, k·n and m·n elements, row-major (checked above).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        )
    }
}
