//! Per-feature transforms applied to samples as batches are produced.

use crate::error::{Error, Result};
use candle_core::{DType, Tensor};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transform {
    /// (x − mean)/std + offset per feature (the paper's dry-bean scaling uses offset 0.5).
    Standardize {
        mean: Vec<f64>,
        std: Vec<f64>,
        offset: f64,
    },
    /// clip(x, lo, hi)/scale + offset (the paper's credit-card scaling: −3, 3, 3, 0.5).
    ClipScale {
        lo: f64,
        hi: f64,
        scale: f64,
        offset: f64,
    },
    /// (x − mean[c])/std[c] per channel of (N, C, H, W) images.
    Normalize {
        mean: Vec<f64>,
        std: Vec<f64>,
    },
    Chain(Vec<Transform>),
}

crate::options! {
    /// The options of `standardize`.
    pub struct StandardizeOptions {
        "offset" => offset: f64 = 0.5; Float, "0.5", "added after standardising (the paper's 0.5 keeps inputs mostly positive)", |v| v.f64()?;
    }
}

impl Transform {
    /// clip(x, lo, hi)/scale + offset, refusing an empty range or a zero scale.
    pub fn clip_scale(lo: f64, hi: f64, scale: f64, offset: f64) -> Result<Transform> {
        if scale == 0.0 || lo > hi || [lo, hi, scale, offset].iter().any(|v| !v.is_finite()) {
            return Err(crate::Error::invalid(
                "clip_scale: needs finite numbers, lo <= hi and a non-zero scale",
            ));
        }
        Ok(Transform::ClipScale {
            lo,
            hi,
            scale,
            offset,
        })
    }

    /// (x − mean[c])/std[c] per channel: as many means as stds, none of them zero.
    pub fn normalize(mean: Vec<f64>, std: Vec<f64>) -> Result<Transform> {
        if mean.len() != std.len() || std.contains(&0.0) {
            return Err(crate::Error::invalid(
                "normalize: mean and std need the same length and non-zero stds",
            ));
        }
        Ok(Transform::Normalize { mean, std })
    }

    /// Statistics of (N, F) data: mean and population std (ddof 0) per feature, as numpy's.
    pub fn standardize_from(x: &Tensor, names: &[String], offset: f64) -> Result<Transform> {
        let (n, f) = x
            .dims2()
            .map_err(|_| Error::invalid("standardize needs tabular (N, features) data"))?;
        if n == 0 {
            return Err(Error::invalid("standardize: the dataset is empty"));
        }
        let v = x.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        let mut mean = vec![0.0; f];
        for row in &v {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0; f];
        for row in &v {
            for j in 0..f {
                var[j] += (row[j] - mean[j]).powi(2);
            }
        }
        let std: Vec<f64> = var.iter().map(|s| (s / n as f64).sqrt()).collect();
        if let Some(j) = std.iter().position(|&s| s == 0.0 || !s.is_finite()) {
            let name = names.get(j).cloned().unwrap_or_else(|| format!("#{j}"));
            return Err(Error::invalid(format!(
                "standardize: feature '{name}' has zero variance (every value is {}); drop it or scale it another way",
                mean[j]
            )));
        }
        Ok(Transform::Standardize { mean, std, offset })
    }

    pub fn then(&self, next: Transform) -> Transform {
        match self {
            Transform::Chain(v) => {
                let mut v = v.clone();
                v.push(next);
                Transform::Chain(v)
            }
            t => Transform::Chain(vec![t.clone(), next]),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transform::Standardize { offset, .. } => {
                format!("standardize (x - mean)/std + {offset}")
            }
            Transform::ClipScale {
                lo,
                hi,
                scale,
                offset,
            } => format!("clip(x, {lo}, {hi})/{scale} + {offset}"),
            Transform::Normalize { mean, std } => format!("normalize mean {mean:?} std {std:?}"),
            Transform::Chain(v) => v
                .iter()
                .map(|t| t.describe())
                .collect::<Vec<_>>()
                .join(", then "),
        }
    }

    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let dt = x.dtype();
        let per_feature = |x: &Tensor, v: &[f64], axis: usize| -> Result<Tensor> {
            let mut shape = vec![1usize; x.rank()];
            if axis >= x.rank() || x.dim(axis)? != v.len() {
                return Err(Error::invalid(format!(
                    "transform has {} values but the data has shape {:?}",
                    v.len(),
                    x.dims()
                )));
            }
            shape[axis] = v.len();
            Ok(Tensor::from_vec(v.to_vec(), shape, x.device())?.to_dtype(dt)?)
        };
        Ok(match self {
            Transform::Standardize { mean, std, offset } => {
                let m = per_feature(x, mean, 1)?;
                let s = per_feature(x, std, 1)?;
                (x.broadcast_sub(&m)?.broadcast_div(&s)? + *offset)?
            }
            Transform::ClipScale {
                lo,
                hi,
                scale,
                offset,
            } => {
                // A true division (not a multiplication by 1/scale), as numpy computes it.
                let s = Tensor::new(*scale, x.device())?.to_dtype(dt)?;
                (x.clamp(*lo, *hi)?.broadcast_div(&s)? + *offset)?
            }
            Transform::Normalize { mean, std } => {
                let m = per_feature(x, mean, 1)?;
                let s = per_feature(x, std, 1)?;
                x.broadcast_sub(&m)?.broadcast_div(&s)?
            }
            Transform::Chain(v) => {
                let mut h = x.clone();
                for t in v {
                    h = t.apply(&h)?;
                }
                h
            }
        })
    }
}
