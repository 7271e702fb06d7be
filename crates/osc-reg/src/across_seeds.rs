//! The comparison repeated over several seeds: accuracies as mean ± standard deviation, and the
//! paper's claims checked on the means and counted seed by seed.
//!
//! One seed is one draw of the initial weights, the validation split and the batch order. On small
//! models a single draw moves accuracies by tenths of a point, enough to flip a claim, so a verdict
//! is only as good as the number of seeds behind it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use smallscale_quant_core::BitWidth;

use crate::claim_statistics::{CLAIM_CONFIDENCE, ClaimDecision, decide_claims};
use crate::environment::RunEnvironment;
use crate::errors::{OscRegError, Result};
use crate::report::{ClaimCheck, check_claims, json_bytes, write_output_files};
use crate::reproduce::{ReproduceParams, ReproduceResults, TrainedRow};

/// Mean and sample standard deviation of one accuracy over seeds.
///
/// ```
/// use smallscale_osc_reg::MeanSd;
/// let m = MeanSd::of(&[0.80, 0.82, 0.84]).unwrap();
/// assert!((m.mean - 0.82).abs() < 1e-12 && (m.sd - 0.02).abs() < 1e-12 && m.n == 3);
/// assert_eq!(MeanSd::of(&[0.5]).unwrap().sd, 0.0);
/// assert!(MeanSd::of(&[]).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanSd {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor n - 1); 0 for a single value.
    pub sd: f64,
    /// Number of values.
    pub n: usize,
}

impl MeanSd {
    /// Mean and sample standard deviation of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Self { mean, sd, n })
    }
}

/// How often one claim held across the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimTally {
    /// The claim in words.
    pub claim: String,
    /// Seeds on whose numbers the claim holds.
    pub holds_in: usize,
    /// Seeds on whose numbers the claim could be tested.
    pub tested_in: usize,
}

/// Cross-bit accuracies of the models trained for one target bit, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossBitRow {
    /// The training target bit.
    pub target: BitWidth,
    /// At each evaluation bit, in the order of `params.eval_bits` of [`SeedsSummary`].
    pub at_bits: Vec<Option<MeanSd>>,
    /// At full precision.
    pub fp: Option<MeanSd>,
}

/// The comparison summarized over seeds: what `smallscale reproduce --seeds N` writes to
/// `summary.json` and `summary.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedsSummary {
    /// The settings shared by every seed (with the first seed).
    pub params: ReproduceParams,
    /// The seeds, in run order.
    pub seeds: Vec<u64>,
    /// What data was used.
    pub data: String,
    /// Rows `FP`, `PTQ`, `QAT`, `Reg` (and the baselines run) of the per-bit table, one cell per
    /// evaluation bit.
    pub per_bit: BTreeMap<String, Vec<Option<MeanSd>>>,
    /// Cross-bit rows of the QAT models, one per target bit.
    pub cross_bit_qat: Vec<CrossBitRow>,
    /// Cross-bit rows of the Reg models, one per target bit.
    pub cross_bit_reg: Vec<CrossBitRow>,
    /// Cross-bit rows of the QAT baselines that were run (`QAT-dampen`, `QAT-freeze`), one per
    /// target bit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cross_bit_baselines: BTreeMap<String, Vec<CrossBitRow>>,
    /// After a lambda search: per target bit, the lambda each seed chose on validation, in seed
    /// order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lambda_choices: BTreeMap<String, Vec<f64>>,
    /// The paper's claims checked on the mean accuracies.
    pub claims_on_means: Vec<ClaimCheck>,
    /// The same claims checked seed by seed.
    pub claims_per_seed: Vec<ClaimTally>,
    /// The claims decided by statistics: per comparison the per-seed differences, a 95 %
    /// confidence interval of their mean and a paired t-test (the verdicts to quote).
    #[serde(default)]
    pub claims_decided: Vec<ClaimDecision>,
    /// Wall time of all seeds' training and evaluation, seconds.
    pub seconds: f64,
}

fn mismatch(reason: String) -> OscRegError {
    OscRegError::SeedsMismatch { reason }
}

/// The accuracies of `results`, in a fixed order: per run, FP then every evaluation bit.
fn accuracy_slots(results: &ReproduceResults) -> Vec<(String, Option<BitWidth>, f64)> {
    let mut out = Vec::new();
    for r in &results.runs {
        out.push((r.label.clone(), None, r.test.fp));
        for &(b, a) in &r.test.per_bit {
            out.push((r.label.clone(), Some(b), a));
        }
    }
    out
}

/// Summarizes the results of the same comparison run with different seeds.
///
/// Every result must share all settings but the seed, and have the same runs evaluated at the same
/// bit-widths; otherwise the error says which differs. The claims are checked twice: on the mean
/// accuracies (the headline verdict) and on each seed (how often they hold).
///
/// ```no_run
/// use candle_core::Device;
/// use smallscale_datasets::DataSource;
/// use smallscale_osc_reg::{ReproduceParams, SplitSpec, reproduce, summarize_seeds};
///
/// let (source, split) = (DataSource::EmbeddedFashionMnist, SplitSpec::default());
/// let mut per_seed = Vec::new();
/// for seed in 0..3 {
///     let params = ReproduceParams { seed, ..ReproduceParams::default() }.check()?;
///     let out = std::path::PathBuf::from(format!("seeds/seed-{seed}"));
///     per_seed.push(reproduce(&params, &source, &split, &Device::Cpu, &out, false, |_| {})?);
/// }
/// let summary = summarize_seeds(&per_seed)?;
/// println!("FP: {:?}", summary.per_bit["FP"][0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn summarize_seeds(results: &[ReproduceResults]) -> Result<SeedsSummary> {
    let Some(first) = results.first() else {
        return Err(mismatch(
            "no results to summarize: run at least one seed".into(),
        ));
    };
    let shape = accuracy_slots(first);
    let mut seeds = Vec::with_capacity(results.len());
    for r in results {
        let same_settings = ReproduceParams {
            seed: first.params.seed,
            ..r.params.clone()
        } == first.params;
        if !same_settings {
            return Err(mismatch(format!(
                "the run with seed {} used other settings than the run with seed {}: summarize runs that differ only in the seed",
                r.params.seed, first.params.seed
            )));
        }
        if r.data != first.data || r.sizes != first.sizes {
            return Err(mismatch(format!(
                "the run with seed {} used other data ({}, sizes {:?}) than the run with seed {} ({}, sizes {:?})",
                r.params.seed, r.data, r.sizes, first.params.seed, first.data, first.sizes
            )));
        }
        let slots = accuracy_slots(r);
        if slots.len() != shape.len()
            || slots
                .iter()
                .zip(&shape)
                .any(|(a, b)| a.0 != b.0 || a.1 != b.1)
        {
            return Err(mismatch(format!(
                "the run with seed {} has other training runs or evaluation bits than the run with seed {}",
                r.params.seed, first.params.seed
            )));
        }
        if seeds.contains(&r.params.seed) {
            return Err(mismatch(format!(
                "seed {} appears twice: give each seed once",
                r.params.seed
            )));
        }
        seeds.push(r.params.seed);
    }
    let all_slots: Vec<Vec<(String, Option<BitWidth>, f64)>> =
        results.iter().map(accuracy_slots).collect();
    let slot_stats: Vec<MeanSd> = (0..shape.len())
        .map(|i| {
            let values: Vec<f64> = all_slots.iter().map(|s| s[i].2).collect();
            MeanSd::of(&values).expect("at least one seed")
        })
        .collect();
    let stat = |label: &str, bits: Option<BitWidth>| -> Option<MeanSd> {
        shape
            .iter()
            .position(|(l, b, _)| l == label && *b == bits)
            .map(|i| slot_stats[i])
    };

    // The mean results: the first seed's results with every accuracy replaced by its mean, so that the
    // tables and the claims read exactly as for a single run.
    let mut means = first.clone();
    for r in &mut means.runs {
        r.test.fp = stat(&r.label, None).map_or(r.test.fp, |m| m.mean);
        for (b, a) in &mut r.test.per_bit {
            *a = stat(&r.label, Some(*b)).map_or(*a, |m| m.mean);
        }
    }

    let eval_bits = &first.params.eval_bits;
    let mut per_bit = BTreeMap::new();
    let fp_label = first.fp().map(|r| r.label.clone());
    if let Some(fp) = &fp_label {
        per_bit.insert(
            "FP".to_string(),
            eval_bits.iter().map(|_| stat(fp, None)).collect(),
        );
        per_bit.insert(
            "PTQ".to_string(),
            eval_bits.iter().map(|&b| stat(fp, Some(b))).collect(),
        );
    }
    // A trained row's accuracy over the seeds, each seed's own model of that row and target (after
    // a lambda search, the Reg models the seeds chose may have different lambdas).
    let row_stat = |row: TrainedRow, target: BitWidth, at: Option<BitWidth>| -> Option<MeanSd> {
        let values: Option<Vec<f64>> = results
            .iter()
            .map(|r| {
                let run = r.trained(row, target)?;
                match at {
                    None => Some(run.test.fp),
                    Some(b) => run.test.at(b),
                }
            })
            .collect();
        MeanSd::of(&values?)
    };
    for row in first.trained_rows() {
        let cells = eval_bits
            .iter()
            .map(|&b| row_stat(row, b, Some(b)))
            .collect();
        per_bit.insert(row.name().to_string(), cells);
    }
    // The mean results' trained rows too: each row's model at each target, averaged over the seeds'
    // own choices (the claims on the means read these).
    for row in first.trained_rows() {
        for &t in &first.params.target_bits {
            let Some(label) = means.trained(row, t).map(|r| r.label.clone()) else {
                continue;
            };
            if let Some(run) = means.runs.iter_mut().find(|r| r.label == label) {
                run.test.fp = row_stat(row, t, None).map_or(run.test.fp, |m| m.mean);
                for (b, a) in &mut run.test.per_bit {
                    *a = row_stat(row, t, Some(*b)).map_or(*a, |m| m.mean);
                }
            }
        }
    }
    let cross_rows = |row: TrainedRow| -> Vec<CrossBitRow> {
        first
            .params
            .target_bits
            .iter()
            .filter(|&&t| first.trained(row, t).is_some())
            .map(|&t| CrossBitRow {
                target: t,
                at_bits: eval_bits
                    .iter()
                    .map(|&b| row_stat(row, t, Some(b)))
                    .collect(),
                fp: row_stat(row, t, None),
            })
            .collect()
    };
    let lambda_choices: BTreeMap<String, Vec<f64>> = if first.params.lambda_search.is_empty() {
        BTreeMap::new()
    } else {
        first
            .params
            .target_bits
            .iter()
            .map(|&t| {
                let chosen = results
                    .iter()
                    .filter_map(|r| match r.reg(t).map(|run| run.method) {
                        Some(crate::hyperparams::Method::Reg { regularizer }) => {
                            Some(regularizer.lambda())
                        }
                        _ => None,
                    })
                    .collect();
                (t.to_string(), chosen)
            })
            .collect()
    };
    let cross_bit_qat = cross_rows(TrainedRow::Qat);
    let cross_bit_reg = cross_rows(TrainedRow::Reg);
    let cross_bit_baselines: BTreeMap<String, Vec<CrossBitRow>> = first
        .trained_rows()
        .into_iter()
        .filter(|r| !matches!(r, TrainedRow::Qat | TrainedRow::Reg))
        .map(|r| (r.name().to_string(), cross_rows(r)))
        .collect();

    let claims_on_means = check_claims(&means);
    let per_seed: Vec<Vec<ClaimCheck>> = results.iter().map(check_claims).collect();
    let claims_per_seed = claims_on_means
        .iter()
        .enumerate()
        .map(|(i, c)| ClaimTally {
            claim: c.claim.clone(),
            holds_in: per_seed
                .iter()
                .filter(|cs| cs.get(i).and_then(|c| c.holds) == Some(true))
                .count(),
            tested_in: per_seed
                .iter()
                .filter(|cs| cs.get(i).and_then(|c| c.holds).is_some())
                .count(),
        })
        .collect();
    Ok(SeedsSummary {
        params: first.params.clone(),
        seeds,
        data: first.data.clone(),
        per_bit,
        cross_bit_qat,
        cross_bit_reg,
        cross_bit_baselines,
        lambda_choices,
        claims_on_means,
        claims_per_seed,
        claims_decided: decide_claims(results),
        seconds: results.iter().map(|r| r.seconds).sum(),
    })
}

/// The claims decided by statistics, as a Markdown section: one table row per comparison.
fn decided_claims_markdown(claims: &[ClaimDecision], seeds: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## The paper's claims, decided over {seeds} seeds\n\n\
         Per comparison: the per-seed differences, their mean with a {:.0} % confidence interval, and a \
         two-sided paired t-test against the margin the claim needs. A comparison holds when the whole interval \
         lies beyond the margin, does not hold when it lies wholly short of it, and is undecided \
         otherwise; a claim holds when all its comparisons hold. Intervals are not corrected for the \
         number of comparisons.\n",
        100.0 * CLAIM_CONFIDENCE
    );
    let _ = writeln!(
        s,
        "| claim | comparison | per-seed differences (pp) | mean (pp) | {:.0} % CI | margin | t | p | verdict |",
        100.0 * CLAIM_CONFIDENCE
    );
    let _ = writeln!(
        s,
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | --- |"
    );
    for c in claims {
        for (i, cmp) in c.comparisons.iter().enumerate() {
            let name = if i == 0 { c.claim.as_str() } else { "" };
            let diffs: Vec<String> = cmp.differences.iter().map(|d| format!("{d:+.2}")).collect();
            let (mean, ci, t, p) = match &cmp.test {
                Some(t) => (
                    format!("{:+.2}", t.mean),
                    format!("[{:+.2}, {:+.2}]", t.ci_low, t.ci_high),
                    format!("{:.2}", t.t),
                    format!("{:.3}", t.p_value),
                ),
                None => (
                    cmp.differences
                        .first()
                        .map_or("–".into(), |d| format!("{d:+.2}")),
                    "– (one seed)".into(),
                    "–".into(),
                    "–".into(),
                ),
            };
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {mean} | {ci} | {:+.1} | {t} | {p} | {} |",
                cmp.label,
                diffs.join(", "),
                cmp.margin,
                cmp.verdict.as_str()
            );
        }
    }
    let _ = writeln!(s);
    for c in claims {
        let _ = writeln!(
            s,
            "- **{}**: {} ({}).",
            c.claim,
            c.verdict.as_str(),
            c.difference
        );
    }
    s
}

fn cell(v: Option<MeanSd>) -> String {
    v.map_or("–".to_string(), |m| {
        format!("{:.2} ± {:.2}", 100.0 * m.mean, 100.0 * m.sd)
    })
}

/// The Markdown summary over seeds: settings, the per-bit table and the cross-bit matrices as
/// mean ± sd, and the claims on the means with the number of seeds on which each holds
/// (`summary.md` of `smallscale reproduce --seeds N`; see [`summarize_seeds`]).
pub fn seeds_markdown_report(summary: &SeedsSummary, environment: &RunEnvironment) -> String {
    let p = &summary.params;
    let n = summary.seeds.len();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Oscillation regularizer vs QAT vs PTQ, over {n} seeds\n"
    );
    let _ = writeln!(s, "Command: `{}`\n", environment.command);
    let _ = writeln!(s, "Software and machine: {}.\n", environment.summary());
    let seeds: Vec<String> = summary.seeds.iter().map(|x| x.to_string()).collect();
    let _ = writeln!(
        s,
        "Data: {}. Model: `{}`. Adam lr {}, batch {}, up to {} epochs, patience {}, lambda {}{}. Seeds {} \
         (each draws the initial weights, the batch order and, where the data has no released validation \
         split, the validation split). Total time {:.1} s.\n",
        summary.data,
        serde_json::to_string(&p.model).unwrap_or_default(),
        p.lr,
        p.batch_size,
        p.epochs,
        p.patience,
        crate::report::lambda_description(p),
        if p.augment {
            ", CIFAR augmentation (random crop with padding 4, horizontal flip)"
        } else {
            ""
        },
        seeds.join(", "),
        summary.seconds
    );
    let _ = writeln!(
        s,
        "Test accuracy in %, mean ± sample standard deviation over the seeds. Each seed's own report is in \
         `seed-S/report.md`.\n"
    );
    let _ = writeln!(s, "## Accuracy per bit-width\n");
    let header: Vec<String> = p.eval_bits.iter().map(|b| format!("{b} bits")).collect();
    let _ = writeln!(s, "| method | {} |", header.join(" | "));
    let _ = writeln!(s, "| --- |{}", " ---: |".repeat(p.eval_bits.len()));
    let trained = summary.params.trained_rows();
    let names = ["FP", "PTQ"]
        .into_iter()
        .chain(trained.iter().map(|r| r.name()));
    for row in names {
        if let Some(values) = summary.per_bit.get(row) {
            let cells: Vec<String> = values.iter().map(|v| cell(*v)).collect();
            let _ = writeln!(s, "| {row} | {} |", cells.join(" | "));
        }
    }
    let matrices = [
        ("QAT", &summary.cross_bit_qat),
        ("Reg", &summary.cross_bit_reg),
    ]
    .into_iter()
    .chain(
        summary
            .cross_bit_baselines
            .iter()
            .map(|(name, rows)| (name.as_str(), rows)),
    );
    for (name, rows) in matrices {
        let _ = writeln!(s, "\n## Cross-bit accuracy, {name}\n");
        let _ = writeln!(s, "Rows: training target bit. Columns: evaluation bit.\n");
        let _ = writeln!(s, "| target | {} | FP |", header.join(" | "));
        let _ = writeln!(s, "| --- |{} ---: |", " ---: |".repeat(p.eval_bits.len()));
        for r in rows {
            let cells: Vec<String> = r.at_bits.iter().map(|v| cell(*v)).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                r.target,
                cells.join(" | "),
                cell(r.fp)
            );
        }
    }
    if !summary.lambda_choices.is_empty() {
        let _ = writeln!(s, "\n## Lambda chosen on validation\n");
        let _ = writeln!(
            s,
            "Each seed trained Reg at every lambda of the search and kept, per target bit, the run with the \
             best validation accuracy after PTQ at that bit; the Reg rows above average each seed's own choice.\n"
        );
        let _ = writeln!(s, "| target bit | lambda chosen, per seed |");
        let _ = writeln!(s, "| ---: | --- |");
        for (bits, chosen) in &summary.lambda_choices {
            let values: Vec<String> = chosen.iter().map(f64::to_string).collect();
            let _ = writeln!(s, "| {bits} | {} |", values.join(", "));
        }
    }
    let _ = write!(s, "{}", decided_claims_markdown(&summary.claims_decided, n));
    let _ = writeln!(s, "\n## The paper's claims on the mean accuracies\n");
    for (c, t) in summary.claims_on_means.iter().zip(&summary.claims_per_seed) {
        let verdict = match c.holds {
            Some(true) => "holds",
            Some(false) => "does not hold",
            None => "not tested",
        };
        let _ = writeln!(
            s,
            "- **{}**: {verdict} on the means ({}); holds for {} of {} seeds.",
            c.claim, c.evidence, t.holds_in, t.tested_in
        );
    }
    if cfg!(feature = "plots") {
        let _ = writeln!(
            s,
            "\nPlot: `accuracy_vs_bits.svg` (means with ± sd error bars). Every number: `summary.json`."
        );
    } else {
        let _ = writeln!(s, "\nEvery number: `summary.json`.");
    }
    s
}

/// Writes `summary.json`, `summary.md` and (with the `plots` feature) `accuracy_vs_bits.svg` into `dir` (atomically, file by
/// file); see [`summarize_seeds`] for how to get the summary.
pub fn write_seeds_summary(
    summary: &SeedsSummary,
    dir: &Path,
    environment: &RunEnvironment,
) -> Result<()> {
    #[derive(Serialize)]
    struct Full<'a> {
        command: &'a str,
        environment: &'a RunEnvironment,
        summary: &'a SeedsSummary,
    }
    let full = Full {
        command: &environment.command,
        environment,
        summary,
    };
    write_output_files(
        dir,
        vec![
            (
                "summary.json",
                json_bytes(&full, &dir.join("summary.json"))?,
            ),
            (
                "summary.md",
                seeds_markdown_report(summary, environment).into_bytes(),
            ),
        ]
        .into_iter()
        .chain(seeds_plots(summary)?)
        .collect(),
    )
}

/// The SVG plot of a summary, by file name (none without the `plots` feature).
fn seeds_plots(summary: &SeedsSummary) -> Result<Vec<(&'static str, Vec<u8>)>> {
    #[cfg(feature = "plots")]
    {
        Ok(vec![(
            "accuracy_vs_bits.svg",
            crate::plots::seeds_accuracy_plot(summary)?.into_bytes(),
        )])
    }
    #[cfg(not(feature = "plots"))]
    {
        let _ = summary;
        Ok(Vec::new())
    }
}
