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

/// The folder a run named `name` writes to unless told otherwise: `$GAXSH_RUNS/name`, else
/// `~/gaxsh-runs/name`, outside any checkout, so results neither land in the repository nor
/// vanish with a `git clean`; without a home folder, `gaxsh-runs/name` in the working folder.
/// `name` is a plain relative name (`drybean`, `tour/seed0`), never `..` or absolute.
pub fn run_dir(name: &str) -> Result<PathBuf> {
    let plain = !name.is_empty()
        && Path::new(name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain {
        return Err(Error::invalid(format!(
            "run_dir('{name}'): give a name (or name/sub) for the run, without '..' or a leading '/'"
        )));
    }
    let root = match std::env::var_os("GAXSH_RUNS").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .filter(|v| !v.is_empty())
            .map_or_else(
                || PathBuf::from("gaxsh-runs"),
                |h| PathBuf::from(h).join("gaxsh-runs"),
            ),
    };
    Ok(root.join(name))
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

    #[test]
    fn a_run_folder_is_named_and_stays_under_the_runs_root() {
        let d = run_dir("drybean/seed0").unwrap();
        assert!(
            d.ends_with("gaxsh-runs/drybean/seed0") || std::env::var_os("GAXSH_RUNS").is_some()
        );
        for bad in ["", "../x", "/etc", "a/../../b"] {
            let e = run_dir(bad).unwrap_err().to_string();
            assert!(e.contains("run_dir"), "{bad}: {e}");
        }
    }
}
