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
    check_entry_sizes(path, meta.len())?;
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

/// Deflate expands at most about 1032 to 1: a zip entry declaring more than that many times the
/// file's size is damaged or hostile.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Check the size every entry of the checkpoint's zip declares before candle reads any: the
/// readers size their buffers by it, so a damaged header (one flipped byte) asked for gigabytes
/// from a file of kilobytes and the process aborted.
fn check_entry_sizes(path: &Path, file_len: u64) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
        Error::bad_file(
            path,
            format!("not a readable PyTorch checkpoint (torch.save zip format): {e}"),
        )
    })?;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| {
            Error::bad_file(
                path,
                format!("not a readable PyTorch checkpoint (torch.save zip format): {e}"),
            )
        })?;
        let declared = entry.size();
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        if declared > file_len.saturating_mul(MAX_DEFLATE_RATIO) {
            return Err(Error::bad_file(
                path,
                format!(
                    "entry {name} declares {declared} bytes, more than a file of {file_len} bytes can hold"
                ),
            ));
        }
        crate::limits::bytes(&name, declared)?;
    }
    // The pickle itself: candle's reader allocates each string or bytes argument by the length
    // the pickle states (a flipped byte asked for 4 GB); every stated length must fit the rest.
    let pickles: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| n.ends_with(".pkl"))
        .collect();
    for name in pickles {
        let mut entry = zip
            .by_name(&name)
            .map_err(|e| Error::bad_file(path, format!("{name}: {e}")))?;
        let mut pickle = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut pickle)
            .map_err(|e| Error::bad_file(path, format!("{name}: {e}")))?;
        if let Some(at) = overlong_pickle_argument(&pickle) {
            return Err(Error::bad_file(
                path,
                format!("{name}: the argument at byte {at} states a length longer than the pickle"),
            ));
        }
    }
    Ok(())
}

/// The offset of the first opcode whose stated argument length runs past the end of the
/// pickle, walking the opcodes of protocols 0–5; `None` when every length fits (or at an opcode
/// this walk does not know, where candle's reader gives its own error).
fn overlong_pickle_argument(p: &[u8]) -> Option<usize> {
    let le = |at: usize, n: usize| -> Option<u64> {
        let bytes = p.get(at..at + n)?;
        Some(bytes.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b)))
    };
    let mut at = 0;
    while at < p.len() {
        let op = p[at];
        // (bytes of a fixed argument, bytes of a length prefix whose value follows)
        let (fixed, prefix) = match op {
            b'.' => return None,
            b'('
            | b')'
            | b']'
            | b'}'
            | b'0'
            | b'1'
            | b'2'
            | b'N'
            | b'R'
            | b'a'
            | b'b'
            | b'd'
            | b'e'
            | b'l'
            | b'o'
            | b's'
            | b't'
            | b'u'
            | b'Q'
            | 0x85..=0x89
            | 0x8f..=0x94
            | 0x97
            | 0x98
            | 0x81 => (0, 0),
            b'K' | b'h' | b'q' | 0x80 | 0x82 => (1, 0),
            b'M' | 0x83 => (2, 0),
            b'J' | b'j' | b'r' | 0x84 => (4, 0),
            b'G' | 0x95 => (8, 0),
            b'U' | b'C' | 0x8a | 0x8c => (0, 1),
            b'X' | b'T' | b'B' | 0x8b => (0, 4),
            0x8d | 0x8e | 0x96 => (0, 8),
            // Text arguments ending at a newline (two for GLOBAL and INST).
            b'I' | b'L' | b'F' | b'S' | b'V' | b'p' | b'g' | b'P' | b'c' | b'i' => {
                let lines = if matches!(op, b'c' | b'i') { 2 } else { 1 };
                let mut end = at + 1;
                for _ in 0..lines {
                    end += p.get(end..)?.iter().position(|&b| b == b'\n')? + 1;
                }
                at = end;
                continue;
            }
            _ => return None,
        };
        let length = if prefix > 0 { le(at + 1, prefix)? } else { 0 };
        let next = (at as u64 + 1 + fixed as u64 + prefix as u64).saturating_add(length);
        if next > p.len() as u64 {
            return Some(at);
        }
        at = next as usize;
    }
    None
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
