//! The `--plot` of `smallscale pepr`: performance against normalized resource, one panel per
//! pool in a single SVG file.
//!
//! Each panel shows every model (grey), the Pareto front (red, joined in order of cost), and
//! the iso-PePR lines `P = c (1 + w R)` through the front's models (blue; the best model's
//! line is solid, the others dashed). The plotted score is the combined one with `--combine`,
//! else the first `--resource`.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;

use super::pepr::{Report, ScoreReport};

const PANEL: (u32, u32) = (520, 400);
/// Height of the legend strip above the panels (the legend never covers data).
const LEGEND_H: u32 = 34;
/// Width the legend strip needs.
const LEGEND_W: u32 = 900;

/// The score a panel shows: the combination if present, else the first resource.
fn plotted(scores: &[ScoreReport]) -> Option<&ScoreReport> {
    scores
        .iter()
        .find(|s| s.score == "combined")
        .or_else(|| scores.first())
}

/// The part of the iso-PePR line `P = c (1 + w R)` with `R` in `[0, 1]` and `P` in
/// `[y0, y1]`, as two end points, or `None` if it misses the window.
fn iso_segment(c: f64, w: f64, y0: f64, y1: f64) -> Option<[(f64, f64); 2]> {
    let p = |r: f64| c * (1.0 + w * r);
    let (mut r0, mut r1) = (0.0, 1.0);
    if w * c > 0.0 {
        // Increasing in R: clip R where P leaves [y0, y1].
        r0 = f64::max(r0, (y0 / c - 1.0) / w);
        r1 = f64::min(r1, (y1 / c - 1.0) / w);
    } else if !(y0..=y1).contains(&c) {
        return None;
    }
    (r0 <= r1).then(|| [(r0, p(r0)), (r1, p(r1))])
}

/// Draws the report's pools into `path` (SVG).
pub fn draw(path: &Path, report: &Report) -> Result<()> {
    let n = report.groups.len().max(1);
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    // Wide enough for the legend strip, even with one panel.
    let size = (
        (PANEL.0 * cols as u32).max(LEGEND_W),
        PANEL.1 * rows as u32 + LEGEND_H,
    );
    // Render in memory, then write atomically: a failed drawing leaves no partial file.
    let mut svg = String::new();
    let result = (|| -> Result<()> {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let (legend, root) = root.split_vertically(LEGEND_H);
        draw_legend(&legend)?;
        let panels = root.split_evenly((rows, cols));
        for (panel, group) in panels.iter().zip(&report.groups) {
            if let Some(score) = plotted(&group.scores) {
                draw_panel(panel, &group.group, score)?;
            }
        }
        root.present()?;
        Ok(())
    })();
    result.with_context(|| format!("cannot draw the plot {}", path.display()))?;
    smallscale_io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}

/// One strip for every panel: what each mark means.
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 13);
    let err = |e| anyhow::anyhow!("{e}");
    let y = 17;
    area.draw(&Circle::new((14, y), 3, BLACK.mix(0.45).filled()))
        .map_err(err)?;
    area.draw(&Text::new("model", (22, y - 7), font))
        .map_err(err)?;
    area.draw(&PathElement::new(
        vec![(80, y), (100, y)],
        RED.stroke_width(1),
    ))
    .map_err(err)?;
    area.draw(&Circle::new((90, y), 4, RED.filled()))
        .map_err(err)?;
    area.draw(&Text::new("Pareto front", (106, y - 7), font))
        .map_err(err)?;
    area.draw(&PathElement::new(
        vec![(200, y), (222, y)],
        BLUE.stroke_width(2),
    ))
    .map_err(err)?;
    area.draw(&PathElement::new(
        vec![(226, y), (248, y)],
        BLUE.mix(0.35).stroke_width(1),
    ))
    .map_err(err)?;
    area.draw(&Text::new(
        "iso-PePR lines through the front (bold: the best model's)",
        (254, y - 7),
        font,
    ))
    .map_err(err)?;
    area.draw(&Circle::new((640, y), 7, BLUE.stroke_width(2)))
        .map_err(err)?;
    area.draw(&Text::new(
        "the best PePR (named under its panel)",
        (652, y - 7),
        font,
    ))
    .map_err(err)?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    group: &str,
    score: &ScoreReport,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let s = &score.scores;
    let w = s.weight;
    let (mut lo, mut hi) = s
        .models
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), m| {
            (a.min(m.performance), b.max(m.performance))
        });
    let pad = ((hi - lo) * 0.08).max(0.01);
    lo = (lo - pad).max(0.0);
    hi = (hi + pad).min(1.0);
    let x_desc = if s.resources.len() == 1 {
        format!("normalized {} R", s.resources[0].name)
    } else {
        "combined normalized resource R".to_string()
    };
    let (area, footer) = area.split_vertically(area.dim_in_pixel().1 as i32 - 22);
    let mut chart = ChartBuilder::on(&area)
        .caption(format!("{group}: {}", score.label), ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(38)
        .y_label_area_size(52)
        .build_cartesian_2d(-0.03f64..1.03f64, lo..hi)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("performance P")
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let best = s.best();
    let mut front: Vec<_> = s.models.iter().filter(|m| m.on_pareto_front).collect();
    front.sort_by(|a, b| a.resource.total_cmp(&b.resource));
    for m in &front {
        if let Some(seg) = iso_segment(m.pepr, w, lo, hi) {
            let style = if m.name == best.name {
                BLUE.stroke_width(2)
            } else {
                BLUE.mix(0.35).stroke_width(1)
            };
            chart
                .draw_series(LineSeries::new(seg, style))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    chart
        .draw_series(
            s.models
                .iter()
                .filter(|m| !m.on_pareto_front)
                .map(|m| Circle::new((m.resource, m.performance), 3, BLACK.mix(0.45).filled())),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    chart
        .draw_series(LineSeries::new(
            front.iter().map(|m| (m.resource, m.performance)),
            RED.stroke_width(1),
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    chart
        .draw_series(
            front
                .iter()
                .map(|m| Circle::new((m.resource, m.performance), 4, RED.filled())),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    chart
        .draw_series(std::iter::once(Circle::new(
            (best.resource, best.performance),
            7,
            BLUE.stroke_width(2),
        )))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    footer
        .draw(&Text::new(
            format!("best: {} (PePR {:.3})", best.name, best.pepr),
            (60, 2),
            ("sans-serif", 13),
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::iso_segment;

    #[test]
    fn iso_segments_are_clipped_to_the_window() {
        // P = 0.4 (1 + R): 0.4 at R = 0, 0.8 at R = 1.
        let [a, b] = iso_segment(0.4, 1.0, 0.0, 1.0).unwrap();
        assert_eq!((a, b), ((0.0, 0.4), (1.0, 0.8)));
        let [a, b] = iso_segment(0.4, 1.0, 0.5, 0.6).unwrap();
        assert!((a.0 - 0.25).abs() < 1e-12 && (b.0 - 0.5).abs() < 1e-12);
        assert!(iso_segment(0.9, 1.0, 0.0, 0.5).is_none());
        // w = 0: a horizontal line.
        assert_eq!(iso_segment(0.3, 0.0, 0.0, 1.0).unwrap()[1], (1.0, 0.3));
        assert!(iso_segment(0.3, 0.0, 0.5, 1.0).is_none());
    }
}
