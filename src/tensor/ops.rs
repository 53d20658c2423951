//! Tensor operations with PyTorch's semantics where candle's differ: dtype promotion across
//! operands, broadcasting binary ops with scalars on either side, `-1` in reshapes, negative
//! dimensions, 1-D `matmul`, unbiased `std`/`var`.

use crate::error::{Error, Result};
use candle_core::{D, DType, Tensor};

/// The dtype two operands are computed in: masks (u8) and integers take the float side; f32 and
/// f64 give f64, as `torch.result_type` does.
pub fn promote(a: DType, b: DType) -> DType {
    use DType::*;
    match (a, b) {
        (x, y) if x == y => x,
        (F64, _) | (_, F64) => F64,
        (F32, _) | (_, F32) => F32,
        (F16, _) | (_, F16) => F16,
        (BF16, _) | (_, BF16) => BF16,
        (I64, _) | (_, I64) => I64,
        (x, _) => x,
    }
}

/// Turn a mask or integer tensor into a float one for arithmetic.
pub fn as_float(t: &Tensor) -> Result<Tensor> {
    Ok(if t.dtype().is_float() {
        t.clone()
    } else {
        t.to_dtype(DType::F32)?
    })
}

fn aligned(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    let dt = promote(a.dtype(), b.dtype());
    let dt = if dt.is_float() { dt } else { DType::F32 };
    Ok((a.to_dtype(dt)?, b.to_dtype(dt)?))
}

/// The elementwise binary operators of the script language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "**",
            BinOp::Max => "maximum",
            BinOp::Min => "minimum",
        }
    }
}

/// Check that two shapes broadcast (numpy rules) and say which in the error when they do not.
fn check_broadcast(op: &str, a: &[usize], b: &[usize]) -> Result<()> {
    let n = a.len().max(b.len());
    for i in 0..n {
        let da = if i < a.len() { a[a.len() - 1 - i] } else { 1 };
        let db = if i < b.len() { b[b.len() - 1 - i] } else { 1 };
        if da != db && da != 1 && db != 1 {
            return Err(Error::ShapeMismatch {
                op: op.to_string(),
                lhs: a.to_vec(),
                rhs: b.to_vec(),
            });
        }
    }
    Ok(())
}

/// `a op b` with broadcasting and dtype promotion.
pub fn binary(op: BinOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    check_broadcast(op.symbol(), a.dims(), b.dims())?;
    // Broadcasting can make a result far larger than both operands ([N, 1] + [1, N]).
    crate::limits::shape(op.symbol(), &broadcast_shape(a.dims(), b.dims()), 8)?;
    let (a, b) = aligned(a, b)?;
    Ok(match op {
        BinOp::Add => a.broadcast_add(&b)?,
        BinOp::Sub => a.broadcast_sub(&b)?,
        BinOp::Mul => a.broadcast_mul(&b)?,
        BinOp::Div => a.broadcast_div(&b)?,
        BinOp::Max => a.broadcast_maximum(&b)?,
        BinOp::Min => a.broadcast_minimum(&b)?,
        BinOp::Pow => {
            // x ** y elementwise; a scalar exponent takes the exact `powf` path.
            if b.elem_count() == 1 {
                let e = b.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?[0];
                a.powf(e)?
            } else {
                a.broadcast_as(broadcast_shape(a.dims(), b.dims()))?
                    .contiguous()?
                    .pow(
                        &b.broadcast_as(broadcast_shape(a.dims(), b.dims()))?
                            .contiguous()?,
                    )?
            }
        }
    })
}

fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
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
            da.max(db)
        })
        .collect()
}

/// A 0-d tensor holding `v` in `dtype` (integers and masks get f32).
pub fn scalar_like(v: f64, like: &Tensor) -> Result<Tensor> {
    let dt = if like.dtype().is_float() {
        like.dtype()
    } else {
        DType::F32
    };
    Ok(Tensor::new(v, like.device())?.to_dtype(dt)?)
}

/// Comparison operators; each returns a u8 mask (1 where true).
#[derive(Clone, Copy, Debug)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let sym = match op {
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
    };
    check_broadcast(sym, a.dims(), b.dims())?;
    crate::limits::shape(sym, &broadcast_shape(a.dims(), b.dims()), 8)?;
    let (a, b) = aligned(a, b)?;
    Ok(match op {
        CmpOp::Lt => a.broadcast_lt(&b)?,
        CmpOp::Le => a.broadcast_le(&b)?,
        CmpOp::Gt => a.broadcast_gt(&b)?,
        CmpOp::Ge => a.broadcast_ge(&b)?,
        CmpOp::Eq => a.broadcast_eq(&b)?,
        CmpOp::Ne => a.broadcast_ne(&b)?,
    })
}

/// `where(mask, a, b)`: a where the mask is non-zero, else b; all three broadcast.
pub fn select(mask: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    check_broadcast("where", a.dims(), b.dims())?;
    let (a, b) = aligned(a, b)?;
    let shape = broadcast_shape(&broadcast_shape(a.dims(), b.dims()), mask.dims());
    check_broadcast("where", mask.dims(), &shape)?;
    crate::limits::shape("where", &shape, 8)?;
    let mask = mask
        .ne(&Tensor::zeros((), mask.dtype(), mask.device())?.broadcast_as(mask.shape())?)?
        .broadcast_as(shape.as_slice())?;
    Ok(mask.where_cond(
        &a.broadcast_as(shape.as_slice())?,
        &b.broadcast_as(shape.as_slice())?,
    )?)
}

/// A dimension given as an i64 that may count from the end (`-1` = last).
pub fn dim_index(dim: i64, ndim: usize) -> Result<usize> {
    let n = ndim as i64;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n.max(1) {
        return Err(Error::OutOfRange {
            what: "dimension".into(),
            value: dim.to_string(),
            valid: format!("-{n}..{} for a tensor of {ndim} dimensions", n - 1),
        });
    }
    Ok(d as usize)
}

/// Reshape with at most one `-1`, whose size is inferred.
pub fn reshape(t: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let numel = t.elem_count();
    let unknown = shape.iter().filter(|&&d| d == -1).count();
    if unknown > 1 || shape.iter().any(|&d| d < -1) {
        return Err(Error::invalid(format!(
            "invalid shape {shape:?} for reshape"
        )));
    }
    let cannot = || {
        Error::invalid(format!(
            "cannot reshape {:?} ({numel} elements) into {shape:?}",
            t.dims()
        ))
    };
    // Checked: a product that overflows can never equal the element count.
    let known = shape
        .iter()
        .filter(|&&d| d != -1)
        .try_fold(1i64, |a, &d| a.checked_mul(d))
        .ok_or_else(cannot)?;
    let dims: Vec<usize> = if unknown == 1 {
        if known == 0 || numel as i64 % known != 0 {
            return Err(Error::invalid(format!(
                "cannot reshape {:?} ({numel} elements) into {shape:?}",
                t.dims()
            )));
        }
        shape
            .iter()
            .map(|&d| {
                if d == -1 {
                    numel / known as usize
                } else {
                    d as usize
                }
            })
            .collect()
    } else {
        shape.iter().map(|&d| d as usize).collect()
    };
    if crate::limits::count("reshape", &dims).ok() != Some(numel) {
        return Err(cannot());
    }
    Ok(t.reshape(dims)?)
}

/// Matrix product with PyTorch's rules for 1-D operands and batch broadcasting.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (a, b) = aligned(a, b)?;
    let (a1, b1) = (a.rank() == 1, b.rank() == 1);
    if a.rank() == 0 || b.rank() == 0 {
        return Err(Error::invalid(
            "matmul needs tensors of at least one dimension",
        ));
    }
    let a2 = if a1 { a.unsqueeze(0)? } else { a.clone() };
    let b2 = if b1 { b.unsqueeze(1)? } else { b.clone() };
    let (k1, k2) = (a2.dim(D::Minus1)?, b2.dim(D::Minus2)?);
    if k1 != k2 {
        return Err(Error::ShapeMismatch {
            op: "@".into(),
            lhs: a.dims().to_vec(),
            rhs: b.dims().to_vec(),
        });
    }
    // The product's shape: broadcast batch axes, then (rows of a, columns of b).
    let (ra, cb) = (a2.dim(D::Minus2)?, b2.dim(D::Minus1)?);
    let batch = broadcast_shape(&a2.dims()[..a2.rank() - 2], &b2.dims()[..b2.rank() - 2]);
    let mut out_dims = batch;
    out_dims.extend([ra, cb]);
    crate::limits::shape("@", &out_dims, 8)?;
    let mut out = a2.contiguous()?.broadcast_matmul(&b2.contiguous()?)?;
    if b1 {
        out = out.squeeze(D::Minus1)?;
    }
    if a1 {
        out = out.squeeze(if b1 { D::Minus1 } else { D::Minus2 })?;
    }
    Ok(out)
}

/// The Euclidean (Frobenius) norm of all elements, as a 0-d float tensor.
pub fn norm(t: &Tensor) -> Result<Tensor> {
    Ok(as_float(t)?.sqr()?.sum_all()?.sqrt()?)
}

/// Variance along `dim` with Bessel's correction (PyTorch's default `correction=1`).
pub fn var(t: &Tensor, dim: usize, keepdim: bool) -> Result<Tensor> {
    let t = as_float(t)?;
    let n = t.dim(dim)?;
    if n < 2 {
        return Err(Error::invalid(
            "var/std need at least two elements along the dimension",
        ));
    }
    let mean = t.mean_keepdim(dim)?;
    let sq = t.broadcast_sub(&mean)?.sqr()?.sum_keepdim(dim)?;
    let v = (sq / (n as f64 - 1.0))?;
    Ok(if keepdim { v } else { v.squeeze(dim)? })
}

/// `n` evenly spaced values from `start` to `end` inclusive.
pub fn linspace(start: f64, end: f64, n: usize, dtype: DType) -> Result<Tensor> {
    crate::limits::check("linspace", n, 8)?;
    let data: Vec<f64> = match n {
        0 => vec![],
        1 => vec![start],
        _ => {
            let step = (end - start) / (n - 1) as f64;
            // PyTorch fills the second half from the end to keep `end` exact.
            (0..n)
                .map(|i| {
                    if i < n / 2 {
                        start + step * i as f64
                    } else {
                        end - step * (n - 1 - i) as f64
                    }
                })
                .collect()
        }
    };
    Ok(Tensor::from_vec(data, n, &crate::device::current())?.to_dtype(dtype)?)
}

/// What a new tensor holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    Value(f64),
    /// Uniform [0, 1) draws from the seeded generator.
    Uniform,
    /// Standard normal draws from the seeded generator.
    Normal,
}

/// A new tensor of shape `dims` on the current device, its size checked against the memory
/// budget before anything is allocated (values are made as f64 first: 8 bytes each).
pub fn filled(what: &str, dims: &[usize], dtype: DType, fill: Fill) -> Result<Tensor> {
    let n = crate::limits::shape(what, dims, 8)?;
    let values = match fill {
        Fill::Value(v) => vec![v; n],
        Fill::Uniform => super::random::uniform_vec(n, 0.0, 1.0),
        Fill::Normal => super::random::normal_vec(n),
    };
    from_f64(values, dims, dtype)
}

/// A tensor of `dtype` on the current device from row-major f64 values.
pub fn from_f64(values: Vec<f64>, dims: &[usize], dtype: DType) -> Result<Tensor> {
    Ok(Tensor::from_vec(values, dims, &crate::device::current())?.to_dtype(dtype)?)
}

/// Values from `start` by `step` up to, not including, `end` (torch.arange).
pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
    let span = ((end - start) / step).ceil();
    if step == 0.0 || !span.is_finite() || span < 0.0 {
        return Err(Error::invalid(format!(
            "arange: empty or infinite range {start}..{end} step {step}"
        )));
    }
    if span > usize::MAX as f64 {
        return Err(Error::TooLarge {
            what: "arange".into(),
            requested: format!("{span:e} elements"),
            budget: crate::limits::show(crate::limits::budget()),
        });
    }
    let n = span as usize;
    crate::limits::check("arange", n, 8)?;
    from_f64(
        (0..n).map(|i| start + step * i as f64).collect(),
        &[n],
        dtype,
    )
}

/// The n × n identity matrix.
pub fn eye(n: usize, dtype: DType) -> Result<Tensor> {
    crate::limits::shape("eye", &[n, n], 8)?;
    Ok(Tensor::eye(n, dtype, &crate::device::current())?)
}

/// A reduction as torch applies it: over every element when no `dim` is given, else along
/// `dim` (counting from the end when negative), kept as a size-1 dimension with `keepdim`.
pub fn reduce(
    t: &Tensor,
    dim: Option<i64>,
    keepdim: bool,
    f: fn(&Tensor, usize) -> candle_core::Result<Tensor>,
) -> Result<Tensor> {
    let t = as_float(t)?;
    let Some(dim) = dim else {
        return Ok(f(&t.flatten_all()?, 0)?);
    };
    let d = dim_index(dim, t.rank())?;
    let out = f(&t, d)?;
    Ok(if keepdim { out.unsqueeze(d)? } else { out })
}

/// The gradient at `x` of `f`, a function to one value (automatic differentiation through the
/// tensor operations `f` uses); zeros where `f` does not depend on `x`.
pub fn gradient(x: &Tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let var = candle_core::Var::from_tensor(&as_float(x)?)?;
    let y = f(var.as_tensor())?;
    if y.elem_count() != 1 {
        return Err(Error::invalid(format!(
            "grad: the function must return one value, got shape {:?}",
            y.dims()
        )));
    }
    let grads = y.sum_all()?.backward()?;
    match grads.get(var.as_tensor()) {
        Some(g) => Ok(g.clone()),
        None => Ok(var.as_tensor().zeros_like()?),
    }
}

/// The value of a one-element tensor.
pub fn item(t: &Tensor) -> Result<f64> {
    if t.elem_count() != 1 {
        return Err(Error::invalid(format!(
            "item(): the tensor has {} elements, not 1 (shape {:?})",
            t.elem_count(),
            t.dims()
        )));
    }
    Ok(to_f64_vec(t)?[0])
}

/// The values of any tensor as f64, row-major.
pub fn to_f64_vec(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32], s: &[usize]) -> Tensor {
        Tensor::from_slice(v, s, &Device::Cpu).unwrap()
    }

    #[test]
    fn broadcast_error_names_both_shapes() {
        let e = binary(BinOp::Add, &t(&[0.; 6], &[2, 3]), &t(&[0.; 4], &[4])).unwrap_err();
        assert_eq!(e.to_string(), "shape mismatch: [2, 3] + [4]");
    }

    #[test]
    fn matmul_vector_rules() {
        let m = t(&[1., 2., 3., 4.], &[2, 2]);
        let v = t(&[1., 1.], &[2]);
        assert_eq!(to_f64_vec(&matmul(&m, &v).unwrap()).unwrap(), vec![3., 7.]);
        assert_eq!(to_f64_vec(&matmul(&v, &m).unwrap()).unwrap(), vec![4., 6.]);
        assert_eq!(matmul(&v, &v).unwrap().rank(), 0);
    }

    #[test]
    fn var_is_unbiased() {
        let x = t(&[1., 2., 3., 4.], &[4]);
        let v = to_f64_vec(&var(&x, 0, false).unwrap()).unwrap()[0];
        assert!((v - 1.6666666).abs() < 1e-6);
    }

    #[test]
    fn reshape_infers_minus_one() {
        let x = t(&[0.; 12], &[3, 4]);
        assert_eq!(reshape(&x, &[2, -1]).unwrap().dims(), &[2, 6]);
        assert!(reshape(&x, &[5, -1]).is_err());
    }
}
