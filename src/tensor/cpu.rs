//! Access to the CPU buffers behind candle tensors, for the custom ops gaxsh writes itself.
//!
//! Custom ops run on contiguous f32 or f64 data; [`with_float!`] dispatches one generic kernel
//! over both.

use candle_core::{CpuStorage, Layout, Result, Shape};

/// The contiguous float slice of a storage and layout.
pub enum Floats<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

pub fn floats<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<Floats<'a>> {
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("{op}: input must be contiguous");
    };
    match s {
        CpuStorage::F32(v) => Ok(Floats::F32(&v[a..b])),
        CpuStorage::F64(v) => Ok(Floats::F64(&v[a..b])),
        _ => candle_core::bail!("{op}: needs an f32 or f64 tensor"),
    }
}

/// A kernel's output as a storage.
pub trait IntoStorage {
    fn into_storage(self) -> CpuStorage;
}

impl IntoStorage for Vec<f32> {
    fn into_storage(self) -> CpuStorage {
        CpuStorage::F32(self)
    }
}

impl IntoStorage for Vec<f64> {
    fn into_storage(self) -> CpuStorage {
        CpuStorage::F64(self)
    }
}

/// Run `$body` with `$v` bound to a `&[f32]` or `&[f64]` slice of the storage (the same generic
/// code compiled twice); the body returns a `Vec` of the same float type.
#[macro_export]
macro_rules! with_float {
    ($s:expr, $l:expr, $op:expr, |$v:ident| $body:expr) => {{
        use $crate::tensor::cpu::{Floats, IntoStorage};
        match $crate::tensor::cpu::floats($s, $l, $op)? {
            Floats::F32($v) => $body.into_storage(),
            Floats::F64($v) => $body.into_storage(),
        }
    }};
}

/// Two storages of the same float type.
#[macro_export]
macro_rules! with_float2 {
    ($s1:expr, $l1:expr, $s2:expr, $l2:expr, $op:expr, |$a:ident, $b:ident| $body:expr) => {{
        use $crate::tensor::cpu::{Floats, IntoStorage};
        match (
            $crate::tensor::cpu::floats($s1, $l1, $op)?,
            $crate::tensor::cpu::floats($s2, $l2, $op)?,
        ) {
            (Floats::F32($a), Floats::F32($b)) => $body.into_storage(),
            (Floats::F64($a), Floats::F64($b)) => $body.into_storage(),
            _ => candle_core::bail!("{}: operands have different dtypes", $op),
        }
    }};
}

/// Three storages of the same float type.
#[macro_export]
macro_rules! with_float3 {
    ($s1:expr, $l1:expr, $s2:expr, $l2:expr, $s3:expr, $l3:expr, $op:expr, |$a:ident, $b:ident, $c:ident| $body:expr) => {{
        use $crate::tensor::cpu::{Floats, IntoStorage};
        match (
            $crate::tensor::cpu::floats($s1, $l1, $op)?,
            $crate::tensor::cpu::floats($s2, $l2, $op)?,
            $crate::tensor::cpu::floats($s3, $l3, $op)?,
        ) {
            (Floats::F32($a), Floats::F32($b), Floats::F32($c)) => $body.into_storage(),
            (Floats::F64($a), Floats::F64($b), Floats::F64($c)) => $body.into_storage(),
            _ => candle_core::bail!("{}: operands have different dtypes", $op),
        }
    }};
}

/// Dimensions of a layout as a fixed array, or an error naming the op.
pub fn dims4(l: &Layout, op: &str) -> Result<[usize; 4]> {
    match l.dims() {
        &[a, b, c, d] => Ok([a, b, c, d]),
        other => candle_core::bail!("{op}: expected a 4-d (N, C, H, W) tensor, got {other:?}"),
    }
}

pub fn shape(dims: &[usize]) -> Shape {
    Shape::from(dims.to_vec())
}

/// Outputs smaller than this are filled on one thread: waking a second costs more than it saves.
const PARALLEL_MIN_LEN: usize = 1 << 16;

/// The pieces [`fill_par`] splits `len` values into: `(offset, length)`, each starting at a
/// multiple of `align`, one per compute thread; a single piece when one thread, a small output or
/// an uneven `align` makes splitting not worth it.
fn pieces(len: usize, align: usize) -> Vec<(usize, usize)> {
    let threads = crate::threads::current();
    let align = align.max(1);
    let units = len / align;
    if threads < 2 || len < PARALLEL_MIN_LEN || units < 2 || !len.is_multiple_of(align) {
        return vec![(0, len)];
    }
    let piece = units.div_ceil(threads) * align;
    (0..len)
        .step_by(piece)
        .map(|at| (at, piece.min(len - at)))
        .collect()
}

/// The length of the pieces [`fill_par`] would split `len` values into (unaligned): `len` itself
/// where it would not split them. For kernels that walk several buffers in step.
pub fn piece_len(len: usize) -> usize {
    pieces(len, 1)[0].1.max(1)
}

/// Fill `out` by `fill(offset, piece)` over pieces that start at multiples of `align` (a plane,
/// a row: whatever unit the kernel needs whole), one piece per compute thread when there are
/// several and the output is large; else the whole of `out` at once. Elementwise kernels (batch
/// norm's affine, ReLU, pooling) thus use every thread without each writing its own split.
pub fn fill_par<T: Send>(out: &mut [T], align: usize, fill: impl Fn(usize, &mut [T]) + Sync) {
    use rayon::prelude::*;
    let pieces = pieces(out.len(), align);
    if pieces.len() == 1 {
        fill(0, out);
        return;
    }
    out.par_chunks_mut(pieces[0].1)
        .zip(pieces)
        .for_each(|(chunk, (at, _))| fill(at, chunk));
}

/// Values [`filled_par`] zeroes and fills at a time (rounded up to whole `align` units): 64 KB
/// of f32, so that the zeros are still in cache when `fill` overwrites them. Zeroing a thread's
/// whole piece first sent it to memory as zeros and back: batch norm's affine over 8×64×112²
/// took 2.8 ms that way and 2.0 ms in runs (Xeon, one thread, fastest of 15; 1.6 → 1.2 ms on
/// two threads).
const ZEROED_RUN: usize = 1 << 14;

/// A vector of `len` values that `fill` writes whole (see [`fill_par`]), `fill` called on runs
/// of whole `align` units. Each run is set to `T::default()` by the thread that then fills it,
/// just before: zeroing the whole vector first (as `vec![0; len]` does for reused memory) was a
/// one-thread memset beside every parallel elementwise kernel.
pub fn filled_par<T: Copy + Send + Sync + Default>(
    len: usize,
    align: usize,
    fill: impl Fn(usize, &mut [T]) + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    let mut out: Vec<T> = Vec::with_capacity(len);
    let base = SharedOut(out.as_mut_ptr());
    let run = ZEROED_RUN.div_ceil(align.max(1)) * align.max(1);
    let fill_piece = |&(at, n): &(usize, usize)| {
        for start in (at..at + n).step_by(run) {
            let run_len = run.min(at + n - start);
            // SAFETY: the pieces, and the runs within each, are disjoint and lie within the
            // capacity; each run is initialised before it is seen as a slice.
            let piece = unsafe {
                let p = base.get().add(start);
                for i in 0..run_len {
                    p.add(i).write(T::default());
                }
                std::slice::from_raw_parts_mut(p, run_len)
            };
            fill(start, piece);
        }
    };
    let pieces = pieces(len, align);
    if pieces.len() == 1 {
        pieces.iter().for_each(fill_piece);
    } else {
        pieces.par_iter().for_each(fill_piece);
    }
    // SAFETY: the pieces cover 0..len, and every one was initialised above.
    unsafe { out.set_len(len) };
    out
}

/// A buffer shared by threads that write disjoint elements of it through the pointer (each
/// user says why its writes are disjoint: `filled_par`, the Winograd kernels).
#[derive(Clone, Copy)]
pub(super) struct SharedOut<T>(pub(super) *mut T);
// SAFETY: only disjoint elements are written through it, by the users' own arguments.
unsafe impl<T> Send for SharedOut<T> {}
unsafe impl<T> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper, not the field).
    pub(super) fn get(self) -> *mut T {
        self.0
    }
}
