//! Custom models from a YAML description: a list of supported layers applied in order, named
//! `0`, `1`, … as in `nn.Sequential`, with input sizes inferred from the input shape.
//!
//! ```yaml
//! name: small_cnn
//! input: [3, 32, 32]
//! layers:
//!   - conv2d: {out: 8, kernel: 3, padding: 1}   # or padding: same (TensorFlow's SAME)
//!   - batchnorm: {}
//!   - relu
//!   - maxpool2d: {kernel: 2}
//!   - avgpool
//!   - flatten
//!   - linear: {out: 10}
//! ```

use super::act::ActKind;
use super::attention::{Fpa, Spa};
use super::layers::*;
use super::module::{Module, Sequential};
use super::params::Builder;
use crate::error::{Error, Result};
use crate::tensor::pool::Pool2d;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    /// The shape of one input sample.
    pub input: Vec<usize>,
    pub layers: Vec<LayerSpec>,
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn bn_eps() -> f64 {
    1e-5
}
fn slope() -> f64 {
    0.01
}
fn half() -> f64 {
    0.5
}

/// A convolution's padding: zeros on every side, or `"same"`, TensorFlow's SAME (the output is
/// ⌈n / stride⌉ and an odd total pads one more after than before), so a Keras net can be
/// written down without the zoo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Padding2d {
    Zeros(usize),
    Named(String),
}

impl Default for Padding2d {
    fn default() -> Self {
        Padding2d::Zeros(0)
    }
}

/// The layers a YAML model may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    Linear {
        out: usize,
        #[serde(default = "yes")]
        bias: bool,
    },
    Conv1d {
        out: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        padding: usize,
    },
    Conv2d {
        out: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        padding: Padding2d,
        #[serde(default = "one")]
        groups: usize,
        #[serde(default = "yes")]
        bias: bool,
    },
    Batchnorm {
        #[serde(default = "bn_eps")]
        eps: f64,
    },
    Relu,
    LeakyRelu {
        #[serde(default = "slope")]
        slope: f64,
    },
    Relu6,
    Tanh,
    Sigmoid,
    /// Softmax over the last axis.
    Softmax,
    Maxpool2d {
        kernel: usize,
        #[serde(default)]
        stride: Option<usize>,
        #[serde(default)]
        padding: usize,
    },
    /// Global average pooling to 1×1.
    Avgpool,
    AdaptiveAvgpool {
        size: usize,
    },
    Flatten,
    Dropout {
        #[serde(default = "half")]
        p: f64,
    },
    Unsqueeze {
        dim: usize,
    },
    /// The paper's Feature Product Attention on (N, d) → (N, c, c).
    Fpa {
        c: usize,
    },
    /// The paper's Spatial Product Attention on (N, C, H, W) → (N, c, c).
    Spa {
        c: usize,
    },
}

pub const LAYER_KINDS: &[&str] = &[
    "linear",
    "conv1d",
    "conv2d",
    "batchnorm",
    "relu",
    "leaky_relu",
    "relu6",
    "tanh",
    "sigmoid",
    "softmax",
    "maxpool2d",
    "avgpool",
    "adaptive_avgpool",
    "flatten",
    "dropout",
    "unsqueeze",
    "fpa",
    "spa",
];

impl ModelSpec {
    /// Parse a YAML description; errors name the problem and the supported layers.
    ///
    /// Layers are written as a bare name (`- relu`) or a one-key map (`- conv2d: {out: 8}`);
    /// serde_yaml 0.9 wants YAML tags for enums, so the document is read as plain YAML values
    /// first and then interpreted in that map form.
    /// A YAML file's path (one line naming a file that exists) or the YAML text itself.
    pub fn from_path_or_text(s: &str) -> Result<ModelSpec> {
        let path = std::path::Path::new(s);
        if !s.contains('\n') && path.exists() {
            ModelSpec::from_yaml(&crate::limits::read_text(path)?, s)
        } else {
            ModelSpec::from_yaml(s, "<yaml>")
        }
    }

    pub fn from_yaml(text: &str, source: &str) -> Result<ModelSpec> {
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), Some(l.column())))
                .unwrap_or((0, None));
            Error::Parse {
                path: source.into(),
                line,
                column,
                msg: e.to_string(),
            }
        })?;
        let json =
            serde_json::to_value(&value).map_err(|e| Error::bad_file(source, e.to_string()))?;
        serde_json::from_value(json).map_err(|e| {
            let mut msg = e.to_string();
            if msg.contains("unknown variant") || msg.contains("expected") {
                msg.push_str(&format!(" (supported layers: {})", LAYER_KINDS.join(", ")));
            }
            Error::bad_file(source, format!("not a valid model description: {msg}"))
        })
    }

    /// Build the layers, inferring each one's input size; returns the root and the class count.
    pub fn build(&self, b: &mut Builder) -> Result<(Box<dyn Module>, usize)> {
        let mut shape = self.input.clone();
        crate::limits::shape(&format!("{}: input", self.name), &shape, 8)?;
        let mut layers: Vec<Box<dyn Module>> = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let name = i.to_string();
            let bad = |what: &str| {
                Error::invalid(format!(
                    "{}: layer {i} ({what}) cannot take an input of shape {shape:?}",
                    self.name
                ))
            };
            let (m, next): (Box<dyn Module>, Vec<usize>) = match l {
                LayerSpec::Linear { out, bias } => {
                    let &fan_in = shape.last().ok_or_else(|| bad("linear"))?;
                    if shape.len() != 1 {
                        return Err(bad("linear: flatten first"));
                    }
                    (
                        Box::new(Linear::new(b, &name, fan_in, *out, *bias)?),
                        vec![*out],
                    )
                }
                LayerSpec::Conv1d {
                    out,
                    kernel,
                    stride,
                    padding,
                } => {
                    let [c, len] = shape[..] else {
                        return Err(bad("conv1d"));
                    };
                    let o = (len + 2 * padding)
                        .checked_sub(*kernel)
                        .ok_or_else(|| bad("conv1d"))?
                        / stride
                        + 1;
                    (
                        Box::new(Conv1d::new(b, &name, c, *out, *kernel, *stride, *padding)?),
                        vec![*out, o],
                    )
                }
                LayerSpec::Conv2d {
                    out,
                    kernel,
                    stride,
                    padding,
                    groups,
                    bias,
                } => {
                    let [c, h, w] = shape[..] else {
                        return Err(bad("conv2d"));
                    };
                    if c % groups != 0 || out % groups != 0 {
                        return Err(bad("conv2d: channels must divide by groups"));
                    }
                    let spec = ConvSpec::new(c, *out, *kernel)
                        .stride(*stride)
                        .groups(*groups);
                    let mut spec = match padding {
                        Padding2d::Zeros(p) => {
                            if h + 2 * p < *kernel || w + 2 * p < *kernel {
                                return Err(bad("conv2d: kernel larger than the input"));
                            }
                            spec.pad(*p)
                        }
                        Padding2d::Named(n) if n.eq_ignore_ascii_case("same") => spec.tf_same(),
                        Padding2d::Named(n) => {
                            return Err(bad(&format!(
                                "conv2d: padding '{n}' is neither a number nor \"same\" (TensorFlow's SAME)"
                            )));
                        }
                    };
                    if !bias {
                        spec = spec.no_bias();
                    }
                    let next = vec![*out, spec.out_size(h), spec.out_size(w)];
                    (Box::new(Conv2d::new(b, &name, spec)?), next)
                }
                LayerSpec::Batchnorm { eps } => {
                    let &c = shape.first().ok_or_else(|| bad("batchnorm"))?;
                    (Box::new(BatchNorm::new(b, &name, c, *eps)?), shape.clone())
                }
                LayerSpec::Relu => (Box::new(Act::new(b, &name, ActKind::Relu)), shape.clone()),
                LayerSpec::LeakyRelu { slope } => (
                    Box::new(Act::new(b, &name, ActKind::LeakyRelu(*slope))),
                    shape.clone(),
                ),
                LayerSpec::Relu6 => (Box::new(Act::new(b, &name, ActKind::Relu6)), shape.clone()),
                LayerSpec::Tanh => (Box::new(Act::new(b, &name, ActKind::Tanh)), shape.clone()),
                LayerSpec::Sigmoid => (
                    Box::new(Act::new(b, &name, ActKind::Sigmoid)),
                    shape.clone(),
                ),
                LayerSpec::Softmax => (
                    Box::new(Act::new(b, &name, ActKind::Softmax)),
                    shape.clone(),
                ),
                LayerSpec::Maxpool2d {
                    kernel,
                    stride,
                    padding,
                } => {
                    let [c, h, w] = shape[..] else {
                        return Err(bad("maxpool2d"));
                    };
                    let s = stride.unwrap_or(*kernel);
                    let pool = Pool2d::square(*kernel, s, *padding);
                    if h + 2 * padding < *kernel
                        || w + 2 * padding < *kernel
                        || 2 * padding > *kernel
                    {
                        return Err(bad("maxpool2d"));
                    }
                    let o = |n: usize| (n + 2 * padding - kernel) / s + 1;
                    (
                        Box::new(MaxPool {
                            name: b.full(&name),
                            pool,
                        }),
                        vec![c, o(h), o(w)],
                    )
                }
                LayerSpec::Avgpool => {
                    let [c, _, _] = shape[..] else {
                        return Err(bad("avgpool"));
                    };
                    (
                        Box::new(AdaptiveAvgPool {
                            name: b.full(&name),
                            size: (1, 1),
                        }),
                        vec![c, 1, 1],
                    )
                }
                LayerSpec::AdaptiveAvgpool { size } => {
                    let [c, _, _] = shape[..] else {
                        return Err(bad("adaptive_avgpool"));
                    };
                    (
                        Box::new(AdaptiveAvgPool {
                            name: b.full(&name),
                            size: (*size, *size),
                        }),
                        vec![c, *size, *size],
                    )
                }
                LayerSpec::Flatten => (
                    Box::new(Flatten {
                        name: b.full(&name),
                        start: 1,
                    }),
                    vec![shape.iter().product()],
                ),
                LayerSpec::Dropout { p } => (
                    Box::new(Dropout {
                        name: b.full(&name),
                        p: *p,
                    }),
                    shape.clone(),
                ),
                LayerSpec::Unsqueeze { dim } => {
                    if *dim > shape.len() {
                        return Err(bad("unsqueeze"));
                    }
                    let mut s = shape.clone();
                    s.insert(*dim, 1);
                    (
                        Box::new(Unsqueeze {
                            name: b.full(&name),
                            dim: dim + 1,
                        }),
                        s,
                    )
                }
                LayerSpec::Fpa { c } => {
                    let [d] = shape[..] else {
                        return Err(bad("fpa needs (N, d) inputs"));
                    };
                    if d < 9 {
                        return Err(bad("fpa needs at least 9 features"));
                    }
                    (Box::new(Fpa::new(b, &name, *c)?), vec![*c, *c])
                }
                LayerSpec::Spa { c } => {
                    let [ch, h, w] = shape[..] else {
                        return Err(bad("spa"));
                    };
                    if h < 37 || w < 37 {
                        return Err(bad("spa needs at least 37×37 inputs"));
                    }
                    (Box::new(Spa::new(b, &name, ch, *c)?), vec![*c, *c])
                }
            };
            layers.push(m);
            // One sample's activations must fit, whatever the widths asked for.
            crate::limits::shape(&format!("{}: layer {i} output", self.name), &next, 8)?;
            shape = next;
        }
        let classes = match shape[..] {
            [c] => c,
            _ => {
                return Err(Error::invalid(format!(
                    "{}: the last layer must give one score per class (shape [classes]), got {shape:?}; end with flatten and linear",
                    self.name
                )));
            }
        };
        Ok((
            Box::new(Sequential {
                name: String::new(),
                layers,
            }),
            classes,
        ))
    }
}
