//! The SVG plots of a reproduction (feature `plots`): accuracy against the evaluation bit-width (a panel fitted to the
//! accurate models and one with the full range, so both the differences of a few points and the
//! collapse at low bits show), and cross-bit heat maps with a color bar.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::across_seeds::{MeanSd, SeedsSummary};
use crate::errors::{OscRegError, Result};
use crate::report::pp;
use crate::reproduce::{ReproduceResults, TrainedRow};
use smallscale_quant_core::BitWidth;

pub(crate) fn plot_err(e: impl std::fmt::Display) -> OscRegError {
    OscRegError::Plot {
        reason: e.to_string(),
    }
}

/// How a curve's line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    Solid,
    Dashed,
    Dotted,
}

/// One curve of an accuracy plot: points `(bit, accuracy %, standard deviation %)`.
pub(crate) struct AccuracyCurve {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64, f64)>,
    pub(crate) color: RGBColor,
    pub(crate) line: LineKind,
    /// Square markers instead of circles (PTQ).
    pub(crate) square: bool,
    /// The bit the model was trained for, marked with a triangle.
    pub(crate) target: Option<u32>,
}

pub(crate) const PTQ_COLOR: RGBColor = RGBColor(90, 90, 90);

/// The color of the `i`-th target bit's QAT (blues and greens) or Reg (reds and oranges) curve.
pub(crate) fn curve_color(i: usize, qat: bool) -> RGBColor {
    const QAT: [RGBColor; 4] = [
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(23, 190, 207),
    ];
    const REG: [RGBColor; 4] = [
        RGBColor(214, 39, 40),
        RGBColor(255, 127, 14),
        RGBColor(227, 119, 194),
        RGBColor(188, 189, 34),
    ];
    if qat { QAT[i % 4] } else { REG[i % 4] }
}

/// The y range of the zoomed panel: from just below the lowest point within 20 points of the best
/// one, to just above the best (error bars included), in whole percent.
fn zoomed_range(curves: &[AccuracyCurve]) -> (f64, f64) {
    let top = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1 + p.2))
        .fold(f64::NEG_INFINITY, f64::max);
    let best = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(f64::NEG_INFINITY, f64::max);
    if !best.is_finite() {
        return (0.0, 100.0);
    }
    let low = curves
        .iter()
        .flat_map(|c| c.points.iter())
        .filter(|p| p.1 >= best - 20.0)
        .map(|p| p.1 - p.2)
        .fold(f64::INFINITY, f64::min);
    ((low - 1.0).floor().max(0.0), (top + 1.0).ceil().min(100.0))
}

/// The parts of a polyline (increasing x) inside `lo <= y <= hi`, cut at the band's edges.
fn clip_polyline(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let inside = |y: f64| (lo..=hi).contains(&y);
    let cut = |a: (f64, f64), b: (f64, f64), y: f64| {
        let t = (y - a.1) / (b.1 - a.1);
        (a.0 + t * (b.0 - a.0), y)
    };
    let mut parts: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        if i > 0 {
            let a = points[i - 1];
            // Where the segment a -> p enters and leaves the band.
            let mut crossings: Vec<(f64, f64)> = [lo, hi]
                .iter()
                .filter(|&&y| (a.1 - y) * (p.1 - y) < 0.0)
                .map(|&y| cut(a, p, y))
                .collect();
            crossings.sort_by(|u, v| u.0.total_cmp(&v.0));
            for c in crossings {
                if current.is_empty() {
                    current.push(c);
                } else {
                    current.push(c);
                    parts.push(std::mem::take(&mut current));
                }
            }
        }
        if inside(p.1) {
            current.push(p);
        } else if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts.retain(|p| p.len() > 1 || p.first().is_some_and(|q| inside(q.1)));
    parts
}

/// Draws one panel of the accuracy plot with y in `lo..hi`.
fn draw_accuracy_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    bits: &[u32],
    curves: &[AccuracyCurve],
    (lo, hi): (f64, f64),
    caption: &str,
    x_axis: bool,
) -> Result<()> {
    let (bmin, bmax) = (
        f64::from(*bits.iter().min().unwrap_or(&2)),
        f64::from(*bits.iter().max().unwrap_or(&8)),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(if x_axis { 38 } else { 22 })
        .y_label_area_size(55)
        .build_cartesian_2d((bmin - 0.35)..(bmax + 0.35), lo..hi)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("accuracy (%)")
        .y_labels(8)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(plot_err)?;
    // Integer bit ticks, one light line each.
    for &b in bits {
        let x = f64::from(b);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, lo), (x, hi)],
                RGBColor(225, 225, 225).stroke_width(1),
            )))
            .map_err(plot_err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{b}"),
                (x, lo),
                ("sans-serif", 14).into_font().color(&BLACK).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Top,
                    ),
                ),
            )))
            .map_err(plot_err)?;
    }
    if x_axis {
        area.draw(&Text::new(
            "evaluation bit-width",
            (
                area.dim_in_pixel().0 as i32 / 2 - 60,
                area.dim_in_pixel().1 as i32 - 16,
            ),
            ("sans-serif", 14),
        ))
        .map_err(plot_err)?;
    }
    let with_sd = curves.iter().any(|c| c.points.iter().any(|p| p.2 > 0.0));
    let n = curves.len() as f64;
    for (k, c) in curves.iter().enumerate() {
        // Error bars of different series side by side instead of on top of each other.
        let dx = if with_sd {
            (k as f64 - (n - 1.0) / 2.0) * 0.04
        } else {
            0.0
        };
        let color = c.color;
        let width = if c.line == LineKind::Dotted { 3 } else { 2 };
        let style = ShapeStyle::from(&color).stroke_width(width);
        let line: Vec<(f64, f64)> = c.points.iter().map(|&(x, y, _)| (x + dx, y)).collect();
        for part in clip_polyline(&line, lo, hi) {
            match c.line {
                LineKind::Solid => chart.draw_series(LineSeries::new(part, style)),
                LineKind::Dashed => chart.draw_series(DashedLineSeries::new(part, 7, 4, style)),
                LineKind::Dotted => chart.draw_series(DashedLineSeries::new(part, 2, 4, style)),
            }
            .map_err(plot_err)?;
        }
        let in_range = |y: f64| (lo..=hi).contains(&y);
        for &(x, y, sd) in &c.points {
            let x = x + dx;
            // A point outside the panel is shown, with its bar, in the full-range panel.
            if sd > 0.0 && in_range(y) {
                chart
                    .draw_series(std::iter::once(ErrorBar::new_vertical(
                        x,
                        (y - sd).max(lo),
                        y,
                        (y + sd).min(hi),
                        ShapeStyle::from(&color).stroke_width(1),
                        6,
                    )))
                    .map_err(plot_err)?;
            }
            if !in_range(y) {
                continue;
            }
            if c.target.is_some_and(|t| f64::from(t) + dx == x) {
                chart
                    .draw_series([
                        TriangleMarker::new((x, y), 11, BLACK.filled()),
                        TriangleMarker::new((x, y), 7, color.filled()),
                    ])
                    .map_err(plot_err)?;
            } else if c.square {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [
                            (x - 0.05, y - (hi - lo) * 0.008),
                            (x + 0.05, y + (hi - lo) * 0.008),
                        ],
                        color.filled(),
                    )))
                    .map_err(plot_err)?;
            } else {
                chart
                    .draw_series(std::iter::once(Circle::new((x, y), 3, color.filled())))
                    .map_err(plot_err)?;
            }
        }
    }
    Ok(())
}

/// Draws a line sample of `kind` from `(x, y)` over `len` pixels.
fn line_sample(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    (x, y): (i32, i32),
    len: i32,
    kind: LineKind,
    color: RGBColor,
) -> Result<()> {
    let (dash, gap, width) = match kind {
        LineKind::Solid => (len, 0, 2),
        LineKind::Dashed => (7, 4, 2),
        LineKind::Dotted => (2, 4, 3),
    };
    let mut start = x;
    while start < x + len {
        let end = (start + dash).min(x + len);
        area.draw(&PathElement::new(
            vec![(start, y), (end, y)],
            color.stroke_width(width),
        ))
        .map_err(plot_err)?;
        start = end + gap;
    }
    Ok(())
}

/// The legend, beside the panels: every curve with its line style and marker.
fn draw_legend(area: &DrawingArea<SVGBackend<'_>, Shift>, curves: &[AccuracyCurve]) -> Result<()> {
    let font = ("sans-serif", 14);
    let mut y = 40;
    for c in curves {
        line_sample(area, (8, y), 40, c.line, c.color)?;
        if c.square {
            area.draw(&Rectangle::new(
                [(24, y - 4), (32, y + 4)],
                c.color.filled(),
            ))
            .map_err(plot_err)?;
        } else {
            area.draw(&Circle::new((28, y), 3, c.color.filled()))
                .map_err(plot_err)?;
        }
        area.draw(&Text::new(c.name.clone(), (56, y - 8), font))
            .map_err(plot_err)?;
        y += 24;
    }
    y += 10;
    area.draw(&TriangleMarker::new((28, y), 11, BLACK.filled()))
        .map_err(plot_err)?;
    area.draw(&TriangleMarker::new(
        (28, y),
        7,
        RGBColor(150, 150, 150).filled(),
    ))
    .map_err(plot_err)?;
    area.draw(&Text::new("the model's target bit", (56, y - 8), font))
        .map_err(plot_err)?;
    if curves.iter().any(|c| c.points.iter().any(|p| p.2 > 0.0)) {
        y += 26;
        area.draw(&Text::new("bars: ± 1 sd over seeds,", (8, y), font))
            .map_err(plot_err)?;
        area.draw(&Text::new("series side by side", (8, y + 18), font))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// Draws accuracy curves against the evaluation bit-width: a panel fitted to the accurate points,
/// and, when some points lie far below them (the collapse at 2 bits), a second panel with the full
/// range; the legend beside them; ± sd error bars where the sd is positive.
pub(crate) fn draw_accuracy_plot(
    caption: &str,
    bits: &[u32],
    curves: Vec<AccuracyCurve>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 680)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let root = root.titled(caption, ("sans-serif", 20)).map_err(plot_err)?;
        let (panels, legend) = root.split_horizontally(790);
        let zoom = zoomed_range(&curves);
        let below = curves.iter().any(|c| c.points.iter().any(|p| p.1 < zoom.0));
        if below {
            let (top, bottom) = panels.split_vertically(430);
            draw_accuracy_panel(
                &top,
                bits,
                &curves,
                zoom,
                &format!("{:.0}-{:.0} %: the accurate models", zoom.0, zoom.1),
                false,
            )?;
            draw_accuracy_panel(
                &bottom,
                bits,
                &curves,
                (0.0, 100.0),
                "full range: the models that collapse",
                true,
            )?;
        } else {
            draw_accuracy_panel(&panels, bits, &curves, zoom, "", true)?;
        }
        draw_legend(&legend, &curves)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// One row of a cross-bit heat map: accuracies in percent, one per column.
pub(crate) struct HeatRow {
    pub(crate) label: String,
    /// The column of the bit the row's model was trained for (outlined and bold).
    pub(crate) target_column: Option<usize>,
    pub(crate) cells: Vec<Option<f64>>,
}

/// Five stops of the viridis color map.
const VIRIDIS: [(f64, f64, f64); 5] = [
    (68.0, 1.0, 84.0),
    (59.0, 82.0, 139.0),
    (33.0, 145.0, 140.0),
    (94.0, 201.0, 98.0),
    (253.0, 231.0, 37.0),
];

fn viridis(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The color scale of a heat map: the top 10 points of the data take 70 % of the color map, so
/// accuracies a few points apart (68 and 73) look different, while the collapsed cells keep the dark
/// end.
#[derive(Debug, Clone, Copy)]
struct HeatScale {
    lo: f64,
    knee: f64,
    hi: f64,
}

impl HeatScale {
    fn fit(values: impl Iterator<Item = f64>) -> Self {
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() {
            (lo.floor(), hi.ceil().max(lo.floor() + 1.0))
        } else {
            (0.0, 100.0)
        };
        Self {
            lo,
            knee: (hi - 10.0).max(lo),
            hi,
        }
    }

    /// Position in the color map, 0..=1.
    fn position(&self, v: f64) -> f64 {
        const KNEE_AT: f64 = 0.3;
        if self.knee <= self.lo {
            return (v - self.lo) / (self.hi - self.lo);
        }
        if v < self.knee {
            KNEE_AT * (v - self.lo) / (self.knee - self.lo)
        } else {
            KNEE_AT + (1.0 - KNEE_AT) * (v - self.knee) / (self.hi - self.knee)
        }
    }

    fn color(&self, v: f64) -> RGBColor {
        viridis(self.position(v))
    }
}

/// Black or white text, whichever reads on `bg`.
fn text_color(bg: RGBColor) -> RGBColor {
    let l = 0.299 * f64::from(bg.0) + 0.587 * f64::from(bg.1) + 0.114 * f64::from(bg.2);
    if l > 140.0 { BLACK } else { WHITE }
}

/// A heat map with labelled cells and a color bar.
pub(crate) fn draw_heat_map(title: &str, columns: &[String], rows: &[HeatRow]) -> Result<String> {
    let mut svg = String::new();
    {
        let (cell_w, cell_h) = (78i32, 46i32);
        let (left, top) = (70i32, 78i32);
        let bar_x = left + cell_w * columns.len() as i32 + 30;
        let w = (bar_x + 140) as u32;
        let h = (top + cell_h * rows.len() as i32 + 70).max(260) as u32;
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        root.draw(&Text::new(title.to_string(), (10, 10), ("sans-serif", 16)))
            .map_err(plot_err)?;
        let scale = HeatScale::fit(rows.iter().flat_map(|r| r.cells.iter().flatten().copied()));
        let anchor = plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        );
        for (j, c) in columns.iter().enumerate() {
            let x = left + j as i32 * cell_w + cell_w / 2;
            root.draw(&Text::new(
                c.clone(),
                (x, top - 14),
                ("sans-serif", 15).into_font().color(&BLACK).pos(anchor),
            ))
            .map_err(plot_err)?;
        }
        root.draw(&Text::new(
            "evaluation bit",
            (left, top - 46),
            ("sans-serif", 13),
        ))
        .map_err(plot_err)?;
        for (i, r) in rows.iter().enumerate() {
            let y = top + i as i32 * cell_h;
            root.draw(&Text::new(
                r.label.clone(),
                (left / 2, y + cell_h / 2),
                ("sans-serif", 15).into_font().color(&BLACK).pos(anchor),
            ))
            .map_err(plot_err)?;
            for (j, v) in r.cells.iter().enumerate() {
                let x = left + j as i32 * cell_w;
                let bg = v.map_or(RGBColor(235, 235, 235), |v| scale.color(v));
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell_w - 2, y + cell_h - 2)],
                    bg.filled(),
                ))
                .map_err(plot_err)?;
                let target = r.target_column == Some(j);
                if target {
                    // Black and white, so the outline shows on dark and light cells.
                    root.draw(&Rectangle::new(
                        [(x + 1, y + 1), (x + cell_w - 3, y + cell_h - 3)],
                        BLACK.stroke_width(3),
                    ))
                    .map_err(plot_err)?;
                    root.draw(&Rectangle::new(
                        [(x + 4, y + 4), (x + cell_w - 6, y + cell_h - 6)],
                        WHITE.stroke_width(1),
                    ))
                    .map_err(plot_err)?;
                }
                let label = v.map_or("–".to_string(), |v| format!("{v:.1}"));
                let font = ("sans-serif", if target { 16 } else { 15 }).into_font();
                let font = if target {
                    font.style(FontStyle::Bold)
                } else {
                    font
                };
                root.draw(&Text::new(
                    label,
                    (x + cell_w / 2, y + cell_h / 2),
                    font.color(&text_color(bg)).pos(anchor),
                ))
                .map_err(plot_err)?;
            }
        }
        // The color bar: a column of thin bands from hi (top) to lo, with ticks.
        let (bar_top, bar_h) = (top, (h as i32 - top - 40).max(120));
        let to_y = |v: f64| bar_top + ((1.0 - scale.position(v)) * f64::from(bar_h)).round() as i32;
        for k in 0..bar_h {
            let t = 1.0 - f64::from(k) / f64::from(bar_h);
            root.draw(&Rectangle::new(
                [(bar_x, bar_top + k), (bar_x + 18, bar_top + k + 1)],
                viridis(t).filled(),
            ))
            .map_err(plot_err)?;
        }
        let mut ticks = vec![scale.lo, scale.knee];
        let step = if scale.hi - scale.knee > 6.0 {
            2.0
        } else {
            1.0
        };
        let mut v = scale.knee + step;
        while v < scale.hi {
            ticks.push(v);
            v += step;
        }
        ticks.push(scale.hi);
        ticks.dedup_by(|a, b| (*a - *b).abs() < 0.5);
        for t in ticks {
            let y = to_y(t);
            root.draw(&PathElement::new(
                vec![(bar_x + 18, y), (bar_x + 24, y)],
                BLACK.stroke_width(1),
            ))
            .map_err(plot_err)?;
            root.draw(&Text::new(
                format!("{t:.0}"),
                (bar_x + 28, y - 7),
                ("sans-serif", 13),
            ))
            .map_err(plot_err)?;
        }
        root.draw(&Text::new(
            "accuracy %",
            (bar_x - 4, bar_top + bar_h + 8),
            ("sans-serif", 13),
        ))
        .map_err(plot_err)?;
        root.draw(&Text::new(
            "(top 10 points stretched)",
            (bar_x - 30, bar_top + bar_h + 24),
            ("sans-serif", 11),
        ))
        .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// Accuracy against the evaluation bit-width: FP, PTQ, and the cross-bit curve of every QAT and Reg
/// model, each marked at its target bit.
pub fn accuracy_plot(results: &ReproduceResults) -> Result<String> {
    let curve = |name: String, per_bit: &[(BitWidth, f64)], color, line, target| AccuracyCurve {
        name,
        points: per_bit
            .iter()
            .map(|(b, a)| (f64::from(b.get()), pp(*a), 0.0))
            .collect(),
        color,
        line,
        square: false,
        target,
    };
    let bits = &results.params.eval_bits;
    let numbers: Vec<u32> = bits.iter().map(|b| b.get()).collect();
    let mut curves = Vec::new();
    for (i, &t) in results.params.target_bits.iter().enumerate() {
        if let Some(r) = results.qat(t) {
            curves.push(curve(
                format!("QAT b={t}"),
                &r.test.per_bit,
                curve_color(i, true),
                LineKind::Dashed,
                Some(t.get()),
            ));
        }
        if let Some(r) = results.reg(t) {
            curves.push(curve(
                format!("Reg b={t}"),
                &r.test.per_bit,
                curve_color(i, false),
                LineKind::Solid,
                Some(t.get()),
            ));
        }
    }
    // FP and PTQ last, so they are drawn on top.
    if let Some(fp) = results.fp() {
        let fp_points: Vec<(BitWidth, f64)> = bits.iter().map(|&b| (b, fp.test.fp)).collect();
        curves.push(curve("FP".into(), &fp_points, BLACK, LineKind::Solid, None));
        curves.push(AccuracyCurve {
            square: true,
            ..curve(
                "PTQ".into(),
                &fp.test.per_bit,
                PTQ_COLOR,
                LineKind::Dotted,
                None,
            )
        });
    }
    draw_accuracy_plot("Test accuracy vs bit-width", &numbers, curves)
}

/// A heat map of the cross-bit matrix of one trained row (QAT, Reg or a baseline): rows target
/// bits, columns evaluation bits and FP, cells colored and labelled with the accuracy, the target
/// bit outlined, with a color bar.
pub fn cross_bit_plot(results: &ReproduceResults, row: TrainedRow) -> Result<String> {
    let name = row.name();
    let bits = &results.params.eval_bits;
    let mut columns: Vec<String> = bits.iter().map(|b| b.get().to_string()).collect();
    columns.push("FP".into());
    let rows: Vec<HeatRow> = results
        .params
        .target_bits
        .iter()
        .map(|&t| {
            let run = results.trained(row, t);
            let mut cells: Vec<Option<f64>> = bits
                .iter()
                .map(|&b| run.and_then(|r| r.test.at(b)).map(pp))
                .collect();
            cells.push(run.map(|r| pp(r.test.fp)));
            HeatRow {
                label: format!("b={t}"),
                target_column: bits.iter().position(|&b| b == t),
                cells,
            }
        })
        .collect();
    draw_heat_map(
        &format!("{name} cross-bit test accuracy (%): rows trained for b bits"),
        &columns,
        &rows,
    )
}

/// Mean test accuracy against the evaluation bit-width over the seeds, with ± sd error bars: FP, PTQ,
/// and the cross-bit curve of every QAT and Reg target (`accuracy_vs_bits.svg` of the summary).
pub fn seeds_accuracy_plot(summary: &SeedsSummary) -> Result<String> {
    let bits = &summary.params.eval_bits;
    let curve = |name: String, cells: &[Option<MeanSd>], color, line, target| AccuracyCurve {
        name,
        points: bits
            .iter()
            .zip(cells)
            .filter_map(|(&b, c)| c.map(|m| (f64::from(b.get()), 100.0 * m.mean, 100.0 * m.sd)))
            .collect(),
        color,
        line,
        square: false,
        target,
    };
    let mut curves = Vec::new();
    for (i, &t) in summary.params.target_bits.iter().enumerate() {
        if let Some(r) = summary.cross_bit_qat.iter().find(|r| r.target == t) {
            curves.push(curve(
                format!("QAT b={t}"),
                &r.at_bits,
                curve_color(i, true),
                LineKind::Dashed,
                Some(t.get()),
            ));
        }
        if let Some(r) = summary.cross_bit_reg.iter().find(|r| r.target == t) {
            curves.push(curve(
                format!("Reg b={t}"),
                &r.at_bits,
                curve_color(i, false),
                LineKind::Solid,
                Some(t.get()),
            ));
        }
    }
    // FP and PTQ last, so they are drawn on top.
    if let Some(fp) = summary.per_bit.get("FP") {
        curves.push(curve("FP".into(), fp, BLACK, LineKind::Solid, None));
    }
    if let Some(ptq) = summary.per_bit.get("PTQ") {
        curves.push(AccuracyCurve {
            square: true,
            ..curve("PTQ".into(), ptq, PTQ_COLOR, LineKind::Dotted, None)
        });
    }
    draw_accuracy_plot(
        &format!(
            "Test accuracy vs bit-width, mean ± sd over {} seeds",
            summary.seeds.len()
        ),
        &bits.iter().map(|b| b.get()).collect::<Vec<_>>(),
        curves,
    )
}

/// The univariate toy model's weight over the training steps under QAT, the paper's regularizer
/// (weight `reg_lambda`) and QAT with dampening (final weight `dampen_lambda`), with the two levels
/// next to the optimum and the threshold between them: QAT oscillates around the threshold, Reg
/// drives the weight to it and makes it oscillate there, dampening lets it settle on a level.
///
/// ```
/// use smallscale_osc_reg::{UnivariateToyModel, toy_trajectories_plot};
/// let svg = toy_trajectories_plot(&UnivariateToyModel::spec_example(), 40, 2.0, 0.5)?;
/// assert!(svg.starts_with("<svg"));
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
pub fn toy_trajectories_plot(
    toy: &crate::toy::UnivariateToyModel,
    steps: usize,
    reg_lambda: f64,
    dampen_lambda: f64,
) -> Result<String> {
    toy.validate()?;
    let curves = [
        (
            "QAT".to_string(),
            toy.qat_trajectory(steps),
            curve_color(0, true),
        ),
        (
            format!("Reg, lambda = {reg_lambda}"),
            toy.regularized_trajectory(steps, reg_lambda),
            curve_color(0, false),
        ),
        (
            format!("QAT + dampening, lambda_d = {dampen_lambda}"),
            toy.dampened_trajectory(steps, dampen_lambda),
            curve_color(1, true),
        ),
    ];
    let optimum = toy.optimum();
    let lower = (optimum / toy.delta).floor() * toy.delta;
    let (upper, threshold) = (lower + toy.delta, lower + toy.delta / 2.0);
    let (mut lo, mut hi) = (lower, upper);
    for (_, t, _) in &curves {
        for s in t {
            lo = lo.min(s.w);
            hi = hi.max(s.w);
        }
    }
    let pad = 0.05 * (hi - lo).max(toy.delta);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Toy model: the weight w under QAT, Reg and QAT with dampening",
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..steps as f64, (lo - pad)..(hi + pad))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("training step")
            .y_desc("w")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        let horizontal = |y: f64| vec![(0.0, y), (steps as f64, y)];
        chart
            .draw_series(LineSeries::new(horizontal(lower), BLACK.mix(0.35)))
            .map_err(plot_err)?;
        chart
            .draw_series(LineSeries::new(horizontal(upper), BLACK.mix(0.35)))
            .map_err(plot_err)?
            .label(format!("the levels {lower} and {upper}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.35)));
        chart
            .draw_series(DashedLineSeries::new(
                horizontal(threshold),
                6,
                4,
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(plot_err)?
            .label("threshold between the levels")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.6)));
        chart
            .draw_series(DashedLineSeries::new(
                horizontal(optimum),
                2,
                3,
                RGBColor(120, 120, 120).stroke_width(1),
            ))
            .map_err(plot_err)?
            .label(format!("FP optimum w* = {optimum}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(120, 120, 120)));
        for (name, trajectory, color) in curves {
            let points: Vec<(f64, f64)> = trajectory
                .iter()
                .enumerate()
                .map(|(t, s)| (t as f64, s.w))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 2, color.filled())))
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_cuts_segments_at_the_band() {
        let parts = clip_polyline(&[(2.0, 10.0), (3.0, 70.0), (4.0, 72.0)], 60.0, 80.0);
        assert_eq!(parts.len(), 1);
        let p = &parts[0];
        assert!((p[0].0 - (2.0 + 50.0 / 60.0)).abs() < 1e-12 && p[0].1 == 60.0);
        assert_eq!(&p[1..], &[(3.0, 70.0), (4.0, 72.0)]);
        // Leaving and re-entering gives two parts.
        let parts = clip_polyline(&[(2.0, 70.0), (3.0, 10.0), (4.0, 70.0)], 60.0, 80.0);
        assert_eq!(parts.len(), 2);
        // Entirely outside: nothing.
        assert!(clip_polyline(&[(2.0, 10.0), (3.0, 12.0)], 60.0, 80.0).is_empty());
    }

    #[test]
    fn the_top_of_the_scale_is_stretched() {
        let s = HeatScale::fit([9.6, 68.0, 73.0].into_iter());
        assert_eq!((s.lo, s.knee, s.hi), (9.0, 63.0, 73.0));
        // 68 and 73 are 5 points apart: 35 % of the color map, not 8 %.
        assert!((s.position(73.0) - s.position(68.0) - 0.35).abs() < 1e-12);
        assert_eq!(s.position(9.0), 0.0);
        assert_eq!(s.position(73.0), 1.0);
    }
}
