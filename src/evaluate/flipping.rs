//! Deletion and insertion: flip the input's units in order of relevance, most relevant first,
//! and follow the probability of the heatmap's target (Petsiuk et al.'s curves; Quantus's
//! `PixelFlipping` is the deletion curve). Every step of every sample runs in one batched
//! forward pass.

use crate::error::{Error, Result};
use crate::nn::Model;
use candle_core::Tensor;

/// What each element of a sample belongs to. A sample of rank 1 (a table's row): one unit per
/// feature. Rank 2 or more: the first axis is channels and a unit is a `patch`-sided block of the
/// other axes, all channels together (a pixel when `patch` is 1).
#[derive(Clone, Debug)]
pub struct Units {
    /// The unit of each element, row-major over the sample.
    pub of_element: Vec<u32>,
    pub count: usize,
}

impl Units {
    pub fn new(sample_shape: &[usize], patch: usize) -> Result<Units> {
        let elements = crate::limits::count("sample", sample_shape)?;
        if elements == 0 {
            return Err(Error::invalid(
                "evaluate_heatmaps: samples have no elements",
            ));
        }
        if sample_shape.len() == 1 {
            if patch != 1 {
                return Err(Error::OutOfRange {
                    what: "patch".into(),
                    value: patch.to_string(),
                    valid: "1 for a table's rows (a unit is one feature); patches are for images"
                        .into(),
                });
            }
            return Ok(Units {
                of_element: (0..elements as u32).collect(),
                count: elements,
            });
        }
        let spatial = &sample_shape[1..];
        if let Some(&small) = spatial.iter().find(|&&d| d < patch) {
            return Err(Error::OutOfRange {
                what: "patch".into(),
                value: patch.to_string(),
                valid: format!("1 to {small}, the sample's smallest side"),
            });
        }
        // Blocks per spatial axis (a partial block at the edge is a unit of its own).
        let blocks: Vec<usize> = spatial.iter().map(|&d| d.div_ceil(patch)).collect();
        let count: usize = blocks.iter().product();
        let per_channel: usize = spatial.iter().product();
        let mut of_element = Vec::with_capacity(elements);
        for _ in 0..sample_shape[0] {
            for flat in 0..per_channel {
                // Row-major coordinates of this position, then its block's row-major index.
                let (mut rest, mut unit, mut stride) = (flat, 0usize, 1usize);
                for axis in (0..spatial.len()).rev() {
                    let coord = rest % spatial[axis];
                    rest /= spatial[axis];
                    unit += (coord / patch) * stride;
                    stride *= blocks[axis];
                }
                of_element.push(unit as u32);
            }
        }
        Ok(Units { of_element, count })
    }

    /// Each unit's relevance: the sum of |h| over its elements.
    pub fn relevance(&self, h: &[f64]) -> Vec<f64> {
        let mut r = vec![0.0; self.count];
        for (v, &u) in h.iter().zip(&self.of_element) {
            r[u as usize] += v.abs();
        }
        r
    }
}

/// Which flipping curve a name means: `"deletion"` (false) or `"insertion"` (true).
pub fn is_insertion(kind: &str) -> Result<bool> {
    match kind {
        "deletion" => Ok(false),
        "insertion" => Ok(true),
        other => Err(Error::unknown("curve", other, &["deletion", "insertion"])),
    }
}

/// The fraction of units flipped at each point of a curve: 0, then after each step of
/// ⌈units / steps⌉ units, the last step taking what is left.
pub fn flip_fractions(units: usize, steps: usize) -> Vec<f64> {
    let per = units.div_ceil(steps.max(1));
    let mut f = vec![0.0];
    let mut done = 0;
    while done < units {
        done = (done + per).min(units);
        f.push(done as f64 / units as f64);
    }
    f
}

/// The area under a curve over the flipped fractions (trapezoids), in [0, 1] for probabilities.
pub fn auc(curve: &[f64], fractions: &[f64]) -> f64 {
    curve
        .windows(2)
        .zip(fractions.windows(2))
        .map(|(p, f)| (f[1] - f[0]) * (p[0] + p[1]) / 2.0)
        .sum()
}

/// Per sample, the target's probability at each point of [`flip_fractions`]: deletion sets the
/// most relevant units to `baseline` first; insertion starts from the baseline everywhere and
/// puts the most relevant units back first. Ties keep the units' order.
#[allow(clippy::too_many_arguments)]
pub fn flip_curves(
    model: &Model,
    x: &Tensor,
    relevance: &[Vec<f64>],
    targets: &[usize],
    units: &Units,
    steps: usize,
    baseline: f64,
    insertion: bool,
) -> Result<Vec<Vec<f64>>> {
    let n = x.dim(0)?;
    let dims = x.dims().to_vec();
    let rows = super::rows_f64(x)?;
    // The step at which each element is flipped: the position of its unit in the sample's
    // order, divided by the units per step.
    let per = units.count.div_ceil(steps.max(1));
    let flip_step: Vec<Vec<u32>> = relevance
        .iter()
        .map(|r| {
            let mut order: Vec<usize> = (0..units.count).collect();
            order.sort_by(|&a, &b| r[b].total_cmp(&r[a]));
            let mut step_of_unit = vec![0u32; units.count];
            for (pos, &u) in order.iter().enumerate() {
                step_of_unit[u] = (pos / per) as u32 + 1;
            }
            units
                .of_element
                .iter()
                .map(|&u| step_of_unit[u as usize])
                .collect()
        })
        .collect();
    let points = flip_fractions(units.count, steps).len();
    let mut curves = vec![Vec::with_capacity(points); n];
    for step in 0..points as u32 {
        crate::interrupt::check()?;
        let mut v = Vec::with_capacity(rows.len() * units.of_element.len());
        for (row, flips) in rows.iter().zip(&flip_step) {
            v.extend(row.iter().zip(flips).map(|(&xv, &s)| {
                let flipped = s <= step;
                if flipped != insertion { baseline } else { xv }
            }));
        }
        let xs = Tensor::from_vec(v, dims.clone(), x.device())?.to_dtype(x.dtype())?;
        for (c, p) in curves
            .iter_mut()
            .zip(super::target_probabilities(model, &xs, targets)?)
        {
            c.push(p);
        }
    }
    Ok(curves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_features_or_patches_across_channels() {
        let u = Units::new(&[4], 1).unwrap();
        assert_eq!((u.count, u.of_element.clone()), (4, vec![0, 1, 2, 3]));
        // 2 channels of 3×3 in patches of 2: blocks 2×2, the edge blocks partial.
        let u = Units::new(&[2, 3, 3], 2).unwrap();
        assert_eq!(u.count, 4);
        let one_channel = vec![0, 0, 1, 0, 0, 1, 2, 2, 3];
        assert_eq!(u.of_element[..9], one_channel[..]);
        assert_eq!(u.of_element[9..], one_channel[..]);
        assert!(Units::new(&[16], 2).is_err());
        assert!(Units::new(&[1, 3, 3], 4).is_err());
    }

    #[test]
    fn fractions_and_area() {
        assert_eq!(flip_fractions(4, 32), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(flip_fractions(5, 2), vec![0.0, 0.6, 1.0]);
        assert!((auc(&[1.0, 0.0, 0.0], &[0.0, 0.5, 1.0]) - 0.25).abs() < 1e-15);
    }
}
