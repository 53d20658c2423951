//! Script bindings: shape operations and indexing (`x[i]`, `x[1..3]`, `x.get([i, j])`).

use super::convert::*;
use super::registry::{Category::TensorShape as Cat, FnDoc, Registrar, func};
use crate::tensor::ops::{self, dim_index};
use candle_core::Tensor;
use rhai::{Array, Dynamic, EvalAltResult, Position};
use std::ops::{Range, RangeInclusive};

use super::convert::ScriptTensor as T;

fn tensors(a: &Array, what: &str) -> RResult<Vec<Tensor>> {
    a.iter()
        .map(|d| match d.clone().try_cast::<T>() {
            Some(t) => Ok(t.0),
            None => err(format!(
                "{what}: expected an array of Tensors, got {}",
                d.type_name()
            )),
        })
        .collect()
}

/// A position along a dimension of size `n`, counting from the end when negative.
fn position(i: i64, n: usize) -> RResult<usize> {
    let j = if i < 0 { i + n as i64 } else { i };
    if j < 0 || j >= n as i64 {
        return Err(EvalAltResult::ErrorIndexNotFound(Dynamic::from_int(i), Position::NONE).into());
    }
    Ok(j as usize)
}

/// A 0-d result becomes a float, anything else stays a tensor.
fn value(t: Tensor) -> RResult<Dynamic> {
    if t.rank() == 0 {
        Ok(Dynamic::from_float(ops::to_f64_vec(&t).rh()?[0]))
    } else {
        Ok(Dynamic::from(T(t)))
    }
}

fn slice(t: &Tensor, start: i64, end: i64) -> RResult<T> {
    let n = t.dims().first().copied().unwrap_or(0) as i64;
    let clampi = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) };
    let (s, e) = (clampi(start), clampi(end));
    let len = (e - s).max(0) as usize;
    t.narrow(0, s as usize, len).map(T).rh()
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(Cat, "index", "x[i], x[i][j], x[a..b], x[a..=b]", "Row i (negative counts from the end) as a tensor, or a float for 1-D x; ranges slice dim 0.")
        .example_is("tensor([[1, 2], [3, 4]])[1][0]", "3.0"),
    func(Cat, "get", "x.get([i, j, …]) -> float | Tensor", "The element (or sub-tensor) at a multi-dimensional index.")
        .example_is("tensor([[1, 2], [3, 4]]).get([0, 1])", "2.0"),
    func(Cat, "select", "x.select(dim, i) -> Tensor", "The slice at index i along dim (the dim is removed).")
        .example_is("tensor([[1, 2], [3, 4]]).select(1, 0)", "tensor([1., 3.])"),
    func(Cat, "index_select", "x.index_select(indices, dim?) -> Tensor", "Rows (or entries along dim) picked by an array or tensor of indices.")
        .example_is("tensor([5, 6, 7]).index_select([2, 0])", "tensor([7., 5.])"),
    func(Cat, "reshape", "x.reshape(shape) -> Tensor", "The same values in a new shape; one size may be -1.")
        .example_is("arange(6).reshape([2, -1]).shape", "[2, 3]"),
    func(Cat, "flatten", "x.flatten(start_dim?) -> Tensor", "Merge all dimensions (from start_dim on) into one.")
        .example_is("zeros([2, 3, 4]).flatten(1).shape", "[2, 12]"),
    func(Cat, "transpose", "x.transpose(d0?, d1?) -> Tensor", "Swap two dimensions (the last two by default).")
        .example_is("zeros([2, 3]).transpose().shape", "[3, 2]"),
    func(Cat, "permute", "x.permute(dims) -> Tensor", "Reorder the dimensions.")
        .example_is("zeros([2, 3, 4]).permute([2, 0, 1]).shape", "[4, 2, 3]"),
    func(Cat, "squeeze", "x.squeeze(dim?) -> Tensor", "Drop size-1 dimensions (all, or the one given).")
        .example_is("zeros([1, 3, 1]).squeeze().shape", "[3]"),
    func(Cat, "unsqueeze", "x.unsqueeze(dim) -> Tensor", "Insert a size-1 dimension at dim.")
        .example_is("zeros([3]).unsqueeze(0).shape", "[1, 3]"),
    func(Cat, "narrow", "x.narrow(dim, start, len) -> Tensor", "len entries from start along dim.")
        .example_is("arange(5).narrow(0, 1, 2)", "tensor([1., 2.])"),
    func(Cat, "cat", "cat(tensors, dim?) -> Tensor", "Join tensors along an existing dimension (0 by default).")
        .example_is("cat([ones([2]), zeros([1])])", "tensor([1., 1., 0.])"),
    func(Cat, "stack", "stack(tensors, dim?) -> Tensor", "Join tensors along a new dimension (0 by default).")
        .example_is("stack([ones([2]), zeros([2])]).shape", "[2, 2]"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    register_indexing(r);
    register_shape_ops(r);
}

fn register_indexing(r: &mut Registrar) {
    r.engine
        .register_indexer_get(|t: &mut T, i: i64| -> RResult<Dynamic> {
            if t.0.rank() == 0 {
                return err("cannot index a 0-d tensor");
            }
            let j = position(i, t.0.dim(0).rh()?)?;
            value(t.0.get(j).rh()?)
        });
    r.engine
        .register_indexer_get(|t: &mut T, r: Range<i64>| slice(&t.0, r.start, r.end));
    r.engine
        .register_indexer_get(|t: &mut T, r: RangeInclusive<i64>| {
            slice(&t.0, *r.start(), r.end().saturating_add(1))
        });

    r.engine
        .register_fn("get", |t: &mut T, idx: Array| -> RResult<Dynamic> {
            let idx = ints(&idx, "get")?;
            if idx.len() > t.0.rank() {
                return err(format!(
                    "get: {} indices for a tensor of {} dimensions",
                    idx.len(),
                    t.0.rank()
                ));
            }
            let mut cur = t.0.clone();
            for i in idx {
                let j = position(i, cur.dim(0).rh()?)?;
                cur = cur.get(j).rh()?;
            }
            value(cur)
        });

    r.engine
        .register_fn("select", |t: &mut T, dim: i64, i: i64| -> RResult<T> {
            let d = dim_index(dim, t.0.rank()).rh()?;
            let j = position(i, t.0.dim(d).rh()?)?;
            t.0.narrow(d, j, 1).and_then(|x| x.squeeze(d)).map(T).rh()
        });

    fn index_select(t: &Tensor, idx: &Dynamic, dim: i64) -> RResult<T> {
        let d = dim_index(dim, t.rank()).rh()?;
        let n = t.dim(d).rh()?;
        let list: Vec<u32> = match idx.clone().try_cast::<T>() {
            Some(it) => ops::to_f64_vec(&it.0)
                .rh()?
                .into_iter()
                .map(|v| v as i64)
                .collect::<Vec<_>>(),
            None => match idx.clone().try_cast::<Array>() {
                Some(a) => ints(&a, "index_select")?,
                None => return err("index_select: expected an array or tensor of indices"),
            },
        }
        .into_iter()
        .map(|i| position(i, n).map(|p| p as u32))
        .collect::<RResult<_>>()?;
        let len = list.len();
        let ids = Tensor::from_vec(list, len, t.device()).rh()?;
        t.index_select(&ids, d).map(T).rh()
    }
    r.engine
        .register_fn("index_select", |t: &mut T, idx: Dynamic| {
            index_select(&t.0, &idx, 0)
        });
    r.engine
        .register_fn("index_select", |t: &mut T, idx: Dynamic, dim: i64| {
            index_select(&t.0, &idx, dim)
        });
}

fn register_shape_ops(r: &mut Registrar) {
    r.engine
        .register_fn("reshape", |t: &mut T, s: Array| -> RResult<T> {
            ops::reshape(&t.0, &ints(&s, "reshape")?).map(T).rh()
        });

    r.engine
        .register_fn("flatten", |t: &mut T| t.0.flatten_all().map(T).rh());
    r.engine
        .register_fn("flatten", |t: &mut T, start: i64| -> RResult<T> {
            if t.0.rank() == 0 {
                return t.0.flatten_all().map(T).rh();
            }
            let d = dim_index(start, t.0.rank()).rh()?;
            t.0.flatten_from(d).map(T).rh()
        });

    r.engine
        .register_fn("transpose", |t: &mut T| -> RResult<T> {
            if t.0.rank() < 2 {
                return Ok(t.clone());
            }
            let n = t.0.rank();
            t.0.transpose(n - 2, n - 1).map(T).rh()
        });
    r.engine
        .register_fn("transpose", |t: &mut T, a: i64, b: i64| -> RResult<T> {
            let n = t.0.rank();
            t.0.transpose(dim_index(a, n).rh()?, dim_index(b, n).rh()?)
                .map(T)
                .rh()
        });

    r.engine
        .register_fn("permute", |t: &mut T, dims: Array| -> RResult<T> {
            let n = t.0.rank();
            let d: Vec<usize> = ints(&dims, "permute")?
                .into_iter()
                .map(|d| dim_index(d, n).rh())
                .collect::<RResult<_>>()?;
            let mut sorted = d.clone();
            sorted.sort();
            if sorted != (0..n).collect::<Vec<_>>() {
                return err(format!("permute: {dims:?} is not a permutation of 0..{n}"));
            }
            t.0.permute(d).map(T).rh()
        });

    r.engine.register_fn("squeeze", |t: &mut T| -> RResult<T> {
        let dims: Vec<usize> = t.0.dims().iter().copied().filter(|&d| d != 1).collect();
        t.0.reshape(dims).map(T).rh()
    });
    r.engine
        .register_fn("squeeze", |t: &mut T, d: i64| -> RResult<T> {
            let d = dim_index(d, t.0.rank()).rh()?;
            t.0.squeeze(d).map(T).rh()
        });

    r.engine
        .register_fn("unsqueeze", |t: &mut T, d: i64| -> RResult<T> {
            let n = t.0.rank() as i64 + 1;
            let d = if d < 0 { d + n } else { d };
            if d < 0 || d >= n {
                return err(format!(
                    "unsqueeze: dimension out of range for {} dimensions",
                    n - 1
                ));
            }
            t.0.unsqueeze(d as usize).map(T).rh()
        });

    r.engine.register_fn(
        "narrow",
        |t: &mut T, d: i64, s: i64, l: i64| -> RResult<T> {
            let d = dim_index(d, t.0.rank()).rh()?;
            let n = t.0.dim(d).rh()? as i64;
            // Compared without adding: `s + l` itself can overflow for typed-in sizes.
            if s < 0 || l < 0 || s > n || l > n - s {
                return err(format!(
                    "narrow: start {s}, length {l} is outside 0..{n} along dimension {d}"
                ));
            }
            t.0.narrow(d, s as usize, l as usize).map(T).rh()
        },
    );

    fn cat(a: &Array, dim: i64) -> RResult<T> {
        let ts = tensors(a, "cat")?;
        let Some(first) = ts.first() else {
            return err("cat: no tensors given");
        };
        let d = dim_index(dim, first.rank()).rh()?;
        let dt = ts
            .iter()
            .fold(first.dtype(), |acc, t| ops::promote(acc, t.dtype()));
        joined_fits("cat", &ts, dt)?;
        let ts: Vec<Tensor> = ts
            .iter()
            .map(|t| t.to_dtype(dt))
            .collect::<candle_core::Result<_>>()
            .rh()?;
        Tensor::cat(&ts, d).map(T).rh()
    }
    /// The joined tensor must fit the memory budget (one tensor listed 1,000 times is cheap to
    /// list and 1,000 times its size to join).
    fn joined_fits(what: &str, ts: &[Tensor], dt: candle_core::DType) -> RResult<()> {
        let n = ts
            .iter()
            .try_fold(0usize, |a, t| a.checked_add(t.elem_count()))
            .unwrap_or(usize::MAX);
        crate::limits::check(what, n, dt.size_in_bytes()).rh()
    }
    r.engine.register_fn("cat", |a: Array| cat(&a, 0));
    r.engine.register_fn("cat", |a: Array, d: i64| cat(&a, d));

    fn stack(a: &Array, dim: i64) -> RResult<T> {
        let ts = tensors(a, "stack")?;
        let Some(first) = ts.first() else {
            return err("stack: no tensors given");
        };
        let n = first.rank() as i64 + 1;
        let d = if dim < 0 { dim + n } else { dim };
        if d < 0 || d >= n {
            return err("stack: dimension out of range");
        }
        if let Some(bad) = ts.iter().find(|t| t.dims() != first.dims()) {
            return err(format!(
                "stack: shapes differ: {:?} and {:?}",
                first.dims(),
                bad.dims()
            ));
        }
        let dt = ts
            .iter()
            .fold(first.dtype(), |acc, t| ops::promote(acc, t.dtype()));
        joined_fits("stack", &ts, dt)?;
        let ts: Vec<Tensor> = ts
            .iter()
            .map(|t| t.to_dtype(dt))
            .collect::<candle_core::Result<_>>()
            .rh()?;
        Tensor::stack(&ts, d as usize).map(T).rh()
    }
    r.engine.register_fn("stack", |a: Array| stack(&a, 0));
    r.engine
        .register_fn("stack", |a: Array, d: i64| stack(&a, d));
}
