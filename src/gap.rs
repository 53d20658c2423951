//! The paper's main finding, made measurable: do CO scores separate correct from wrong
//! predictions, and better than the trivial baselines?
//!
//! For every method and mode, and for both meanings of "correct" — the original prediction (the
//! paper's main figures, v1) and the prediction after AX (its appendix figures, v2) — this gives
//! the CO distributions of the two groups, the AUROC of CO as a correctness score, the widest
//! gap between the two empirical distributions (Kolmogorov–Smirnov) with its threshold, and the
//! samples on the "wrong" side of that threshold ([`flag_errors`]), the paper's proposed use.
//!
//! Each meaning is judged against baselines read from the same logits it reads correctness
//! from: for "before", the original logits' maximum softmax probability and top-2 margin; for
//! "after", the post-AX logits' (CO is computed from the post-AX logits, so judging it against
//! the original logits' confidence would flatter it). Beside them, the like-for-like baseline
//! that sees the label as CO does: the label's logit margin, which tells correct from wrong
//! perfectly by construction. Every AUROC carries a 95 % stratified-bootstrap interval, and the
//! verdict needs the paired interval of CO's AUROC minus the stronger label-free baseline's to
//! exclude 0, at least [`MIN_GROUP`] samples on each side and more than one predicted class.

use crate::attr::Method;
use crate::ax::{AxRow, AxTable, Mode};
use crate::error::Result;
use crate::stats::{BOOTSTRAP_RESAMPLES, bootstrap_aurocs, percentile_interval};
pub use crate::stats::{Summary, auroc, quantile, summarize, widest_gap};
use serde::Serialize;

/// Which prediction "correct" refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    /// argmax f(x) == label (v1, the paper's main figures).
    Before,
    /// argmax f(x + h) == label (v2, the appendix figures).
    After,
}

impl Meaning {
    /// `"before"` (also `"original"`) or `"after"` (also `"ax"`).
    pub fn parse(s: &str) -> Result<Meaning> {
        match s {
            "before" | "original" => Ok(Meaning::Before),
            "after" | "ax" => Ok(Meaning::After),
            other => Err(crate::error::Error::unknown(
                "meaning of correct",
                other,
                &["before", "after"],
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Meaning::Before => "before",
            Meaning::After => "after",
        }
    }
    pub fn correct(self, r: &AxRow) -> bool {
        match self {
            Meaning::Before => r.correct_before(),
            Meaning::After => r.correct_after(),
        }
    }

    /// The baselines of this meaning's logits: (name, sees the label, value of a row).
    pub fn baselines(self) -> [BaselineKind; 3] {
        match self {
            Meaning::Before => [
                ("max softmax", false, |r| r.msp),
                ("top-2 margin", false, |r| r.margin),
                ("label margin", true, |r| r.label_margin),
            ],
            Meaning::After => [
                ("max softmax after AX", false, |r| r.msp_after),
                ("top-2 margin after AX", false, |r| r.margin_after),
                ("label margin after AX", true, |r| r.label_margin_after),
            ],
        }
    }
}

/// A baseline: its name, whether it sees the label, and how it reads a row.
pub type BaselineKind = (&'static str, bool, fn(&AxRow) -> f64);

/// A baseline score's AUROC for "correct", with its bootstrap interval.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub name: &'static str,
    /// Whether it reads the label (as CO does) or only the logits.
    pub sees_label: bool,
    pub auroc: f64,
    pub ci: (f64, f64),
}

/// Gap statistics of one method × mode × meaning.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    pub method: Method,
    pub mode: Mode,
    pub meaning: Meaning,
    pub correct: Summary,
    pub wrong: Summary,
    /// AUROC of CO as a score for "correct".
    pub auroc: f64,
    /// Its 95 % stratified-bootstrap interval.
    pub auroc_ci: (f64, f64),
    /// AUROC of the maximum softmax probability of this meaning's logits (before AX for
    /// "before", after AX for "after"): the trivial baseline.
    pub msp_auroc: f64,
    /// Every baseline of this meaning: the label-free ones, then the label margin.
    pub baselines: Vec<Baseline>,
    /// The stronger label-free baseline, CO's AUROC minus its AUROC, and the paired 95 %
    /// bootstrap interval of that difference (NaN where undefined).
    pub versus: &'static str,
    pub difference: f64,
    pub difference_ci: (f64, f64),
    /// Kolmogorov–Smirnov distance between the two CO distributions.
    pub ks: f64,
    /// The CO threshold of that widest gap.
    pub threshold: f64,
    /// CO scores that were NaN (all-zero heatmaps in the compatibility mode), left out.
    pub nan: usize,
    /// Why no verdict can be drawn, when one of the groups is too small or the model predicted
    /// one class for every sample (then "correct" only says which class that was).
    pub degenerate: Option<String>,
}

/// Fewer samples than this on either side and the comparison gives no verdict.
pub const MIN_GROUP: usize = 10;

/// What a comparison of CO with the stronger label-free baseline says.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The interval of CO's AUROC minus the baseline's lies above 0; by this much (point
    /// estimates).
    CoBetter(f64),
    /// It lies below 0.
    BaselineBetter(f64),
    /// It holds 0.
    NoClearDifference,
    /// Too little or degenerate data: the reason.
    NoVerdict(String),
}

impl Gap {
    /// The one judgement the text table and the report both print.
    pub fn verdict(&self) -> Verdict {
        if let Some(why) = &self.degenerate {
            return Verdict::NoVerdict(why.clone());
        }
        let Some(d) = self.margin_over_baseline() else {
            return Verdict::NoVerdict("AUROC undefined".into());
        };
        let (lo, hi) = self.difference_ci;
        if lo > 0.0 {
            Verdict::CoBetter(d)
        } else if hi < 0.0 {
            Verdict::BaselineBetter(-d)
        } else {
            Verdict::NoClearDifference
        }
    }

    /// How far CO's AUROC is above the stronger label-free baseline's (negative: below); `None`
    /// where either is undefined.
    pub fn margin_over_baseline(&self) -> Option<f64> {
        self.difference.is_finite().then_some(self.difference)
    }
}

/// Seed of the bootstrap: the same sweep always gives the same intervals.
const BOOTSTRAP_SEED: u64 = 0x5EED;

pub fn gap_stats(table: &AxTable) -> Vec<Gap> {
    let mut cases = Vec::new();
    for meaning in [Meaning::Before, Meaning::After] {
        for &mode in &table.modes {
            for &m in &table.methods {
                // Rows with a finite CO (NaN marks all-zero heatmaps in the compatibility mode);
                // the baselines are read on the same rows, so every comparison is paired.
                let all: Vec<&AxRow> = table.rows_of(m, mode).collect();
                let rows: Vec<&AxRow> = all.iter().copied().filter(|r| r.co.is_finite()).collect();
                let nan = all.len() - rows.len();
                let correct: Vec<bool> = rows.iter().map(|r| meaning.correct(r)).collect();
                let (values, present) = scores_of(&rows, meaning);
                cases.push((m, mode, meaning, rows, nan, correct, values, present));
            }
        }
    }
    // The bootstrap's draws depend only on which samples are correct, so cases that agree on it
    // (every method and mode before AX) share one call: the same intervals, drawn once.
    let mut boots: Vec<Option<Vec<Vec<f64>>>> = vec![None; cases.len()];
    for i in 0..cases.len() {
        if boots[i].is_some() {
            continue;
        }
        let same: Vec<usize> = (i..cases.len())
            .filter(|&j| boots[j].is_none() && cases[j].5 == cases[i].5)
            .collect();
        let cases_ref = &cases;
        let refs: Vec<&[f64]> = same
            .iter()
            .flat_map(|&j| {
                let (values, present) = (&cases_ref[j].6, &cases_ref[j].7);
                present.iter().map(move |&k| values[k].as_slice())
            })
            .collect();
        let mut all =
            bootstrap_aurocs(&refs, &cases[i].5, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).into_iter();
        for &j in &same {
            boots[j] = Some(all.by_ref().take(cases[j].7.len()).collect());
        }
    }
    cases
        .iter()
        .zip(boots)
        .map(
            |((m, mode, meaning, rows, nan, correct, _, present), boot)| {
                gap_of(
                    *m,
                    *mode,
                    *meaning,
                    rows,
                    *nan,
                    correct,
                    present,
                    &boot.unwrap_or_default(),
                )
            },
        )
        .collect()
}

/// CO then each baseline of `meaning`, per row; and which of them are present (a baseline
/// missing from an older CSV, NaN, is left out of the bootstrap).
fn scores_of(rows: &[&AxRow], meaning: Meaning) -> (Vec<Vec<f64>>, Vec<usize>) {
    let values: Vec<Vec<f64>> = std::iter::once(rows.iter().map(|r| r.co).collect())
        .chain(
            meaning
                .baselines()
                .iter()
                .map(|(_, _, f)| rows.iter().map(|r| f(r)).collect()),
        )
        .collect();
    let present: Vec<usize> = (0..values.len())
        .filter(|&k| values[k].iter().all(|v| v.is_finite()))
        .collect();
    (values, present)
}

/// One gap from its rows and the bootstrap AUROCs of its present scores (`boot[i]` for
/// `present[i]`).
#[allow(clippy::too_many_arguments)]
fn gap_of(
    method: Method,
    mode: Mode,
    meaning: Meaning,
    rows: &[&AxRow],
    nan: usize,
    correct: &[bool],
    present: &[usize],
    boot: &[Vec<f64>],
) -> Gap {
    let split = |f: &dyn Fn(&AxRow) -> f64| -> (Vec<f64>, Vec<f64>) {
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        for (r, &ok) in rows.iter().zip(correct) {
            if ok { pos.push(f(r)) } else { neg.push(f(r)) }
        }
        (pos, neg)
    };
    let (pos, neg) = split(&|r| r.co);
    let (ks, threshold) = widest_gap(&pos, &neg);
    let kinds = meaning.baselines();
    let boot_of = |k: usize| present.iter().position(|&p| p == k).map(|i| &boot[i]);
    let interval = |k: usize| {
        boot_of(k)
            .filter(|b| !b.is_empty())
            .map_or((f64::NAN, f64::NAN), |b| percentile_interval(b))
    };
    let auroc_of = |k: usize| {
        if present.contains(&k) {
            let (p, n) = split(&|r| if k == 0 { r.co } else { kinds[k - 1].2(r) });
            auroc(&p, &n)
        } else {
            f64::NAN
        }
    };
    let baselines: Vec<Baseline> = kinds
        .iter()
        .enumerate()
        .map(|(i, (name, sees_label, _))| Baseline {
            name,
            sees_label: *sees_label,
            auroc: auroc_of(i + 1),
            ci: interval(i + 1),
        })
        .collect();
    // The stronger of the label-free baselines, and CO's paired difference from it.
    let strongest = (0..baselines.len())
        .filter(|&i| !baselines[i].sees_label && baselines[i].auroc.is_finite())
        .max_by(|&a, &b| baselines[a].auroc.total_cmp(&baselines[b].auroc));
    let auroc_co = auroc_of(0);
    let (versus, difference, difference_ci) = match (strongest, boot_of(0)) {
        (Some(i), Some(co)) if !co.is_empty() => {
            let base = boot_of(i + 1).expect("a present baseline was resampled");
            let diffs: Vec<f64> = co.iter().zip(base).map(|(a, b)| a - b).collect();
            (
                baselines[i].name,
                auroc_co - baselines[i].auroc,
                percentile_interval(&diffs),
            )
        }
        (Some(i), _) => (baselines[i].name, f64::NAN, (f64::NAN, f64::NAN)),
        _ => ("", f64::NAN, (f64::NAN, f64::NAN)),
    };
    let predicted = |r: &AxRow| match meaning {
        Meaning::Before => r.pred_before,
        Meaning::After => r.pred_after,
    };
    let one_class = rows.len() > 1 && rows.iter().all(|r| predicted(r) == predicted(rows[0]));
    let degenerate = if one_class {
        Some(format!(
            "every sample predicted as class {}",
            predicted(rows[0])
        ))
    } else if pos.len() < MIN_GROUP || neg.len() < MIN_GROUP {
        Some(format!(
            "{} correct and {} wrong; fewer than {MIN_GROUP} on a side",
            pos.len(),
            neg.len()
        ))
    } else {
        None
    };
    Gap {
        method,
        mode,
        meaning,
        correct: summarize(&pos),
        wrong: summarize(&neg),
        auroc: auroc_co,
        auroc_ci: interval(0),
        msp_auroc: baselines[0].auroc,
        baselines,
        versus,
        difference,
        difference_ci,
        ks,
        threshold,
        nan,
        degenerate,
    }
}

/// A verdict as a sentence: against which baseline, by how much, with the paired interval.
pub fn verdict_text(g: &Gap) -> String {
    let (lo, hi) = g.difference_ci;
    match g.verdict() {
        Verdict::CoBetter(d) => {
            format!("CO better than {} by {d:.3} [{lo:+.3}, {hi:+.3}]", g.versus)
        }
        Verdict::BaselineBetter(d) => {
            format!("{} better by {d:.3} [{lo:+.3}, {hi:+.3}]", g.versus)
        }
        Verdict::NoClearDifference => format!(
            "no clear difference from {} ({:+.3} [{lo:+.3}, {hi:+.3}])",
            g.versus, g.difference
        ),
        Verdict::NoVerdict(why) => format!("no verdict: {why}"),
    }
}

/// The gap statistics as a plain table: CO's AUROC with its interval, each baseline of the same
/// meaning beside it, and the verdict.
pub fn gap_text(gaps: &[Gap]) -> String {
    let mut s = String::from(
        "CO as a correctness indicator (AUROC > 0.5: correct predictions score higher; 95 % bootstrap intervals; baselines read from the same logits as \"correct\"; the label margin sees the label, as CO does, and is 1 by construction)\n",
    );
    s.push_str(&format!(
        "{:<8} {:<5} {:<16} {:>6} {:>7} {:>9} {:>9} {:>7} {:>13} {:>6} {:>7} {:>7} {:>7}  {}\n",
        "correct",
        "mode",
        "method",
        "n_ok",
        "n_wrong",
        "median_ok",
        "median_wr",
        "AUROC",
        "95% CI",
        "KS",
        "MSP",
        "margin",
        "label_m",
        "vs the stronger label-free baseline"
    ));
    for g in gaps {
        let b = |i: usize| g.baselines.get(i).map_or(f64::NAN, |b| b.auroc);
        s.push_str(&format!(
            "{:<8} {:<5} {:<16} {:>6} {:>7} {:>9.4} {:>9.4} {:>7.4} {:>13} {:>6.3} {:>7.4} {:>7.4} {:>7.4}  {}\n",
            g.meaning.name(),
            g.mode.name(),
            g.method,
            g.correct.n,
            g.wrong.n,
            g.correct.median,
            g.wrong.median,
            g.auroc,
            format!("{:.3}–{:.3}", g.auroc_ci.0, g.auroc_ci.1),
            g.ks,
            b(0),
            b(1),
            b(2),
            verdict_text(g)
        ));
    }
    s.trim_end().to_string()
}

crate::options! {
    /// The options of `flag_errors`.
    pub struct FlagOptions {
        "mode" => mode: Mode = Mode::Sum; Text, "\"sum\"", "the sweep's mode: sum or mult", |v| Mode::parse(&v.text()?)?;
        "correct" => meaning: Meaning = Meaning::After; Text, "\"after\"", "what counts as correct: the prediction after AX (the v2 code's flags) or before", |v| Meaning::parse(&v.text()?)?;
    }
}

/// The samples whose CO falls on the "wrong" side of the widest-gap threshold for one method:
/// candidates for prediction or label errors.
pub fn flag_errors(table: &AxTable, method: &str, opts: &FlagOptions) -> Result<Vec<AxRow>> {
    let method = table.method_named(method)?;
    Ok(flagged(table, method, opts.mode, opts.meaning))
}

fn flagged(table: &AxTable, method: Method, mode: Mode, meaning: Meaning) -> Vec<AxRow> {
    // The widest gap of this one method, mode and meaning (the rest of its gap statistics,
    // bootstrap intervals included, are not needed here).
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for r in table.rows_of(method, mode).filter(|r| r.co.is_finite()) {
        if meaning.correct(r) {
            pos.push(r.co)
        } else {
            neg.push(r.co)
        }
    }
    let (_, threshold) = widest_gap(&pos, &neg);
    if !threshold.is_finite() {
        return vec![];
    }
    // Which side is "wrong": the side where the wrong group's CDF runs ahead.
    let wrong_low = summarize(&neg).median <= summarize(&pos).median;
    table
        .rows_of(method, mode)
        .filter(|r| {
            r.co.is_finite()
                && if wrong_low {
                    r.co <= threshold
                } else {
                    r.co > threshold
                }
        })
        .cloned()
        .collect()
}
