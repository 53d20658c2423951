//! What each graph operation computes, with ONNX's semantics (opset 13+) and PyTorch's
//! gradients: convolutions, pools and nonlinearity sites go through the same kernels as the
//! zoo's layers; everything else is composed of candle operations, whose autograd gives the
//! ordinary gradient. Integer operands (shapes, indices, axes) are computed on the host.

use super::value::{
    Ints, MAX_INTS, Value, broadcast_dims, count, slice_positions, strides, wrap_axis, wrap_index,
};
use super::{AutoPad, Binary, CastTo, Ctx, Op, Reduce, Site, Unary};
use crate::error::{Error, Result};
use crate::nn::act::{ActKind, Rule, activation};
use crate::nn::layers::{BatchNormParams, batch_norm};
use crate::nn::pass::Pass;
use crate::tensor::conv::{ConvGeom, conv_transpose2d, conv2d};
use crate::tensor::pool::{Pool2d, max_pool2d, max_pool2d_deeplift};
use candle_core::{DType, Tensor, Var};

/// The most elements a float tensor made from a graph's own numbers (`ConstantOfShape`,
/// `Expand`, `Tile`, `Pad`) may have: 2³¹, far above any real model's activations.
const MAX_FLOATS: usize = 1 << 31;

/// One node's inputs: values, and for inputs that are parameters their variables (batch norm
/// updates its running statistics in training).
pub struct Inputs<'a> {
    pub values: &'a [Option<Value>],
    pub vars: &'a [Option<&'a Var>],
}

impl Inputs<'_> {
    fn get(&self, i: usize) -> Option<&Value> {
        self.values.get(i).and_then(|v| v.as_ref())
    }

    fn float(&self, i: usize, what: &str) -> Result<&Tensor> {
        match self.get(i) {
            Some(Value::F(t)) => Ok(t),
            Some(Value::I(_)) => Err(Error::invalid(format!(
                "input {i} ({what}) must be a float tensor, got an integer one"
            ))),
            None => Err(Error::invalid(format!("input {i} ({what}) is missing"))),
        }
    }

    fn opt_float(&self, i: usize, what: &str) -> Result<Option<&Tensor>> {
        match self.get(i) {
            None => Ok(None),
            Some(_) => self.float(i, what).map(Some),
        }
    }

    fn ints(&self, i: usize, what: &str) -> Result<&Ints> {
        match self.get(i) {
            Some(Value::I(v)) => Ok(v),
            Some(Value::F(_)) => Err(Error::invalid(format!(
                "input {i} ({what}) must be an integer tensor, got a float one"
            ))),
            None => Err(Error::invalid(format!("input {i} ({what}) is missing"))),
        }
    }

    fn opt_ints(&self, i: usize, what: &str) -> Result<Option<&Ints>> {
        match self.get(i) {
            None => Ok(None),
            Some(_) => self.ints(i, what).map(Some),
        }
    }

    fn value(&self, i: usize, what: &str) -> Result<&Value> {
        self.get(i)
            .ok_or_else(|| Error::invalid(format!("input {i} ({what}) is missing")))
    }
}

fn one(v: Value) -> Result<Vec<Value>> {
    Ok(vec![v])
}

fn f(t: Tensor) -> Result<Vec<Value>> {
    one(Value::F(t))
}

/// A float scalar operand's value (`Clip` bounds, `Pow` exponents, pad values).
fn scalar_of(t: &Tensor, what: &str) -> Result<f64> {
    if t.elem_count() != 1 {
        return Err(Error::invalid(format!(
            "{what} must be a scalar, got shape {:?}",
            t.dims()
        )));
    }
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?[0])
}

/// Run one node.
pub fn run(
    op: &Op,
    inputs: &Inputs,
    n_out: usize,
    pass: &mut Pass,
    ctx: &Ctx,
    site: Site,
) -> Result<Vec<Value>> {
    match op {
        Op::Conv {
            strides,
            pads,
            auto_pad,
            groups,
            dilations,
        } => conv(inputs, strides, pads, *auto_pad, *groups, dilations),
        Op::ConvTranspose {
            strides,
            pads,
            output_padding,
            groups,
            dilations,
        } => conv_transpose(inputs, strides, pads, output_padding, *groups, dilations),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => {
            let a = inputs.float(0, "A")?;
            let b = inputs.float(1, "B")?;
            if a.rank() != 2 || b.rank() != 2 {
                return Err(Error::invalid(format!(
                    "Gemm multiplies matrices, got shapes {:?} and {:?}",
                    a.dims(),
                    b.dims()
                )));
            }
            let a = if *trans_a { a.t()? } else { a.clone() };
            let b = if *trans_b { b.t()? } else { b.clone() };
            let mut y = a.matmul(&b)?;
            if *alpha != 1.0 {
                y = (y * *alpha)?;
            }
            if let Some(c) = inputs.opt_float(2, "C")? {
                let c = if *beta != 1.0 {
                    (c * *beta)?
                } else {
                    c.clone()
                };
                y = y.broadcast_add(&c)?;
            }
            f(y)
        }
        Op::MatMul => f(matmul(inputs.float(0, "A")?, inputs.float(1, "B")?)?),
        Op::BatchNorm { eps, momentum } => batch_norm_node(inputs, *eps, *momentum, pass),
        Op::LayerNorm { axis, eps } => {
            let x = inputs.float(0, "X")?;
            let a = wrap_axis(*axis, x.rank(), "LayerNormalization")?;
            let axes: Vec<usize> = (a..x.rank()).collect();
            let mean = x.mean_keepdim(axes.as_slice())?;
            let xc = x.broadcast_sub(&mean)?;
            let var = xc.sqr()?.mean_keepdim(axes.as_slice())?;
            let mut y = xc
                .broadcast_div(&(var + *eps)?.sqrt()?)?
                .broadcast_mul(inputs.float(1, "scale")?)?;
            if let Some(b) = inputs.opt_float(2, "B")? {
                y = y.broadcast_add(b)?;
            }
            f(y)
        }
        Op::Act(kind) => {
            let x = inputs.float(0, "X")?;
            f(activation(x, *kind, site.rule(pass.rule), pass.samples)?)
        }
        Op::Softmax { axis } => {
            let x = inputs.float(0, "input")?;
            let a = wrap_axis(*axis, x.rank(), "Softmax")?;
            let last = x.rank() - 1;
            let rule = site.rule(pass.rule);
            if a == last {
                f(activation(x, ActKind::Softmax, rule, pass.samples)?)
            } else {
                let xt = x.transpose(a, last)?.contiguous()?;
                f(activation(&xt, ActKind::Softmax, rule, pass.samples)?.transpose(a, last)?)
            }
        }
        Op::LogSoftmax { axis } => {
            let x = inputs.float(0, "input")?;
            let a = wrap_axis(*axis, x.rank(), "LogSoftmax")?;
            let shifted = x.broadcast_sub(&x.max_keepdim(a)?.detach())?;
            let lse = shifted.exp()?.sum_keepdim(a)?.log()?;
            f(shifted.broadcast_sub(&lse)?)
        }
        Op::Clip => {
            let x = inputs.float(0, "input")?;
            let lo = match inputs.opt_float(1, "min")? {
                Some(t) => scalar_of(t, "Clip's min")?,
                None => f64::NEG_INFINITY,
            };
            let hi = match inputs.opt_float(2, "max")? {
                Some(t) => scalar_of(t, "Clip's max")?,
                None => f64::INFINITY,
            };
            // PyTorch's clamp passes the gradient where lo ≤ x ≤ hi.
            let inside = (x.ge(lo)? * x.le(hi)?)?;
            f(inside.where_cond(x, &x.clamp(lo, hi)?.detach())?)
        }
        Op::HardSigmoid { alpha, beta } => f(hard_sigmoid(inputs.float(0, "X")?, *alpha, *beta)?),
        Op::HardSwish => {
            let x = inputs.float(0, "X")?;
            f((x * hard_sigmoid(x, 1.0 / 6.0, 0.5)?)?)
        }
        Op::Gelu { tanh } => {
            let x = inputs.float(0, "X")?;
            f(if *tanh { x.gelu()? } else { x.gelu_erf()? })
        }
        Op::MaxPool {
            kernel,
            strides,
            pads,
            auto_pad,
            ceil_mode,
        } => {
            let x = inputs.float(0, "X")?;
            let (x4, one_d) = as_2d(x, "MaxPool")?;
            let (_, _, h, w) = x4.dims4()?;
            let geom = pool_geometry(kernel, strides, pads, *auto_pad, *ceil_mode, (h, w), one_d)?;
            let y = if site.rule(pass.rule) == Rule::DeepLift {
                max_pool2d_deeplift(&x4, geom)?
            } else {
                max_pool2d(&x4, geom)?
            };
            f(if one_d { y.squeeze(2)? } else { y })
        }
        Op::AvgPool {
            kernel,
            strides,
            pads,
            auto_pad,
            ceil_mode,
            count_include_pad,
        } => {
            let x = inputs.float(0, "X")?;
            let (x4, one_d) = as_2d(x, "AveragePool")?;
            let (_, _, h, w) = x4.dims4()?;
            let geom = pool_geometry(kernel, strides, pads, *auto_pad, *ceil_mode, (h, w), one_d)?;
            let y = avg_pool(&x4, geom, declared_end(pads, one_d), *count_include_pad)?;
            f(if one_d { y.squeeze(2)? } else { y })
        }
        Op::GlobalAvgPool => {
            let x = inputs.float(0, "X")?;
            let axes: Vec<usize> = (2..x.rank()).collect();
            if axes.is_empty() {
                return Err(Error::invalid("GlobalAveragePool needs an (N, C, …) input"));
            }
            f(x.mean_keepdim(axes.as_slice())?)
        }
        Op::GlobalMaxPool => {
            let x = inputs.float(0, "X")?;
            let (x4, one_d) = as_2d(x, "GlobalMaxPool")?;
            let (_, _, h, w) = x4.dims4()?;
            let y = max_pool2d(
                &x4,
                Pool2d {
                    kernel: (h, w),
                    stride: (h.max(1), w.max(1)),
                    padding: (0, 0),
                    extra_end: (0, 0),
                },
            )?;
            f(if one_d { y.squeeze(2)? } else { y })
        }
        Op::Unary(u) => unary(*u, inputs.value(0, "X")?),
        Op::Binary(b) => one(binary(*b, inputs.value(0, "A")?, inputs.value(1, "B")?)?),
        Op::Variadic { op, mean } => {
            let n = inputs.values.len();
            let mut acc = inputs.value(0, "data_0")?.clone();
            for i in 1..n {
                acc = binary(*op, &acc, inputs.value(i, "data")?)?;
            }
            if *mean {
                acc = match acc {
                    Value::F(t) => Value::F((t / n as f64)?),
                    Value::I(_) => return Err(Error::invalid("Mean of integer tensors")),
                };
            }
            one(acc)
        }
        Op::Where => where_op(inputs, ctx),
        Op::Reduce {
            op,
            keepdims,
            noop_with_empty_axes,
        } => reduce(inputs, *op, *keepdims, *noop_with_empty_axes),
        Op::Shape { start, end } => {
            let dims = inputs.value(0, "data")?.dims();
            let r = dims.len() as i64;
            let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
            let (s, e) = (clamp(*start), clamp(end.unwrap_or(r)));
            let v: Vec<i64> = dims[s..e.max(s)].iter().map(|&d| d as i64).collect();
            one(Value::I(Ints::vector(v)))
        }
        Op::Size => {
            let n: usize = inputs.value(0, "data")?.dims().iter().product();
            one(Value::I(Ints::scalar(n as i64)))
        }
        Op::Reshape { allowzero } => {
            let x = inputs.value(0, "data")?;
            let target = inputs.ints(1, "shape")?.to_vec();
            let dims = reshape_target(&x.dims(), &target, *allowzero, batch_fix(x, ctx))?;
            one(reshape(x, dims)?)
        }
        Op::Flatten { axis } => {
            let x = inputs.value(0, "input")?;
            let d = x.dims();
            let r = d.len() as i64;
            let a = if *axis < 0 { axis + r } else { *axis };
            if a < 0 || a > r {
                return Err(Error::out_of_range(
                    "Flatten axis",
                    axis,
                    format!("-{r} to {r}"),
                ));
            }
            let a = a as usize;
            let outer: usize = d[..a].iter().product();
            let inner: usize = d[a..].iter().product();
            one(reshape(x, vec![outer, inner])?)
        }
        Op::Transpose { perm } => {
            let x = inputs.value(0, "data")?;
            let r = x.dims().len();
            let perm: Vec<usize> = perm.clone().unwrap_or_else(|| (0..r).rev().collect());
            let mut seen = perm.clone();
            seen.sort_unstable();
            if seen != (0..r).collect::<Vec<_>>() {
                return Err(Error::invalid(format!(
                    "perm {perm:?} is not a permutation of the {r} axes"
                )));
            }
            one(match x {
                Value::F(t) => Value::F(t.permute(perm)?),
                Value::I(v) => Value::I(v.transpose(&perm)?),
            })
        }
        Op::Squeeze => {
            let x = inputs.value(0, "data")?;
            let d = x.dims();
            let axes: Vec<usize> = match inputs.opt_ints(1, "axes")? {
                Some(a) => a
                    .data
                    .iter()
                    .map(|&v| wrap_axis(v, d.len(), "Squeeze"))
                    .collect::<Result<_>>()?,
                None => (0..d.len()).filter(|&i| d[i] == 1).collect(),
            };
            if let Some(&a) = axes.iter().find(|&&a| d[a] != 1) {
                return Err(Error::invalid(format!(
                    "cannot squeeze axis {a} of size {} (shape {d:?})",
                    d[a]
                )));
            }
            let dims: Vec<usize> = (0..d.len())
                .filter(|i| !axes.contains(i))
                .map(|i| d[i])
                .collect();
            one(reshape(x, dims)?)
        }
        Op::Unsqueeze => {
            let x = inputs.value(0, "data")?;
            let d = x.dims();
            let axes = inputs.ints(1, "axes")?;
            let r = d.len() + axes.data.len();
            let mut axes: Vec<usize> = axes
                .data
                .iter()
                .map(|&v| wrap_axis(v, r, "Unsqueeze"))
                .collect::<Result<_>>()?;
            axes.sort_unstable();
            axes.dedup();
            if axes.len() != r - d.len() {
                return Err(Error::invalid("Unsqueeze: repeated axes"));
            }
            let mut dims = Vec::with_capacity(r);
            let mut it = d.iter();
            for i in 0..r {
                if axes.contains(&i) {
                    dims.push(1);
                } else {
                    dims.push(*it.next().expect("rank counted above"));
                }
            }
            one(reshape(x, dims)?)
        }
        Op::Concat { axis } => {
            let values: Vec<&Value> = (0..inputs.values.len())
                .map(|i| inputs.value(i, "inputs"))
                .collect::<Result<_>>()?;
            let rank = values[0].dims().len();
            let a = wrap_axis(*axis, rank, "Concat")?;
            if values.iter().all(|v| matches!(v, Value::F(_))) {
                let ts: Vec<&Tensor> = values
                    .iter()
                    .map(|v| match v {
                        Value::F(t) => t,
                        Value::I(_) => unreachable!("checked above"),
                    })
                    .collect();
                f(Tensor::cat(&ts, a)?)
            } else if values.iter().all(|v| matches!(v, Value::I(_))) {
                let is: Vec<&Ints> = values
                    .iter()
                    .map(|v| match v {
                        Value::I(i) => i,
                        Value::F(_) => unreachable!("checked above"),
                    })
                    .collect();
                one(Value::I(Ints::concat(&is, a)?))
            } else {
                Err(Error::invalid("Concat mixes float and integer tensors"))
            }
        }
        Op::Split { axis } => split(inputs, *axis, n_out),
        Op::Slice => slice(inputs),
        Op::Gather { axis } => {
            let x = inputs.value(0, "data")?;
            let idx = inputs.ints(1, "indices")?;
            let d = x.dims();
            let a = wrap_axis(*axis, d.len(), "Gather")?;
            match x {
                Value::I(v) => one(Value::I(v.gather(idx, a)?)),
                Value::F(t) => {
                    let pos: Vec<u32> = idx
                        .data
                        .iter()
                        .map(|&i| wrap_index(i, d[a], "Gather").map(|j| j as u32))
                        .collect::<Result<_>>()?;
                    let pos = Tensor::from_vec(pos, idx.data.len(), t.device())?;
                    let mut dims = d[..a].to_vec();
                    dims.extend(&idx.dims);
                    dims.extend(&d[a + 1..]);
                    f(t.contiguous()?.index_select(&pos, a)?.reshape(dims)?)
                }
            }
        }
        Op::GatherNd => {
            let t = inputs.float(0, "data")?;
            let idx = inputs.ints(1, "indices")?;
            let d = t.dims().to_vec();
            let k = *idx.dims.last().unwrap_or(&0);
            if k == 0 || k > d.len() {
                return Err(Error::invalid(format!(
                    "indices of shape {:?} do not index data of shape {d:?}",
                    idx.dims
                )));
            }
            let st = strides(&d[..k]);
            let rows: usize = d[..k].iter().product();
            let pos: Vec<u32> = idx
                .data
                .chunks(k)
                .map(|c| {
                    c.iter().enumerate().try_fold(0usize, |acc, (j, &i)| {
                        Ok(acc + wrap_index(i, d[j], "GatherND")? * st[j])
                    })
                })
                .map(|r: Result<usize>| r.map(|v| v as u32))
                .collect::<Result<_>>()?;
            let mut flat_dims = vec![rows];
            flat_dims.extend(&d[k..]);
            let flat = t.contiguous()?.reshape(flat_dims)?;
            let n = pos.len();
            let picked = flat.index_select(&Tensor::from_vec(pos, n, t.device())?, 0)?;
            let mut dims = idx.dims[..idx.dims.len() - 1].to_vec();
            dims.extend(&d[k..]);
            f(picked.reshape(dims)?)
        }
        Op::Expand => {
            let x = inputs.value(0, "input")?;
            let mut target: Vec<usize> = inputs
                .ints(1, "shape")?
                .data
                .iter()
                .map(|&v| usize::try_from(v).map_err(|_| Error::invalid("a negative size")))
                .collect::<Result<_>>()?;
            if let (Some(n), Some(t0)) = (batch_fix(x, ctx), target.first_mut())
                && ctx.export_batch == Some(*t0)
            {
                *t0 = n;
            }
            let dims = broadcast_dims(&x.dims(), &target).ok_or_else(|| Error::ShapeMismatch {
                op: "expand".into(),
                lhs: x.dims(),
                rhs: target.clone(),
            })?;
            check_floats(&dims, "Expand")?;
            match x {
                Value::F(t) => f(t.broadcast_as(dims)?),
                Value::I(v) => {
                    let zeros = Ints::new(dims.clone(), vec![0; count(&dims, "Expand")?])?;
                    one(Value::I(v.zip(&zeros, "expand", |a, _| Ok(a))?))
                }
            }
        }
        Op::Tile => {
            let t = inputs.float(0, "input")?;
            let reps = inputs.ints(1, "repeats")?;
            if reps.data.len() != t.rank() || reps.data.iter().any(|&r| r < 0) {
                return Err(Error::invalid(format!(
                    "repeats {:?} do not fit a tensor of rank {}",
                    reps.data,
                    t.rank()
                )));
            }
            let dims: Vec<usize> = t
                .dims()
                .iter()
                .zip(&reps.data)
                .map(|(&d, &r)| d.saturating_mul(r as usize))
                .collect();
            check_floats(&dims, "Tile")?;
            let mut y = t.clone();
            for (axis, &r) in reps.data.iter().enumerate() {
                if r != 1 {
                    let copies = vec![&y; r as usize];
                    y = Tensor::cat(&copies, axis)?;
                }
            }
            f(y)
        }
        Op::ConstantOfShape { value, int } => {
            let dims: Vec<usize> = inputs
                .ints(0, "input")?
                .data
                .iter()
                .map(|&v| usize::try_from(v).map_err(|_| Error::invalid("a negative size")))
                .collect::<Result<_>>()?;
            if *int {
                let n = count(&dims, "ConstantOfShape")?;
                one(Value::I(Ints::new(dims, vec![*value as i64; n])?))
            } else {
                check_floats(&dims, "ConstantOfShape")?;
                f(Tensor::full(*value, dims, &ctx.device)?.to_dtype(ctx.dtype)?)
            }
        }
        Op::Range => {
            let s = inputs.ints(0, "start")?.data.first().copied().unwrap_or(0);
            let l = inputs.ints(1, "limit")?.data.first().copied().unwrap_or(0);
            let d = inputs.ints(2, "delta")?.data.first().copied().unwrap_or(0);
            if d == 0 {
                return Err(Error::invalid("Range with delta 0"));
            }
            let n = ((l - s) as f64 / d as f64).ceil().max(0.0) as usize;
            if n > MAX_INTS {
                return Err(Error::invalid(format!("Range of {n} elements")));
            }
            one(Value::I(Ints::vector(
                (0..n as i64).map(|i| s + i * d).collect(),
            )))
        }
        Op::Pad => pad(inputs),
        Op::Cast { to } => one(cast(inputs.value(0, "input")?, *to, ctx)?),
        Op::Identity => one(inputs.value(0, "input")?.clone()),
        Op::Dropout { ratio } => {
            let x = inputs.value(0, "data")?;
            let y = match x {
                Value::F(t) if pass.train => {
                    Value::F(crate::nn::layers::dropout(t, *ratio, pass.train)?)
                }
                other => other.clone(),
            };
            let mut out = vec![y];
            if n_out > 1 {
                let dims = x.dims();
                let n = count(&dims, "Dropout mask")?;
                out.push(Value::I(Ints::new(dims, vec![1; n])?));
            }
            Ok(out)
        }
    }
}

/// A float tensor of `dims` the graph asks to create: its element count checked first.
fn check_floats(dims: &[usize], what: &str) -> Result<()> {
    let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match n {
        Some(n) if n <= MAX_FLOATS => Ok(()),
        _ => Err(Error::invalid(format!(
            "{what} would create a tensor of shape {dims:?}, more than {MAX_FLOATS} elements"
        ))),
    }
}

/// The running batch size when a graph exported for a fixed batch runs on another one and `x`
/// carries the batch on its first axis.
fn batch_fix(x: &Value, ctx: &Ctx) -> Option<usize> {
    match (x, ctx.export_batch) {
        (Value::F(t), Some(b0)) if ctx.batch != b0 && t.dims().first() == Some(&ctx.batch) => {
            Some(ctx.batch)
        }
        _ => None,
    }
}

/// `Reshape`'s target with 0 (copy) and −1 (infer) resolved.
fn reshape_target(
    from: &[usize],
    target: &[i64],
    allowzero: bool,
    batch: Option<usize>,
) -> Result<Vec<usize>> {
    let n: usize = from.iter().product();
    let mut dims = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        dims.push(match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                1
            }
            0 if !allowzero => *from.get(i).ok_or_else(|| {
                Error::invalid(format!(
                    "shape {target:?}: 0 copies a dimension {from:?} lacks"
                ))
            })?,
            t if t >= 0 => t as usize,
            _ => {
                return Err(Error::invalid(format!(
                    "cannot reshape {from:?} into {target:?}"
                )));
            }
        });
    }
    // A graph exported for batch b0 names b0 in its reshapes: read it as the running batch.
    if let (Some(b), Some(first)) = (batch, target.first()) {
        let exported = from.first().copied().unwrap_or(0);
        if *first != 0 && *first != -1 && exported == b {
            dims[0] = b;
        }
    }
    let known = dims
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != infer)
        .try_fold(1usize, |a, (_, &d)| a.checked_mul(d))
        .ok_or_else(|| Error::invalid(format!("shape {target:?} overflows")))?;
    if let Some(i) = infer {
        if known == 0 || !n.is_multiple_of(known) {
            return Err(Error::invalid(format!(
                "cannot reshape {from:?} into {target:?}"
            )));
        }
        dims[i] = n / known;
    } else if known != n {
        return Err(Error::invalid(format!(
            "cannot reshape {from:?} ({n} elements) into {target:?}"
        )));
    }
    Ok(dims)
}

fn reshape(x: &Value, dims: Vec<usize>) -> Result<Value> {
    Ok(match x {
        Value::F(t) => Value::F(t.reshape(dims)?),
        Value::I(v) => Value::I(Ints::new(dims, v.data.clone())?),
    })
}

/// NumPy's matmul: 1-D operands promoted and squeezed back, batch axes broadcast.
fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (a2, squeeze_a) = if a.rank() == 1 {
        (a.unsqueeze(0)?, true)
    } else {
        (a.clone(), false)
    };
    let (b2, squeeze_b) = if b.rank() == 1 {
        (b.unsqueeze(1)?, true)
    } else {
        (b.clone(), false)
    };
    let y = if b2.rank() == 2 && a2.rank() > 2 {
        // (…, K) by a matrix: one product over all leading rows.
        let d = a2.dims().to_vec();
        let k = d[d.len() - 1];
        let rows = a2.elem_count() / k.max(1);
        let y = a2.contiguous()?.reshape((rows, k))?.matmul(&b2)?;
        let mut out = d[..d.len() - 1].to_vec();
        out.push(b2.dim(1)?);
        y.reshape(out)?
    } else if a2.rank() == b2.rank() && a2.dims()[..a2.rank() - 2] == b2.dims()[..b2.rank() - 2] {
        a2.contiguous()?.matmul(&b2.contiguous()?)?
    } else {
        a2.broadcast_matmul(&b2)?
    };
    let y = if squeeze_a {
        y.squeeze(y.rank() - 2)?
    } else {
        y
    };
    Ok(if squeeze_b {
        y.squeeze(y.rank() - 1)?
    } else {
        y
    })
}

fn hard_sigmoid(x: &Tensor, alpha: f64, beta: f64) -> Result<Tensor> {
    let z = x.affine(alpha, beta)?;
    // PyTorch's hardsigmoid passes the gradient strictly inside (0, 1).
    let inside = (z.gt(0.0)? * z.lt(1.0)?)?;
    Ok(inside.where_cond(&z, &z.clamp(0.0, 1.0)?.detach())?)
}

/// A 1-D (N, C, L) input as (N, C, 1, L), or a 2-D one as it is.
fn as_2d(x: &Tensor, what: &str) -> Result<(Tensor, bool)> {
    match x.rank() {
        3 => Ok((x.unsqueeze(2)?, true)),
        4 => Ok((x.clone(), false)),
        r => Err(Error::invalid(format!(
            "{what} on a rank-{r} input: only 1-D and 2-D inputs are supported"
        ))),
    }
}

/// One axis of an `auto_pad` SAME padding: (before, after).
fn same_pad(n: usize, k: usize, s: usize, upper: bool) -> (usize, usize) {
    let out = n.div_ceil(s);
    let total = ((out.max(1) - 1) * s + k).saturating_sub(n);
    let small = total / 2;
    if upper {
        (small, total - small)
    } else {
        (total - small, small)
    }
}

/// Explicit (top, left, bottom, right) padding of a 2-D op from ONNX's pads or `auto_pad`.
fn pads_2d(
    pads: &[usize],
    auto_pad: AutoPad,
    kernel: (usize, usize),
    stride: (usize, usize),
    input: (usize, usize),
    one_d: bool,
) -> Result<[usize; 4]> {
    Ok(match auto_pad {
        AutoPad::Valid => [0; 4],
        AutoPad::SameUpper | AutoPad::SameLower => {
            let upper = auto_pad == AutoPad::SameUpper;
            let (t, b) = if one_d {
                (0, 0)
            } else {
                same_pad(input.0, kernel.0, stride.0, upper)
            };
            let (l, r) = same_pad(input.1, kernel.1, stride.1, upper);
            [t, l, b, r]
        }
        AutoPad::NotSet => match (one_d, pads.len()) {
            (_, 0) => [0; 4],
            (true, 2) => [0, pads[0], 0, pads[1]],
            (false, 4) => [pads[0], pads[1], pads[2], pads[3]],
            (_, n) => {
                return Err(Error::invalid(format!(
                    "{n} pads for a {}-D operation",
                    if one_d { 1 } else { 2 }
                )));
            }
        },
    })
}

/// (height, width) of a 1-D or 2-D attribute list; 1-D ops run as height 1.
fn pair(v: &[usize], default: usize, one_d: bool, what: &str) -> Result<(usize, usize)> {
    match (one_d, v.len()) {
        (_, 0) => Ok((if one_d { 1 } else { default }, default)),
        (true, 1) => Ok((1, v[0])),
        (false, 2) => Ok((v[0], v[1])),
        (_, n) => Err(Error::invalid(format!(
            "{what} has {n} values for a {}-D operation",
            if one_d { 1 } else { 2 }
        ))),
    }
}

fn conv(
    inputs: &Inputs,
    strides: &[usize],
    pads: &[usize],
    auto_pad: AutoPad,
    groups: usize,
    dilations: &[usize],
) -> Result<Vec<Value>> {
    let x = inputs.float(0, "X")?;
    let w = inputs.float(1, "W")?;
    let (x4, one_d) = as_2d(x, "Conv")?;
    let w4 = if one_d { w.unsqueeze(2)? } else { w.clone() };
    if w4.rank() != 4 {
        return Err(Error::invalid(format!(
            "weights of shape {:?} for a {:?} input",
            w.dims(),
            x.dims()
        )));
    }
    if dilations.iter().any(|&d| d != 1) {
        return Err(Error::Unsupported(format!(
            "dilations {dilations:?} (only 1)"
        )));
    }
    let (sh, sw) = pair(strides, 1, one_d, "strides")?;
    if !one_d && sh != sw {
        return Err(Error::Unsupported(format!(
            "strides {strides:?} that differ between the axes"
        )));
    }
    let (_, c, h, wd) = x4.dims4()?;
    let (_, cg, kh, kw) = w4.dims4()?;
    if groups == 0 || c != cg * groups {
        return Err(Error::invalid(format!(
            "{c} input channels do not fit weights {:?} in {groups} groups",
            w.dims()
        )));
    }
    let [t, l, b, r] = pads_2d(pads, auto_pad, (kh, kw), (sw, sw), (h, wd), one_d)?;
    let y = conv2d(
        &x4,
        &w4,
        ConvGeom {
            stride: sw,
            pad: (t, b, l, r),
            groups,
        },
    )?;
    let y = match inputs.opt_float(2, "B")? {
        // The zoo's convolutions add their bias the same way (one pass, no gradient for a bias
        // attribution never asks about).
        Some(bias) => crate::tensor::affine::add_channel_bias(&y, &bias.flatten_all()?)?,
        None => y,
    };
    f(if one_d { y.squeeze(2)? } else { y })
}

fn conv_transpose(
    inputs: &Inputs,
    strides: &[usize],
    pads: &[usize],
    output_padding: &[usize],
    groups: usize,
    dilations: &[usize],
) -> Result<Vec<Value>> {
    let x = inputs.float(0, "X")?;
    let w = inputs.float(1, "W")?;
    if x.rank() != 4 || w.rank() != 4 {
        return Err(Error::invalid(
            "only 2-D transposed convolutions are supported",
        ));
    }
    if groups != 1 || dilations.iter().any(|&d| d != 1) {
        return Err(Error::Unsupported(
            "transposed convolutions with groups or dilations".into(),
        ));
    }
    let (sh, sw) = pair(strides, 1, false, "strides")?;
    if sh != sw {
        return Err(Error::invalid("only equal strides are supported"));
    }
    let [t, l, b, r] = match pads.len() {
        0 => [0; 4],
        4 => [pads[0], pads[1], pads[2], pads[3]],
        n => return Err(Error::invalid(format!("{n} pads for a 2-D operation"))),
    };
    let (oph, opw) = pair(output_padding, 0, false, "output_padding")?;
    let mut y = conv_transpose2d(x, w, sh)?;
    if oph + opw > 0 {
        y = y.pad_with_zeros(2, 0, oph)?.pad_with_zeros(3, 0, opw)?;
    }
    let (_, _, h, wd) = y.dims4()?;
    if t + b >= h || l + r >= wd {
        return Err(Error::invalid("pads remove the whole output"));
    }
    let y = y.narrow(2, t, h - t - b)?.narrow(3, l, wd - l - r)?;
    f(match inputs.opt_float(2, "B")? {
        Some(bias) => y.broadcast_add(&bias.reshape((1, (), 1, 1))?)?,
        None => y,
    })
}

/// The declared end padding (bottom, right) of a pool, before `ceil_mode` adds any.
fn declared_end(pads: &[usize], one_d: bool) -> (usize, usize) {
    match (one_d, pads.len()) {
        (true, 2) => (0, pads[1]),
        (false, 4) => (pads[2], pads[3]),
        _ => (0, 0),
    }
}

/// A pool's window geometry, with PyTorch's `ceil_mode` (the last window must start inside the
/// input or its left padding).
fn pool_geometry(
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
    auto_pad: AutoPad,
    ceil_mode: bool,
    input: (usize, usize),
    one_d: bool,
) -> Result<Pool2d> {
    let k = pair(kernel, 0, one_d, "kernel_shape")?;
    let s = pair(strides, 1, one_d, "strides")?;
    if k.0 == 0 || k.1 == 0 || s.0 == 0 || s.1 == 0 {
        return Err(Error::invalid("kernel and strides must be positive"));
    }
    let [t, l, b, r] = pads_2d(pads, auto_pad, k, s, input, one_d)?;
    if b < t || r < l {
        return Err(Error::Unsupported(format!(
            "pads {pads:?} larger before than after"
        )));
    }
    let extra = |n: usize, k: usize, s: usize, pb: usize, pe: usize| -> usize {
        if !ceil_mode || n + pb + pe < k {
            return 0;
        }
        let span = n + pb + pe - k;
        let mut out = span.div_ceil(s) + 1;
        if (out - 1) * s >= n + pb {
            out -= 1;
        }
        ((out - 1) * s + k).saturating_sub(n + pb + pe)
    };
    Ok(Pool2d {
        kernel: k,
        stride: s,
        padding: (t, l),
        extra_end: (
            b - t + extra(input.0, k.0, s.0, t, b),
            r - l + extra(input.1, k.1, s.1, l, r),
        ),
    })
}

/// Average pooling as PyTorch computes it: window sums, divided by the window's size counted
/// over the input and (with `count_include_pad`) its declared padding, never over the part a
/// `ceil_mode` window hangs past the end.
fn avg_pool(
    x: &Tensor,
    p: Pool2d,
    declared_end: (usize, usize),
    include_pad: bool,
) -> Result<Tensor> {
    let (_, c, h, w) = x.dims4()?;
    if p.stride.0 != p.stride.1 {
        return Err(Error::invalid("only equal strides are supported"));
    }
    let (oh, ow) = p.out_hw(h, w);
    let end = p.padding_end();
    let ones = Tensor::ones((c, 1, p.kernel.0, p.kernel.1), x.dtype(), x.device())?;
    let sums = conv2d(
        x,
        &ones,
        ConvGeom {
            stride: p.stride.0,
            pad: (p.padding.0, end.0, p.padding.1, end.1),
            groups: c,
        },
    )?;
    let window = |o: usize, k: usize, s: usize, pb: usize, pe: usize, n: usize| -> usize {
        let start = (o * s) as isize - pb as isize;
        let stop = (start + k as isize).min((n + pe) as isize);
        if include_pad {
            (stop - start) as usize
        } else {
            (stop.min(n as isize) - start.max(0)) as usize
        }
    };
    let mut div = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let wy = window(y, p.kernel.0, p.stride.0, p.padding.0, declared_end.0, h);
        for xx in 0..ow {
            let wx = window(xx, p.kernel.1, p.stride.1, p.padding.1, declared_end.1, w);
            div.push((wy * wx).max(1) as f64);
        }
    }
    let div = Tensor::from_vec(div, (1, 1, oh, ow), x.device())?.to_dtype(x.dtype())?;
    Ok(sums.broadcast_div(&div)?)
}

fn batch_norm_node(inputs: &Inputs, eps: f64, momentum: f64, pass: &Pass) -> Result<Vec<Value>> {
    let x = inputs.float(0, "X")?;
    let var = |i: usize, what: &str| -> Result<&Var> {
        inputs.vars.get(i).copied().flatten().ok_or_else(|| {
            Error::invalid(format!(
                "batch norm's {what} must be an initializer (a parameter of the model)"
            ))
        })
    };
    let params = BatchNormParams {
        weight: var(1, "scale")?,
        bias: var(2, "B")?,
        running_mean: var(3, "mean")?,
        running_var: var(4, "var")?,
        batches_tracked: None,
    };
    f(batch_norm(x, &params, eps, momentum, pass)?)
}

fn unary(u: Unary, x: &Value) -> Result<Vec<Value>> {
    match x {
        Value::F(t) => f(match u {
            Unary::Sqrt => t.sqrt()?,
            Unary::Exp => t.exp()?,
            Unary::Log => t.log()?,
            Unary::Abs => t.abs()?,
            Unary::Neg => t.neg()?,
            Unary::Reciprocal => t.recip()?,
            Unary::Erf => t.erf()?,
            Unary::Floor => t.floor()?,
            Unary::Ceil => t.ceil()?,
            Unary::Sin => t.sin()?,
            Unary::Cos => t.cos()?,
            Unary::Not => return Err(Error::invalid("Not of a float tensor")),
        }),
        Value::I(v) => one(Value::I(match u {
            Unary::Abs => v.map(|a| a.wrapping_abs()),
            Unary::Neg => v.map(|a| a.wrapping_neg()),
            Unary::Not => v.map(|a| (a == 0) as i64),
            Unary::Floor | Unary::Ceil => v.clone(),
            other => {
                return Err(Error::Unsupported(format!(
                    "{other:?} of an integer tensor"
                )));
            }
        })),
    }
}

fn binary(b: Binary, x: &Value, y: &Value) -> Result<Value> {
    match (x, y) {
        (Value::F(a), Value::F(c)) => binary_float(b, a, c),
        (Value::I(a), Value::I(c)) => Ok(Value::I(binary_int(b, a, c)?)),
        _ => Err(Error::invalid(format!(
            "{} of a float and an integer tensor",
            super::binary_name(b)
        ))),
    }
}

fn binary_float(b: Binary, x: &Tensor, y: &Tensor) -> Result<Value> {
    let mask = |t: Tensor| -> Result<Value> {
        let dims = t.dims().to_vec();
        let data: Vec<i64> = t
            .flatten_all()?
            .to_dtype(DType::U8)?
            .to_vec1::<u8>()?
            .into_iter()
            .map(i64::from)
            .collect();
        Ok(Value::I(Ints::new(dims, data)?))
    };
    Ok(Value::F(match b {
        Binary::Add => x.broadcast_add(y)?,
        Binary::Sub => x.broadcast_sub(y)?,
        Binary::Mul => x.broadcast_mul(y)?,
        Binary::Div => x.broadcast_div(y)?,
        Binary::Max => x.broadcast_maximum(y)?,
        Binary::Min => x.broadcast_minimum(y)?,
        Binary::Pow => pow(x, y)?,
        Binary::Equal => return mask(x.broadcast_eq(y)?),
        Binary::Less => return mask(x.broadcast_lt(y)?),
        Binary::LessOrEqual => return mask(x.broadcast_le(y)?),
        Binary::Greater => return mask(x.broadcast_gt(y)?),
        Binary::GreaterOrEqual => return mask(x.broadcast_ge(y)?),
        Binary::Mod | Binary::And | Binary::Or => {
            return Err(Error::Unsupported(format!(
                "{} of float tensors",
                super::binary_name(b)
            )));
        }
    }))
}

/// x^e: integer exponents by multiplication (defined for negative x, as in PyTorch), others
/// through powf.
fn pow(x: &Tensor, e: &Tensor) -> Result<Tensor> {
    if e.elem_count() != 1 {
        return Ok(e.broadcast_mul(&x.log()?)?.exp()?);
    }
    let v = scalar_of(e, "the exponent")?;
    if v == 0.5 {
        return Ok(x.sqrt()?);
    }
    if v.fract() == 0.0 && v.abs() <= 16.0 {
        let n = v.abs() as usize;
        if n == 0 {
            return Ok(x.ones_like()?);
        }
        let mut y = x.clone();
        for _ in 1..n {
            y = (&y * x)?;
        }
        return Ok(if v < 0.0 { y.recip()? } else { y });
    }
    Ok(x.powf(v)?)
}

fn binary_int(b: Binary, x: &Ints, y: &Ints) -> Result<Ints> {
    let name = super::binary_name(b);
    let div = |a: i64, c: i64| {
        if c == 0 {
            Err(Error::invalid(format!("{name}: integer division by zero")))
        } else {
            Ok(a.wrapping_div(c))
        }
    };
    match b {
        Binary::Add => x.zip(y, name, |a, c| Ok(a.wrapping_add(c))),
        Binary::Sub => x.zip(y, name, |a, c| Ok(a.wrapping_sub(c))),
        Binary::Mul => x.zip(y, name, |a, c| Ok(a.wrapping_mul(c))),
        Binary::Div => x.zip(y, name, div),
        Binary::Mod => x.zip(y, name, |a, c| {
            if c == 0 {
                Err(Error::invalid("Mod: integer division by zero"))
            } else {
                Ok(a.rem_euclid(c) + if c < 0 && a.rem_euclid(c) != 0 { c } else { 0 })
            }
        }),
        Binary::Max => x.zip(y, name, |a, c| Ok(a.max(c))),
        Binary::Min => x.zip(y, name, |a, c| Ok(a.min(c))),
        Binary::Pow => x.zip(y, name, |a, c| {
            u32::try_from(c)
                .ok()
                .and_then(|c| a.checked_pow(c))
                .ok_or_else(|| Error::invalid("Pow of integers out of range"))
        }),
        Binary::Equal => x.zip(y, name, |a, c| Ok((a == c) as i64)),
        Binary::Less => x.zip(y, name, |a, c| Ok((a < c) as i64)),
        Binary::LessOrEqual => x.zip(y, name, |a, c| Ok((a <= c) as i64)),
        Binary::Greater => x.zip(y, name, |a, c| Ok((a > c) as i64)),
        Binary::GreaterOrEqual => x.zip(y, name, |a, c| Ok((a >= c) as i64)),
        Binary::And => x.zip(y, name, |a, c| Ok((a != 0 && c != 0) as i64)),
        Binary::Or => x.zip(y, name, |a, c| Ok((a != 0 || c != 0) as i64)),
    }
}

fn where_op(inputs: &Inputs, ctx: &Ctx) -> Result<Vec<Value>> {
    let cond = inputs.ints(0, "condition")?;
    match (inputs.value(1, "X")?, inputs.value(2, "Y")?) {
        (Value::I(a), Value::I(b)) => {
            let dims = broadcast_dims(&cond.dims, &a.dims)
                .and_then(|d| broadcast_dims(&d, &b.dims))
                .ok_or_else(|| Error::ShapeMismatch {
                    op: "where".into(),
                    lhs: a.dims.clone(),
                    rhs: b.dims.clone(),
                })?;
            let zeros = Ints::new(dims.clone(), vec![0; count(&dims, "Where")?])?;
            let full = |v: &Ints| v.zip(&zeros, "Where", |x, _| Ok(x));
            let (c, a, b) = (full(cond)?, full(a)?, full(b)?);
            let data = c
                .data
                .iter()
                .zip(a.data.iter().zip(&b.data))
                .map(|(&c, (&x, &y))| if c != 0 { x } else { y })
                .collect();
            one(Value::I(Ints::new(dims, data)?))
        }
        (Value::F(a), Value::F(b)) => {
            let dims = broadcast_dims(&cond.dims, a.dims())
                .and_then(|d| broadcast_dims(&d, b.dims()))
                .ok_or_else(|| Error::ShapeMismatch {
                    op: "where".into(),
                    lhs: a.dims().to_vec(),
                    rhs: b.dims().to_vec(),
                })?;
            let mask: Vec<u8> = cond.data.iter().map(|&c| (c != 0) as u8).collect();
            let mask = Tensor::from_vec(mask, cond.dims.as_slice(), &ctx.device)?
                .broadcast_as(dims.as_slice())?
                .contiguous()?;
            f(mask.where_cond(
                &a.broadcast_as(dims.as_slice())?.contiguous()?,
                &b.broadcast_as(dims.as_slice())?.contiguous()?,
            )?)
        }
        _ => Err(Error::invalid("Where mixes float and integer tensors")),
    }
}

fn reduce(inputs: &Inputs, op: Reduce, keepdims: bool, noop: bool) -> Result<Vec<Value>> {
    let x = inputs.value(0, "data")?;
    let d = x.dims();
    let given = inputs.opt_ints(1, "axes")?;
    let mut axes: Vec<usize> = match given {
        Some(a) if !a.data.is_empty() => a
            .data
            .iter()
            .map(|&v| wrap_axis(v, d.len(), "Reduce"))
            .collect::<Result<_>>()?,
        _ if noop => return one(x.clone()),
        _ => (0..d.len()).collect(),
    };
    axes.sort_unstable();
    axes.dedup();
    match x {
        Value::F(t) => {
            let mut y = match op {
                Reduce::Mean => t.mean_keepdim(axes.as_slice())?,
                Reduce::Sum => t.sum_keepdim(axes.as_slice())?,
                Reduce::SumSquare => t.sqr()?.sum_keepdim(axes.as_slice())?,
                Reduce::L2 => t.sqr()?.sum_keepdim(axes.as_slice())?.sqrt()?,
                Reduce::Max | Reduce::Min => {
                    let mut y = t.clone();
                    for &a in &axes {
                        y = if op == Reduce::Max {
                            y.max_keepdim(a)?
                        } else {
                            y.min_keepdim(a)?
                        };
                    }
                    y
                }
                Reduce::Prod => {
                    return Err(Error::Unsupported("ReduceProd of a float tensor".into()));
                }
            };
            if !keepdims {
                for &a in axes.iter().rev() {
                    y = y.squeeze(a)?;
                }
            }
            f(y)
        }
        Value::I(v) => {
            let mut cur = v.clone();
            for &a in axes.iter().rev() {
                cur = reduce_int_axis(&cur, a, op)?;
            }
            if keepdims {
                let dims: Vec<usize> = (0..d.len())
                    .map(|i| if axes.contains(&i) { 1 } else { d[i] })
                    .collect();
                cur = Ints::new(dims, cur.data)?;
            }
            one(Value::I(cur))
        }
    }
}

/// Reduce one axis of an integer tensor (the axis removed).
fn reduce_int_axis(v: &Ints, axis: usize, op: Reduce) -> Result<Ints> {
    let outer: usize = v.dims[..axis].iter().product();
    let n = v.dims[axis];
    let inner: usize = v.dims[axis + 1..].iter().product();
    let mut data = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let items = (0..n).map(|k| v.data[(o * n + k) * inner + i]);
            data.push(match op {
                Reduce::Sum => items.fold(0i64, |a, b| a.wrapping_add(b)),
                Reduce::Prod => items.fold(1i64, |a, b| a.wrapping_mul(b)),
                Reduce::Max => items.max().unwrap_or(i64::MIN),
                Reduce::Min => items.min().unwrap_or(i64::MAX),
                other => {
                    return Err(Error::Unsupported(format!(
                        "{other:?} of an integer tensor"
                    )));
                }
            });
        }
    }
    let mut dims = v.dims.clone();
    dims.remove(axis);
    Ints::new(dims, data)
}

fn split(inputs: &Inputs, axis: i64, n_out: usize) -> Result<Vec<Value>> {
    let x = inputs.value(0, "input")?;
    let d = x.dims();
    let a = wrap_axis(axis, d.len(), "Split")?;
    let sizes: Vec<usize> = match inputs.opt_ints(1, "split")? {
        Some(s) => s
            .data
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| Error::invalid("a negative split size")))
            .collect::<Result<_>>()?,
        None => {
            let chunk = d[a].div_ceil(n_out.max(1));
            (0..n_out)
                .map(|i| chunk.min(d[a].saturating_sub(i * chunk)))
                .collect()
        }
    };
    if sizes.len() != n_out || sizes.iter().sum::<usize>() != d[a] {
        return Err(Error::invalid(format!(
            "split sizes {sizes:?} do not divide an axis of {} into {n_out} parts",
            d[a]
        )));
    }
    let mut start = 0;
    let mut out = Vec::with_capacity(n_out);
    for s in sizes {
        out.push(match x {
            Value::F(t) => Value::F(t.narrow(a, start, s)?),
            Value::I(v) => Value::I(v.slice(&[(a, (start..start + s).collect())])?),
        });
        start += s;
    }
    Ok(out)
}

fn slice(inputs: &Inputs) -> Result<Vec<Value>> {
    let x = inputs.value(0, "data")?;
    let d = x.dims();
    let starts = inputs.ints(1, "starts")?.to_vec();
    let ends = inputs.ints(2, "ends")?.to_vec();
    let axes: Vec<usize> = match inputs.opt_ints(3, "axes")? {
        Some(a) => a
            .data
            .iter()
            .map(|&v| wrap_axis(v, d.len(), "Slice"))
            .collect::<Result<_>>()?,
        None => (0..starts.len()).collect(),
    };
    let steps = match inputs.opt_ints(4, "steps")? {
        Some(s) => s.to_vec(),
        None => vec![1; starts.len()],
    };
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(Error::invalid(
            "starts, ends, axes and steps differ in length",
        ));
    }
    let mut ranges = Vec::with_capacity(axes.len());
    for i in 0..axes.len() {
        ranges.push((
            axes[i],
            slice_positions(starts[i], ends[i], steps[i], d[axes[i]])?,
        ));
    }
    match x {
        Value::I(v) => one(Value::I(v.slice(&ranges)?)),
        Value::F(t) => {
            let mut y = t.clone();
            for (axis, keep) in ranges {
                let contiguous = keep.windows(2).all(|w| w[1] == w[0] + 1);
                y = if contiguous {
                    y.narrow(axis, keep.first().copied().unwrap_or(0), keep.len())?
                } else {
                    let n = keep.len();
                    let idx: Vec<u32> = keep.into_iter().map(|k| k as u32).collect();
                    y.contiguous()?
                        .index_select(&Tensor::from_vec(idx, n, t.device())?, axis)?
                };
            }
            f(y)
        }
    }
}

fn pad(inputs: &Inputs) -> Result<Vec<Value>> {
    let x = inputs.float(0, "data")?;
    let pads = inputs.ints(1, "pads")?.to_vec();
    let value = match inputs.opt_float(2, "constant_value")? {
        Some(v) => scalar_of(v, "the pad value")?,
        None => 0.0,
    };
    let axes: Vec<usize> = match inputs.opt_ints(3, "axes")? {
        Some(a) => a
            .data
            .iter()
            .map(|&v| wrap_axis(v, x.rank(), "Pad"))
            .collect::<Result<_>>()?,
        None => (0..x.rank()).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(Error::invalid(format!(
            "{} pads for {} axes",
            pads.len(),
            axes.len()
        )));
    }
    let mut y = x.clone();
    for (i, &axis) in axes.iter().enumerate() {
        let (before, after) = (pads[i], pads[i + axes.len()]);
        let n = y.dim(axis)? as i64;
        // Negative pads crop.
        let (cut_b, cut_a) = ((-before).max(0), (-after).max(0));
        if cut_b + cut_a > n {
            return Err(Error::invalid("negative pads remove the whole axis"));
        }
        if cut_b + cut_a > 0 {
            y = y.narrow(axis, cut_b as usize, (n - cut_b - cut_a) as usize)?;
        }
        let (add_b, add_a) = (before.max(0) as usize, after.max(0) as usize);
        if add_b + add_a > 0 {
            let mut dims = y.dims().to_vec();
            dims[axis] = dims[axis].saturating_add(add_b + add_a);
            check_floats(&dims, "Pad")?;
            let block = |k: usize| -> Result<Tensor> {
                let mut d = y.dims().to_vec();
                d[axis] = k;
                Ok(Tensor::full(value, d, y.device())?.to_dtype(y.dtype())?)
            };
            y = Tensor::cat(&[&block(add_b)?, &y, &block(add_a)?], axis)?;
        }
    }
    f(y)
}

fn cast(x: &Value, to: CastTo, ctx: &Ctx) -> Result<Value> {
    Ok(match (x, to) {
        (Value::F(t), CastTo::Float) => Value::F(t.clone()),
        (Value::I(v), CastTo::Int) => Value::I(v.clone()),
        (Value::I(v), CastTo::Bool) => Value::I(v.map(|a| (a != 0) as i64)),
        (Value::I(v), CastTo::Float) => {
            let data: Vec<f64> = v.data.iter().map(|&a| a as f64).collect();
            Value::F(Tensor::from_vec(data, v.dims.as_slice(), &ctx.device)?.to_dtype(ctx.dtype)?)
        }
        (Value::F(t), to) => {
            let n = t.elem_count();
            if n > MAX_INTS {
                return Err(Error::invalid(format!(
                    "a cast of {n} floats to integers (shape arithmetic is small)"
                )));
            }
            let data: Vec<i64> = t
                .flatten_all()?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?
                .into_iter()
                .map(|v| match to {
                    CastTo::Bool => (v != 0.0) as i64,
                    _ => v.trunc() as i64,
                })
                .collect();
            Value::I(Ints::new(t.dims().to_vec(), data)?)
        }
    })
}
