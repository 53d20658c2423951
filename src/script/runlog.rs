//! What a script has done so far, so that `report(dir)` can write it up without the script
//! passing everything along: the options, the data loaded, training and evaluation summaries,
//! sweeps, GAX runs and the plots written, in order.

use crate::data::Provenance;
use crate::report::Section;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where figures go to be seen as they are written: nowhere in the CLI (the path is printed), a
/// `display_data` message in the Jupyter kernel.
pub type DisplaySink = Arc<dyn Fn(&Path) + Send + Sync>;

#[derive(Default)]
pub struct RunLog {
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
}

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

    pub fn add_plot(&mut self, path: &Path, caption: &str) {
        if let Some(show) = &self.display {
            show(path);
        }
        self.plots.push(path.to_path_buf());
        self.sections.push(Section::Figure {
            caption: caption.to_string(),
            path: path.to_path_buf(),
        });
    }

    pub fn add_text(&mut self, title: &str, body: &str) {
        self.sections.push(Section::Text {
            title: title.to_string(),
            body: body.to_string(),
        });
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.settings.retain(|(k, _)| k != key);
        self.settings.push((key.to_string(), value.to_string()));
    }
}
