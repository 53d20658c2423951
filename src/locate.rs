//! Where the bundled data and weights are found, decided at run time (an installed binary must
//! not point at the machine it was built on): `GAXSH_DATA`, then `data/` in the working folder,
//! then `data/` beside the binary or in a folder above it (a checkout's `target/release/gaxsh`
//! finds the checkout's `data/`; an install may put `share/gaxsh/data` beside `bin/`), then the
//! project's shared folder `../shared/data` (weights too large to bundle).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The folders searched, in order.
pub fn roots() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(d) = std::env::var_os("GAXSH_DATA") {
        out.push(PathBuf::from(d));
    }
    out.push(PathBuf::from("data"));
    if let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|e| std::fs::canonicalize(e).ok())
    {
        for dir in exe.ancestors().skip(1).take(5) {
            out.push(dir.join("data"));
            out.push(dir.join("share/gaxsh/data"));
        }
    }
    out.push(PathBuf::from("../shared/data"));
    out
}

/// The bundled file or folder `rel` (e.g. `drybean/Dry_Bean_Dataset.csv`), from the first root
/// that has it; the error lists every place looked in.
pub fn bundled(rel: &str) -> Result<PathBuf> {
    let roots = roots();
    roots
        .iter()
        .map(|r| r.join(rel))
        .find(|p| p.exists())
        .ok_or_else(|| {
            let looked: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            Error::io(
                Path::new(rel),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "not found in the bundled data (looked in {}; set GAXSH_DATA to the folder holding it)",
                        looked.join(", ")
                    ),
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkout_data_is_found_and_a_missing_file_names_the_places_looked() {
        // Unit tests run in the checkout, from target/debug/deps.
        let p = bundled("drybean/Dry_Bean_Dataset.csv").unwrap();
        assert!(p.is_file(), "{}", p.display());
        let e = bundled("no/such/file.csv").unwrap_err().to_string();
        assert!(e.contains("looked in") && e.contains("GAXSH_DATA"), "{e}");
    }
}
