//! The pretrained ImageNet MobileNets shipped with the project's data.
//!
//! * V1 (Keras, α = 0.25): layer names are Keras's (`conv1`, `conv_dw_3_bn`, `conv_preds`), with
//!   PyTorch parameter names and layouts (`weight` OIHW, `running_mean`…); [`keras_v1_weights`]
//!   converts the Keras file. TF "SAME" padding, batch-norm eps 1e-3, ReLU6 (or plain ReLU,
//!   `#{activation: "relu"}`, as PyTorch ports often have it).
//! * V2 (TFLite, BN folded): built from the op graph JSON; parameters `ops.N.weight/bias`;
//!   [`tflite_v2_weights`] converts the dequantised TFLite tensors.

use super::act::ActKind;
use super::graph::Op;
use super::graph::emit::Emitter;
use super::layers::{Act, BatchNorm, Conv2d, ConvSpec, batch_norm_act};
use super::module::{Module, call};
use super::params::Builder;
use super::pass::Pass;
use crate::error::{Error, Result};
use candle_core::{D, Result as CResult, Tensor};
use std::collections::HashMap;

/// Output channels and stride of V1's 13 depthwise-separable blocks at α = 1.
const V1_BLOCKS: [(usize, usize); 13] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
];
const V1_ALPHA_DIV: usize = 4; // α = 0.25

/// conv → BN → ReLU6 (or ReLU), named like Keras (`name`, `name_bn`, `name_relu`).
pub struct ConvBnRelu6 {
    pub conv: Conv2d,
    pub bn: BatchNorm,
    pub relu: Act,
}

impl ConvBnRelu6 {
    fn new(b: &mut Builder, name: &str, spec: ConvSpec, act: ActKind) -> CResult<Self> {
        let conv = Conv2d::new(b, name, spec.tf_same().no_bias())?;
        let bn = BatchNorm::new(b, &format!("{name}_bn"), spec.cout, 1e-3)?;
        let relu = Act::new(b, &format!("{name}_relu"), act);
        Ok(ConvBnRelu6 { conv, bn, relu })
    }

    fn run(&self, x: &Tensor, pass: &mut Pass) -> CResult<Tensor> {
        let h = call(&self.conv, x, pass)?;
        batch_norm_act(&self.bn, &self.relu, &h, None, pass)
    }
}

pub struct MobileNetV1 {
    pub units: Vec<ConvBnRelu6>,
    pub preds: Conv2d,
}

impl MobileNetV1 {
    pub fn new(b: &mut Builder, act: ActKind) -> CResult<Self> {
        let mut units = vec![ConvBnRelu6::new(
            b,
            "conv1",
            ConvSpec::new(3, 32 / V1_ALPHA_DIV, 3).stride(2),
            act,
        )?];
        let mut cin = 32 / V1_ALPHA_DIV;
        for (i, &(cout, stride)) in V1_BLOCKS.iter().enumerate() {
            let cout = cout / V1_ALPHA_DIV;
            let n = i + 1;
            units.push(ConvBnRelu6::new(
                b,
                &format!("conv_dw_{n}"),
                ConvSpec::new(cin, cin, 3).stride(stride).groups(cin),
                act,
            )?);
            units.push(ConvBnRelu6::new(
                b,
                &format!("conv_pw_{n}"),
                ConvSpec::new(cin, cout, 1),
                act,
            )?);
            cin = cout;
        }
        let preds = Conv2d::new(b, "conv_preds", ConvSpec::new(cin, 1000, 1))?;
        Ok(MobileNetV1 { units, preds })
    }
}

impl Module for MobileNetV1 {
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> &'static str {
        "mobilenet_v1"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> CResult<Tensor> {
        let mut h = x.clone();
        for u in &self.units {
            h = u.run(&h, pass)?;
        }
        let h = h.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
        call(&self.preds, &h, pass)?.flatten_from(1)
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut h = x.to_string();
        for u in &self.units {
            h = u.conv.emit(e, &h)?;
            h = u.bn.emit(e, &h)?;
            h = u.relu.emit(e, &h)?;
        }
        let h = e.op("", Op::GlobalAvgPool, vec![h]);
        let h = self.preds.emit(e, &h)?;
        Ok(e.op("", Op::Flatten { axis: 1 }, vec![h]))
    }
    fn children(&self) -> Vec<&dyn Module> {
        let mut v: Vec<&dyn Module> = Vec::new();
        for u in &self.units {
            v.push(&u.conv);
            v.push(&u.bn);
            v.push(&u.relu);
        }
        v.push(&self.preds);
        v
    }
}

/// Convert the Keras MobileNetV1 file (`conv1.kernel` HWIO, `conv1_bn.gamma`…) to this model's
/// PyTorch-style names and layouts.
pub fn keras_v1_weights(keras: &HashMap<String, Tensor>) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::new();
    for (k, t) in keras {
        let (layer, leaf) = k
            .rsplit_once('.')
            .ok_or_else(|| Error::Weights(format!("unexpected Keras key {k}")))?;
        let (name, t) = match leaf {
            "kernel" => (
                format!("{layer}.weight"),
                t.permute((3, 2, 0, 1))?.contiguous()?,
            ),
            "depthwise_kernel" => (
                format!("{layer}.weight"),
                t.permute((2, 3, 0, 1))?.contiguous()?,
            ),
            "bias" => (format!("{layer}.bias"), t.clone()),
            "gamma" => (format!("{layer}.weight"), t.clone()),
            "beta" => (format!("{layer}.bias"), t.clone()),
            "moving_mean" => (format!("{layer}.running_mean"), t.clone()),
            "moving_variance" => (format!("{layer}.running_var"), t.clone()),
            other => {
                return Err(Error::Weights(format!(
                    "unexpected Keras tensor kind '{other}' in {k}"
                )));
            }
        };
        out.insert(name, t);
    }
    Ok(out)
}

/// One op of the TFLite MobileNetV2 graph.
enum V2Op {
    Conv {
        conv: Conv2d,
        act: Option<Act>,
        input: Src,
    },
    Add {
        a: Src,
        b: Src,
    },
    GlobalPool {
        input: Src,
    },
    Flatten {
        input: Src,
    },
}

/// Where an op reads its input: the model input or an earlier op's output.
#[derive(Clone, Copy)]
enum Src {
    Input,
    Op(usize),
}

impl Src {
    fn from_index(i: i64, op: usize) -> CResult<Src> {
        match i {
            -1 => Ok(Src::Input),
            i if i >= 0 && (i as usize) < op => Ok(Src::Op(i as usize)),
            _ => candle_core::bail!(
                "graph: op {op} reads from op {i}, which does not come before it"
            ),
        }
    }
}

pub struct MobileNetV2 {
    ops: Vec<V2Op>,
}

/// gaxsh's compact op graph (written by `tools/mobilenet_v2_graph.py`).
#[derive(serde::Deserialize)]
struct Graph {
    ops: Vec<GraphOp>,
}

#[derive(serde::Deserialize)]
struct GraphOp {
    op: String,
    inputs: Vec<i64>,
    #[serde(default)]
    kernel: usize,
    #[serde(default)]
    cin: usize,
    #[serde(default)]
    cout: usize,
    #[serde(default)]
    stride: usize,
    #[serde(default)]
    act: u32,
    #[serde(default)]
    weight: String,
    #[serde(default)]
    bias: String,
}

/// The bundled op graph of MobileNetV2 1.0/224 (structure only; the weights come separately).
pub const V2_GRAPH: &str = include_str!("../../data/weights/mobilenet_v2_1.0_224/graph.json");

fn parse_graph(text: &str) -> Result<Graph> {
    let text = if text.is_empty() { V2_GRAPH } else { text };
    serde_json::from_str(text).map_err(|e| Error::invalid(format!("MobileNetV2 graph: {e}")))
}

impl MobileNetV2 {
    /// Build from a compact graph JSON text (`""` = the bundled graph).
    pub fn new(b: &mut Builder, graph: &str) -> CResult<Self> {
        let g = parse_graph(graph).map_err(super::layers::to_candle)?;
        let mut ops = Vec::new();
        let mut ob = b.sub("ops");
        for (i, o) in g.ops.iter().enumerate() {
            let input = |k: usize| -> CResult<Src> {
                let j = *o.inputs.get(k).ok_or_else(|| {
                    candle_core::Error::Msg(format!("graph: op {i} lacks input {k}"))
                })?;
                Src::from_index(j, i)
            };
            let op = match o.op.as_str() {
                "CONV_2D" | "DEPTHWISE_CONV_2D" => {
                    let spec = ConvSpec::new(o.cin, o.cout, o.kernel)
                        .stride(o.stride.max(1))
                        .tf_same();
                    let spec = if o.op == "DEPTHWISE_CONV_2D" {
                        spec.groups(o.cin)
                    } else {
                        spec
                    };
                    let name = i.to_string();
                    let conv = Conv2d::new(&mut ob, &name, spec)?;
                    let act = match o.act {
                        0 => None,
                        1 => Some(Act::new(&ob, &format!("{name}.act"), ActKind::Relu)),
                        3 => Some(Act::new(&ob, &format!("{name}.act"), ActKind::Relu6)),
                        other => candle_core::bail!("graph: unsupported fused activation {other}"),
                    };
                    V2Op::Conv {
                        conv,
                        act,
                        input: input(0)?,
                    }
                }
                "ADD" => V2Op::Add {
                    a: input(0)?,
                    b: input(1)?,
                },
                "AVERAGE_POOL_2D" => V2Op::GlobalPool { input: input(0)? },
                "RESHAPE" => V2Op::Flatten { input: input(0)? },
                other => candle_core::bail!("graph: unsupported op {other}"),
            };
            ops.push(op);
        }
        Ok(MobileNetV2 { ops })
    }

    pub fn first_conv_name(&self) -> String {
        self.ops
            .iter()
            .find_map(|o| match o {
                V2Op::Conv { conv, .. } => Some(conv.name.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }
}

impl Module for MobileNetV2 {
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> &'static str {
        "mobilenet_v2"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> CResult<Tensor> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.ops.len());
        let get = |s: Src, outs: &Vec<Tensor>| match s {
            Src::Input => x.clone(),
            Src::Op(i) => outs[i].clone(),
        };
        for op in &self.ops {
            let y = match op {
                V2Op::Conv { conv, act, input } => {
                    let h = call(conv, &get(*input, &outs), pass)?;
                    match act {
                        Some(a) => call(a, &h, pass)?,
                        None => h,
                    }
                }
                V2Op::Add { a, b } => (get(*a, &outs) + get(*b, &outs))?,
                V2Op::GlobalPool { input } => get(*input, &outs)
                    .mean_keepdim(D::Minus1)?
                    .mean_keepdim(D::Minus2)?,
                V2Op::Flatten { input } => get(*input, &outs).flatten_from(1)?,
            };
            outs.push(y);
        }
        outs.pop()
            .ok_or_else(|| candle_core::Error::Msg("empty graph".into()))
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut outs: Vec<String> = Vec::with_capacity(self.ops.len());
        let get = |s: Src, outs: &Vec<String>| match s {
            Src::Input => x.to_string(),
            Src::Op(i) => outs[i].clone(),
        };
        for op in &self.ops {
            let y = match op {
                V2Op::Conv { conv, act, input } => {
                    let h = conv.emit(e, &get(*input, &outs))?;
                    match act {
                        Some(a) => a.emit(e, &h)?,
                        None => h,
                    }
                }
                V2Op::Add { a, b } => e.op(
                    "",
                    Op::Binary(super::graph::Binary::Add),
                    vec![get(*a, &outs), get(*b, &outs)],
                ),
                V2Op::GlobalPool { input } => e.op("", Op::GlobalAvgPool, vec![get(*input, &outs)]),
                V2Op::Flatten { input } => {
                    e.op("", Op::Flatten { axis: 1 }, vec![get(*input, &outs)])
                }
            };
            outs.push(y);
        }
        outs.pop()
            .ok_or_else(|| crate::Error::invalid("empty graph"))
    }
    fn children(&self) -> Vec<&dyn Module> {
        let mut v: Vec<&dyn Module> = Vec::new();
        for op in &self.ops {
            if let V2Op::Conv { conv, act, .. } = op {
                v.push(conv);
                if let Some(a) = act {
                    v.push(a);
                }
            }
        }
        v
    }
}

/// Convert the dequantised TFLite tensors (OHWI kernels, 1HWC depthwise) to `ops.N.weight/bias`.
pub fn tflite_v2_weights(
    tfl: &HashMap<String, Tensor>,
    graph: &str,
) -> Result<HashMap<String, Tensor>> {
    let g = parse_graph(graph)?;
    let mut out = HashMap::new();
    for (i, o) in g.ops.iter().enumerate() {
        if o.op != "CONV_2D" && o.op != "DEPTHWISE_CONV_2D" {
            continue;
        }
        let get = |n: &str| {
            tfl.get(n)
                .ok_or_else(|| Error::Weights(format!("MobileNetV2: missing tensor {n}")))
        };
        let w = get(&o.weight)?;
        let w = if o.op == "CONV_2D" {
            w.permute((0, 3, 1, 2))?
        } else {
            w.permute((3, 0, 1, 2))?
        };
        out.insert(format!("ops.{i}.weight"), w.contiguous()?);
        out.insert(format!("ops.{i}.bias"), get(&o.bias)?.clone());
    }
    Ok(out)
}
