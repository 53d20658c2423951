//! The layers models are made of, with PyTorch's parameter names, initialisation and semantics.

use super::act::ActKind;
use super::graph::emit::Emitter;
use super::graph::{AutoPad, Op};
use super::module::Module;
use super::params::{Builder, Init};
use super::pass::Pass;
use crate::tensor::conv::{ConvGeom, conv2d};
use crate::tensor::pool::{Pool2d, adaptive_avg_pool2d, max_pool2d};
use candle_core::{D, Result, Tensor, Var};

/// `nn.Linear`: y = x·Wᵀ + b, W of shape (out, in).
pub struct Linear {
    pub name: String,
    pub weight: Var,
    pub bias: Option<Var>,
}

impl Linear {
    pub fn new(b: &mut Builder, name: &str, fan_in: usize, out: usize, bias: bool) -> Result<Self> {
        let mut s = b.sub(name);
        let weight = s
            .param("weight", &[out, fan_in], Init::Uniform { fan_in })
            .map_err(to_candle)?;
        let bias = if bias {
            Some(
                s.param("bias", &[out], Init::Uniform { fan_in })
                    .map_err(to_candle)?,
            )
        } else {
            None
        };
        Ok(Linear {
            name: s.path(),
            weight,
            bias,
        })
    }
}

impl Module for Linear {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "linear"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut inputs = vec![x.to_string(), param(&self.name, "weight")];
        if self.bias.is_some() {
            inputs.push(param(&self.name, "bias"));
        }
        if e.input_shape(&self.name)?.len() == 2 {
            return Ok(e.op(
                &self.name,
                Op::Gemm {
                    alpha: 1.0,
                    beta: 1.0,
                    trans_a: false,
                    trans_b: true,
                },
                inputs,
            ));
        }
        // x·Wᵀ (+ b) over any leading axes.
        let wt = e.op(
            &self.name,
            Op::Transpose {
                perm: Some(vec![1, 0]),
            },
            vec![inputs[1].clone()],
        );
        let y = e.op(&self.name, Op::MatMul, vec![x.to_string(), wt]);
        Ok(match inputs.get(2) {
            Some(b) => e.op(
                &self.name,
                Op::Binary(super::graph::Binary::Add),
                vec![y, b.clone()],
            ),
            None => y,
        })
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let w = pass.param(&self.weight);
        if x.rank() == 2 {
            // One op: its backward makes W's gradient only when W trains.
            let y = crate::tensor::products::linear(x, &w)?;
            return match &self.bias {
                Some(b) => crate::tensor::affine::add_channel_bias(&y, &pass.param(b)),
                None => Ok(y),
            };
        }
        let y = x.matmul(&w.t()?)?;
        match &self.bias {
            Some(b) => y.broadcast_add(&pass.param(b)),
            None => Ok(y),
        }
    }
}

/// The `state_dict` name of a layer's parameter.
pub(crate) fn param(layer: &str, leaf: &str) -> String {
    if layer.is_empty() {
        leaf.to_string()
    } else {
        format!("{layer}.{leaf}")
    }
}

/// Convert library errors raised while building into candle errors (building only fails on
/// tensor allocation).
pub(crate) fn to_candle(e: crate::Error) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

/// `nn.Conv1d` (no groups), input (N, C, L).
pub struct Conv1d {
    pub name: String,
    pub weight: Var,
    pub bias: Option<Var>,
    pub stride: usize,
    pub padding: usize,
}

impl Conv1d {
    pub fn new(
        b: &mut Builder,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let fan_in = cin * k;
        let mut s = b.sub(name);
        let weight = s
            .param("weight", &[cout, cin, k], Init::Uniform { fan_in })
            .map_err(to_candle)?;
        let bias = Some(
            s.param("bias", &[cout], Init::Uniform { fan_in })
                .map_err(to_candle)?,
        );
        Ok(Conv1d {
            name: s.path(),
            weight,
            bias,
            stride,
            padding,
        })
    }
}

impl Module for Conv1d {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "conv1d"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut inputs = vec![x.to_string(), param(&self.name, "weight")];
        if self.bias.is_some() {
            inputs.push(param(&self.name, "bias"));
        }
        Ok(e.op(
            &self.name,
            Op::Conv {
                strides: vec![self.stride],
                pads: vec![self.padding, self.padding],
                auto_pad: AutoPad::NotSet,
                groups: 1,
                dilations: vec![1],
            },
            inputs,
        ))
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        // As a 2-D convolution of height 1 with gaxsh's own op (candle 0.11.1's conv1d backward
        // also mixes the samples of a batch).
        let w = pass.param(&self.weight).unsqueeze(2)?;
        let geom = ConvGeom {
            stride: self.stride,
            pad: (0, 0, self.padding, self.padding),
            groups: 1,
        };
        let y = conv2d(&x.unsqueeze(2)?, &w, geom)?.squeeze(2)?;
        match &self.bias {
            Some(b) => crate::tensor::affine::add_channel_bias(&y, &pass.param(b)),
            None => Ok(y),
        }
    }
}

/// How a 2-D convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// The same number of zeros on every side (PyTorch).
    Symmetric(usize),
    /// TensorFlow's "SAME": total padding max(k − s, 0) (for sizes divisible by the stride),
    /// split with the extra zero after (stride 2 on even sizes pads 0 before, 1 after).
    TfSame,
}

/// `nn.Conv2d`, input (N, C, H, W).
pub struct Conv2d {
    pub name: String,
    pub weight: Var,
    pub bias: Option<Var>,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
}

/// Geometry of a 2-D convolution.
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
    pub bias: bool,
}

impl ConvSpec {
    pub fn new(cin: usize, cout: usize, kernel: usize) -> Self {
        ConvSpec {
            cin,
            cout,
            kernel,
            stride: 1,
            padding: Padding::Symmetric(0),
            groups: 1,
            bias: true,
        }
    }
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = s;
        self
    }
    pub fn pad(mut self, p: usize) -> Self {
        self.padding = Padding::Symmetric(p);
        self
    }
    pub fn tf_same(mut self) -> Self {
        self.padding = Padding::TfSame;
        self
    }
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    pub fn no_bias(mut self) -> Self {
        self.bias = false;
        self
    }

    /// Output size along one spatial axis.
    pub fn out_size(&self, n: usize) -> usize {
        match self.padding {
            Padding::Symmetric(p) => (n + 2 * p).saturating_sub(self.kernel) / self.stride + 1,
            Padding::TfSame => n.div_ceil(self.stride),
        }
    }
}

impl Conv2d {
    pub fn new(b: &mut Builder, name: &str, spec: ConvSpec) -> Result<Self> {
        let fan_in = spec.cin / spec.groups * spec.kernel * spec.kernel;
        let mut s = b.sub(name);
        let shape = [spec.cout, spec.cin / spec.groups, spec.kernel, spec.kernel];
        let weight = s
            .param("weight", &shape, Init::Uniform { fan_in })
            .map_err(to_candle)?;
        let bias = if spec.bias {
            Some(
                s.param("bias", &[spec.cout], Init::Uniform { fan_in })
                    .map_err(to_candle)?,
            )
        } else {
            None
        };
        Ok(Conv2d {
            name: s.path(),
            weight,
            bias,
            stride: spec.stride,
            padding: spec.padding,
            groups: spec.groups,
        })
    }
}

/// TF "SAME" padding of one axis: (before, after).
fn tf_same_pad(n: usize, k: usize, s: usize) -> (usize, usize) {
    let out = n.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(n);
    (total / 2, total - total / 2)
}

impl Module for Conv2d {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "conv2d"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut inputs = vec![x.to_string(), param(&self.name, "weight")];
        if self.bias.is_some() {
            inputs.push(param(&self.name, "bias"));
        }
        let (pads, auto_pad) = match self.padding {
            Padding::Symmetric(p) => (vec![p; 4], AutoPad::NotSet),
            Padding::TfSame => (Vec::new(), AutoPad::SameUpper),
        };
        Ok(e.op(
            &self.name,
            Op::Conv {
                strides: vec![self.stride; 2],
                pads,
                auto_pad,
                groups: self.groups,
                dilations: vec![1, 1],
            },
            inputs,
        ))
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let w = pass.param(&self.weight);
        let k = w.dim(2)?;
        let pad = match self.padding {
            Padding::Symmetric(p) => (p, p, p, p),
            Padding::TfSame => {
                let (_, _, h, wd) = x.dims4()?;
                let (t, b) = tf_same_pad(h, k, self.stride);
                let (l, r) = tf_same_pad(wd, k, self.stride);
                (t, b, l, r)
            }
        };
        let y = conv2d(
            x,
            &w,
            ConvGeom {
                stride: self.stride,
                pad,
                groups: self.groups,
            },
        )?;
        match &self.bias {
            Some(b) => crate::tensor::affine::add_channel_bias(&y, &pass.param(b)),
            None => Ok(y),
        }
    }
}

/// `nn.ConvTranspose2d` (groups 1, no output padding), weight (C_in, C_out, k, k).
pub struct ConvTranspose2d {
    pub name: String,
    pub weight: Var,
    pub bias: Option<Var>,
    pub stride: usize,
}

impl ConvTranspose2d {
    pub fn new(
        b: &mut Builder,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        bias: bool,
    ) -> Result<Self> {
        // PyTorch computes fan_in from the weight's dim 1 (C_out) for transposed convolutions.
        let fan_in = cout * k * k;
        let mut s = b.sub(name);
        let weight = s
            .param("weight", &[cin, cout, k, k], Init::Uniform { fan_in })
            .map_err(to_candle)?;
        let bias = if bias {
            Some(
                s.param("bias", &[cout], Init::Uniform { fan_in })
                    .map_err(to_candle)?,
            )
        } else {
            None
        };
        Ok(ConvTranspose2d {
            name: s.path(),
            weight,
            bias,
            stride,
        })
    }
}

impl Module for ConvTranspose2d {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "conv_transpose2d"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut inputs = vec![x.to_string(), param(&self.name, "weight")];
        if self.bias.is_some() {
            inputs.push(param(&self.name, "bias"));
        }
        Ok(e.op(
            &self.name,
            Op::ConvTranspose {
                strides: vec![self.stride; 2],
                pads: Vec::new(),
                output_padding: Vec::new(),
                groups: 1,
                dilations: vec![1, 1],
            },
            inputs,
        ))
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let y = crate::tensor::conv::conv_transpose2d(x, &pass.param(&self.weight), self.stride)?;
        match &self.bias {
            Some(b) => crate::tensor::affine::add_channel_bias(&y, &pass.param(b)),
            None => Ok(y),
        }
    }
}

/// `nn.BatchNorm1d/2d`: running statistics in eval, batch statistics (and running-stat
/// updates, momentum 0.1, unbiased running variance) in train mode.
pub struct BatchNorm {
    pub name: String,
    pub weight: Var,
    pub bias: Var,
    pub running_mean: Var,
    pub running_var: Var,
    pub batches_tracked: Var,
    pub eps: f64,
    pub momentum: f64,
}

impl BatchNorm {
    pub fn new(b: &mut Builder, name: &str, c: usize, eps: f64) -> Result<Self> {
        let mut s = b.sub(name);
        let e = to_candle;
        Ok(BatchNorm {
            weight: s.param("weight", &[c], Init::Const(1.0)).map_err(e)?,
            bias: s.param("bias", &[c], Init::Const(0.0)).map_err(e)?,
            running_mean: s.buffer("running_mean", &[c], 0.0).map_err(e)?,
            running_var: s.buffer("running_var", &[c], 1.0).map_err(e)?,
            batches_tracked: s.counter("num_batches_tracked").map_err(e)?,
            name: s.path(),
            eps,
            momentum: 0.1,
        })
    }
}

impl BatchNorm {
    fn params(&self) -> BatchNormParams<'_> {
        BatchNormParams {
            weight: &self.weight,
            bias: &self.bias,
            running_mean: &self.running_mean,
            running_var: &self.running_var,
            batches_tracked: Some(&self.batches_tracked),
        }
    }
}

impl Module for BatchNorm {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "batch_norm"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let inputs = ["weight", "bias", "running_mean", "running_var"]
            .iter()
            .map(|leaf| param(&self.name, leaf));
        Ok(e.op(
            &self.name,
            Op::BatchNorm {
                eps: self.eps,
                momentum: self.momentum,
            },
            std::iter::once(x.to_string()).chain(inputs).collect(),
        ))
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        batch_norm(x, &self.params(), self.eps, self.momentum, pass)
    }
}

/// The tensors of one batch norm (a layer's, or an imported graph's node's).
pub struct BatchNormParams<'a> {
    pub weight: &'a Var,
    pub bias: &'a Var,
    pub running_mean: &'a Var,
    pub running_var: &'a Var,
    /// PyTorch's `num_batches_tracked`, counted in training when the model has one.
    pub batches_tracked: Option<&'a Var>,
}

/// Batch norm over axis 1: running statistics in eval, batch statistics (and running-stat
/// updates with `momentum`, unbiased running variance) in train mode.
pub fn batch_norm(
    x: &Tensor,
    p: &BatchNormParams,
    eps: f64,
    momentum: f64,
    pass: &Pass,
) -> Result<Tensor> {
    let c = x.dim(1)?;
    // Broadcast shape of per-channel values: (1, C, 1, …).
    let mut shape = vec![1usize; x.rank()];
    shape[1] = c;
    let w = pass.param(p.weight).reshape(shape.as_slice())?;
    let b = pass.param(p.bias).reshape(shape.as_slice())?;
    if pass.train {
        // Statistics over every axis but the channel one.
        let n = x.elem_count() / c;
        let (y, mean_c, var_c) = if crate::tensor::portable::enabled(x) {
            let axes: Vec<usize> = (0..x.rank()).filter(|&a| a != 1).collect();
            let mean = x.mean_keepdim(axes.as_slice())?;
            let centred = x.broadcast_sub(&mean)?;
            let var = centred.sqr()?.mean_keepdim(axes.as_slice())?;
            let y = centred
                .broadcast_div(&(var.clone() + eps)?.sqrt()?)?
                .broadcast_mul(&w)?
                .broadcast_add(&b)?;
            (y, mean.flatten_all()?.detach(), var.flatten_all()?.detach())
        } else {
            let (w, b) = (pass.param(p.weight), pass.param(p.bias));
            let (y, mean, var) = crate::tensor::affine::batch_norm_train(x, &w, &b, eps)?;
            let per_channel = |v: Vec<f64>| Tensor::new(v, x.device())?.to_dtype(x.dtype());
            (y, per_channel(mean)?, per_channel(var)?)
        };
        // Running statistics: momentum update with the unbiased variance.
        let m = momentum;
        let var_c = (var_c * (n as f64 / (n.max(2) - 1) as f64))?;
        let rm = ((p.running_mean.as_tensor() * (1.0 - m))? + (mean_c * m)?)?;
        let rv = ((p.running_var.as_tensor() * (1.0 - m))? + (var_c * m)?)?;
        crate::tensor::assign(p.running_mean, &rm)?;
        crate::tensor::assign(p.running_var, &rv)?;
        if let Some(t) = p.batches_tracked {
            crate::tensor::assign(t, &(t.as_tensor() + 1.0)?)?;
        }
        Ok(y)
    } else if pass.grad_params {
        // Eval mode while training parameters (rare): keep the graph through w and b.
        let rm = pass.param(p.running_mean).reshape(shape.as_slice())?;
        let rv = pass.param(p.running_var).reshape(shape.as_slice())?;
        x.broadcast_sub(&rm)?
            .broadcast_div(&(rv + eps)?.sqrt()?)?
            .broadcast_mul(&w)?
            .broadcast_add(&b)
    } else {
        let (scale, shift) = eval_affine(p, eps)?;
        crate::tensor::affine::channel_affine(x, scale, shift)
    }
}

/// Eval-mode batch norm as y = x·α + β per channel, the way PyTorch's inference kernel computes
/// it: α = w/√(var+ε), β = b − mean·α (in f64).
fn eval_affine(p: &BatchNormParams, eps: f64) -> Result<(Vec<f64>, Vec<f64>)> {
    let v = |t: &Var| {
        t.as_tensor()
            .to_dtype(candle_core::DType::F64)
            .and_then(|t| t.to_vec1::<f64>())
    };
    let (wv, bv, mv, vv) = (
        v(p.weight)?,
        v(p.bias)?,
        v(p.running_mean)?,
        v(p.running_var)?,
    );
    let scale: Vec<f64> = wv
        .iter()
        .zip(&vv)
        .map(|(w, var)| w / (var + eps).sqrt())
        .collect();
    let shift: Vec<f64> = bv
        .iter()
        .zip(&mv)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    Ok((scale, shift))
}

/// A batch norm and the activation after it, with a ResNet block's identity added between them
/// where there is one: `call`ed as the layers they are, or, when nothing asks for the batch
/// norm's output (an eval pass that captures neither layer's output nor the activation's input,
/// and does not record shapes), as one op that keeps neither that output nor the sum for the
/// backward ([`affine_activation`](super::act::affine_activation)).
pub fn batch_norm_act(
    bn: &BatchNorm,
    act: &Act,
    x: &Tensor,
    residual: Option<&Tensor>,
    pass: &mut Pass,
) -> Result<Tensor> {
    let fused = !pass.train
        && !pass.grad_params
        && pass.record_shapes.is_none()
        && !pass.captures(&bn.name, false)
        && !pass.captures(&act.name, true)
        && !pass.captures(&act.name, false);
    if !fused {
        let h = super::module::call(bn, x, pass)?;
        let h = match residual {
            Some(r) => (h + r)?,
            None => h,
        };
        return super::module::call(act, &h, pass);
    }
    let x = pass.tap_input(&bn.name, x)?;
    let affine = eval_affine(&bn.params(), bn.eps)?;
    super::act::affine_activation(&x, affine, residual, act.kind, pass.rule, pass.samples)
}

/// A nonlinearity module (`nn.ReLU`, `nn.Softmax(dim=-1)`…): one rule-aware site per instance.
pub struct Act {
    pub name: String,
    pub kind: ActKind,
}

impl Act {
    pub fn new(b: &Builder, name: &str, kind: ActKind) -> Self {
        Act {
            name: b.full(name),
            kind,
        }
    }
}

impl Module for Act {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        self.kind.name()
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        Ok(e.op(&self.name, Op::Act(self.kind), vec![x.to_string()]))
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        pass.act(self.kind, x)
    }
}

/// `nn.MaxPool2d` with PyTorch's tie rule and a correct gradient.
pub struct MaxPool {
    pub name: String,
    pub pool: Pool2d,
}

impl Module for MaxPool {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "max_pool2d"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let p = self.pool;
        let end = p.padding_end();
        Ok(e.op(
            &self.name,
            Op::MaxPool {
                kernel: vec![p.kernel.0, p.kernel.1],
                strides: vec![p.stride.0, p.stride.1],
                pads: vec![p.padding.0, p.padding.1, end.0, end.1],
                auto_pad: AutoPad::NotSet,
                ceil_mode: false,
            },
            vec![x.to_string()],
        ))
    }
    fn forward(&self, x: &Tensor, _: &mut Pass) -> Result<Tensor> {
        max_pool2d(x, self.pool)
    }
}

/// `nn.AdaptiveAvgPool2d((h, w))`; (1, 1) is a global mean.
pub struct AdaptiveAvgPool {
    pub name: String,
    pub size: (usize, usize),
}

impl Module for AdaptiveAvgPool {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "adaptive_avg_pool2d"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        if self.size == (1, 1) {
            return Ok(e.op(&self.name, Op::GlobalAvgPool, vec![x.to_string()]));
        }
        let dims = e.input_shape(&self.name)?.to_vec();
        let (h, w) = (dims[2], dims[3]);
        if (h, w) == self.size {
            return Ok(e.op(&self.name, Op::Identity, vec![x.to_string()]));
        }
        // Each output cell the mean of its window (PyTorch's windows, which may overlap).
        let (wy, wx) = (
            crate::tensor::pool::adaptive_windows(h, self.size.0),
            crate::tensor::pool::adaptive_windows(w, self.size.1),
        );
        let axes = e.ints(&[2, 3]);
        let mut rows = Vec::with_capacity(wy.len());
        for &(y0, y1) in &wy {
            let mut cells = Vec::with_capacity(wx.len());
            for &(x0, x1) in &wx {
                let starts = e.ints(&[y0 as i64, x0 as i64]);
                let ends = e.ints(&[y1 as i64, x1 as i64]);
                let cell = e.op(
                    &self.name,
                    Op::Slice,
                    vec![x.to_string(), starts, ends, axes.clone()],
                );
                cells.push(e.op(
                    &self.name,
                    Op::Reduce {
                        op: super::graph::Reduce::Mean,
                        keepdims: true,
                        noop_with_empty_axes: false,
                    },
                    vec![cell, axes.clone()],
                ));
            }
            rows.push(e.op(&self.name, Op::Concat { axis: 3 }, cells));
        }
        Ok(e.op(&self.name, Op::Concat { axis: 2 }, rows))
    }
    fn forward(&self, x: &Tensor, _: &mut Pass) -> Result<Tensor> {
        if self.size == (1, 1) {
            return x.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2);
        }
        adaptive_avg_pool2d(x, self.size.0, self.size.1)
    }
}

/// `torch.flatten(x, start)`.
pub struct Flatten {
    pub name: String,
    pub start: usize,
}

impl Module for Flatten {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "flatten"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        Ok(e.op(
            &self.name,
            Op::Flatten {
                axis: self.start as i64,
            },
            vec![x.to_string()],
        ))
    }
    fn forward(&self, x: &Tensor, _: &mut Pass) -> Result<Tensor> {
        x.flatten_from(self.start)
    }
}

/// `nn.Dropout(p)`: identity in eval; in train mode a mask drawn from the seeded generator.
pub struct Dropout {
    pub name: String,
    pub p: f64,
}

impl Module for Dropout {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "dropout"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        // Exported graphs are inference graphs: dropout is the identity there.
        Ok(e.op(&self.name, Op::Identity, vec![x.to_string()]))
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        dropout(x, self.p, pass.train)
    }
}

/// Dropout with probability `p`: identity unless training; in training a mask drawn from the
/// seeded generator, kept values scaled by 1/(1 − p).
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Result<Tensor> {
    if !train || p == 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 - p;
    let u = crate::tensor::random::uniform_vec(x.elem_count(), 0.0, 1.0);
    let mask: Vec<f64> = u
        .into_iter()
        .map(|v| if v < keep { 1.0 / keep } else { 0.0 })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x * mask
}

/// Insert a size-1 dimension (`x.unsqueeze(dim)`).
pub struct Unsqueeze {
    pub name: String,
    pub dim: usize,
}

impl Module for Unsqueeze {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "unsqueeze"
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let axes = e.ints(&[self.dim as i64]);
        Ok(e.op(&self.name, Op::Unsqueeze, vec![x.to_string(), axes]))
    }
    fn forward(&self, x: &Tensor, _: &mut Pass) -> Result<Tensor> {
        x.unsqueeze(self.dim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_same_padding_matches_tensorflow() {
        // Stride 2 on an even size pads 0 before and 1 after; stride 1 pads 1 on both sides.
        assert_eq!(tf_same_pad(224, 3, 2), (0, 1));
        assert_eq!(tf_same_pad(112, 3, 1), (1, 1));
        assert_eq!(tf_same_pad(7, 3, 2), (1, 1));
    }
}
