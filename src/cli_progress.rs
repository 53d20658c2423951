//! The terminal's progress display: one indicatif bar on stderr per running task, with the
//! task's latest message (epoch, loss, accuracy…). Without a terminal (logs, CI) it prints the
//! last message once the task ends instead of redrawing.

use crate::progress::Reporter;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

pub struct TerminalProgress {
    state: Mutex<Option<(ProgressBar, String, String)>>,
    tty: bool,
}

impl TerminalProgress {
    pub fn new() -> Self {
        TerminalProgress {
            state: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
        }
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for TerminalProgress {
    fn start(&self, label: &str, total: u64) {
        let bar = if self.tty {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(label.to_string());
            b
        } else {
            ProgressBar::hidden()
        };
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((bar, label.to_string(), String::new()));
    }

    fn update(&self, done: u64, message: &str) {
        if let Some((bar, _, last)) = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            bar.set_position(done);
            if last != message {
                bar.set_message(message.to_string());
                *last = message.to_string();
            }
        }
    }

    fn finish(&self) {
        if let Some((bar, label, last)) =
            self.state.lock().unwrap_or_else(|p| p.into_inner()).take()
        {
            if self.tty {
                bar.finish_and_clear();
            }
            if !last.is_empty() {
                eprintln!("{label}: {last}");
            }
        }
    }
}
