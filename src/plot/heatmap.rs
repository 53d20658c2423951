//! Heatmap images as in the paper's Fig. 5: one panel per channel in a diverging colour map
//! with symmetric limits, a colour bar and the "abs max" label, optionally over the input image;
//! tabular heatmaps as a column of labelled cells.

use super::colormap::ColorMap;
use super::{FONT, ensure_font, perr};
use crate::error::{Error, Result};
use candle_core::Tensor;
use plotters::prelude::*;
use std::path::Path;

crate::options! {
    /// How a heatmap is drawn (the options of `heatmap`).
    pub struct HeatmapSpec {
        "title" => title: String = String::new(); Text, "\"\"", "the figure's title", |v| v.text()?;
        "cmap" => cmap: ColorMap = ColorMap::Bwr; Text, "\"bwr\"", "colour map: bwr (diverging), reds, blues, gray", |v| ColorMap::parse(&v.text()?)?;
        "limit" => limit: Option<f64> = None; Float, "max |h|", "colour limit, symmetric about 0", |v| Some(v.f64()?);
        "names" => names: Vec<String> = vec![]; Texts, "[]", "panel titles (channels) or row labels (features)", |v| v.texts()?;
        "image" => image: Option<Tensor> = None; Floats, "none", "the input image (C, H, W) in [0, 1], drawn under the heatmap", |v| Some(v.tensor()?);
        "alpha" => alpha: f64 = 0.8; Float, "0.8", "heatmap opacity over the image", |v| v.f64()?;
        "panel" => panel: u32 = 224; Int, "224", "shortest panel side in pixels (panels are scaled up to it)", |v| panel_side(&v)?;
    }
}

/// A panel side in pixels, 16 to 2048 (beyond, the image check refuses the drawing anyway).
fn panel_side(v: &crate::options::Given) -> Result<u32> {
    match v.usize()? {
        n @ 16..=2048 => Ok(n as u32),
        n => Err(Error::OutOfRange {
            what: "option 'panel'".into(),
            value: n.to_string(),
            valid: "16..=2048 pixels".into(),
        }),
    }
}

impl HeatmapSpec {
    /// The overlay image as (C, H, W) values, a leading batch axis of 1 dropped.
    fn overlay(&self) -> Result<Option<(Vec<f64>, Vec<usize>)>> {
        let Some(t) = &self.image else {
            return Ok(None);
        };
        let t = match t.dims() {
            [1, _, _, _] => t.squeeze(0)?,
            [_, _] => t.unsqueeze(0)?,
            [_, _, _] => t.clone(),
            other => {
                return Err(Error::invalid(format!(
                    "heatmap option 'image': expected (C, H, W) or (H, W), got shape {other:?}"
                )));
            }
        };
        Ok(Some((
            crate::tensor::ops::to_f64_vec(&t)?,
            t.dims().to_vec(),
        )))
    }
}

/// A tensor's heatmap: leading batch axes of size 1 dropped ((1, C, H, W) → (C, H, W),
/// (1, d) → (d)), then drawn as `heatmap_png` draws values.
pub fn tensor_png(t: &Tensor, spec: &HeatmapSpec, path: &Path) -> Result<()> {
    let mut t = t.clone();
    while t.rank() > 1 && t.dim(0)? == 1 && t.rank() != 3 {
        t = t.squeeze(0)?;
    }
    let values = crate::tensor::ops::to_f64_vec(&t)?;
    heatmap_png(&values, t.dims(), spec, path)
}

/// Draw a heatmap of shape (C, H, W), (H, W) or (d) into a PNG.
pub fn heatmap_png(values: &[f64], dims: &[usize], spec: &HeatmapSpec, path: &Path) -> Result<()> {
    if super::format_of(path)? != "png" {
        return Err(Error::invalid("heatmaps are written as .png"));
    }
    if dims.contains(&0) || values.is_empty() {
        return Err(Error::invalid(format!(
            "heatmap: nothing to draw (shape {dims:?})"
        )));
    }
    ensure_font();
    let maxabs = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let limit = spec.limit.unwrap_or(maxabs);
    match dims {
        [d] => strip(values, *d, spec, limit, maxabs, path),
        [h, w] => panels(values, 1, *h, *w, spec, limit, maxabs, path),
        [c, h, w] => panels(values, *c, *h, *w, spec, limit, maxabs, path),
        other => Err(Error::invalid(format!(
            "heatmap: expected (C, H, W), (H, W) or (d), got {other:?}"
        ))),
    }
}

/// The largest side a drawn image may have, in pixels.
pub const MAX_SIDE: usize = 16_384;

/// An image size in pixels, refused beyond `MAX_SIDE` or the memory budget.
fn image_size(what: &str, width: usize, height: usize) -> Result<(u32, u32)> {
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::invalid(format!(
            "{what}: a {width}×{height} image is too large to draw (at most {MAX_SIDE} pixels a side)"
        )));
    }
    crate::limits::check(what, width * height, 3)?;
    Ok((width as u32, height as u32))
}

fn label_of(spec: &HeatmapSpec, i: usize, default: String) -> String {
    spec.names.get(i).cloned().unwrap_or(default)
}

#[allow(clippy::too_many_arguments)]
fn panels(
    v: &[f64],
    c: usize,
    h: usize,
    w: usize,
    spec: &HeatmapSpec,
    limit: f64,
    maxabs: f64,
    path: &Path,
) -> Result<()> {
    let overlay = spec.overlay()?;
    // An image of another size cannot lie under the heatmap: say so rather than drop it.
    if let Some((_, d)) = &overlay
        && (d[1], d[2]) != (h, w)
    {
        return Err(Error::ShapeMismatch {
            op: "heatmap over image".into(),
            lhs: vec![h, w],
            rhs: d.clone(),
        });
    }
    let scale = ((spec.panel as usize).div_ceil(h.max(1))).max(1);
    let (gap, top, bar) = (16usize, 56usize, 70usize);
    let width = c
        .saturating_mul(w.saturating_mul(scale).saturating_add(gap))
        .saturating_add(gap + bar);
    let height = h.saturating_mul(scale).saturating_add(top + 30);
    let (width, height) = image_size("heatmap", width, height)?;
    let scale = scale as u32;
    let (ph, pw) = (h as u32 * scale, w as u32 * scale);
    let (gap, top, bar) = (gap as u32, top as u32, bar as u32);
    let mut buf = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.draw_text(
            &headline(&spec.title, maxabs),
            &(FONT, 17).into_text_style(&root),
            (gap as i32, 8),
        )
        .map_err(perr)?;
        for ch in 0..c {
            let x0 = gap + ch as u32 * (pw + gap);
            root.draw_text(
                &label_of(
                    spec,
                    ch,
                    if c == 3 {
                        ["R", "G", "B"][ch].to_string()
                    } else {
                        format!("channel {ch}")
                    },
                ),
                &(FONT, 14).into_text_style(&root),
                (x0 as i32, 32),
            )
            .map_err(perr)?;
            for y in 0..h {
                if y % 64 == 0 {
                    crate::interrupt::check()?;
                }
                for x in 0..w {
                    let val = v[ch * h * w + y * w + x];
                    let mut rgb = spec.cmap.color(val, limit);
                    if let Some((img, d)) = &overlay {
                        // Image luminance under the heatmap (alpha blend).
                        let (ic, ih, iw) = (d[0], d[1], d[2]);
                        if (ih, iw) == (h, w) {
                            let g = (0..ic).map(|k| img[k * h * w + y * w + x]).sum::<f64>()
                                / ic as f64;
                            let a = spec.alpha;
                            for k in &mut rgb {
                                *k = (a * *k as f64 + (1.0 - a) * g * 255.0)
                                    .round()
                                    .clamp(0.0, 255.0) as u8;
                            }
                        }
                    }
                    let color = RGBColor(rgb[0], rgb[1], rgb[2]);
                    let (px, py) = (x0 + x as u32 * scale, top + y as u32 * scale);
                    root.draw(&Rectangle::new(
                        [
                            (px as i32, py as i32),
                            ((px + scale) as i32, (py + scale) as i32),
                        ],
                        color.filled(),
                    ))
                    .map_err(perr)?;
                }
            }
        }
        colorbar(&root, width - bar + 10, top, ph, spec.cmap, limit)?;
        root.present().map_err(perr)?;
    }
    super::write_png(path, width, height, buf)
}

fn colorbar<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    x: u32,
    y: u32,
    h: u32,
    cmap: ColorMap,
    limit: f64,
) -> Result<()> {
    let lo = if cmap == ColorMap::Bwr { -limit } else { 0.0 };
    for i in 0..h {
        let v = limit - (limit - lo) * i as f64 / (h.max(2) - 1) as f64;
        let c = cmap.color(v, limit);
        root.draw(&Rectangle::new(
            [
                (x as i32, (y + i) as i32),
                ((x + 14) as i32, (y + i + 1) as i32),
            ],
            RGBColor(c[0], c[1], c[2]).filled(),
        ))
        .map_err(perr)?;
    }
    let style = (FONT, 12).into_text_style(root);
    for (v, dy) in [(limit, 0), ((limit + lo) / 2.0, h / 2), (lo, h - 10)] {
        root.draw_text(
            &super::tick_label(v, (limit - lo).abs() / 2.0),
            &style,
            ((x + 17) as i32, (y + dy) as i32),
        )
        .map_err(perr)?;
    }
    Ok(())
}

/// Tabular heatmaps: one labelled cell per feature, with its value.
fn strip(
    v: &[f64],
    d: usize,
    spec: &HeatmapSpec,
    limit: f64,
    maxabs: f64,
    path: &Path,
) -> Result<()> {
    let row = 22u32;
    let name_w = 150u32;
    let cell_w = 120u32;
    let (top, bar) = (40u32, 70u32);
    let width = name_w + cell_w + 90 + bar;
    let (_, height) = image_size(
        "heatmap",
        width as usize,
        d.saturating_mul(row as usize)
            .saturating_add(top as usize + 16),
    )?;
    let mut buf = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.draw_text(
            &headline(&spec.title, maxabs),
            &(FONT, 15).into_text_style(&root),
            (8, 10),
        )
        .map_err(perr)?;
        let style = (FONT, 13).into_text_style(&root);
        for (i, &value) in v.iter().enumerate().take(d) {
            let y = top + i as u32 * row;
            root.draw_text(
                &label_of(spec, i, format!("feature {i}")),
                &style,
                (8, (y + 4) as i32),
            )
            .map_err(perr)?;
            let c = spec.cmap.color(value, limit);
            root.draw(&Rectangle::new(
                [
                    (name_w as i32, y as i32),
                    ((name_w + cell_w) as i32, (y + row - 2) as i32),
                ],
                RGBColor(c[0], c[1], c[2]).filled(),
            ))
            .map_err(perr)?;
            root.draw_text(
                &if value != 0.0 && value.abs() < 1e-3 {
                    format!("{value:+.2e}")
                } else {
                    format!("{value:+.3}")
                },
                &style,
                ((name_w + cell_w + 8) as i32, (y + 4) as i32),
            )
            .map_err(perr)?;
        }
        colorbar(
            &root,
            width - bar + 6,
            top,
            d as u32 * row - 2,
            spec.cmap,
            limit,
        )?;
        root.present().map_err(perr)?;
    }
    super::write_png(path, width, height, buf)
}

/// The line above a heatmap: its title, then the scale every colour is relative to.
fn headline(title: &str, maxabs: f64) -> String {
    if title.is_empty() {
        format!("abs max: {maxabs:.4}")
    } else {
        format!("{title}   abs max: {maxabs:.4}")
    }
}
