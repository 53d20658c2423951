//! Script bindings: elementwise math and reductions on tensors.

use super::convert::*;
use super::registry::{Category::TensorMath as Cat, FnDoc, Registrar, func};
use crate::tensor::ops::{self, BinOp, dim_index};
use candle_core::Tensor;
use rhai::Dynamic;

use super::convert::ScriptTensor as T;

fn float(t: &Tensor) -> RResult<Tensor> {
    ops::as_float(t).rh()
}

/// `name(t, dim)`: `f` along one dimension (negative counts from the end) of a float tensor.
fn along(
    r: &mut Registrar,
    name: &'static str,
    f: fn(&Tensor, usize) -> candle_core::Result<Tensor>,
) {
    r.register_fn(name, move |t: &mut T, dim: i64| -> RResult<T> {
        f(&float(&t.0)?, dim_index(dim, t.0.rank()).rh()?)
            .map(T)
            .rh()
    });
}

fn unary(r: &mut Registrar, name: &'static str, f: fn(&Tensor) -> candle_core::Result<Tensor>) {
    r.register_fn(name, move |t: &mut T| -> RResult<T> {
        f(&float(&t.0)?).map(T).rh()
    });
}

/// What the functions of this file do, as `help` and docs/FUNCTIONS.md show them.
#[rustfmt::skip]
const DOCS: &[FnDoc] = &[
    func(Cat, "grad", "grad(f, x) -> Tensor", "The gradient of a scalar-valued script function f at x (automatic differentiation through the tensor operations f uses).")
        .example_is("grad(|w| (w * w).sum(), tensor([1.0, -2.0]))", "tensor([ 2., -4.])"),
    func(Cat, "abs", "x.abs() -> Tensor", "Elementwise |x|.")
        .example_is("tensor([-1, 2]).abs()", "tensor([1., 2.])"),
    func(Cat, "exp", "x.exp() -> Tensor", "Elementwise e^x.")
        .example_is("tensor([0]).exp()", "tensor([1.])"),
    func(Cat, "log", "x.log() -> Tensor", "Elementwise natural logarithm.")
        .example_is("tensor([1]).log()", "tensor([0.])"),
    func(Cat, "sqrt", "x.sqrt() -> Tensor", "Elementwise square root.")
        .example_is("tensor([4, 9]).sqrt()", "tensor([2., 3.])"),
    func(Cat, "tanh", "x.tanh() -> Tensor", "Elementwise hyperbolic tangent.")
        .example_is("tensor([0]).tanh()", "tensor([0.])"),
    func(Cat, "sin", "x.sin() -> Tensor", "Elementwise sine.")
        .example_is("tensor([0]).sin()", "tensor([0.])"),
    func(Cat, "cos", "x.cos() -> Tensor", "Elementwise cosine.")
        .example_is("tensor([0]).cos()", "tensor([1.])"),
    func(Cat, "sigmoid", "x.sigmoid() -> Tensor", "Elementwise 1 / (1 + e^-x).")
        .example_is("tensor([0]).sigmoid()", "tensor([0.5000])"),
    func(Cat, "relu", "x.relu() -> Tensor", "Elementwise max(x, 0).")
        .example_is("tensor([-1, 2]).relu()", "tensor([0., 2.])"),
    func(Cat, "pow", "x.pow(p) -> Tensor", "Elementwise x^p (p a number or a tensor; same as x ** p).")
        .example_is("tensor([2, 3]).pow(2)", "tensor([4., 9.])"),
    func(Cat, "clamp", "x.clamp(lo, hi) -> Tensor", "Elementwise min(max(x, lo), hi).")
        .example_is("tensor([-2, 0.5, 3]).clamp(-1, 1)", "tensor([-1.0000,  0.5000,  1.0000])"),
    func(Cat, "softmax", "x.softmax(dim) -> Tensor", "Softmax along a dimension (negative counts from the end).")
        .example_is("tensor([0, 0]).softmax(0)", "tensor([0.5000, 0.5000])"),
    func(Cat, "log_softmax", "x.log_softmax(dim) -> Tensor", "log(softmax(x)) computed stably.")
        .example_is("tensor([0, 0]).log_softmax(0).exp()", "tensor([0.5000, 0.5000])"),
    func(Cat, "maximum", "maximum(a, b) -> Tensor", "Elementwise maximum of two tensors (broadcast).")
        .example_is("maximum(tensor([1, 5]), tensor([3, 2]))", "tensor([3., 5.])"),
    func(Cat, "minimum", "minimum(a, b) -> Tensor", "Elementwise minimum of two tensors (broadcast).")
        .example_is("minimum(tensor([1, 5]), tensor([3, 2]))", "tensor([1., 2.])"),
    func(Cat, "sum", "x.sum(dim?, keepdim?) -> Tensor", "Sum over all elements or along dim.")
        .example_is("tensor([[1, 2], [3, 4]]).sum(0)", "tensor([4., 6.])"),
    func(Cat, "mean", "x.mean(dim?, keepdim?) -> Tensor", "Mean over all elements or along dim.")
        .example_is("tensor([[1, 2], [3, 4]]).mean(1)", "tensor([1.5000, 3.5000])"),
    func(Cat, "max", "x.max(dim?, keepdim?) -> Tensor", "Maximum over all elements or along dim (values).")
        .example_is("tensor([[1, 5], [3, 4]]).max(1)", "tensor([5., 4.])"),
    func(Cat, "min", "x.min(dim?, keepdim?) -> Tensor", "Minimum over all elements or along dim (values).")
        .example_is("tensor([[1, 5], [3, 4]]).min(0)", "tensor([1., 4.])"),
    func(Cat, "argmax", "x.argmax(dim?, keepdim?) -> Tensor", "Index of the first maximum (flat index without dim).")
        .example_is("tensor([[1, 5], [4, 3]]).argmax(1)", "tensor([1, 0], dtype=u32)"),
    func(Cat, "argmin", "x.argmin(dim?, keepdim?) -> Tensor", "Index of the first minimum (flat index without dim).")
        .example_is("tensor([3, 1, 2]).argmin().item()", "1.0"),
    func(Cat, "var", "x.var(dim?, keepdim?) -> Tensor", "Variance with Bessel's correction (as torch.var).")
        .example_is("tensor([1, 2, 3, 4]).var()", "tensor(1.6667)"),
    func(Cat, "std", "x.std(dim?, keepdim?) -> Tensor", "Standard deviation with Bessel's correction (as torch.std).")
        .example_is("tensor([1, 3]).std()", "tensor(1.4142)"),
    func(Cat, "norm", "x.norm() -> Tensor", "The Euclidean (Frobenius) norm of all elements.")
        .example_is("tensor([3, 4]).norm()", "tensor(5.)"),
];

pub fn register(r: &mut Registrar) {
    r.document(DOCS);
    register_elementwise(r);
    register_reductions(r);
    register_grad(r);
}

fn register_grad(r: &mut Registrar) {
    r.register_fn(
        "grad",
        |ctx: rhai::NativeCallContext, f: rhai::FnPtr, x: T| -> RResult<T> {
            // The script function's error is kept whole to be rethrown where `grad` was called.
            let mut script_error = None;
            let g = ops::gradient(&x.0, |v| {
                let y = f.call_within_context::<Dynamic>(&ctx, (T(v.clone()),));
                match y.map(|y| y.try_cast::<T>()) {
                    Ok(Some(y)) => Ok(y.0),
                    Ok(None) => Err(crate::Error::invalid(
                        "grad: the function must return a Tensor",
                    )),
                    Err(e) => {
                        script_error = Some(e);
                        Err(crate::Error::invalid("grad: the function failed"))
                    }
                }
            });
            match (g, script_error) {
                (_, Some(e)) => Err(e),
                (g, None) => g.map(T).rh(),
            }
        },
    );
}

fn register_elementwise(r: &mut Registrar) {
    unary(r, "abs", |t| t.abs());
    unary(r, "exp", |t| t.exp());
    unary(r, "log", |t| t.log());
    unary(r, "sqrt", |t| t.sqrt());
    unary(r, "tanh", |t| t.tanh());
    unary(r, "sin", |t| t.sin());
    unary(r, "cos", |t| t.cos());
    unary(r, "sigmoid", candle_nn::ops::sigmoid);
    unary(r, "relu", |t| t.relu());
    r.register_fn("pow", |t: &mut T, p: Dynamic| -> RResult<T> {
        ops::binary(BinOp::Pow, &t.0, &tensor_arg(&p, "pow")?)
            .map(T)
            .rh()
    });
    r.register_fn(
        "clamp",
        |t: &mut T, lo: Dynamic, hi: Dynamic| -> RResult<T> {
            let (lo, hi) = (number(&lo, "clamp")?, number(&hi, "clamp")?);
            float(&t.0)?.clamp(lo, hi).map(T).rh()
        },
    );
    along(r, "softmax", candle_nn::ops::softmax);
    along(r, "log_softmax", candle_nn::ops::log_softmax);
    r.register_fn("maximum", |a: T, b: T| {
        ops::binary(BinOp::Max, &a.0, &b.0).map(T).rh()
    });
    r.register_fn("minimum", |a: T, b: T| {
        ops::binary(BinOp::Min, &a.0, &b.0).map(T).rh()
    });
}

fn reduce(
    t: &Tensor,
    dim: Option<i64>,
    keepdim: bool,
    f: fn(&Tensor, usize) -> candle_core::Result<Tensor>,
) -> RResult<T> {
    ops::reduce(t, dim, keepdim, f).map(T).rh()
}

macro_rules! reduction {
    ($r:expr, $name:expr, $f:expr) => {
        $r.register_fn($name, |t: &mut T| reduce(&t.0, None, false, $f));
        $r.register_fn($name, |t: &mut T, d: i64| reduce(&t.0, Some(d), false, $f));
        $r.register_fn($name, |t: &mut T, d: i64, k: bool| {
            reduce(&t.0, Some(d), k, $f)
        });
    };
}

fn register_reductions(r: &mut Registrar) {
    reduction!(r, "sum", |t, d| t.sum(d));
    reduction!(r, "mean", |t, d| t.mean(d));
    reduction!(r, "max", |t, d| t.max(d));
    reduction!(r, "min", |t, d| t.min(d));
    reduction!(r, "argmax", |t, d| t.argmax(d));
    reduction!(r, "argmin", |t, d| t.argmin(d));
    reduction!(r, "var", |t, d| ops::var(t, d, false)
        .map_err(|e| candle_core::Error::Msg(e.to_string())));
    reduction!(r, "std", |t, d| ops::var(t, d, false)
        .map_err(|e| candle_core::Error::Msg(e.to_string()))
        .and_then(|v| v.sqrt()));
    r.register_fn("norm", |t: &mut T| ops::norm(&t.0).map(T).rh());
}
