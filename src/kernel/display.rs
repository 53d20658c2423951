//! What the kernel shows besides text: figure files as `display_data`, and long loops as one
//! progress display updated in place (`update_display_data`).

use super::outbox::Outbox;
use base64::Engine as _;
use jupyter_protocol::{DisplayData, Media, MediaType, Transient, UpdateDisplayData};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A figure file as notebook media: the image, and its path as the text fallback.
pub fn figure(path: &Path) -> std::io::Result<Media> {
    let bytes = std::fs::read(path)?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let b64 = || base64::engine::general_purpose::STANDARD.encode(&bytes);
    let image = match ext.as_str() {
        "png" => MediaType::Png(b64()),
        "jpg" | "jpeg" => MediaType::Jpeg(b64()),
        "svg" => MediaType::Svg(String::from_utf8_lossy(&bytes).into_owned()),
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a .png, .jpg or .svg figure",
            ));
        }
    };
    Ok(Media {
        content: vec![
            image,
            MediaType::Plain(format!("<figure {}>", path.display())),
        ],
    })
}

/// Shortest time between two redraws of a progress display.
const REDRAW: Duration = Duration::from_millis(250);

struct Bar {
    id: String,
    label: String,
    total: u64,
    done: u64,
    message: String,
    drawn: Instant,
}

/// The kernel's progress reporter: each task gets one display, redrawn in place at most every
/// [`REDRAW`]. Tasks nest (a sweep runs attribution chunks); updates go to the innermost.
pub struct Progress {
    outbox: Outbox,
    bars: Mutex<Vec<Bar>>,
    next_id: Mutex<u64>,
}

impl Progress {
    pub fn new(outbox: Outbox) -> Progress {
        Progress {
            outbox,
            bars: Mutex::new(Vec::new()),
            next_id: Mutex::new(0),
        }
    }
}

fn media(bar: &Bar, finished: bool) -> Media {
    let total = bar.total.max(1);
    let frac = (bar.done as f64 / total as f64).clamp(0.0, 1.0);
    let width = 30;
    let filled = (frac * width as f64).round() as usize;
    let state = match (finished, bar.done >= bar.total) {
        (true, true) => " done",
        (true, false) => " stopped", // early stop, interrupt or error
        (false, _) => "",
    };
    let text = format!(
        "{} [{}{}] {}/{}{} {}",
        bar.label,
        "=".repeat(filled),
        " ".repeat(width - filled),
        bar.done,
        bar.total,
        state,
        bar.message
    );
    let html = format!(
        "<div style=\"font-family:monospace\">{} <progress value=\"{}\" max=\"{}\" style=\"width:16em\"></progress> {}/{}{} {}</div>",
        escape(&bar.label),
        bar.done,
        total,
        bar.done,
        bar.total,
        state,
        escape(&bar.message)
    );
    Media {
        content: vec![
            MediaType::Plain(text.trim_end().to_string()),
            MediaType::Html(html),
        ],
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl crate::progress::Reporter for Progress {
    fn start(&self, label: &str, total: u64) {
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            format!("gaxsh-progress-{}-{}", std::process::id(), *n)
        };
        let bar = Bar {
            id: id.clone(),
            label: label.to_string(),
            total,
            done: 0,
            message: String::new(),
            drawn: Instant::now(),
        };
        let mut d = DisplayData::new(media(&bar, false));
        d.transient = Some(Transient {
            display_id: Some(id),
        });
        self.outbox.send(d);
        self.bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(bar);
    }

    fn update(&self, done: u64, message: &str) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bar) = bars.last_mut() {
            bar.done = done;
            bar.message = message.to_string();
            if bar.drawn.elapsed() >= REDRAW {
                bar.drawn = Instant::now();
                self.outbox
                    .send(UpdateDisplayData::new(media(bar, false), &bar.id));
            }
        }
    }

    fn finish(&self) {
        let bar = self.bars.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(bar) = bar {
            self.outbox
                .send(UpdateDisplayData::new(media(&bar, true), &bar.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_media_carries_the_image_and_a_text_fallback() {
        let dir = std::env::temp_dir().join(format!("gaxsh-kernel-fig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("f.png");
        crate::plot::write_png(&png, 2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
        let m = figure(&png).unwrap();
        let MediaType::Png(b64) = &m.content[0] else {
            panic!("expected a PNG first, got {:?}", m.content[0])
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(matches!(&m.content[1], MediaType::Plain(t) if t.contains("f.png")));
        assert!(figure(&dir.join("f.txt")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn progress_text_shows_counts_and_state() {
        let bar = Bar {
            id: "x".into(),
            label: "train".into(),
            total: 4,
            done: 2,
            message: "loss 0.5".into(),
            drawn: Instant::now(),
        };
        let MediaType::Plain(t) = &media(&bar, false).content[0] else {
            panic!()
        };
        assert_eq!(
            t,
            &format!("train [{}{}] 2/4 loss 0.5", "=".repeat(15), " ".repeat(15))
        );
        let done = Bar { done: 4, ..bar };
        let MediaType::Plain(t) = &media(&done, true).content[0] else {
            panic!()
        };
        assert!(t.contains("4/4 done"), "{t}");
    }
}
