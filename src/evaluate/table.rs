//! The panel's result: per method, metric and sample a score, the flipping curves and the
//! randomisation stages; the metrics' agreement; text and CSV.

use super::{Cascade, EvalOptions, Metric, finite_mean};
use crate::data::Dataset;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Clone, Debug)]
pub struct MetricTable {
    pub methods: Vec<String>,
    pub metrics: Vec<Metric>,
    pub ids: Vec<String>,
    pub labels: Vec<usize>,
    pub preds: Vec<usize>,
    /// The class each heatmap explains and the flipping curves follow.
    pub targets: Vec<usize>,
    /// scores[method][metric] holds one value per sample (in `metrics`' order).
    pub scores: Vec<Vec<Vec<f64>>>,
    /// Units per sample (features, pixels or patches) and the fraction flipped at each point
    /// of a curve.
    pub units: usize,
    pub fractions: Vec<f64>,
    /// Per method, per sample: the target's probability along deletion and insertion.
    pub deletion: Vec<Vec<Vec<f64>>>,
    pub insertion: Vec<Vec<Vec<f64>>>,
    /// The layers randomised, top first, and per method, stage and sample the similarity.
    pub stages: Vec<String>,
    pub stage_similarity: Vec<Vec<Vec<f64>>>,
    pub options: EvalOptions,
    /// Where the data came from (for the report).
    pub data: String,
    /// What the panel left out or changed, one sentence each.
    pub notes: Vec<String>,
    pub seconds: f64,
}

/// Numbers by row and column name, as scripts and YAML read a table: `grid[row][column]`.
pub type Grid = BTreeMap<String, BTreeMap<String, f64>>;

fn grid<R: AsRef<str>, C: AsRef<str>>(rows: &[R], columns: &[C], values: Vec<Vec<f64>>) -> Grid {
    let row = |vals: Vec<f64>| {
        columns
            .iter()
            .map(|c| c.as_ref().to_string())
            .zip(vals)
            .collect()
    };
    rows.iter()
        .map(|r| r.as_ref().to_string())
        .zip(values.into_iter().map(row))
        .collect()
}

impl MetricTable {
    pub(super) fn new(
        opts: &EvalOptions,
        ds: &Dataset,
        units: usize,
        fractions: Vec<f64>,
        cascade: Option<&Cascade>,
    ) -> MetricTable {
        let m = opts.methods.len();
        let stages: Vec<String> = cascade
            .map(|c| c.stages.iter().map(|s| s.0.clone()).collect())
            .unwrap_or_default();
        MetricTable {
            methods: opts.methods.iter().map(|m| m.name().to_string()).collect(),
            metrics: opts.metrics.clone(),
            ids: ds.ids.clone(),
            labels: ds.y.clone(),
            preds: Vec::with_capacity(ds.len()),
            targets: Vec::with_capacity(ds.len()),
            scores: vec![vec![Vec::with_capacity(ds.len()); opts.metrics.len()]; m],
            units,
            fractions,
            deletion: vec![Vec::new(); m],
            insertion: vec![Vec::new(); m],
            stage_similarity: vec![vec![Vec::new(); stages.len()]; m],
            stages,
            options: opts.clone(),
            data: ds.provenance.source.clone(),
            notes: Vec::new(),
            seconds: 0.0,
        }
    }

    pub(super) fn push_samples(&mut self, preds: &[usize], targets: &[usize]) {
        self.preds.extend_from_slice(preds);
        self.targets.extend_from_slice(targets);
    }

    pub(super) fn push_scores(&mut self, method: usize, metric: Metric, scores: Vec<f64>) {
        let k = self.metric_index(metric).expect("a metric of the panel");
        self.scores[method][k].extend(scores);
    }

    pub(super) fn push_curves(&mut self, method: usize, insertion: bool, curves: Vec<Vec<f64>>) {
        let to = if insertion {
            &mut self.insertion
        } else {
            &mut self.deletion
        };
        to[method].extend(curves);
    }

    pub(super) fn push_stages(&mut self, method: usize, stages: Vec<Vec<f64>>) {
        for (to, s) in self.stage_similarity[method].iter_mut().zip(stages) {
            to.extend(s);
        }
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    fn metric_index(&self, metric: Metric) -> Option<usize> {
        self.metrics.iter().position(|&m| m == metric)
    }

    fn method_index(&self, method: &str) -> Result<usize> {
        self.methods
            .iter()
            .position(|m| m.eq_ignore_ascii_case(method))
            .ok_or_else(|| {
                let valid: Vec<&str> = self.methods.iter().map(String::as_str).collect();
                Error::unknown("method of this table", method, &valid)
            })
    }

    /// One method's scores under one metric, per sample.
    pub fn scores_of(&self, method: &str, metric: &str) -> Result<&[f64]> {
        let mi = self.method_index(method)?;
        let metric = Metric::parse(metric)?;
        let k = self.metric_index(metric).ok_or_else(|| {
            let valid: Vec<&str> = self.metrics.iter().map(|m| m.name()).collect();
            Error::unknown("metric of this table", metric.name(), &valid)
        })?;
        Ok(&self.scores[mi][k])
    }

    /// Mean over samples (finite values) per method and metric.
    pub fn means(&self) -> Vec<Vec<f64>> {
        self.scores
            .iter()
            .map(|per_metric| per_metric.iter().map(|v| finite_mean(v)).collect())
            .collect()
    }

    /// The mean curve of a method over samples (deletion or insertion).
    pub fn mean_curve(&self, method: &str, insertion: bool) -> Result<Vec<f64>> {
        let mi = self.method_index(method)?;
        let curves = if insertion {
            &self.insertion[mi]
        } else {
            &self.deletion[mi]
        };
        if curves.is_empty() {
            return Err(Error::invalid(format!(
                "this table has no {} curves (metrics: {})",
                if insertion { "insertion" } else { "deletion" },
                self.metric_names().join(", ")
            )));
        }
        Ok((0..self.fractions.len())
            .map(|p| curves.iter().map(|c| c[p]).sum::<f64>() / curves.len() as f64)
            .collect())
    }

    /// [`MetricTable::means`] by name: `means[method][metric]`.
    pub fn means_by_name(&self) -> Grid {
        grid(&self.methods, &self.metric_names(), self.means())
    }

    /// [`MetricTable::method_agreement`] by name: `agreement[metric][metric]`.
    pub fn agreement_by_name(&self) -> Grid {
        let names = self.metric_names();
        grid(&names, &names, self.method_agreement())
    }

    pub fn metric_names(&self) -> Vec<&'static str> {
        self.metrics.iter().map(|m| m.name()).collect()
    }

    /// How alike two metrics order the methods: Spearman's correlation over the methods of their
    /// means, each read so that higher is better (+1: the same ranking of methods). One row per
    /// metric, one column per metric; NaN with fewer than three methods.
    pub fn method_agreement(&self) -> Vec<Vec<f64>> {
        let means = self.means();
        let oriented: Vec<Vec<f64>> = self
            .metrics
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let sign = if m.higher_is_better() { 1.0 } else { -1.0 };
                means.iter().map(|per| sign * per[k]).collect()
            })
            .collect();
        oriented
            .iter()
            .map(|a| {
                oriented
                    .iter()
                    .map(|b| {
                        if a.len() < 3 {
                            f64::NAN
                        } else {
                            crate::stats::spearman(a, b)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Per method, Spearman's correlation over samples of two metrics' raw scores.
    pub fn sample_agreement(&self, a: &str, b: &str) -> Result<Vec<f64>> {
        self.methods
            .iter()
            .map(|m| {
                Ok(crate::stats::spearman(
                    self.scores_of(m, a)?,
                    self.scores_of(m, b)?,
                ))
            })
            .collect()
    }

    /// [`Self::sample_agreement`] keyed by method name (as scripts read it).
    pub fn sample_agreement_by_method(&self, a: &str, b: &str) -> Result<BTreeMap<String, f64>> {
        Ok(self
            .methods
            .iter()
            .cloned()
            .zip(self.sample_agreement(a, b)?)
            .collect())
    }

    /// The table as text: means per method (arrows say which way is better), then how the
    /// metrics agree.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Explanation metrics: {} samples × {} methods in {:.1} s (flipping: {} steps over {} units, baseline {}; {} perturbations; seed {})",
            self.len(),
            self.methods.len(),
            self.seconds,
            self.fractions.len().saturating_sub(1),
            self.units,
            self.options.baseline,
            self.options.perturbations,
            self.options.seed,
        );
        let width = self
            .methods
            .iter()
            .map(|m| m.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let heads: Vec<String> = self
            .metrics
            .iter()
            .map(|m| {
                format!(
                    "{} {}",
                    m.name(),
                    if m.higher_is_better() { "↑" } else { "↓" }
                )
            })
            .collect();
        let _ = write!(s, "{:width$}", "method");
        for h in &heads {
            let _ = write!(s, "  {h:>w$}", w = h.chars().count().max(8));
        }
        s.push('\n');
        for (mi, row) in self.means().iter().enumerate() {
            let _ = write!(s, "{:width$}", self.methods[mi]);
            for (v, h) in row.iter().zip(&heads) {
                let _ = write!(s, "  {:>w$}", number(*v), w = h.chars().count().max(8));
            }
            s.push('\n');
        }
        if self.methods.len() >= 3 && self.metrics.len() >= 2 {
            s.push_str("\nDo the metrics rank the methods alike? Spearman over methods, each metric read as higher = better:\n");
            let agree = self.method_agreement();
            let w = self
                .metrics
                .iter()
                .map(|m| m.name().len())
                .max()
                .unwrap_or(8);
            let _ = write!(s, "{:w$}", "");
            for m in &self.metrics {
                let _ = write!(s, "  {:>7}", short(m.name()));
            }
            s.push('\n');
            for (k, row) in agree.iter().enumerate() {
                let _ = write!(s, "{:w$}", self.metrics[k].name());
                for v in row {
                    let _ = write!(s, "  {:>7}", number(*v));
                }
                s.push('\n');
            }
        }
        for other in [Metric::Deletion, Metric::Insertion] {
            if self.metric_index(Metric::CoSum).is_some()
                && self.metric_index(other).is_some()
                && let Ok(r) = self.sample_agreement("co_sum", other.name())
            {
                let parts: Vec<String> = self
                    .methods
                    .iter()
                    .zip(&r)
                    .map(|(m, v)| format!("{m} {}", number(*v)))
                    .collect();
                let _ = writeln!(
                    s,
                    "Per sample, CO (x + h) against {} AUC (Spearman): {}",
                    other.name(),
                    parts.join(", ")
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "Note: {n}");
        }
        s
    }

    /// Every score, one row per method and sample: method, index, id, label, pred, target,
    /// then one column per metric. Written whole or not at all.
    pub fn save_csv(&self, path: &Path) -> Result<()> {
        let mut out = String::from("method,index,id,label,pred,target");
        for m in &self.metrics {
            out.push(',');
            out.push_str(m.name());
        }
        out.push('\n');
        for (mi, method) in self.methods.iter().enumerate() {
            for i in 0..self.len() {
                let id = self
                    .ids
                    .get(i)
                    .map_or(String::new(), |s| crate::io::csv_field(s));
                let _ = write!(
                    out,
                    "{method},{i},{id},{},{},{}",
                    self.labels[i], self.preds[i], self.targets[i]
                );
                for k in 0..self.metrics.len() {
                    let _ = write!(out, ",{}", self.scores[mi][k][i]);
                }
                out.push('\n');
            }
        }
        crate::io::write_atomic(path, out.as_bytes())
    }
}

impl std::fmt::Display for MetricTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

fn short(name: &str) -> String {
    name.chars().take(7).collect()
}

/// A metric value as tables show it: three decimals, or two significant digits in scientific
/// notation for very large or small values, "–" for NaN.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-3) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}
