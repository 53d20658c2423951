//! NoiseTunnel (Captum): average any method over noisy copies x + N(0, σ²) of the input —
//! SmoothGrad (mean), SmoothGrad² (mean of squares) or VarGrad (variance). Noise comes from the
//! seeded generator; targets are fixed from the clean input.

use super::{AttrOptions, Target, attribute, resolve_targets};
use crate::error::{Error, Result};
use crate::nn::Model;
use candle_core::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseKind {
    SmoothGrad,
    SmoothGradSq,
    VarGrad,
}

impl NoiseKind {
    pub fn parse(s: &str) -> Result<NoiseKind> {
        match s {
            "smoothgrad" => Ok(NoiseKind::SmoothGrad),
            "smoothgrad_sq" => Ok(NoiseKind::SmoothGradSq),
            "vargrad" => Ok(NoiseKind::VarGrad),
            other => Err(Error::unknown(
                "noise tunnel type",
                other,
                &["smoothgrad", "smoothgrad_sq", "vargrad"],
            )),
        }
    }
}

/// NoiseTunnel over `opts.noise_method` with `opts.nt_type`, `nt_samples` and `nt_stdev`.
pub fn noise_tunnel(model: &Model, x: &Tensor, opts: &AttrOptions) -> Result<Tensor> {
    let Some(method) = opts.noise_method else {
        return Err(Error::invalid(
            "NoiseTunnel needs the method to smooth: #{method: \"Saliency\", nt_type: \"smoothgrad\", samples: 5, stdev: 1.0}",
        ));
    };
    let (kind, samples, stdev) = (opts.nt_type, opts.nt_samples, opts.nt_stdev);
    if samples == 0 {
        return Err(Error::invalid("NoiseTunnel needs at least one sample"));
    }
    let x = x.to_dtype(model.dtype)?;
    let mut o = opts.clone();
    o.target = Target::PerSample(resolve_targets(model, &x, &opts.resolved_target()?)?);
    let mut sum = x.zeros_like()?;
    let mut sum_sq = x.zeros_like()?;
    for _ in 0..samples {
        crate::interrupt::check()?;
        let noise = crate::tensor::random::normal_vec(x.elem_count());
        let noise = Tensor::from_vec(noise, x.shape(), x.device())?.to_dtype(x.dtype())?;
        let h = attribute(model, &(&x + (noise * stdev)?)?, method, &o)?;
        sum = (sum + &h)?;
        sum_sq = (sum_sq + h.sqr()?)?;
    }
    let n = samples as f64;
    let mean = (sum / n)?;
    let mean_sq = (sum_sq / n)?;
    Ok(match kind {
        NoiseKind::SmoothGrad => mean,
        NoiseKind::SmoothGradSq => mean_sq,
        NoiseKind::VarGrad => (mean_sq - mean.sqr()?)?,
    })
}
