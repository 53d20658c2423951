//! Weights on disk: safetensors in both directions with PyTorch names, and PyTorch's own
//! `torch.save` zip checkpoints (`.pt`, `.pth`, `.model`), including the authors' `{'net': …}`
//! and `{'model_state_dict': …}` wrappers, read directly through candle's pickle reader.

use super::model::{LoadReport, Model};
use crate::error::{Error, Result};
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// The wrapper keys tried, in order, when a torch checkpoint is not a bare `state_dict`.
const WRAPPERS: &[&str] = &["net", "model_state_dict", "state_dict", "model"];

/// Read named tensors from a safetensors file or a PyTorch checkpoint.
pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.exists() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase();
    if ext == "safetensors" {
        return crate::io::load_safetensors(path);
    }
    read_torch(path)
}

fn read_torch(path: &Path) -> Result<HashMap<String, Tensor>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::bad_file(path, "not a regular file"));
    }
    crate::limits::bytes(&path.display().to_string(), meta.len())?;
    // candle's pickle reader trusts the file (it can panic on a corrupt one).
    let tensors = crate::contain::contain(&path.display().to_string(), || read_pickled(path));
    crate::io::noted(path, tensors)
}

/// The tensors of a torch checkpoint, bare or under one of the `WRAPPERS` keys.
fn read_pickled(path: &Path) -> Result<HashMap<String, Tensor>> {
    let bad = |e: candle_core::Error| {
        Error::bad_file(
            path,
            format!(
                "not a readable PyTorch checkpoint (torch.save zip format): {}",
                crate::io::first_line(&e.to_string())
            ),
        )
    };
    let mut keys: Vec<Option<&str>> = vec![None];
    keys.extend(WRAPPERS.iter().map(|k| Some(*k)));
    for key in keys {
        let pth = match candle_core::pickle::PthTensors::new(path, key) {
            Ok(p) => p,
            Err(e) if key.is_none() => return Err(bad(e)),
            Err(_) => continue, // this wrapper key is not in the file
        };
        let names: Vec<String> = pth.tensor_infos().keys().cloned().collect();
        if names.is_empty() {
            continue;
        }
        check_storage(path, pth.tensor_infos())?;
        let mut out = HashMap::new();
        for n in names {
            if let Some(t) = pth.get(&n).map_err(bad)? {
                out.insert(n, t);
            }
        }
        return Ok(out);
    }
    Err(Error::bad_file(
        path,
        format!(
            "no tensors found (tried a bare state_dict and the keys {})",
            WRAPPERS.join(", ")
        ),
    ))
}

/// Check every tensor's declared shape against the memory budget and against the bytes its
/// storage entry holds, before candle allocates from it: a corrupt or hostile pickle cannot make
/// the reader allocate what the file does not contain.
fn check_storage(
    path: &Path,
    infos: &HashMap<String, candle_core::pickle::TensorInfo>,
) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::bad_file(path, format!("not a readable checkpoint: {e}")))?;
    for (name, info) in infos {
        let n = crate::limits::count(name, info.layout.dims())?;
        let bytes_each = info.dtype.size_in_bytes();
        crate::limits::check(name, n, bytes_each)?;
        let stored = zip
            .by_name(&info.path)
            .map_err(|e| Error::bad_file(path, format!("{name}: storage {}: {e}", info.path)))?
            .size();
        let needed = (info.layout.start_offset() as u64)
            .saturating_add(n as u64)
            .saturating_mul(bytes_each as u64);
        if needed > stored {
            return Err(Error::bad_file(
                path,
                format!(
                    "{name}: its shape {:?} needs more data than the checkpoint holds",
                    info.layout.dims()
                ),
            ));
        }
    }
    Ok(())
}

crate::options! {
    /// Options of a weight load (`net.load`).
    pub struct LoadOptions {
        "lenient" => lenient: bool = false; Bool, "false", "allow keys the model does not have (and report them)", |v| v.bool()?;
        "strip_prefix" => strip_prefix: Option<String> = None; Text, "none", "remove this prefix from every key first (e.g. \"backbone.\")", |v| Some(v.text()?);
        "add_prefix" => add_prefix: Option<String> = None; Text, "none", "add this prefix to every key first", |v| Some(v.text()?);
    }
}

/// Load weights into a model, converting the MobileNet source formats when recognised.
pub fn load_into(model: &Model, path: &Path, opts: &LoadOptions) -> Result<LoadReport> {
    let mut map = read_tensors(path)?;
    if let Some(p) = &opts.strip_prefix {
        map = map
            .into_iter()
            .map(|(k, v)| {
                (
                    k.strip_prefix(p.as_str()).map(str::to_string).unwrap_or(k),
                    v,
                )
            })
            .collect();
    }
    if let Some(p) = &opts.add_prefix {
        map = map
            .into_iter()
            .map(|(k, v)| (format!("{p}{k}"), v))
            .collect();
    }
    match &model.arch {
        super::arch::Arch::MobileNetV1 { .. } if map.keys().any(|k| k.ends_with(".kernel")) => {
            map = super::mobilenet::keras_v1_weights(&map)?;
        }
        super::arch::Arch::MobileNetV2 { graph, .. }
            if map.keys().any(|k| k.starts_with("MobilenetV2/")) =>
        {
            map = super::mobilenet::tflite_v2_weights(&map, graph)?;
        }
        _ => {}
    }
    model
        .load_state_dict(&map, !opts.lenient)
        .map_err(|e| match e {
            Error::Weights(m) => Error::Weights(format!("{m} (from {})", path.display())),
            other => other,
        })
}

/// Save a model's `state_dict` as safetensors (PyTorch's `load_file` reads it back).
pub fn save(model: &Model, path: &Path) -> Result<()> {
    crate::io::save_safetensors(&model.state_dict(), path)
}
