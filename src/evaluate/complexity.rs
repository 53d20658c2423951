//! Sparseness and complexity of a heatmap's unit relevances, as Quantus 0.5 computes them with
//! `abs=True` and each sample normalised by its own maximum.

/// |r| / max |r|; all zeros stay zeros (Quantus's `normalise_by_max`).
fn by_max(r: &[f64]) -> Vec<f64> {
    let max = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if max == 0.0 {
        return r.iter().map(|v| v.abs()).collect();
    }
    r.iter().map(|v| v.abs() / max).collect()
}

/// The Gini index of the relevances (Chalasani et al.; Quantus `Sparseness`): 0 when every unit
/// is equally relevant, towards 1 when one unit holds all of it. Quantus adds 1e-7 to every
/// value so that an all-zero heatmap has a defined score (0).
pub fn sparseness(relevance: &[f64]) -> f64 {
    let mut a: Vec<f64> = by_max(relevance).into_iter().map(|v| v + 1e-7).collect();
    a.sort_by(f64::total_cmp);
    let n = a.len() as f64;
    let weighted: f64 = a
        .iter()
        .enumerate()
        .map(|(i, v)| (2.0 * (i + 1) as f64 - n - 1.0) * v)
        .sum();
    weighted / (n * a.iter().sum::<f64>())
}

/// The entropy of the relevances' shares (Bhatt et al.; Quantus `Complexity`, scipy's
/// `entropy`): ln(units) when all are equal, 0 when one unit holds all; NaN for an all-zero
/// heatmap, which has no shares.
pub fn complexity(relevance: &[f64]) -> f64 {
    let a = by_max(relevance);
    let total: f64 = a.iter().sum();
    if total == 0.0 {
        return f64::NAN;
    }
    -a.iter()
        .filter(|&&v| v > 0.0)
        .map(|v| {
            let p = v / total;
            p * p.ln()
        })
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes() {
        assert!(sparseness(&[1.0; 8]).abs() < 1e-12);
        assert!((sparseness(&[0.0, 0.0, 0.0, 5.0]) - 0.75).abs() < 1e-6);
        assert!((complexity(&[2.0; 8]) - 8f64.ln()).abs() < 1e-12);
        assert_eq!(complexity(&[0.0, 3.0, 0.0]), 0.0);
        assert!(complexity(&[0.0; 3]).is_nan());
    }
}
