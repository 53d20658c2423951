//! The model zoo: the paper's attention models and the ImageNet/pneumonia backbones, with the
//! authors' `state_dict` names (METHOD.md §1, §1.5b) so their checkpoints load as they are.

use super::act::ActKind;
use super::arch::{Arch, ModelOptions};
use super::attention::{Fpa, Spa};
use super::graph::emit::Emitter;
use super::graph::{GraphModule, Op};
use super::layers::{Act, ConvTranspose2d, Linear};
use super::model::Model;
use super::module::{Module, call};
use super::params::{Builder, ParamStore};
use super::pass::{LayerRef, Pass};
use super::weights::{LoadOptions, load_into};
use crate::error::{Error, Result};
use candle_core::{DType, Device, Result as CResult, Tensor};

/// A zoo model by name (`Arch::from_name`), built in the options' dtype and loaded with the
/// weights given, else the name's pretrained ones.
pub fn model(name: &str, o: &ModelOptions) -> Result<Model> {
    let arch = Arch::from_name(name, o)?;
    let weights = match &o.weights {
        Some(w) => Some(w.clone()),
        None => Arch::default_weights(name, o)?,
    };
    let m = arch.build(o.dtype)?;
    if let Some(w) = weights {
        load_into(
            &m,
            &w,
            &LoadOptions {
                lenient: o.lenient,
                strip_prefix: o.strip_prefix.clone(),
                add_prefix: None,
            },
        )?;
    }
    Ok(m)
}

impl Arch {
    /// Build the architecture with freshly initialised weights (PyTorch's default init, drawn
    /// from the seeded generator).
    pub fn build(&self, dtype: DType) -> Result<Model> {
        self.build_on(dtype, &crate::device::current())
    }

    /// `build` with the parameters on `device`.
    pub fn build_on(&self, dtype: DType, device: &Device) -> Result<Model> {
        let mut params = ParamStore::default();
        let mut b = Builder::new(&mut params, dtype, device.clone());
        let (root, input_shape, classes, cam_layer): (
            Box<dyn Module>,
            Vec<usize>,
            usize,
            Option<LayerRef>,
        ) = match self {
            Arch::DrybeanFpa => fpa_model(&mut b, 16, 14, 7)?,
            Arch::CcfFpa => fpa_model(&mut b, 28, 7, 2)?,
            Arch::Fpa {
                features,
                c,
                classes,
            } => fpa_model(&mut b, *features, *c, *classes)?,
            Arch::CxcMultiSpa { classes, size } => {
                if *size < 37 {
                    return Err(Error::invalid(
                        "cxc_multi_spa needs inputs of at least 37×37",
                    ));
                }
                let m = CxcMultiSpa::new(&mut b, *classes)?;
                (
                    Box::new(m),
                    vec![1, *size, *size],
                    *classes,
                    Some(layer("spa1.convs.0", false)),
                )
            }
            Arch::ResNet {
                blocks,
                widths,
                classes,
                in_channels,
                size,
                pneumonia,
            } => {
                let m = super::resnet::ResNet::new(
                    &mut b,
                    blocks,
                    widths,
                    *classes,
                    *in_channels,
                    *pneumonia,
                )?;
                let cam = if *pneumonia {
                    "backbone.conv1"
                } else {
                    "conv1"
                };
                (
                    Box::new(m),
                    vec![*in_channels, *size, *size],
                    *classes,
                    Some(layer(cam, false)),
                )
            }
            Arch::AlexNet {
                classes,
                size,
                pneumonia,
            } => {
                let m = super::alexnet::AlexNet::new(&mut b, *classes, *pneumonia)?;
                let cam = if *pneumonia {
                    "backbone.features.0"
                } else {
                    "features.0"
                };
                (
                    Box::new(m),
                    vec![3, *size, *size],
                    *classes,
                    Some(layer(cam, false)),
                )
            }
            Arch::MobileNetV1 { size, activation } => {
                let m = super::mobilenet::MobileNetV1::new(&mut b, *activation)?;
                (
                    Box::new(m),
                    vec![3, *size, *size],
                    1000,
                    Some(layer("conv1", false)),
                )
            }
            Arch::MobileNetV2 { size, graph } => {
                let m = super::mobilenet::MobileNetV2::new(&mut b, graph)?;
                let cam = m.first_conv_name();
                (
                    Box::new(m),
                    vec![3, *size, *size],
                    1001,
                    Some(layer(&cam, false)),
                )
            }
            Arch::Custom(spec) => {
                let (m, classes) = spec.build(&mut b)?;
                // Grad-CAM's default: the first convolution's output, like the paper's conv1.
                let mut first_conv = None;
                super::module::walk(m.as_ref(), &mut |l| {
                    if first_conv.is_none() && l.kind().starts_with("conv") {
                        first_conv = Some(layer(l.name(), false));
                    }
                });
                (m, spec.input.clone(), classes, first_conv)
            }
            Arch::Graph(g) => {
                let m = GraphModule::new(&mut b, g.spec.clone())?;
                (
                    Box::new(m),
                    g.spec.input_shape.clone(),
                    g.classes,
                    g.cam_layer.clone(),
                )
            }
        };
        Ok(Model {
            arch: self.clone(),
            root,
            params,
            dtype,
            input_shape,
            classes,
            cam_layer,
        })
    }
}

fn layer(name: &str, input: bool) -> LayerRef {
    LayerRef {
        name: name.to_string(),
        input,
    }
}

type Built = (Box<dyn Module>, Vec<usize>, usize, Option<LayerRef>);

fn fpa_model(b: &mut Builder, features: usize, c: usize, classes: usize) -> Result<Built> {
    if features < 9 {
        return Err(Error::invalid(
            "an FPA model needs at least 9 features (two convolutions of width 7 and 3)",
        ));
    }
    let m = FpaClassifier::new(b, c, classes)?;
    // The paper's Grad-CAM for FPA models targets the (unsqueezed) input of the first conv.
    Ok((
        Box::new(m),
        vec![features],
        classes,
        Some(layer("fpa.fconvs.0", true)),
    ))
}

/// `drybeanFPA` / `ccfFPA`: FPA, flatten, Linear(c² → classes).
pub struct FpaClassifier {
    pub fpa: Fpa,
    pub fc: Linear,
}

impl FpaClassifier {
    pub fn new(b: &mut Builder, c: usize, classes: usize) -> CResult<Self> {
        let fpa = Fpa::new(b, "fpa", c)?;
        let fc = Linear::new(b, "fc", c * c, classes, true)?;
        Ok(FpaClassifier { fpa, fc })
    }
}

impl Module for FpaClassifier {
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> &'static str {
        "fpa_classifier"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> CResult<Tensor> {
        let a = call(&self.fpa, x, pass)?;
        call(&self.fc, &a.flatten_from(1)?, pass)
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let a = self.fpa.emit(e, x)?;
        let a = e.op("", Op::Flatten { axis: 1 }, vec![a]);
        self.fc.emit(e, &a)
    }
    fn children(&self) -> Vec<&dyn Module> {
        vec![&self.fpa, &self.fc]
    }
}

/// `CXCMultiSPA` (METHOD.md §1.3): SPA(1, 128) → deconv 1→3 (k3 s2, no bias) → LeakyReLU →
/// SPA(3, 16) → Linear(256 → classes).
pub struct CxcMultiSpa {
    pub spa1: Spa,
    pub deconv: ConvTranspose2d,
    pub decon_act: Act,
    pub spa2: Spa,
    pub fc: Linear,
}

impl CxcMultiSpa {
    pub fn new(b: &mut Builder, classes: usize) -> CResult<Self> {
        let spa1 = Spa::new(b, "spa1", 1, 128)?;
        let (deconv, decon_act) = {
            let mut d = b.sub("decon");
            let deconv = ConvTranspose2d::new(&mut d, "deconv1", 1, 3, 3, 2, false)?;
            (deconv, Act::new(&d, "act", ActKind::LeakyRelu(0.01)))
        };
        let spa2 = Spa::new(b, "spa2", 3, 16)?;
        let fc = Linear::new(b, "fc", 256, classes, true)?;
        Ok(CxcMultiSpa {
            spa1,
            deconv,
            decon_act,
            spa2,
            fc,
        })
    }
}

impl Module for CxcMultiSpa {
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> &'static str {
        "cxc_multi_spa"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> CResult<Tensor> {
        let a = call(&self.spa1, x, pass)?.unsqueeze(1)?;
        let d = call(&self.deconv, &a, pass)?;
        let d = call(&self.decon_act, &d, pass)?;
        let a2 = call(&self.spa2, &d, pass)?;
        call(&self.fc, &a2.flatten_from(1)?, pass)
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let a = self.spa1.emit(e, x)?;
        let axes = e.ints(&[1]);
        let a = e.op("", Op::Unsqueeze, vec![a, axes]);
        let d = self.deconv.emit(e, &a)?;
        let d = self.decon_act.emit(e, &d)?;
        let a2 = self.spa2.emit(e, &d)?;
        let a2 = e.op("", Op::Flatten { axis: 1 }, vec![a2]);
        self.fc.emit(e, &a2)
    }
    fn children(&self) -> Vec<&dyn Module> {
        vec![
            &self.spa1,
            &self.deconv,
            &self.decon_act,
            &self.spa2,
            &self.fc,
        ]
    }
}

/// The paper's Grad-CAM layer (METHOD.md §4.2b) for a model that is one of the zoo's
/// architectures under another name (an exported copy), recognised by the module paths it has.
pub fn paper_cam_layer(has: &dyn Fn(&str) -> bool) -> Option<LayerRef> {
    // (modules present, modules absent, the layer, capture its input)
    const RULES: [(&[&str], &[&str], &str, bool); 6] = [
        (
            &["fpa.fconvs.0", "fpa.softmax", "fc"],
            &[],
            "fpa.fconvs.0",
            true,
        ),
        (
            &["spa1.convs.0", "spa2.softmax", "decon.deconv1", "fc"],
            &[],
            "spa1.convs.0",
            false,
        ),
        (
            &["conv1", "layer1", "layer4", "fc"],
            &["features"],
            "conv1",
            false,
        ),
        (
            &["backbone.conv1", "backbone.layer1", "fc"],
            &[],
            "backbone.conv1",
            false,
        ),
        (
            &["features.0", "features.12", "classifier.6"],
            &["features.13"],
            "features.0",
            false,
        ),
        (
            &["backbone.features.0", "backbone.features.12", "fc"],
            &["backbone.features.13"],
            "backbone.features.0",
            false,
        ),
    ];
    RULES
        .iter()
        .find(|(present, absent, _, _)| {
            present.iter().all(|m| has(m)) && !absent.iter().any(|m| has(m))
        })
        .map(|&(_, _, name, input)| layer(name, input))
}
