//! General charts: grouped box plots, overlaid histograms, lines, scatter, bars.

use super::{Chart, FONT, PALETTE, perr};
use crate::error::{Error, Result};
use crate::stats::quantile;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Axis labels and title shared by every chart.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    pub title: String,
    pub x: String,
    pub y: String,
}

crate::options! {
    /// The options every chart takes (`line`, `scatter`, `bar`, `histogram`, `boxplot`); each
    /// chart has its own default axis labels and size.
    pub struct ChartOptions {
        "title" => title: String = String::new(); Text, "\"\"", "the chart's title", |v| v.text()?;
        "xlabel" => xlabel: Option<String> = None; Text, "the chart's", "the x axis label", |v| Some(v.text()?);
        "ylabel" => ylabel: Option<String> = None; Text, "the chart's", "the y axis label", |v| Some(v.text()?);
        "size" => size: Option<(u32, u32)> = None; Ints, "the chart's", "[width, height] in pixels, 50 to 8000", |v| Some(chart_size(&v.f64s()?)?);
    }
}

fn chart_size(v: &[f64]) -> Result<(u32, u32)> {
    match *v {
        [w, h] if [w, h].iter().all(|x| (50.0..=8000.0).contains(x)) => Ok((w as u32, h as u32)),
        _ => Err(Error::invalid(
            "size: [width, height] in pixels, 50 to 8000",
        )),
    }
}

impl ChartOptions {
    /// The labels, the chart's own defaults where none is given.
    pub fn labels(&self, x: &str, y: &str) -> Labels {
        Labels {
            title: self.title.clone(),
            x: self.xlabel.clone().unwrap_or_else(|| x.into()),
            y: self.ylabel.clone().unwrap_or_else(|| y.into()),
        }
    }

    pub fn size_or(&self, default: (u32, u32)) -> (u32, u32) {
        self.size.unwrap_or(default)
    }
}

/// The chart of some values: title, axes and their descriptions, the same for every chart.
type Frame<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

impl Labels {
    /// Draw the frame every chart shares and return it for the series. With `categories`, the
    /// x axis names them at 0, 1, 2 … instead of showing numbers (box plots, bars).
    fn frame<'a, DB: DrawingBackend>(
        &self,
        root: &'a DrawingArea<DB, Shift>,
        x: std::ops::Range<f64>,
        y: std::ops::Range<f64>,
        y_desc: &str,
        categories: Option<&[String]>,
    ) -> Result<Frame<'a, DB>> {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(x.clone(), y.clone())
            .map_err(perr)?;
        let (x_range, y_range) = (x, y);
        let category_name = |v: &f64| {
            let i = v.round();
            match categories {
                Some(c) if (v - i).abs() < 1e-6 && i >= 0.0 => {
                    c.get(i as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(&self.x)
            .y_desc(y_desc)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15));
        // Ticks labelled to the precision their spacing needs (about 10 per axis).
        let x_step = (x_range.end - x_range.start) / 10.0;
        let y_step = (y_range.end - y_range.start) / 10.0;
        let x_number = |v: &f64| super::tick_label(*v, x_step);
        let y_number = |v: &f64| super::tick_label(*v, y_step);
        mesh.y_label_formatter(&y_number);
        if let Some(c) = categories {
            mesh.disable_x_mesh()
                .x_labels(c.len().max(1))
                .x_label_formatter(&category_name);
        } else {
            mesh.x_label_formatter(&x_number);
        }
        mesh.draw().map_err(perr)?;
        Ok(chart)
    }
}

/// The legend of the labelled series, in a white box.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Frame<'a, DB>,
    at: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(at)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(perr)
}

fn finite(v: &[f64]) -> Vec<f64> {
    v.iter().copied().filter(|x| x.is_finite()).collect()
}

/// Widest span of values an axis is drawn for: beyond it the tick arithmetic of the plotting
/// library loses all precision (a span of 2e308 overflowed to infinity and its tick loop never
/// ended).
const MAX_SPAN: f64 = 1e300;

/// The padded range of some values (never empty); values spanning more than [`MAX_SPAN`] are
/// an error naming the extremes.
fn range(values: impl Iterator<Item = f64>) -> Result<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return Ok((0.0, 1.0));
    }
    let span = hi - lo;
    if !span.is_finite() || span > MAX_SPAN || lo.abs() > MAX_SPAN || hi.abs() > MAX_SPAN {
        return Err(Error::invalid(format!(
            "values from {lo:e} to {hi:e} are too far apart to draw on one axis (at most {MAX_SPAN:e})"
        )));
    }
    if span < 1e-12 * lo.abs().max(1.0) {
        // One value: a unit around it, wider where ±0.5 would vanish in its precision.
        let half = (lo.abs() * 1e-6).max(0.5);
        return Ok((lo - half, hi + half));
    }
    let pad = span * 0.05;
    Ok((lo - pad, hi + pad))
}

/// Box plots grouped by category (x) and series (colour): Tukey whiskers at 1.5 IQR, outliers
/// as dots, the median as a bar, n under each box.
#[derive(Clone, Debug, Default)]
pub struct BoxPlot {
    pub labels: Labels,
    pub categories: Vec<String>,
    pub series: Vec<String>,
    /// values[category][series]
    pub values: Vec<Vec<Vec<f64>>>,
}

impl Chart for BoxPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let n = self.categories.len().max(1);
        let s = self.series.len().max(1);
        let (lo, hi) = range(self.values.iter().flatten().flatten().copied())?;
        let mut chart = self.labels.frame(
            root,
            -0.5..(n as f64 - 0.5),
            lo..hi,
            &self.labels.y,
            Some(&self.categories),
        )?;
        let width = 0.8 / s as f64;
        for (si, name) in self.series.iter().enumerate() {
            crate::interrupt::check()?;
            let color = PALETTE[si % PALETTE.len()];
            let mut first = true;
            for (ci, per_series) in self.values.iter().enumerate() {
                let Some(vals) = per_series.get(si) else {
                    continue;
                };
                let mut v = finite(vals);
                if v.is_empty() {
                    continue;
                }
                v.sort_by(f64::total_cmp);
                let (q1, med, q3) = (quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75));
                let iqr = q3 - q1;
                let lo_w = v
                    .iter()
                    .copied()
                    .find(|&x| x >= q1 - 1.5 * iqr)
                    .unwrap_or(v[0]);
                let hi_w = v
                    .iter()
                    .rev()
                    .copied()
                    .find(|&x| x <= q3 + 1.5 * iqr)
                    .unwrap_or(v[v.len() - 1]);
                let cx = ci as f64 - 0.4 + width * (si as f64 + 0.5);
                let (l, r) = (cx - width * 0.4, cx + width * 0.4);
                let body = chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(l, q1), (r, q3)],
                        color.mix(0.35).filled(),
                    )))
                    .map_err(perr)?;
                if first {
                    body.label(name.clone()).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.mix(0.6).filled())
                    });
                    first = false;
                }
                let stroke = color.stroke_width(2);
                chart
                    .draw_series([
                        PathElement::new(
                            vec![(l, q1), (r, q1), (r, q3), (l, q3), (l, q1)],
                            color.stroke_width(1),
                        ),
                        PathElement::new(vec![(l, med), (r, med)], stroke),
                        PathElement::new(vec![(cx, q3), (cx, hi_w)], color.stroke_width(1)),
                        PathElement::new(vec![(cx, q1), (cx, lo_w)], color.stroke_width(1)),
                        PathElement::new(
                            vec![(cx - width * 0.2, hi_w), (cx + width * 0.2, hi_w)],
                            color.stroke_width(1),
                        ),
                        PathElement::new(
                            vec![(cx - width * 0.2, lo_w), (cx + width * 0.2, lo_w)],
                            color.stroke_width(1),
                        ),
                    ])
                    .map_err(perr)?;
                chart
                    .draw_series(
                        v.iter()
                            .filter(|&&x| x < lo_w || x > hi_w)
                            .map(|&x| Circle::new((cx, x), 2, color.filled())),
                    )
                    .map_err(perr)?;
            }
        }
        if self.series.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

/// Histograms of several samples overlaid on common bins.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    pub labels: Labels,
    pub series: Vec<(String, Vec<f64>)>,
    pub bins: usize,
}

/// More bins than a chart has pixels draw nothing more.
pub const MAX_BINS: usize = 10_000;

impl Chart for Histogram {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        if self.bins == 0 || self.bins > MAX_BINS {
            return Err(Error::invalid(format!(
                "histogram: {} bins; give 1 to {MAX_BINS}",
                self.bins
            )));
        }
        let bins = self.bins;
        let (lo, hi) = range(self.series.iter().flat_map(|(_, v)| v.iter().copied()))?;
        let w = (hi - lo) / bins as f64;
        let counts: Vec<Vec<usize>> = self
            .series
            .iter()
            .map(|(_, v)| {
                let mut c = vec![0usize; bins];
                for x in finite(v) {
                    c[(((x - lo) / w) as usize).min(bins - 1)] += 1;
                }
                c
            })
            .collect();
        let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.08;
        let y_desc = if self.labels.y.is_empty() {
            "count"
        } else {
            &self.labels.y
        };
        let mut chart = self.labels.frame(root, lo..hi, 0.0..top, y_desc, None)?;
        for (si, ((name, _), c)) in self.series.iter().zip(&counts).enumerate() {
            let color = PALETTE[si % PALETTE.len()];
            chart
                .draw_series(c.iter().enumerate().map(|(b, &k)| {
                    let x0 = lo + b as f64 * w;
                    Rectangle::new([(x0, 0.0), (x0 + w, k as f64)], color.mix(0.35).filled())
                }))
                .map_err(perr)?
                .label(format!("{name} (n = {})", finite(&self.series[si].1).len()))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.mix(0.6).filled())
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

/// Line series; many unlabelled thin lines (GAX trajectories) or a few labelled ones.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    pub labels: Labels,
    /// (label, x, y); an empty label is not listed in the legend.
    pub series: Vec<(String, Vec<f64>, Vec<f64>)>,
    /// Horizontal reference lines (label, y).
    pub hlines: Vec<(String, f64)>,
    pub points: bool,
}

impl Chart for Lines {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        if let Some((name, x, y)) = self.series.iter().find(|(_, x, y)| x.len() != y.len()) {
            return Err(Error::invalid(format!(
                "line '{name}': {} x values and {} y values",
                x.len(),
                y.len()
            )));
        }
        let (x0, x1) = range(self.series.iter().flat_map(|s| s.1.iter().copied()))?;
        let (y0, y1) = range(
            self.series
                .iter()
                .flat_map(|s| s.2.iter().copied())
                .chain(self.hlines.iter().map(|h| h.1)),
        )?;
        let mut chart = self
            .labels
            .frame(root, x0..x1, y0..y1, &self.labels.y, None)?;
        let many = self.series.len() > 10;
        let mut legend = false;
        for (i, (name, xs, ys)) in self.series.iter().enumerate() {
            crate::interrupt::check()?;
            let color = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64)> = xs
                .iter()
                .zip(ys)
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(&a, &b)| (a, b))
                .collect();
            let style = if many {
                color.mix(0.6).stroke_width(1)
            } else {
                color.stroke_width(2)
            };
            let s = chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(perr)?;
            if !name.is_empty() {
                legend = true;
                s.label(name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            }
            if self.points {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(perr)?;
            }
        }
        for (name, y) in &self.hlines {
            let s = chart
                .draw_series(LineSeries::new(
                    vec![(x0, *y), (x1, *y)],
                    BLACK.stroke_width(1),
                ))
                .map_err(perr)?;
            if !name.is_empty() {
                legend = true;
                s.label(name.clone()).legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1))
                });
            }
        }
        if legend {
            draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        }
        Ok(())
    }
}

/// Scatter plot of labelled point sets.
#[derive(Clone, Debug, Default)]
pub struct Scatter {
    pub labels: Labels,
    pub series: Vec<(String, Vec<f64>, Vec<f64>)>,
}

impl Chart for Scatter {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        if let Some((name, x, y)) = self.series.iter().find(|(_, x, y)| x.len() != y.len()) {
            return Err(Error::invalid(format!(
                "scatter '{name}': {} x values and {} y values",
                x.len(),
                y.len()
            )));
        }
        let (x0, x1) = range(self.series.iter().flat_map(|s| s.1.iter().copied()))?;
        let (y0, y1) = range(self.series.iter().flat_map(|s| s.2.iter().copied()))?;
        let mut chart = self
            .labels
            .frame(root, x0..x1, y0..y1, &self.labels.y, None)?;
        for (i, (name, xs, ys)) in self.series.iter().enumerate() {
            crate::interrupt::check()?;
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(
                    xs.iter()
                        .zip(ys)
                        .filter(|(a, b)| a.is_finite() && b.is_finite())
                        .map(|(&a, &b)| Circle::new((a, b), 3, color.mix(0.7).filled())),
                )
                .map_err(perr)?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 7, y), 4, color.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}

/// A bar per labelled value.
#[derive(Clone, Debug, Default)]
pub struct Bars {
    pub labels: Labels,
    pub names: Vec<String>,
    pub values: Vec<f64>,
}

impl Chart for Bars {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let n = self.names.len().max(1);
        let (lo, hi) = range(self.values.iter().copied().chain([0.0]))?;
        let mut chart = self.labels.frame(
            root,
            -0.5..(n as f64 - 0.5),
            lo..hi,
            &self.labels.y,
            Some(&self.names),
        )?;
        chart
            .draw_series(self.values.iter().enumerate().map(|(i, &v)| {
                let c = PALETTE[i % PALETTE.len()];
                Rectangle::new(
                    [(i as f64 - 0.35, 0.0), (i as f64 + 0.35, v)],
                    c.mix(0.8).filled(),
                )
            }))
            .map_err(perr)?;
        Ok(())
    }
}
