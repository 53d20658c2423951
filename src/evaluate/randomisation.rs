//! Model-parameter randomisation (Adebayo et al.'s sanity check; Quantus `MPRT`): the layers'
//! weights are replaced by fresh ones from the top layer down, cumulatively, and each stage's
//! heatmap is compared with the trained model's by Spearman rank correlation. A heatmap that
//! stays similar while the weights it should explain are destroyed does not explain them.

use super::Units;
use crate::attr::{AttrOptions, attribute_named};
use crate::error::{Error, Result};
use crate::nn::Model;
use crate::nn::params::ParamKind;
use candle_core::{DType, Tensor};

/// A working copy of the model and the layers it randomises, in the order it does.
pub struct Cascade {
    work: Model,
    /// Every parameter's trained value, to start each cascade from.
    trained: Vec<Tensor>,
    /// (layer, its parameters' positions in the store), top layer first.
    pub stages: Vec<(String, Vec<usize>)>,
    seed: u64,
}

impl Cascade {
    /// The cascade over the model's layers with parameters, top first; `layers` limits it to
    /// that many (0: all).
    pub fn new(model: &Model, layers: usize, seed: u64) -> Result<Cascade> {
        let work = model.duplicate()?;
        let entries = &work.params.entries;
        let mut stages: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if e.kind == ParamKind::Counter {
                continue;
            }
            let layer = e.name.rsplit_once('.').map_or("", |(l, _)| l).to_string();
            match stages.iter_mut().find(|(l, _)| *l == layer) {
                Some((_, idx)) => idx.push(i),
                None => stages.push((layer, vec![i])),
            }
        }
        stages.retain(|(_, idx)| idx.iter().any(|&i| entries[i].kind == ParamKind::Trainable));
        if stages.is_empty() {
            return Err(Error::invalid(
                "randomisation: the model has no trained parameters to randomise",
            ));
        }
        stages.reverse();
        if layers > 0 {
            stages.truncate(layers);
        }
        let trained = entries
            .iter()
            .map(|e| e.var.as_tensor().copy())
            .collect::<candle_core::Result<_>>()?;
        Ok(Cascade {
            work,
            trained,
            stages,
            seed,
        })
    }

    /// The working copy back to the trained weights.
    fn reset(&self) -> Result<()> {
        for (e, t) in self.work.params.entries.iter().zip(&self.trained) {
            crate::tensor::assign(&e.var, t)?;
        }
        Ok(())
    }

    /// Fresh weights for one stage's layer, as PyTorch's `reset_parameters` draws them: weights
    /// and biases uniform in ±1/√fan_in (kaiming_uniform with a = √5), batch norm back to scale
    /// 1, shift 0, running mean 0 and variance 1. Drawn from the cascade's seed and the stage,
    /// so every batch and method meets the same randomised model.
    fn randomise(&self, stage: usize) -> Result<()> {
        let entries = &self.work.params.entries;
        let idx = &self.stages[stage].1;
        let field = |i: usize| entries[i].name.rsplit('.').next().unwrap_or("");
        let is_norm = idx.iter().any(|&i| field(i) == "running_var");
        let fan_in = idx
            .iter()
            .find(|&&i| field(i) == "weight" && entries[i].var.rank() >= 2)
            .map(|&i| entries[i].var.dims()[1..].iter().product::<usize>());
        let bound = fan_in.map_or(1.0, |f| 1.0 / (f.max(1) as f64).sqrt());
        for (k, &i) in idx.iter().enumerate() {
            let var = &entries[i].var;
            let n = var.elem_count();
            let values = match (is_norm, field(i)) {
                (true, "weight" | "running_var") => vec![1.0; n],
                (true, _) => vec![0.0; n],
                _ => {
                    let seed = super::sample_seed(self.seed, stage * 64 + k, 3);
                    crate::tensor::random::isolated(seed, || {
                        crate::tensor::random::uniform_vec(n, -bound, bound)
                    })
                }
            };
            let t = Tensor::from_vec(values, var.dims(), var.device())?.to_dtype(var.dtype())?;
            crate::tensor::assign(var, &t)?;
        }
        Ok(())
    }
}

/// Per stage and sample, the Spearman correlation of the trained model's unit relevances with
/// those of the model randomised down to that stage (NaN where either heatmap is constant).
pub fn randomisation_similarities(
    cascade: &Cascade,
    x: &Tensor,
    relevance: &[Vec<f64>],
    units: &Units,
    method: &str,
    opts: &AttrOptions,
) -> Result<Vec<Vec<f64>>> {
    cascade.reset()?;
    let mut out = Vec::with_capacity(cascade.stages.len());
    for stage in 0..cascade.stages.len() {
        crate::interrupt::check()?;
        cascade.randomise(stage)?;
        let h = attribute_named(&cascade.work, x, method, opts)?;
        let rows = h
            .to_dtype(DType::F64)?
            .reshape((h.dim(0)?, ()))?
            .to_vec2::<f64>()?;
        out.push(
            rows.iter()
                .zip(relevance)
                .map(|(r, orig)| crate::stats::spearman(orig, &units.relevance(r)))
                .collect(),
        );
    }
    cascade.reset()?;
    Ok(out)
}
