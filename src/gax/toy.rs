//! The paper's two-dimensional example (its §2, Figs 1 and 6), as a function: a perfect
//! classifier of rotated data, f(v) = σ(W⁻¹v) with W the rotation by θ and σ = LeakyReLU(0.01),
//! explains x = W·(a₁, a₂) with the heatmap h = w ⊙ x found by gradient ascent on
//! Δ = A − B, (A, B) = W⁻¹(w ⊙ x). Δ is linear in w, so k steps of size η from w = 1 give the
//! closed form of eq. (4): h = (1 + kη∇Δ) ⊙ x, ∇Δ = ((W⁻¹₁₁ − W⁻¹₂₁)x₁, (W⁻¹₁₂ − W⁻¹₂₂)x₂).
//! [`toy2d`] runs the ascent with automatic differentiation and returns both, with the CO score
//! (1, −1)·[f(x + h) − f(x)] of the class-A target.

use crate::error::Result;
use candle_core::{Device, Tensor, Var};

crate::options! {
    /// The options of `toy2d`.
    pub struct ToyOptions {
        "steps" => steps: usize = 12; Int, "12", "gradient-ascent steps k", |v| v.usize()?;
        "eta" => eta: f64 = 0.1; Float, "0.1", "step size η (kη = 1.2 as in the paper's Fig. 1 caption)", |v| v.f64()?;
        "as_coded" => as_coded: bool = false; Bool, "false", "the authors' update η·(η·∇Δ), an effective kη·η (METHOD.md §6)", |v| v.bool()?;
    }
}

/// One point of the toy example.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Toy {
    pub x: [f64; 2],
    /// h = w ⊙ x after the gradient ascent (automatic differentiation, step by step).
    pub h: [f64; 2],
    /// h by eq. (4).
    pub h_closed: [f64; 2],
    /// (1, −1)·[f(x + h) − f(x)].
    pub co: f64,
}

/// The toy example at angle `theta` for the point (a₁, a₂) before rotation.
pub fn toy2d(theta: f64, a: [f64; 2], opts: &ToyOptions) -> Result<Toy> {
    let dev = Device::Cpu;
    let (c, s) = (theta.cos(), theta.sin());
    let x = [c * a[0] - s * a[1], s * a[0] + c * a[1]];
    // W⁻¹ = Wᵀ for a rotation.
    let winv = [[c, s], [-s, c]];
    let step = if opts.as_coded {
        opts.eta * opts.eta
    } else {
        opts.eta
    };
    let xt = Tensor::new(&x, &dev)?;
    let wt = Tensor::new(&winv, &dev)?;
    let w = Var::new(&[1.0f64, 1.0], &dev)?;
    for _ in 0..opts.steps {
        crate::interrupt::check()?;
        let ab = wt
            .matmul(&(w.as_tensor() * &xt)?.unsqueeze(1)?)?
            .squeeze(1)?;
        let delta = (ab.get(0)? - ab.get(1)?)?;
        let grads = delta.backward()?;
        let g = grads.get(w.as_tensor()).expect("Δ depends on w");
        crate::tensor::assign(&w, &(w.as_tensor() + (g * step)?)?)?;
    }
    let wv = w.as_tensor().to_vec1::<f64>()?;
    let h = [wv[0] * x[0], wv[1] * x[1]];
    let grad = [
        (winv[0][0] - winv[1][0]) * x[0],
        (winv[0][1] - winv[1][1]) * x[1],
    ];
    let k_eta = opts.steps as f64 * step;
    let h_closed = [
        (1.0 + k_eta * grad[0]) * x[0],
        (1.0 + k_eta * grad[1]) * x[1],
    ];
    let f = |v: [f64; 2]| {
        let y = [
            winv[0][0] * v[0] + winv[0][1] * v[1],
            winv[1][0] * v[0] + winv[1][1] * v[1],
        ];
        y.map(|t| if t > 0.0 { t } else { 0.01 * t })
    };
    let (after, before) = (f([x[0] + h[0], x[1] + h[1]]), f(x));
    Ok(Toy {
        x,
        h,
        h_closed,
        co: (after[0] - before[0]) - (after[1] - before[1]),
    })
}

/// The most angles a sweep takes (a figure has fewer pixels).
pub const MAX_POINTS: usize = 100_000;

/// The toy example over `points` angles θ evenly spaced in [−π, π] for the point
/// (a₁, 1 − a₁): the data of one panel of the paper's Fig. 1 (the authors' 128 angles).
/// A script holds it as a map of these fields (`x` and `h`: the two components' values).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToySweep {
    pub a1: f64,
    /// kη, the effective step of the closed form (kη² with `as_coded`).
    pub k_eta: f64,
    pub theta: Vec<f64>,
    /// x₁ and x₂ at each angle.
    pub x: [Vec<f64>; 2],
    /// h₁ and h₂ at each angle (gradient ascent).
    pub h: [Vec<f64>; 2],
    #[serde(default)]
    pub co: Vec<f64>,
    /// The largest |h − h by eq. (4)| over the sweep (rounding only).
    #[serde(default)]
    pub max_diff: f64,
}

impl ToySweep {
    /// A sweep read back from a script: x₁, x₂, h₁ and h₂ at every angle.
    pub fn check(&self) -> Result<()> {
        let n = self.theta.len();
        if self.x.iter().chain(&self.h).any(|v| v.len() != n) {
            return Err(crate::Error::invalid(
                "a toy sweep's theta, x and h differ in length (make sweeps with toy2d_sweep)",
            ));
        }
        Ok(())
    }
}

pub fn sweep(a1: f64, points: usize, opts: &ToyOptions) -> Result<ToySweep> {
    if !(2..=MAX_POINTS).contains(&points) {
        return Err(crate::Error::OutOfRange {
            what: "points".into(),
            value: points.to_string(),
            valid: format!("2 to {MAX_POINTS}"),
        });
    }
    let step = if opts.as_coded {
        opts.eta * opts.eta
    } else {
        opts.eta
    };
    let mut out = ToySweep {
        a1,
        k_eta: opts.steps as f64 * step,
        theta: Vec::with_capacity(points),
        x: [Vec::with_capacity(points), Vec::with_capacity(points)],
        h: [Vec::with_capacity(points), Vec::with_capacity(points)],
        co: Vec::with_capacity(points),
        max_diff: 0.0,
    };
    for i in 0..points {
        let theta =
            -std::f64::consts::PI + 2.0 * std::f64::consts::PI * i as f64 / (points - 1) as f64;
        let t = toy2d(theta, [a1, 1.0 - a1], opts)?;
        out.theta.push(theta);
        for c in 0..2 {
            out.x[c].push(t.x[c]);
            out.h[c].push(t.h[c]);
            out.max_diff = out.max_diff.max((t.h[c] - t.h_closed[c]).abs());
        }
        out.co.push(t.co);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascent_agrees_with_eq_4_and_a_hand_computed_point() {
        // θ = 0: W = I, x = a, ∇Δ = (a₁, −a₂), w = 1 + 1.2·(0.7, −0.3) = (1.84, 0.64).
        let t = toy2d(0.0, [0.7, 0.3], &ToyOptions::default()).unwrap();
        let want = [1.84 * 0.7, 0.64 * 0.3];
        for (got, want) in t.h.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{:?}", t.h);
        }
        // f = LeakyReLU(identity): x + h stays positive, CO = h₁ − h₂.
        assert!((t.co - (want[0] - want[1])).abs() < 1e-12, "{}", t.co);
        for k in 0..64 {
            let theta = -3.0 + 6.0 * k as f64 / 63.0;
            for a1 in [0.95, 0.7, 0.55] {
                let t = toy2d(theta, [a1, 1.0 - a1], &ToyOptions::default()).unwrap();
                for (h, closed) in t.h.iter().zip(t.h_closed) {
                    assert!((h - closed).abs() < 1e-12, "θ {theta}: {t:?}");
                }
            }
        }
        // The authors' η·(η·∇Δ): the effective step is η².
        let coded = ToyOptions {
            as_coded: true,
            ..Default::default()
        };
        let t = toy2d(0.0, [0.7, 0.3], &coded).unwrap();
        assert!((t.h[0] - (1.0 + 0.12 * 0.7) * 0.7).abs() < 1e-12);
    }

    #[test]
    fn a_sweep_spans_minus_pi_to_pi_and_checks_its_size() {
        let s = sweep(0.95, 5, &ToyOptions::default()).unwrap();
        assert_eq!(s.theta.len(), 5);
        assert_eq!(
            (s.theta[0], s.theta[2], s.theta[4]),
            (-std::f64::consts::PI, 0.0, std::f64::consts::PI)
        );
        assert!((s.k_eta - 1.2).abs() < 1e-12 && s.max_diff < 1e-12);
        // θ = 0: x = a and h₁ = (1 + 1.2·0.95)·0.95.
        assert!((s.h[0][2] - 2.14 * 0.95).abs() < 1e-12, "{:?}", s.h);
        for bad in [0, 1, MAX_POINTS + 1] {
            assert!(
                sweep(0.95, bad, &ToyOptions::default()).is_err(),
                "{bad} points"
            );
        }
    }
}
