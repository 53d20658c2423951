//! Captum 0.9's `infidelity` and `sensitivity_max`, with the perturbations passed in (the panel
//! draws them per sample from its seed; the parity tests pass Captum's).

use crate::attr::{AttrOptions, Target, attribute_named};
use crate::error::{Error, Result};
use crate::nn::Model;
use candle_core::{DType, Tensor};

/// The number of perturbations per sample a batch of them holds, checked against the inputs.
fn per_sample(x: &Tensor, perturbations: &Tensor, what: &str) -> Result<usize> {
    let n = x.dim(0)?;
    let total = perturbations.dim(0)?;
    if perturbations.dims()[1..] != x.dims()[1..] || n == 0 || total % n != 0 || total == 0 {
        return Err(Error::ShapeMismatch {
            op: format!("{what}: perturbations (samples × per sample, …) and inputs"),
            lhs: perturbations.dims().to_vec(),
            rhs: x.dims().to_vec(),
        });
    }
    Ok(total / n)
}

/// Infidelity per sample (Captum's `infidelity` with `perturb_func` returning `(I, x − I)`):
/// the mean over perturbations of (Σ I ⊙ h − (f_t(x) − f_t(x − I)))², f_t the target's logit.
/// `normalize` first scales h by β = E[Iᵀh · Δf] / E[(Iᵀh)²], as Captum's `normalize=True`.
/// `perturbations` holds each sample's perturbations in a row (Captum's layout).
pub fn infidelity(
    model: &Model,
    x: &Tensor,
    h: &Tensor,
    targets: &[usize],
    perturbations: &Tensor,
    normalize: bool,
) -> Result<Vec<f64>> {
    let per = per_sample(x, perturbations, "infidelity")?;
    let n = x.dim(0)?;
    let perturbations = perturbations.to_dtype(x.dtype())?;
    let repeated_targets: Vec<usize> = targets
        .iter()
        .flat_map(|&t| std::iter::repeat_n(t, per))
        .collect();
    let f_x = super::target_logits(model, x, targets)?;
    let x_minus = (super::repeat_each(x, per)? - &perturbations)?;
    let f_pert = super::target_logits(model, &x_minus, &repeated_targets)?;
    let h_rep = super::repeat_each(&h.to_dtype(x.dtype())?, per)?;
    let dot = (h_rep * &perturbations)?
        .reshape((n * per, ()))?
        .sum(1)?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    Ok((0..n)
        .map(|i| {
            let (mut aa, mut ab, mut bb, mut sq) = (0.0, 0.0, 0.0, 0.0);
            for k in i * per..(i + 1) * per {
                let a = dot[k];
                let b = f_x[i] - f_pert[k];
                aa += a * a;
                ab += a * b;
                bb += b * b;
                sq += (a - b) * (a - b);
            }
            let value = if normalize {
                // Captum's safe_div: a zero denominator counts as 1.
                let beta = ab / if aa == 0.0 { 1.0 } else { aa };
                beta * beta * aa - 2.0 * beta * ab + bb
            } else {
                sq
            };
            value / per as f64
        })
        .collect())
}

/// Max-sensitivity per sample (Captum's `sensitivity_max`, Frobenius norm): the largest
/// ‖h(x + δ) − h(x)‖ / ‖h(x)‖ over the perturbations δ (a zero ‖h(x)‖ counts as 1). The
/// perturbed inputs are explained for the same targets as `h` (`opts.target`, one per sample).
pub fn sensitivity_max(
    model: &Model,
    x: &Tensor,
    h: &Tensor,
    method: &str,
    opts: &AttrOptions,
    perturbations: &Tensor,
) -> Result<Vec<f64>> {
    let per = per_sample(x, perturbations, "sensitivity_max")?;
    let n = x.dim(0)?;
    let targets = match &opts.target {
        Target::PerSample(t) if t.len() == n => t.clone(),
        Target::Class(c) => vec![*c; n],
        _ => crate::attr::resolve_targets(model, x, &opts.resolved_target()?)?,
    };
    let repeated: Vec<usize> = targets
        .iter()
        .flat_map(|&t| std::iter::repeat_n(t, per))
        .collect();
    let perturbed = (super::repeat_each(x, per)? + perturbations.to_dtype(x.dtype())?)?;
    let h_pert = attribute_named(
        model,
        &perturbed,
        method,
        &AttrOptions {
            target: Target::PerSample(repeated),
            labels: None,
            ..opts.clone()
        },
    )?;
    let h_rows = super::rows_f64(h)?;
    let p_rows = super::rows_f64(&h_pert)?;
    Ok((0..n)
        .map(|i| {
            let norm = h_rows[i].iter().map(|v| v * v).sum::<f64>().sqrt();
            let norm = if norm == 0.0 { 1.0 } else { norm };
            (i * per..(i + 1) * per)
                .map(|k| {
                    let d: f64 = p_rows[k]
                        .iter()
                        .zip(&h_rows[i])
                        .map(|(p, q)| (q - p) * (q - p))
                        .sum();
                    d.sqrt() / norm
                })
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect())
}
