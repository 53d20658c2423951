//! Arrays from `.npz` archives, in the MedMNIST layout (`train_images`, `train_labels`, …).

use super::{Dataset, Provenance, Storage};
use crate::error::{Error, Result};
use candle_core::{DType, Tensor};
use std::path::Path;

/// The shape and element size an `.npy` header declares, and where its data starts.
fn npy_header(bytes: &[u8]) -> Option<(Vec<usize>, usize, usize)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return None;
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return None,
    };
    let end = start.checked_add(len)?;
    let text = std::str::from_utf8(bytes.get(start..end)?).ok()?;
    let size: usize = text
        .split("'descr':")
        .nth(1)?
        .split('\'')
        .nth(1)?
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()?;
    let shape = text.split("'shape':").nth(1)?;
    let inside = shape.split('(').nth(1)?.split(')').next()?;
    let dims = inside
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().ok())
        .collect::<Option<Vec<_>>>()?;
    Some((dims, size, end))
}

/// Check every array of an archive before anything is decoded: its declared shape must fit the
/// memory budget and the bytes the archive holds for it (a corrupt or hostile header cannot
/// make the reader allocate what the file does not contain).
fn check_archive(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| Error::bad_file(path, format!("not a readable .npz archive: {e}")))?;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| Error::bad_file(path, format!("entry {i}: {e}")))?;
        let name = entry
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| format!("entry {i}"));
        let stored = entry.size();
        crate::limits::bytes(&format!("{} ({name})", path.display()), stored)?;
        let mut head = vec![0u8; 4096.min(stored as usize)];
        std::io::Read::read_exact(&mut entry, &mut head)
            .map_err(|e| Error::bad_file(path, format!("{name}: {e}")))?;
        let (dims, size, data_start) = npy_header(&head)
            .ok_or_else(|| Error::bad_file(path, format!("{name}: not an .npy array")))?;
        let n = crate::limits::count(&name, &dims)?;
        let needed = (n as u64).saturating_mul(size as u64);
        if needed > stored.saturating_sub(data_start as u64) {
            return Err(Error::bad_file(
                path,
                format!("{name}: its header declares {dims:?}, more data than the archive holds"),
            ));
        }
        crate::limits::check(&name, n, size.max(4))?;
    }
    Ok(())
}

crate::options! {
    /// The options of `load_npz`.
    pub struct NpzOptions {
        "classes" => classes: Option<Vec<String>> = None; Texts, "\"class 0\", \"class 1\", …", "a name per class", |v| Some(v.texts()?);
    }
}

/// Load `<split>_images` (N, H, W[, C]) and `<split>_labels` (N, 1) from a MedMNIST-style
/// archive; images become (N, C, H, W) floats, uint8 ones scaled to [0, 1] (float arrays are
/// taken as they are).
pub fn load_npz(path: &Path, split: &str, class_names: Option<Vec<String>>) -> Result<Dataset> {
    crate::io::noted(path, read_npz(path, split, class_names))
}

fn read_npz(path: &Path, split: &str, class_names: Option<Vec<String>>) -> Result<Dataset> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::bad_file(path, "not a regular file"));
    }
    check_archive(path)?;
    let arrays = Tensor::read_npz(path).map_err(|e| {
        Error::bad_file(
            path,
            format!(
                "not a readable .npz archive: {}",
                crate::io::first_line(&e.to_string())
            ),
        )
    })?;
    let names: Vec<String> = arrays.iter().map(|(n, _)| n.clone()).collect();
    let get = |key: &str| -> Result<Tensor> {
        arrays
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| {
                Error::bad_file(
                    path,
                    format!("no array '{key}'; arrays: {}", names.join(", ")),
                )
            })
    };
    let images = get(&format!("{split}_images"))?;
    let labels = get(&format!("{split}_labels"))?;
    let x = match images.rank() {
        3 => images.unsqueeze(1)?,
        4 => images.permute((0, 3, 1, 2))?.contiguous()?,
        r => {
            return Err(Error::bad_file(
                path,
                format!("{split}_images has {r} dimensions, expected 3 or 4"),
            ));
        }
    };
    let x = if x.dtype().is_float() {
        x.to_dtype(DType::F32)?
    } else {
        (x.to_dtype(DType::F32)? / 255.0)?
    };
    let known = class_names.as_ref().map(|c| c.len());
    let y: Vec<usize> = labels
        .flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?
        .into_iter()
        .enumerate()
        .map(|(i, v)| crate::classes::index(&format!("{split}_labels[{i}]"), v, known))
        .collect::<Result<_>>()
        .map_err(|e| Error::bad_file(path, e.to_string()))?;
    if y.len() != x.dim(0)? {
        return Err(Error::bad_file(
            path,
            format!("{} images but {} labels", x.dim(0)?, y.len()),
        ));
    }
    let n_classes = y.iter().max().map(|m| m + 1).unwrap_or(0);
    let class_names =
        class_names.unwrap_or_else(|| (0..n_classes).map(|i| i.to_string()).collect());
    if class_names.len() < n_classes {
        return Err(Error::invalid(format!(
            "labels go up to {} but {} class names were given",
            n_classes - 1,
            class_names.len()
        )));
    }
    let n = y.len();
    Ok(Dataset {
        storage: Storage::Memory(x),
        y,
        ids: (0..n).map(|i| format!("{split}[{i}]")).collect(),
        class_names,
        feature_names: vec![],
        transform: None,
        provenance: Provenance {
            source: path.display().to_string(),
            steps: vec![format!("npz: {split} split, {n} images")],
            notes: vec![],
        },
    })
}
