//! Tables from CSV files with a header: the label column by name, class labels mapped to indices
//! in a given (or sorted) order, features chosen by name. Every problem is reported with the file,
//! line and column, and misspelt names come back with the columns that exist.

use super::{Dataset, Provenance, Storage};
use crate::error::{Error, Result};
use candle_core::Tensor;
use std::path::Path;

crate::options! {
    /// How to read a table (the options of `load_csv`).
    pub struct CsvOptions {
        "label" => label: String = String::new(); Text, "none (required)", "the label column", |v| v.text()?;
        "features" => features: Option<Vec<String>> = None; Texts, "every column but the label and drop", "feature columns, in order", |v| Some(v.texts()?);
        "drop" => drop: Vec<String> = vec![]; Texts, "[]", "columns to leave out when features are not listed", |v| v.texts()?;
        "classes" => classes: Option<Vec<String>> = None; Texts, "the values found, sorted", "label values in class-index order (numbers sort numerically, text bytewise)", |v| Some(v.texts()?);
        "class_names" => class_names: Option<Vec<String>> = None; Texts, "the label values", "display names for the classes", |v| Some(v.texts()?);
        "allow_nonfinite" => allow_nonfinite: bool = false; Bool, "false", "keep NaN and infinite cells (otherwise each is an error naming its cell)", |v| v.bool()?;
    }
}

/// The dry-bean classes in the paper's index order (METHOD.md §2.3).
pub const DRYBEAN_CLASSES: [&str; 7] = [
    "SEKER", "BARBUNYA", "BOMBAY", "CALI", "DERMASON", "HOROZ", "SIRA",
];

/// The dry-bean layout: 16 shape features, label `Class`.
pub fn drybean_options() -> CsvOptions {
    CsvOptions {
        label: "Class".into(),
        classes: Some(DRYBEAN_CLASSES.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

/// The dry-bean table at `path`, or the bundled copy (`crate::locate`) when `path` is `None`.
pub fn load_drybean(path: Option<&Path>) -> Result<Dataset> {
    let bundled;
    let path = match path {
        Some(p) => p,
        None => {
            bundled = crate::locate::bundled("drybean/Dry_Bean_Dataset.csv")?;
            &bundled
        }
    };
    load_csv(path, &drybean_options())
}

/// The credit-card layout: V1..V28 (Time and Amount dropped, as the authors did), label `Class`.
pub fn creditcard_options() -> CsvOptions {
    CsvOptions {
        label: "Class".into(),
        features: Some((1..=28).map(|i| format!("V{i}")).collect()),
        classes: Some(vec!["0".into(), "1".into()]),
        class_names: Some(vec!["normal".into(), "fraud".into()]),
        ..Default::default()
    }
}

/// A label as a class key: numbers written as numbers (`1.0` and `"1"` are the same class).
fn label_key(s: &str) -> String {
    let t = s.trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 => format!("{}", v as i64),
        Ok(v) => format!("{v}"),
        Err(_) => t.to_string(),
    }
}

fn column_error(path: &Path, what: &str, name: &str, header: &[String]) -> Error {
    let close: Vec<&String> = header
        .iter()
        .filter(|h| strsim::jaro_winkler(name, h) > 0.85)
        .collect();
    let hint = match close.first() {
        Some(c) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    };
    Error::bad_file(
        path,
        format!(
            "no {what} column '{name}'{hint}; columns: {}",
            header.join(", ")
        ),
    )
}

/// Read a table (the file is recorded as an input of the run, for `run.yaml`, once it loads).
pub fn load_csv(path: &Path, opts: &CsvOptions) -> Result<Dataset> {
    crate::io::noted(path, read_csv(path, opts))
}

fn read_csv(path: &Path, opts: &CsvOptions) -> Result<Dataset> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::bad_file(path, "not a regular file"));
    }
    // Every number is at least two bytes of text and eight in memory.
    crate::limits::bytes(&path.display().to_string(), meta.len().saturating_mul(4))?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(std::io::BufReader::new(file));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::bad_file(path, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let col = |name: &str, what: &str| -> Result<usize> {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| column_error(path, what, name, &header))
    };
    if opts.label.is_empty() {
        return Err(Error::invalid(
            "load_csv: the 'label' option (label column name) is required",
        ));
    }
    let label_col = col(&opts.label, "label")?;
    for d in &opts.drop {
        col(d, "dropped")?;
    }
    let features: Vec<usize> = match &opts.features {
        Some(names) => names
            .iter()
            .map(|n| col(n, "feature"))
            .collect::<Result<_>>()?,
        None => (0..header.len())
            .filter(|&i| i != label_col && !opts.drop.contains(&header[i]))
            .collect(),
    };
    if features.is_empty() {
        return Err(Error::bad_file(path, "no feature columns left"));
    }

    let mut values: Vec<f64> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for (row, rec) in rdr.records().enumerate() {
        let line = row + 2; // 1-based, after the header
        if row % 4096 == 0 {
            crate::interrupt::check()?;
        }
        let rec = rec.map_err(|e| {
            let msg = match e.kind() {
                ::csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => {
                    format!("row has {len} fields, the header has {expected_len}")
                }
                _ => e.to_string(),
            };
            Error::Parse {
                path: path.into(),
                line: e.position().map(|p| p.line() as usize).unwrap_or(line),
                column: None,
                msg,
            }
        })?;
        for &c in &features {
            let cell = rec.get(c).unwrap_or("").trim();
            let v: f64 = cell.parse().map_err(|_| Error::Parse {
                path: path.into(),
                line,
                column: Some(c + 1),
                msg: format!("column '{}': '{cell}' is not a number", header[c]),
            })?;
            if !v.is_finite() && !opts.allow_nonfinite {
                return Err(Error::Parse {
                    path: path.into(),
                    line,
                    column: Some(c + 1),
                    msg: format!(
                        "column '{}': '{cell}' is not a finite number (a missing value?); give allow_nonfinite: true to keep such cells",
                        header[c]
                    ),
                });
            }
            values.push(v);
        }
        labels.push(label_key(rec.get(label_col).unwrap_or("")));
    }
    let n = labels.len();
    if n == 0 {
        return Err(Error::bad_file(
            path,
            "the file has a header but no data rows",
        ));
    }

    let classes: Vec<String> = match &opts.classes {
        Some(c) => c.iter().map(|s| label_key(s)).collect(),
        None => {
            let mut u: Vec<String> = labels.clone();
            u.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.total_cmp(&y),
                _ => a.cmp(b),
            });
            u.dedup();
            u
        }
    };
    let mut y = Vec::with_capacity(n);
    for (i, l) in labels.iter().enumerate() {
        match classes.iter().position(|c| c == l) {
            Some(k) => y.push(k),
            None => {
                return Err(Error::Parse {
                    path: path.into(),
                    line: i + 2,
                    column: Some(label_col + 1),
                    msg: format!(
                        "label '{l}' is not one of the classes {}",
                        classes.join(", ")
                    ),
                });
            }
        }
    }
    let class_names = match &opts.class_names {
        Some(names) if names.len() == classes.len() => names.clone(),
        Some(names) => {
            return Err(Error::invalid(format!(
                "{} class names given for {} classes",
                names.len(),
                classes.len()
            )));
        }
        None => classes.clone(),
    };
    let f = features.len();
    // Kept in f64 as parsed; models convert batches to their own dtype.
    let x = Tensor::from_vec(values, (n, f), &crate::device::current())?;
    let order = if opts.classes.is_some() {
        "given order"
    } else {
        "sorted label values"
    };
    Ok(Dataset {
        storage: Storage::Memory(x),
        y,
        ids: (0..n).map(|i| format!("row {i}")).collect(),
        class_names,
        feature_names: features.iter().map(|&c| header[c].clone()).collect(),
        transform: None,
        provenance: Provenance {
            source: path.display().to_string(),
            steps: vec![format!(
                "csv: {n} rows, {f} features, label '{}' ({} classes, {order})",
                opts.label,
                classes.len()
            )],
            notes: vec![],
        },
    })
}
