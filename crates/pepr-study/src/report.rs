//! The analysis of a study's table and its Markdown report. The analysis reads the written CSV
//! back with the same loader as `smallscale pepr`, so what the report says is what anyone gets
//! from the file.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use smallscale_pepr_score::{
    ExperimentComparison, Findings, FindingsColumns, PoolScores, Provenance, TableParams,
    load_pools, paper_findings,
};

use crate::errors::Result;
use crate::study::StudyResults;
use crate::table::ENERGY_INCL_PRETRAIN;

/// The PePR variants of the report: resource column and label.
pub const REPORTED_SCORES: [(&str, &str); 4] = [
    ("energy", "PePR-E"),
    ("co2", "PePR-C"),
    ("train_time", "PePR-T"),
    ("memR", "PePR-M"),
];

/// The scores of one experiment as read back from the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentScores {
    /// The experiment label.
    pub experiment: String,
    /// One entry per scored resource (`energy`, `co2`, `train_time`, `memR`,
    /// `energy_incl_pretrain`).
    pub scores: Vec<(String, PoolScores)>,
}

impl ExperimentScores {
    /// The scores of `resource`.
    pub fn get(&self, resource: &str) -> Option<&PoolScores> {
        self.scores
            .iter()
            .find(|(r, _)| r == resource)
            .map(|(_, s)| s)
    }
}

/// What the report shows: the scores per experiment and the findings, without and with the
/// pretraining's cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyAnalysis {
    /// Per experiment, in table order.
    pub experiments: Vec<ExperimentScores>,
    /// The paper's findings with the fine-tuning's energy only (as the paper).
    pub findings: Findings,
    /// The findings with the pretraining's energy added to every pretrained run.
    pub findings_with_pretraining: Findings,
}

/// Reads a study's table and computes the scores and findings.
///
/// # Errors
///
/// The table's errors (a missing column, a cell that is not a number).
pub fn analyze_study_csv(path: &Path) -> Result<StudyAnalysis> {
    let mut resources = vec![
        "energy",
        "co2",
        "train_time",
        "num_param",
        ENERGY_INCL_PRETRAIN,
    ];
    // Peak memory is empty where the system does not report it.
    if memory_column_filled(path) {
        resources.push("memR");
    }
    let spec = TableParams::new("test_09", resources.clone())
        .with_group_by("dataset")
        .check()?;
    let pools = load_pools(path, &spec)?;
    let mut experiments = Vec::new();
    for pool in &pools {
        let mut scores = Vec::new();
        for r in ["energy", "co2", "train_time", "memR", ENERGY_INCL_PRETRAIN] {
            if resources.contains(&r) {
                scores.push((r.to_string(), pool.pepr(r)?));
            }
        }
        experiments.push(ExperimentScores {
            experiment: pool.label().to_string(),
            scores,
        });
    }
    let findings = paper_findings(&pools, &FindingsColumns::default())?;
    let findings_with_pretraining = paper_findings(
        &pools,
        &FindingsColumns {
            energy: ENERGY_INCL_PRETRAIN.to_string(),
            ..FindingsColumns::default()
        },
    )?;
    Ok(StudyAnalysis {
        experiments,
        findings,
        findings_with_pretraining,
    })
}

fn memory_column_filled(path: &Path) -> bool {
    let Ok(mut table) = smallscale_io::CsvTable::open(path) else {
        return false;
    };
    let Ok(column) = table.column("memR", None) else {
        return false;
    };
    table
        .rows()
        .all(|row| row.is_ok_and(|r| !r.text(column).is_empty()))
}

/// A training fraction in percent without float noise (`0.07` gives `7`, not `7.000000000000001`).
pub(crate) fn fraction_percent(f: f64) -> String {
    format!("{}", (100.0 * f * 1e6).round() / 1e6)
}

fn pct(v: f64) -> String {
    format!("{:.2} %", 100.0 * v)
}

fn sci(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if (1e-2..1e4).contains(&v.abs()) {
        format!("{v:.3}")
    } else {
        format!("{v:.3e}")
    }
}

fn p_value(p: Option<f64>) -> String {
    p.map_or("-".to_string(), p_fmt)
}

fn comparison_rows(out: &mut String, title: &str, rows: &[ExperimentComparison]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}\n");
    let _ = writeln!(
        out,
        "| a | b | accuracy a | accuracy b | Welch p | paired difference (pp) [95 % CI] | paired p | energy a (kWh) | energy b (kWh) | Welch p | energy ratio a/b (geometric mean) [95 % CI] | paired p |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for c in rows {
        let (acc_a, acc_b, p) = c
            .accuracy
            .as_ref()
            .map_or(("-".into(), "-".into(), "undefined".into()), |w| {
                (pct(w.mean_a), pct(w.mean_b), p_fmt(w.p_value))
            });
        let (diff, diff_p) =
            c.paired_accuracy
                .as_ref()
                .map_or(("-".into(), "undefined".into()), |t| {
                    (
                        format!(
                            "{:+.2} [{:+.2}, {:+.2}]",
                            100.0 * t.mean,
                            100.0 * t.ci_low,
                            100.0 * t.ci_high
                        ),
                        p_fmt(t.p_value),
                    )
                });
        let (ea, eb, ep) = c
            .energy
            .as_ref()
            .map_or(("-".into(), "-".into(), "undefined".into()), |w| {
                (sci(w.mean_a), sci(w.mean_b), p_fmt(w.p_value))
            });
        let (ratio, ratio_p) =
            c.paired_log_energy_ratio
                .as_ref()
                .map_or(("-".into(), "undefined".into()), |t| {
                    (
                        format!(
                            "{:.3} [{:.3}, {:.3}]",
                            t.mean.exp(),
                            t.ci_low.exp(),
                            t.ci_high.exp()
                        ),
                        p_fmt(t.p_value),
                    )
                });
        let _ = writeln!(
            out,
            "| {} | {} | {acc_a} | {acc_b} | {p} | {diff} | {diff_p} | {ea} | {eb} | {ep} | {ratio} | {ratio_p} |",
            c.a, c.b
        );
    }
}

fn p_fmt(p: f64) -> String {
    if p < 0.01 {
        format!("{p:.1e}")
    } else {
        format!("{p:.2}")
    }
}

fn findings_list(out: &mut String, findings: &Findings) {
    for (i, v) in findings.verdicts.iter().enumerate() {
        let number = ["1", "2", "3a", "3b"].get(i).copied().unwrap_or("-");
        let _ = writeln!(
            out,
            "{number}. **{}: {}.** {}",
            v.finding, v.verdict, v.statistic
        );
    }
}

/// The Markdown report of a study; `plots` lists the SVG files written beside it.
pub fn markdown_report(
    results: &StudyResults,
    analysis: &StudyAnalysis,
    plots: &[String],
) -> String {
    let p = &results.params;
    let mut out = String::new();
    let _ = writeln!(out, "# PePR study: {}\n", results.label);
    let _ = writeln!(
        out,
        "{} models ({}) x {{from scratch, pretrained}} x training fractions {} on {} ({} train / {} validation / {} test images at 100 %; a fraction is a stratified sample of the training split, validation and test stay whole), pretrained on {} ({} train / {} validation images). Every run: Adam, learning rate {}, batch {}, at most {} epochs ({} for the pretraining), stopped after {} epochs without a better validation accuracy, the epoch best on validation kept, seed {}.\n",
        p.pool.models.len(),
        p.pool
            .models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        p.fractions
            .iter()
            .map(|f| format!("{} %", fraction_percent(*f)))
            .collect::<Vec<_>>()
            .join(", "),
        results.target.describe(),
        results.target.train_examples,
        results.target.validation_examples,
        results.target.test_examples,
        results.pretraining_data.describe(),
        results.pretraining_data.train_examples,
        results.pretraining_data.validation_examples,
        p.lr,
        p.batch_size,
        p.epochs,
        p.pretrain_epochs,
        p.patience,
        p.seed
    );
    let _ = writeln!(out, "Machine: {}.", results.environment.summary());
    let _ = writeln!(out, "Command: `{}`.", results.environment.command);
    if !results.missing.is_empty() {
        let _ = writeln!(
            out,
            "\n**Partial results**: {} runs of the grid had not finished when these results were merged, and are missing \
             from every table and statistic: {}. Merge again when they have finished.",
            results.missing.len(),
            results.missing.join(", ")
        );
    }
    if let Some(r) = results.runs.first() {
        let e = &r.resources.energy;
        let label = match e.provenance {
            Provenance::Measured => "measured",
            Provenance::Estimated => "estimated",
        };
        let same = results.runs.iter().all(|x| {
            x.resources.energy.provenance == e.provenance
                && x.resources.energy.source == e.source
                && x.resources.pue == r.resources.pue
                && x.resources.carbon_intensity == r.resources.carbon_intensity
        }) && results.pretraining.iter().all(|x| {
            x.resources.energy.provenance == e.provenance && x.resources.pue == r.resources.pue
        });
        if same {
            let _ = writeln!(
                out,
                "Energy is {label} ({}), PUE {}; CO2 = energy x {} g/kWh ({}); time and peak memory are measured.",
                e.source,
                r.resources.pue,
                r.resources.carbon_intensity.grams_per_kwh,
                r.resources.carbon_intensity.source
            );
        } else {
            let _ = writeln!(
                out,
                "**The runs were not all metered alike** (energy source, PUE or carbon intensity differ between runs; see the table's `energy_source` column and `results.json`): their figures are not comparable within a pool."
            );
        }
    }
    let _ = writeln!(
        out,
        "This call took {:.0} s; the runs' own training took {:.0} s and the pretraining {:.0} s.",
        results.seconds,
        results
            .runs
            .iter()
            .map(|r| r.resources.wall_time.value)
            .sum::<f64>(),
        results
            .pretraining
            .iter()
            .map(|r| r.resources.wall_time.value)
            .sum::<f64>()
    );

    let _ = writeln!(out, "\n## Scores per experiment\n");
    let _ = writeln!(
        out,
        "P is the test accuracy of the epoch best on validation; PePR = P / (1 + R), R min-max normalized over the experiment's models; `*` marks the Pareto front of accuracy against energy."
    );
    for e in &analysis.experiments {
        let _ = writeln!(out, "\n### {}\n", e.experiment);
        let mut header =
            "| model | parameters | P | balanced | AUC | energy (kWh) | train time (s) |"
                .to_string();
        let mut rule = "| --- | ---: | ---: | ---: | ---: | ---: | ---: |".to_string();
        for (r, label) in REPORTED_SCORES {
            if e.get(r).is_some() {
                header.push_str(&format!(" {label} |"));
                rule.push_str(" ---: |");
            }
        }
        header.push_str(" front |");
        rule.push_str(" :---: |");
        let _ = writeln!(out, "{header}\n{rule}");
        for run in results.runs.iter().filter(|r| r.experiment == e.experiment) {
            let mut line = format!(
                "| {} | {} | {} | {} | {} | {} | {:.1} |",
                run.model,
                run.parameters,
                pct(run.test_accuracy),
                pct(run.balanced_accuracy),
                run.auc.map_or("-".to_string(), |a| format!("{a:.3}")),
                sci(run.resources.energy.value),
                run.resources.wall_time.value
            );
            for (r, _) in REPORTED_SCORES {
                if let Some(s) = e.get(r) {
                    let v = s.get(&run.model).map_or(f64::NAN, |m| m.pepr);
                    line.push_str(&format!(" {v:.4} |"));
                }
            }
            let front = e
                .get("energy")
                .and_then(|s| s.get(&run.model))
                .is_some_and(|m| m.on_pareto_front);
            line.push_str(if front { " * |" } else { " |" });
            let _ = writeln!(out, "{line}");
        }
        if let Some(s) = e.get("energy") {
            let _ = writeln!(out, "\nBest PePR-E: {}.", s.best().name);
        }
    }

    let _ = writeln!(out, "\n## Pretraining\n");
    let _ = writeln!(
        out,
        "Each model is pretrained once on {}; its body initializes the `_pt` runs, its classifier is replaced.\n",
        results.pretraining_data.describe()
    );
    let _ = writeln!(
        out,
        "| model | parameters | validation | test | energy (kWh) | time (s) |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for r in &results.pretraining {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.1} |",
            r.model,
            r.parameters,
            pct(r.validation_accuracy),
            pct(r.test_accuracy),
            sci(r.resources.energy.value),
            r.resources.wall_time.value
        );
    }
    let _ = writeln!(
        out,
        "\nPePR-E of the pretrained runs without the pretraining's energy (as the paper) and with it:\n"
    );
    let _ = writeln!(
        out,
        "| experiment | model | PePR-E | PePR-E with pretraining |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: |");
    for e in analysis
        .experiments
        .iter()
        .filter(|e| smallscale_pepr_score::ExperimentLabel::parse(&e.experiment).pretrained)
    {
        if let (Some(a), Some(b)) = (e.get("energy"), e.get(ENERGY_INCL_PRETRAIN)) {
            for m in &a.models {
                let with = b.get(&m.name).map_or(f64::NAN, |x| x.pepr);
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.4} | {with:.4} |",
                    e.experiment, m.name, m.pepr
                );
            }
        }
    }

    let f = &analysis.findings;
    let _ = writeln!(out, "\n## Statistics\n");
    let _ = writeln!(
        out,
        "Rank correlations with the parameter count (p two-sided; `-` where undefined):\n"
    );
    let _ = writeln!(
        out,
        "| experiment | models | rho(size, P) | p | tau(size, P) | p | rho(size, PePR-E) | p | tau(size, PePR-E) | p |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for c in &f.size_correlations {
        let cell = |x: &Option<smallscale_pepr_score::Correlation>| {
            x.map_or(("-".to_string(), "-".to_string()), |c| {
                (format!("{:.3}", c.coefficient), p_value(c.p_value))
            })
        };
        let (a, ap) = cell(&c.accuracy_spearman);
        let (b, bp) = cell(&c.accuracy_kendall);
        let (d, dp) = cell(&c.pepr_spearman);
        let (g, gp) = cell(&c.pepr_kendall);
        let _ = writeln!(
            out,
            "| {} | {} | {a} | {ap} | {b} | {bp} | {d} | {dp} | {g} | {gp} |",
            c.experiment, c.n_models
        );
    }
    let _ = writeln!(
        out,
        "\nTwo experiments are compared with Welch's t-test (the groups as wholes) and with a paired t-test over the models they share (accuracy differences in percentage points; energy as the ratio of the geometric means, a paired test of the log ratios)."
    );
    comparison_rows(
        &mut out,
        "Pretrained against from scratch:",
        &f.pretrained_vs_scratch,
    );
    comparison_rows(
        &mut out,
        "Full against reduced training data:",
        &f.full_vs_reduced,
    );
    comparison_rows(
        &mut out,
        "Pretrained on reduced data against from scratch on all of it:",
        &f.reduced_pretrained_vs_full_scratch,
    );

    let _ = writeln!(out, "\n## The paper's findings on this study\n");
    let _ = writeln!(
        out,
        "As the paper counts it (the fine-tuning's energy only):\n"
    );
    findings_list(&mut out, f);
    let _ = writeln!(
        out,
        "\nWith the pretraining's energy added to every pretrained run:\n"
    );
    findings_list(&mut out, &analysis.findings_with_pretraining);
    let _ = writeln!(
        out,
        "\nEvery verdict is decided at alpha = {} on {} models per experiment and one seed. With so few models only a large correlation or difference is significant: \"undecided\" often means \"too few models to tell\", and finding 1 rests on the size of rho, not on its significance.",
        smallscale_pepr_score::FINDINGS_ALPHA,
        results.params.pool.models.len()
    );
    let _ = writeln!(out, "\n## How to read these numbers\n");
    let _ = writeln!(
        out,
        "- Runs stop after {} epochs without a better validation accuracy (at most {}), so a model that converges sooner costs less: that is how fine-tuning could use less energy than training from scratch (finding 3a as the paper counts it). Epochs trained per run are in `results.json` and the table's `epochs` column.",
        results.params.patience, results.params.epochs
    );
    let _ = writeln!(
        out,
        "- The pretraining's energy is added in full to every pretrained run (it is the cost of having that body), so each pretraining counts in each of the {} pretrained experiments.",
        results.params.fractions.len()
    );
    let _ = writeln!(
        out,
        "- A run's measurement covers its whole training call: the epochs, the validation pass after each epoch and the checkpoints written; for the smallest fractions this overhead is most of the cost."
    );
    let _ = writeln!(
        out,
        "- Peak memory (memR, PePR-M) is the process's peak resident memory during the run: it includes the data sets the study keeps loaded and memory kept from earlier runs, so it varies little between models and grows with the order of the runs; read PePR-M with that in mind."
    );
    let partial: Vec<String> = results
        .runs
        .iter()
        .filter(|r| r.resources.notes.iter().any(|n| n.contains("resumed")))
        .map(|r| format!("{}/{}", r.experiment, r.model))
        .collect();
    if !partial.is_empty() {
        let _ = writeln!(
            out,
            "- **Warning:** {} run(s) were resumed after an interruption and their resources cover only the part trained after it ({}); rerun them in a fresh directory for complete figures.",
            partial.len(),
            partial.join(", ")
        );
    }
    if !plots.is_empty() {
        let _ = writeln!(out, "\n## Plots\n");
        for p in plots {
            let _ = writeln!(out, "![{p}]({p})");
        }
    }
    out
}

/// The pools of the table, as `smallscale pepr --group-by dataset` reads them (for the plots).
#[cfg(feature = "plots")]
pub(crate) fn pools_of(path: &Path) -> Result<Vec<smallscale_pepr_score::Pool>> {
    let spec = TableParams::new("test_09", ["energy", "num_param"])
        .with_group_by("dataset")
        .check()?;
    Ok(load_pools(path, &spec)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_print_without_float_noise() {
        assert_eq!(fraction_percent(0.07), "7");
        assert_eq!(fraction_percent(0.01), "1");
        assert_eq!(fraction_percent(1.0), "100");
        assert_eq!(fraction_percent(0.125), "12.5");
        assert_eq!(p_fmt(0.004), "4.0e-3");
        assert_eq!(p_fmt(0.25), "0.25");
    }
}
