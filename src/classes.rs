//! Class indices (targets, labels, predictions read back from files) checked in one place:
//! an index outside a model's or a dataset's classes is an error naming the value and the
//! classes, never wrapped into range or clamped to class 0.

use crate::error::{Error, Result};

/// Check that every index is below `classes`; `what` names them ("target", "label in row 7").
pub fn check(what: &str, values: &[usize], classes: usize) -> Result<()> {
    match values.iter().find(|&&c| c >= classes) {
        None => Ok(()),
        Some(&bad) => Err(out_of_range(what, bad as f64, classes)),
    }
}

/// A class index from a number: a non-negative integer below `classes`.
pub fn index(what: &str, v: f64, classes: Option<usize>) -> Result<usize> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > usize::MAX as f64 {
        return Err(match classes {
            Some(c) => out_of_range(what, v, c),
            None => Error::invalid(format!(
                "{what}: {v} is not a class index (a non-negative integer)"
            )),
        });
    }
    let i = v as usize;
    if let Some(c) = classes
        && i >= c
    {
        return Err(out_of_range(what, v, c));
    }
    Ok(i)
}

fn out_of_range(what: &str, v: f64, classes: usize) -> Error {
    Error::OutOfRange {
        what: format!("{what}: class"),
        value: v.to_string(),
        valid: format!("0..{} ({classes} classes)", classes.saturating_sub(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_and_non_integers_are_errors() {
        assert!(check("target", &[0, 6], 7).is_ok());
        let e = check("target", &[3, 99], 7).unwrap_err().to_string();
        assert!(e.contains("99") && e.contains("0..6"), "{e}");
        assert_eq!(index("label", 2.0, Some(3)).unwrap(), 2);
        assert!(index("label", -1.0, Some(3)).is_err());
        assert!(index("label", 1.5, None).is_err());
        assert!(index("label", f64::NAN, None).is_err());
    }
}
