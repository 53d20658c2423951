//! The module tree: every layer has its PyTorch-style name, runs inside a [`Pass`], and lets the
//! pass capture its input or output for Grad-CAM.

use super::graph::emit::Emitter;
use super::pass::Pass;
use candle_core::{Result, Tensor};

/// A module seen as `Any`, so the one kind of module that has more to offer (an imported
/// graph, `Model::graph`) is reached by a downcast instead of a method every module carries.
pub trait AsAny {
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<T: std::any::Any> AsAny for T {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub trait Module: Send + Sync + AsAny {
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
    /// Another name a layer is known by (a graph's module path → the node whose input or
    /// output is the module's), if any.
    fn layer_alias(&self, _name: &str, _input: bool) -> Option<String> {
        None
    }
    /// Why a name that is not a layer is not one, when there is more to say than "unknown".
    fn layer_note(&self, _name: &str) -> Option<String> {
        None
    }
    /// Append this module's forward pass on the value `x` to a graph (ONNX export); returns
    /// the output value.
    fn emit(&self, _e: &mut Emitter, _x: &str) -> crate::Result<String> {
        Err(crate::Error::invalid(format!(
            "a {} layer cannot be written as ONNX",
            self.kind()
        )))
    }
}

/// Run a module with the pass's capture taps on its input and output.
pub fn call(m: &dyn Module, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
    if let Some(r) = &mut pass.record_shapes {
        r.insert(m.name().to_string(), x.dims().to_vec());
    }
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
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let mut h = x.to_string();
        for l in &self.layers {
            h = l.emit(e, &h)?;
        }
        Ok(h)
    }
}
