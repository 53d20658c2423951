//! Classification metrics: accuracy, per-class precision / recall / F1, confusion matrix.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    pub per_class: Vec<ClassMetrics>,
}

/// Precision/recall are 0 for a class never predicted / never present (sklearn's zero_division=0).
pub fn evaluate(y: &[usize], pred: &[usize], classes: &[String]) -> Metrics {
    let k = classes.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&t, &p) in y.iter().zip(pred) {
        if t < k && p < k {
            confusion[t][p] += 1;
        }
    }
    let correct = (0..k).map(|i| confusion[i][i]).sum();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_class = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let predicted: usize = (0..k).map(|t| confusion[t][c]).sum();
            let support: usize = confusion[c].iter().sum();
            let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassMetrics {
                class: classes[c].clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    Metrics {
        n: y.len(),
        correct,
        accuracy: ratio(correct, y.len()),
        confusion,
        per_class,
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "accuracy {:.4} ({}/{})",
            self.accuracy, self.correct, self.n
        )?;
        let w = self
            .per_class
            .iter()
            .map(|c| c.class.len())
            .max()
            .unwrap_or(5)
            .max(5);
        // Many classes (ImageNet's 1,000): the ten with the lowest F1, not a thousand rows.
        let mut shown: Vec<&ClassMetrics> = self.per_class.iter().collect();
        if shown.len() > WHOLE_MATRIX {
            // Classes absent from the data (F1 0 by definition) say nothing about the model.
            shown.retain(|c| c.support > 0);
            shown.sort_by(|a, b| a.f1.total_cmp(&b.f1).then(b.support.cmp(&a.support)));
            shown.truncate(10);
            writeln!(
                f,
                "the {} classes with the lowest F1 of {}:",
                shown.len(),
                self.per_class.len()
            )?;
        }
        writeln!(f, "{:<w$}  precision  recall  f1      support", "class")?;
        for c in shown {
            writeln!(
                f,
                "{:<w$}  {:<9.4}  {:<6.4}  {:<6.4}  {}",
                c.class, c.precision, c.recall, c.f1, c.support
            )?;
        }
        self.write_confusion(f)
    }
}

/// Up to this many classes the confusion matrix is printed whole; beyond, its largest cells.
const WHOLE_MATRIX: usize = 16;

impl Metrics {
    /// The confusion matrix labelled by class (rows: true, columns: predicted), or for many
    /// classes (ImageNet's 1,000) the ten most frequent confusions.
    fn write_confusion(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.per_class.iter().map(|c| c.class.as_str()).collect();
        if names.len() > WHOLE_MATRIX {
            let mut cells: Vec<(usize, usize, usize)> = self
                .confusion
                .iter()
                .enumerate()
                .flat_map(|(t, row)| row.iter().enumerate().map(move |(p, &c)| (t, p, c)))
                .filter(|&(t, p, c)| t != p && c > 0)
                .collect();
            cells.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
            write!(f, "most frequent confusions (true → predicted):")?;
            for (t, p, c) in cells.into_iter().take(10) {
                write!(f, "\n  {} → {}: {c}", names[t], names[p])?;
            }
            return Ok(());
        }
        let short: Vec<String> = names.iter().map(|n| n.chars().take(8).collect()).collect();
        let w = short
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let rw = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(4)
            .max(10);
        write!(f, "confusion (rows: true, columns: predicted)\n{:<rw$}", "")?;
        for n in &short {
            write!(f, " {n:>w$}")?;
        }
        for (name, row) in names.iter().zip(&self.confusion) {
            write!(f, "\n{name:<rw$}")?;
            for c in row {
                write!(f, " {c:>w$}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_classes_print_a_summary_not_every_row() {
        let names: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
        let y: Vec<usize> = (0..400).map(|i| i % 40).collect();
        let pred: Vec<usize> = y.iter().map(|&c| if c == 7 { 9 } else { c }).collect();
        let text = evaluate(&y, &pred, &names).to_string();
        assert!(
            text.contains("the 10 classes with the lowest F1 of 40"),
            "{text}"
        );
        assert!(text.contains("c7 → c9: 10"), "{text}");
        assert!(text.lines().count() < 30, "{text}");
        let few = evaluate(&[0, 1, 1], &[0, 1, 0], &["cat".into(), "dog".into()]).to_string();
        assert!(
            few.contains("confusion (rows: true, columns: predicted)") && few.contains("dog"),
            "{few}"
        );
    }

    #[test]
    fn table1_resnet34_counts() {
        // METHOD.md Table 1, Resnet34_1: TP 390, FP 125, TN 109, FN 0 (positive = PNEUMONIA).
        let mut y = vec![0; 234];
        y.extend(vec![1; 390]);
        let mut p = vec![0; 109];
        p.extend(vec![1; 125]);
        p.extend(vec![1; 390]);
        let m = evaluate(&y, &p, &["NORMAL".into(), "PNEUMONIA".into()]);
        assert!((m.accuracy - 0.800).abs() < 5e-4);
        assert!((m.per_class[1].precision - 0.757).abs() < 5e-4);
        assert_eq!(m.per_class[1].recall, 1.0);
        assert_eq!(m.confusion, vec![vec![109, 125], vec![0, 390]]);
    }
}
