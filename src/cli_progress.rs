//! The terminal's progress display: one indicatif bar on stderr per running task, with the
//! task's latest message (epoch, loss, accuracy…), rate and ETA. Without a terminal (a Slurm
//! log, CI) it prints a heartbeat line every `GAXSH_HEARTBEAT` seconds (30 by default, 0 for
//! none) so the log shows life, and the last message once the task ends.

use crate::progress::Reporter;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The task being shown.
struct Shown {
    bar: ProgressBar,
    label: String,
    last: String,
    total: u64,
    started: Instant,
    last_beat: Instant,
}

pub struct TerminalProgress {
    /// The outermost running task, and how many tasks run inside it (an attribution inside a
    /// sweep): those are not shown, so the outer bar stays whole.
    state: Mutex<(Option<Shown>, usize)>,
    tty: bool,
    /// Seconds between heartbeat lines when stderr is not a terminal (`None`: none).
    heartbeat: Option<Duration>,
}

/// `GAXSH_HEARTBEAT`: seconds between heartbeat lines (default 30; 0 turns them off).
fn heartbeat_interval() -> Option<Duration> {
    let secs = match std::env::var("GAXSH_HEARTBEAT") {
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => s,
            _ => {
                eprintln!("gaxsh: GAXSH_HEARTBEAT='{v}' is not a number of seconds; using 30");
                30.0
            }
        },
        Err(_) => 30.0,
    };
    (secs > 0.0).then(|| Duration::from_secs_f64(secs.min(1e6)))
}

impl TerminalProgress {
    pub fn new() -> Self {
        TerminalProgress {
            state: Mutex::new((None, 0)),
            tty: std::io::stderr().is_terminal(),
            heartbeat: heartbeat_interval(),
        }
    }
}

/// "1m05s" / "42s".
fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

impl Shown {
    /// "AX sweep: 40/100 (40%), 2.1/s, 28s elapsed, ETA 28s: batch 4/10, DeepLift".
    fn heartbeat(&self, done: u64) -> String {
        let elapsed = self.started.elapsed();
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
        let mut s = format!("{}: {done}/{}", self.label, self.total);
        if self.total > 0 {
            s.push_str(&format!(
                " ({:.0}%)",
                100.0 * done as f64 / self.total as f64
            ));
        }
        s.push_str(&format!(
            ", {rate:.3}/s, {} elapsed",
            duration_text(elapsed)
        ));
        if done > 0 && done < self.total {
            let left = (self.total - done) as f64 / rate;
            s.push_str(&format!(
                ", ETA {}",
                duration_text(Duration::from_secs_f64(left.min(1e9)))
            ));
        }
        if !self.last.is_empty() {
            s.push_str(&format!(": {}", self.last));
        }
        s
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for TerminalProgress {
    fn start(&self, label: &str, total: u64) {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.0.is_some() {
                state.1 += 1;
                return;
            }
        }
        let bar = if self.tty {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} {per_sec} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(label.to_string());
            b
        } else {
            ProgressBar::hidden()
        };
        let now = Instant::now();
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = Some(Shown {
            bar,
            label: label.to_string(),
            last: String::new(),
            total,
            started: now,
            last_beat: now,
        });
    }

    fn update(&self, done: u64, message: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.1 > 0 {
            return;
        }
        if let Some(shown) = state.0.as_mut() {
            shown.bar.set_position(done);
            if shown.last != message {
                shown.bar.set_message(message.to_string());
                shown.last = message.to_string();
            }
            if let Some(every) = self.heartbeat.filter(|_| !self.tty)
                && shown.last_beat.elapsed() >= every
            {
                shown.last_beat = Instant::now();
                eprintln!("{}", shown.heartbeat(done));
            }
        }
    }

    fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.1 > 0 {
            state.1 -= 1;
            return;
        }
        if let Some(shown) = state.0.take() {
            if self.tty {
                shown.bar.finish_and_clear();
            }
            if !shown.last.is_empty() {
                eprintln!(
                    "{}: {} ({})",
                    shown.label,
                    shown.last,
                    duration_text(shown.started.elapsed())
                );
            }
        }
    }
}
