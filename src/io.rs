//! Files written whole or not at all, and safetensors in both directions.
//!
//! Every output file goes through [`write_atomic`]: the bytes land in a temporary file beside the
//! target and are renamed over it, so an interrupted run never leaves a half-written file.

use crate::error::{Error, Result};
use candle_core::Tensor;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Every file and folder this process has read data, weights or a model from (for run
/// records: `gaxsh rerun` checks they are unchanged).
static INPUTS: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Note an input file or folder.
pub fn note_input(path: &Path) {
    let p = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    INPUTS.lock().unwrap_or_else(|e| e.into_inner()).insert(p);
}

/// `result`, noting `path` as an input first if it is a success: a file that failed to load is
/// not an input of the run (and a mistyped `/` must not be hashed into `run.yaml`).
pub fn noted<T>(path: &Path, result: Result<T>) -> Result<T> {
    if result.is_ok() {
        note_input(path);
    }
    result
}

/// The inputs noted so far.
pub fn inputs() -> Vec<PathBuf> {
    INPUTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

/// `sha256:<hex>` of a file's bytes, or of a folder's files (each relative path and its
/// content's hash, in bytewise order, recursively).
pub fn checksum(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    fn file_hash(path: &Path) -> Result<[u8; 32]> {
        // A run hashes its inputs at every `report()`; a file unchanged in size and time since
        // it was last hashed is not read again.
        type Seen = HashMap<PathBuf, (u64, Option<std::time::SystemTime>, [u8; 32])>;
        static SEEN: std::sync::LazyLock<std::sync::Mutex<Seen>> =
            std::sync::LazyLock::new(Default::default);
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let stamp = (meta.len(), meta.modified().ok());
        let seen = |s: &Seen| s.get(path).filter(|e| (e.0, e.1) == stamp).map(|e| e.2);
        if let Some(h) = seen(&SEEN.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(h);
        }
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            crate::interrupt::check()?;
            let n = std::io::Read::read(&mut f, &mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let digest: [u8; 32] = h.finalize().into();
        SEEN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_path_buf(), (stamp.0, stamp.1, digest));
        Ok(digest)
    }
    fn walk(root: &Path, dir: &Path, h: &mut Sha256) -> Result<()> {
        let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by(|a, b| {
            a.path()
                .as_os_str()
                .as_encoded_bytes()
                .cmp(b.path().as_os_str().as_encoded_bytes())
        });
        for e in entries {
            let p = e.path();
            let linked = e.file_type().is_ok_and(|t| t.is_symlink());
            if p.is_dir() {
                // A linked folder is not followed: a link to a parent would never end.
                if !linked {
                    walk(root, &p, h)?;
                }
            } else if p.is_file() {
                let rel = p.strip_prefix(root).unwrap_or(&p);
                h.update(rel.as_os_str().as_encoded_bytes());
                h.update([0]);
                h.update(file_hash(&p)?);
            }
        }
        Ok(())
    }
    let digest: [u8; 32] = if path.is_dir() {
        let mut h = Sha256::new();
        walk(path, path, &mut h)?;
        h.finalize().into()
    } else {
        file_hash(path)?
    };
    Ok(format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

/// This process's scratch folder (`temp_path`), removed when the process ends.
pub fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("gaxsh-{}", std::process::id()))
}

/// A path inside the scratch folder: `name` must stay inside it (no absolute paths, no `..`).
pub fn scratch_path(name: &str) -> Result<PathBuf> {
    let rel = Path::new(name);
    let inside = !name.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(Error::invalid(format!(
            "temp_path('{name}'): give a file name (or sub/folder/name) inside the scratch folder, without '..' or a leading '/'"
        )));
    }
    let dir = scratch_dir();
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    Ok(path)
}

/// Remove the scratch folder (at exit; nothing else uses it then).
pub fn remove_scratch() {
    let _ = std::fs::remove_dir_all(scratch_dir());
}

/// Leave the process with `code`, after removing the scratch folder.
pub fn exit(code: i32) -> ! {
    remove_scratch();
    std::process::exit(code)
}

/// Print a line on stdout. When the reader has gone (`gaxsh run.rhai | head -3`) the run ends
/// quietly with status 0, as a Unix filter does, instead of a panic and a backtrace.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            exit(0);
        }
        // Any other failure to print (a full disk behind a redirect) is said on stderr.
        let _ = writeln!(std::io::stderr(), "gaxsh: cannot write to stdout: {e}");
    }
}

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
    refuse_non_file(path)?;
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

/// The names in a folder, sorted.
pub fn list_dir(path: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// The working directory, as a path prints (an error when it was removed under the process).
pub fn current_dir() -> Result<String> {
    let dir = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    Ok(dir.display().to_string())
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
    refuse_non_file(path)?;
    candle_core::safetensors::save(&contiguous, &tmp).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::bad_file(path, format!("cannot write safetensors: {e}"))
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Writing onto anything but a file is refused up front (and never leaves a partial file
/// behind): the rename that makes a write atomic would otherwise replace a device such as
/// `/dev/null` with a plain file.
fn refuse_non_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::bad_file(
            path,
            "is a folder; give a file name to write",
        )),
        Ok(m) if !m.is_file() => Err(Error::bad_file(
            path,
            "is a device, pipe or socket, not a file; give a file name to write",
        )),
        _ => Ok(()),
    }
}

/// Copy a file atomically (as `write_atomic` writes).
pub fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let mut src = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
    write_atomic_with(to, |f| {
        std::io::copy(&mut src, f)
            .map(|_| ())
            .map_err(|e| Error::io(from, e))
    })
}

/// Load every tensor of a safetensors file, names unchanged.
pub fn load_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::bad_file(path, "not a regular file"));
    }
    crate::limits::bytes(&path.display().to_string(), meta.len())?;
    let tensors = candle_core::safetensors::load(path, &crate::device::current()).map_err(|e| {
        Error::bad_file(
            path,
            format!(
                "not a readable safetensors file: {}",
                first_line(&e.to_string())
            ),
        )
    });
    noted(path, tensors)
}

pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a newline.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
