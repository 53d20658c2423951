//! A model: a module tree, its named parameters, and what it expects and produces.

use super::act::Rule;
use super::arch::Arch;
use super::module::{Module, walk};
use super::params::{ParamKind, ParamStore, unknown_layer};
use super::pass::{LayerRef, Pass};
use crate::data::Dataset;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;

/// Samples per forward pass when the caller does not choose: memory stays bounded whatever the
/// dataset's size, and batches this large already run at full speed on a CPU.
pub const CHUNK: usize = 256;

pub struct Model {
    /// How the model was built (zoo entry or YAML spec); rebuilt for dtype changes.
    pub arch: Arch,
    pub root: Box<dyn Module>,
    pub params: ParamStore,
    pub dtype: DType,
    /// The shape of one input sample, e.g. `[16]` or `[1, 256, 256]`.
    pub input_shape: Vec<usize>,
    pub classes: usize,
    /// The layer the paper's Grad-CAM uses for this architecture (METHOD.md §4.2).
    pub cam_layer: Option<LayerRef>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Model({}, {} parameters, {:?})",
            self.arch.name(),
            self.count_params(),
            self.dtype
        )
    }
}

impl Model {
    pub fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        self.check_input(x)?;
        let x = crate::device::to(x, &self.device())?;
        let x = if x.dtype() == self.dtype {
            x
        } else {
            x.to_dtype(self.dtype)?
        };
        Ok(self.root.forward(&x, pass)?)
    }

    /// Logits in eval mode without gradients, in chunks of `chunk` samples.
    pub fn logits(&self, x: &Tensor, chunk: usize) -> Result<Tensor> {
        let n = x.dim(0)?;
        let chunk = chunk.max(1);
        let mut parts = Vec::new();
        let mut start = 0;
        while start < n {
            crate::interrupt::check()?;
            let len = chunk.min(n - start);
            let mut pass = Pass::eval(Rule::Plain);
            parts.push(self.forward(&x.narrow(0, start, len)?, &mut pass)?.detach());
            start += len;
        }
        if parts.is_empty() {
            return Err(Error::invalid("logits of an empty batch"));
        }
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Predicted classes (argmax of the logits).
    pub fn predict(&self, x: &Tensor, chunk: usize) -> Result<Vec<usize>> {
        let l = self.logits(x, chunk)?;
        Ok(l.argmax(1)?
            .to_vec1::<u32>()?
            .into_iter()
            .map(|v| v as usize)
            .collect())
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        let dims = x.dims();
        if dims.len() != self.input_shape.len() + 1 || dims[1..] != self.input_shape[..] {
            return Err(Error::invalid(format!(
                "{} expects inputs of shape [N, {}], got {:?}",
                self.arch.name(),
                self.input_shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                dims
            )));
        }
        if !x.dtype().is_float() {
            return Err(Error::invalid("model inputs must be float tensors"));
        }
        Ok(())
    }

    /// The first `n` samples, in dataset order, that the model classifies correctly (GAX's sample
    /// choice, METHOD.md §5). Fewer than `n` is an error naming how many there are.
    pub fn first_n_correct(&self, ds: &Dataset, n: usize, chunk: usize) -> Result<Dataset> {
        let mut chosen = Vec::new();
        let mut start = 0;
        while start < ds.len() && chosen.len() < n {
            let len = chunk.min(ds.len() - start);
            let pred = self.predict(&ds.batch(start, len)?, chunk)?;
            for (k, p) in pred.into_iter().enumerate() {
                if p == ds.y[start + k] && chosen.len() < n {
                    chosen.push(start + k);
                }
            }
            start += len;
        }
        if chosen.len() < n {
            return Err(Error::invalid(format!(
                "first_n_correct: only {} of {} samples are classified correctly, {n} were asked for",
                chosen.len(),
                ds.len()
            )));
        }
        ds.subset(&chosen, &format!("first {n} correctly classified samples"))
    }

    /// The model as a graph of operations, when it is one (an imported ONNX model).
    pub fn graph(&self) -> Option<&super::graph::GraphModule> {
        // Through `&dyn Module`, so the downcast sees the concrete module, not the Box.
        let root: &dyn Module = self.root.as_ref();
        root.as_any().downcast_ref()
    }

    pub fn count_params(&self) -> usize {
        self.params.count_trainable()
    }

    /// The architecture, its size and dtype, the default Grad-CAM layer, and every layer (an
    /// imported graph's nodes with the PyTorch module each came from, which `layer:` also takes).
    pub fn summary(&self) -> String {
        let dtype = crate::tensor::format::dtype_str(self.dtype);
        let mut s = format!(
            "{} ({} trainable parameters, {dtype})\n",
            self.arch.name(),
            self.count_params()
        );
        if let Some(l) = &self.cam_layer {
            let input = if l.input { " (its input)" } else { "" };
            s.push_str(&format!("  default Grad-CAM layer: {}{input}\n", l.name));
        }
        match self.graph() {
            Some(g) => {
                for node in &g.spec().nodes {
                    let kind = node.op.kind();
                    s.push_str(&format!("  {:<40} {kind:<20} {}\n", node.name, node.module));
                }
            }
            None => {
                for (name, kind) in self.layers() {
                    s.push_str(&format!("  {name:<28} {kind}\n"));
                }
            }
        }
        s.trim_end().to_string()
    }

    /// Every named layer, in forward order, with its kind.
    pub fn layers(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        walk(self.root.as_ref(), &mut |m| {
            if !m.name().is_empty() {
                out.push((m.name().to_string(), m.kind()));
            }
        });
        out
    }

    /// Check a layer name, listing the valid (or the closest) names otherwise.
    pub fn check_layer(&self, name: &str) -> Result<()> {
        self.resolve_layer(&LayerRef {
            name: name.to_string(),
            input: false,
        })
        .map(|_| ())
    }

    /// The layer a name means: a layer of `layers()`, or another name for one (an imported
    /// graph's module path, such as `layer4.1`, is the last node inside that module).
    pub fn resolve_layer(&self, layer: &LayerRef) -> Result<LayerRef> {
        let names: Vec<String> = self.layers().into_iter().map(|(n, _)| n).collect();
        if names.iter().any(|n| n == &layer.name) {
            return Ok(layer.clone());
        }
        match self.root.layer_alias(&layer.name, layer.input) {
            Some(name) => Ok(LayerRef {
                name,
                input: layer.input,
            }),
            None => match self.root.layer_note(&layer.name) {
                Some(note) => Err(Error::invalid(format!("layer '{}': {note}", layer.name))),
                None => Err(unknown_layer(&layer.name, &names)),
            },
        }
    }

    /// The weights as PyTorch names them (`state_dict()`), buffers and counters included.
    pub fn state_dict(&self) -> HashMap<String, Tensor> {
        self.params
            .entries
            .iter()
            .map(|e| (e.name.clone(), e.var.as_tensor().detach()))
            .collect()
    }

    /// Load named tensors. Every model tensor must be present with its shape; keys the model
    /// does not have are an error unless listed in `ignore_unexpected` or `strict` is false.
    /// Floats are converted to the model's dtype.
    pub fn load_state_dict(
        &self,
        map: &HashMap<String, Tensor>,
        strict: bool,
    ) -> Result<LoadReport> {
        let mut missing = Vec::new();
        let mut wrong_shape = Vec::new();
        for e in &self.params.entries {
            match map.get(&e.name) {
                None => missing.push(e.name.clone()),
                Some(t) if t.dims() != e.var.dims() => wrong_shape.push(format!(
                    "{} (file {:?}, model {:?})",
                    e.name,
                    t.dims(),
                    e.var.dims()
                )),
                Some(_) => {}
            }
        }
        let known: Vec<&str> = self
            .params
            .entries
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let mut unexpected: Vec<String> = map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        unexpected.sort();
        let counters_only = missing.iter().all(|m| {
            self.params
                .get(m)
                .map(|e| e.kind == ParamKind::Counter)
                .unwrap_or(false)
        });
        if !wrong_shape.is_empty()
            || (!missing.is_empty() && !counters_only)
            || (strict && !unexpected.is_empty())
        {
            let mut parts = Vec::new();
            if !missing.is_empty() {
                parts.push(format!("missing {}", list(&missing)));
            }
            if !wrong_shape.is_empty() {
                parts.push(format!("wrong shape {}", list(&wrong_shape)));
            }
            if strict && !unexpected.is_empty() {
                parts.push(format!("unexpected {}", list(&unexpected)));
            }
            return Err(Error::Weights(format!(
                "{}: {}",
                self.arch.name(),
                parts.join("; ")
            )));
        }
        for e in &self.params.entries {
            if let Some(t) = map.get(&e.name) {
                let t = crate::device::to(t, e.var.device())?;
                let t = match e.kind {
                    ParamKind::Counter => t.to_dtype(DType::I64)?,
                    _ => t.to_dtype(self.dtype)?,
                };
                crate::tensor::assign(&e.var, &t)?;
            }
        }
        Ok(LoadReport {
            loaded: self.params.entries.len() - missing.len(),
            unexpected,
        })
    }

    /// The same model in another dtype (weights converted).
    pub fn to_dtype(&self, dtype: DType) -> Result<Model> {
        if dtype == self.dtype {
            return self.duplicate();
        }
        self.rebuilt(dtype, &self.device())
    }

    /// Where the parameters live (inputs are moved there by `forward`).
    pub fn device(&self) -> Device {
        self.params
            .entries
            .first()
            .map(|e| e.var.device().clone())
            .unwrap_or(Device::Cpu)
    }

    /// The same model with its parameters on `device`.
    pub fn to_device(&self, device: &Device) -> Result<Model> {
        if device.same_device(&self.device()) {
            return self.duplicate();
        }
        self.rebuilt(self.dtype, device)
    }

    /// The architecture built anew with this model's weights converted to `dtype` on `device`
    /// (conversions make new tensors, so the copies share nothing).
    fn rebuilt(&self, dtype: DType, device: &Device) -> Result<Model> {
        let m = self.arch.build_on(dtype, device)?;
        m.load_state_dict(&self.state_dict(), true)?;
        Ok(m)
    }

    /// An independent copy (own parameters).
    pub fn duplicate(&self) -> Result<Model> {
        let m = self.arch.build_on(self.dtype, &self.device())?;
        let sd: HashMap<String, Tensor> = self
            .state_dict()
            .into_iter()
            .map(|(k, v)| Ok((k, v.copy()?)))
            .collect::<candle_core::Result<_>>()?;
        m.load_state_dict(&sd, true)?;
        Ok(m)
    }
}

fn list(v: &[String]) -> String {
    if v.len() > 8 {
        format!("{} and {} more", v[..8].join(", "), v.len() - 8)
    } else {
        v.join(", ")
    }
}

/// What a weight load did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub loaded: usize,
    /// Keys in the file the model has no use for (kept only in non-strict loads).
    pub unexpected: Vec<String>,
}
