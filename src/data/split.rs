//! The paper's splits and sample selections.

use super::Dataset;
use crate::error::Result;

/// Train / validation / test.
#[derive(Debug)]
pub struct Splits {
    pub train: Dataset,
    pub val: Dataset,
    pub test: Dataset,
}

crate::options! {
    /// The options of `split_mod3`.
    pub struct SplitOptions {
        "within_class" => within_class: bool = false; Bool, "false", "count the index within each class (the paper's wording) instead of over the table (the authors' code)", |v| v.bool()?;
    }
}

/// Index i goes to train, val or test by i mod 3 = 0, 1, 2.
///
/// `within_class = false` uses the global row index, which is what the authors' dry-bean code
/// does (pandas keeps the original index after filtering a class; METHOD.md §2.3);
/// `within_class = true` counts within each class, as the paper's text says (and as the COVID
/// loader does per class folder).
pub fn split_mod3(ds: &Dataset, within_class: bool) -> Result<Splits> {
    let mut parts: [Vec<usize>; 3] = [vec![], vec![], vec![]];
    let mut seen = vec![0usize; ds.class_names.len()];
    for (i, &c) in ds.y.iter().enumerate() {
        let k = if within_class {
            seen[c] += 1;
            (seen[c] - 1) % 3
        } else {
            i % 3
        };
        parts[k].push(i);
    }
    let rule = if within_class {
        "index within class"
    } else {
        "global row index"
    };
    Ok(Splits {
        train: ds.subset(&parts[0], &format!("split_mod3 train ({rule} mod 3 = 0)"))?,
        val: ds.subset(&parts[1], &format!("split_mod3 val ({rule} mod 3 = 1)"))?,
        test: ds.subset(&parts[2], &format!("split_mod3 test ({rule} mod 3 = 2)"))?,
    })
}

/// The samples in a random order drawn from the seeded generator.
pub fn shuffle(ds: &Dataset) -> Result<Dataset> {
    let perm = crate::tensor::random::permutation(ds.len());
    ds.subset(
        &perm,
        &format!("shuffled (seed {})", crate::tensor::random::current_seed()),
    )
}
