//! Which network to build: the zoo's names, the options each takes and their defaults, all
//! stated here once. `model("resnet34", #{classes: 2})` in a script, `Arch::from_name` in Rust
//! and the parity tests go through the same table; [`super::zoo`] builds what it names.

use super::graph::GraphArch;
use super::spec::ModelSpec;
use crate::error::{Error, Result};
use crate::options::{Key, Kind, Options, Value, key};
use candle_core::DType;
use std::path::PathBuf;

/// A buildable architecture, used to rebuild a model in another dtype or on another device.
#[derive(Clone, Debug, PartialEq)]
pub enum Arch {
    /// The dry-bean model: FPA(c = 14) on 16 features, 7 classes (2,121 parameters).
    DrybeanFpa,
    /// The credit-card model: FPA(c = 7) on 28 features, 2 classes (506 parameters).
    CcfFpa,
    /// An FPA model of any size.
    Fpa {
        features: usize,
        c: usize,
        classes: usize,
    },
    /// The COVID-19 model (50,565 parameters); `size` is the input side (256 in the paper).
    CxcMultiSpa { classes: usize, size: usize },
    /// A torchvision ResNet of BasicBlocks (`resnet34` = blocks [3, 4, 6, 3]).
    ResNet {
        blocks: Vec<usize>,
        widths: Vec<usize>,
        classes: usize,
        in_channels: usize,
        size: usize,
        /// The authors' pneumonia layout: `backbone.` names and a 2-way `fc` without bias.
        pneumonia: bool,
    },
    /// torchvision AlexNet.
    AlexNet {
        classes: usize,
        size: usize,
        pneumonia: bool,
    },
    /// Keras MobileNetV1 α = 0.25 (ImageNet, 1000 classes), with ReLU6 as Keras builds it or
    /// plain ReLU (the activation many PyTorch ports use).
    MobileNetV1 {
        size: usize,
        activation: super::act::ActKind,
    },
    /// MobileNetV2 1.0 from its TFLite graph (1001 outputs, 0 = background).
    MobileNetV2 { size: usize, graph: String },
    /// A model described in YAML.
    Custom(ModelSpec),
    /// A graph of operations (an imported ONNX model).
    Graph(GraphArch),
}

impl Arch {
    pub fn name(&self) -> String {
        match self {
            Arch::DrybeanFpa => "drybean_fpa".into(),
            Arch::CcfFpa => "ccf_fpa".into(),
            Arch::Fpa { .. } => "fpa".into(),
            Arch::CxcMultiSpa { .. } => "cxc_multi_spa".into(),
            Arch::ResNet {
                blocks, pneumonia, ..
            } => {
                let base = if blocks == &[3, 4, 6, 3] {
                    "resnet34".to_string()
                } else {
                    format!("resnet{blocks:?}")
                };
                if *pneumonia {
                    format!("{base}_pneumonia")
                } else {
                    base
                }
            }
            Arch::AlexNet { pneumonia, .. } => {
                if *pneumonia {
                    "alexnet_pneumonia".into()
                } else {
                    "alexnet".into()
                }
            }
            Arch::MobileNetV1 { .. } => "mobilenet_v1".into(),
            Arch::MobileNetV2 { .. } => "mobilenet_v2".into(),
            Arch::Custom(s) => s.name.clone(),
            Arch::Graph(g) => g.spec.name.clone(),
        }
    }
}

/// The zoo's names, for `model("name")` and error messages.
pub const ZOO: &[&str] = &[
    "drybean_fpa",
    "ccf_fpa",
    "cxc_multi_spa",
    "resnet34",
    "resnet34_pneumonia",
    "alexnet",
    "alexnet_pneumonia",
    "mobilenet_v1",
    "mobilenet_v2",
    "fpa",
    "resnet",
];

/// `name` is one of the [`ZOO`], or an error listing them.
pub fn check_zoo_name(name: &str) -> Result<()> {
    match ZOO.contains(&name) {
        true => Ok(()),
        false => Err(Error::unknown("model", name, ZOO)),
    }
}

/// MobileNetV1 α = 0.25's pretrained ImageNet weights, bundled (`data/weights`).
pub const MOBILENET_V1_WEIGHTS: &str =
    "weights/mobilenet_v1_0.25_224/mobilenet_v1_0.25_224.safetensors";
/// MobileNetV2's weights: not bundled (14 MB); the locator also looks in `../shared/data`.
pub const MOBILENET_V2_WEIGHTS: &str =
    "weights/mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant_f32.safetensors";

/// The options of `model(name, #{…})`: the architecture's (`None` = the name's default) and
/// how to build and load it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelOptions {
    pub classes: Option<usize>,
    pub size: Option<usize>,
    pub pneumonia: bool,
    pub in_channels: Option<usize>,
    pub blocks: Option<Vec<usize>>,
    pub widths: Option<Vec<usize>>,
    pub features: Option<usize>,
    pub c: Option<usize>,
    pub pretrained: bool,
    /// mobilenet_v1's activation: ReLU6 (Keras, the default) or ReLU.
    pub activation: Option<super::act::ActKind>,
    pub dtype: DType,
    pub weights: Option<PathBuf>,
    pub lenient: bool,
    pub strip_prefix: Option<String>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            classes: None,
            size: None,
            pneumonia: false,
            in_channels: None,
            blocks: None,
            widths: None,
            features: None,
            c: None,
            pretrained: true,
            activation: None,
            dtype: DType::F32,
            weights: None,
            lenient: false,
            strip_prefix: None,
        }
    }
}

/// `"f32"`/`"float32"`/`"float"` or `"f64"`/`"float64"`/`"double"`.
pub fn dtype_from_name(name: &str) -> Result<DType> {
    match name {
        "f32" | "float32" | "float" => Ok(DType::F32),
        "f64" | "float64" | "double" => Ok(DType::F64),
        other => Err(Error::unknown("dtype", other, &["f32", "f64"])),
    }
}

impl Options for ModelOptions {
    const KEYS: &'static [Key] = &[
        key(
            "classes",
            Kind::Int,
            "the architecture's (1000 ImageNet, 2 pneumonia, 4 cxc_multi_spa, 7 fpa)",
            "number of outputs",
        ),
        key(
            "size",
            Kind::Int,
            "224 (256 for cxc_multi_spa)",
            "input side in pixels",
        ),
        key(
            "pneumonia",
            Kind::Bool,
            "false",
            "the authors' pneumonia layout (backbone.* names, 2-way head)",
        ),
        key(
            "in_channels",
            Kind::Int,
            "3 (resnets)",
            "input channels of a ResNet",
        ),
        key(
            "blocks",
            Kind::Ints,
            "[2, 2, 2, 2] (ResNet18's)",
            "BasicBlocks per stage of resnet",
        ),
        key(
            "widths",
            Kind::Ints,
            "[64, 128, 256, 512] (torchvision's)",
            "channels per stage of resnet",
        ),
        key(
            "features",
            Kind::Int,
            "16 (dry bean)",
            "input features of fpa",
        ),
        key("c", Kind::Int, "14 (dry bean)", "the FPA width c of fpa"),
        key(
            "pretrained",
            Kind::Bool,
            "true",
            "load the MobileNets' ImageNet weights",
        ),
        key(
            "activation",
            Kind::Text,
            "\"relu6\" (Keras)",
            "mobilenet_v1's activation: relu6 (Keras) or relu",
        ),
        key("dtype", Kind::Text, "\"f32\"", "f32 or f64"),
        key(
            "weights",
            Kind::Text,
            "none",
            "a weight file to load (safetensors, .pt/.pth, .npz)",
        ),
        key(
            "lenient",
            Kind::Bool,
            "false",
            "load what fits and report the rest instead of refusing",
        ),
        key(
            "strip_prefix",
            Kind::Text,
            "none",
            "a prefix to drop from the file's weight names",
        ),
    ];

    fn set(&mut self, k: &str, v: &Value) -> Result<()> {
        match k {
            "classes" => self.classes = Some(v.usize(k)?),
            "size" => self.size = Some(v.usize(k)?),
            "pneumonia" => self.pneumonia = v.bool(k)?,
            "in_channels" => self.in_channels = Some(v.usize(k)?),
            "blocks" => self.blocks = Some(v.usizes(k)?),
            "widths" => self.widths = Some(v.usizes(k)?),
            "features" => self.features = Some(v.usize(k)?),
            "c" => self.c = Some(v.usize(k)?),
            "pretrained" => self.pretrained = v.bool(k)?,
            "activation" => {
                self.activation = Some(match v.text(k)?.as_str() {
                    "relu6" => super::act::ActKind::Relu6,
                    "relu" => super::act::ActKind::Relu,
                    other => {
                        return Err(Error::unknown(
                            "mobilenet_v1 activation",
                            other,
                            &["relu6", "relu"],
                        ));
                    }
                })
            }
            "dtype" => self.dtype = dtype_from_name(&v.text(k)?)?,
            "weights" => self.weights = Some(PathBuf::from(v.text(k)?)),
            "lenient" => self.lenient = v.bool(k)?,
            "strip_prefix" => self.strip_prefix = Some(v.text(k)?),
            _ => return Err(Error::invalid(format!("unknown option '{k}'"))),
        }
        Ok(())
    }
}

/// The build and load options every name takes.
const COMMON: &[&str] = &["dtype", "weights", "lenient", "strip_prefix"];

/// The architecture options each zoo name takes (besides [`COMMON`]).
fn options_of(name: &str) -> &'static [&'static str] {
    match name {
        "fpa" => &["features", "c", "classes"],
        "cxc_multi_spa" => &["classes", "size"],
        "resnet34" | "resnet34_pneumonia" => &["classes", "size", "pneumonia", "in_channels"],
        "resnet" => &[
            "classes",
            "size",
            "pneumonia",
            "in_channels",
            "blocks",
            "widths",
        ],
        "alexnet" | "alexnet_pneumonia" => &["classes", "size", "pneumonia"],
        "mobilenet_v1" => &["size", "pretrained", "activation"],
        "mobilenet_v2" => &["size", "pretrained"],
        _ => &[],
    }
}

impl Arch {
    /// The zoo architecture `name` with the options given (`None` fields take the name's
    /// defaults). An option the name does not take is an error naming the ones it does: a
    /// `classes` given to `drybean_fpa` would otherwise be silently ignored.
    pub fn from_name(name: &str, o: &ModelOptions) -> Result<Arch> {
        check_zoo_name(name)?;
        let takes = options_of(name);
        let given = o.given();
        if let Some(k) = given
            .iter()
            .find(|k| !takes.contains(k) && !COMMON.contains(k))
        {
            let mut valid: Vec<&str> = takes.iter().chain(COMMON).copied().collect();
            valid.sort_unstable();
            return Err(Error::invalid(format!(
                "{name} takes no option '{k}'; its options: {}",
                valid.join(", ")
            )));
        }
        if let Some(c) = o.classes.filter(|&c| c < 2) {
            return Err(Error::invalid(format!(
                "{name}: classes {c}; a classifier needs at least 2 (CO weighs the target against the others)"
            )));
        }
        if o.in_channels == Some(0) {
            return Err(Error::out_of_range(
                format!("{name}: in_channels"),
                0,
                "1 or more",
            ));
        }
        let pneumonia = name.ends_with("_pneumonia") || o.pneumonia;
        let imagenet_or_pneumonia = if pneumonia { 2 } else { 1000 };
        Ok(match name {
            "drybean_fpa" => Arch::DrybeanFpa,
            "ccf_fpa" => Arch::CcfFpa,
            "fpa" => Arch::Fpa {
                features: o.features.unwrap_or(16),
                c: o.c.unwrap_or(14),
                classes: o.classes.unwrap_or(7),
            },
            "cxc_multi_spa" => Arch::CxcMultiSpa {
                classes: o.classes.unwrap_or(4),
                size: o.size.unwrap_or(256),
            },
            "resnet34" | "resnet34_pneumonia" | "resnet" => {
                let (blocks, widths) = if name == "resnet" {
                    (
                        o.blocks.clone().unwrap_or(vec![2, 2, 2, 2]),
                        o.widths.clone().unwrap_or(vec![64, 128, 256, 512]),
                    )
                } else {
                    (vec![3, 4, 6, 3], vec![64, 128, 256, 512])
                };
                Arch::ResNet {
                    blocks,
                    widths,
                    classes: o.classes.unwrap_or(imagenet_or_pneumonia),
                    in_channels: o.in_channels.unwrap_or(3),
                    size: o.size.unwrap_or(224),
                    pneumonia,
                }
            }
            "alexnet" | "alexnet_pneumonia" => Arch::AlexNet {
                classes: o.classes.unwrap_or(imagenet_or_pneumonia),
                size: o.size.unwrap_or(224),
                pneumonia,
            },
            "mobilenet_v1" => Arch::MobileNetV1 {
                size: o.size.unwrap_or(224),
                activation: o.activation.unwrap_or(super::act::ActKind::Relu6),
            },
            _ => Arch::MobileNetV2 {
                size: o.size.unwrap_or(224),
                graph: String::new(),
            },
        })
    }

    /// The weights a zoo name loads when none are given: the MobileNets' pretrained ones.
    pub fn default_weights(name: &str, o: &ModelOptions) -> Result<Option<PathBuf>> {
        if o.weights.is_some() || !o.pretrained {
            return Ok(None);
        }
        match name {
            "mobilenet_v1" => crate::locate::bundled(MOBILENET_V1_WEIGHTS).map(Some),
            "mobilenet_v2" => crate::locate::bundled(MOBILENET_V2_WEIGHTS)
                .map(Some)
                .map_err(|_| {
                    Error::invalid(
                        "mobilenet_v2: pretrained weights not found; give #{weights: \"…/mobilenet_v2_1.0_224_dequant_f32.safetensors\"} or #{pretrained: false}",
                    )
                }),
            _ => Ok(None),
        }
    }
}

impl ModelOptions {
    /// The keys a zoo name takes, in `KEYS` order (for its help entry).
    pub fn keys_for(name: &str) -> Vec<Key> {
        let takes = options_of(name);
        Self::KEYS
            .iter()
            .filter(|k| takes.contains(&k.name) || COMMON.contains(&k.name))
            .copied()
            .collect()
    }

    /// The keys set away from their defaults.
    fn given(&self) -> Vec<&'static str> {
        let d = ModelOptions::default();
        let mut g = Vec::new();
        let mut note = |set: bool, k: &'static str| {
            if set {
                g.push(k)
            }
        };
        note(self.classes.is_some(), "classes");
        note(self.size.is_some(), "size");
        note(self.pneumonia != d.pneumonia, "pneumonia");
        note(self.in_channels.is_some(), "in_channels");
        note(self.blocks.is_some(), "blocks");
        note(self.widths.is_some(), "widths");
        note(self.features.is_some(), "features");
        note(self.c.is_some(), "c");
        note(self.pretrained != d.pretrained, "pretrained");
        note(self.activation.is_some(), "activation");
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::read;

    #[test]
    fn every_key_is_settable_with_a_value_of_its_kind() {
        for k in ModelOptions::KEYS {
            let v = match k.kind {
                Kind::Int => Value::Int(3),
                Kind::Float => Value::Float(0.5),
                Kind::Bool => Value::Bool(k.default != "true"),
                Kind::Text if k.name == "dtype" => Value::Text("f64".into()),
                Kind::Text if k.name == "activation" => Value::Text("relu".into()),
                Kind::Text => Value::Text("x".into()),
                Kind::Ints | Kind::Floats => Value::List(vec![Value::Int(1), Value::Int(2)]),
                Kind::Texts => Value::List(vec![Value::Text("a".into())]),
                Kind::Dataset => unreachable!("no model option takes a dataset"),
            };
            let mut o = ModelOptions::default();
            o.set(k.name, &v)
                .unwrap_or_else(|e| panic!("{}: {e}", k.name));
            assert_ne!(o, ModelOptions::default(), "{} changed nothing", k.name);
        }
    }

    #[test]
    fn names_take_their_defaults_and_refuse_options_they_ignore() {
        let o = ModelOptions::default();
        assert_eq!(
            Arch::from_name("cxc_multi_spa", &o).unwrap(),
            Arch::CxcMultiSpa {
                classes: 4,
                size: 256
            }
        );
        match Arch::from_name("resnet34_pneumonia", &o).unwrap() {
            Arch::ResNet {
                classes,
                pneumonia,
                blocks,
                ..
            } => assert_eq!((classes, pneumonia, blocks), (2, true, vec![3, 4, 6, 3])),
            other => panic!("{other:?}"),
        }
        let given: ModelOptions = read("model", &[("classes".into(), Value::Int(3))]).unwrap();
        let e = Arch::from_name("drybean_fpa", &given)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("drybean_fpa takes no option 'classes'") && e.contains("dtype"),
            "{e}"
        );
        let e = Arch::from_name("resnet35", &o).unwrap_err().to_string();
        assert!(
            e.contains("unknown model 'resnet35'") && e.contains("resnet34"),
            "{e}"
        );
        let keys: Vec<&str> = ModelOptions::keys_for("mobilenet_v1")
            .iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(
            keys,
            [
                "size",
                "pretrained",
                "activation",
                "dtype",
                "weights",
                "lenient",
                "strip_prefix"
            ]
        );
    }
}
