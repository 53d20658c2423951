//! The module tree: every layer has its PyTorch-style name, runs inside a [`Pass`], and lets the
//! pass capture its input or output for Grad-CAM.

use super::pass::Pass;
use candle_core::{Result, Tensor};

pub trait Module: Send + Sync {
    /// The full PyTorch-style name (`spa1.convs.0`); empty for the root.
    fn name(&self) -> &str;
    /// A short type name for listings (`conv2d`, `relu`, `fpa`…).
    fn kind(&self) -> &'static str;
    /// The computation proper; callers use [`call`], which adds the capture taps.
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor>;
    /// Direct sub-modules, in forward order.
    fn children(&self) -> Vec<&dyn Module> {
        Vec::new()
    }
}

/// Run a module with the pass's capture taps on its input and output.
pub fn call(m: &dyn Module, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
    let x = pass.tap_input(m.name(), x)?;
    let y = m.forward(&x, pass)?;
    pass.tap_output(m.name(), y)
}

/// Visit a module and all its descendants, parents first.
pub fn walk<'a>(m: &'a dyn Module, f: &mut dyn FnMut(&'a dyn Module)) {
    f(m);
    for c in m.children() {
        walk(c, f);
    }
}

/// Modules applied one after another (`nn.Sequential`).
pub struct Sequential {
    pub name: String,
    pub layers: Vec<Box<dyn Module>>,
}

impl Module for Sequential {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "sequential"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let mut h = x.clone();
        for l in &self.layers {
            h = call(l.as_ref(), &h, pass)?;
        }
        Ok(h)
    }
    fn children(&self) -> Vec<&dyn Module> {
        self.layers
            .iter()
            .map(|l| l.as_ref() as &dyn Module)
            .collect()
    }
}
