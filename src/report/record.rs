//! The run record: everything needed to know what a run was and to repeat it
//! (`gaxsh rerun out/x/run.yaml`).

use crate::data::Provenance;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunRecord {
    /// The script that ran (as given on the command line).
    pub script: String,
    /// The script's options with their final values.
    pub options: BTreeMap<String, serde_yaml::Value>,
    pub seed: u64,
    pub gaxsh_version: String,
    /// UTC, ISO 8601.
    pub started: String,
    pub threads: usize,
    /// Where the data came from and what was done to it.
    #[serde(default)]
    pub data: Vec<DataRecord>,
    /// Caveats (substitute data, compatibility modes…).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Settings chosen automatically that a reader should know (GAX denominators…).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Every input read (script, data, weights, models) with its SHA-256: `gaxsh rerun`
    /// refuses to repeat the run on changed inputs.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// The gaxsh source commit, when built from a git checkout.
    #[serde(default)]
    pub commit: Option<String>,
}

/// The commit gaxsh was built from (set by build.rs from the checkout's `.git`).
pub fn source_commit() -> Option<String> {
    option_env!("GAXSH_COMMIT")
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// Checksums of the inputs (unreadable ones are recorded as such, not skipped).
pub fn checksums(paths: &[std::path::PathBuf]) -> BTreeMap<String, String> {
    paths
        .iter()
        .map(|p| {
            let sum = crate::io::checksum(p).unwrap_or_else(|e| format!("unreadable: {e}"));
            (p.display().to_string(), sum)
        })
        .collect()
}

impl RunRecord {
    /// The recorded inputs that are missing or differ now, each with how.
    pub fn changed_inputs(&self) -> Vec<String> {
        self.inputs
            .iter()
            .filter_map(|(path, old)| {
                let p = std::path::Path::new(path);
                if !p.exists() {
                    return Some(format!("{path} (gone)"));
                }
                match crate::io::checksum(p) {
                    Ok(now) if &now == old => None,
                    Ok(_) => Some(format!("{path} (changed)")),
                    Err(e) => Some(format!("{path} (unreadable: {e})")),
                }
            })
            .collect()
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DataRecord {
    pub source: String,
    pub steps: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
}

impl From<&Provenance> for DataRecord {
    fn from(p: &Provenance) -> Self {
        DataRecord {
            source: p.source.clone(),
            steps: p.steps.clone(),
            notes: p.notes.clone(),
        }
    }
}

impl RunRecord {
    pub fn to_yaml(&self) -> Result<String> {
        serde_yaml::to_string(self).map_err(|e| Error::invalid(format!("run record: {e}")))
    }

    /// `dir/run.yaml`, written whole or not at all; returns its path.
    pub fn write_in(&self, dir: &std::path::Path) -> Result<std::path::PathBuf> {
        let path = dir.join("run.yaml");
        crate::io::write_atomic(&path, self.to_yaml()?.as_bytes())?;
        Ok(path)
    }

    pub fn from_yaml(text: &str, source: &str) -> Result<RunRecord> {
        serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), Some(l.column())))
                .unwrap_or((0, None));
            Error::Parse {
                path: source.into(),
                line,
                column,
                msg: e.to_string(),
            }
        })
    }

    /// The command-line options that repeat this run.
    pub fn rerun_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (k, val) in &self.options {
            let text = match val {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                serde_yaml::Value::Number(n) => n.to_string(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            v.push(format!("--{k}={text}"));
        }
        v
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (no date crate needed).
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
