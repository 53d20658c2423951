//! Files written whole or not at all, and safetensors in both directions.
//!
//! Every output file goes through [`write_atomic`]: the bytes land in a temporary file beside the
//! target and are renamed over it, so an interrupted run never leaves a half-written file.

use crate::error::{Error, Result};
use candle_core::Tensor;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Create the parent folder of `path` if needed.
pub fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.{}.partial", std::process::id()))
}

/// Write `path` by producing its bytes into a temporary file, then renaming it into place.
pub fn write_atomic_with(
    path: &Path,
    produce: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    ensure_parent(path)?;
    let tmp = temp_beside(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        produce(&mut f)?;
        f.flush().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write bytes to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes).map_err(|e| Error::io(path, e)))
}

/// Save named tensors as safetensors (PyTorch's `safetensors.torch.load_file` reads them).
pub fn save_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    ensure_parent(path)?;
    let tmp = temp_beside(path);
    let contiguous: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.contiguous()?)))
        .collect::<candle_core::Result<_>>()?;
    candle_core::safetensors::save(&contiguous, &tmp).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::bad_file(path, format!("cannot write safetensors: {e}"))
    })?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Load every tensor of a safetensors file, names unchanged.
pub fn load_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.exists() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    candle_core::safetensors::load(path, &crate::device::current()).map_err(|e| {
        Error::bad_file(
            path,
            format!(
                "not a readable safetensors file: {}",
                first_line(&e.to_string())
            ),
        )
    })
}

pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
