//! Models that are graphs of operations: what an imported ONNX file becomes, and what
//! `save_onnx` writes. The graph's nonlinearities are the same rule-aware sites the zoo's layers
//! use, so every attribution method, AX, CO, GAX and training work on it unchanged.
//!
//! A [`GraphSpec`] is the structure (nodes, their attributes, named parameters and constants;
//! no weight values): `Arch::Graph` holds it and builds a [`GraphModule`] from it in any dtype,
//! on any device. The operation vocabulary ([`Op`]) follows ONNX (opset 13+ semantics; the
//! importer rewrites older attribute forms into inputs).
//!
//! ## Which nonlinearities follow an attribution rule
//!
//! Captum changes the backward pass of *modules* (`nn.ReLU`, `nn.Sigmoid`, …), not of function
//! calls. A graph no longer says which `Relu` came from a module and which from `torch.relu`, so
//! every `Relu`, `LeakyRelu`, `Elu`, `Sigmoid`, `Tanh`, `Softplus`, `Softmax` and `MaxPool` node
//! is treated as a module, with two exceptions that Captum's hooks imply:
//! * a `Sigmoid` whose output is multiplied by its own input is `nn.SiLU` (not a module Captum
//!   hooks), so it keeps its ordinary gradient;
//! * a hooked node whose input is the *output of another hooked node* loses its rule: Captum
//!   records the producer's output gradient before the consumer's hook rewrites it (both hooks
//!   sit on the same tensor, the producer's first), so the producer's rule sees the consumer's
//!   plain gradient. This is why a `MaxPool` after a `ReLU` acts as a plain max-pool in DeepLift,
//!   and a `ReLU` after a `MaxPool` as a plain ReLU.

pub mod emit;
pub mod ops;
pub mod spec;
pub mod value;

use super::act::{ActKind, Rule};
use super::module::Module;
use super::params::{Builder, Init, ParamKind};
use super::pass::Pass;
use crate::error::{Error, Result};
use candle_core::{Result as CResult, Tensor, Var};
pub use spec::*;
use std::collections::HashMap;
use std::sync::Arc;
pub use value::{Ints, Value};

/// Sees every value a run computes (its name and, in lockstep, its first chunk).
type Recorder<'a> = dyn FnMut(&str, &Value) + 'a;

/// Where a node reads an input from.
#[derive(Clone, Copy, Debug)]
enum Src {
    Slot(usize),
    Param(usize),
    Const(usize),
    Absent,
}

/// How a nonlinearity site follows the attribution rules (see the module notes).
#[derive(Clone, Copy, Debug, Default)]
pub struct Site {
    /// Captum's DeepLift hooks the corresponding module.
    deeplift: bool,
    /// Guided Backprop and Deconvolution hook it (ReLU).
    relu_rule: bool,
    /// Its input is the output of another hooked node, so its rule is lost.
    deeplift_shadowed: bool,
    relu_rule_shadowed: bool,
}

impl Site {
    /// The rule this node's backward follows when the pass runs `rule`.
    pub fn rule(&self, rule: Rule) -> Rule {
        match rule {
            Rule::Plain => Rule::Plain,
            Rule::GuidedBackprop | Rule::Deconvolution
                if self.relu_rule && !self.relu_rule_shadowed =>
            {
                rule
            }
            Rule::DeepLift if self.deeplift && !self.deeplift_shadowed => rule,
            _ => Rule::Plain,
        }
    }
}

struct Node {
    inputs: Vec<Src>,
    outputs: Vec<usize>,
    site: Site,
}

/// A node as a layer of the model: its name and op type (what `layers()` lists).
pub struct NodeLayer {
    name: String,
    kind: &'static str,
}

impl Module for NodeLayer {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn forward(&self, _: &Tensor, _: &mut Pass) -> CResult<Tensor> {
        candle_core::bail!("graph node {} runs only inside its graph", self.name)
    }
}

/// What every op may need to know about the running pass.
pub struct Ctx {
    /// Rows of the running batch.
    pub batch: usize,
    pub export_batch: Option<usize>,
    /// Where and in which type new float tensors are made.
    pub dtype: candle_core::DType,
    pub device: candle_core::Device,
}

/// A built graph: parameters, constants in the model's dtype, and the schedule.
pub struct GraphModule {
    spec: Arc<GraphSpec>,
    nodes: Vec<Node>,
    layers: Vec<NodeLayer>,
    params: Vec<Var>,
    consts: Vec<Value>,
    input: usize,
    output: usize,
    slots: usize,
    /// Slots no later node reads, to drop after node i.
    free_after: Vec<Vec<usize>>,
    /// Module path → its first node (whose input is the module's) and its last node (whose
    /// output is the module's).
    modules: HashMap<String, (String, String)>,
}

impl GraphModule {
    pub fn new(b: &mut Builder, spec: Arc<GraphSpec>) -> Result<GraphModule> {
        let mut params = Vec::with_capacity(spec.params.len());
        let mut sources: HashMap<&str, Src> = HashMap::new();
        for (i, p) in spec.params.iter().enumerate() {
            let var = match p.kind {
                ParamKind::Trainable => b.param(&p.name, &p.dims, p.init)?,
                ParamKind::Buffer => {
                    let v = match p.init {
                        Init::Const(c) => c,
                        Init::Uniform { .. } => 0.0,
                    };
                    b.buffer(&p.name, &p.dims, v)?
                }
                ParamKind::Counter => b.counter(&p.name)?,
            };
            params.push(var);
            sources.insert(&p.name, Src::Param(i));
        }
        let mut consts = Vec::with_capacity(spec.constants.len());
        for (i, (name, c)) in spec.constants.iter().enumerate() {
            consts.push(match c {
                Constant::Float { dims, data } => Value::F(
                    Tensor::from_slice(data, dims.as_slice(), &b.device)?.to_dtype(b.dtype)?,
                ),
                Constant::Int(v) => Value::I(v.clone()),
            });
            sources.insert(name, Src::Const(i));
        }
        let mut slots = 0;
        let mut slot_of = |name: &str, names: &mut HashMap<String, usize>| -> usize {
            *names.entry(name.to_string()).or_insert_with(|| {
                slots += 1;
                slots - 1
            })
        };
        let mut slot_names: HashMap<String, usize> = HashMap::new();
        let input = slot_of(&spec.input, &mut slot_names);
        let mut nodes = Vec::with_capacity(spec.nodes.len());
        let mut last_read: HashMap<usize, usize> = HashMap::new();
        for (i, n) in spec.nodes.iter().enumerate() {
            let mut inputs = Vec::with_capacity(n.inputs.len());
            for name in &n.inputs {
                let src = if name.is_empty() {
                    Src::Absent
                } else if let Some(s) = sources.get(name.as_str()) {
                    *s
                } else if let Some(&k) = slot_names.get(name) {
                    last_read.insert(k, i);
                    Src::Slot(k)
                } else {
                    return Err(Error::invalid(format!(
                        "graph: node '{}' reads '{name}', which no earlier node, initializer or input provides",
                        n.name
                    )));
                };
                inputs.push(src);
            }
            let outputs = n
                .outputs
                .iter()
                .map(|o| slot_of(o, &mut slot_names))
                .collect();
            nodes.push(Node {
                inputs,
                outputs,
                site: Site::default(),
            });
        }
        let output = *slot_names.get(&spec.output).ok_or_else(|| {
            Error::invalid(format!(
                "graph: no node computes the output '{}'",
                spec.output
            ))
        })?;
        last_read.insert(output, usize::MAX);
        let mut free_after = vec![Vec::new(); spec.nodes.len()];
        for (&slot, &i) in &last_read {
            if i != usize::MAX {
                free_after[i].push(slot);
            }
        }
        // Values written but never read are dropped at once.
        for (i, n) in nodes.iter().enumerate() {
            for &o in &n.outputs {
                if !last_read.contains_key(&o) {
                    free_after[i].push(o);
                }
            }
        }
        let sites = sites(&spec);
        for (n, s) in nodes.iter_mut().zip(sites) {
            n.site = s;
        }
        let layers = spec
            .nodes
            .iter()
            .map(|n| NodeLayer {
                name: n.name.clone(),
                kind: n.op.kind(),
            })
            .collect();
        Ok(GraphModule {
            modules: module_outputs(&spec),
            spec,
            nodes,
            layers,
            params,
            consts,
            input,
            output,
            slots,
            free_after,
        })
    }

    pub fn spec(&self) -> &GraphSpec {
        &self.spec
    }

    /// Whether some node belongs to the module `path` (or one inside it).
    pub fn has_module(&self, path: &str) -> bool {
        self.modules.contains_key(path)
    }

    /// Run the graph, recording every value's shape if asked; errors name the node.
    ///
    /// A graph whose exporter baked its batch size into the computation (`batch_locked`) runs
    /// in lockstep over chunks of that size: every node once per chunk, except the
    /// nonlinearity sites, which see the whole batch (DeepLift pairs rows across it, and they
    /// are per-element or per-row anyway).
    fn run(
        &self,
        x: &Tensor,
        pass: &mut Pass,
        mut record: Option<&mut Recorder>,
    ) -> Result<Tensor> {
        let n = x.dim(0)?;
        let chunk = match self.spec.export_batch {
            Some(b0) if self.spec.batch_locked && n != b0 => {
                if n % b0 != 0 {
                    return Err(Error::invalid(format!(
                        "this graph was exported for batches of {b0} and computes with that size; {n} samples are not a multiple of it (export with a dynamic batch axis to lift this)"
                    )));
                }
                b0
            }
            _ => n,
        };
        let chunks = n / chunk;
        let ctx = Ctx {
            batch: chunk,
            export_batch: self.spec.export_batch,
            dtype: x.dtype(),
            device: x.device().clone(),
        };
        let split = |t: &Tensor| -> Result<Vec<Value>> {
            (0..chunks)
                .map(|c| Ok(Value::F(t.narrow(0, c * chunk, chunk)?)))
                .collect()
        };
        // The chunks of one value as one batch, when it is a float tensor carrying the batch.
        let join = |vs: &[Value]| -> Option<Tensor> {
            let ts: Vec<&Tensor> = vs
                .iter()
                .map(|v| match v {
                    Value::F(t) if chunks == 1 || t.dims().first() == Some(&chunk) => Some(t),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            if ts.len() == 1 {
                Some(ts[0].clone())
            } else {
                Tensor::cat(&ts, 0).ok()
            }
        };
        let mut slots: Vec<Option<Vec<Value>>> = vec![None; self.slots];
        slots[self.input] = Some(split(x)?);
        for (i, (node, spec)) in self.nodes.iter().zip(&self.spec.nodes).enumerate() {
            let err = |e: Error| {
                Error::invalid(format!("node '{}' ({}): {e}", spec.name, spec.op.kind()))
            };
            // Per input: its value in every chunk.
            let mut inputs: Vec<Option<Vec<Value>>> = Vec::with_capacity(node.inputs.len());
            let mut vars = Vec::with_capacity(node.inputs.len());
            for (k, src) in node.inputs.iter().enumerate() {
                vars.push(match *src {
                    Src::Param(p) => Some(&self.params[p]),
                    _ => None,
                });
                inputs.push(match *src {
                    Src::Slot(s) => Some(slots[s].clone().ok_or_else(|| {
                        Error::invalid(format!(
                            "graph: '{}' is read by node '{}' but was not computed",
                            spec.inputs[k], spec.name
                        ))
                    })?),
                    Src::Param(p) => Some(vec![Value::F(pass.param(&self.params[p])); chunks]),
                    Src::Const(c) => Some(vec![self.consts[c].clone(); chunks]),
                    Src::Absent => None,
                });
            }
            if let Some(Some(first)) = inputs.first_mut()
                && pass.captures(&spec.name, true)
                && let Some(t) = join(first)
            {
                let t = pass.tap_input(&spec.name, &t)?;
                *first = if chunks == 1 {
                    vec![Value::F(t)]
                } else {
                    split(&t)?
                };
            }
            let site = matches!(
                spec.op,
                Op::Act(_) | Op::Softmax { .. } | Op::MaxPool { .. }
            );
            let whole: Option<Vec<Option<Value>>> = (chunks > 1 && site)
                .then(|| {
                    inputs
                        .iter()
                        .map(|v| v.as_ref().map(|v| join(v).map(Value::F)))
                        .map(|v| v.map_or(Some(None), |t| t.map(Some)))
                        .collect()
                })
                .flatten();
            let mut outs: Vec<Vec<Value>> = vec![Vec::with_capacity(chunks); spec.outputs.len()];
            if let Some(whole) = whole {
                // One call on the whole batch.
                let args = ops::Inputs {
                    values: &whole,
                    vars: &vars,
                };
                let ys = ops::run(&spec.op, &args, spec.outputs.len(), pass, &ctx, node.site)
                    .map_err(err)?;
                for (o, y) in outs.iter_mut().zip(ys) {
                    *o = match &y {
                        Value::F(t) => split(t)?,
                        Value::I(_) => vec![y; chunks],
                    };
                }
            } else {
                for c in 0..chunks {
                    let values: Vec<Option<Value>> = inputs
                        .iter()
                        .map(|v| v.as_ref().map(|v| v[c].clone()))
                        .collect();
                    let args = ops::Inputs {
                        values: &values,
                        vars: &vars,
                    };
                    let ys = ops::run(&spec.op, &args, spec.outputs.len(), pass, &ctx, node.site)
                        .map_err(err)?;
                    for (o, y) in outs.iter_mut().zip(ys) {
                        o.push(y);
                    }
                }
            }
            if let Some(first) = outs.first_mut()
                && pass.captures(&spec.name, false)
                && let Some(t) = join(first)
            {
                let t = pass.tap_output(&spec.name, t)?;
                *first = if chunks == 1 {
                    vec![Value::F(t)]
                } else {
                    split(&t)?
                };
            }
            for ((&slot, v), name) in node.outputs.iter().zip(outs).zip(&spec.outputs) {
                if let (Some(r), Some(first)) = (record.as_deref_mut(), v.first()) {
                    r(name, first);
                }
                slots[slot] = Some(v);
            }
            for &s in &self.free_after[i] {
                slots[s] = None;
            }
        }
        let out = slots[self.output].take().ok_or_else(|| {
            Error::invalid(format!(
                "graph: the output '{}' was not computed",
                self.spec.output
            ))
        })?;
        join(&out).ok_or_else(|| {
            Error::invalid(format!(
                "graph: the output '{}' is an integer tensor, not logits",
                self.spec.output
            ))
        })
    }
}

impl Module for GraphModule {
    fn name(&self) -> &str {
        ""
    }
    fn kind(&self) -> &'static str {
        "graph"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> CResult<Tensor> {
        self.run(x, pass, None)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))
    }
    fn children(&self) -> Vec<&dyn Module> {
        self.layers.iter().map(|l| l as &dyn Module).collect()
    }
    fn layer_alias(&self, name: &str, input: bool) -> Option<String> {
        let (first, last) = self.modules.get(name)?;
        if input {
            // A module's input is its first node's (folding changes outputs, not inputs).
            return Some(first.clone());
        }
        if self.spec.folded.iter().any(|(m, _)| m == name) {
            return None;
        }
        Some(last.clone())
    }
    fn layer_note(&self, name: &str) -> Option<String> {
        self.spec
            .folded
            .iter()
            .find(|(m, _)| m == name)
            .map(|(m, node)| {
                format!(
                    "the exporter folded the batch norm that follows '{m}' into it, so the graph no longer holds {m}'s own output; node '{node}' outputs the batch norm's result"
                )
            })
    }
}

/// For every module path, the first and the last node (in graph order) inside it.
fn module_outputs(spec: &GraphSpec) -> HashMap<String, (String, String)> {
    let mut out: HashMap<String, (String, String)> = HashMap::new();
    for n in &spec.nodes {
        let mut path = n.module.as_str();
        while !path.is_empty() {
            out.entry(path.to_string())
                .and_modify(|e| e.1 = n.name.clone())
                .or_insert_with(|| (n.name.clone(), n.name.clone()));
            path = path.rfind('.').map(|i| &path[..i]).unwrap_or("");
        }
    }
    out
}

/// The producer of each value, looking through `Identity` and `Dropout` (which return their
/// input tensor itself in PyTorch, so hooks on it are hooks on the producer's output).
fn producers(spec: &GraphSpec) -> HashMap<&str, usize> {
    let mut p: HashMap<&str, usize> = HashMap::new();
    for (i, n) in spec.nodes.iter().enumerate() {
        let through = matches!(n.op, Op::Identity | Op::Dropout { .. });
        let src = if through {
            n.inputs.first().and_then(|x| p.get(x.as_str()).copied())
        } else {
            Some(i)
        };
        for o in &n.outputs {
            if let Some(s) = src {
                p.insert(o, s);
            }
        }
    }
    p
}

/// Each node's attribution-rule site (see the module notes).
fn sites(spec: &GraphSpec) -> Vec<Site> {
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in spec.nodes.iter().enumerate() {
        for x in &n.inputs {
            readers.entry(x.as_str()).or_default().push(i);
        }
    }
    // nn.SiLU exports as Mul(x, Sigmoid(x)).
    let is_silu = |n: &NodeSpec| {
        let (Some(x), Some(y)) = (n.inputs.first(), n.outputs.first()) else {
            return false;
        };
        readers.get(y.as_str()).is_some_and(|rs| {
            rs.iter().any(|&r| {
                let m = &spec.nodes[r];
                m.op == Op::Binary(Binary::Mul)
                    && m.inputs.len() == 2
                    && m.inputs.contains(x)
                    && m.inputs.contains(y)
            })
        })
    };
    let mut sites: Vec<Site> = spec
        .nodes
        .iter()
        .map(|n| match &n.op {
            Op::Act(ActKind::Sigmoid) if is_silu(n) => Site::default(),
            Op::Act(k) => Site {
                deeplift: k.deeplift_rescaled(),
                relu_rule: *k == ActKind::Relu,
                ..Site::default()
            },
            Op::Softmax { .. } | Op::MaxPool { .. } => Site {
                deeplift: true,
                ..Site::default()
            },
            _ => Site::default(),
        })
        .collect();
    let producer = producers(spec);
    for i in 0..sites.len() {
        let Some(p) = spec.nodes[i]
            .inputs
            .first()
            .and_then(|x| producer.get(x.as_str()).copied())
        else {
            continue;
        };
        let from = sites[p];
        let s = &mut sites[i];
        s.deeplift_shadowed = s.deeplift && from.deeplift;
        s.relu_rule_shadowed = s.relu_rule && from.relu_rule;
    }
    sites
}

/// A graph model's default Grad-CAM layer: the last convolution whose output is still a map
/// (more than one position), found from a dry run's shapes.
pub fn last_spatial_conv(spec: &GraphSpec, shapes: &HashMap<String, Vec<usize>>) -> Option<String> {
    spec.nodes
        .iter()
        .rfind(|n| {
            matches!(n.op, Op::Conv { .. } | Op::ConvTranspose { .. })
                && n.outputs
                    .first()
                    .and_then(|o| shapes.get(o))
                    .is_some_and(|d| d.len() >= 3 && d[2..].iter().product::<usize>() > 1)
        })
        .map(|n| n.name.clone())
}

impl GraphModule {
    /// Every value's shape for one input batch (a dry run without gradients).
    pub fn shapes(&self, x: &Tensor) -> Result<HashMap<String, Vec<usize>>> {
        let mut shapes = HashMap::new();
        let mut keep = |name: &str, v: &Value| {
            shapes.insert(name.to_string(), v.dims());
        };
        self.run(x, &mut Pass::eval(Rule::Plain), Some(&mut keep))?;
        Ok(shapes)
    }

    /// Every float value the graph computes for one input batch, by name (for comparing a
    /// graph with another runtime node by node).
    pub fn values(&self, x: &Tensor) -> Result<HashMap<String, Tensor>> {
        let mut values = HashMap::new();
        let mut keep = |name: &str, v: &Value| {
            if let Value::F(t) = v {
                values.insert(name.to_string(), t.detach());
            }
        };
        self.run(x, &mut Pass::eval(Rule::Plain), Some(&mut keep))?;
        Ok(values)
    }
}
