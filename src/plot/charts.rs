//! General charts: grouped box plots, overlaid histograms, lines, scatter, bars.

use super::{Chart, FONT, PALETTE, perr};
use crate::error::{Error, Result};
use crate::stats::quantile;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

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
}

/// The data of one of the general charts scripts draw by name (`line`, `scatter`, `bar`,
/// `histogram`, `boxplot`); [`ChartData::save`] gives each its own default labels and size.
#[derive(Clone, Debug)]
pub enum ChartData {
    /// Named y series over shared x values.
    Line {
        x: Vec<f64>,
        series: Vec<(String, Vec<f64>)>,
    },
    Scatter {
        x: Vec<f64>,
        y: Vec<f64>,
    },
    Bar {
        names: Vec<String>,
        values: Vec<f64>,
    },
    Histogram {
        series: Vec<(String, Vec<f64>)>,
        bins: usize,
    },
    /// A box per (category, series): `groups` holds each category's values per series; series
    /// names that do not match the number of series are replaced by numbers.
    Box {
        groups: Vec<(String, Vec<Vec<f64>>)>,
        series: Vec<String>,
    },
}

impl ChartData {
    /// Draw the chart into `path` (PNG or SVG), written whole or not at all.
    pub fn save(self, path: &Path, o: &ChartOptions) -> Result<()> {
        let size = |default| o.size.unwrap_or(default);
        match self {
            ChartData::Line { x, series } => {
                let series = series.into_iter().map(|(n, y)| (n, x.clone(), y)).collect();
                let labels = o.labels("x", "y");
                let chart = Lines {
                    labels,
                    series,
                    ..Lines::default()
                };
                super::save(&chart, path, size((800, 460)))
            }
            ChartData::Scatter { x, y } => {
                let (labels, series) = (o.labels("x", "y"), vec![("points".into(), x, y)]);
                super::save(&Scatter { labels, series }, path, size((700, 500)))
            }
            ChartData::Bar { names, values } => {
                let labels = o.labels("", "");
                super::save(
                    &Bars {
                        labels,
                        names,
                        values,
                    },
                    path,
                    size((700, 450)),
                )
            }
            ChartData::Histogram { series, bins } => {
                let labels = o.labels("value", "count");
                super::save(
                    &Histogram {
                        labels,
                        series,
                        bins,
                    },
                    path,
                    size((700, 420)),
                )
            }
            ChartData::Box { groups, series } => {
                let n_series = groups.iter().map(|g| g.1.len()).max().unwrap_or(1);
                let series = match series.len() == n_series {
                    true => series,
                    false => (1..=n_series).map(|i| format!("series {i}")).collect(),
                };
                let (categories, values) = groups.into_iter().unzip();
                let labels = o.labels("", "");
                let chart = BoxPlot {
                    labels,
                    categories,
                    series,
                    values,
                };
                super::save(&chart, path, size((800, 450)))
            }
        }
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

/// Cells per side of the grid on which [`Marks`] records where data lie.
const GRID: usize = 64;

/// Where a chart's data lie, on a coarse grid over its plotting area, so that its legend can
/// go where it covers none of them.
struct Marks {
    x: (f64, f64),
    y: (f64, f64),
    /// `cells[row * GRID + col]`, row 0 at the bottom.
    cells: Vec<bool>,
}

impl Marks {
    fn new(x: (f64, f64), y: (f64, f64)) -> Self {
        Marks {
            x,
            y,
            cells: vec![false; GRID * GRID],
        }
    }

    /// The cell of a point as fractions of the area (may lie outside [0, 1]).
    fn fraction(&self, x: f64, y: f64) -> (f64, f64) {
        (
            (x - self.x.0) / (self.x.1 - self.x.0),
            (y - self.y.0) / (self.y.1 - self.y.0),
        )
    }

    /// Mark every cell the rectangle between two fractional corners touches.
    fn mark_fractions(&mut self, a: (f64, f64), b: (f64, f64)) {
        let cell = |f: f64| (f * GRID as f64).floor().clamp(0.0, GRID as f64 - 1.0) as usize;
        if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
            return;
        }
        let (c0, c1) = (cell(a.0.min(b.0)), cell(a.0.max(b.0)));
        let (r0, r1) = (cell(a.1.min(b.1)), cell(a.1.max(b.1)));
        for row in r0..=r1 {
            self.cells[row * GRID + c0..=row * GRID + c1].fill(true);
        }
    }

    fn point(&mut self, x: f64, y: f64) {
        let f = self.fraction(x, y);
        self.mark_fractions(f, f);
    }

    fn rect(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) {
        let (a, b) = (self.fraction(x0, y0), self.fraction(x1, y1));
        self.mark_fractions(a, b);
    }

    /// A straight line, marked cell by cell (sampled at half-cell steps).
    fn segment(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) {
        let (a, b) = (self.fraction(x0, y0), self.fraction(x1, y1));
        let span = (b.0 - a.0).abs().max((b.1 - a.1).abs()).min(4.0);
        if !span.is_finite() {
            return;
        }
        let steps = (span * GRID as f64 * 2.0).ceil() as usize + 1;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let p = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            self.mark_fractions(p, p);
        }
    }

    fn line(&mut self, xs: &[f64], ys: &[f64]) {
        let points: Vec<(f64, f64)> = xs
            .iter()
            .zip(ys)
            .map(|(&x, &y)| (x, y))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        if let [only] = points[..] {
            self.point(only.0, only.1);
        }
        for pair in points.windows(2) {
            self.segment(pair[0], pair[1]);
        }
    }

    /// Whether any data lie in the box between two fractional corners.
    fn any_in(&self, (fx0, fy0): (f64, f64), (fx1, fy1): (f64, f64)) -> bool {
        let cell = |f: f64| (f * GRID as f64).floor().clamp(0.0, GRID as f64 - 1.0) as usize;
        let (c0, c1) = (cell(fx0), cell(fx1));
        (cell(fy0)..=cell(fy1))
            .any(|row| self.cells[row * GRID + c0..=row * GRID + c1].contains(&true))
    }
}

/// The corners a legend can take, as plotters names them, with the side each lies on.
const CORNERS: [(SeriesLabelPosition, bool, bool); 4] = [
    // (position, on the right, at the top)
    (SeriesLabelPosition::UpperRight, true, true),
    (SeriesLabelPosition::UpperLeft, false, true),
    (SeriesLabelPosition::LowerRight, true, false),
    (SeriesLabelPosition::LowerLeft, false, false),
];

/// A legend placed off the data: its corner, and the top of the y axis (raised above the data
/// when every corner holds some, so that the legend fits over them).
struct LegendSpot {
    position: SeriesLabelPosition,
    y_top: f64,
}

/// The pixel size of the legend plotters draws for these labels (its text block, the sample
/// area of 30 px and margins of 10 px; see `SeriesLabelStyle::draw`).
fn legend_size(labels: &[String]) -> (f64, f64) {
    super::ensure_font();
    let font = (FONT, 13).into_font();
    let (mut w, mut h) = (0u32, 0u32);
    for label in labels {
        let (lw, lh) = font.box_size(label).unwrap_or((8 * label.len() as u32, 16));
        w = w.max(lw);
        h += lh.max(13) + 3;
    }
    (f64::from(w) + 30.0 + 20.0, f64::from(h) + 20.0)
}

/// Choose where the legend of `labels` goes on a chart of `size` pixels whose data `marks`
/// records: the first corner in the chart's `preferred` order (then the others) that holds no
/// data, else the upper corner with the y axis raised until the legend sits above every value.
fn place_legend(
    marks: &Marks,
    size: (u32, u32),
    titled: bool,
    labels: &[String],
    preferred: SeriesLabelPosition,
) -> LegendSpot {
    // The plotting area: the root less the margins, the axis label areas and the caption (see
    // `Labels::frame`).
    let width = (f64::from(size.0) - 2.0 * 12.0 - 65.0).max(1.0);
    let height = (f64::from(size.1) - 2.0 * 12.0 - 45.0 - if titled { 34.0 } else { 0.0 }).max(1.0);
    let (lw, lh) = legend_size(labels);
    // plotters puts the box 5 px from the corner; a little more keeps it off the data's edge.
    let (fw, fh) = (
        ((lw + 9.0) / width).min(1.0),
        ((lh + 9.0) / height).min(1.0),
    );
    let mut order: Vec<_> = CORNERS.iter().filter(|c| c.0 == preferred).collect();
    order.extend(CORNERS.iter().filter(|c| c.0 != preferred));
    for &&(ref position, right, top) in &order {
        let x = if right { (1.0 - fw, 1.0) } else { (0.0, fw) };
        let y = if top { (1.0 - fh, 1.0) } else { (0.0, fh) };
        if !marks.any_in((x.0, y.0), (x.1, y.1)) {
            return LegendSpot {
                position: position.clone(),
                y_top: marks.y.1,
            };
        }
    }
    // Every corner holds data: raise the top so the data end below the legend. A legend taller
    // than most of the chart leaves the data at least a quarter of it.
    let (lo, hi) = marks.y;
    let fh = fh.min(0.75);
    let position = if matches!(preferred, SeriesLabelPosition::UpperLeft) {
        SeriesLabelPosition::UpperLeft
    } else {
        SeriesLabelPosition::UpperRight
    };
    LegendSpot {
        position,
        y_top: lo + (hi - lo) / (1.0 - fh),
    }
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

/// One box of a box plot, in data coordinates.
struct BoxShape {
    series: usize,
    center: f64,
    half_width: f64,
    q1: f64,
    median: f64,
    q3: f64,
    whiskers: (f64, f64),
    outliers: Vec<f64>,
}

impl BoxPlot {
    /// Each non-empty (category, series) group as a box: quartiles, Tukey whiskers at 1.5 IQR
    /// and the values beyond them.
    fn shapes(&self) -> Vec<BoxShape> {
        let width = 0.8 / self.series.len().max(1) as f64;
        let mut shapes = Vec::new();
        for (ci, per_series) in self.values.iter().enumerate() {
            for (si, vals) in per_series.iter().enumerate().take(self.series.len()) {
                let mut v = finite(vals);
                if v.is_empty() {
                    continue;
                }
                v.sort_by(f64::total_cmp);
                let (q1, median, q3) = (quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75));
                let iqr = q3 - q1;
                let low = v.iter().copied().find(|&x| x >= q1 - 1.5 * iqr);
                let high = v.iter().rev().copied().find(|&x| x <= q3 + 1.5 * iqr);
                let whiskers = (low.unwrap_or(v[0]), high.unwrap_or(v[v.len() - 1]));
                shapes.push(BoxShape {
                    series: si,
                    center: ci as f64 - 0.4 + width * (si as f64 + 0.5),
                    half_width: width * 0.4,
                    q1,
                    median,
                    q3,
                    whiskers,
                    outliers: v
                        .into_iter()
                        .filter(|&x| x < whiskers.0 || x > whiskers.1)
                        .collect(),
                });
            }
        }
        shapes
    }
}

impl Chart for BoxPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let n = self.categories.len().max(1);
        let (lo, hi) = range(self.values.iter().flatten().flatten().copied())?;
        let shapes = self.shapes();
        let x = (-0.5, n as f64 - 0.5);
        let mut marks = Marks::new(x, (lo, hi));
        for b in &shapes {
            let (l, r) = (b.center - b.half_width, b.center + b.half_width);
            marks.rect((l, b.whiskers.0), (r, b.whiskers.1));
            for &o in &b.outliers {
                marks.point(b.center, o);
            }
        }
        let spot = (self.series.len() > 1).then(|| {
            let size = root.dim_in_pixel();
            place_legend(
                &marks,
                size,
                !self.labels.title.is_empty(),
                &self.series,
                SeriesLabelPosition::UpperRight,
            )
        });
        let top = spot.as_ref().map_or(hi, |s| s.y_top);
        let mut chart = self.labels.frame(
            root,
            x.0..x.1,
            lo..top,
            &self.labels.y,
            Some(&self.categories),
        )?;
        let mut labelled = vec![false; self.series.len()];
        for b in &shapes {
            crate::interrupt::check()?;
            let color = PALETTE[b.series % PALETTE.len()];
            let (l, r, cx) = (b.center - b.half_width, b.center + b.half_width, b.center);
            let body = chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(l, b.q1), (r, b.q3)],
                    color.mix(0.35).filled(),
                )))
                .map_err(perr)?;
            if !std::mem::replace(&mut labelled[b.series], true) {
                body.label(self.series[b.series].clone())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.mix(0.6).filled())
                    });
            }
            let (lo_w, hi_w) = b.whiskers;
            let cap = b.half_width * 0.5;
            let thin = color.stroke_width(1);
            chart
                .draw_series([
                    PathElement::new(
                        vec![(l, b.q1), (r, b.q1), (r, b.q3), (l, b.q3), (l, b.q1)],
                        thin,
                    ),
                    PathElement::new(vec![(l, b.median), (r, b.median)], color.stroke_width(2)),
                    PathElement::new(vec![(cx, b.q3), (cx, hi_w)], thin),
                    PathElement::new(vec![(cx, b.q1), (cx, lo_w)], thin),
                    PathElement::new(vec![(cx - cap, hi_w), (cx + cap, hi_w)], thin),
                    PathElement::new(vec![(cx - cap, lo_w), (cx + cap, lo_w)], thin),
                ])
                .map_err(perr)?;
            chart
                .draw_series(
                    b.outliers
                        .iter()
                        .map(|&x| Circle::new((cx, x), 2, color.filled())),
                )
                .map_err(perr)?;
        }
        if let Some(spot) = spot {
            draw_legend(&mut chart, spot.position)?;
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
            return Err(Error::out_of_range(
                "histogram: bins",
                self.bins,
                format!("1 to {MAX_BINS}"),
            ));
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
        let mut marks = Marks::new((lo, hi), (0.0, top));
        for c in &counts {
            for (b, &k) in c.iter().enumerate().filter(|(_, k)| **k > 0) {
                let x0 = lo + b as f64 * w;
                marks.rect((x0, 0.0), (x0 + w, k as f64));
            }
        }
        let names: Vec<String> = self
            .series
            .iter()
            .map(|(name, v)| format!("{name} (n = {})", finite(v).len()))
            .collect();
        let spot = place_legend(
            &marks,
            root.dim_in_pixel(),
            !self.labels.title.is_empty(),
            &names,
            SeriesLabelPosition::UpperRight,
        );
        let mut chart = self
            .labels
            .frame(root, lo..hi, 0.0..spot.y_top, y_desc, None)?;
        for (si, (name, c)) in names.into_iter().zip(&counts).enumerate() {
            let color = PALETTE[si % PALETTE.len()];
            chart
                .draw_series(c.iter().enumerate().map(|(b, &k)| {
                    let x0 = lo + b as f64 * w;
                    Rectangle::new([(x0, 0.0), (x0 + w, k as f64)], color.mix(0.35).filled())
                }))
                .map_err(perr)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.mix(0.6).filled())
                });
        }
        draw_legend(&mut chart, spot.position)?;
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
    /// The look of series i where given (else the palette's i-th colour, solid): pairs of
    /// series that belong together can share a colour.
    pub styles: Vec<LineStyle>,
}

/// The colour (an index into the palette) and stroke of a line.
#[derive(Clone, Copy, Debug, Default)]
pub struct LineStyle {
    pub color: usize,
    pub dashed: bool,
}

/// Dashes of a dashed line: length and gap in pixels.
const DASH: (u32, u32) = (7, 5);

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
        let mut marks = Marks::new((x0, x1), (y0, y1));
        for (_, xs, ys) in &self.series {
            marks.line(xs, ys);
        }
        for (_, y) in &self.hlines {
            marks.segment((x0, *y), (x1, *y));
        }
        let names: Vec<String> = self
            .series
            .iter()
            .map(|s| &s.0)
            .chain(self.hlines.iter().map(|h| &h.0))
            .filter(|name| !name.is_empty())
            .cloned()
            .collect();
        let spot = (!names.is_empty()).then(|| {
            let titled = !self.labels.title.is_empty();
            place_legend(
                &marks,
                root.dim_in_pixel(),
                titled,
                &names,
                SeriesLabelPosition::LowerRight,
            )
        });
        let top = spot.as_ref().map_or(y1, |s| s.y_top);
        let mut chart = self
            .labels
            .frame(root, x0..x1, y0..top, &self.labels.y, None)?;
        let many = self.series.len() > 10;
        for (i, (name, xs, ys)) in self.series.iter().enumerate() {
            crate::interrupt::check()?;
            let look = self.styles.get(i).copied().unwrap_or(LineStyle {
                color: i,
                dashed: false,
            });
            let color = PALETTE[look.color % PALETTE.len()];
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
            let s = if look.dashed {
                chart.draw_series(DashedLineSeries::new(pts.clone(), DASH.0, DASH.1, style))
            } else {
                chart.draw_series(LineSeries::new(pts.clone(), style))
            }
            .map_err(perr)?;
            if !name.is_empty() {
                // The legend's sample: two dashes, or one stroke as long as both.
                let (first, second) = if look.dashed {
                    ((0, 7), (11, 18))
                } else {
                    ((0, 18), (18, 18))
                };
                s.label(name.clone()).legend(move |(x, y)| {
                    let stroke = color.stroke_width(2);
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(first.0, 0), (first.1, 0)], stroke)
                        + PathElement::new(vec![(second.0, 0), (second.1, 0)], stroke)
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
                s.label(name.clone()).legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1))
                });
            }
        }
        if let Some(spot) = spot {
            draw_legend(&mut chart, spot.position)?;
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
        let mut marks = Marks::new((x0, x1), (y0, y1));
        for (_, xs, ys) in &self.series {
            for (&x, &y) in xs.iter().zip(ys) {
                marks.point(x, y);
            }
        }
        let names: Vec<String> = self.series.iter().map(|s| s.0.clone()).collect();
        let titled = !self.labels.title.is_empty();
        let spot = place_legend(
            &marks,
            root.dim_in_pixel(),
            titled,
            &names,
            SeriesLabelPosition::UpperLeft,
        );
        let mut chart = self
            .labels
            .frame(root, x0..x1, y0..spot.y_top, &self.labels.y, None)?;
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
        draw_legend(&mut chart, spot.position)?;
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
        if self.names.len() != self.values.len() {
            return Err(Error::invalid(format!(
                "bar: {} names and {} values (one name per bar)",
                self.names.len(),
                self.values.len()
            )));
        }
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

/// Charts side by side under one title (the paper's Fig. 1: a panel per data point).
#[derive(Clone, Debug, Default)]
pub struct Panels<C> {
    pub title: String,
    pub panels: Vec<C>,
}

impl<C: Chart> Chart for Panels<C> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let area = if self.title.is_empty() {
            root.clone()
        } else {
            root.titled(&self.title, (FONT, 22)).map_err(perr)?
        };
        for (panel, cell) in self
            .panels
            .iter()
            .zip(area.split_evenly((1, self.panels.len().max(1))))
        {
            panel.draw(&cell)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("series {i}")).collect()
    }

    /// The fractional box the legend takes at a spot, as `place_legend` computes it.
    fn legend_is_clear(
        marks: &Marks,
        spot: &LegendSpot,
        size: (u32, u32),
        labels: &[String],
    ) -> bool {
        let (w, h) = legend_size(labels);
        let width = f64::from(size.0) - 89.0;
        let height = f64::from(size.1) - 69.0;
        let (fw, fh) = (w / width, h / height);
        let (right, top) = match spot.position {
            SeriesLabelPosition::UpperRight => (true, true),
            SeriesLabelPosition::UpperLeft => (false, true),
            SeriesLabelPosition::LowerRight => (true, false),
            _ => (false, false),
        };
        // The data's fractions on the axis as drawn (the top may have been raised).
        let scale = (marks.y.1 - marks.y.0) / (spot.y_top - marks.y.0);
        let x = if right { (1.0 - fw, 1.0) } else { (0.0, fw) };
        let y = if top { (1.0 - fh, 1.0) } else { (0.0, fh) };
        let (row_lo, row_hi) = (y.0 / scale, (y.1 / scale).min(1.0));
        row_lo > 1.0 || !marks.any_in((x.0, row_lo), (x.1, row_hi))
    }

    #[test]
    fn a_legend_goes_to_a_corner_without_data() {
        let size = (640, 420);
        let mut marks = Marks::new((0.0, 10.0), (0.0, 1.0));
        // A curve rising from the lower left to the upper right, as GAX's CO curves do, and a
        // flat run along the bottom right: only the upper left is free.
        marks.line(&[0.0, 5.0, 10.0], &[0.0, 0.6, 1.0]);
        marks.segment((5.0, 0.02), (10.0, 0.02));
        let labels = names(3);
        let spot = place_legend(&marks, size, true, &labels, SeriesLabelPosition::LowerRight);
        assert!(matches!(spot.position, SeriesLabelPosition::UpperLeft));
        assert_eq!(spot.y_top, 1.0, "a free corner needs no headroom");
        assert!(legend_is_clear(&marks, &spot, size, &labels));
    }

    #[test]
    fn data_in_every_corner_raise_the_axis_above_them() {
        let size = (640, 420);
        let mut marks = Marks::new((0.0, 1.0), (0.0, 1.0));
        for &(x, y) in &[(0.01, 0.01), (0.99, 0.01), (0.01, 0.99), (0.99, 0.99)] {
            marks.point(x, y);
        }
        let labels = names(6);
        let spot = place_legend(&marks, size, true, &labels, SeriesLabelPosition::UpperRight);
        assert!(
            spot.y_top > 1.2,
            "the axis must grow, got top {}",
            spot.y_top
        );
        assert!(legend_is_clear(&marks, &spot, size, &labels));
    }

    #[test]
    fn histogram_bars_keep_their_legend_off() {
        // Two overlapping histograms filling the width: the tallest bars sit in both upper
        // corners, so the legend needs headroom.
        let mut marks = Marks::new((0.0, 1.0), (0.0, 10.0));
        for b in 0..10 {
            let x = b as f64 / 10.0;
            marks.rect((x, 0.0), (x + 0.1, if b % 9 == 0 { 10.0 } else { 3.0 }));
        }
        let labels = vec!["correct (n = 3000)".to_string(), "wrong (n = 800)".into()];
        let spot = place_legend(
            &marks,
            (640, 420),
            false,
            &labels,
            SeriesLabelPosition::UpperRight,
        );
        assert!(legend_is_clear(&marks, &spot, (640, 420), &labels));
    }
}
