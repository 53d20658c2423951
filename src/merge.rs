//! `gaxsh merge`: join the outputs of a sharded run ([`crate::shard`]) into exactly what the
//! unsharded run writes: an AX sweep CSV (with its stamp, so the unsharded script then resumes
//! every row instead of recomputing), or a GAX result folder.
//!
//! Nothing is merged unless every shard is there, all from the same model, data and settings,
//! each complete, and together covering every sample once.

use crate::ax::{self, Stamp};
use crate::error::{Error, Result};
use crate::shard::{self, Shard};
use candle_core::Tensor;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Merge the shards written for `target`; returns a one-line account.
pub fn merge(target: &Path) -> Result<String> {
    let found = shard::written_for(target)?;
    let Some((first, _)) = found.first() else {
        return Err(Error::invalid(format!(
            "no shard outputs for {} (looked for {} in its folder)",
            target.display(),
            Shard { index: 0, count: 2 }
                .path(target)
                .file_name()
                .map(|n| n.to_string_lossy().replace("0-of-2", "I-of-N"))
                .unwrap_or_default()
        )));
    };
    let count = first.count;
    if let Some((other, p)) = found.iter().find(|(s, _)| s.count != count) {
        return Err(Error::invalid(format!(
            "{} has shards of {count} and of {} ({}): remove the stale ones",
            target.display(),
            other.count,
            p.display()
        )));
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !found.iter().any(|(s, _)| s.index == *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "{}: shard(s) {} not written yet; run them (--shard i/{count}) and merge again",
            target.display(),
            missing.join(", ")
        )));
    }
    let paths: Vec<(Shard, PathBuf)> = found;
    if paths[0].1.is_dir() {
        merge_gax(target, &paths)
    } else {
        merge_sweep(target, &paths)
    }
}

/// Ranges that follow each other from 0 and end at `total` (when given).
fn check_cover(
    target: &Path,
    ranges: &[(Shard, Range<usize>)],
    total: Option<usize>,
) -> Result<()> {
    let mut next = 0;
    for (s, r) in ranges {
        if r.start != next {
            return Err(Error::invalid(format!(
                "{}: shard {s} holds samples {}..{}, expected them to start at {next}; the shards come from runs with different settings",
                target.display(),
                r.start,
                r.end
            )));
        }
        next = r.end;
    }
    if let Some(t) = total
        && next != t
    {
        return Err(Error::invalid(format!(
            "{}: the shards hold samples 0..{next} of {t}",
            target.display()
        )));
    }
    Ok(())
}

fn merge_sweep(target: &Path, shards: &[(Shard, PathBuf)]) -> Result<String> {
    let mut text = String::from(ax::HEADER);
    text.push('\n');
    let mut fingerprint: Option<String> = None;
    let mut ranges = Vec::new();
    let mut total_rows = 0;
    for (s, path) in shards {
        crate::interrupt::check()?;
        let stamp = Stamp::read(path)?;
        match &fingerprint {
            None => fingerprint = Some(stamp.fingerprint.clone()),
            Some(f) if *f != stamp.fingerprint => {
                return Err(Error::bad_file(
                    path,
                    "comes from a different model, dataset or sweep settings than shard 0; rerun it with the same ones",
                ));
            }
            Some(_) => {}
        }
        let range = match &stamp.shard {
            Some((stamped, r)) if stamped == s => r.clone(),
            _ => {
                return Err(Error::bad_file(
                    path,
                    format!("its stamp does not say shard {s}; was it renamed?"),
                ));
            }
        };
        // Every field checked, and every row inside this shard's samples.
        let rows = ax::read_strict(path, None)?;
        if let Some(r) = rows.iter().find(|r| !range.contains(&r.index)) {
            return Err(Error::bad_file(
                path,
                format!(
                    "holds a row for sample {} ({} {}), outside shard {s}'s samples {}..{}",
                    r.index,
                    r.method,
                    r.mode.name(),
                    range.start,
                    range.end
                ),
            ));
        }
        if rows.len() != stamp.rows {
            return Err(Error::bad_file(
                path,
                format!(
                    "shard {s} is incomplete ({} of {} rows); run it again (it resumes) and merge",
                    rows.len(),
                    stamp.rows
                ),
            ));
        }
        for r in &rows {
            text.push_str(&r.csv_line());
            text.push('\n');
        }
        total_rows += rows.len();
        ranges.push((*s, range));
    }
    check_cover(target, &ranges, None)?;
    crate::io::ensure_parent(target)?;
    crate::io::write_atomic(target, text.as_bytes())?;
    let stamp = Stamp {
        fingerprint: fingerprint.unwrap_or_default(),
        shard: None,
        rows: total_rows,
    };
    crate::io::write_atomic(&ax::stamp_path(target), stamp.to_string().as_bytes())?;
    Ok(format!(
        "merged {} shards into {} ({total_rows} rows, samples 0..{})",
        shards.len(),
        target.display(),
        ranges.last().map(|(_, r)| r.end).unwrap_or(0)
    ))
}

/// `shard: i/n samples a..b of N` from a GAX shard folder.
fn read_gax_part(dir: &Path) -> Result<(Shard, Range<usize>, usize)> {
    let path = dir.join(crate::gax::SHARD_FILE);
    let text = crate::limits::read_text(&path)?;
    let bad = || Error::bad_file(&path, "expected 'shard: i/n samples a..b of N'");
    let rest = text.trim().strip_prefix("shard: ").ok_or_else(bad)?;
    let (s, rest) = rest.split_once(" samples ").ok_or_else(bad)?;
    let (range, total) = rest.split_once(" of ").ok_or_else(bad)?;
    let (a, b) = range.split_once("..").ok_or_else(bad)?;
    Ok((
        Shard::parse(s)?,
        a.parse().map_err(|_| bad())?..b.parse().map_err(|_| bad())?,
        total.parse().map_err(|_| bad())?,
    ))
}

fn merge_gax(target: &Path, shards: &[(Shard, PathBuf)]) -> Result<String> {
    let mut csv = String::from(crate::gax::SCORES_HEADER);
    csv.push('\n');
    let mut heatmaps = Vec::new();
    let mut frames: HashMap<String, Tensor> = HashMap::new();
    let mut ranges = Vec::new();
    let mut total = None;
    for (s, dir) in shards {
        crate::interrupt::check()?;
        let (stamped, range, n) = read_gax_part(dir)?;
        if stamped != *s {
            return Err(Error::bad_file(
                dir,
                format!("its {} does not say shard {s}", crate::gax::SHARD_FILE),
            ));
        }
        if total.is_some_and(|t| t != n) {
            return Err(Error::bad_file(
                dir,
                "belongs to a run over a different number of samples than shard 0",
            ));
        }
        total = Some(n);
        let scores = dir.join("gax_scores.csv");
        let text = crate::limits::read_text(&scores)?;
        let mut lines = text.lines();
        if lines.next() != Some(crate::gax::SCORES_HEADER) {
            return Err(Error::bad_file(&scores, "not a gax_scores.csv"));
        }
        for line in lines {
            csv.push_str(line);
            csv.push('\n');
        }
        let mut tensors = crate::io::load_safetensors(&dir.join("gax_heatmaps.safetensors"))?;
        let h = tensors.remove("heatmaps").ok_or_else(|| {
            Error::bad_file(dir.join("gax_heatmaps.safetensors"), "holds no 'heatmaps'")
        })?;
        if h.dim(0)? != range.len() {
            return Err(Error::bad_file(
                dir,
                format!(
                    "holds {} heatmaps for samples {}..{}",
                    h.dim(0)?,
                    range.start,
                    range.end
                ),
            ));
        }
        heatmaps.push(h);
        frames.extend(tensors);
        ranges.push((*s, range));
    }
    check_cover(target, &ranges, total)?;
    frames.insert("heatmaps".into(), Tensor::cat(&heatmaps, 0)?);
    std::fs::create_dir_all(target).map_err(|e| Error::io(target, e))?;
    crate::io::write_atomic(&target.join("gax_scores.csv"), csv.as_bytes())?;
    crate::io::save_safetensors(&frames, &target.join("gax_heatmaps.safetensors"))?;
    Ok(format!(
        "merged {} GAX shards into {} ({} samples)",
        shards.len(),
        target.display(),
        total.unwrap_or(0)
    ))
}
