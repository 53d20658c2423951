//! Arrays from `.npz` archives, in the MedMNIST layout (`train_images`, `train_labels`, …).

use super::{Dataset, Provenance, Storage};
use crate::error::{Error, Result};
use candle_core::{DType, Tensor};
use std::path::Path;

/// Load `<split>_images` (N, H, W[, C]) uint8 and `<split>_labels` (N, 1) from a MedMNIST-style
/// archive; images become (N, C, H, W) floats in [0, 1].
pub fn load_npz(path: &Path, split: &str, class_names: Option<Vec<String>>) -> Result<Dataset> {
    if !path.exists() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
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
    let x = (x.to_dtype(DType::F32)? / 255.0)?;
    let y: Vec<usize> = labels
        .flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?
        .into_iter()
        .map(|v| v as usize)
        .collect();
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
