//! torchvision AlexNet with its parameter names (`features.N`, `classifier.N`); the pneumonia
//! layout puts them under `backbone.` and replaces `classifier.6` by a 2-way `fc` without bias.

use super::act::ActKind;
use super::layers::{Act, AdaptiveAvgPool, Conv2d, ConvSpec, Dropout, Linear, MaxPool};
use super::module::{Module, Sequential, call};
use super::params::Builder;
use super::pass::Pass;
use crate::tensor::pool::Pool2d;
use candle_core::{Result, Tensor};

pub struct AlexNet {
    pub features: Sequential,
    pub avgpool: AdaptiveAvgPool,
    pub classifier: Sequential,
    pub fc: Option<Linear>,
}

impl AlexNet {
    pub fn new(b: &mut Builder, classes: usize, pneumonia: bool) -> Result<Self> {
        let mut root = if pneumonia {
            b.sub("backbone")
        } else {
            b.sub("")
        };
        let features = {
            let mut f = root.sub("features");
            let pool = |f: &Builder, i: usize| -> Box<dyn Module> {
                Box::new(MaxPool {
                    name: f.full(&i.to_string()),
                    pool: Pool2d::square(3, 2, 0),
                })
            };
            let relu = |f: &Builder, i: usize| -> Box<dyn Module> {
                Box::new(Act::new(f, &i.to_string(), ActKind::Relu))
            };
            let layers: Vec<Box<dyn Module>> = vec![
                Box::new(Conv2d::new(
                    &mut f,
                    "0",
                    ConvSpec::new(3, 64, 11).stride(4).pad(2),
                )?),
                relu(&f, 1),
                pool(&f, 2),
                Box::new(Conv2d::new(&mut f, "3", ConvSpec::new(64, 192, 5).pad(2))?),
                relu(&f, 4),
                pool(&f, 5),
                Box::new(Conv2d::new(&mut f, "6", ConvSpec::new(192, 384, 3).pad(1))?),
                relu(&f, 7),
                Box::new(Conv2d::new(&mut f, "8", ConvSpec::new(384, 256, 3).pad(1))?),
                relu(&f, 9),
                Box::new(Conv2d::new(
                    &mut f,
                    "10",
                    ConvSpec::new(256, 256, 3).pad(1),
                )?),
                relu(&f, 11),
                pool(&f, 12),
            ];
            Sequential {
                name: f.path(),
                layers,
            }
        };
        let avgpool = AdaptiveAvgPool {
            name: root.full("avgpool"),
            size: (6, 6),
        };
        let mut c = root.sub("classifier");
        let mut layers: Vec<Box<dyn Module>> = vec![
            Box::new(Dropout {
                name: c.full("0"),
                p: 0.5,
            }),
            Box::new(Linear::new(&mut c, "1", 9216, 4096, true)?),
            Box::new(Act::new(&c, "2", ActKind::Relu)),
            Box::new(Dropout {
                name: c.full("3"),
                p: 0.5,
            }),
            Box::new(Linear::new(&mut c, "4", 4096, 4096, true)?),
            Box::new(Act::new(&c, "5", ActKind::Relu)),
        ];
        let last = Linear::new(
            &mut c,
            "6",
            4096,
            if pneumonia { 1000 } else { classes },
            true,
        )?;
        let classifier_name = c.path();
        drop(c);
        drop(root);
        let fc = if pneumonia {
            // classifier.6 stays in the checkpoint but the forward pass skips it.
            Some(Linear::new(b, "fc", 4096, classes, false)?)
        } else {
            layers.push(Box::new(last));
            None
        };
        Ok(AlexNet {
            features,
            avgpool,
            classifier: Sequential {
                name: classifier_name,
                layers,
            },
            fc,
        })
    }
}

impl Module for AlexNet {
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> &'static str {
        "alexnet"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let h = call(&self.features, x, pass)?;
        let h = call(&self.avgpool, &h, pass)?;
        let h = call(&self.classifier, &h.flatten_from(1)?, pass)?;
        match &self.fc {
            Some(fc) => call(fc, &h, pass),
            None => Ok(h),
        }
    }
    fn emit(&self, e: &mut super::graph::emit::Emitter, x: &str) -> crate::Result<String> {
        let h = self.features.emit(e, x)?;
        let h = self.avgpool.emit(e, &h)?;
        let h = e.op("", super::graph::Op::Flatten { axis: 1 }, vec![h]);
        let h = self.classifier.emit(e, &h)?;
        match &self.fc {
            Some(fc) => fc.emit(e, &h),
            None => Ok(h),
        }
    }
    fn children(&self) -> Vec<&dyn Module> {
        let mut v: Vec<&dyn Module> = vec![&self.features, &self.avgpool, &self.classifier];
        if let Some(fc) = &self.fc {
            v.push(fc);
        }
        v
    }
}
