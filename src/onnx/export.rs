//! A model written as an ONNX file (opset 20, weights inside the file): the model's graph
//! (`nn::graph::emit` for built models, the imported graph as it is for imported ones) with
//! every parameter as an initializer under its `state_dict` name.

use super::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
    attribute_type, data_type,
};
use super::tensor::{encode_float, encode_ints};
use crate::error::{Error, Result};
use crate::nn::graph::emit::Emitter;
use crate::nn::graph::{AutoPad, CastTo, Constant, GraphSpec, NodeSpec, Op, ParamSpec};
use crate::nn::params::{Init, ParamKind};
use crate::nn::{ActKind, Model};
use crate::nn::{Pass, Rule};
use candle_core::{DType, Tensor};
use prost::Message;
use std::collections::HashMap;
use std::path::Path;

/// A model as a graph: an imported one as it is, any other by letting its modules emit their
/// forward passes (shapes from one dry run on zeros).
fn model_graph(model: &Model) -> Result<GraphSpec> {
    if let crate::nn::Arch::Graph(g) = &model.arch {
        return Ok((*g.spec).clone());
    }
    let mut dims = vec![1];
    dims.extend(&model.input_shape);
    let x = Tensor::zeros(dims.as_slice(), model.dtype, &model.device())?;
    let mut pass = Pass::eval(Rule::Plain);
    pass.record_shapes = Some(HashMap::new());
    model.forward(&x, &mut pass)?;
    let shapes = pass.record_shapes.take().unwrap_or_default();
    let mut e = Emitter::new(&shapes);
    let input = "input".to_string();
    let output = model.root.emit(&mut e, &input)?;
    let (nodes, constants) = e.into_parts();
    let used: std::collections::HashSet<&str> = nodes
        .iter()
        .flat_map(|n| n.inputs.iter().map(|s| s.as_str()))
        .collect();
    let mut params = Vec::new();
    for p in &model.params.entries {
        if !used.contains(p.name.as_str()) || p.kind == ParamKind::Counter {
            continue;
        }
        params.push(ParamSpec {
            name: p.name.clone(),
            dims: p.var.dims().to_vec(),
            kind: p.kind,
            init: Init::Const(0.0),
        });
    }
    let known: std::collections::HashSet<&str> = params
        .iter()
        .map(|p| p.name.as_str())
        .chain(constants.iter().map(|(n, _)| n.as_str()))
        .chain(
            nodes
                .iter()
                .flat_map(|n| n.outputs.iter().map(|s| s.as_str())),
        )
        .chain([input.as_str()])
        .collect();
    if let Some(missing) = used.iter().find(|u| !u.is_empty() && !known.contains(*u)) {
        return Err(Error::invalid(format!(
            "writing {} as a graph: '{missing}' is not a parameter of the model",
            model.arch.name()
        )));
    }
    Ok(GraphSpec {
        name: model.arch.name(),
        input,
        input_shape: model.input_shape.clone(),
        export_batch: None,
        output,
        batch_locked: false,
        nodes,
        params,
        constants,
        folded: Vec::new(),
    })
}

/// The opset the written files declare (the newest operator versions gaxsh's semantics follow:
/// `Gelu` and axes as inputs).
pub const OPSET: i64 = 20;
const IR_VERSION: i64 = 10;

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i,
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::FLOAT,
        f: f as f32,
        ..Default::default()
    }
}

fn attr_ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: v.iter().map(|&x| x as i64).collect(),
        ..Default::default()
    }
}

fn attr_string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::STRING,
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn auto_pad(a: AutoPad) -> Option<AttributeProto> {
    let s = match a {
        AutoPad::NotSet => return None,
        AutoPad::Valid => "VALID",
        AutoPad::SameUpper => "SAME_UPPER",
        AutoPad::SameLower => "SAME_LOWER",
    };
    Some(attr_string("auto_pad", s))
}

/// Convolution and pooling attributes shared by several operators.
fn window_attrs(
    kernel: Option<&[usize]>,
    strides: &[usize],
    pads: &[usize],
    pad: AutoPad,
) -> Vec<AttributeProto> {
    let mut a = Vec::new();
    if let Some(k) = kernel {
        a.push(attr_ints("kernel_shape", k));
    }
    if !strides.is_empty() {
        a.push(attr_ints("strides", strides));
    }
    match auto_pad(pad) {
        Some(p) => a.push(p),
        None if !pads.is_empty() => a.push(attr_ints("pads", pads)),
        None => {}
    }
    a
}

/// Writes nodes, adding the constants some operators need as inputs.
struct Writer {
    float_type: i32,
    dtype: DType,
    extra: Vec<super::proto::TensorProto>,
}

impl Writer {
    fn scalar(&mut self, node: &str, v: f64) -> Result<String> {
        let name = format!("{node}::{}", self.extra.len());
        let t = Tensor::new(v, &candle_core::Device::Cpu)?.to_dtype(self.dtype)?;
        self.extra.push(encode_float(&name, &t)?);
        Ok(name)
    }

    fn node(&mut self, n: &NodeSpec) -> Result<NodeProto> {
        let mut inputs = n.inputs.clone();
        let mut attribute = Vec::new();
        let op_type = match &n.op {
            Op::Conv {
                strides,
                pads,
                auto_pad,
                groups,
                dilations,
            } => {
                attribute = window_attrs(None, strides, pads, *auto_pad);
                attribute.push(attr_int("group", *groups as i64));
                if !dilations.is_empty() {
                    attribute.push(attr_ints("dilations", dilations));
                }
                "Conv"
            }
            Op::ConvTranspose {
                strides,
                pads,
                output_padding,
                groups,
                dilations,
            } => {
                attribute = window_attrs(None, strides, pads, AutoPad::NotSet);
                attribute.push(attr_int("group", *groups as i64));
                if !output_padding.is_empty() {
                    attribute.push(attr_ints("output_padding", output_padding));
                }
                if !dilations.is_empty() {
                    attribute.push(attr_ints("dilations", dilations));
                }
                "ConvTranspose"
            }
            Op::Gemm {
                alpha,
                beta,
                trans_a,
                trans_b,
            } => {
                attribute = vec![
                    attr_float("alpha", *alpha),
                    attr_float("beta", *beta),
                    attr_int("transA", *trans_a as i64),
                    attr_int("transB", *trans_b as i64),
                ];
                "Gemm"
            }
            Op::BatchNorm { eps, momentum } => {
                attribute = vec![
                    attr_float("epsilon", *eps),
                    attr_float("momentum", 1.0 - momentum),
                ];
                "BatchNormalization"
            }
            Op::LayerNorm { axis, eps } => {
                attribute = vec![attr_int("axis", *axis), attr_float("epsilon", *eps)];
                "LayerNormalization"
            }
            Op::Act(kind) => match kind {
                ActKind::LeakyRelu(a) | ActKind::Elu(a) => {
                    attribute = vec![attr_float("alpha", *a)];
                    n.op.kind()
                }
                ActKind::Relu6 => {
                    inputs = vec![
                        inputs[0].clone(),
                        self.scalar(&n.name, 0.0)?,
                        self.scalar(&n.name, 6.0)?,
                    ];
                    "Clip"
                }
                ActKind::Softmax => {
                    attribute = vec![attr_int("axis", -1)];
                    "Softmax"
                }
                _ => n.op.kind(),
            },
            Op::Softmax { axis } | Op::LogSoftmax { axis } => {
                attribute = vec![attr_int("axis", *axis)];
                n.op.kind()
            }
            Op::HardSigmoid { alpha, beta } => {
                attribute = vec![attr_float("alpha", *alpha), attr_float("beta", *beta)];
                "HardSigmoid"
            }
            Op::Gelu { tanh } => {
                attribute = vec![attr_string(
                    "approximate",
                    if *tanh { "tanh" } else { "none" },
                )];
                "Gelu"
            }
            Op::MaxPool {
                kernel,
                strides,
                pads,
                auto_pad,
                ceil_mode,
            } => {
                attribute = window_attrs(Some(kernel), strides, pads, *auto_pad);
                attribute.push(attr_int("ceil_mode", *ceil_mode as i64));
                "MaxPool"
            }
            Op::AvgPool {
                kernel,
                strides,
                pads,
                auto_pad,
                ceil_mode,
                count_include_pad,
            } => {
                attribute = window_attrs(Some(kernel), strides, pads, *auto_pad);
                attribute.push(attr_int("ceil_mode", *ceil_mode as i64));
                attribute.push(attr_int("count_include_pad", *count_include_pad as i64));
                "AveragePool"
            }
            Op::Reduce {
                keepdims,
                noop_with_empty_axes,
                ..
            } => {
                attribute = vec![
                    attr_int("keepdims", *keepdims as i64),
                    attr_int("noop_with_empty_axes", *noop_with_empty_axes as i64),
                ];
                n.op.kind()
            }
            Op::Shape { start, end } => {
                attribute = vec![attr_int("start", *start)];
                if let Some(e) = end {
                    attribute.push(attr_int("end", *e));
                }
                "Shape"
            }
            Op::Reshape { allowzero } => {
                attribute = vec![attr_int("allowzero", *allowzero as i64)];
                "Reshape"
            }
            Op::Flatten { axis } | Op::Concat { axis } | Op::Gather { axis } => {
                attribute = vec![attr_int("axis", *axis)];
                n.op.kind()
            }
            Op::Split { axis } => {
                attribute = vec![attr_int("axis", *axis)];
                if inputs.get(1).is_none_or(|s| s.is_empty()) {
                    attribute.push(attr_int("num_outputs", n.outputs.len() as i64));
                }
                "Split"
            }
            Op::Transpose { perm } => {
                if let Some(p) = perm {
                    attribute = vec![attr_ints("perm", p)];
                }
                "Transpose"
            }
            Op::ConstantOfShape { value, int } => {
                let t = if *int {
                    encode_ints("", &crate::nn::graph::Ints::vector(vec![*value as i64]))
                } else {
                    let t =
                        Tensor::new(&[*value], &candle_core::Device::Cpu)?.to_dtype(self.dtype)?;
                    encode_float("", &t)?
                };
                attribute = vec![AttributeProto {
                    name: "value".into(),
                    r#type: attribute_type::TENSOR,
                    t: Some(t),
                    ..Default::default()
                }];
                "ConstantOfShape"
            }
            Op::Cast { to } => {
                let t = match to {
                    CastTo::Float => self.float_type,
                    CastTo::Int => data_type::INT64,
                    CastTo::Bool => data_type::BOOL,
                };
                attribute = vec![attr_int("to", t as i64)];
                "Cast"
            }
            Op::Dropout { .. } => "Identity",
            other => other.kind(),
        };
        Ok(NodeProto {
            name: n.name.clone(),
            op_type: op_type.into(),
            input: inputs,
            output: n.outputs.clone(),
            attribute,
            ..Default::default()
        })
    }
}

fn value_info(name: &str, elem_type: i32, dims: &[Option<usize>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            dim_value: d.map(|v| v as i64),
                            dim_param: d.is_none().then(|| "batch".to_string()),
                            ..Default::default()
                        })
                        .collect(),
                }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The model as an ONNX `ModelProto`.
pub fn to_proto(model: &Model) -> Result<ModelProto> {
    let spec: GraphSpec = model_graph(model)?;
    let float_type = match model.dtype {
        DType::F64 => data_type::DOUBLE,
        _ => data_type::FLOAT,
    };
    let dtype = if float_type == data_type::DOUBLE {
        DType::F64
    } else {
        DType::F32
    };
    let mut w = Writer {
        float_type,
        dtype,
        extra: Vec::new(),
    };
    let node = spec
        .nodes
        .iter()
        .map(|n| w.node(n))
        .collect::<Result<Vec<_>>>()?;
    let state = model.state_dict();
    let mut initializer = Vec::new();
    for p in &spec.params {
        let t = state
            .get(&p.name)
            .ok_or_else(|| Error::invalid(format!("the model has no parameter '{}'", p.name)))?;
        initializer.push(encode_float(&p.name, &t.to_dtype(dtype)?)?);
    }
    for (name, c) in &spec.constants {
        initializer.push(match c {
            Constant::Int(v) => encode_ints(name, v),
            Constant::Float { dims, data } => encode_float(
                name,
                &Tensor::from_slice(data, dims.as_slice(), &candle_core::Device::Cpu)?
                    .to_dtype(dtype)?,
            )?,
        });
    }
    initializer.extend(w.extra);
    let mut input_dims = vec![None];
    input_dims.extend(spec.input_shape.iter().map(|&d| Some(d)));
    Ok(ModelProto {
        metadata_props: metadata(model, &spec)?,
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "gaxsh".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            name: spec.name.clone(),
            node,
            initializer,
            input: vec![value_info(&spec.input, float_type, &input_dims)],
            output: vec![value_info(
                &spec.output,
                float_type,
                &[None, Some(model.classes)],
            )],
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// What gaxsh knows about the model beyond the graph, for `load_onnx` to restore: the default
/// Grad-CAM layer (as the node that computes it) and the class names.
fn metadata(model: &Model, spec: &GraphSpec) -> Result<Vec<StringStringEntryProto>> {
    let mut out = Vec::new();
    if let Some(cam) = &model.cam_layer {
        // A graph's layers are its nodes; a built model's layer is a module, whose output is
        // its last node and whose input is its first node's.
        let node = if matches!(model.arch, crate::nn::Arch::Graph(_)) {
            Some(cam.name.clone())
        } else {
            let inside = |n: &&NodeSpec| {
                n.module == cam.name || n.module.starts_with(&format!("{}.", cam.name))
            };
            if cam.input {
                spec.nodes.iter().find(inside)
            } else {
                spec.nodes.iter().rfind(inside)
            }
            .map(|n| n.name.clone())
        };
        if let Some(node) = node {
            out.push(entry(CAM_LAYER, &node));
            out.push(entry(
                CAM_LAYER_INPUT,
                if cam.input { "true" } else { "false" },
            ));
        }
    }
    if let crate::nn::Arch::Graph(g) = &model.arch
        && !g.class_names.is_empty()
    {
        let names = serde_json::to_string(&g.class_names)
            .map_err(|e| Error::invalid(format!("class names: {e}")))?;
        out.push(entry(CLASS_NAMES, &names));
    }
    Ok(out)
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.into(),
        value: value.into(),
    }
}

/// Metadata keys gaxsh writes and reads.
pub const CAM_LAYER: &str = "gaxsh.cam_layer";
pub const CAM_LAYER_INPUT: &str = "gaxsh.cam_layer_input";
pub const CLASS_NAMES: &str = "gaxsh.class_names";

/// Write the model as an ONNX file (atomically: never a half-written file).
pub fn save_onnx(model: &Model, path: &Path) -> Result<()> {
    let proto = to_proto(model)?;
    let len = proto.encoded_len();
    // Protobuf messages are limited to 2 GiB; larger models would need external data files.
    if len >= i32::MAX as usize {
        return Err(Error::invalid(format!(
            "the model is {len} bytes as ONNX, beyond protobuf's 2 GiB limit"
        )));
    }
    crate::io::write_atomic(path, &proto.encode_to_vec())
}
