//! PyTorch's shape and indexing operations as scripts call them: negative positions count from
//! the end, sizes a user typed are checked before anything is allocated, and joins promote
//! dtypes as torch does.

use super::ops::{dim_index, promote};
use crate::error::{Error, Result};
use candle_core::{DType, Tensor};

/// A position along a dimension of size `n`, counting from the end when negative.
pub fn position(i: i64, n: usize) -> Result<usize> {
    let j = if i < 0 { i + n as i64 } else { i };
    if j < 0 || j >= n as i64 {
        return Err(Error::OutOfRange {
            what: "index".into(),
            value: i.to_string(),
            valid: format!("-{n}..{} for a dimension of size {n}", n as i64 - 1),
        });
    }
    Ok(j as usize)
}

/// `x[i, j, …]`: one position per leading dimension.
/// The size of the first dimension (what `len` means for a tensor); a 0-d tensor has none.
pub fn len(t: &Tensor) -> Result<usize> {
    t.dims()
        .first()
        .copied()
        .ok_or_else(|| Error::invalid("len() of a 0-d tensor"))
}

pub fn get(t: &Tensor, idx: &[i64]) -> Result<Tensor> {
    if idx.len() > t.rank() {
        return Err(Error::invalid(format!(
            "get: {} indices for a tensor of {} dimensions",
            idx.len(),
            t.rank()
        )));
    }
    let mut cur = t.clone();
    for &i in idx {
        cur = cur.get(position(i, cur.dim(0)?)?)?;
    }
    Ok(cur)
}

/// `x[start..end]` along the first dimension, clamped as Python slices are.
pub fn slice(t: &Tensor, start: i64, end: i64) -> Result<Tensor> {
    let n = t.dims().first().copied().unwrap_or(0) as i64;
    let clamp = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) };
    let (s, e) = (clamp(start), clamp(end));
    Ok(t.narrow(0, s as usize, (e - s).max(0) as usize)?)
}

/// The slice at position `i` of dimension `dim`, that dimension removed.
pub fn select(t: &Tensor, dim: i64, i: i64) -> Result<Tensor> {
    let d = dim_index(dim, t.rank())?;
    let j = position(i, t.dim(d)?)?;
    Ok(t.narrow(d, j, 1)?.squeeze(d)?)
}

/// The slices at `idx` along `dim`, in that order.
pub fn index_select(t: &Tensor, idx: &[i64], dim: i64) -> Result<Tensor> {
    let d = dim_index(dim, t.rank())?;
    let n = t.dim(d)?;
    let list = idx
        .iter()
        .map(|&i| position(i, n).map(|p| p as u32))
        .collect::<Result<Vec<u32>>>()?;
    let ids = Tensor::from_vec(list, idx.len(), t.device())?;
    Ok(t.index_select(&ids, d)?)
}

/// Everything from dimension `start` on flattened into one (a 0-d tensor becomes 1-d).
pub fn flatten_from(t: &Tensor, start: i64) -> Result<Tensor> {
    if t.rank() == 0 {
        return Ok(t.flatten_all()?);
    }
    Ok(t.flatten_from(dim_index(start, t.rank())?)?)
}

/// The last two dimensions swapped (a tensor of fewer is returned as it is).
pub fn transpose_last(t: &Tensor) -> Result<Tensor> {
    let n = t.rank();
    if n < 2 {
        return Ok(t.clone());
    }
    Ok(t.transpose(n - 2, n - 1)?)
}

pub fn transpose(t: &Tensor, a: i64, b: i64) -> Result<Tensor> {
    let n = t.rank();
    Ok(t.transpose(dim_index(a, n)?, dim_index(b, n)?)?)
}

/// The dimensions in the order given (each once).
pub fn permute(t: &Tensor, dims: &[i64]) -> Result<Tensor> {
    let n = t.rank();
    let d = dims
        .iter()
        .map(|&d| dim_index(d, n))
        .collect::<Result<Vec<usize>>>()?;
    let mut sorted = d.clone();
    sorted.sort_unstable();
    if sorted != (0..n).collect::<Vec<_>>() {
        return Err(Error::invalid(format!(
            "permute: {dims:?} is not a permutation of 0..{n}"
        )));
    }
    Ok(t.permute(d)?)
}

/// Every dimension of size 1 removed.
pub fn squeeze_all(t: &Tensor) -> Result<Tensor> {
    let dims: Vec<usize> = t.dims().iter().copied().filter(|&d| d != 1).collect();
    Ok(t.reshape(dims)?)
}

/// A dimension of size 1 inserted at `dim` (which may be one past the last).
pub fn unsqueeze(t: &Tensor, dim: i64) -> Result<Tensor> {
    Ok(t.unsqueeze(dim_index(dim, t.rank() + 1)?)?)
}

/// `len` positions from `start` along `dim`.
pub fn narrow(t: &Tensor, dim: i64, start: i64, len: i64) -> Result<Tensor> {
    let d = dim_index(dim, t.rank())?;
    let n = t.dim(d)? as i64;
    // Compared without adding: `start + len` itself can overflow for typed-in sizes.
    if start < 0 || len < 0 || start > n || len > n - start {
        return Err(Error::invalid(format!(
            "narrow: start {start}, length {len} is outside 0..{n} along dimension {d}"
        )));
    }
    Ok(t.narrow(d, start as usize, len as usize)?)
}

/// Tensors joined along an existing dimension.
pub fn cat(ts: &[Tensor], dim: i64) -> Result<Tensor> {
    let (ts, first) = joinable("cat", ts)?;
    Ok(Tensor::cat(&ts, dim_index(dim, first.len())?)?)
}

/// Tensors of one shape joined along a new dimension.
pub fn stack(ts: &[Tensor], dim: i64) -> Result<Tensor> {
    let (ts, first) = joinable("stack", ts)?;
    if let Some(bad) = ts.iter().find(|t| t.dims() != first) {
        return Err(Error::ShapeMismatch {
            op: "stack".into(),
            lhs: first,
            rhs: bad.dims().to_vec(),
        });
    }
    Ok(Tensor::stack(&ts, dim_index(dim, first.len() + 1)?)?)
}

/// The tensors in their common dtype, and the first one's shape; the joined tensor must fit the
/// memory budget (one tensor listed 1,000 times is cheap to list and 1,000 times its size to
/// join).
fn joinable(what: &str, ts: &[Tensor]) -> Result<(Vec<Tensor>, Vec<usize>)> {
    let Some(first) = ts.first() else {
        return Err(Error::invalid(format!("{what}: no tensors given")));
    };
    let dt: DType = ts
        .iter()
        .fold(first.dtype(), |acc, t| promote(acc, t.dtype()));
    let n = ts
        .iter()
        .try_fold(0usize, |a, t| a.checked_add(t.elem_count()))
        .unwrap_or(usize::MAX);
    crate::limits::check(what, n, dt.size_in_bytes())?;
    let ts = ts
        .iter()
        .map(|t| t.to_dtype(dt))
        .collect::<candle_core::Result<Vec<_>>>()?;
    Ok((ts, first.dims().to_vec()))
}
