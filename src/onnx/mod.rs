//! ONNX models in and out: an exported classifier (PyTorch's two exporters, tested; others
//! that use the same operators) becomes an ordinary [`Model`] whose nonlinearities are
//! rule-aware sites, so every attribution method, AX, CO, GAX and training work on it; and
//! gaxsh's models are written as ONNX.
//!
//! The protobuf schema is written out by hand ([`proto`], prost derive: no `protoc`, no build
//! script); [`tensor`] reads and writes tensor data (external data files included);
//! [`import`] translates nodes into `nn::graph`'s operations.

pub mod export;
pub mod import;
pub mod proto;
pub mod tensor;

pub use export::save_onnx;

use crate::error::{Error, Result};
use crate::nn::graph::{GraphArch, last_spatial_conv};
use crate::nn::{Arch, LayerRef, Model};
use candle_core::{DType, Tensor};
use prost::Message;
use std::path::Path;
use std::sync::Arc;

crate::options! {
    /// What `load_onnx` may be told beyond the file.
    pub struct LoadOptions {
        "input_shape" => input_shape: Option<Vec<usize>> = None; Ints, "the graph's", "one sample's shape, for graphs whose input dimensions are symbolic", |v| Some(v.usizes()?);
        "output" => output: Option<String> = None; Text, "the only output", "the graph output holding the logits, when there are several", |v| Some(v.text()?);
        "classes" => classes: Option<usize> = None; Int, "the graph's", "the number of classes, checked against the graph's output", |v| Some(v.usize()?);
        "class_names" => class_names: Vec<String> = vec![]; Texts, "[]", "a name per class (\"class 0\", … when absent)", |v| v.texts()?;
        "dtype" => dtype: Option<DType> = None; Text, "the graph input's", "the model's float type: f32 or f64", |v| Some(crate::nn::arch::dtype_from_name(&v.text()?)?);
    }
}

/// The opset of ONNX's default domain the model was written for.
fn default_opset(m: &proto::ModelProto) -> Option<i64> {
    m.opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
}

/// The oldest opset gaxsh reads.
const MIN_OPSET: i64 = 7;

/// Read an ONNX file into a model: nodes translated, weights loaded, one dry run on zeros to
/// learn the number of classes and the default Grad-CAM layer (the last convolution whose output
/// is still a map) and to fail here, not later, on anything gaxsh cannot run.
pub fn load_onnx(path: &Path, opts: &LoadOptions) -> Result<Model> {
    crate::io::noted(path, read_onnx(path, opts))
}

fn read_onnx(path: &Path, opts: &LoadOptions) -> Result<Model> {
    let source = path.display().to_string();
    let bytes = crate::limits::read_file(path)?;
    let proto = proto::ModelProto::decode(bytes.as_slice())
        .map_err(|e| Error::bad_file(path, format!("not an ONNX model ({e})")))?;
    drop(bytes);
    let opset = default_opset(&proto).ok_or_else(|| {
        Error::bad_file(
            path,
            "no opset for ONNX's default domain (not an ONNX model?)",
        )
    })?;
    if opset < MIN_OPSET {
        return Err(Error::bad_file(
            path,
            format!("opset {opset} is older than gaxsh reads ({MIN_OPSET} or later)"),
        ));
    }
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| Error::bad_file(path, "the model has no graph"))?;
    if let Some(f) = proto
        .functions
        .iter()
        .find(|f| graph.node.iter().any(|n| n.op_type == f.name))
    {
        return Err(Error::bad_file(
            path,
            format!(
                "the graph calls the model-local function '{}'; export with functions inlined",
                f.name
            ),
        ));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let imported = import::import_graph(
        graph,
        opset,
        dir,
        &import::ImportOptions {
            input_shape: opts.input_shape.clone(),
            output: opts.output.clone(),
        },
        &source,
    )?;
    let dtype = opts.dtype.unwrap_or(imported.input_dtype);
    let mut spec = imported.spec;
    let build = |spec: &Arc<crate::nn::graph::GraphSpec>| -> Result<Model> {
        let m = Arch::Graph(GraphArch {
            spec: spec.clone(),
            classes: 0,
            class_names: Vec::new(),
            cam_layer: None,
        })
        .build(dtype)?;
        m.load_state_dict(&imported.weights, true)?;
        Ok(m)
    };
    let b0 = spec.export_batch.unwrap_or(1);
    let mut sample_shape = vec![b0];
    sample_shape.extend(&spec.input_shape);
    let mut spec_arc = Arc::new(spec.clone());
    let mut model = build(&spec_arc)?;
    let x = Tensor::zeros(sample_shape.as_slice(), dtype, &model.device())?;
    let graph_module = model.graph().expect("a graph arch builds a graph");
    let shapes = graph_module.shapes(&x).map_err(|e| {
        Error::bad_file(
            path,
            format!("the graph does not run on input {sample_shape:?}: {e}"),
        )
    })?;
    if !runs_batched(&model, b0)? {
        spec.batch_locked = true;
        spec_arc = Arc::new(spec);
        model = build(&spec_arc)?;
    }
    let spec = spec_arc;
    let out = &shapes[&spec.output];
    let classes = match out.as_slice() {
        [_, k] if *k > 0 => *k,
        other => {
            return Err(Error::bad_file(
                path,
                format!(
                    "the output '{}' has shape {other:?}; gaxsh explains classifiers whose output is (batch, classes)",
                    spec.output
                ),
            ));
        }
    };
    if let Some(c) = opts.classes.filter(|&c| c != classes) {
        return Err(Error::invalid(format!(
            "{source}: classes {c} given, the graph has {classes} outputs"
        )));
    }
    if !opts.class_names.is_empty() && opts.class_names.len() != classes {
        return Err(Error::invalid(format!(
            "{source}: {} class names for {classes} classes",
            opts.class_names.len()
        )));
    }
    let meta = |k: &str| {
        proto
            .metadata_props
            .iter()
            .find(|p| p.key == k)
            .map(|p| p.value.clone())
    };
    // The default Grad-CAM layer: the one a file gaxsh wrote names; the paper's for an exported
    // copy of one of its models (when the export kept that layer); else the last convolution
    // whose output is still a map.
    let graph_module = model.graph().expect("a graph arch builds a graph");
    let paper = crate::nn::zoo::paper_cam_layer(&|m| graph_module.has_module(m))
        .and_then(|l| model.resolve_layer(&l).ok());
    let cam_layer = match meta(export::CAM_LAYER) {
        Some(name) if spec.nodes.iter().any(|n| n.name == name) => Some(LayerRef {
            name,
            input: meta(export::CAM_LAYER_INPUT).as_deref() == Some("true"),
        }),
        _ => paper.or_else(|| {
            last_spatial_conv(&spec, &shapes).map(|name| LayerRef { name, input: false })
        }),
    };
    let class_names = if opts.class_names.is_empty() {
        meta(export::CLASS_NAMES)
            .and_then(|s| serde_json::from_str::<Vec<String>>(&s).ok())
            .filter(|v| v.len() == classes)
            .unwrap_or_default()
    } else {
        opts.class_names.clone()
    };
    let arch = GraphArch {
        spec,
        classes,
        class_names,
        cam_layer: cam_layer.clone(),
    };
    model.arch = Arch::Graph(arch);
    model.classes = classes;
    model.cam_layer = cam_layer;
    Ok(model)
}

/// Whether two batches of the exported size run together as they run apart (some exporters
/// bake the batch size into index arithmetic; such graphs then run chunk by chunk).
fn runs_batched(model: &Model, b0: usize) -> Result<bool> {
    let mut shape = vec![2 * b0];
    shape.extend(&model.input_shape);
    let n: usize = shape.iter().product();
    let values: Vec<f64> = (0..n).map(|i| (0.917 * i as f64 + 0.5).sin()).collect();
    let x = Tensor::from_vec(values, shape.as_slice(), &model.device())?.to_dtype(model.dtype)?;
    let together = match model.logits(&x, 2 * b0) {
        Ok(t) => t,
        Err(_) => return Ok(false),
    };
    let apart = model.logits(&x, b0)?;
    if together.dims() != apart.dims() {
        return Ok(false);
    }
    let (a, b) = (
        crate::tensor::ops::to_f64_vec(&together)?,
        crate::tensor::ops::to_f64_vec(&apart)?,
    );
    let scale = b.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    Ok(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-3 * scale))
}
