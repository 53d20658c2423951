//! An ONNX `ModelProto` becomes a [`GraphSpec`] and its weights: every node translated into
//! gaxsh's operation vocabulary (older opsets' attribute forms rewritten into the inputs newer
//! ones read), initializers split into trainable parameters, buffers and constants, and each
//! node given the PyTorch module path it came from (for Grad-CAM's `layer:`).

use super::proto::{AttributeProto, GraphProto, NodeProto, data_type};
use super::tensor::{Decoded, decode};
use crate::error::{Error, Result};
use crate::nn::ActKind;
use crate::nn::graph::{
    AutoPad, Binary, CastTo, Constant, GraphSpec, Ints, NodeSpec, Op, ParamSpec, Reduce, Unary,
};
use crate::nn::params::{Init, ParamKind};
use candle_core::{DType, Tensor};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The operators gaxsh runs (ONNX's default domain), for error messages and the docs.
pub const SUPPORTED: &[&str] = &[
    "Abs",
    "Add",
    "And",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Ceil",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "Cos",
    "Div",
    "Dropout",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "GatherND",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "Not",
    "Or",
    "Pad",
    "Pow",
    "PRelu",
    "Range",
    "Reciprocal",
    "ReduceL2",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Sin",
    "Size",
    "Slice",
    "Softmax",
    "Softplus",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Tile",
    "Transpose",
    "Unsqueeze",
    "Where",
];

/// What the caller may fix that the file leaves open.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// One sample's shape, when the graph's input dimensions are symbolic.
    pub input_shape: Option<Vec<usize>>,
    /// Which graph output holds the logits (when there are several).
    pub output: Option<String>,
}

/// The graph's structure and the initial values of its parameters.
pub struct Imported {
    pub spec: GraphSpec,
    pub weights: HashMap<String, Tensor>,
    /// The float type of the graph's input (f32 or f64).
    pub input_dtype: DType,
}

/// One node's attributes by name.
struct Attrs<'a> {
    node: &'a NodeProto,
    map: HashMap<&'a str, &'a AttributeProto>,
}

impl<'a> Attrs<'a> {
    fn new(node: &'a NodeProto) -> Self {
        Attrs {
            node,
            map: node
                .attribute
                .iter()
                .map(|a| (a.name.as_str(), a))
                .collect(),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.map.get(name).map(|a| a.i).unwrap_or(default)
    }

    fn float(&self, name: &str, default: f64) -> f64 {
        self.map.get(name).map(|a| a.f as f64).unwrap_or(default)
    }

    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.map.get(name).map(|a| a.ints.clone())
    }

    fn usizes(&self, name: &str) -> Result<Vec<usize>> {
        self.ints(name)
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                usize::try_from(v).map_err(|_| {
                    Error::invalid(format!(
                        "node '{}' ({}): attribute {name} has a negative value {v}",
                        self.node.name, self.node.op_type
                    ))
                })
            })
            .collect()
    }

    fn string(&self, name: &str) -> Option<String> {
        self.map
            .get(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    fn auto_pad(&self) -> Result<AutoPad> {
        Ok(match self.string("auto_pad").as_deref() {
            None | Some("NOTSET") | Some("") => AutoPad::NotSet,
            Some("VALID") => AutoPad::Valid,
            Some("SAME_UPPER") => AutoPad::SameUpper,
            Some("SAME_LOWER") => AutoPad::SameLower,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "node '{}': auto_pad '{other}' (valid: NOTSET, VALID, SAME_UPPER, SAME_LOWER)",
                    self.node.name
                )));
            }
        })
    }
}

/// The module path of a node: from the dynamo exporter's `name_scopes` metadata, or from the
/// TorchScript exporter's scoped name (`/features/features.1/block/block.3/MatMul` →
/// `features.1.block.3`: a segment that extends the previous one is a container's child).
fn module_path(node: &NodeProto) -> String {
    if let Some(p) = node
        .metadata_props
        .iter()
        .find(|p| p.key == "pkg.torch.onnx.name_scopes")
    {
        let items: Vec<&str> = p
            .value
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"'))
            .collect();
        if items.len() >= 2 {
            return items[items.len() - 2].to_string();
        }
        return String::new();
    }
    if !node.name.starts_with('/') {
        return String::new();
    }
    let segments: Vec<&str> = node.name.split('/').filter(|s| !s.is_empty()).collect();
    let mut full = String::new();
    let mut last = "";
    for s in &segments[..segments.len().saturating_sub(1)] {
        if !last.is_empty() && s.starts_with(&format!("{last}.")) {
            full.push_str(&s[last.len()..]);
        } else if full.is_empty() {
            full = s.to_string();
        } else {
            full = format!("{full}.{s}");
        }
        last = s;
    }
    full
}

/// Which inputs of an op are weights (trainable even when they hold one number), and which are
/// running statistics.
fn weight_slot(op_type: &str, input: usize) -> Option<ParamKind> {
    match (op_type, input) {
        ("Conv" | "ConvTranspose" | "Gemm" | "LayerNormalization" | "PRelu", 1 | 2) => {
            Some(ParamKind::Trainable)
        }
        ("MatMul", 0 | 1) => Some(ParamKind::Trainable),
        ("BatchNormalization", 1 | 2) => Some(ParamKind::Trainable),
        ("BatchNormalization", 3 | 4) => Some(ParamKind::Buffer),
        _ => None,
    }
}

struct Builder<'a> {
    dir: &'a Path,
    opset: i64,
    nodes: Vec<NodeSpec>,
    constants: Vec<(String, Constant)>,
    /// Float initializers and float `Constant` nodes, until they are classified.
    floats: HashMap<String, Tensor>,
    names: HashSet<String>,
    counter: usize,
}

impl Builder<'_> {
    /// A fresh value name for tensors the importer adds (attribute forms made inputs).
    fn fresh(&mut self, hint: &str) -> String {
        loop {
            self.counter += 1;
            let n = format!("{hint}::{}", self.counter);
            if self.names.insert(n.clone()) {
                return n;
            }
        }
    }

    fn int_const(&mut self, hint: &str, v: Vec<i64>) -> String {
        let name = self.fresh(hint);
        self.constants
            .push((name.clone(), Constant::Int(Ints::vector(v))));
        name
    }

    fn float_const(&mut self, hint: &str, v: f64) -> String {
        let name = self.fresh(hint);
        self.constants.push((
            name.clone(),
            Constant::Float {
                dims: vec![],
                data: vec![v],
            },
        ));
        name
    }

    fn add_decoded(&mut self, name: &str, d: Decoded) {
        match d {
            Decoded::Float(t) => {
                self.floats.insert(name.to_string(), t);
            }
            Decoded::Int(v) => self.constants.push((name.to_string(), Constant::Int(v))),
        }
    }

    fn push(
        &mut self,
        name: String,
        module: &str,
        op: Op,
        inputs: Vec<String>,
        outputs: Vec<String>,
    ) {
        self.nodes.push(NodeSpec {
            name,
            module: module.to_string(),
            op,
            inputs,
            outputs,
        });
    }
}

/// The float value of a constant tensor input, if it is one (for `Clip(0, 6)` → ReLU6).
fn const_scalar(b: &Builder, name: &str) -> Option<f64> {
    let t = b.floats.get(name)?;
    if t.elem_count() != 1 {
        return None;
    }
    t.flatten_all()
        .ok()?
        .to_dtype(DType::F64)
        .ok()?
        .to_vec1::<f64>()
        .ok()
        .map(|v| v[0])
}

/// Translate the graph.
pub fn import_graph(
    graph: &GraphProto,
    opset: i64,
    dir: &Path,
    opts: &ImportOptions,
    source: &str,
) -> Result<Imported> {
    let mut b = Builder {
        dir,
        opset,
        nodes: Vec::new(),
        constants: Vec::new(),
        floats: HashMap::new(),
        names: HashSet::new(),
        counter: 0,
    };
    if !graph.sparse_initializer.is_empty() {
        return Err(Error::Unsupported(format!("{source}: sparse initializers")));
    }
    let mut initializer_names = HashSet::new();
    for t in &graph.initializer {
        let d = decode(t, b.dir).map_err(|e| Error::invalid(format!("{source}: {e}")))?;
        initializer_names.insert(t.name.clone());
        b.names.insert(t.name.clone());
        b.add_decoded(&t.name, d);
    }
    // The model input: the one graph input that is not an initializer.
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !initializer_names.contains(&i.name))
        .collect();
    let input = match inputs.as_slice() {
        [one] => *one,
        [] => return Err(Error::invalid(format!("{source}: the graph has no input"))),
        many => {
            return Err(Error::invalid(format!(
                "{source}: the graph has {} inputs ({}); gaxsh models take one input tensor",
                many.len(),
                many.iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let tensor_type = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| {
            Error::invalid(format!("{source}: input '{}' is not a tensor", input.name))
        })?;
    let input_dtype = match tensor_type.elem_type {
        data_type::FLOAT | data_type::FLOAT16 | data_type::BFLOAT16 => DType::F32,
        data_type::DOUBLE => DType::F64,
        other => {
            return Err(Error::invalid(format!(
                "{source}: input '{}' is {}; gaxsh models take float inputs",
                input.name,
                data_type::name(other)
            )));
        }
    };
    let declared: Vec<Option<usize>> = tensor_type
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| {
                    d.dim_value
                        .and_then(|v| usize::try_from(v).ok())
                        .filter(|&v| v > 0)
                })
                .collect()
        })
        .unwrap_or_default();
    if declared.is_empty() {
        return Err(Error::invalid(format!(
            "{source}: input '{}' has no declared shape; give input_shape",
            input.name
        )));
    }
    let export_batch = declared[0];
    let input_shape = match &opts.input_shape {
        Some(s) => {
            if s.len() + 1 != declared.len() {
                return Err(Error::invalid(format!(
                    "{source}: input_shape {s:?} has {} axes, the graph's input has {} besides the batch",
                    s.len(),
                    declared.len() - 1
                )));
            }
            s.clone()
        }
        None => declared[1..]
            .iter()
            .map(|d| {
                d.ok_or_else(|| {
                    Error::invalid(format!(
                        "{source}: input '{}' has symbolic dimensions {:?}; give input_shape (one sample's shape)",
                        input.name,
                        declared
                    ))
                })
            })
            .collect::<Result<_>>()?,
    };
    b.names.insert(input.name.clone());
    // The output.
    let output = match &opts.output {
        Some(o) => {
            if !graph.output.iter().any(|g| &g.name == o) {
                return Err(Error::unknown(
                    "output",
                    o,
                    &graph
                        .output
                        .iter()
                        .map(|g| g.name.as_str())
                        .collect::<Vec<_>>(),
                ));
            }
            o.clone()
        }
        None => match graph.output.as_slice() {
            [one] => one.name.clone(),
            [] => return Err(Error::invalid(format!("{source}: the graph has no output"))),
            many => {
                return Err(Error::invalid(format!(
                    "{source}: the graph has {} outputs ({}); give output: the one holding the logits",
                    many.len(),
                    many.iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        },
    };
    // Node names unique and non-empty; every value written once.
    let mut node_names = HashSet::new();
    let mut written: HashSet<String> = initializer_names.clone();
    written.insert(input.name.clone());
    for (i, node) in graph.node.iter().enumerate() {
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(Error::invalid(format!(
                "{source}: node '{}' uses operator {}::{}; only ONNX's default domain is supported",
                node.name, node.domain, node.op_type
            )));
        }
        let mut name = if node.name.is_empty() {
            format!("{}_{i}", node.op_type)
        } else {
            node.name.clone()
        };
        while !node_names.insert(name.clone()) {
            name = format!("{name}_{i}");
        }
        for o in node.outputs_nonempty() {
            if !written.insert(o.clone()) {
                return Err(Error::invalid(format!(
                    "{source}: value '{o}' is written twice (node '{name}')"
                )));
            }
            b.names.insert(o.clone());
        }
        translate(&mut b, node, name).map_err(|e| Error::invalid(format!("{source}: {e}")))?;
    }
    // TorchScript's exporter renames the weights it rewrites (`onnx::Conv_193`): such a
    // convolution absorbed the batch norm after it, and its output is no longer its module's.
    let mut folded = Vec::new();
    for n in &b.nodes {
        if matches!(n.op, Op::Conv { .. })
            && !n.module.is_empty()
            && n.inputs.get(1).is_some_and(|w| w.starts_with("onnx::"))
        {
            folded.push((n.module.clone(), n.name.clone()));
        }
    }
    let (params, weights, constants) = classify(&b)?;
    let mut all_constants = b.constants;
    all_constants.extend(constants);
    Ok(Imported {
        spec: GraphSpec {
            name: graph_name(graph, source),
            input: input.name.clone(),
            input_shape,
            export_batch,
            output,
            batch_locked: false,
            nodes: b.nodes,
            params,
            constants: all_constants,
            folded,
        },
        weights,
        input_dtype,
    })
}

fn graph_name(graph: &GraphProto, source: &str) -> String {
    Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| graph.name.clone())
}

trait NonEmptyOutputs {
    fn outputs_nonempty(&self) -> Vec<String>;
}

impl NonEmptyOutputs for NodeProto {
    fn outputs_nonempty(&self) -> Vec<String> {
        self.output
            .iter()
            .filter(|o| !o.is_empty())
            .cloned()
            .collect()
    }
}

/// Split float tensors into parameters (weights by slot, or anything with more than one
/// element), buffers (batch-norm statistics) and constants (scalars elsewhere).
#[allow(clippy::type_complexity)]
fn classify(
    b: &Builder,
) -> Result<(
    Vec<ParamSpec>,
    HashMap<String, Tensor>,
    Vec<(String, Constant)>,
)> {
    let mut kind_of: HashMap<&str, ParamKind> = HashMap::new();
    let mut used: HashSet<&str> = HashSet::new();
    for n in &b.nodes {
        let op_type = n.op.kind();
        for (i, x) in n.inputs.iter().enumerate() {
            used.insert(x.as_str());
            if let Some(k) = weight_slot(op_type, i) {
                // A tensor used both as a statistic and as a weight is trained.
                let e = kind_of.entry(x.as_str()).or_insert(k);
                if k == ParamKind::Trainable {
                    *e = k;
                }
            }
        }
    }
    let mut names: Vec<&String> = b.floats.keys().collect();
    names.sort();
    let (mut params, mut weights, mut constants) = (Vec::new(), HashMap::new(), Vec::new());
    for name in names {
        if !used.contains(name.as_str()) {
            continue;
        }
        let t = &b.floats[name];
        let kind = kind_of
            .get(name.as_str())
            .copied()
            .or(if t.elem_count() > 1 {
                Some(ParamKind::Trainable)
            } else {
                None
            });
        match kind {
            Some(kind) => {
                let dims = t.dims().to_vec();
                let init = match kind {
                    ParamKind::Buffer => {
                        Init::Const(if name_ends(name, "var") { 1.0 } else { 0.0 })
                    }
                    _ if dims.len() >= 2 => Init::Uniform {
                        fan_in: dims[1..].iter().product(),
                    },
                    _ => Init::Uniform {
                        fan_in: dims.first().copied().unwrap_or(1),
                    },
                };
                params.push(ParamSpec {
                    name: name.clone(),
                    dims,
                    kind,
                    init,
                });
                weights.insert(name.clone(), t.clone());
            }
            None => {
                let data = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
                constants.push((
                    name.clone(),
                    Constant::Float {
                        dims: t.dims().to_vec(),
                        data,
                    },
                ));
            }
        }
    }
    Ok((params, weights, constants))
}

fn name_ends(name: &str, suffix: &str) -> bool {
    name.to_ascii_lowercase().ends_with(suffix)
}

/// Translate one node, appending it (and any constants it needs) to the builder.
fn translate(b: &mut Builder, node: &NodeProto, name: String) -> Result<()> {
    let a = Attrs::new(node);
    let module = module_path(node);
    let inputs: Vec<String> = node.input.clone();
    let outputs: Vec<String> = node.output.clone();
    let ctx = |msg: String| Error::invalid(format!("node '{name}' ({}): {msg}", node.op_type));
    let opset = b.opset;
    // Attribute forms of inputs (older opsets) appended as constant inputs.
    let with = |b: &mut Builder, mut ins: Vec<String>, extra: Vec<Option<Vec<i64>>>| {
        for (k, e) in extra.into_iter().enumerate() {
            let slot = 1 + k;
            while ins.len() < slot {
                ins.push(String::new());
            }
            if let Some(v) = e {
                let c = b.int_const(&name, v);
                if ins.len() == slot {
                    ins.push(c);
                } else {
                    ins[slot] = c;
                }
            }
        }
        ins
    };
    let op = match node.op_type.as_str() {
        "Constant" => {
            let out = outputs.first().cloned().unwrap_or_default();
            let decoded = if let Some(t) = a.map.get("value").and_then(|x| x.t.as_ref()) {
                decode(t, b.dir)?
            } else if a.has("value_float") {
                Decoded::Float(Tensor::new(
                    a.float("value_float", 0.0) as f32,
                    &candle_core::Device::Cpu,
                )?)
            } else if let Some(v) = a.map.get("value_floats") {
                Decoded::Float(Tensor::new(v.floats.as_slice(), &candle_core::Device::Cpu)?)
            } else if a.has("value_int") {
                Decoded::Int(Ints::scalar(a.int("value_int", 0)))
            } else if let Some(v) = a.ints("value_ints") {
                Decoded::Int(Ints::vector(v))
            } else {
                return Err(ctx("a Constant without a supported value attribute".into()));
            };
            b.add_decoded(&out, decoded);
            return Ok(());
        }
        "Conv" => Op::Conv {
            strides: a.usizes("strides")?,
            pads: a.usizes("pads")?,
            auto_pad: a.auto_pad()?,
            groups: a.int("group", 1).max(1) as usize,
            dilations: a.usizes("dilations")?,
        },
        "ConvTranspose" => {
            if a.has("output_shape") {
                return Err(ctx("output_shape is not supported; give pads".into()));
            }
            if !matches!(a.auto_pad()?, AutoPad::NotSet | AutoPad::Valid) {
                return Err(ctx("auto_pad SAME is not supported on ConvTranspose".into()));
            }
            Op::ConvTranspose {
                strides: a.usizes("strides")?,
                pads: a.usizes("pads")?,
                output_padding: a.usizes("output_padding")?,
                groups: a.int("group", 1).max(1) as usize,
                dilations: a.usizes("dilations")?,
            }
        }
        "Gemm" => Op::Gemm {
            alpha: a.float("alpha", 1.0),
            beta: a.float("beta", 1.0),
            trans_a: a.int("transA", 0) != 0,
            trans_b: a.int("transB", 0) != 0,
        },
        "MatMul" => Op::MatMul,
        "BatchNormalization" => {
            if a.int("training_mode", 0) != 0 || outputs.iter().skip(1).any(|o| !o.is_empty()) {
                return Err(ctx(
                    "batch norm in training mode (running-statistics outputs) is not supported; export in eval mode".into(),
                ));
            }
            Op::BatchNorm {
                eps: a.float("epsilon", 1e-5),
                momentum: 1.0 - a.float("momentum", 0.9),
            }
        }
        "LayerNormalization" => Op::LayerNorm {
            axis: a.int("axis", -1),
            eps: a.float("epsilon", 1e-5),
        },
        "Relu" => Op::Act(ActKind::Relu),
        "LeakyRelu" => Op::Act(ActKind::LeakyRelu(a.float("alpha", 0.01))),
        "Elu" => Op::Act(ActKind::Elu(a.float("alpha", 1.0))),
        "Sigmoid" => Op::Act(ActKind::Sigmoid),
        "Tanh" => Op::Act(ActKind::Tanh),
        "Softplus" => Op::Act(ActKind::Softplus),
        "Softmax" | "LogSoftmax" if opset < 13 => {
            // Before opset 13 these flatten to 2-D at `axis` (default 1) first.
            let axis = a.int("axis", 1);
            let x = inputs.first().cloned().unwrap_or_default();
            let (shape, flat, soft) = (b.fresh(&name), b.fresh(&name), b.fresh(&name));
            b.push(
                format!("{name}::shape"),
                &module,
                Op::Shape {
                    start: 0,
                    end: None,
                },
                vec![x.clone()],
                vec![shape.clone()],
            );
            b.push(
                format!("{name}::flatten"),
                &module,
                Op::Flatten { axis },
                vec![x],
                vec![flat.clone()],
            );
            let op = if node.op_type == "Softmax" {
                Op::Softmax { axis: -1 }
            } else {
                Op::LogSoftmax { axis: -1 }
            };
            b.push(name.clone(), &module, op, vec![flat], vec![soft.clone()]);
            b.push(
                format!("{name}::reshape"),
                &module,
                Op::Reshape { allowzero: false },
                vec![soft, shape],
                outputs,
            );
            return Ok(());
        }
        "Softmax" => Op::Softmax {
            axis: a.int("axis", -1),
        },
        "LogSoftmax" => Op::LogSoftmax {
            axis: a.int("axis", -1),
        },
        "Clip" => {
            let ins = if opset < 11 {
                let mut ins = vec![inputs.first().cloned().unwrap_or_default()];
                ins.push(if a.has("min") {
                    b.float_const(&name, a.float("min", 0.0))
                } else {
                    String::new()
                });
                ins.push(if a.has("max") {
                    b.float_const(&name, a.float("max", 0.0))
                } else {
                    String::new()
                });
                ins
            } else {
                inputs.clone()
            };
            let lo = ins.get(1).and_then(|n| const_scalar(b, n));
            let hi = ins.get(2).and_then(|n| const_scalar(b, n));
            if lo == Some(0.0) && hi == Some(6.0) {
                // nn.ReLU6.
                b.push(
                    name,
                    &module,
                    Op::Act(ActKind::Relu6),
                    vec![ins[0].clone()],
                    outputs,
                );
            } else {
                b.push(name, &module, Op::Clip, ins, outputs);
            }
            return Ok(());
        }
        "HardSigmoid" => Op::HardSigmoid {
            alpha: a.float("alpha", 0.2),
            beta: a.float("beta", 0.5),
        },
        "HardSwish" => Op::HardSwish,
        "Gelu" => Op::Gelu {
            tanh: a.string("approximate").as_deref() == Some("tanh"),
        },
        "PRelu" => {
            // x for x > 0, slope·x otherwise: relu(x) − slope·relu(−x), ordinary gradients.
            let x = inputs.first().cloned().unwrap_or_default();
            let slope = inputs.get(1).cloned().unwrap_or_default();
            let (neg, pos, negrelu, scaled) = (
                b.fresh(&name),
                b.fresh(&name),
                b.fresh(&name),
                b.fresh(&name),
            );
            b.push(
                format!("{name}::neg"),
                &module,
                Op::Unary(Unary::Neg),
                vec![x.clone()],
                vec![neg.clone()],
            );
            let zero = b.float_const(&name, 0.0);
            b.push(
                format!("{name}::pos"),
                &module,
                Op::Binary(Binary::Max),
                vec![x, zero.clone()],
                vec![pos.clone()],
            );
            b.push(
                format!("{name}::negpart"),
                &module,
                Op::Binary(Binary::Max),
                vec![neg, zero],
                vec![negrelu.clone()],
            );
            b.push(
                format!("{name}::scale"),
                &module,
                Op::Binary(Binary::Mul),
                vec![slope, negrelu],
                vec![scaled.clone()],
            );
            b.push(
                name,
                &module,
                Op::Binary(Binary::Sub),
                vec![pos, scaled],
                outputs,
            );
            return Ok(());
        }
        "MaxPool" | "AveragePool" => {
            if a.usizes("dilations")?.iter().any(|&d| d != 1) {
                return Err(ctx("dilations are not supported".into()));
            }
            if node.op_type == "MaxPool" && outputs.iter().skip(1).any(|o| !o.is_empty()) {
                return Err(ctx("the indices output is not supported".into()));
            }
            let kernel = a.usizes("kernel_shape")?;
            if kernel.is_empty() {
                return Err(ctx("kernel_shape is required".into()));
            }
            let (strides, pads, auto_pad, ceil_mode) = (
                a.usizes("strides")?,
                a.usizes("pads")?,
                a.auto_pad()?,
                a.int("ceil_mode", 0) != 0,
            );
            if node.op_type == "MaxPool" {
                Op::MaxPool {
                    kernel,
                    strides,
                    pads,
                    auto_pad,
                    ceil_mode,
                }
            } else {
                Op::AvgPool {
                    kernel,
                    strides,
                    pads,
                    auto_pad,
                    ceil_mode,
                    count_include_pad: a.int("count_include_pad", 0) != 0,
                }
            }
        }
        "GlobalAveragePool" => Op::GlobalAvgPool,
        "GlobalMaxPool" => Op::GlobalMaxPool,
        "Sqrt" => Op::Unary(Unary::Sqrt),
        "Exp" => Op::Unary(Unary::Exp),
        "Log" => Op::Unary(Unary::Log),
        "Abs" => Op::Unary(Unary::Abs),
        "Neg" => Op::Unary(Unary::Neg),
        "Reciprocal" => Op::Unary(Unary::Reciprocal),
        "Erf" => Op::Unary(Unary::Erf),
        "Floor" => Op::Unary(Unary::Floor),
        "Ceil" => Op::Unary(Unary::Ceil),
        "Sin" => Op::Unary(Unary::Sin),
        "Cos" => Op::Unary(Unary::Cos),
        "Not" => Op::Unary(Unary::Not),
        "Add" => Op::Binary(Binary::Add),
        "Sub" => Op::Binary(Binary::Sub),
        "Mul" => Op::Binary(Binary::Mul),
        "Div" => Op::Binary(Binary::Div),
        "Pow" => Op::Binary(Binary::Pow),
        "Mod" => Op::Binary(Binary::Mod),
        "Equal" => Op::Binary(Binary::Equal),
        "Less" => Op::Binary(Binary::Less),
        "LessOrEqual" => Op::Binary(Binary::LessOrEqual),
        "Greater" => Op::Binary(Binary::Greater),
        "GreaterOrEqual" => Op::Binary(Binary::GreaterOrEqual),
        "And" => Op::Binary(Binary::And),
        "Or" => Op::Binary(Binary::Or),
        "Sum" => Op::Variadic {
            op: Binary::Add,
            mean: false,
        },
        "Mean" => Op::Variadic {
            op: Binary::Add,
            mean: true,
        },
        "Max" => Op::Variadic {
            op: Binary::Max,
            mean: false,
        },
        "Min" => Op::Variadic {
            op: Binary::Min,
            mean: false,
        },
        "Where" => Op::Where,
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
        | "ReduceSumSquare" => {
            let op = match node.op_type.as_str() {
                "ReduceMean" => Reduce::Mean,
                "ReduceSum" => Reduce::Sum,
                "ReduceMax" => Reduce::Max,
                "ReduceMin" => Reduce::Min,
                "ReduceProd" => Reduce::Prod,
                "ReduceL2" => Reduce::L2,
                _ => Reduce::SumSquare,
            };
            // Axes became an input in opset 13 (ReduceSum) and 18 (the others).
            let axes_input = if node.op_type == "ReduceSum" { 13 } else { 18 };
            let ins = if opset < axes_input {
                with(b, inputs.clone(), vec![a.ints("axes")])
            } else {
                inputs.clone()
            };
            b.push(
                name,
                &module,
                Op::Reduce {
                    op,
                    keepdims: a.int("keepdims", 1) != 0,
                    noop_with_empty_axes: a.int("noop_with_empty_axes", 0) != 0,
                },
                ins,
                outputs,
            );
            return Ok(());
        }
        "Shape" => Op::Shape {
            start: a.int("start", 0),
            end: a.map.get("end").map(|x| x.i),
        },
        "Size" => Op::Size,
        "Reshape" => Op::Reshape {
            allowzero: a.int("allowzero", 0) != 0,
        },
        "Flatten" => Op::Flatten {
            axis: a.int("axis", 1),
        },
        "Transpose" => Op::Transpose {
            perm: match a.ints("perm") {
                Some(p) => Some(
                    p.into_iter()
                        .map(|v| usize::try_from(v).map_err(|_| ctx(format!("perm value {v}"))))
                        .collect::<Result<_>>()?,
                ),
                None => None,
            },
        },
        "Squeeze" | "Unsqueeze" => {
            let ins = if opset < 13 {
                with(b, inputs.clone(), vec![a.ints("axes")])
            } else {
                inputs.clone()
            };
            let op = if node.op_type == "Squeeze" {
                Op::Squeeze
            } else {
                Op::Unsqueeze
            };
            b.push(name, &module, op, ins, outputs);
            return Ok(());
        }
        "Concat" => Op::Concat {
            axis: a.int("axis", 0),
        },
        "Split" => {
            let ins = if opset < 13 {
                with(b, inputs.clone(), vec![a.ints("split")])
            } else {
                inputs.clone()
            };
            b.push(
                name,
                &module,
                Op::Split {
                    axis: a.int("axis", 0),
                },
                ins,
                outputs,
            );
            return Ok(());
        }
        "Slice" => {
            let ins = if opset < 10 {
                let mut ins = vec![inputs.first().cloned().unwrap_or_default()];
                for key in ["starts", "ends", "axes"] {
                    ins.push(match a.ints(key) {
                        Some(v) => b.int_const(&name, v),
                        None => String::new(),
                    });
                }
                ins
            } else {
                inputs.clone()
            };
            b.push(name, &module, Op::Slice, ins, outputs);
            return Ok(());
        }
        "Gather" => Op::Gather {
            axis: a.int("axis", 0),
        },
        "GatherND" => {
            if a.int("batch_dims", 0) != 0 {
                return Err(ctx("batch_dims other than 0 is not supported".into()));
            }
            Op::GatherNd
        }
        "Expand" => Op::Expand,
        "Tile" => Op::Tile,
        "ConstantOfShape" => {
            let (value, int) = match a.map.get("value").and_then(|x| x.t.as_ref()) {
                Some(t) => match decode(t, b.dir)? {
                    Decoded::Float(v) => (
                        v.flatten_all()?
                            .to_dtype(DType::F64)?
                            .to_vec1::<f64>()?
                            .first()
                            .copied()
                            .unwrap_or(0.0),
                        false,
                    ),
                    Decoded::Int(v) => (v.data.first().copied().unwrap_or(0) as f64, true),
                },
                None => (0.0, false),
            };
            Op::ConstantOfShape { value, int }
        }
        "Range" => Op::Range,
        "Pad" => {
            let mode = a.string("mode").unwrap_or_else(|| "constant".into());
            if mode != "constant" {
                return Err(ctx(format!(
                    "pad mode '{mode}' is not supported (only constant)"
                )));
            }
            let ins = if opset < 11 {
                let mut ins = vec![inputs.first().cloned().unwrap_or_default()];
                ins.push(b.int_const(&name, a.ints("pads").unwrap_or_default()));
                ins.push(b.float_const(&name, a.float("value", 0.0)));
                ins
            } else {
                inputs.clone()
            };
            b.push(name, &module, Op::Pad, ins, outputs);
            return Ok(());
        }
        "Cast" => Op::Cast {
            to: match a.int("to", 0) as i32 {
                data_type::FLOAT | data_type::DOUBLE | data_type::FLOAT16 | data_type::BFLOAT16 => {
                    CastTo::Float
                }
                data_type::BOOL => CastTo::Bool,
                data_type::INT64
                | data_type::INT32
                | data_type::INT8
                | data_type::UINT8
                | 5
                | 4
                | 12
                | 13 => CastTo::Int,
                other => {
                    return Err(ctx(format!(
                        "cast to {} is not supported",
                        data_type::name(other)
                    )));
                }
            },
        },
        "Identity" => Op::Identity,
        "Dropout" => Op::Dropout {
            ratio: a.float("ratio", 0.5),
        },
        other => {
            return Err(Error::invalid(format!(
                "node '{name}' uses operator {other}, which gaxsh does not support; supported: {}",
                SUPPORTED.join(", ")
            )));
        }
    };
    b.push(name, &module, op, inputs, outputs);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, scopes: Option<&str>) -> NodeProto {
        NodeProto {
            name: name.into(),
            metadata_props: scopes
                .map(|s| {
                    vec![super::super::proto::StringStringEntryProto {
                        key: "pkg.torch.onnx.name_scopes".into(),
                        value: s.into(),
                    }]
                })
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn module_paths_from_both_exporters() {
        assert_eq!(
            module_path(&node("/layer1/layer1.0/conv1/Conv", None)),
            "layer1.0.conv1"
        );
        assert_eq!(
            module_path(&node(
                "/features/features.1/features.1.0/block/block.3/MatMul",
                None
            )),
            "features.1.0.block.3"
        );
        assert_eq!(module_path(&node("/Relu", None)), "");
        assert_eq!(
            module_path(&node(
                "node_relu_2",
                Some("['', 'layer1', 'layer1.0', 'layer1.0.relu', 'relu_2']")
            )),
            "layer1.0.relu"
        );
        assert_eq!(module_path(&node("node_x", Some("['', 'add']"))), "");
    }
}
