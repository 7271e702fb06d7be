//! The SVG plots of a study (feature `plots`): accuracy against parameters with the Pareto
//! front per experiment, PePR-E per model, and pretrained against scratch accuracy.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use smallscale_pepr_score::{ExperimentLabel, Pool};

use crate::errors::{Result, StudyError};
use crate::study::StudyResults;

fn plot_err(e: impl std::fmt::Display) -> StudyError {
    StudyError::Plot {
        reason: e.to_string(),
    }
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The series legend every plot draws: boxed, on a translucent white background, at `position`.
fn draw_legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, position: SeriesLabelPosition) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)
}

fn fraction_text(f: f64) -> String {
    format!("{} %", crate::report::fraction_percent(f))
}

/// Accuracy (%) against parameters (log scale), one panel per experiment, with the Pareto front
/// of (max accuracy, min parameters) as a step line.
pub fn accuracy_vs_parameters(path: &Path, results: &StudyResults, pools: &[Pool]) -> Result<()> {
    let cols = results.params.fractions.len().max(1);
    let rows = pools.len().div_ceil(cols).max(1);
    let root = SVGBackend::new(path, (380 * cols as u32, 320 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (min_p, max_p) = results
        .runs
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), r| {
            (a.min(r.parameters as f64), b.max(r.parameters as f64))
        });
    // Room on the right for the largest model's name.
    let x_range = (min_p.max(1.0).log10().floor())..(max_p.max(10.0).log10() + 0.6).ceil();
    let panels = root.split_evenly((rows, cols));
    for (panel, pool) in panels.iter().zip(pools) {
        let sizes = pool.resource("num_param")?;
        let acc: Vec<f64> = pool.performances().iter().map(|p| 100.0 * p).collect();
        let lo = acc.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = acc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Room below the lowest model for the legend (lower right), so it hides no point.
        let span = (hi - lo).max(1.0);
        let y_range = (lo - 0.5 * span - 2.0).floor().max(0.0)..(hi + 2.0).ceil().min(100.0);
        let mut chart = ChartBuilder::on(panel)
            .caption(pool.label(), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(46)
            .build_cartesian_2d(x_range.clone(), y_range)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("log10 parameters")
            .y_desc("test accuracy (%)")
            .x_labels(6)
            .draw()
            .map_err(plot_err)?;
        let mut order: Vec<usize> = (0..sizes.len()).collect();
        order.sort_by(|&a, &b| sizes[a].total_cmp(&sizes[b]));
        // Front: walking up in size, a model is on it when more accurate than every smaller one.
        let mut front = Vec::new();
        let mut best = f64::NEG_INFINITY;
        for &i in &order {
            if acc[i] > best {
                best = acc[i];
                front.push((sizes[i].log10(), acc[i]));
            }
        }
        let mut steps = Vec::new();
        for (k, &(x, y)) in front.iter().enumerate() {
            if k > 0 {
                steps.push((x, front[k - 1].1));
            }
            steps.push((x, y));
        }
        if let Some(&(_, y)) = front.last() {
            steps.push((x_range.end, y));
        }
        chart
            .draw_series(LineSeries::new(steps, COLORS[3].stroke_width(2)))
            .map_err(plot_err)?
            .label("Pareto front (max accuracy, min parameters)")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], COLORS[3].stroke_width(2))
            });
        chart
            .draw_series(
                order
                    .iter()
                    .map(|&i| Circle::new((sizes[i].log10(), acc[i]), 4, COLORS[0].filled())),
            )
            .map_err(plot_err)?
            .label("model")
            .legend(|(x, y)| Circle::new((x + 8, y), 4, COLORS[0].filled()));
        chart
            .draw_series(order.iter().map(|&i| {
                Text::new(
                    pool.runs()[i].name.clone(),
                    (sizes[i].log10(), acc[i]),
                    ("sans-serif", 10).into_font().color(&BLACK),
                )
            }))
            .map_err(plot_err)?;
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// PePR-E of every model (ordered by size) in every experiment, one line per experiment.
pub fn pepr_per_model(path: &Path, results: &StudyResults, pools: &[Pool]) -> Result<()> {
    let root = SVGBackend::new(path, (900, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut models: Vec<(String, usize)> = results
        .runs
        .iter()
        .map(|r| (r.model.clone(), r.parameters))
        .collect();
    models.sort_by_key(|(name, p)| (*p, name.clone()));
    models.dedup_by(|a, b| a.0 == b.0);
    let names: Vec<String> = models.into_iter().map(|(n, _)| n).collect();
    let n = names.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "PePR-E per model (models ordered by parameter count)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0f64..1.0)
        .map_err(plot_err)?;
    let label_names = names.clone();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&move |x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                label_names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("PePR-E")
        .draw()
        .map_err(plot_err)?;
    for (k, pool) in pools.iter().enumerate() {
        let scores = pool.pepr("energy")?;
        let points: Vec<(f64, f64)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, name)| scores.get(name).map(|m| (i as f64, m.pepr)))
            .collect();
        let color = COLORS[k % COLORS.len()];
        let pretrained = ExperimentLabel::parse(pool.label()).pretrained;
        let style = color.stroke_width(if pretrained { 1 } else { 2 });
        chart
            .draw_series(LineSeries::new(points.clone(), style))
            .map_err(plot_err)?
            .label(pool.label())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        if pretrained {
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Cross::new(p, 4, color.stroke_width(2))),
                )
                .map_err(plot_err)?;
        } else {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(plot_err)?;
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Test accuracy pretrained (y) against from scratch (x), per model and fraction, with the
/// diagonal: points above it gained from pretraining.
pub fn pretrained_vs_scratch(path: &Path, results: &StudyResults) -> Result<()> {
    let root = SVGBackend::new(path, (560, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut pairs = Vec::new();
    for r in results.runs.iter().filter(|r| r.pretrained) {
        if let Some(s) = results
            .runs
            .iter()
            .find(|s| !s.pretrained && s.model == r.model && s.fraction == r.fraction)
        {
            pairs.push((r.fraction, 100.0 * s.test_accuracy, 100.0 * r.test_accuracy));
        }
    }
    let lo = pairs
        .iter()
        .flat_map(|p| [p.1, p.2])
        .fold(100.0f64, f64::min);
    let lo = (lo - 2.0).floor().max(0.0);
    let mut chart = ChartBuilder::on(&root)
        .caption("Pretrained against from scratch", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..100.0, lo..100.0)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("test accuracy from scratch (%)")
        .y_desc("test accuracy pretrained (%)")
        .draw()
        .map_err(plot_err)?;
    chart
        .draw_series(LineSeries::new(
            vec![(lo, lo), (100.0, 100.0)],
            BLACK.mix(0.4),
        ))
        .map_err(plot_err)?
        .label("no change")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.4)));
    for (k, &fraction) in results.params.fractions.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        chart
            .draw_series(
                pairs
                    .iter()
                    .filter(|p| p.0 == fraction)
                    .map(|p| Circle::new((p.1, p.2), 5, color.filled())),
            )
            .map_err(plot_err)?
            .label(format!("{} of the training data", fraction_text(fraction)))
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(plot_err)?;
    Ok(())
}
