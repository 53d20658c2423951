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

/// Resamples of the stratified bootstrap behind every AUROC interval gaxsh prints.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// The stratified bootstrap of the AUROCs of several scores of the same samples: each resample
/// draws the positives and the negatives with replacement, each group keeping its size, and
/// the same draw serves every score, so the difference of two scores' AUROCs is paired. Returns
/// each score's AUROC per resample (empty when a group is empty). Seeded: the same data give the
/// same intervals. A weighted Mann–Whitney count over each score's sorted order makes a resample
/// O(n).
pub fn bootstrap_aurocs(
    scores: &[&[f64]],
    positive: &[bool],
    resamples: usize,
    seed: u64,
) -> Vec<Vec<f64>> {
    let pos: Vec<usize> = (0..positive.len()).filter(|&i| positive[i]).collect();
    let neg: Vec<usize> = (0..positive.len()).filter(|&i| !positive[i]).collect();
    if pos.is_empty() || neg.is_empty() {
        return vec![Vec::new(); scores.len()];
    }
    // Each score's samples in increasing order as one flat list, with where each run of equal
    // values ends (flat, so a resample is one pass over contiguous memory).
    let sorted: Vec<(Vec<u32>, Vec<u32>)> = scores
        .iter()
        .map(|s| {
            let mut order: Vec<u32> = (0..positive.len() as u32).collect();
            order.sort_by(|&a, &b| s[a as usize].total_cmp(&s[b as usize]));
            let mut ends = Vec::new();
            for k in 1..=order.len() {
                if k == order.len() || s[order[k] as usize] != s[order[k - 1] as usize] {
                    ends.push(k as u32);
                }
            }
            (order, ends)
        })
        .collect();
    let pairs = (pos.len() * neg.len()) as f64;
    let mut out = vec![Vec::with_capacity(resamples); scores.len()];
    crate::tensor::random::isolated(seed, || {
        // Each sample's count in LANES resamples at once, negative for the negatives (one
        // lookup gives both): the passes below then run LANES independent sums side by side
        // instead of one long chain of dependent additions. The draws come in the same order
        // as one resample at a time.
        let mut weight = vec![[0f64; LANES]; positive.len()];
        for block in (0..resamples).step_by(LANES) {
            let lanes = LANES.min(resamples - block);
            weight.iter_mut().for_each(|w| *w = [0.0; LANES]);
            crate::tensor::random::with_rng(|r| {
                use rand::Rng;
                // Lane by lane, as one resample at a time would draw.
                #[allow(clippy::needless_range_loop)]
                for lane in 0..lanes {
                    for (group, unit) in [(&pos, 1.0), (&neg, -1.0)] {
                        for _ in 0..group.len() {
                            weight[group[r.random_range(0..group.len())]][lane] += unit;
                        }
                    }
                }
            });
            for (k, (order, ends)) in sorted.iter().enumerate() {
                let wins = weighted_wins(order, ends, &weight);
                out[k].extend(wins[..lanes].iter().map(|&w| w / (2.0 * pairs)));
            }
        }
    });
    out
}

/// Resamples weighed side by side in [`bootstrap_aurocs`].
const LANES: usize = 8;

crate::avx2_dispatch!(
    /// Twice the weighted Mann–Whitney count per lane: over runs of equal scores in increasing
    /// order, each positive wins against the negatives below it and ties with half of its run's.
    /// In f64, exact (the counts stay far below 2⁵³) and vectorised.
    fn weighted_wins(order: &[u32], ends: &[u32], weight: &[[f64; LANES]]) -> [f64; LANES]
        => weighted_wins_loops
);

#[inline(always)]
fn weighted_wins_loops(order: &[u32], ends: &[u32], weight: &[[f64; LANES]]) -> [f64; LANES] {
    let (mut below, mut wins) = ([0f64; LANES], [0f64; LANES]);
    let mut start = 0;
    for &end in ends {
        let (mut p, mut n) = ([0f64; LANES], [0f64; LANES]);
        // Branch-free: which group a sample is in is a coin toss for the predictor.
        for &i in &order[start..end as usize] {
            let w = &weight[i as usize];
            for l in 0..LANES {
                p[l] += w[l].max(0.0);
                n[l] += (-w[l]).max(0.0);
            }
        }
        for l in 0..LANES {
            wins[l] += p[l] * (2.0 * below[l] + n[l]);
            below[l] += n[l];
        }
        start = end as usize;
    }
    wins
}

/// The central 95 % of bootstrap values (numpy's linear percentiles); NaN bounds for none.
pub fn percentile_interval(values: &[f64]) -> (f64, f64) {
    let v = sorted(values);
    (quantile(&v, 0.025), quantile(&v, 0.975))
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
        let r = spearman(&[1.0, 2.0, f64::NAN, 4.0], &[1.0, 2.0, 9.0, 3.0]);
        assert!((r - 1.0).abs() < 1e-12, "the NaN pair left out: {r}");
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
    fn bootstrap_aurocs_centre_on_the_estimate_narrow_with_data_and_pair_the_scores() {
        let labels = |n: usize| -> Vec<bool> { (0..n).map(|i| i % 2 == 0).collect() };
        // Score: i/2 plus 0.5 for positives, so positives edge above their neighbours.
        let score = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| (i / 2) as f64 / 8.0 % 1.0 + if i % 2 == 0 { 0.06 } else { 0.0 })
                .collect()
        };
        let (s16, l16) = (score(16), labels(16));
        let (pos, neg): (Vec<f64>, Vec<f64>) = (
            s16.iter()
                .zip(&l16)
                .filter(|p| *p.1)
                .map(|p| *p.0)
                .collect(),
            s16.iter()
                .zip(&l16)
                .filter(|p| !*p.1)
                .map(|p| *p.0)
                .collect(),
        );
        let point = auroc(&pos, &neg);
        let boot = bootstrap_aurocs(&[&s16, &s16], &l16, 2000, 7);
        let (lo, hi) = percentile_interval(&boot[0]);
        assert!(lo < point && point < hi, "{lo} {point} {hi}");
        let mean = boot[0].iter().sum::<f64>() / 2000.0;
        assert!((mean - point).abs() < 0.03, "{mean} vs {point}");
        // The same draw for both scores: identical scores differ by exactly 0 in every resample.
        assert!(boot[0].iter().zip(&boot[1]).all(|(a, b)| a == b));
        let (s400, l400) = (score(400), labels(400));
        let wide = bootstrap_aurocs(&[&s400], &l400, 2000, 7);
        let (lo4, hi4) = percentile_interval(&wide[0]);
        assert!(hi4 - lo4 < (hi - lo) / 2.0, "{lo4}..{hi4} vs {lo}..{hi}");
        // Seeded, and nothing to resample without both groups.
        assert_eq!(
            bootstrap_aurocs(&[&s16], &l16, 50, 7),
            bootstrap_aurocs(&[&s16], &l16, 50, 7)
        );
        assert!(bootstrap_aurocs(&[&s16], &[true; 16], 50, 7)[0].is_empty());
        // Perfect separation stays perfect in every resample.
        let sep: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let top: Vec<bool> = (0..10).map(|i| i >= 5).collect();
        assert!(
            bootstrap_aurocs(&[&sep], &top, 100, 1)[0]
                .iter()
                .all(|&a| a == 1.0)
        );
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
