//! The structure of a graph of operations, without weight values: the operation vocabulary
//! ([`Op`], after ONNX), nodes, named parameters and constants ([`GraphSpec`]), and the
//! buildable architecture that holds them ([`GraphArch`]). Plain data that the importer and the
//! exporter (`emit`) write and [`super::GraphModule`] runs.

use super::value::Ints;
use crate::nn::act::ActKind;
use crate::nn::params::{Init, ParamKind};
use crate::nn::pass::LayerRef;
use std::sync::Arc;

/// How a convolution or pool pads when the graph says `auto_pad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoPad {
    /// The explicit `pads`.
    NotSet,
    /// No padding.
    Valid,
    /// Output size ⌈in/stride⌉, the odd zero after (TensorFlow's "SAME").
    SameUpper,
    /// Output size ⌈in/stride⌉, the odd zero before.
    SameLower,
}

/// Elementwise functions of one operand with their ordinary gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    Sqrt,
    Exp,
    Log,
    Abs,
    Neg,
    Reciprocal,
    Erf,
    Floor,
    Ceil,
    Sin,
    Cos,
    Not,
}

/// Elementwise functions of two broadcast operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
    Mod,
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
    L2,
    SumSquare,
}

/// What a `Cast` converts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastTo {
    /// Any float type: the model's dtype (a graph runs in one float type).
    Float,
    Int,
    Bool,
}

/// One operation. Tensors a node reads are its inputs (values, parameters or constants), in
/// ONNX's order; attributes are fields.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// X, W, B?: 1-D or 2-D convolution.
    Conv {
        strides: Vec<usize>,
        pads: Vec<usize>,
        auto_pad: AutoPad,
        groups: usize,
        dilations: Vec<usize>,
    },
    /// X, W, B?: 2-D transposed convolution (groups 1).
    ConvTranspose {
        strides: Vec<usize>,
        pads: Vec<usize>,
        output_padding: Vec<usize>,
        groups: usize,
        dilations: Vec<usize>,
    },
    /// A, B, C?: alpha·A'·B' + beta·C.
    Gemm {
        alpha: f64,
        beta: f64,
        trans_a: bool,
        trans_b: bool,
    },
    /// NumPy's matmul.
    MatMul,
    /// X, scale, B, mean, var. `momentum` is PyTorch's (the weight of the batch statistic).
    BatchNorm {
        eps: f64,
        momentum: f64,
    },
    /// X, scale, B?: normalisation over the axes from `axis` on.
    LayerNorm {
        axis: i64,
        eps: f64,
    },
    /// A rule-aware nonlinearity site.
    Act(ActKind),
    /// X: softmax over one axis, a rule-aware site like `nn.Softmax`.
    Softmax {
        axis: i64,
    },
    LogSoftmax {
        axis: i64,
    },
    /// X, min?, max?.
    Clip,
    HardSigmoid {
        alpha: f64,
        beta: f64,
    },
    HardSwish,
    Gelu {
        tanh: bool,
    },
    /// 1-D or 2-D max pooling; a DeepLift site like `nn.MaxPool2d`.
    MaxPool {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        auto_pad: AutoPad,
        ceil_mode: bool,
    },
    AvgPool {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        auto_pad: AutoPad,
        ceil_mode: bool,
        count_include_pad: bool,
    },
    GlobalAvgPool,
    GlobalMaxPool,
    Unary(Unary),
    Binary(Binary),
    /// Two or more operands folded with a binary operation (`Sum`, `Max`, `Min`, `Mean`).
    Variadic {
        op: Binary,
        mean: bool,
    },
    /// cond, X, Y.
    Where,
    /// X, axes?.
    Reduce {
        op: Reduce,
        keepdims: bool,
        noop_with_empty_axes: bool,
    },
    Shape {
        start: i64,
        end: Option<i64>,
    },
    Size,
    /// X, shape.
    Reshape {
        allowzero: bool,
    },
    Flatten {
        axis: i64,
    },
    Transpose {
        perm: Option<Vec<usize>>,
    },
    /// X, axes?.
    Squeeze,
    /// X, axes.
    Unsqueeze,
    Concat {
        axis: i64,
    },
    /// X, split?: into as many parts as the node has outputs.
    Split {
        axis: i64,
    },
    /// data, starts, ends, axes?, steps?.
    Slice,
    /// data, indices.
    Gather {
        axis: i64,
    },
    GatherNd,
    /// X, shape.
    Expand,
    /// X, repeats.
    Tile,
    /// shape.
    ConstantOfShape {
        value: f64,
        int: bool,
    },
    /// start, limit, delta.
    Range,
    /// X, pads, constant_value?, axes?: constant padding.
    Pad,
    Cast {
        to: CastTo,
    },
    Identity,
    /// X (ratio from the attribute): identity in eval mode.
    Dropout {
        ratio: f64,
    },
}

impl Op {
    /// The ONNX operator name, for listings and messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv { .. } => "Conv",
            Op::ConvTranspose { .. } => "ConvTranspose",
            Op::Gemm { .. } => "Gemm",
            Op::MatMul => "MatMul",
            Op::BatchNorm { .. } => "BatchNormalization",
            Op::LayerNorm { .. } => "LayerNormalization",
            Op::Act(k) => match k {
                ActKind::Relu => "Relu",
                ActKind::LeakyRelu(_) => "LeakyRelu",
                ActKind::Elu(_) => "Elu",
                ActKind::Softplus => "Softplus",
                ActKind::Relu6 => "Clip",
                ActKind::Tanh => "Tanh",
                ActKind::Sigmoid => "Sigmoid",
                ActKind::Softmax => "Softmax",
            },
            Op::Softmax { .. } => "Softmax",
            Op::LogSoftmax { .. } => "LogSoftmax",
            Op::Clip => "Clip",
            Op::HardSigmoid { .. } => "HardSigmoid",
            Op::HardSwish => "HardSwish",
            Op::Gelu { .. } => "Gelu",
            Op::MaxPool { .. } => "MaxPool",
            Op::AvgPool { .. } => "AveragePool",
            Op::GlobalAvgPool => "GlobalAveragePool",
            Op::GlobalMaxPool => "GlobalMaxPool",
            Op::Unary(u) => match u {
                Unary::Sqrt => "Sqrt",
                Unary::Exp => "Exp",
                Unary::Log => "Log",
                Unary::Abs => "Abs",
                Unary::Neg => "Neg",
                Unary::Reciprocal => "Reciprocal",
                Unary::Erf => "Erf",
                Unary::Floor => "Floor",
                Unary::Ceil => "Ceil",
                Unary::Sin => "Sin",
                Unary::Cos => "Cos",
                Unary::Not => "Not",
            },
            Op::Binary(b) => binary_name(*b),
            Op::Variadic { op, mean } => match (op, mean) {
                (_, true) => "Mean",
                (Binary::Max, _) => "Max",
                (Binary::Min, _) => "Min",
                _ => "Sum",
            },
            Op::Where => "Where",
            Op::Reduce { op, .. } => match op {
                Reduce::Mean => "ReduceMean",
                Reduce::Sum => "ReduceSum",
                Reduce::Max => "ReduceMax",
                Reduce::Min => "ReduceMin",
                Reduce::Prod => "ReduceProd",
                Reduce::L2 => "ReduceL2",
                Reduce::SumSquare => "ReduceSumSquare",
            },
            Op::Shape { .. } => "Shape",
            Op::Size => "Size",
            Op::Reshape { .. } => "Reshape",
            Op::Flatten { .. } => "Flatten",
            Op::Transpose { .. } => "Transpose",
            Op::Squeeze => "Squeeze",
            Op::Unsqueeze => "Unsqueeze",
            Op::Concat { .. } => "Concat",
            Op::Split { .. } => "Split",
            Op::Slice => "Slice",
            Op::Gather { .. } => "Gather",
            Op::GatherNd => "GatherND",
            Op::Expand => "Expand",
            Op::Tile => "Tile",
            Op::ConstantOfShape { .. } => "ConstantOfShape",
            Op::Range => "Range",
            Op::Pad => "Pad",
            Op::Cast { .. } => "Cast",
            Op::Identity => "Identity",
            Op::Dropout { .. } => "Dropout",
        }
    }
}

pub fn binary_name(b: Binary) -> &'static str {
    match b {
        Binary::Add => "Add",
        Binary::Sub => "Sub",
        Binary::Mul => "Mul",
        Binary::Div => "Div",
        Binary::Pow => "Pow",
        Binary::Max => "Max",
        Binary::Min => "Min",
        Binary::Mod => "Mod",
        Binary::Equal => "Equal",
        Binary::Less => "Less",
        Binary::LessOrEqual => "LessOrEqual",
        Binary::Greater => "Greater",
        Binary::GreaterOrEqual => "GreaterOrEqual",
        Binary::And => "And",
        Binary::Or => "Or",
    }
}

/// One node: its op, the value names it reads and writes, and the module it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    /// Unique within the graph (the exporter's name, or one made from the op type).
    pub name: String,
    /// The PyTorch module path the node belongs to (`layer4.1.conv2`), empty when unknown.
    pub module: String,
    pub op: Op,
    /// Value names; an empty name is an absent optional input.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// A named trainable tensor or buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub dims: Vec<usize>,
    pub kind: ParamKind,
    /// The value a freshly built model starts from (the imported weights are loaded after).
    pub init: Init,
}

/// A fixed tensor of the graph (shape arithmetic, scalar factors).
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    Float { dims: Vec<usize>, data: Vec<f64> },
    Int(Ints),
}

/// A graph model's structure.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphSpec {
    pub name: String,
    /// The value the model's input feeds.
    pub input: String,
    /// One sample's shape (the batch axis removed).
    pub input_shape: Vec<usize>,
    /// The batch size the graph was exported for when its batch axis is fixed; `Reshape` and
    /// `Expand` targets that name it are read as the running batch size.
    pub export_batch: Option<usize>,
    /// The value holding the logits.
    pub output: String,
    /// The graph computes correctly only on batches of `export_batch` samples (an exporter
    /// baked the batch size into index arithmetic); found by the importer's check.
    pub batch_locked: bool,
    pub nodes: Vec<NodeSpec>,
    pub params: Vec<ParamSpec>,
    pub constants: Vec<(String, Constant)>,
    /// Modules whose output the exporter removed by folding a following batch norm into them:
    /// (module path, the node that now outputs the batch norm's result).
    pub folded: Vec<(String, String)>,
}

/// A graph model as the zoo builds it: the structure and what the importer learnt about it.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphArch {
    pub spec: Arc<GraphSpec>,
    pub classes: usize,
    /// Names of the classes, when known (empty otherwise).
    pub class_names: Vec<String>,
    /// The default Grad-CAM layer.
    pub cam_layer: Option<LayerRef>,
}
