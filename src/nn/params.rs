//! Parameters and buffers under PyTorch `state_dict` names.
//!
//! Every model owns one [`ParamStore`]; layers hold clones of the `Var`s (shared storage), so
//! loading weights or an optimiser step updates the layers in place.

use crate::error::{Error, Result};
use crate::tensor::random;
use candle_core::{DType, Device, Tensor, Var};

/// What a stored tensor is, which decides whether optimisers touch it and whether it counts as
/// a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Trained by the optimiser (weights, biases, BN affine).
    Trainable,
    /// Float state updated by the forward pass in train mode (BN running statistics).
    Buffer,
    /// An integer counter (BN `num_batches_tracked`), kept for checkpoint compatibility.
    Counter,
}

#[derive(Clone)]
pub struct ParamEntry {
    pub name: String,
    pub var: Var,
    pub kind: ParamKind,
}

/// The named tensors of a model, in registration order (= PyTorch's `state_dict` order).
#[derive(Clone, Default)]
pub struct ParamStore {
    pub entries: Vec<ParamEntry>,
    /// Elements of all entries, kept as they are added: the budget check of each new tensor
    /// counts the model so far without summing every entry again (a model of many small layers
    /// would otherwise take quadratic time to be refused).
    elements: usize,
}

impl ParamStore {
    pub fn get(&self, name: &str) -> Option<&ParamEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The number of trainable scalars (what papers report as "parameters").
    pub fn count_trainable(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind == ParamKind::Trainable)
            .map(|e| e.var.elem_count())
            .sum()
    }

    pub fn trainable(&self) -> Vec<Var> {
        self.entries
            .iter()
            .filter(|e| e.kind == ParamKind::Trainable)
            .map(|e| e.var.clone())
            .collect()
    }
}

/// How a weight starts before any training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// U(−1/√fan_in, 1/√fan_in): PyTorch's default for Linear/Conv weights and biases
    /// (kaiming_uniform with a = √5).
    Uniform {
        fan_in: usize,
    },
    Const(f64),
}

/// Registers parameters under a name prefix while a model is built.
pub struct Builder<'a> {
    store: &'a mut ParamStore,
    prefix: String,
    pub dtype: DType,
    /// Where the parameters are made.
    pub device: Device,
}

impl<'a> Builder<'a> {
    pub fn new(store: &'a mut ParamStore, dtype: DType, device: Device) -> Self {
        Builder {
            store,
            prefix: String::new(),
            dtype,
            device,
        }
    }

    /// A builder for a sub-module: names get `prefix.name.` in front.
    pub fn sub(&mut self, name: &str) -> Builder<'_> {
        let prefix = self.full(name);
        Builder {
            store: &mut *self.store,
            prefix,
            dtype: self.dtype,
            device: self.device.clone(),
        }
    }

    /// The full name of a child or leaf, e.g. `fpa.fconvs.0`.
    pub fn full(&self, name: &str) -> String {
        match (self.prefix.is_empty(), name.is_empty()) {
            (true, _) => name.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{name}", self.prefix),
        }
    }

    /// The prefix itself (the module's own name).
    pub fn path(&self) -> String {
        self.prefix.clone()
    }

    fn push(&mut self, name: &str, t: Tensor, kind: ParamKind) -> Result<Var> {
        let var = Var::from_tensor(&t)?;
        self.store.elements = self.store.elements.saturating_add(var.elem_count());
        self.store.entries.push(ParamEntry {
            name: self.full(name),
            var: var.clone(),
            kind,
        });
        Ok(var)
    }

    /// Check a new tensor of `shape` against the memory budget, counting the model's tensors
    /// so far (a model is refused before it is allocated, not half-way).
    fn reserve(&self, name: &str, shape: &[usize]) -> Result<usize> {
        let what = format!("parameter {}", self.full(name));
        let n = crate::limits::count(&what, shape)?;
        // Building a huge model takes a while: Ctrl-C stops it between tensors.
        crate::interrupt::check()?;
        // Built as f64 values, then converted.
        crate::limits::check(&what, n.saturating_add(self.store.elements), 8)?;
        Ok(n)
    }

    pub fn param(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Var> {
        let n = self.reserve(name, shape)?;
        let data = match init {
            Init::Uniform { fan_in } => {
                let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
                random::uniform_vec(n, -bound, bound)
            }
            Init::Const(c) => vec![c; n],
        };
        let t = Tensor::from_vec(data, shape, &self.device)?.to_dtype(self.dtype)?;
        self.push(name, t, ParamKind::Trainable)
    }

    pub fn buffer(&mut self, name: &str, shape: &[usize], value: f64) -> Result<Var> {
        self.reserve(name, shape)?;
        let t = Tensor::full(value, shape, &self.device)?.to_dtype(self.dtype)?;
        self.push(name, t, ParamKind::Buffer)
    }

    pub fn counter(&mut self, name: &str) -> Result<Var> {
        let t = Tensor::zeros((), DType::I64, &self.device)?;
        self.push(name, t, ParamKind::Counter)
    }
}

/// Check that a name exists, listing the close ones otherwise.
pub fn unknown_layer(name: &str, valid: &[String]) -> Error {
    let mut close: Vec<&String> = valid
        .iter()
        .filter(|v| strsim::jaro_winkler(name, v) > 0.85)
        .collect();
    close.truncate(5);
    let shown: Vec<String> = if close.is_empty() {
        valid.iter().take(40).cloned().collect()
    } else {
        close.into_iter().cloned().collect()
    };
    Error::UnknownName {
        what: "layer",
        name: name.to_string(),
        valid: shown,
    }
}
