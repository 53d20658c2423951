//! One forward pass: which backward rule the activations run, train or eval mode, whether
//! parameters take gradients, and which layer's activation (and its gradient) to capture.

use super::act::{ActKind, Rule, activation};
use crate::tensor::grad_hook::GradHook;
use candle_core::{Result, Tensor, Var};

/// Where to capture a layer's activation for Grad-CAM: its output, or its input (Captum's
/// `attribute_to_layer_input=True`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRef {
    pub name: String,
    pub input: bool,
}

/// The name as `layer:` takes it, with " (input)" when the layer's input is captured.
impl std::fmt::Display for LayerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let input = if self.input { " (input)" } else { "" };
        write!(f, "{}{input}", self.name)
    }
}

/// The captured activation and the hook that will hold its gradient after `backward`.
#[derive(Clone)]
pub struct Captured {
    pub activation: Tensor,
    pub hook: GradHook,
}

#[derive(Default)]
pub struct Pass {
    pub rule: Rule,
    /// Inputs per half of a DeepLift batch.
    pub samples: usize,
    /// Batch-norm uses batch statistics and updates its running statistics.
    pub train: bool,
    /// Parameters enter the graph as variables (training); otherwise they are constants, so
    /// backward computes only what attribution needs.
    pub grad_params: bool,
    pub capture: Option<LayerRef>,
    pub captured: Option<Captured>,
    /// Record every named layer's input shape (for writing the model as a graph).
    pub record_shapes: Option<std::collections::HashMap<String, Vec<usize>>>,
}

impl Pass {
    /// Inference or attribution with the given rule.
    pub fn eval(rule: Rule) -> Self {
        Pass {
            rule,
            ..Default::default()
        }
    }

    /// A training step: batch statistics and parameter gradients.
    pub fn train() -> Self {
        Pass {
            train: true,
            grad_params: true,
            ..Default::default()
        }
    }

    pub fn with_capture(mut self, layer: Option<LayerRef>) -> Self {
        self.capture = layer;
        self
    }

    /// A parameter as used in this pass.
    pub fn param(&self, v: &Var) -> Tensor {
        if self.grad_params {
            v.as_tensor().clone()
        } else {
            v.as_tensor().detach()
        }
    }

    /// Apply a nonlinearity as a rule-aware site.
    pub fn act(&self, kind: ActKind, x: &Tensor) -> Result<Tensor> {
        activation(x, kind, self.rule, self.samples)
    }

    /// Whether this pass will capture the input (or output) of the layer `name`.
    pub fn captures(&self, name: &str, input: bool) -> bool {
        matches!(&self.capture, Some(c) if c.name == name && c.input == input && self.captured.is_none())
    }

    fn tap(&mut self, name: &str, input: bool, t: Tensor) -> Result<Tensor> {
        match &self.capture {
            Some(c) if c.name == name && c.input == input && self.captured.is_none() => {
                // When nothing before the layer takes gradients (Grad-CAM asks only for the
                // layer's), the graph starts here and backward stops at the layer.
                let t = if t.track_op() {
                    t
                } else {
                    Var::from_tensor(&t)?.into_inner()
                };
                let hook = GradHook::new();
                let t = hook.attach(&t)?;
                self.captured = Some(Captured {
                    activation: t.detach(),
                    hook,
                });
                Ok(t)
            }
            _ => Ok(t),
        }
    }

    /// Called by every layer on its input.
    pub fn tap_input(&mut self, name: &str, t: &Tensor) -> Result<Tensor> {
        self.tap(name, true, t.clone())
    }

    /// Called by every layer on its output.
    pub fn tap_output(&mut self, name: &str, t: Tensor) -> Result<Tensor> {
        self.tap(name, false, t)
    }
}
