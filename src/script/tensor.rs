//! Script bindings: the `Tensor` type, its constructors, conversions and operators.

use super::convert::*;
use super::registry::{Category::Tensor as Cat, FnDoc, Registrar, func, prop};
use crate::tensor::format::{dtype_str, format_tensor};
use crate::tensor::ops::{self, BinOp, CmpOp, Fill};
use crate::tensor::random;
use candle_core::{DType, Tensor};
use rhai::{Dynamic, ImmutableString, Map};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// The dtype new tensors get unless told otherwise (`set_default_dtype`).
static DEFAULT_F64: AtomicBool = AtomicBool::new(false);

pub fn default_dtype() -> DType {
    if DEFAULT_F64.load(Ordering::Relaxed) {
        DType::F64
    } else {
        DType::F32
    }
}

use super::convert::ScriptTensor as T;

fn scalar(v: f64, like: &Tensor) -> RResult<Tensor> {
    ops::scalar_like(v, like).rh()
}

fn bin(op: BinOp, a: &Tensor, b: &Tensor) -> RResult<T> {
    ops::binary(op, a, b).map(T).rh()
}

fn cmp(op: CmpOp, a: &Tensor, b: &Tensor) -> RResult<T> {
    ops::compare(op, a, b).map(T).rh()
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(Cat, "tensor", "tensor(values, dtype?) -> Tensor", "A tensor from a number or a nested array of numbers; dtype \"f32\" (default) or \"f64\".")
        .example_is("tensor([[1, 2], [3, 4]])", "tensor([[1., 2.],\n        [3., 4.]])"),
    func(Cat, "zeros", "zeros(shape, dtype?) -> Tensor", "A tensor of zeros.")
        .example_is("zeros([2, 3]).shape", "[2, 3]"),
    func(Cat, "ones", "ones(shape, dtype?) -> Tensor", "A tensor of ones.")
        .example_is("ones([2]).sum().item()", "2.0"),
    func(Cat, "full", "full(shape, value, dtype?) -> Tensor", "A tensor filled with one value.")
        .example_is("full([2], 7)", "tensor([7., 7.])"),
    func(Cat, "rand", "rand(shape, dtype?) -> Tensor", "Uniform [0, 1) draws from the seeded generator (see seed).")
        .example_is("rand([3]).shape", "[3]"),
    func(Cat, "randn", "randn(shape, dtype?) -> Tensor", "Standard normal draws from the seeded generator (see seed).")
        .example_is("randn([2, 3]).shape", "[2, 3]"),
    func(Cat, "arange", "arange(end) | arange(start, end, step?) -> Tensor", "Evenly stepped values in [start, end), as torch.arange.")
        .example_is("arange(1, 7, 2)", "tensor([1., 3., 5.])"),
    func(Cat, "linspace", "linspace(start, end, n) -> Tensor", "n evenly spaced values from start to end inclusive.")
        .example_is("linspace(0, 1, 5)", "tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])"),
    func(Cat, "eye", "eye(n, dtype?) -> Tensor", "The n×n identity matrix.")
        .example_is("eye(2)", "tensor([[1., 0.],\n        [0., 1.]])"),
    func(Cat, "zeros_like", "zeros_like(x) -> Tensor", "Zeros with x's shape and dtype.")
        .example_is("zeros_like(ones([2])) ", "tensor([0., 0.])"),
    func(Cat, "ones_like", "ones_like(x) -> Tensor", "Ones with x's shape and dtype.")
        .example_is("ones_like(zeros([2]))", "tensor([1., 1.])"),
    func(Cat, "full_like", "full_like(x, value) -> Tensor", "value with x's shape and dtype.")
        .example_is("full_like(zeros([2]), 3)", "tensor([3., 3.])"),
    func(Cat, "rand_like", "rand_like(x) -> Tensor", "Uniform draws with x's shape and dtype.")
        .example_is("rand_like(zeros([2, 2])).shape", "[2, 2]"),
    func(Cat, "randn_like", "randn_like(x) -> Tensor", "Normal draws with x's shape and dtype.")
        .example_is("randn_like(zeros([4])).shape", "[4]"),
    func(Cat, "seed", "seed(n)", "Reset the generator behind every random draw (tensors, weight init, shuffles, noise).")
        .example("seed(0); randn([2])"),
    func(Cat, "set_default_dtype", "set_default_dtype(dtype)", "The dtype of new tensors: \"f32\" (the default) or \"f64\".")
        .example_is("set_default_dtype(\"f32\"); zeros([1]).dtype", "f32"),
    prop(Cat, "shape", "x.shape -> array", "The size of each dimension.")
        .example_is("zeros([2, 3]).shape", "[2, 3]"),
    prop(Cat, "ndim", "x.ndim -> int", "The number of dimensions.")
        .example_is("zeros([2, 3]).ndim", "2"),
    prop(Cat, "dtype", "x.dtype -> string", "The element type of a tensor (\"f32\", \"f64\", \"bool\" for masks, \"u32\", \"i64\") or of a model's weights.")
        .example_is("tensor([1], \"f64\").dtype", "f64"),
    func(Cat, "len", "x.len() -> int", "The size of a tensor's first dimension; the number of samples of a dataset.")
        .example_is("zeros([4, 2]).len()", "4"),
    func(Cat, "numel", "x.numel() -> int", "The number of elements.")
        .example_is("zeros([4, 2]).numel()", "8"),
    func(Cat, "to_array", "x.to_array() -> array", "The values as (nested) arrays of floats.")
        .example_is("tensor([[1, 2]]).to_array()", "[[1.0, 2.0]]"),
    func(Cat, "item", "x.item() -> float", "The value of a one-element tensor.")
        .example_is("tensor([2.5]).item()", "2.5"),
    func(Cat, "to_float", "x.to_float() -> float", "The value of a one-element tensor (same as item).")
        .example_is("tensor(1.5).to_float()", "1.5"),
    func(Cat, "to_dtype", "x.to_dtype(dtype) -> Tensor | Model", "Convert a tensor, or a model's weights, to \"f32\" or \"f64\".")
        .example_is("zeros([1]).to_dtype(\"f64\").dtype", "f64"),
    func(Cat, "to_device", "x.to_device(name) -> Tensor | Model", "A copy of a tensor, or of a model with its weights, on another device (\"cpu\", \"cuda\", \"cuda:N\").")
        .example_is("zeros([2]).to_device(\"cpu\").device", "cpu"),
    func(Cat, "save_safetensors", "save_safetensors(map, path)", "Write a map of named tensors to a .safetensors file (written whole or not at all).")
        .example("save_safetensors(#{w: ones([2])}, temp_path(\"w.safetensors\"))"),
    func(Cat, "load_safetensors", "load_safetensors(path) -> map", "Read every tensor of a .safetensors file into a map by name.")
        .example("let p = temp_path(\"w.safetensors\"); save_safetensors(#{w: ones([2])}, p); load_safetensors(p).w"),
    func(Cat, "operators", "x + y, x - y, x * y, x / y, x ** y, -x", "Elementwise arithmetic between tensors, floats and ints on either side, with broadcasting.")
        .example_is("(tensor([1, 2]) * 2 + 1).to_array()", "[3.0, 5.0]"),
    func(Cat, "comparisons", "x < y, x <= y, x > y, x >= y, x == y, x != y", "Elementwise comparisons giving a mask (dtype bool, 1 where true).")
        .example_is("(tensor([1, 2, 3]) > 1).sum().item()", "2.0"),
    func(Cat, "where", "where(mask, a, b) -> Tensor", "a where mask is non-zero, else b (tensors or numbers, broadcast).")
        .example_is("where(tensor([1, 0]), 5, tensor([7, 8]))", "tensor([5., 8.])"),
    func(Cat, "matmul", "x.matmul(y) -> Tensor", "Matrix product, with PyTorch's rules for 1-D operands and batch broadcasting.")
        .example_is("tensor([[1, 2], [3, 4]]).matmul(tensor([1, 1]))", "tensor([3., 7.])"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    register_constructors(r);
    register_conversions(r);
    register_operators(r);
}

fn register_constructors(r: &mut Registrar) {
    r.printable("Tensor", |t: &T| format_tensor(&t.0));

    r.register_fn("tensor", |d: Dynamic| -> RResult<T> {
        let (v, s) = nested_values(&d)?;
        ops::from_f64(v, &s, default_dtype()).map(T).rh()
    });
    r.register_fn("tensor", |d: Dynamic, dtype: &str| -> RResult<T> {
        let (v, s) = nested_values(&d)?;
        ops::from_f64(v, &s, dtype_of(dtype)?).map(T).rh()
    });

    // name(shape), name(shape, dtype) and name_like(x) for each way of filling a new tensor.
    for (name, like, fill) in [
        ("zeros", "zeros_like", Fill::Value(0.0)),
        ("ones", "ones_like", Fill::Value(1.0)),
        ("rand", "rand_like", Fill::Uniform),
        ("randn", "randn_like", Fill::Normal),
    ] {
        r.register_fn(name, move |s: Dynamic| new(name, &s, default_dtype(), fill));
        r.register_fn(name, move |s: Dynamic, d: &str| {
            new(name, &s, dtype_of(d)?, fill)
        });
        r.register_fn(like, move |t: T| filled_like(like, &t, fill));
    }
    fn new(what: &str, shape: &Dynamic, dtype: DType, fill: Fill) -> RResult<T> {
        Ok(T(ops::filled(what, &shape_of(shape)?, dtype, fill).rh()?))
    }
    fn filled_like(what: &str, t: &T, fill: Fill) -> RResult<T> {
        Ok(T(ops::filled(what, t.0.dims(), t.0.dtype(), fill).rh()?))
    }
    let value = |v: &Dynamic, what| number(v, what).map(Fill::Value);
    r.register_fn("full", move |s: Dynamic, v: Dynamic| {
        new("full", &s, default_dtype(), value(&v, "full")?)
    });
    r.register_fn("full", move |s: Dynamic, v: Dynamic, d: &str| {
        new("full", &s, dtype_of(d)?, value(&v, "full")?)
    });
    r.register_fn("full_like", move |t: T, v: Dynamic| {
        filled_like("full_like", &t, value(&v, "full_like")?)
    });

    fn arange(start: f64, end: f64, step: f64) -> RResult<T> {
        Ok(T(ops::arange(start, end, step, default_dtype()).rh()?))
    }
    let n = |d: &Dynamic| number(d, "arange");
    r.register_fn("arange", move |e: Dynamic| arange(0.0, n(&e)?, 1.0));
    r.register_fn("arange", move |s: Dynamic, e: Dynamic| {
        arange(n(&s)?, n(&e)?, 1.0)
    });
    r.register_fn("arange", move |s: Dynamic, e: Dynamic, st: Dynamic| {
        arange(n(&s)?, n(&e)?, n(&st)?)
    });
    r.register_fn("linspace", |s: Dynamic, e: Dynamic, n: i64| -> RResult<T> {
        let (s, e) = (number(&s, "linspace")?, number(&e, "linspace")?);
        Ok(T(ops::linspace(
            s,
            e,
            count(n, "linspace: n")?,
            default_dtype(),
        )
        .rh()?))
    });
    fn eye(n: i64, dtype: DType) -> RResult<T> {
        Ok(T(ops::eye(count(n, "eye: n")?, dtype).rh()?))
    }
    r.register_fn("eye", |n: i64| eye(n, default_dtype()));
    r.register_fn("eye", |n: i64, d: &str| eye(n, dtype_of(d)?));

    r.register_fn("seed", |n: i64| random::seed(n as u64));

    r.register_fn("set_default_dtype", |d: &str| -> RResult<()> {
        DEFAULT_F64.store(dtype_of(d)? == DType::F64, Ordering::Relaxed);
        Ok(())
    });
}

fn register_conversions(r: &mut Registrar) {
    r.register_get("shape", |t: &mut T| shape_array(t.0.dims()));
    r.register_get("ndim", |t: &mut T| t.0.rank() as i64);
    r.register_get("dtype", |t: &mut T| dtype_str(t.0.dtype()).to_string());
    r.register_fn("len", |t: &mut T| {
        crate::tensor::shape::len(&t.0).map(|n| n as i64).rh()
    });
    r.register_fn("numel", |t: &mut T| t.0.elem_count() as i64);

    r.register_fn("to_array", |t: &mut T| nested_array(&t.0));
    fn item(t: &mut T) -> RResult<f64> {
        ops::item(&t.0).rh()
    }
    r.register_fn("item", item);
    r.register_fn("to_float", item);
    r.register_fn("to_dtype", |t: &mut T, d: &str| -> RResult<T> {
        t.0.to_dtype(dtype_of(d)?).map(T).rh()
    });

    // Documented with `device()` (session functions).
    r.register_get("device", |t: &mut T| crate::device::name(t.0.device()));
    r.register_fn("to_device", |t: &mut T, name: &str| -> RResult<T> {
        let d = crate::device::parse(name).rh()?;
        crate::device::to(&t.0, &d).map(T).rh()
    });

    r.register_fn("save_safetensors", |m: Map, path: &str| -> RResult<()> {
        let tensor = |(k, v): (&rhai::Identifier, &Dynamic)| -> RResult<(String, Tensor)> {
            let what = format!("save_safetensors: value of '{k}' is not a Tensor");
            Ok((k.to_string(), cast::<T>(v, &what)?.0))
        };
        let tensors = m.iter().map(tensor).collect::<RResult<HashMap<_, _>>>()?;
        crate::io::save_safetensors(&tensors, path.as_ref()).rh()
    });
    r.register_fn("load_safetensors", |path: &str| -> RResult<Map> {
        let m = crate::io::load_safetensors(path.as_ref()).rh()?;
        Ok(m.into_iter()
            .map(|(k, v)| (k.into(), Dynamic::from(T(v))))
            .collect())
    });
}

fn register_operators(r: &mut Registrar) {
    // Tensor ∘ tensor, tensor ∘ number and number ∘ tensor for each operator.
    macro_rules! arith {
        ($sym:expr, $f:ident, $op:expr) => {
            r.register_fn($sym, |a: T, b: T| $f($op, &a.0, &b.0));
            r.register_fn($sym, |a: T, b: f64| $f($op, &a.0, &scalar(b, &a.0)?));
            r.register_fn($sym, |a: T, b: i64| $f($op, &a.0, &scalar(b as f64, &a.0)?));
            r.register_fn($sym, |a: f64, b: T| $f($op, &scalar(a, &b.0)?, &b.0));
            r.register_fn($sym, |a: i64, b: T| $f($op, &scalar(a as f64, &b.0)?, &b.0));
        };
    }
    arith!("+", bin, BinOp::Add);
    arith!("-", bin, BinOp::Sub);
    arith!("*", bin, BinOp::Mul);
    arith!("/", bin, BinOp::Div);
    arith!("**", bin, BinOp::Pow);
    r.register_fn("-", |a: T| -> RResult<T> {
        Ok(T(ops::as_float(&a.0).rh()?.neg().rh()?))
    });
    r.register_fn("+", |a: T| a);

    arith!("<", cmp, CmpOp::Lt);
    arith!("<=", cmp, CmpOp::Le);
    arith!(">", cmp, CmpOp::Gt);
    arith!(">=", cmp, CmpOp::Ge);
    arith!("==", cmp, CmpOp::Eq);
    arith!("!=", cmp, CmpOp::Ne);

    r.register_fn("where", |m: T, a: Dynamic, b: Dynamic| -> RResult<T> {
        let like = &m.0;
        let to_t = |d: &Dynamic| -> RResult<Tensor> {
            match d.clone().try_cast::<T>() {
                Some(t) => Ok(t.0),
                None => scalar(number(d, "where")?, &ops::as_float(like).rh()?),
            }
        };
        ops::select(&m.0, &to_t(&a)?, &to_t(&b)?).map(T).rh()
    });

    r.register_fn("matmul", |a: &mut T, b: T| {
        ops::matmul(&a.0, &b.0).map(T).rh()
    });

    // Strings can be built from tensors with `+`.
    r.register_fn("+", |s: ImmutableString, t: T| {
        format!("{s}{}", format_tensor(&t.0))
    });
    r.register_fn("+", |t: T, s: ImmutableString| {
        format!("{}{s}", format_tensor(&t.0))
    });
}
