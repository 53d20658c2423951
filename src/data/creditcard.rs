//! The credit-card fraud sets as the authors' `reconstruct_data` builds them (METHOD.md §2.2).
//!
//! Negatives keep their original row labels and are sliced by label, inclusive at both ends:
//! train ≤ 2500, val 2500..5000, test 5000..7500. Positives are all 492 frauds. Train and val get
//! 5 synthetic positives per fraud by **cross-projective augmentation**: for fraud i and j < 5,
//! the reference r = the set's negative number 5i + j and the new row is r + d·(x_i − r) with
//! d = 0.95. Test gets the real frauds.
//!
//! With the full Kaggle file this is exact. The project bundles only real rows 0–4001, all
//! frauds, and a random subsample of normals; from those, train is exact and val/test are the
//! closest honest substitute, and every output says so (the dataset's provenance notes).

use super::csv::{creditcard_options, load_csv};
use super::split::Splits;
use super::transform::Transform;
use super::{Dataset, Provenance, Storage};
use crate::error::{Error, Result};
use candle_core::Tensor;
use std::path::Path;

pub const CROSS_FACTOR: usize = 5;
pub const CROSS_D: f64 = 0.95;

/// The paper's scaling of V1..V28: clip(x, −3, 3)/3 + 0.5.
pub fn paper_scaling() -> Transform {
    Transform::ClipScale {
        lo: -3.0,
        hi: 3.0,
        scale: 3.0,
        offset: 0.5,
    }
}

/// Rows of a table as f64 vectors.
fn rows(ds: &Dataset, idx: &[usize]) -> Result<Vec<Vec<f64>>> {
    let x = ds
        .raw_x()?
        .to_dtype(candle_core::DType::F64)?
        .to_vec2::<f64>()?;
    Ok(idx.iter().map(|&i| x[i].clone()).collect())
}

/// One labelled set built from rows, ids and labels.
fn table(
    x: Vec<Vec<f64>>,
    y: Vec<usize>,
    ids: Vec<String>,
    like: &Dataset,
    steps: Vec<String>,
    notes: &[String],
) -> Result<Dataset> {
    let n = x.len();
    let f = like.feature_names.len();
    let flat: Vec<f64> = x.into_iter().flatten().collect();
    Ok(Dataset {
        storage: Storage::Memory(Tensor::from_vec(flat, (n, f), &crate::device::current())?),
        y,
        ids,
        class_names: like.class_names.clone(),
        feature_names: like.feature_names.clone(),
        transform: None,
        provenance: Provenance {
            source: like.provenance.source.clone(),
            steps,
            notes: notes.to_vec(),
        },
    })
}

/// Cross-projective augmentation: `c` synthetic positives per positive, projected from the
/// positive towards reference negatives taken in order (x_new = r + d·(x − r)).
pub fn cross_projective(
    positives: &[Vec<f64>],
    references: &[Vec<f64>],
    c: usize,
    d: f64,
) -> Result<Vec<Vec<f64>>> {
    if references.len() < c * positives.len() {
        return Err(Error::invalid(format!(
            "cross-projective augmentation needs {} reference rows ({c} per positive), got {}",
            c * positives.len(),
            references.len()
        )));
    }
    let mut out = Vec::with_capacity(c * positives.len());
    for (i, x) in positives.iter().enumerate() {
        for j in 0..c {
            let r = &references[c * i + j];
            out.push(r.iter().zip(x).map(|(r, x)| r + d * (x - r)).collect());
        }
    }
    Ok(out)
}

/// The negatives (index, original row label) and the positives of a full-file load.
struct Labelled {
    ds: Dataset,
    neg: Vec<usize>,
    pos: Vec<usize>,
}

fn label_of(id: &str) -> usize {
    id.trim_start_matches("row ").parse().unwrap_or(usize::MAX)
}

fn load_labelled(path: &Path) -> Result<Labelled> {
    let ds = load_csv(path, &creditcard_options())?;
    let neg = (0..ds.len()).filter(|&i| ds.y[i] == 0).collect();
    let pos = (0..ds.len()).filter(|&i| ds.y[i] == 1).collect();
    Ok(Labelled { ds, neg, pos })
}

/// Negatives whose original row label lies in `lo..=hi`.
fn by_label(l: &Labelled, lo: usize, hi: usize) -> Vec<usize> {
    l.neg
        .iter()
        .copied()
        .filter(|&i| (lo..=hi).contains(&label_of(&l.ds.ids[i])))
        .collect()
}

/// Build train (negatives + synthetic positives) from negative indices into `l.ds`.
fn augmented(
    l: &Labelled,
    neg: &[usize],
    pos_rows: &[Vec<f64>],
    pos_ids: &[String],
    name: &str,
    notes: &[String],
) -> Result<Dataset> {
    let neg_rows = rows(&l.ds, neg)?;
    let synth = cross_projective(pos_rows, &neg_rows, CROSS_FACTOR, CROSS_D)?;
    let mut ids: Vec<String> = neg.iter().map(|&i| l.ds.ids[i].clone()).collect();
    for (i, pid) in pos_ids.iter().enumerate() {
        for j in 0..CROSS_FACTOR {
            ids.push(format!(
                "synthetic: {pid} projected from {}",
                l.ds.ids[neg[CROSS_FACTOR * i + j]]
            ));
        }
    }
    let mut y = vec![0; neg.len()];
    y.extend(std::iter::repeat_n(1, synth.len()));
    let x: Vec<Vec<f64>> = neg_rows.into_iter().chain(synth).collect();
    let steps = vec![format!(
        "{name}: {} negatives + {} cross-projective positives (c = {CROSS_FACTOR}, d = {CROSS_D})",
        neg.len(),
        pos_ids.len() * CROSS_FACTOR
    )];
    table(x, y, ids, &l.ds, steps, notes)
}

crate::options! {
    /// The options of `load_creditcard_split`.
    pub struct CreditcardOptions {
        "data" => data: Option<std::path::PathBuf> = None; Text, "the bundled substitute", "the full Kaggle creditcard.csv, for the paper's exact sets", |v| Some(v.text()?).filter(|s| !s.is_empty()).map(Into::into);
        "scale" => scale: bool = true; Bool, "true", "scale by clip_scale(-3, 3, 3, 0.5), the paper's", |v| v.bool()?;
    }
}

/// The paper's train/val/test sets: exact from the full file, else from the bundled rows
/// (`data/creditcard`), scaled as the paper's unless `scale` is off.
pub fn splits(opts: &CreditcardOptions) -> Result<Splits> {
    let s = match &opts.data {
        Some(p) => from_full_file(p)?,
        None => from_bundled(&crate::locate::bundled("creditcard")?)?,
    };
    if !opts.scale {
        return Ok(s);
    }
    Ok(Splits {
        train: s.train.with_transform(paper_scaling()),
        val: s.val.with_transform(paper_scaling()),
        test: s.test.with_transform(paper_scaling()),
    })
}

/// The paper's construction from the full Kaggle `creditcard.csv` (exact).
pub fn from_full_file(path: &Path) -> Result<Splits> {
    let l = load_labelled(path)?;
    if l.ds.len() < 7501 {
        return Err(Error::bad_file(
            path,
            format!(
                "has {} rows; the paper's split needs the full file (rows up to 7500)",
                l.ds.len()
            ),
        ));
    }
    let pos_rows = rows(&l.ds, &l.pos)?;
    let pos_ids: Vec<String> = l.pos.iter().map(|&i| l.ds.ids[i].clone()).collect();
    let train = augmented(
        &l,
        &by_label(&l, 0, 2500),
        &pos_rows,
        &pos_ids,
        "train",
        &[],
    )?;
    let val = augmented(
        &l,
        &by_label(&l, 2500, 5000),
        &pos_rows,
        &pos_ids,
        "val",
        &[],
    )?;
    let test_neg = by_label(&l, 5000, 7500);
    let mut idx = test_neg.clone();
    idx.extend(&l.pos);
    let test = l.ds.subset(
        &idx,
        &format!(
            "test: {} negatives (rows 5000..=7500) + {} real frauds",
            test_neg.len(),
            l.pos.len()
        ),
    )?;
    Ok(Splits { train, val, test })
}

/// The closest honest substitute from the bundled real rows (`data/creditcard`): train exact,
/// val/test completed with normals from the random subsample of the full file.
pub fn from_bundled(dir: &Path) -> Result<Splits> {
    let first = load_labelled(&dir.join("creditcard_first4002rows.csv"))?;
    let frauds = load_csv(
        &dir.join("creditcard_all492frauds.csv"),
        &creditcard_options(),
    )?;
    let union = load_csv(
        &dir.join("creditcard_union_subsample.csv"),
        &creditcard_options(),
    )?;
    let fraud_idx: Vec<usize> = (0..frauds.len()).collect();
    let pos_rows = rows(&frauds, &fraud_idx)?;
    let pos_ids: Vec<String> = (0..frauds.len()).map(|i| format!("fraud {i}")).collect();

    // Normals of the subsample that are not among the first 4002 rows, in file order.
    let known = rows(&first.ds, &(0..first.ds.len()).collect::<Vec<_>>())?;
    let bits = |r: &Vec<f64>| r.iter().map(|v| v.to_bits()).collect::<Vec<u64>>();
    let known_set: std::collections::HashSet<Vec<u64>> = known.iter().map(bits).collect();
    let union_rows = rows(&union, &(0..union.len()).collect::<Vec<_>>())?;
    let extra: Vec<usize> = (0..union.len())
        .filter(|&i| union.y[i] == 0 && !known_set.contains(&bits(&union_rows[i])))
        .collect();

    let train_neg = by_label(&first, 0, 2500);
    let val_exact = by_label(&first, 2500, 4001);
    let need_val = 2500usize.saturating_sub(val_exact.len());
    let need_test = 2479usize;
    if extra.len() < need_val + need_test {
        return Err(Error::bad_file(
            dir,
            "the bundled subsample has too few normals for the val/test substitute",
        ));
    }
    let note = format!(
        "credit-card split is a SUBSTITUTE: the bundled data holds original rows 0-4001, so train is exact, but val = {} real negatives (rows 2500-4001) + {need_val} normals from a random subsample of the full file, and test = {need_test} such normals + the 492 real frauds; the paper's val/test (rows 2500-5000, 5000-7500) need the full Kaggle creditcard.csv (--data)",
        val_exact.len()
    );
    let notes = vec![note];

    // Merge the subsample normals into one table with the first rows so `augmented` can use them.
    let extra_rows = rows(&union, &extra)?;
    let mut all_rows = known.clone();
    all_rows.extend(extra_rows);
    let mut all_y = first.ds.y.clone();
    all_y.extend(std::iter::repeat_n(0, extra.len()));
    let mut all_ids = first.ds.ids.clone();
    all_ids.extend(extra.iter().map(|&i| format!("subsample row {i}")));
    let merged = table(all_rows, all_y, all_ids, &first.ds, vec![], &notes)?;
    let base = first.ds.len();
    let l = Labelled {
        ds: merged,
        neg: vec![],
        pos: vec![],
    };

    let mut val_neg = val_exact.clone();
    val_neg.extend((0..need_val).map(|k| base + k));
    let test_neg: Vec<usize> = (need_val..need_val + need_test).map(|k| base + k).collect();

    let mut train = augmented(&l, &train_neg, &pos_rows, &pos_ids, "train", &notes)?;
    let mut val = augmented(
        &l,
        &val_neg,
        &pos_rows,
        &pos_ids,
        "val (substitute)",
        &notes,
    )?;
    let mut test_rows = rows(&l.ds, &test_neg)?;
    test_rows.extend(pos_rows.iter().cloned());
    let mut test_y = vec![0; test_neg.len()];
    test_y.extend(std::iter::repeat_n(1, pos_rows.len()));
    let mut test_ids: Vec<String> = test_neg.iter().map(|&i| l.ds.ids[i].clone()).collect();
    test_ids.extend(pos_ids.iter().cloned());
    let mut test = table(
        test_rows,
        test_y,
        test_ids,
        &l.ds,
        vec![format!(
            "test (substitute): {need_test} subsample normals + {} real frauds",
            pos_rows.len()
        )],
        &notes,
    )?;
    for d in [&mut train, &mut val, &mut test] {
        d.provenance.source = dir.display().to_string();
    }
    Ok(Splits { train, val, test })
}
