//! Statistics of plain samples, with no idea what the numbers are: quantiles as numpy
//! computes them, five-number summaries, and the AUROC of a score. `gap` reads CO through them,
//! `plot` draws boxplots with them.

use serde::Serialize;

/// Quartiles and extremes of a sample.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

/// Linear-interpolated quantile of sorted data (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub fn summarize(values: &[f64]) -> Summary {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Summary {
            n: 0,
            mean: f64::NAN,
            min: f64::NAN,
            q1: f64::NAN,
            median: f64::NAN,
            q3: f64::NAN,
            max: f64::NAN,
        };
    }
    v.sort_by(f64::total_cmp);
    Summary {
        n: v.len(),
        mean: v.iter().sum::<f64>() / v.len() as f64,
        min: v[0],
        q1: quantile(&v, 0.25),
        median: quantile(&v, 0.5),
        q3: quantile(&v, 0.75),
        max: v[v.len() - 1],
    }
}

/// AUROC of `score` for telling positives from negatives: P(score_pos > score_neg) + ½P(=),
/// computed with average ranks (Mann–Whitney U).
pub fn auroc(pos: &[f64], neg: &[f64]) -> f64 {
    if pos.is_empty() || neg.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f64, bool)> = pos
        .iter()
        .map(|&v| (v, true))
        .chain(neg.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += all[i..=j].iter().filter(|x| x.1).count() as f64 * avg_rank;
        i = j + 1;
    }
    let (np, nn) = (pos.len() as f64, neg.len() as f64);
    (rank_sum_pos - np * (np + 1.0) / 2.0) / (np * nn)
}

/// A 95 % percentile-bootstrap interval of [`auroc`]: each group resampled with replacement
/// on its own (so both stay represented), `rounds` times, from a fixed seed so the same data
/// always give the same interval. NaN bounds where the AUROC is undefined.
pub fn auroc_interval(pos: &[f64], neg: &[f64], rounds: usize) -> (f64, f64) {
    use rand::{Rng, SeedableRng};
    if pos.is_empty() || neg.is_empty() || rounds == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x00c0_ffee);
    let mut draws: Vec<f64> = Vec::with_capacity(rounds);
    let (mut p, mut n) = (vec![0.0; pos.len()], vec![0.0; neg.len()]);
    for _ in 0..rounds {
        for v in p.iter_mut() {
            *v = pos[rng.random_range(0..pos.len())];
        }
        for v in n.iter_mut() {
            *v = neg[rng.random_range(0..neg.len())];
        }
        draws.push(auroc(&p, &n));
    }
    draws.sort_by(f64::total_cmp);
    (quantile(&draws, 0.025), quantile(&draws, 0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_with_ties_matches_sklearn() {
        // sklearn.metrics.roc_auc_score([1,1,0,0,1,0], [0.9,0.4,0.4,0.1,0.8,0.3]) = 0.9444…
        let auc = auroc(&[0.9, 0.4, 0.8], &[0.4, 0.1, 0.3]);
        assert!((auc - 0.944_444_444_444_444_4).abs() < 1e-12, "{auc}");
        assert_eq!(auroc(&[1.0], &[2.0]), 0.0);
    }

    #[test]
    fn auroc_intervals_hold_the_estimate_and_narrow_with_more_data() {
        let pos: Vec<f64> = (0..8).map(|i| i as f64 + 0.5).collect();
        let neg: Vec<f64> = (0..8).map(|i| i as f64).collect();
        let (lo, hi) = auroc_interval(&pos, &neg, 500);
        let a = auroc(&pos, &neg);
        assert!(lo <= a && a <= hi && lo < hi, "{lo} {a} {hi}");
        let pos4: Vec<f64> = (0..200).map(|i| (i % 8) as f64 + 0.5).collect();
        let neg4: Vec<f64> = (0..200).map(|i| (i % 8) as f64).collect();
        let (lo4, hi4) = auroc_interval(&pos4, &neg4, 500);
        assert!(hi4 - lo4 < (hi - lo) / 2.0, "{lo4}..{hi4} vs {lo}..{hi}");
        assert_eq!(
            auroc_interval(&pos, &neg, 500),
            (lo, hi),
            "seeded: the same every time"
        );
        assert!(auroc_interval(&[], &neg, 10).0.is_nan());
    }

    #[test]
    fn quantiles_as_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&v, 0.5), 2.5);
    }
}
