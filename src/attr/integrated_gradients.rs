//! Integrated Gradients (Sundararajan et al.) with Captum's integration rules: the attribution is
//! (x − x₀) ⊙ Σ_k w_k ∂y_t/∂x at x₀ + α_k(x − x₀), for Gauss–Legendre nodes (Captum's default) or
//! Riemann sums. The scaled inputs of all steps run as one batch unless `internal_batch` limits
//! how many run at once.

use super::IgMethod;
use super::gradient::gradient;
use crate::error::{Error, Result};
use crate::nn::{Model, Rule};
use candle_core::Tensor;

/// Gauss–Legendre nodes and weights on [−1, 1] (Newton's method on P_n; matches numpy's
/// `leggauss` to ~1e-15).
pub fn leggauss(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        if crate::interrupt::requested() {
            break;
        }
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, 0.0);
            for k in 0..n {
                let p2 = p1;
                p1 = p0;
                p0 = ((2 * k + 1) as f64 * z * p1 - k as f64 * p2) / (k + 1) as f64;
            }
            dp = n as f64 * (z * p0 - p1) / (z * z - 1.0);
            let dz = p0 / dp;
            z -= dz;
            if dz.abs() < 1e-16 {
                break;
            }
        }
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
        w[n - 1 - i] = w[i];
    }
    (x, w)
}

/// Step weights and α values of a rule with `n` steps, as Captum's `approximation_parameters`.
pub fn nodes(method: IgMethod, n: usize) -> (Vec<f64>, Vec<f64>) {
    let lin = |a: f64, b: f64| -> Vec<f64> {
        crate::tensor::ops::linspace(a, b, n, candle_core::DType::F64)
            .and_then(|t| Ok(t.to_vec1::<f64>()?))
            .unwrap_or_default()
    };
    match method {
        IgMethod::GaussLegendre => {
            let (x, w) = leggauss(n);
            (
                w.iter().map(|w| 0.5 * w).collect(),
                x.iter().map(|x| 0.5 * (1.0 + x)).collect(),
            )
        }
        _ => {
            let mut steps = vec![1.0 / n as f64; n];
            let alphas = match method {
                IgMethod::RiemannTrapezoid => {
                    steps[0] /= 2.0;
                    steps[n - 1] /= 2.0;
                    lin(0.0, 1.0)
                }
                IgMethod::RiemannLeft => lin(0.0, 1.0 - 1.0 / n as f64),
                IgMethod::RiemannMiddle => {
                    lin(1.0 / (2.0 * n as f64), 1.0 - 1.0 / (2.0 * n as f64))
                }
                _ => lin(1.0 / n as f64, 1.0),
            };
            (steps, alphas)
        }
    }
}

/// The most integration steps (Captum's default is 50; Gauss–Legendre nodes cost O(n²) to find).
pub const MAX_STEPS: usize = 10_000;

/// Scaled inputs per forward/backward pass when `internal_batch` is 0: about four million
/// values, as other methods' chunks.
fn auto_pass(b: usize, per_sample: usize) -> usize {
    (4_000_000 / (b.max(1) * per_sample.max(1))).max(1)
}

pub fn integrated_gradients(
    model: &Model,
    x: &Tensor,
    targets: &[usize],
    baseline: Option<&Tensor>,
    steps: usize,
    method: IgMethod,
    internal_batch: usize,
) -> Result<Tensor> {
    if steps == 0 || (method == IgMethod::RiemannTrapezoid && steps < 2) || steps > MAX_STEPS {
        return Err(Error::out_of_range(
            "IntegratedGradients: steps",
            steps,
            format!("1 to {MAX_STEPS} (at least 2 for riemann_trapezoid)"),
        ));
    }
    let b = x.dim(0)?;
    let x = x.to_dtype(model.dtype)?;
    let base = match baseline {
        Some(t) => t.to_dtype(model.dtype)?,
        None => x.zeros_like()?,
    };
    let diff = (&x - &base)?;
    let (weights, alphas) = nodes(method, steps);
    crate::interrupt::check()?;
    let per_pass = if internal_batch == 0 {
        auto_pass(b, x.elem_count() / b.max(1))
    } else {
        (internal_batch / b.max(1)).max(1)
    };
    let mut total = x.zeros_like()?;
    let mut k0 = 0;
    // Progress in integration steps, when they take more than one pass.
    let task = (steps > per_pass)
        .then(|| crate::progress::Task::start("IntegratedGradients", steps as u64));
    while k0 < steps {
        crate::interrupt::check()?;
        let k1 = (k0 + per_pass).min(steps);
        if let Some(t) = &task {
            t.update(k0 as u64, &format!("{b} samples, step {k0}/{steps}"));
        }
        let scaled: Vec<Tensor> = alphas[k0..k1]
            .iter()
            .map(|&a| Ok((&base + (&diff * a)?)?))
            .collect::<Result<_>>()?;
        let batch = Tensor::cat(&scaled, 0)?;
        let ts: Vec<usize> = (k0..k1).flat_map(|_| targets.iter().copied()).collect();
        let g = gradient(model, &batch, Some(&ts), Rule::Plain, 0)?.grad;
        for (j, k) in (k0..k1).enumerate() {
            total = (total + (g.narrow(0, j * b, b)? * weights[k])?)?;
        }
        k0 = k1;
    }
    Ok((total * diff)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legendre_nodes_integrate_polynomials_exactly() {
        // numpy.polynomial.legendre.leggauss(3): nodes ±√(3/5), 0; weights 5/9, 8/9, 5/9.
        let (x, w) = leggauss(3);
        assert!((x[0] + (0.6f64).sqrt()).abs() < 1e-15 && x[1].abs() < 1e-15);
        assert!((w[0] - 5.0 / 9.0).abs() < 1e-15 && (w[1] - 8.0 / 9.0).abs() < 1e-15);
        let (x, w) = leggauss(20);
        let integral: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(10)).sum();
        assert!((integral - 2.0 / 11.0).abs() < 1e-14);
    }
}
