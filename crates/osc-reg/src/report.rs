//! results.json, report.md and SVG plots of a reproduction run, with the paper's claims checked.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use smallscale_io::write_atomic;
use smallscale_quant_core::BitWidth;

use crate::environment::RunEnvironment;
use crate::errors::{OscRegError, Result};
use crate::hyperparams::Method;
use crate::reproduce::{ReproduceResults, RunResult, per_bit_table};

/// Two accuracies count as matching when they differ by at most this many percentage points.
pub const MATCH_TOLERANCE_PP: f64 = 1.0;

/// One of the paper's claims (spec §4), checked on the numbers of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// The claim in words.
    pub claim: String,
    /// Whether it holds on these numbers (`None`: not testable with these settings).
    pub holds: Option<bool>,
    /// The numbers behind the verdict.
    pub evidence: String,
}

pub(crate) fn pp(x: f64) -> f64 {
    100.0 * x
}

/// The first claim in words.
pub(crate) fn claim_matches_text() -> String {
    format!(
        "Reg + PTQ matches QAT at >= 3 bits (Reg no more than {MATCH_TOLERANCE_PP} pp below QAT)"
    )
}

/// The second claim in words.
pub(crate) const CLAIM_QAT_AT_2: &str = "QAT beats Reg at 2 bits (ternary)";

/// The third claim in words.
pub(crate) const CLAIM_CROSS_BIT: &str = "Reg beats QAT in cross-bit accuracy (bits other than the target; on average, for every target)";

/// `Reg - QAT` in percentage points at every evaluation bit other than target `t`, for the models
/// trained for `t`; `None` when either model is missing or no other bit was evaluated.
pub(crate) fn cross_bit_differences(results: &ReproduceResults, t: BitWidth) -> Option<Vec<f64>> {
    let (q, r) = (results.qat(t)?, results.reg(t)?);
    let d: Vec<f64> = results
        .params
        .eval_bits
        .iter()
        .filter(|&&b| b != t)
        .filter_map(|&b| Some(pp(r.test.at(b)? - q.test.at(b)?)))
        .collect();
    (!d.is_empty()).then_some(d)
}

/// Checks the three claims of spec §4 on `results`.
pub fn check_claims(results: &ReproduceResults) -> Vec<ClaimCheck> {
    let targets = &results.params.target_bits;
    let mut out = Vec::new();
    // 1. Reg + PTQ matches QAT at >= 3 bits.
    let high: Vec<BitWidth> = targets.iter().copied().filter(|&b| b >= 3).collect();
    let mut ev = Vec::new();
    let mut holds = true;
    for &b in &high {
        if let (Some(q), Some(r)) = (acc_at(results.qat(b), b), acc_at(results.reg(b), b)) {
            let d = pp(r - q);
            holds &= d >= -MATCH_TOLERANCE_PP;
            ev.push(format!(
                "{b} bits: Reg {:.2}% vs QAT {:.2}% ({d:+.2} pp)",
                pp(r),
                pp(q)
            ));
        }
    }
    out.push(ClaimCheck {
        claim: claim_matches_text(),
        holds: (!ev.is_empty()).then_some(holds),
        evidence: ev.join("; "),
    });
    // 2. QAT beats Reg at 2 bits.
    let two = targets.iter().copied().find(|&b| b == 2);
    let (holds, evidence) = match (
        two.and_then(|b| acc_at(results.qat(b), b)),
        two.and_then(|b| acc_at(results.reg(b), b)),
    ) {
        (Some(q), Some(r)) => (
            Some(q > r),
            format!(
                "QAT {:.2}% vs Reg {:.2}% ({:+.2} pp)",
                pp(q),
                pp(r),
                pp(q - r)
            ),
        ),
        _ => (None, "2 bits was not a target".into()),
    };
    out.push(ClaimCheck {
        claim: CLAIM_QAT_AT_2.into(),
        holds,
        evidence,
    });
    // 3. Reg beats QAT at bits other than the target: judged per target (mean difference over the
    // other evaluation bits), holding only if it holds for every target.
    let mut per_target = Vec::new();
    let mut ev = Vec::new();
    for &t in targets {
        if let Some(d_t) = cross_bit_differences(results, t) {
            let mean = d_t.iter().sum::<f64>() / d_t.len() as f64;
            let wins = d_t.iter().filter(|&&d| d > 0.0).count();
            ev.push(format!(
                "target {t}: Reg - QAT = {mean:+.2} pp on average, Reg ahead at {wins} of {} bits",
                d_t.len()
            ));
            per_target.push(mean > 0.0);
        }
    }
    out.push(ClaimCheck {
        claim: CLAIM_CROSS_BIT.into(),
        holds: (!per_target.is_empty()).then(|| per_target.iter().all(|&h| h)),
        evidence: ev.join("; "),
    });
    out
}

fn provenance(p: smallscale_pepr_score::Provenance) -> &'static str {
    match p {
        smallscale_pepr_score::Provenance::Measured => "measured",
        smallscale_pepr_score::Provenance::Estimated => "estimated",
    }
}

fn acc_at(run: Option<&RunResult>, bits: BitWidth) -> Option<f64> {
    run.and_then(|r| r.test.at(bits))
}

fn cell(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |a| format!("{:.2}", pp(a)))
}

/// `1`, or `chosen on validation among 0.1, 1, 10` after a lambda search.
pub(crate) fn lambda_description(p: &crate::reproduce::ReproduceParams) -> String {
    if p.lambda_search.is_empty() {
        p.lambda.to_string()
    } else {
        let values: Vec<String> = p.lambda_search.iter().map(f64::to_string).collect();
        format!("chosen on validation among {}", values.join(", "))
    }
}

/// The lambda search of a reproduction in Markdown: per target bit the validation accuracy after
/// PTQ of every lambda, the chosen one in bold, and the chosen model's test accuracy.
pub(crate) fn lambda_search_section(results: &ReproduceResults) -> String {
    let p = &results.params;
    let mut s = String::new();
    let _ = writeln!(s, "\n## Lambda search\n");
    let _ = writeln!(
        s,
        "Reg was trained at every lambda for every target bit; the Reg row above is, per target bit, the \
         run with the best validation accuracy after PTQ at that bit (in bold; ties to the smaller lambda). \
         The test set played no part in the choice.\n"
    );
    let header: Vec<String> = p.target_bits.iter().map(|b| format!("b = {b}")).collect();
    let _ = writeln!(s, "| lambda | {} |", header.join(" | "));
    let _ = writeln!(s, "| ---: |{}", " ---: |".repeat(p.target_bits.len()));
    let chosen: Vec<Option<f64>> = p
        .target_bits
        .iter()
        .map(|&b| match results.reg(b).map(|r| r.method) {
            Some(Method::Reg { regularizer }) => Some(regularizer.lambda()),
            _ => None,
        })
        .collect();
    for lambda in p.reg_lambdas() {
        let cells: Vec<String> = p
            .target_bits
            .iter()
            .zip(&chosen)
            .map(|(&b, &c)| {
                let value = results
                    .reg_candidates(b)
                    .into_iter()
                    .find(|(l, _)| *l == lambda)
                    .map(|(_, v)| v);
                let text = cell(value);
                if c == Some(lambda) {
                    format!("**{text}**")
                } else {
                    text
                }
            })
            .collect();
        let _ = writeln!(s, "| {lambda} | {} |", cells.join(" | "));
    }
    let tests: Vec<String> = p
        .target_bits
        .iter()
        .zip(&chosen)
        .map(|(&b, c)| {
            let test = results.reg(b).and_then(|r| r.test.at(b));
            format!(
                "b = {b}: lambda {} (test {} %)",
                c.map_or("–".into(), |l| l.to_string()),
                cell(test)
            )
        })
        .collect();
    let _ = writeln!(
        s,
        "\nValidation accuracy in %. Chosen: {}. The resources and PePR of Reg below are those of the chosen \
         run alone, not of the whole search.",
        tests.join("; ")
    );
    s
}

/// The Markdown report: settings, the per-bit table, the cross-bit matrices, the claims, resources and
/// PePR.
pub fn markdown_report(results: &ReproduceResults, environment: &RunEnvironment) -> String {
    let p = &results.params;
    let mut s = String::new();
    let _ = writeln!(s, "# Oscillation regularizer vs QAT vs PTQ\n");
    let _ = writeln!(s, "Command: `{}`\n", environment.command);
    let _ = writeln!(s, "Software and machine: {}.\n", environment.summary());
    let _ = writeln!(
        s,
        "Data: {} (train {}, validation {}, test {}). Model: `{}`. Adam lr {}, batch {}, up to {} epochs, patience {}, \
         lambda {}, seed {}{}. Total time {:.1} s. Accuracies are test-set percentages.\n",
        results.data,
        results.sizes[0],
        results.sizes[1],
        results.sizes[2],
        serde_json::to_string(&p.model).unwrap_or_default(),
        p.lr,
        p.batch_size,
        p.epochs,
        p.patience,
        lambda_description(p),
        p.seed,
        if p.augment {
            ", CIFAR augmentation (random crop with padding 4, horizontal flip)"
        } else {
            ""
        },
        results.seconds
    );
    if !results.missing.is_empty() {
        let _ = writeln!(
            s,
            "**Partial results**: {} of the comparison's {} training runs had not finished when these results were \
             merged, and are missing from every table: {}. Merge again when they have finished.\n",
            results.missing.len(),
            results.missing.len() + results.runs.len(),
            results.missing.join(", ")
        );
    }
    let _ = writeln!(s, "## Accuracy per bit-width\n");
    if p.baselines.is_empty() {
        let _ = writeln!(
            s,
            "FP: full precision. PTQ: the FP model quantized at b. QAT / Reg: the model trained for target b, quantized at b \
             (– where b was not a target).\n"
        );
    } else {
        let _ = writeln!(
            s,
            "FP: full precision. PTQ: the FP model quantized at b. QAT / Reg and the QAT baselines: the model trained for \
             target b, evaluated at b as deployed (PTQ for Reg, the learned steps for QAT-LSQ; – where b was not a \
             target).\n"
        );
    }
    let header: Vec<String> = p.eval_bits.iter().map(|b| format!("{b} bits")).collect();
    let _ = writeln!(s, "| method | {} |", header.join(" | "));
    let _ = writeln!(s, "| --- |{}", " ---: |".repeat(p.eval_bits.len()));
    let table = per_bit_table(results);
    let rows = results.trained_rows();
    let names = ["FP", "PTQ"]
        .into_iter()
        .chain(rows.iter().map(|r| r.name()));
    for row in names {
        if let Some(values) = table.get(row) {
            let cells: Vec<String> = values.iter().map(|v| cell(*v)).collect();
            let _ = writeln!(s, "| {row} | {} |", cells.join(" | "));
        }
    }
    for &row in &rows {
        let name = row.name();
        let _ = writeln!(s, "\n## Cross-bit accuracy, {name}\n");
        let _ = writeln!(s, "Rows: training target bit. Columns: evaluation bit.\n");
        let _ = writeln!(s, "| target | {} | FP |", header.join(" | "));
        let _ = writeln!(s, "| --- |{} ---: |", " ---: |".repeat(p.eval_bits.len()));
        for &t in &p.target_bits {
            if let Some(r) = results.trained(row, t) {
                let cells: Vec<String> = p.eval_bits.iter().map(|&b| cell(r.test.at(b))).collect();
                let _ = writeln!(
                    s,
                    "| {t} | {} | {} |",
                    cells.join(" | "),
                    cell(Some(r.test.fp))
                );
            }
        }
    }
    if !p.lambda_search.is_empty() {
        s.push_str(&lambda_search_section(results));
    }
    let _ = writeln!(s, "\n## The paper's claims on these numbers\n");
    let _ = writeln!(
        s,
        "One seed decides nothing: these verdicts are read off a single draw of the initial weights, \
         the validation split and the batch order, with no uncertainty. Run `--seeds N` (N >= 3) for \
         confidence intervals and tests.\n"
    );
    for c in check_claims(results) {
        let verdict = match c.holds {
            Some(true) => "holds",
            Some(false) => "does not hold",
            None => "not tested",
        };
        let _ = writeln!(s, "- **{}**: {verdict}. {}", c.claim, c.evidence);
    }
    let _ = writeln!(s, "\n## Training runs and resources\n");
    let _ = writeln!(
        s,
        "| run | epochs | best epoch | stopped early | wall s | CPU s | energy kWh | CO2 g | final osc. fraction |"
    );
    let _ = writeln!(
        s,
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &results.runs {
        let osc = r
            .training
            .history
            .last()
            .and_then(|h| h.oscillations.as_ref())
            .map_or("–".to_string(), |o| {
                format!("{:.4}", o.oscillating_fraction)
            });
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.2e} | {:.3} | {osc} |",
            r.label,
            r.training.history.len(),
            r.training.best_epoch + 1,
            if r.training.stopped_early {
                "yes"
            } else {
                "no"
            },
            r.resources.wall_time.value,
            r.resources.cpu_time.value,
            r.resources.energy.value,
            r.resources.co2.value
        );
    }
    if let Some(r) = results.runs.first() {
        let _ = writeln!(
            s,
            "\nEnergy: {} ({}). CO2: {} ({}).",
            provenance(r.resources.energy.provenance),
            r.resources.energy.source,
            provenance(r.resources.co2.provenance),
            r.resources.co2.source
        );
        for n in &r.resources.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    let _ = writeln!(s, "\n## PePR of the deployable models\n");
    if p.baselines.is_empty() {
        let _ = writeln!(
            s,
            "PePR = accuracy / (1 + R), R the resource min-max normalized over the four models deployable at each bit \
             (FP at full precision; PTQ, QAT and Reg at that bit). PePR-S scores the size as deployed (weights at the \
             bit-width plus one 32-bit scale per tensor, other parameters 32-bit): the cost that really differs \
             between these models, so rank them by it. PePR-E and PePR-T score the training energy and time; \
             PTQ costs what the FP training cost, and the four trainings cost nearly the same, so a note says \
             when their differences are within measurement noise.\n"
        );
    } else {
        let _ = writeln!(
            s,
            "PePR = accuracy / (1 + R), R the resource min-max normalized over the models deployable at each bit \
             (FP at full precision; PTQ, QAT, Reg and the QAT baselines at that bit): the baselines are in the pool, \
             so every model's PePR depends on them. PePR-S scores the size as deployed (weights at the bit-width plus \
             one 32-bit scale per tensor, other parameters 32-bit): the cost that really differs between these \
             models, so rank them by it. PePR-E and PePR-T score the training energy and time; a note says when \
             their differences are within measurement noise.\n"
        );
    }
    for at in &results.pepr {
        let _ = writeln!(s, "### {} bits\n", at.bits);
        let _ = writeln!(
            s,
            "| model | accuracy % | size kbit | PePR-S | energy kWh | train s | PePR-E | PePR-T |"
        );
        let _ = writeln!(
            s,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for m in &at.models {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.1} | {:.4} | {:.2e} | {:.1} | {:.4} | {:.4} |",
                m.name,
                pp(m.accuracy),
                m.size_bits / 1000.0,
                m.pepr_s,
                m.energy_kwh,
                m.train_seconds,
                m.pepr_e,
                m.pepr_t
            );
        }
        for n in &at.notes {
            let _ = writeln!(s, "\n_{n}_");
        }
        let _ = writeln!(s);
    }
    if cfg!(feature = "plots") {
        let files: Vec<String> = std::iter::once("accuracy_vs_bits.svg")
            .chain(
                results
                    .trained_rows()
                    .iter()
                    .map(|r| r.cross_bit_plot_file()),
            )
            .map(|f| format!("`{f}`"))
            .collect();
        let _ = writeln!(
            s,
            "Plots: {}. Every number: `results.json`.",
            files.join(", ")
        );
    } else {
        let _ = writeln!(s, "Every number: `results.json`.");
    }
    s
}

/// Writes `results.json`, `report.md` and the SVG plots into `dir` (atomically, file by file).
pub fn write_report(
    results: &ReproduceResults,
    dir: &Path,
    environment: &RunEnvironment,
) -> Result<()> {
    #[derive(Serialize)]
    struct Full<'a> {
        command: &'a str,
        environment: &'a RunEnvironment,
        results: &'a ReproduceResults,
        claims: Vec<ClaimCheck>,
    }
    let full = Full {
        command: &environment.command,
        environment,
        results,
        claims: check_claims(results),
    };
    write_output_files(
        dir,
        vec![
            (
                "results.json",
                json_bytes(&full, &dir.join("results.json"))?,
            ),
            (
                "report.md",
                markdown_report(results, environment).into_bytes(),
            ),
        ]
        .into_iter()
        .chain(reproduction_plots(results)?)
        .collect(),
    )
}

/// The SVG plots of a reproduction, by file name (none without the `plots` feature).
fn reproduction_plots(results: &ReproduceResults) -> Result<Vec<(&'static str, Vec<u8>)>> {
    #[cfg(feature = "plots")]
    {
        use crate::plots::{accuracy_plot, cross_bit_plot};
        let mut plots = vec![("accuracy_vs_bits.svg", accuracy_plot(results)?.into_bytes())];
        for row in results.trained_rows() {
            plots.push((
                row.cross_bit_plot_file(),
                cross_bit_plot(results, row)?.into_bytes(),
            ));
        }
        Ok(plots)
    }
    #[cfg(not(feature = "plots"))]
    {
        let _ = results;
        Ok(Vec::new())
    }
}

/// Pretty JSON of `value`; `path` names the file it is meant for in the error.
pub(crate) fn json_bytes(value: &impl Serialize, path: &Path) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| OscRegError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Creates `dir` if needed and writes each `(name, bytes)` into it atomically, file by file.
pub(crate) fn write_output_files(dir: &Path, files: Vec<(&str, Vec<u8>)>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| OscRegError::File {
        path: dir.to_path_buf(),
        reason: format!("cannot create the output directory ({e})"),
    })?;
    for (name, bytes) in files {
        write_atomic(dir.join(name), &bytes)?;
    }
    Ok(())
}
