//! Deterministic weights and inputs that the Rust tests and the Python reference scripts both
//! compute (`tools/reference/models.py`), so parity fixtures for large models need not commit
//! their weights: only inputs and outputs are stored.
//!
//! For a tensor named `name` with flat index i: u = sin(0.731·i + 0.37·s), s = (sum of the
//! name's bytes) mod 97; running_var = 0.5 + 0.5|u|, running_mean and biases 0.1u, other 1-D
//! tensors (BN weights) 1 + 0.2u, weights u·√(3/fan_in) with fan_in = numel / shape[0].

use super::model::Model;
use super::params::ParamKind;
use crate::error::Result;
use candle_core::{DType, Tensor};
use std::collections::HashMap;

pub fn formula_state_dict(model: &Model) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::new();
    for e in &model.params.entries {
        let dims = e.var.dims().to_vec();
        if e.kind == ParamKind::Counter {
            out.insert(
                e.name.clone(),
                Tensor::zeros(dims.as_slice(), DType::I64, &crate::device::current())?,
            );
            continue;
        }
        let n: usize = dims.iter().product();
        let seed = (e.name.bytes().map(|b| b as u64).sum::<u64>() % 97) as f64;
        let leaf = e.name.rsplit('.').next().unwrap_or("");
        let u = |i: usize| (0.731 * i as f64 + 0.37 * seed).sin();
        let values: Vec<f64> = match leaf {
            "running_var" => (0..n).map(|i| 0.5 + 0.5 * u(i).abs()).collect(),
            "running_mean" | "bias" => (0..n).map(|i| 0.1 * u(i)).collect(),
            _ if dims.len() == 1 => (0..n).map(|i| 1.0 + 0.2 * u(i)).collect(),
            _ => {
                let scale = (3.0 / (n as f64 / dims[0] as f64)).sqrt();
                (0..n).map(|i| u(i) * scale).collect()
            }
        };
        out.insert(
            e.name.clone(),
            Tensor::from_vec(values, dims.as_slice(), &crate::device::current())?,
        );
    }
    Ok(out)
}

/// Load the formula weights into a model.
pub fn load_formula_weights(model: &Model) -> Result<()> {
    model.load_state_dict(&formula_state_dict(model)?, true)?;
    Ok(())
}

/// sin(0.917·i + phase) over the whole batch, row-major.
pub fn formula_input(shape: &[usize], phase: f64, dtype: DType) -> Result<Tensor> {
    let n = crate::limits::shape("formula_input", shape, 8)?;
    let v: Vec<f64> = (0..n).map(|i| (0.917 * i as f64 + phase).sin()).collect();
    Ok(Tensor::from_vec(v, shape, &crate::device::current())?.to_dtype(dtype)?)
}
