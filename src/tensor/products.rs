//! Matrix products through the `gemm` crate shared by the convolution kernels: how many threads
//! a product gets, and a product with explicit row strides on given threads.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
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

/// [`parallelism`] as a thread count, for gaxsh's own kernels.
fn threads_for(m: usize, n: usize, k: usize) -> usize {
    match parallelism(m, n, k) {
        gemm::Parallelism::Rayon(t) => t,
        gemm::Parallelism::None => 1,
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
    matmul_on(m, n, k, a, at, b, bt, c, acc, parallelism(m, n, k));
}

/// [`matmul`] on the threads given (`Parallelism::None` inside work already split over threads).
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul_on<T: Float + 'static>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    at: bool,
    b: &[T],
    bt: bool,
    c: &mut [T],
    acc: bool,
    par: gemm::Parallelism,
) {
    let (b_rs, b_cs) = if bt { (1, k) } else { (n, 1) };
    gemm_strided(m, n, k, a, at, b, (b_rs, b_cs), c, n, acc, par);
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

/// C += A·B with A's rows `a_rs` apart (its columns contiguous) and B read transposed from
/// row-major storage of its n×k transpose: a weight gradient's dy·colᵀ over a band of output
/// rows, dy's rows being whole planes apart.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul_add_strided_a_bt<T: Float + 'static>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    a_rs: usize,
    b: &[T],
    c: &mut [T],
    par: gemm::Parallelism,
) {
    assert!(m == 0 || k == 0 || a.len() >= (m - 1) * a_rs + k);
    assert!(b.len() >= n * k && c.len() >= m * n);
    gemm_general(m, n, k, a, (a_rs, 1), b, (1, k), c, n, true, par);
}

/// A (m×k, row-major or transposed), B with (row, column) strides, C with a row stride and
/// contiguous columns.
#[allow(clippy::too_many_arguments)]
fn gemm_strided<T: Float + 'static>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    at: bool,
    b: &[T],
    b_strides: (usize, usize),
    c: &mut [T],
    c_rs: usize,
    acc: bool,
    par: gemm::Parallelism,
) {
    let a_strides = if at { (1, m) } else { (k, 1) };
    gemm_general(m, n, k, a, a_strides, b, b_strides, c, c_rs, acc, par);
}

/// The one call into gemm: A and B with (row, column) strides, C with a row stride and
/// contiguous columns.
#[allow(clippy::too_many_arguments)]
fn gemm_general<T: Float + 'static>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    (a_rs, a_cs): (usize, usize),
    b: &[T],
    (b_rs, b_cs): (usize, usize),
    c: &mut [T],
    c_rs: usize,
    acc: bool,
    par: gemm::Parallelism,
) {
    let (a_rs, a_cs) = (a_rs as isize, a_cs as isize);
    // SAFETY: A, B and C are indexed within their strides, as the callers lay them out.
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

/// y = x·Wᵀ of a (N, K) input and an (M, K) weight (a linear layer), with a backward that
/// computes the weight's gradient only when the weight trains. candle's matmul backward always
/// makes both: attribution on AlexNet at batch 8 spent a sixth of its time on 9216×4096 weight
/// gradients nobody read, plus the full-size buffers to add them into.
struct Linear;

/// Whether W·xᵀ (transposed after) beats x·Wᵀ: gemm packs its right operand on every call, so
/// the smaller of x and W goes there.
fn weight_on_the_left(n: usize, m: usize) -> bool {
    m > n
}

/// The transpose of a row-major r×c matrix.
fn transposed<T: Copy + Default>(a: &[T], r: usize, c: usize) -> Vec<T> {
    let mut t = vec![T::default(); a.len()];
    for i in 0..r {
        for j in 0..c {
            t[j * r + i] = a[i * c + j];
        }
    }
    t
}

fn linear_forward<T: Float + Default + 'static>(
    x: &[T],
    w: &[T],
    n: usize,
    m: usize,
    k: usize,
) -> Vec<T> {
    let mut y = vec![T::zero(); n * m];
    if super::streamed::forward(x, w, &mut y, (n, m, k), threads_for(n, m, k)) {
        return y;
    }
    if weight_on_the_left(n, m) {
        matmul(m, n, k, w, false, x, true, &mut y, false);
        return transposed(&y, m, n);
    }
    matmul(n, m, k, x, false, w, true, &mut y, false);
    y
}

/// dx (N×K) = dy (N×M) · W (M×K): for a few rows one streamed pass over W (`streamed`; at batch
/// 8, 2.2–3.6× faster than the weight-on-the-left call below, which such batches took), else gemm.
fn linear_grad_input<T: Float + Default + 'static>(
    dy: &[T],
    w: &[T],
    n: usize,
    m: usize,
    k: usize,
) -> Vec<T> {
    let mut dx = vec![T::zero(); n * k];
    if super::streamed::grad_input(dy, w, &mut dx, (n, m, k), threads_for(n, k, m)) {
        return dx;
    }
    if weight_on_the_left(n, m) {
        // dxᵀ (K×N) = Wᵀ (K×M) · dyᵀ (M×N).
        matmul(k, n, m, w, true, dy, true, &mut dx, false);
        return transposed(&dx, k, n);
    }
    matmul(n, k, m, dy, false, w, false, &mut dx, false);
    dx
}

/// dW (M×K) = dyᵀ (M×N) · x (N×K).
fn linear_grad_weight<T: Float + Default + 'static>(
    dy: &[T],
    x: &[T],
    n: usize,
    m: usize,
    k: usize,
) -> Vec<T> {
    let mut dw = vec![T::zero(); m * k];
    matmul(m, k, n, dy, true, x, false, &mut dw, false);
    dw
}

fn nmk(x: &Layout, w: &Layout) -> Result<(usize, usize, usize)> {
    match (x.dims(), w.dims()) {
        (&[n, k], &[m, k2]) if k == k2 => Ok((n, m, k)),
        (a, b) => candle_core::bail!("linear: input {a:?} and weight {b:?} do not fit"),
    }
}

impl CustomOp2 for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, m, k) = nmk(l1, l2)?;
        let y = crate::with_float2!(s1, l1, s2, l2, "linear", |x, w| linear_forward(
            x, w, n, m, k
        ));
        Ok((y, Shape::from((n, m))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dy = grad.contiguous()?;
        let dx = match x.track_op() {
            true => Some(dy.apply_op2_no_bwd(w, &LinearGrad::Input)?),
            false => None,
        };
        let dw = match w.track_op() {
            true => Some(dy.apply_op2_no_bwd(x, &LinearGrad::Weight)?),
            false => None,
        };
        Ok((dx, dw))
    }
}

/// The two gradients of [`Linear`], each an op of dy and the other operand.
enum LinearGrad {
    /// dy and W → dx.
    Input,
    /// dy and x → dW.
    Weight,
}

impl CustomOp2 for LinearGrad {
    fn name(&self) -> &'static str {
        "linear-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (&[n, m], other) = (l1.dims(), l2.dims()) else {
            candle_core::bail!("linear backward: gradient {:?}", l1.dims());
        };
        match (self, other) {
            (LinearGrad::Input, &[m2, k]) if m2 == m => {
                let dx = crate::with_float2!(s1, l1, s2, l2, "linear", |dy, w| linear_grad_input(
                    dy, w, n, m, k
                ));
                Ok((dx, Shape::from((n, k))))
            }
            (LinearGrad::Weight, &[n2, k]) if n2 == n => {
                let dw = crate::with_float2!(s1, l1, s2, l2, "linear", |dy, x| linear_grad_weight(
                    dy, x, n, m, k
                ));
                Ok((dw, Shape::from((m, k))))
            }
            _ => candle_core::bail!(
                "linear backward: gradient {:?} and operand {other:?}",
                l1.dims()
            ),
        }
    }
}

/// x·Wᵀ of a float (N, K) input and (M, K) weight on the CPU (elsewhere candle's matmul).
pub fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    if super::portable::enabled(x) || x.rank() != 2 || w.rank() != 2 {
        return x.matmul(&w.t()?);
    }
    x.contiguous()?.apply_op2(&w.contiguous()?, Linear)
}
