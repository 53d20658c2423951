//! The values that flow along a graph's edges: float tensors (candle, in the model's dtype, on
//! its device, part of the autograd graph) and small integer tensors kept on the host (shapes,
//! indices, axes: the plumbing exporters emit around `Reshape`, `Gather`, `Slice`). Integer
//! arithmetic never touches the device and never needs a gradient.

use crate::error::{Error, Result};
use candle_core::Tensor;

/// One edge's value.
#[derive(Clone, Debug)]
pub enum Value {
    F(Tensor),
    I(Ints),
}

impl Value {
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Value::F(t) => t.dims().to_vec(),
            Value::I(i) => i.dims.clone(),
        }
    }
}

/// The most elements an integer tensor may hold: shape plumbing is small, so a larger one is a
/// malformed graph (and must not exhaust memory).
pub const MAX_INTS: usize = 1 << 24;

/// A host tensor of i64 (bools are 0/1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ints {
    pub dims: Vec<usize>,
    pub data: Vec<i64>,
}

/// The element count of `dims`, checked against overflow and [`MAX_INTS`].
pub fn count(dims: &[usize], what: &str) -> Result<usize> {
    let n = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_INTS)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{what}: an integer tensor of shape {dims:?} is too large for shape arithmetic"
            ))
        })?;
    Ok(n)
}

/// Row-major strides of `dims`.
pub fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// The shape two operands broadcast to (NumPy's rule, aligned at the last axis).
pub fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

impl Ints {
    pub fn new(dims: Vec<usize>, data: Vec<i64>) -> Result<Ints> {
        if count(&dims, "integer tensor")? != data.len() {
            return Err(Error::invalid(format!(
                "integer tensor: {} values for shape {dims:?}",
                data.len()
            )));
        }
        Ok(Ints { dims, data })
    }

    pub fn scalar(v: i64) -> Ints {
        Ints {
            dims: vec![],
            data: vec![v],
        }
    }

    pub fn vector(v: Vec<i64>) -> Ints {
        Ints {
            dims: vec![v.len()],
            data: v,
        }
    }

    /// The values as one list (any shape), e.g. a `Reshape` target or `Slice` starts.
    pub fn to_vec(&self) -> Vec<i64> {
        self.data.clone()
    }

    /// The element at a flat index of a broadcast operand.
    fn at_broadcast(&self, out_index: &[usize], out_rank: usize) -> i64 {
        let offset = out_rank - self.dims.len();
        let st = strides(&self.dims);
        let mut k = 0;
        for (i, &d) in self.dims.iter().enumerate() {
            let idx = if d == 1 { 0 } else { out_index[i + offset] };
            k += idx * st[i];
        }
        self.data[k]
    }

    /// Elementwise `f(a, b)` with broadcasting.
    pub fn zip(
        &self,
        other: &Ints,
        what: &str,
        f: impl Fn(i64, i64) -> Result<i64>,
    ) -> Result<Ints> {
        let dims = broadcast_dims(&self.dims, &other.dims).ok_or_else(|| Error::ShapeMismatch {
            op: what.to_string(),
            lhs: self.dims.clone(),
            rhs: other.dims.clone(),
        })?;
        let n = count(&dims, what)?;
        let st = strides(&dims);
        let mut data = Vec::with_capacity(n);
        let mut idx = vec![0; dims.len()];
        for k in 0..n {
            let mut r = k;
            for (i, s) in st.iter().enumerate() {
                idx[i] = r / s;
                r %= s;
            }
            data.push(f(
                self.at_broadcast(&idx, dims.len()),
                other.at_broadcast(&idx, dims.len()),
            )?);
        }
        Ok(Ints { dims, data })
    }

    pub fn map(&self, f: impl Fn(i64) -> i64) -> Ints {
        Ints {
            dims: self.dims.clone(),
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }

    /// Permute the axes.
    pub fn transpose(&self, perm: &[usize]) -> Result<Ints> {
        let dims: Vec<usize> = perm.iter().map(|&p| self.dims[p]).collect();
        let (src, dst) = (strides(&self.dims), strides(&dims));
        let mut data = vec![0; self.data.len()];
        for (k, v) in data.iter_mut().enumerate() {
            let mut r = k;
            let mut from = 0;
            for (i, s) in dst.iter().enumerate() {
                from += (r / s) * src[perm[i]];
                r %= s;
            }
            *v = self.data[from];
        }
        Ok(Ints { dims, data })
    }

    /// `np.take(self, indices, axis)` with negative indices counted from the end.
    pub fn gather(&self, indices: &Ints, axis: usize) -> Result<Ints> {
        let d = self.dims[axis];
        let outer: usize = self.dims[..axis].iter().product();
        let inner: usize = self.dims[axis + 1..].iter().product();
        let mut dims = self.dims[..axis].to_vec();
        dims.extend(&indices.dims);
        dims.extend(&self.dims[axis + 1..]);
        count(&dims, "Gather")?;
        let mut data = Vec::new();
        for o in 0..outer {
            for &i in &indices.data {
                let i = wrap_index(i, d, "Gather")?;
                let base = (o * d + i) * inner;
                data.extend_from_slice(&self.data[base..base + inner]);
            }
        }
        Ok(Ints { dims, data })
    }

    /// `Concat` along `axis`.
    pub fn concat(parts: &[&Ints], axis: usize) -> Result<Ints> {
        let first = parts[0];
        let mut dims = first.dims.clone();
        dims[axis] = 0;
        for p in parts {
            if p.dims.len() != first.dims.len()
                || p.dims
                    .iter()
                    .zip(&first.dims)
                    .enumerate()
                    .any(|(i, (a, b))| i != axis && a != b)
            {
                return Err(Error::ShapeMismatch {
                    op: "concat".into(),
                    lhs: first.dims.clone(),
                    rhs: p.dims.clone(),
                });
            }
            dims[axis] += p.dims[axis];
        }
        count(&dims, "Concat")?;
        let outer: usize = first.dims[..axis].iter().product();
        let mut data = Vec::new();
        for o in 0..outer {
            for p in parts {
                let block: usize = p.dims[axis..].iter().product();
                data.extend_from_slice(&p.data[o * block..(o + 1) * block]);
            }
        }
        Ok(Ints { dims, data })
    }

    /// Elements `starts[i]..ends[i]` by `steps[i]` along each listed axis (already clamped).
    pub fn slice(&self, ranges: &[(usize, Vec<usize>)]) -> Result<Ints> {
        let mut cur = self.clone();
        for (axis, keep) in ranges {
            let idx = Ints::vector(keep.iter().map(|&i| i as i64).collect());
            cur = cur.gather(&idx, *axis)?;
        }
        Ok(cur)
    }
}

/// An index in `[-d, d)` as a position in `[0, d)`.
pub fn wrap_index(i: i64, d: usize, what: &str) -> Result<usize> {
    let di = d as i64;
    let j = if i < 0 { i + di } else { i };
    if j < 0 || j >= di {
        return Err(Error::OutOfRange {
            what: format!("{what}: index"),
            value: i.to_string(),
            valid: format!("-{d}..{} for a dimension of size {d}", di - 1),
        });
    }
    Ok(j as usize)
}

/// An axis in `[-rank, rank)` as a position in `[0, rank)`.
pub fn wrap_axis(axis: i64, rank: usize, what: &str) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(Error::OutOfRange {
            what: format!("{what}: axis"),
            value: axis.to_string(),
            valid: format!("-{rank}..{} for a tensor of rank {rank}", r - 1),
        });
    }
    Ok(a as usize)
}

/// The positions `Slice` keeps along one axis of size `d` (ONNX's clamping rules).
pub fn slice_positions(start: i64, end: i64, step: i64, d: usize) -> Result<Vec<usize>> {
    if step == 0 {
        return Err(Error::invalid("Slice: a step of 0"));
    }
    let di = d as i64;
    let clamp = |v: i64, lo: i64, hi: i64| v.max(lo).min(hi);
    let norm = |v: i64| if v < 0 { v.saturating_add(di) } else { v };
    let (s, e) = if step > 0 {
        (clamp(norm(start), 0, di), clamp(norm(end), 0, di))
    } else {
        (clamp(norm(start), 0, di - 1), clamp(norm(end), -1, di - 1))
    };
    let mut out = Vec::new();
    let mut i = s;
    while (step > 0 && i < e) || (step < 0 && i > e) {
        out.push(i as usize);
        i += step;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_dims(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast_dims(&[], &[5]), Some(vec![5]));
        assert_eq!(broadcast_dims(&[2, 3], &[3, 2]), None);
        let a = Ints::new(vec![2, 1], vec![10, 20]).unwrap();
        let b = Ints::vector(vec![1, 2, 3]);
        let c = a.zip(&b, "add", |x, y| Ok(x + y)).unwrap();
        assert_eq!(c.dims, vec![2, 3]);
        assert_eq!(c.data, vec![11, 12, 13, 21, 22, 23]);
    }

    #[test]
    fn gather_transpose_concat_and_slice() {
        let t = Ints::new(vec![2, 3], vec![0, 1, 2, 3, 4, 5]).unwrap();
        assert_eq!(t.gather(&Ints::scalar(-1), 1).unwrap().data, vec![2, 5]);
        assert_eq!(t.transpose(&[1, 0]).unwrap().data, vec![0, 3, 1, 4, 2, 5]);
        let c = Ints::concat(&[&t, &t], 0).unwrap();
        assert_eq!(c.dims, vec![4, 3]);
        assert_eq!(
            slice_positions(0, i64::MAX, 1, 4).unwrap(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(slice_positions(-1, i64::MIN, -1, 3).unwrap(), vec![2, 1, 0]);
        assert_eq!(slice_positions(1, -1, 2, 6).unwrap(), vec![1, 3]);
        assert!(t.gather(&Ints::scalar(3), 1).is_err());
    }
}
