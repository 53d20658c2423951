//! Script bindings: shape operations and indexing (`x[i]`, `x[1..3]`, `x.get([i, j])`); the
//! operations themselves are `tensor::shape`'s.

use super::convert::*;
use super::registry::{Category::TensorShape as Cat, FnDoc, Registrar, func};
use crate::tensor::{ops, shape};
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

/// A 0-d result becomes a float, anything else stays a tensor.
fn value(t: Tensor) -> RResult<Dynamic> {
    if t.rank() == 0 {
        Ok(Dynamic::from_float(ops::to_f64_vec(&t).rh()?[0]))
    } else {
        Ok(Dynamic::from(T(t)))
    }
}

/// Indices from an array of ints or a tensor.
fn index_list(idx: &Dynamic, what: &str) -> RResult<Vec<i64>> {
    if let Some(t) = idx.clone().try_cast::<T>() {
        return Ok(ops::to_f64_vec(&t.0)
            .rh()?
            .into_iter()
            .map(|v| v as i64)
            .collect());
    }
    match idx.clone().try_cast::<Array>() {
        Some(a) => ints(&a, what),
        None => err(format!("{what}: expected an array or tensor of indices")),
    }
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
    // `x[i]` past the end is rhai's own index error, as for arrays.
    r.register_indexer_get(|t: &mut T, i: i64| -> RResult<Dynamic> {
        if t.0.rank() == 0 {
            return err("cannot index a 0-d tensor");
        }
        let n = t.0.dim(0).rh()?;
        let j = shape::position(i, n).map_err(|_| {
            Box::new(EvalAltResult::ErrorIndexNotFound(
                Dynamic::from_int(i),
                Position::NONE,
            ))
        })?;
        value(t.0.get(j).rh()?)
    });
    r.register_indexer_get(|t: &mut T, r: Range<i64>| {
        shape::slice(&t.0, r.start, r.end).map(T).rh()
    });
    r.register_indexer_get(|t: &mut T, r: RangeInclusive<i64>| {
        shape::slice(&t.0, *r.start(), r.end().saturating_add(1))
            .map(T)
            .rh()
    });
    r.register_fn("get", |t: &mut T, idx: Array| -> RResult<Dynamic> {
        value(shape::get(&t.0, &ints(&idx, "get")?).rh()?)
    });
    r.register_fn("select", |t: &mut T, d: i64, i: i64| {
        shape::select(&t.0, d, i).map(T).rh()
    });
    r.register_fn("index_select", |t: &mut T, idx: Dynamic| {
        shape::index_select(&t.0, &index_list(&idx, "index_select")?, 0)
            .map(T)
            .rh()
    });
    r.register_fn("index_select", |t: &mut T, idx: Dynamic, d: i64| {
        shape::index_select(&t.0, &index_list(&idx, "index_select")?, d)
            .map(T)
            .rh()
    });

    r.register_fn("reshape", |t: &mut T, s: Array| {
        ops::reshape(&t.0, &ints(&s, "reshape")?).map(T).rh()
    });
    r.register_fn("flatten", |t: &mut T| t.0.flatten_all().map(T).rh());
    r.register_fn("flatten", |t: &mut T, d: i64| {
        shape::flatten_from(&t.0, d).map(T).rh()
    });
    r.register_fn("transpose", |t: &mut T| {
        shape::transpose_last(&t.0).map(T).rh()
    });
    r.register_fn("transpose", |t: &mut T, a: i64, b: i64| {
        shape::transpose(&t.0, a, b).map(T).rh()
    });
    r.register_fn("permute", |t: &mut T, dims: Array| {
        shape::permute(&t.0, &ints(&dims, "permute")?).map(T).rh()
    });
    r.register_fn("squeeze", |t: &mut T| shape::squeeze_all(&t.0).map(T).rh());
    r.register_fn("squeeze", |t: &mut T, d: i64| -> RResult<T> {
        t.0.squeeze(ops::dim_index(d, t.0.rank()).rh()?).map(T).rh()
    });
    r.register_fn("unsqueeze", |t: &mut T, d: i64| {
        shape::unsqueeze(&t.0, d).map(T).rh()
    });
    r.register_fn("narrow", |t: &mut T, d: i64, s: i64, l: i64| {
        shape::narrow(&t.0, d, s, l).map(T).rh()
    });
    r.register_fn("cat", |a: Array| {
        shape::cat(&tensors(&a, "cat")?, 0).map(T).rh()
    });
    r.register_fn("cat", |a: Array, d: i64| {
        shape::cat(&tensors(&a, "cat")?, d).map(T).rh()
    });
    r.register_fn("stack", |a: Array| {
        shape::stack(&tensors(&a, "stack")?, 0).map(T).rh()
    });
    r.register_fn("stack", |a: Array, d: i64| {
        shape::stack(&tensors(&a, "stack")?, d).map(T).rh()
    });
}
