//! Statistics of plain samples, with no idea what the numbers are: quantiles as numpy
//! computes them, five-number summaries, the AUROC of a score with its interval, and the widest
//! gap between two empirical distributions, rank correlation. `gap` reads CO through them,
//! `plot` draws boxplots with them, `evaluate` compares metrics with them.

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
    let mut all = labelled(pos, neg);
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

/// The ROC curve of `score` for telling positives from negatives: (false-positive rate,
/// true-positive rate) at every threshold, from (0, 0) to (1, 1); tied scores move both rates
/// at once, so the area under the points (trapezoids) is [`auroc`]. Empty for an empty group.
pub fn roc_curve(pos: &[f64], neg: &[f64]) -> Vec<(f64, f64)> {
    if pos.is_empty() || neg.is_empty() {
        return vec![];
    }
    let mut all = labelled(pos, neg);
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (np, nn) = (pos.len() as f64, neg.len() as f64);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut curve = vec![(0.0, 0.0)];
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0.total_cmp(&all[i].0).is_eq() {
            if all[j].1 {
                tp += 1
            } else {
                fp += 1
            }
            j += 1;
        }
        curve.push((fp as f64 / nn, tp as f64 / np));
        i = j;
    }
    curve
}

/// A 95 % interval of [`auroc`] by DeLong's method (DeLong, DeLong & Clarke-Pearson 1988;
/// pROC's default): each sample's placement value — the share of the other group it beats, ties
/// counting half — gives the variance of the AUROC, and the interval is AUROC ± 1.96·SE clipped
/// to [0, 1]. Deterministic and O(n log n), so it costs nothing beside the sweep; NaN bounds
/// where the AUROC is undefined.
pub fn auroc_interval(pos: &[f64], neg: &[f64]) -> (f64, f64) {
    if pos.is_empty() || neg.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let (sp, sn) = (sorted(pos), sorted(neg));
    // The share of `others` below x, ties counting half.
    let placement = |x: f64, others: &[f64]| {
        let below = others.partition_point(|&o| o < x);
        let not_above = others.partition_point(|&o| o <= x);
        (below as f64 + 0.5 * (not_above - below) as f64) / others.len() as f64
    };
    let v10: Vec<f64> = pos.iter().map(|&x| placement(x, &sn)).collect();
    // For a negative: the share of positives above it.
    let v01: Vec<f64> = neg.iter().map(|&y| 1.0 - placement(y, &sp)).collect();
    let a = v10.iter().sum::<f64>() / v10.len() as f64;
    let variance = |v: &[f64]| {
        if v.len() < 2 {
            return 0.0;
        }
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
    };
    let se = (variance(&v10) / v10.len() as f64 + variance(&v01) / v01.len() as f64).sqrt();
    ((a - 1.96 * se).max(0.0), (a + 1.96 * se).min(1.0))
}

/// A sorted copy (total order: NaN last).
/// Both groups' scores in one list, each marked whether it is a positive.
fn labelled(pos: &[f64], neg: &[f64]) -> Vec<(f64, bool)> {
    let pos = pos.iter().map(|&v| (v, true));
    pos.chain(neg.iter().map(|&v| (v, false))).collect()
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// The widest vertical gap between the two empirical CDFs and the threshold where it occurs:
/// samples with CO ≤ threshold lean wrong (when correct samples score higher).
pub fn widest_gap(pos: &[f64], neg: &[f64]) -> (f64, f64) {
    if pos.is_empty() || neg.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let (p, n) = (sorted(pos), sorted(neg));
    let (mut i, mut j) = (0, 0);
    let mut best = (0.0, p[0].min(n[0]));
    // Walk the merged values; after consuming everything ≤ t, compare the two CDFs at t.
    while i < p.len() || j < n.len() {
        let t = match (p.get(i), n.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while i < p.len() && p[i] <= t {
            i += 1;
        }
        while j < n.len() && n[j] <= t {
            j += 1;
        }
        // F_wrong(t) − F_correct(t): how many more wrong than correct lie at or below t.
        let gap = (j as f64 / n.len() as f64 - i as f64 / p.len() as f64).abs();
        if gap > best.0 {
            best = (gap, t);
        }
    }
    best
}

/// Ranks from 1, ties given their average rank (scipy's `rankdata(method="average")`).
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = avg_rank;
        }
        i = j + 1;
    }
    out
}

/// Pearson's correlation; NaN when either side is constant (as scipy) or shorter than 2.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let (ma, mb) = (
        a[..n].iter().sum::<f64>() / n as f64,
        b[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a[..n].iter().zip(&b[..n]) {
        let (da, db) = (x - ma, y - mb);
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if saa == 0.0 || sbb == 0.0 {
        return f64::NAN;
    }
    (sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0)
}

/// Spearman's rank correlation (scipy's `spearmanr`): Pearson's on average ranks. Pairs with a
/// non-finite value are left out; NaN when fewer than two remain or a side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) = a
        .iter()
        .zip(b)
        .filter(|(p, q)| p.is_finite() && q.is_finite())
        .map(|(&p, &q)| (p, q))
        .unzip();
    pearson(&ranks(&x), &ranks(&y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_uses_average_ranks_for_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // scipy.stats.spearmanr([1, 2, 2, 3, 5], [2, 1, 4, 4, 9]).statistic
        let r = spearman(&[1.0, 2.0, 2.0, 3.0, 5.0], &[2.0, 1.0, 4.0, 4.0, 9.0]);
        assert!((r - 0.763_157_894_736_842_1).abs() < 1e-12, "{r}");
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
        assert_eq!(
            spearman(&[1.0, 2.0, f64::NAN, 4.0], &[1.0, 2.0, 9.0, 3.0]),
            1.0
        );
    }

    #[test]
    fn the_roc_curve_encloses_the_auroc() {
        let pos = [0.9, 0.8, 0.8, 0.4, 0.3];
        let neg = [0.8, 0.5, 0.2, 0.1];
        let c = roc_curve(&pos, &neg);
        assert_eq!((c[0], *c.last().unwrap()), ((0.0, 0.0), (1.0, 1.0)));
        let area: f64 = c
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert!(
            (area - auroc(&pos, &neg)).abs() < 1e-12,
            "{area} vs {}",
            auroc(&pos, &neg)
        );
        assert!(roc_curve(&pos, &[]).is_empty());
    }

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
        let (lo, hi) = auroc_interval(&pos, &neg);
        let a = auroc(&pos, &neg);
        assert!(lo <= a && a <= hi && lo < hi, "{lo} {a} {hi}");
        let pos4: Vec<f64> = (0..200).map(|i| (i % 8) as f64 + 0.5).collect();
        let neg4: Vec<f64> = (0..200).map(|i| (i % 8) as f64).collect();
        let (lo4, hi4) = auroc_interval(&pos4, &neg4);
        assert!(hi4 - lo4 < (hi - lo) / 2.0, "{lo4}..{hi4} vs {lo}..{hi}");
        assert!(auroc_interval(&[], &neg).0.is_nan());
        assert_eq!(auroc_interval(&[3.0, 4.0], &[1.0, 2.0]), (1.0, 1.0));
        assert_eq!(auroc_interval(&[1.0, 1.0], &[1.0]), (0.5, 0.5));
    }

    #[test]
    fn delong_variance_by_hand() {
        // Positives 0.9, 0.8, 0.4, 0.35; negatives 0.7, 0.3, 0.2, 0.1: AUROC 14/16.
        // Placements: positives beat 1, 1, 3/4, 3/4 of the negatives (var 1/48); negatives are
        // beaten by 1/2, 1, 1, 1 of the positives (var 1/16); SE² = (1/48 + 1/16)/4 = 1/48.
        let (pos, neg) = ([0.9, 0.8, 0.4, 0.35], [0.7, 0.3, 0.2, 0.1]);
        assert_eq!(auroc(&pos, &neg), 0.875);
        let (lo, hi) = auroc_interval(&pos, &neg);
        let se = (1.0f64 / 48.0).sqrt();
        assert!((lo - (0.875 - 1.96 * se)).abs() < 1e-12, "{lo}");
        assert_eq!(hi, 1.0, "clipped");
    }

    #[test]
    fn widest_gap_finds_the_separating_threshold() {
        let (ks, t) = widest_gap(&[5.0, 6.0, 7.0], &[1.0, 2.0, 3.0]);
        assert_eq!(ks, 1.0);
        assert_eq!(t, 3.0);
    }

    #[test]
    fn quantiles_as_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&v, 0.5), 2.5);
    }
}
