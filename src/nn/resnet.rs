//! torchvision ResNet with BasicBlocks (ResNet18/34 family), torchvision's parameter names, and
//! two distinct ReLU sites per block (torchvision reuses one module; Captum and the authors
//! needed them separate, METHOD.md §1.6).

use super::act::ActKind;
use super::graph::emit::Emitter;
use super::graph::{Binary, Op};
use super::layers::{
    Act, AdaptiveAvgPool, BatchNorm, Conv2d, ConvSpec, Linear, MaxPool, batch_norm_act,
};
use super::module::{Module, call};
use super::params::Builder;
use super::pass::Pass;
use crate::tensor::pool::Pool2d;
use candle_core::{Result, Tensor};

pub struct BasicBlock {
    pub name: String,
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub relu1: Act,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub downsample: Option<(Conv2d, BatchNorm)>,
    pub relu2: Act,
}

impl BasicBlock {
    pub fn new(
        b: &mut Builder,
        name: &str,
        cin: usize,
        cout: usize,
        stride: usize,
    ) -> Result<Self> {
        let mut s = b.sub(name);
        let conv1 = Conv2d::new(
            &mut s,
            "conv1",
            ConvSpec::new(cin, cout, 3).stride(stride).pad(1).no_bias(),
        )?;
        let bn1 = BatchNorm::new(&mut s, "bn1", cout, 1e-5)?;
        let relu1 = Act::new(&s, "relu1", ActKind::Relu);
        let conv2 = Conv2d::new(
            &mut s,
            "conv2",
            ConvSpec::new(cout, cout, 3).pad(1).no_bias(),
        )?;
        let bn2 = BatchNorm::new(&mut s, "bn2", cout, 1e-5)?;
        let downsample = if stride != 1 || cin != cout {
            let mut d = s.sub("downsample");
            let c = Conv2d::new(
                &mut d,
                "0",
                ConvSpec::new(cin, cout, 1).stride(stride).no_bias(),
            )?;
            let n = BatchNorm::new(&mut d, "1", cout, 1e-5)?;
            Some((c, n))
        } else {
            None
        };
        let relu2 = Act::new(&s, "relu2", ActKind::Relu);
        Ok(BasicBlock {
            name: s.path(),
            conv1,
            bn1,
            relu1,
            conv2,
            bn2,
            downsample,
            relu2,
        })
    }
}

impl Module for BasicBlock {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "basic_block"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let h = call(&self.conv1, x, pass)?;
        let h = batch_norm_act(&self.bn1, &self.relu1, &h, None, pass)?;
        let h = call(&self.conv2, &h, pass)?;
        let identity = match &self.downsample {
            Some((c, n)) => {
                let d = call(c, x, pass)?;
                call(n, &d, pass)?
            }
            None => x.clone(),
        };
        batch_norm_act(&self.bn2, &self.relu2, &h, Some(&identity), pass)
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut h = x.to_string();
        for m in [
            &self.conv1 as &dyn Module,
            &self.bn1,
            &self.relu1,
            &self.conv2,
            &self.bn2,
        ] {
            h = m.emit(e, &h)?;
        }
        let identity = match &self.downsample {
            Some((c, n)) => {
                let d = c.emit(e, x)?;
                n.emit(e, &d)?
            }
            None => x.to_string(),
        };
        let sum = e.op(&self.name, Op::Binary(Binary::Add), vec![h, identity]);
        self.relu2.emit(e, &sum)
    }
    fn children(&self) -> Vec<&dyn Module> {
        let mut v: Vec<&dyn Module> =
            vec![&self.conv1, &self.bn1, &self.relu1, &self.conv2, &self.bn2];
        if let Some((c, n)) = &self.downsample {
            v.push(c);
            v.push(n);
        }
        v.push(&self.relu2);
        v
    }
}

/// The ResNet trunk (`conv1 … avgpool`) and a head.
pub struct ResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub relu: Act,
    pub maxpool: MaxPool,
    pub layers: Vec<BasicBlock>,
    pub avgpool: AdaptiveAvgPool,
    /// The classifier the forward pass uses: torchvision's `fc`, or the pneumonia head `fc`.
    pub fc: Linear,
    /// The pneumonia layout keeps torchvision's unused 1000-way `backbone.fc` in its checkpoints.
    pub unused_fc: Option<Linear>,
}

impl ResNet {
    pub fn new(
        b: &mut Builder,
        blocks: &[usize],
        widths: &[usize],
        classes: usize,
        in_ch: usize,
        pneumonia: bool,
    ) -> Result<Self> {
        if blocks.len() != widths.len() || blocks.is_empty() {
            candle_core::bail!("resnet: blocks and widths must be non-empty and of equal length");
        }
        // The 3×3 convolutions alone (two per block) are a lower bound of the parameters:
        // a model that cannot fit is refused here, before any of it is drawn.
        let convs = blocks
            .iter()
            .zip(widths)
            .map(|(&n, &w)| (n as u128) * 18 * (w as u128) * (w as u128))
            .sum::<u128>();
        crate::limits::check(
            "resnet: its 3×3 convolutions",
            usize::try_from(convs).unwrap_or(usize::MAX),
            8,
        )
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut root = if pneumonia {
            b.sub("backbone")
        } else {
            b.sub("")
        };
        let stem = widths[0];
        let conv1 = Conv2d::new(
            &mut root,
            "conv1",
            ConvSpec::new(in_ch, stem, 7).stride(2).pad(3).no_bias(),
        )?;
        let bn1 = BatchNorm::new(&mut root, "bn1", stem, 1e-5)?;
        let relu = Act::new(&root, "relu", ActKind::Relu);
        let maxpool = MaxPool {
            name: root.full("maxpool"),
            pool: Pool2d::square(3, 2, 1),
        };
        let mut layers = Vec::new();
        let mut cin = stem;
        for (i, (&n, &w)) in blocks.iter().zip(widths).enumerate() {
            let mut l = root.sub(&format!("layer{}", i + 1));
            for j in 0..n {
                let stride = if j == 0 && i > 0 { 2 } else { 1 };
                layers.push(BasicBlock::new(&mut l, &j.to_string(), cin, w, stride)?);
                cin = w;
            }
        }
        let avgpool = AdaptiveAvgPool {
            name: root.full("avgpool"),
            size: (1, 1),
        };
        let (fc, unused_fc) = if pneumonia {
            let unused = Linear::new(&mut root, "fc", cin, 1000, true)?;
            drop(root);
            (Linear::new(b, "fc", cin, classes, false)?, Some(unused))
        } else {
            (Linear::new(&mut root, "fc", cin, classes, true)?, None)
        };
        Ok(ResNet {
            conv1,
            bn1,
            relu,
            maxpool,
            layers,
            avgpool,
            fc,
            unused_fc,
        })
    }
}

impl Module for ResNet {
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> &'static str {
        "resnet"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let mut h = call(&self.conv1, x, pass)?;
        h = batch_norm_act(&self.bn1, &self.relu, &h, None, pass)?;
        h = call(&self.maxpool, &h, pass)?;
        for l in &self.layers {
            h = call(l, &h, pass)?;
        }
        h = call(&self.avgpool, &h, pass)?;
        call(&self.fc, &h.flatten_from(1)?, pass)
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut h = x.to_string();
        for m in [
            &self.conv1 as &dyn Module,
            &self.bn1,
            &self.relu,
            &self.maxpool,
        ] {
            h = m.emit(e, &h)?;
        }
        for l in &self.layers {
            h = l.emit(e, &h)?;
        }
        h = self.avgpool.emit(e, &h)?;
        let h = e.op("", Op::Flatten { axis: 1 }, vec![h]);
        self.fc.emit(e, &h)
    }
    fn children(&self) -> Vec<&dyn Module> {
        let mut v: Vec<&dyn Module> = vec![&self.conv1, &self.bn1, &self.relu, &self.maxpool];
        v.extend(self.layers.iter().map(|l| l as &dyn Module));
        v.push(&self.avgpool);
        v.push(&self.fc);
        v
    }
}
