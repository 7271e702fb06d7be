//! `smallscale pepr`: PePR scores, rankings and Pareto fronts of a CSV table of runs.
//!
//! One pool per value of `--group-by` (or one pool for the whole table). Every `--resource`
//! gets its own PePR (the paper's score for that resource); `--combine` adds the combined
//! extension (share-weighted mean of the normalized resources). `--plot` draws one panel per
//! pool into a single SVG file (see [`super::pepr_plot`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Serialize;
use smallscale_io::IoError;
use smallscale_pepr_score::{
    PeprError, PeprVariant, Pool, PoolScores, ScoreParams, TableParams, load_pools,
};

use super::pepr_plot;

/// Arguments of `smallscale pepr`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    smallscale pepr --input runs.csv --performance test_acc --resource energy\n  \
    smallscale pepr --input full_data_pepr_dataset_level.csv --performance test_09 --resource energy --group-by dataset --plot pepr.svg\n  \
    smallscale pepr --input runs.csv --performance top1 --performance-scale 0.01 --resource energy --resource memR --combine --share 2 --share 1 --json\n\n\
    PePR = P / (1 + R), with R the resource min-max normalized over the pool (each group of --group-by).\n\
    Each --resource gets its own PePR; --combine adds one score on the share-weighted mean of the\n\
    normalized resources (an extension, not in the paper). --weight, --reference-bounds are extensions too.")]
pub struct PeprArgs {
    /// CSV table of runs, one row per trained model, with a header row.
    #[arg(long, value_name = "RUNS.csv")]
    pub input: PathBuf,
    /// Column holding the performance P (e.g. test accuracy), in [0, 1] after --performance-scale.
    #[arg(long, value_name = "COL")]
    pub performance: String,
    /// Column holding a raw resource cost (energy, co2, time, memory, ...); repeatable.
    #[arg(long = "resource", value_name = "COL", required = true)]
    pub resources: Vec<String>,
    /// Column whose values split the table into pools scored separately (e.g. `dataset`).
    #[arg(long, value_name = "COL")]
    pub group_by: Option<String>,
    /// Column holding the model names (unique within a pool).
    #[arg(long, value_name = "COL", default_value = "model")]
    pub model_col: String,
    /// Multiply every performance by this (0.01 turns percentages into fractions).
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub performance_scale: f64,
    /// Extension: the weight w of P / (1 + w R); 1 is the paper's PePR, 0 ignores the resource.
    #[arg(long, value_name = "W", default_value_t = 1.0)]
    pub weight: f64,
    /// Extension: also score the share-weighted mean of the normalized resources (needs at least
    /// two --resource).
    #[arg(long)]
    pub combine: bool,
    /// Share of each --resource in the combined score, in the order of --resource (default: all 1).
    #[arg(long = "share", value_name = "S", requires = "combine")]
    pub shares: Vec<f64>,
    /// Extension: normalize a resource against fixed bounds instead of over the pool, clamping
    /// R into [0, 1]; repeatable, e.g. `energy=0:2.5`.
    #[arg(long = "reference-bounds", value_name = "COL=MIN:MAX")]
    pub reference_bounds: Vec<String>,
    #[command(flatten)]
    pub output: super::output_args::OutputArgs,
    /// Draw performance against normalized resource, with the Pareto front and iso-PePR lines,
    /// one panel per pool, into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// Everything the command computed, as printed by `--json`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The input table.
    pub input: String,
    /// The performance column.
    pub performance_column: String,
    /// The factor applied to the performance column.
    pub performance_scale: f64,
    /// The model-name column.
    pub model_column: String,
    /// The grouping column, if any.
    pub group_column: Option<String>,
    /// The resource columns, in the order given.
    pub resources: Vec<String>,
    /// The weight `w` of `P / (1 + w R)`.
    pub weight: f64,
    /// Whether the combined score was added.
    pub combine: bool,
    /// One entry per pool, in order of first appearance in the table.
    pub groups: Vec<GroupReport>,
}

/// The scores of one pool.
#[derive(Debug, Serialize)]
pub struct GroupReport {
    /// The group value (the input path when the table is not grouped).
    pub group: String,
    /// Number of models in the pool.
    pub n_models: usize,
    /// One score per resource, then the combined score with `--combine`.
    pub scores: Vec<ScoreReport>,
}

/// One score (one resource, or the combination) of one pool.
#[derive(Debug, Serialize)]
pub struct ScoreReport {
    /// The resource column, or `combined`.
    pub score: String,
    /// A human label, e.g. `PePR-E` for the paper's `energy` column.
    pub label: String,
    /// The library's scores: weight, resource summaries, models (name, performance, raw and
    /// normalized resources, combined `resource`, `pepr`, `rank`, `on_pareto_front`), notes.
    #[serde(flatten)]
    pub scores: PoolScores,
    /// Model names, best first.
    pub ranking: Vec<String>,
    /// Model names on the Pareto front (max performance, min raw resource), in table order.
    pub pareto_front: Vec<String>,
}

/// A `--reference-bounds` entry.
#[derive(Debug, Clone, PartialEq)]
struct Bounds {
    resource: String,
    min: f64,
    max: f64,
}

fn parse_bounds(text: &str) -> Result<Bounds> {
    let hint = "write it as COL=MIN:MAX, e.g. energy=0:2.5";
    let (resource, range) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("--reference-bounds `{text}`: missing `=`; {hint}"))?;
    let (min, max) = range
        .split_once(':')
        .ok_or_else(|| anyhow!("--reference-bounds `{text}`: missing `:`; {hint}"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| anyhow!("--reference-bounds `{text}`: `{s}` is not a number; {hint}"))
    };
    Ok(Bounds {
        resource: resource.trim().to_string(),
        min: number(min)?,
        max: number(max)?,
    })
}

/// The label of a score of one resource: the paper's name for its columns, else `PePR(col)`.
fn label_for(resource: &str) -> String {
    PeprVariant::ALL
        .iter()
        .find(|v| v.paper_column() == resource)
        .map_or_else(|| format!("PePR({resource})"), |v| v.label().to_string())
}

/// The scoring parameters, validated: one per resource, plus the combination.
fn score_params(args: &PeprArgs) -> Result<Vec<(String, String, ScoreParams)>> {
    let bounds = args
        .reference_bounds
        .iter()
        .map(|b| parse_bounds(b))
        .collect::<Result<Vec<_>>>()?;
    for b in &bounds {
        if !args.resources.contains(&b.resource) {
            bail!(
                "--reference-bounds names `{}`, which is not a --resource (scored: {})",
                b.resource,
                args.resources.join(", ")
            );
        }
    }
    let with_bounds = |mut p: ScoreParams, resources: &[&String]| {
        for b in bounds.iter().filter(|b| resources.contains(&&b.resource)) {
            p = p.with_reference_bounds(b.resource.clone(), b.min, b.max);
        }
        p
    };
    let mut out = Vec::new();
    for r in &args.resources {
        let p = with_bounds(ScoreParams::new(r.clone()).with_weight(args.weight), &[r]);
        out.push((r.clone(), label_for(r), p));
    }
    if args.combine {
        if args.resources.len() < 2 {
            bail!("--combine needs at least two --resource columns to combine");
        }
        let shares = if args.shares.is_empty() {
            vec![1.0; args.resources.len()]
        } else if args.shares.len() == args.resources.len() {
            args.shares.clone()
        } else {
            bail!(
                "{} --share value(s) for {} --resource column(s): give one share per resource, in the same order",
                args.shares.len(),
                args.resources.len()
            );
        };
        let mut p = ScoreParams::new(args.resources[0].clone()).with_resource_share(shares[0]);
        for (r, s) in args.resources.iter().zip(&shares).skip(1) {
            p = p.and_resource(r.clone(), *s);
        }
        let p = with_bounds(
            p.with_weight(args.weight),
            &args.resources.iter().collect::<Vec<_>>(),
        );
        out.push((
            "combined".to_string(),
            format!("PePR(combined: {})", args.resources.join(", ")),
            p,
        ));
    }
    Ok(out)
}

/// Turns library errors into messages that name the command-line option to change.
fn explain(err: PeprError, args: &PeprArgs) -> anyhow::Error {
    match &err {
        PeprError::PerformanceOutOfRange { .. } => anyhow!(
            "{err}; if column `{}` holds percentages, pass --performance-scale 0.01",
            args.performance
        ),
        PeprError::DuplicateModel { .. } if args.group_by.is_none() => anyhow!(
            "{err}; pass --group-by COL to score each group separately, or --model-col to pick the column that names models"
        ),
        PeprError::Table(IoError::MissingColumn { column, .. }) => {
            let flag = if Some(column) == args.group_by.as_ref() {
                "--group-by"
            } else if *column == args.performance {
                "--performance"
            } else if *column == args.model_col {
                "--model-col"
            } else {
                "--resource"
            };
            anyhow!("{flag}: {err}")
        }
        _ => anyhow!(err),
    }
}

fn check_plot_path(path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => Ok(()),
        Some("png") => bail!(
            "--plot {}: PNG output needs font files this build does not ship; write an SVG instead (e.g. --plot {})",
            path.display(),
            path.with_extension("svg").display()
        ),
        _ => bail!(
            "--plot {}: only SVG plots are supported; give a file name ending in .svg",
            path.display()
        ),
    }
}

/// Scores every pool of the table.
pub fn compute(args: &PeprArgs) -> Result<Report> {
    let mut spec = TableParams::new(args.performance.clone(), args.resources.clone())
        .with_model_column(args.model_col.clone())
        .with_performance_scale(args.performance_scale);
    if let Some(g) = &args.group_by {
        spec = spec.with_group_by(g.clone());
    }
    let spec = spec.check().map_err(|e| explain(e, args))?;
    let params = score_params(args)?
        .into_iter()
        .map(|(name, label, p)| Ok((name, label, p.check()?)))
        .collect::<std::result::Result<Vec<_>, PeprError>>()
        .map_err(|e| explain(e, args))?;
    let pools: Vec<Pool> = load_pools(&args.input, &spec).map_err(|e| explain(e, args))?;
    let mut groups = Vec::with_capacity(pools.len());
    for pool in &pools {
        let mut scores = Vec::with_capacity(params.len());
        for (name, label, p) in &params {
            let s = pool.score(p).map_err(|e| explain(e, args))?;
            scores.push(ScoreReport {
                score: name.clone(),
                label: label.clone(),
                ranking: s.ranking().iter().map(|m| m.name.clone()).collect(),
                pareto_front: s.pareto_front().iter().map(|m| m.name.clone()).collect(),
                scores: s,
            });
        }
        groups.push(GroupReport {
            group: pool.label().to_string(),
            n_models: pool.len(),
            scores,
        });
    }
    Ok(Report {
        input: args.input.display().to_string(),
        performance_column: args.performance.clone(),
        performance_scale: args.performance_scale,
        model_column: args.model_col.clone(),
        group_column: args.group_by.clone(),
        resources: args.resources.clone(),
        weight: args.weight,
        combine: args.combine,
        groups,
    })
}

/// Runs the subcommand.
pub fn run(args: &PeprArgs) -> Result<()> {
    if let Some(path) = &args.plot {
        check_plot_path(path)?;
        smallscale_io::check_output(path, &[&args.input]).context("--plot")?;
    }
    let report = compute(args)?;
    if let Some(path) = &args.plot {
        pepr_plot::draw(path, &report)?;
    }
    if args.output.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_tables(&report);
        if let Some(path) = &args.plot {
            outln!("plot written to {}", path.display());
        }
    }
    Ok(())
}

fn print_tables(report: &Report) {
    for group in &report.groups {
        for score in &group.scores {
            print_score(group, score, report.weight);
            outln!();
        }
    }
}

fn print_score(group: &GroupReport, score: &ScoreReport, weight: f64) {
    let s = &score.scores;
    let formula = if weight == 1.0 {
        "P / (1 + R)".to_string()
    } else {
        format!("P / (1 + {weight} R)")
    };
    outln!(
        "== {} ({} models): {} = {}",
        group.group,
        group.n_models,
        score.label,
        formula
    );
    let names: Vec<&String> = s.resources.iter().map(|r| &r.name).collect();
    let width = s
        .models
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut header = format!("{:>4}  {:<width$}  {:>8}", "rank", "model", "P");
    for n in &names {
        header.push_str(&format!("  {:>12}  {:>8}", n, format!("R({n})")));
    }
    if names.len() > 1 {
        header.push_str(&format!("  {:>8}", "R"));
    }
    header.push_str(&format!("  {:>8}  {}", "PePR", "front"));
    outln!("{header}");
    for m in s.ranking() {
        let mut line = format!("{:>4}  {:<width$}  {:>8.4}", m.rank, m.name, m.performance);
        for n in &names {
            let raw = m.raw.get(*n).copied().unwrap_or(f64::NAN);
            let norm = m.normalized.get(*n).copied().unwrap_or(f64::NAN);
            line.push_str(&format!("  {:>12}  {:>8.4}", format_raw(raw), norm));
        }
        if names.len() > 1 {
            line.push_str(&format!("  {:>8.4}", m.resource));
        }
        line.push_str(&format!(
            "  {:>8.4}  {}",
            m.pepr,
            if m.on_pareto_front { "*" } else { "" }
        ));
        outln!("{}", line.trim_end());
    }
    for r in &s.resources {
        let method = match r.method {
            smallscale_pepr_score::NormalizationMethod::PoolMinMax => "pool min-max",
            smallscale_pepr_score::NormalizationMethod::ReferenceBounds => "reference bounds",
        };
        outln!(
            "{}: {} [{}, {}]{}",
            r.name,
            method,
            format_raw(r.min),
            format_raw(r.max),
            if names.len() > 1 {
                format!(", share {}", r.share)
            } else {
                String::new()
            }
        );
    }
    outln!("best: {}", s.best().name);
    outln!("Pareto front: {}", score.pareto_front.join(", "));
    for note in &s.notes {
        outln!("note: {note}");
    }
}

/// Raw resource values span many magnitudes (kWh to seconds): 4 significant digits.
fn format_raw(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        let digits = if v == 0.0 {
            0
        } else {
            (3 - v.abs().log10().floor() as i32).max(0) as usize
        };
        format!("{v:.digits$}")
    } else {
        format!("{v:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_and_reject() {
        let b = parse_bounds("energy=0:2.5").unwrap();
        assert_eq!(
            b,
            Bounds {
                resource: "energy".into(),
                min: 0.0,
                max: 2.5
            }
        );
        assert!(parse_bounds("energy").is_err());
        assert!(parse_bounds("energy=1").is_err());
        assert!(parse_bounds("energy=a:2").is_err());
    }

    #[test]
    fn labels_and_number_format() {
        assert_eq!(label_for("energy"), "PePR-E");
        assert_eq!(label_for("memR"), "PePR-M");
        assert_eq!(label_for("flops"), "PePR(flops)");
        assert_eq!(format_raw(0.0), "0");
        assert_eq!(format_raw(1.23456), "1.235");
        assert_eq!(format_raw(1234.56), "1235");
        assert_eq!(format_raw(0.000_012), "1.200e-5");
    }
}
