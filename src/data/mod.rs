//! Datasets: real data from CSV, NPZ and image folders, the paper's splits, transforms and the
//! credit-card construction, with a provenance record that travels into every output.
//!
//! A [`Dataset`] is a list of samples with labels. Tables and small image sets live in memory;
//! image folders stay on disk and are decoded batch by batch ([`Dataset::batch`]), so a 21k-image
//! COVID folder never has to fit in memory.

pub mod creditcard;
pub mod csv;
pub mod images;
pub mod npz;
pub mod split;
pub mod transform;

use crate::error::{Error, Result};
use candle_core::Tensor;
use images::ImageFiles;
use serde::Serialize;
use transform::Transform;

/// Where samples come from.
#[derive(Clone)]
pub enum Storage {
    /// All samples as one tensor (N, …).
    Memory(Tensor),
    /// Image files decoded on demand.
    Files(ImageFiles),
}

/// Where a dataset came from and what was done to it; written into run records.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Provenance {
    /// The source file or folder.
    pub source: String,
    /// What was applied, in order (split, transforms, construction steps).
    pub steps: Vec<String>,
    /// Caveats every output must repeat (e.g. a substitute split).
    pub notes: Vec<String>,
}

#[derive(Clone)]
pub struct Dataset {
    pub storage: Storage,
    /// Class index of each sample.
    pub y: Vec<usize>,
    /// A stable id per sample: the original row number or the file path.
    pub ids: Vec<String>,
    pub class_names: Vec<String>,
    pub feature_names: Vec<String>,
    /// Applied to every batch as it is produced (tabular scaling, normalisation).
    pub transform: Option<Transform>,
    pub provenance: Provenance,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Dataset({} samples of {:?}, classes [{}], from {}",
            self.len(),
            self.sample_shape(),
            self.class_names.join(", "),
            self.provenance.source
        )?;
        // What made this set from its source (a split, a transform), so train, val and test
        // print apart.
        for step in &self.provenance.steps {
            write!(f, " → {step}")?;
        }
        write!(f, ")")
    }
}

/// Class names "0", "1", … for classes given by their number (checked before allocation).
pub fn numbered_classes(n: usize) -> Result<Vec<String>> {
    crate::limits::check("dataset: classes", n, 32)?;
    Ok((0..n).map(|i| i.to_string()).collect())
}

impl Dataset {
    /// Samples already in memory (one per row of `x`), with their labels and class names.
    pub fn in_memory(
        x: Tensor,
        y: Vec<usize>,
        class_names: Vec<String>,
        source: &str,
    ) -> Result<Dataset> {
        if x.rank() == 0 {
            return Err(Error::invalid(
                "dataset: x must hold one sample per row, got a scalar",
            ));
        }
        let n = x.dim(0)?;
        if y.len() != n {
            return Err(Error::invalid(format!(
                "{} labels for {n} samples",
                y.len()
            )));
        }
        crate::classes::check("label", &y, class_names.len())?;
        Ok(Dataset {
            storage: Storage::Memory(x),
            y,
            ids: (0..n).map(|i| i.to_string()).collect(),
            class_names,
            feature_names: vec![],
            transform: None,
            provenance: Provenance {
                source: source.to_string(),
                ..Default::default()
            },
        })
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The shape of one sample.
    pub fn sample_shape(&self) -> Vec<usize> {
        match &self.storage {
            Storage::Memory(t) => t.dims()[1..].to_vec(),
            Storage::Files(f) => f.spec.sample_shape(),
        }
    }

    /// Samples `start..start+len` as one tensor, transform applied.
    pub fn batch(&self, start: usize, len: usize) -> Result<Tensor> {
        if start.checked_add(len).is_none_or(|end| end > self.len()) {
            return Err(Error::invalid(format!(
                "batch {start}..{} is outside the dataset of {} samples",
                start.saturating_add(len),
                self.len()
            )));
        }
        let raw = match &self.storage {
            Storage::Memory(t) => t.narrow(0, start, len)?,
            Storage::Files(f) => f.load(start, len)?,
        };
        match &self.transform {
            Some(tr) => tr.apply(&raw),
            None => Ok(raw),
        }
    }

    /// Every sample as one tensor (decodes all images of a file dataset).
    pub fn x(&self) -> Result<Tensor> {
        self.batch(0, self.len())
    }

    /// The untransformed samples, for statistics.
    pub fn raw_x(&self) -> Result<Tensor> {
        match &self.storage {
            Storage::Memory(t) => Ok(t.clone()),
            Storage::Files(f) => f.load(0, self.len()),
        }
    }

    /// The samples at `idx`, in that order.
    pub fn subset(&self, idx: &[usize], step: &str) -> Result<Dataset> {
        if let Some(&bad) = idx.iter().find(|&&i| i >= self.len()) {
            return Err(Error::invalid(format!(
                "index {bad} is outside the dataset of {} samples",
                self.len()
            )));
        }
        let storage = match &self.storage {
            Storage::Memory(t) => {
                let ids = Tensor::from_vec(
                    idx.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                    idx.len(),
                    t.device(),
                )?;
                Storage::Memory(t.index_select(&ids, 0)?)
            }
            Storage::Files(f) => Storage::Files(f.subset(idx)),
        };
        let mut provenance = self.provenance.clone();
        provenance.steps.push(step.to_string());
        Ok(Dataset {
            storage,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            ids: idx.iter().map(|&i| self.ids[i].clone()).collect(),
            class_names: self.class_names.clone(),
            feature_names: self.feature_names.clone(),
            transform: self.transform.clone(),
            provenance,
        })
    }

    /// The first `n` samples.
    pub fn head(&self, n: usize) -> Result<Dataset> {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx, &format!("first {} samples", idx.len()))
    }

    /// Every sample but the first `n`.
    pub fn skip(&self, n: usize) -> Result<Dataset> {
        let n = n.min(self.len());
        let idx: Vec<usize> = (n..self.len()).collect();
        self.subset(&idx, &format!("all but the first {n} samples"))
    }

    /// The same samples with a transform applied on top of any existing one.
    pub fn with_transform(&self, t: Transform) -> Dataset {
        let mut d = self.clone();
        d.provenance.steps.push(t.describe());
        d.transform = Some(match &self.transform {
            Some(old) => old.then(t),
            None => t,
        });
        d
    }

    /// Samples per class, in class order.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.class_names.len()];
        for &y in &self.y {
            c[y] += 1;
        }
        c
    }

    /// Concatenate datasets with the same classes and sample shape (in memory).
    pub fn concat(parts: &[&Dataset], step: &str) -> Result<Dataset> {
        let first = parts
            .first()
            .ok_or_else(|| Error::invalid("concat of no datasets"))?;
        // Image folders are decoded whole here: the joined samples must fit the budget.
        let mut dims = first.sample_shape();
        dims.insert(0, parts.iter().map(|p| p.len()).sum());
        crate::limits::shape("concat", &dims, 4)?;
        let mut xs = Vec::new();
        let mut d = (*first).clone();
        d.y.clear();
        d.ids.clear();
        for p in parts {
            if p.class_names != first.class_names || p.sample_shape() != first.sample_shape() {
                return Err(Error::invalid(
                    "concat: datasets differ in classes or sample shape",
                ));
            }
            xs.push(p.raw_x()?);
            d.y.extend(&p.y);
            d.ids.extend(p.ids.iter().cloned());
        }
        d.storage = Storage::Memory(Tensor::cat(&xs, 0)?);
        d.provenance.steps.push(step.to_string());
        Ok(d)
    }

    /// Labels as a u32 tensor.
    pub fn labels(&self) -> Result<Tensor> {
        Ok(Tensor::from_vec(
            self.y.iter().map(|&v| v as u32).collect::<Vec<_>>(),
            self.len(),
            &crate::device::current(),
        )?)
    }
}
