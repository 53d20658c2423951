//! Charts and heatmap images, written as PNG or SVG (by the file extension), with an embedded
//! font (DejaVu Sans through ab_glyph), so nothing depends on system libraries or fonts.
//!
//! This module knows nothing of CO scores or GAX: it draws numbers. `report/` turns sweeps and
//! GAX runs into these charts.

pub mod charts;
pub mod colormap;
pub mod heatmap;

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The font family every chart uses; registered once from the embedded DejaVu Sans.
pub const FONT: &str = "sans-serif";

pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Something that can draw itself on any plotters backend.
/// A tick or scale label for `v` on an axis whose ticks are `step` apart: as many decimals as
/// the step needs (so ticks 1e-5 apart do not all read "0.00"), none for whole steps (iteration
/// axes read 0, 50, 100, never 3500.0), scientific notation for very large or small values,
/// and never "-0".
pub fn tick_label(v: f64, step: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let step = step.abs();
    let v = if v.abs() < step * 1e-9 { 0.0 } else { v };
    let magnitude = v.abs().max(step);
    if magnitude != 0.0 && !(1e-4..1e6).contains(&magnitude) {
        // Mantissa decimals: as many as the step is below the value's order of magnitude.
        let order = |x: f64| x.abs().log10().floor();
        let digits = if step > 0.0 && v != 0.0 {
            (order(v) - order(step)).clamp(0.0, 6.0) as usize
        } else {
            0
        };
        return format!("{v:.digits$e}");
    }
    let decimals = if step > 0.0 && step.fract().abs() > 1e-9 {
        (-step.log10().floor()).clamp(0.0, 12.0) as usize
    } else {
        0
    };
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

pub trait Chart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

pub(crate) fn perr<E: std::fmt::Display>(e: E) -> Error {
    Error::invalid(format!("plot: {e}"))
}

/// The output format of a path: `.png` or `.svg`.
pub fn format_of(path: &Path) -> Result<&'static str> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("png") => Ok("png"),
        Some("svg") => Ok("svg"),
        _ => Err(Error::unknown(
            "plot file type",
            &path.display().to_string(),
            &[".png", ".svg"],
        )),
    }
}

/// Render a chart into `path` (PNG or SVG), written whole or not at all.
pub fn save<C: Chart>(chart: &C, path: &Path, size: (u32, u32)) -> Result<()> {
    ensure_font();
    match format_of(path)? {
        "svg" => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
                root.fill(&WHITE).map_err(perr)?;
                chart.draw(&root)?;
                root.present().map_err(perr)?;
            }
            crate::io::write_atomic(path, s.as_bytes())
        }
        _ => {
            let mut buf = vec![255u8; (size.0 * size.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                root.fill(&WHITE).map_err(perr)?;
                chart.draw(&root)?;
                root.present().map_err(perr)?;
            }
            write_png(path, size.0, size.1, buf)
        }
    }
}

/// Encode RGB pixels as PNG and write them atomically.
pub fn write_png(path: &Path, w: u32, h: u32, rgb: Vec<u8>) -> Result<()> {
    let img = image::RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| Error::invalid("plot: pixel buffer of the wrong size"))?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(perr)?;
    crate::io::write_atomic(path, bytes.get_ref())
}

/// The colours of the series, in order (matplotlib's tab10).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

#[cfg(test)]
mod tests {
    use super::tick_label;

    #[test]
    fn tick_labels_fit_their_axis() {
        assert_eq!(tick_label(3500.0, 500.0), "3500");
        assert_eq!(tick_label(-0.0001, 0.5), "0.0");
        assert_eq!(tick_label(-1e-12, 0.5), "0.0");
        assert_eq!(tick_label(0.25, 0.05), "0.25");
        assert_eq!(tick_label(2e-5, 1e-5), "2e-5");
        assert_eq!(tick_label(-3e-5, 1e-5), "-3e-5");
        assert_eq!(tick_label(50.0, 10.0), "50");
        assert_eq!(tick_label(1.5e7, 5e6), "1.5e7");
    }
}
