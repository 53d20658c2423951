//! Spreading one sweep or GAX run over several processes (cluster array jobs).
//!
//! A shard `i/n` (i counts from 0) takes a contiguous run of whole batches, so every batch holds
//! the same samples as in the unsharded run and every number comes out bit for bit the same.
//! Each shard writes its rows beside the requested output with the shard in the name
//! (`co.csv` → `co.shard-1-of-4.csv`, `gax/` → `gax.shard-1-of-4/`); `gaxsh merge co.csv gax`
//! puts them back together ([`crate::merge`]) into exactly what the unsharded run writes.
//!
//! The shard comes from `--shard i/n`, else `GAXSH_SHARD=i/n`, else a Slurm array job
//! (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`), else a
//! Kubernetes indexed job (`JOB_COMPLETION_INDEX` of `GAXSH_SHARD_COUNT`, which the job template
//! sets to its `completions`). `--shard none` ignores the environment.

use crate::error::{Error, Result};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// From 0 to `count − 1`.
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::invalid(format!(
                "shard {index}/{count}: the index counts from 0, so for {count} shards it is 0 to {}",
                count.saturating_sub(1)
            )));
        }
        Ok(Shard { index, count })
    }

    /// `"i/n"`.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            Error::invalid(format!(
                "shard '{s}': expected i/n with 0 ≤ i < n (e.g. 0/4 … 3/4), or none"
            ))
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }

    /// The items (sample indices) of this shard among `n`, processed in blocks of `block`: a
    /// contiguous run of whole blocks, the runs as even as blocks allow.
    pub fn items(&self, n: usize, block: usize) -> Range<usize> {
        let block = block.max(1);
        let blocks = n.div_ceil(block);
        let first = self.index * blocks / self.count;
        let last = (self.index + 1) * blocks / self.count;
        (first * block).min(n)..(last * block).min(n)
    }

    /// `shard-1-of-4`.
    pub fn tag(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    /// Where this shard writes what the unsharded run writes to `path`: the tag goes before the
    /// extension (`co.csv` → `co.shard-1-of-4.csv`; `gax` → `gax.shard-1-of-4`).
    pub fn path(&self, path: &Path) -> PathBuf {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match path.extension() {
            Some(ext) => format!("{stem}.{}.{}", self.tag(), ext.to_string_lossy()),
            None => format!("{stem}.{}", self.tag()),
        };
        path.with_file_name(name)
    }

    /// Read a shard from environment variables (see the module docs); `None` outside a job.
    /// `var` looks a variable up (the process environment, or a map in tests).
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<(Shard, &'static str)>> {
        let num = |name: &str| -> Result<Option<usize>> {
            match var(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| Error::invalid(format!("{name}={v}: not a whole number"))),
            }
        };
        if let Some(s) = var("GAXSH_SHARD") {
            return Ok(match s.trim() {
                "none" | "" => None,
                s => Some((Shard::parse(s)?, "GAXSH_SHARD")),
            });
        }
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let count = num("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
                Error::invalid("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")
            })?;
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            if num("SLURM_ARRAY_TASK_STEP")?.is_some_and(|s| s != 1) {
                return Err(Error::invalid(
                    "a Slurm array with a step other than 1 cannot be mapped to shards; use --array=0-N (or pass --shard i/n)",
                ));
            }
            return Ok(Some((
                Shard::new(id.saturating_sub(min), count)?,
                "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT",
            )));
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = num("GAXSH_SHARD_COUNT")?.ok_or_else(|| {
                Error::invalid(
                    "JOB_COMPLETION_INDEX is set (a Kubernetes indexed job) but GAXSH_SHARD_COUNT is not: set it to the job's completions",
                )
            })?;
            return Ok(Some((
                Shard::new(index, count)?,
                "JOB_COMPLETION_INDEX/GAXSH_SHARD_COUNT",
            )));
        }
        Ok(None)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

static CURRENT: RwLock<Option<Shard>> = RwLock::new(None);

/// The shard this process runs (set once by the CLI).
pub fn set_current(shard: Option<Shard>) {
    *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = shard;
}

/// A `shard` option as scripts give it: `"i/n"`, `"none"` (run everything here), or absent
/// (the process's shard, [`current`]).
pub fn from_option(s: Option<&str>) -> Result<Option<Shard>> {
    match s {
        None => Ok(current()),
        Some("none") => Ok(None),
        Some(s) => Shard::parse(s).map(Some),
    }
}

pub fn current() -> Option<Shard> {
    *CURRENT.read().unwrap_or_else(|p| p.into_inner())
}

/// The shards written for `target` in its folder: `(shard, path)` sorted by index.
pub fn written_for(target: &Path) -> Result<Vec<(Shard, PathBuf)>> {
    let dir = match target.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let prefix = format!("{stem}.shard-");
    let mut found = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(ext.as_str()))
        else {
            continue;
        };
        let Some((i, n)) = rest.split_once("-of-") else {
            continue;
        };
        if let (Ok(i), Ok(n)) = (i.parse(), n.parse())
            && let Ok(shard) = Shard::new(i, n)
        {
            found.push((shard, entry.path()));
        }
    }
    found.sort_by_key(|(s, _)| (s.count, s.index));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn parse_and_name() {
        let s = Shard::parse("1/4").unwrap();
        assert_eq!((s.index, s.count), (1, 4));
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("1-4").is_err());
        assert_eq!(
            s.path(Path::new("out/co.csv")),
            PathBuf::from("out/co.shard-1-of-4.csv")
        );
        assert_eq!(
            s.path(Path::new("out/gax")),
            PathBuf::from("out/gax.shard-1-of-4")
        );
    }

    #[test]
    fn shards_cover_every_item_once_in_whole_blocks() {
        for (n, block, count) in [
            (1000, 100, 4),
            (4537, 256, 4),
            (10, 64, 3),
            (7, 1, 7),
            (5, 2, 8),
        ] {
            let mut next = 0;
            for i in 0..count {
                let r = Shard::new(i, count).unwrap().items(n, block);
                assert_eq!(r.start, next, "n {n} block {block} shard {i}/{count}");
                assert!(r.start.is_multiple_of(block) || r.is_empty());
                next = r.end;
            }
            assert_eq!(next, n);
        }
    }

    #[test]
    fn environment_of_slurm_and_kubernetes() {
        let env = |pairs: &[(&str, &str)]| {
            let m: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Shard::from_vars(move |k| m.get(k).cloned())
        };
        assert_eq!(env(&[]).unwrap(), None);
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(slurm.0, Shard::new(2, 4).unwrap());
        let k8s = env(&[("JOB_COMPLETION_INDEX", "0"), ("GAXSH_SHARD_COUNT", "8")])
            .unwrap()
            .unwrap();
        assert_eq!(k8s.0, Shard::new(0, 8).unwrap());
        let err = env(&[("JOB_COMPLETION_INDEX", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("GAXSH_SHARD_COUNT"), "{err}");
        // An explicit setting wins over the job's variables.
        let none = env(&[("GAXSH_SHARD", "none"), ("SLURM_ARRAY_TASK_ID", "1")]).unwrap();
        assert_eq!(none, None);
    }
}
