//! What a session has done so far, so that a report can write it up without the caller passing
//! everything along: the data loaded, training summaries, sweeps, GAX runs and the plots
//! written, in order; and the run record (`run.yaml`) assembled from it.

use super::Section;
use super::record::{DataRecord, RunRecord, checksums, source_commit};
use crate::ax::AxTable;
use crate::data::Provenance;
use crate::gax::GaxResult;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where figures go to be seen as they are written: nowhere in the CLI (the path is printed), a
/// `display_data` message in the Jupyter kernel.
pub type DisplaySink = Arc<dyn Fn(&Path) + Send + Sync>;

#[derive(Default)]
pub struct RunLog {
    /// The script's path as given (empty at a prompt).
    pub script: String,
    /// When the session started (UTC).
    pub started: String,
    pub data: Vec<Provenance>,
    pub sections: Vec<Section>,
    pub settings: Vec<(String, String)>,
    /// Plot files written, in order (the Jupyter kernel shows new ones after each cell).
    pub plots: Vec<PathBuf>,
    /// Shows each figure as it is written (set by the Jupyter kernel).
    pub display: Option<DisplaySink>,
    /// What was typed at a prompt (REPL lines, notebook cells, `-e`) and ran without error, in
    /// order: a record made there saves them as the script `gaxsh rerun` replays.
    pub commands: Vec<String>,
    /// The command running now (its `report(…)` call belongs in the replay too).
    pub running: Option<String>,
    /// Wall time of each logged stage: the time from the previous stage (or the session's
    /// start) to the moment this one was logged, so loading and preparing count with the step
    /// they served.
    pub stages: Vec<(String, f64)>,
    /// When the last stage ended (or the session started).
    pub mark: Option<std::time::Instant>,
}

/// The variable that `_` stands for at a prompt: the last value a command gave (IPython's `_`).
/// rhai reserves `_` itself (for `switch` defaults), so prompt input is rewritten; a replayed
/// session declares it first.
pub const LAST_RESULT: &str = "_last_";

/// The log shared by a session's bindings.
pub type SharedLog = Arc<Mutex<RunLog>>;

pub fn lock(log: &SharedLog) -> std::sync::MutexGuard<'_, RunLog> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

impl RunLog {
    pub fn add_data(&mut self, p: &Provenance) {
        if !self
            .data
            .iter()
            .any(|d| d.source == p.source && d.steps == p.steps)
        {
            self.data.push(p.clone());
        }
    }

    /// Start the clock of the stages (at the session's start).
    pub fn start_clock(&mut self) {
        self.mark = Some(std::time::Instant::now());
    }

    /// Close a stage named `name` now.
    fn stage(&mut self, name: String) {
        let now = std::time::Instant::now();
        let seconds = self.mark.map_or(0.0, |m| (now - m).as_secs_f64());
        self.mark = Some(now);
        self.stages.push((name, seconds));
    }

    pub fn add_plot(&mut self, path: &Path, caption: &str) {
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned());
        self.stage(format!("figure {}", file.unwrap_or_default()));
        if let Some(show) = &self.display {
            show(path);
        }
        self.plots.push(path.to_path_buf());
        self.sections.push(Section::Figure {
            caption: caption.to_string(),
            path: path.to_path_buf(),
        });
    }

    /// A training run on `train`: what it did, with the epochs it finished when interrupted.
    pub fn add_training(
        &mut self,
        model: &str,
        train: &Provenance,
        report: &crate::train::TrainReport,
        opts: &crate::train::TrainOptions,
    ) {
        self.add_data(train);
        let title = format!("Training {model} ({})", report.stopped);
        self.add_text(&title, &crate::train::describe(report, opts));
    }

    /// A model's accuracy and per-class metrics on a dataset.
    pub fn add_evaluation(
        &mut self,
        model: &str,
        ds: &crate::data::Dataset,
        metrics: &crate::metrics::Metrics,
    ) {
        self.add_data(&ds.provenance);
        let what = ds.provenance.steps.last().cloned().unwrap_or_default();
        let title = format!("Evaluation of {model} ({} samples: {what})", ds.len());
        self.add_text(&title, &metrics.to_string());
    }

    pub fn add_text(&mut self, title: &str, body: &str) {
        self.stage(title.to_string());
        self.sections.push(Section::Text {
            title: title.to_string(),
            body: body.to_string(),
        });
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.settings.retain(|(k, _)| k != key);
        self.settings.push((key.to_string(), value.to_string()));
    }

    /// A sweep and the data it ran on.
    pub fn add_sweep(&mut self, table: &AxTable, data: &Provenance) {
        self.add_data(data);
        self.stage(format!("AX sweep {}", table.label).trim_end().to_string());
        self.sections.push(Section::Sweep(Box::new(table.clone())));
    }

    /// A metric panel and the data it ran on.
    pub fn add_metrics(&mut self, table: &crate::evaluate::MetricTable, data: &Provenance) {
        self.add_data(data);
        self.stage("metric panel".to_string());
        self.sections
            .push(Section::Metrics(Box::new(table.clone())));
    }

    /// A GAX run, with its data when it ran on a dataset.
    pub fn add_gax(&mut self, g: &GaxResult, data: Option<&Provenance>) {
        if let Some(d) = data {
            self.add_data(d);
        }
        self.set("GAX similarity denominator", &g.denominator);
        self.stage(format!("GAX on {} samples", g.ids.len()));
        self.sections.push(Section::Gax(Box::new(g.clone())));
    }

    /// The run record for an output folder: as [`RunLog::record`], and when the session ran no
    /// script file but typed commands, those are written to `dir/session.rhai` and recorded as
    /// the script (with its checksum), so `gaxsh rerun dir/run.yaml` replays the session.
    pub fn record_in(
        &self,
        dir: &Path,
        options: BTreeMap<String, serde_yaml::Value>,
    ) -> crate::Result<RunRecord> {
        let mut record = self.record(options);
        let typed: Vec<&str> = self
            .commands
            .iter()
            .chain(&self.running)
            .map(String::as_str)
            .collect();
        if record.script.is_empty() && !typed.is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
            let path = dir.join("session.rhai");
            let text = format!(
                "// The commands of an interactive gaxsh session, in order (written by report/record_run).\nlet {} = ();\n{}\n",
                LAST_RESULT,
                typed.join("\n")
            );
            crate::io::write_atomic(&path, text.as_bytes())?;
            let path = std::fs::canonicalize(&path).unwrap_or(path);
            record.inputs.extend(checksums(std::slice::from_ref(&path)));
            record.script = path.display().to_string();
        }
        Ok(record)
    }

    /// The run record so far: `options` are the script's, with their final values.
    pub fn record(&self, options: BTreeMap<String, serde_yaml::Value>) -> RunRecord {
        let mut notes: Vec<String> = Vec::new();
        for n in self.data.iter().flat_map(|d| &d.notes) {
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
        let mut inputs = crate::io::inputs();
        if !self.script.is_empty() {
            let script = PathBuf::from(&self.script);
            inputs.push(std::fs::canonicalize(&script).unwrap_or(script));
        }
        RunRecord {
            script: self.script.clone(),
            options,
            seed: crate::tensor::random::current_seed(),
            gaxsh_version: env!("CARGO_PKG_VERSION").to_string(),
            started: self.started.clone(),
            threads: crate::threads::current(),
            data: self.data.iter().map(DataRecord::from).collect(),
            notes,
            settings: self.settings.iter().cloned().collect(),
            inputs: checksums(&inputs),
            commit: source_commit(),
        }
    }
}
