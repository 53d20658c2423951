//! The paper's main finding, made measurable: do CO scores separate correct from wrong
//! predictions, and better than the trivial baseline (the maximum softmax probability)?
//!
//! For every method and mode, and for both meanings of "correct" — the original prediction (the
//! paper's main figures, v1) and the prediction after AX (its appendix figures, v2) — this gives
//! the CO distributions of the two groups, the AUROC of CO as a correctness score, the widest
//! gap between the two empirical distributions (Kolmogorov–Smirnov) with its threshold, and the
//! samples on the "wrong" side of that threshold ([`flag_errors`]), the paper's proposed use.

use crate::ax::{AxRow, AxTable, Mode};
use crate::error::Result;
pub use crate::stats::{Summary, auroc, auroc_interval, quantile, summarize, widest_gap};
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
}

/// Gap statistics of one method × mode × meaning.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    pub method: String,
    pub mode: Mode,
    pub meaning: Meaning,
    pub correct: Summary,
    pub wrong: Summary,
    /// AUROC of CO as a score for "correct".
    pub auroc: f64,
    /// Its 95 % interval (DeLong's method, `stats::auroc_interval`).
    pub auroc_ci: (f64, f64),
    /// AUROC of the maximum softmax probability (before AX), the trivial baseline.
    pub msp_auroc: f64,
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

/// What a comparison of CO with the baseline says.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// CO's whole interval lies above the baseline's AUROC, by this much (point estimates).
    CoBetter(f64),
    /// CO's whole interval lies below it.
    BaselineBetter(f64),
    /// The baseline's AUROC lies inside CO's interval.
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
        let (lo, hi) = self.auroc_ci;
        if lo > self.msp_auroc {
            Verdict::CoBetter(d)
        } else if hi < self.msp_auroc {
            Verdict::BaselineBetter(-d)
        } else {
            Verdict::NoClearDifference
        }
    }

    /// How far CO's AUROC is above the max-softmax baseline's (negative: below); `None` where
    /// either is undefined.
    pub fn margin_over_baseline(&self) -> Option<f64> {
        (self.auroc.is_finite() && self.msp_auroc.is_finite())
            .then_some(self.auroc - self.msp_auroc)
    }
}

pub fn gap_stats(table: &AxTable) -> Vec<Gap> {
    let mut out = Vec::new();
    for meaning in [Meaning::Before, Meaning::After] {
        for &mode in &table.modes {
            for m in &table.methods {
                let rows: Vec<&AxRow> = table.rows_of(m, mode).collect();
                let finite = |r: &&&AxRow| r.co.is_finite();
                let pos: Vec<f64> = rows
                    .iter()
                    .filter(finite)
                    .filter(|r| meaning.correct(r))
                    .map(|r| r.co)
                    .collect();
                let neg: Vec<f64> = rows
                    .iter()
                    .filter(finite)
                    .filter(|r| !meaning.correct(r))
                    .map(|r| r.co)
                    .collect();
                let msp_pos: Vec<f64> = rows
                    .iter()
                    .filter(|r| meaning.correct(r))
                    .map(|r| r.msp)
                    .collect();
                let msp_neg: Vec<f64> = rows
                    .iter()
                    .filter(|r| !meaning.correct(r))
                    .map(|r| r.msp)
                    .collect();
                let (ks, threshold) = widest_gap(&pos, &neg);
                let predicted = |r: &&AxRow| match meaning {
                    Meaning::Before => r.pred_before,
                    Meaning::After => r.pred_after,
                };
                let one_class =
                    rows.len() > 1 && rows.iter().all(|r| predicted(r) == predicted(&rows[0]));
                let degenerate = if one_class {
                    Some(format!(
                        "every sample predicted as class {}",
                        predicted(&rows[0])
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
                out.push(Gap {
                    method: m.clone(),
                    mode,
                    meaning,
                    correct: summarize(&pos),
                    wrong: summarize(&neg),
                    auroc: auroc(&pos, &neg),
                    auroc_ci: auroc_interval(&pos, &neg),
                    msp_auroc: auroc(&msp_pos, &msp_neg),
                    ks,
                    threshold,
                    nan: rows.iter().filter(|r| !r.co.is_finite()).count(),
                    degenerate,
                });
            }
        }
    }
    out
}

/// The gap statistics as a plain table, with the baseline beside each line and a verdict.
pub fn gap_text(gaps: &[Gap]) -> String {
    let mut s = String::from(
        "CO as a correctness indicator (AUROC > 0.5: correct predictions score higher)\n",
    );
    s.push_str(&format!(
        "{:<8} {:<5} {:<16} {:>7} {:>7} {:>10} {:>10} {:>7} {:>15} {:>7} {:>9}  {}\n",
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
        "MSP AUROC",
        "vs baseline"
    ));
    for g in gaps {
        let verdict = match g.verdict() {
            Verdict::CoBetter(d) => format!("CO better by {d:.3}"),
            Verdict::BaselineBetter(d) => format!("MSP better by {d:.3}"),
            Verdict::NoClearDifference => "no clear difference (MSP inside CO's CI)".to_string(),
            Verdict::NoVerdict(why) => format!("no verdict: {why}"),
        };
        s.push_str(&format!(
            "{:<8} {:<5} {:<16} {:>7} {:>7} {:>10.4} {:>10.4} {:>7.4} {:>15} {:>7.4} {:>9.4}  {}\n",
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
            g.msp_auroc,
            verdict
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
    table.check_method(method)?;
    Ok(flagged(table, method, opts.mode, opts.meaning))
}

fn flagged(table: &AxTable, method: &str, mode: Mode, meaning: Meaning) -> Vec<AxRow> {
    let Some(g) = gap_stats(table)
        .into_iter()
        .find(|g| g.method == method && g.mode == mode && g.meaning == meaning)
    else {
        return vec![];
    };
    if !g.threshold.is_finite() {
        return vec![];
    }
    // Which side is "wrong": the side where the wrong group's CDF runs ahead.
    let wrong_low = g.wrong.median <= g.correct.median;
    table
        .rows_of(method, mode)
        .filter(|r| {
            r.co.is_finite()
                && if wrong_low {
                    r.co <= g.threshold
                } else {
                    r.co > g.threshold
                }
        })
        .cloned()
        .collect()
}
