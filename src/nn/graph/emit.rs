//! Writing a module tree as a graph of operations (what `save_onnx` exports): each module emits
//! the nodes of its forward pass, naming its parameters as its `state_dict` does, so the graph
//! computes exactly what the module computes and reads the same weights.

use super::spec::{Constant, NodeSpec, Op};
use super::value::Ints;
use crate::error::{Error, Result};
use std::collections::HashMap;

/// Collects the nodes modules emit.
pub struct Emitter<'a> {
    nodes: Vec<NodeSpec>,
    constants: Vec<(String, Constant)>,
    /// How many nodes of each name exist, for unique names.
    names: HashMap<String, usize>,
    values: usize,
    /// Each named module's input shape (batch included) in a dry run.
    shapes: &'a HashMap<String, Vec<usize>>,
}

/// A node name in the TorchScript exporter's style, from which the importer recovers the
/// module path: `layer1.0.conv1` → `/layer1/layer1.0/conv1/Conv` (an index joins the segment
/// before it).
fn scoped_name(module: &str, kind: &str) -> String {
    let mut segments: Vec<String> = Vec::new();
    for part in module.split('.').filter(|p| !p.is_empty()) {
        match segments.last_mut() {
            Some(last) if part.chars().all(|c| c.is_ascii_digit()) => {
                let joined = format!("{last}.{part}");
                segments.push(joined);
            }
            _ => segments.push(part.to_string()),
        }
    }
    let mut name = String::new();
    for s in &segments {
        name.push('/');
        name.push_str(s);
    }
    format!("{name}/{kind}")
}

impl<'a> Emitter<'a> {
    pub fn new(shapes: &'a HashMap<String, Vec<usize>>) -> Self {
        Emitter {
            nodes: Vec::new(),
            constants: Vec::new(),
            names: HashMap::new(),
            values: 0,
            shapes,
        }
    }

    fn value(&mut self) -> String {
        self.values += 1;
        format!("v{}", self.values)
    }

    /// Append a node of `module` with one output; returns the output's name.
    pub fn op(&mut self, module: &str, op: Op, inputs: Vec<String>) -> String {
        self.op_n(module, op, inputs, 1).remove(0)
    }

    /// Append a node with `n` outputs.
    pub fn op_n(&mut self, module: &str, op: Op, inputs: Vec<String>, n: usize) -> Vec<String> {
        let base = scoped_name(module, op.kind());
        let count = self.names.entry(base.clone()).or_insert(0);
        let name = if *count == 0 {
            base
        } else {
            format!("{base}_{count}")
        };
        *count += 1;
        let outputs: Vec<String> = (0..n).map(|_| self.value()).collect();
        self.nodes.push(NodeSpec {
            name,
            module: module.to_string(),
            op,
            inputs,
            outputs: outputs.clone(),
        });
        outputs
    }

    /// A constant integer vector.
    pub fn ints(&mut self, v: &[i64]) -> String {
        let name = format!("c{}", self.constants.len());
        self.constants
            .push((name.clone(), Constant::Int(Ints::vector(v.to_vec()))));
        name
    }

    /// A constant float scalar.
    pub fn scalar(&mut self, v: f64) -> String {
        let name = format!("c{}", self.constants.len());
        self.constants.push((
            name.clone(),
            Constant::Float {
                dims: vec![],
                data: vec![v],
            },
        ));
        name
    }

    /// The nodes and constants emitted so far.
    pub fn into_parts(self) -> (Vec<NodeSpec>, Vec<(String, Constant)>) {
        (self.nodes, self.constants)
    }

    /// The input shape of a named module in the dry run.
    pub fn input_shape(&self, module: &str) -> Result<&[usize]> {
        self.shapes
            .get(module)
            .map(|v| v.as_slice())
            .ok_or_else(|| Error::invalid(format!("no shape recorded for layer '{module}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_names_keep_the_module_path() {
        assert_eq!(
            scoped_name("layer1.0.conv1", "Conv"),
            "/layer1/layer1.0/conv1/Conv"
        );
        assert_eq!(
            scoped_name("features.1.0.block.3", "MatMul"),
            "/features/features.1/features.1.0/block/block.3/MatMul"
        );
        assert_eq!(scoped_name("", "Flatten"), "/Flatten");
    }
}
