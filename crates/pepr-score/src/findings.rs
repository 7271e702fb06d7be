//! The PePR paper's findings, checked with statistics on any table of experiments laid out as
//! the authors' released one: one pool per experiment (column `dataset`), labelled
//! `BASE[_pt][_small|_smallest]`: `_pt` for fine-tuning a pretrained model, `_small` and
//! `_smallest` for the reduced training sets (the paper's 10 % and about 1 %).
//!
//! The findings, each decided at [`FINDINGS_ALPHA`]:
//!
//! 1. accuracy barely correlates with model size (Spearman's rho of size and accuracy on the
//!    full-data experiments);
//! 2. PePR-E favours small models (Spearman's rho of size and PePR-E negative and significant on
//!    every full-data experiment);
//! 3. pretraining reduces the resources (energy, pretrained vs scratch) and the data needed
//!    (accuracy, pretrained on reduced data vs scratch on full data: non-inferior within
//!    [`NON_INFERIORITY_MARGIN`]).
//!
//! Two experiments are compared with Welch's t-test (the groups as wholes) and, over the models
//! they share, with a paired t-test (of the accuracy differences, and of the log energy ratios,
//! since energies span orders of magnitude). Findings 3a and 3b are decided on the paired test
//! when at least two models are shared, else on Welch's.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::pool::Pool;
use crate::stats::{
    Correlation, OneSampleTTest, WelchTTest, kendall_tau_b, one_sample_t_test, spearman,
    welch_t_test,
};

/// The significance level of every verdict.
pub const FINDINGS_ALPHA: f64 = 0.05;

/// |rho| below which a correlation counts as "barely" one (finding 1).
pub const WEAK_CORRELATION: f64 = 0.5;

/// The accuracy (a fraction; 2 percentage points) by which fine-tuning on reduced data may fall
/// short of training from scratch on all of it and still count as "not needing the data"
/// (finding 3b, a non-inferiority margin).
pub const NON_INFERIORITY_MARGIN: f64 = 0.02;

/// The training-set fraction of an experiment, as its label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataFraction {
    /// The whole training split (no suffix).
    Full,
    /// A reduced training split (`_small`; 10 % in the paper).
    Small,
    /// The smallest training split (`_smallest`; about 1 % in the paper).
    Smallest,
}

impl DataFraction {
    /// The label suffix (`""`, `"_small"`, `"_smallest"`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Full => "",
            Self::Small => "_small",
            Self::Smallest => "_smallest",
        }
    }
}

/// An experiment label split into its parts: `pneumonia_pt_small` is the base `pneumonia`,
/// pretrained, on the reduced training set.
///
/// ```
/// use smallscale_pepr_score::{DataFraction, ExperimentLabel};
/// let l = ExperimentLabel::parse("pneumonia_pt_small");
/// assert_eq!((l.base.as_str(), l.pretrained, l.fraction), ("pneumonia", true, DataFraction::Small));
/// assert_eq!(l.to_string(), "pneumonia_pt_small");
/// assert_eq!(ExperimentLabel::parse("derma_pt").fraction, DataFraction::Full);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExperimentLabel {
    /// The data set (`derma`, `pneumonia`).
    pub base: String,
    /// Whether the models were pretrained (`_pt`).
    pub pretrained: bool,
    /// The training-set fraction.
    pub fraction: DataFraction,
}

impl ExperimentLabel {
    /// Parses a label; one without the suffixes is a full-data experiment from scratch.
    pub fn parse(label: &str) -> Self {
        let (rest, fraction) = if let Some(r) = label.strip_suffix("_smallest") {
            (r, DataFraction::Smallest)
        } else if let Some(r) = label.strip_suffix("_small") {
            (r, DataFraction::Small)
        } else {
            (label, DataFraction::Full)
        };
        let (base, pretrained) = match rest.strip_suffix("_pt") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        Self {
            base: base.to_string(),
            pretrained,
            fraction,
        }
    }

    /// The same experiment with another initialization or fraction.
    pub fn with(&self, pretrained: bool, fraction: DataFraction) -> Self {
        Self {
            base: self.base.clone(),
            pretrained,
            fraction,
        }
    }
}

impl fmt::Display for ExperimentLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.base,
            if self.pretrained { "_pt" } else { "" },
            self.fraction.suffix()
        )
    }
}

/// Whether a finding holds on the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingVerdict {
    /// The statistics support it.
    Holds,
    /// The statistics contradict it.
    DoesNotHold,
    /// Neither (too few models, or mixed results).
    Undecided,
}

impl fmt::Display for FindingVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Holds => "holds",
            Self::DoesNotHold => "does not hold",
            Self::Undecided => "undecided",
        })
    }
}

/// Rank correlations of one experiment: model size against accuracy and against PePR-E.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeCorrelations {
    /// The experiment.
    pub experiment: String,
    /// Models in the pool.
    pub n_models: usize,
    /// Spearman's rho of size and accuracy (`None`: a constant column).
    pub accuracy_spearman: Option<Correlation>,
    /// Kendall's tau-b of size and accuracy.
    pub accuracy_kendall: Option<Correlation>,
    /// Spearman's rho of size and PePR-E.
    pub pepr_spearman: Option<Correlation>,
    /// Kendall's tau-b of size and PePR-E.
    pub pepr_kendall: Option<Correlation>,
}

/// The PePR-E maximizer of an experiment against its most accurate model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestModels {
    /// The experiment.
    pub experiment: String,
    /// The model with the highest PePR-E.
    pub best_pepr: String,
    /// Its size.
    pub best_pepr_size: f64,
    /// Its accuracy.
    pub best_pepr_performance: f64,
    /// The most accurate model.
    pub most_accurate: String,
    /// Its size.
    pub most_accurate_size: f64,
    /// Its accuracy.
    pub most_accurate_performance: f64,
    /// The median size of the pool.
    pub median_size: f64,
}

/// Two experiments compared, `a` against `b`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentComparison {
    /// The first experiment.
    pub a: String,
    /// The second experiment.
    pub b: String,
    /// Welch's t-test of the accuracy of `a` against `b` (`None`: undefined, e.g. both constant).
    pub accuracy: Option<WelchTTest>,
    /// Welch's t-test of the energy.
    pub energy: Option<WelchTTest>,
    /// Models of `a` also in `b` (by name).
    pub paired_models: usize,
    /// Paired t-test of the accuracy differences `P_a - P_b` over the shared models (95 % CI).
    pub paired_accuracy: Option<OneSampleTTest>,
    /// Paired t-test of `ln(E_a / E_b)` over the shared models: a negative mean means `a` uses
    /// less (`exp(mean)` is the geometric-mean ratio).
    pub paired_log_energy_ratio: Option<OneSampleTTest>,
}

/// One finding with its verdict and the statistic behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingCheck {
    /// The finding as the paper states it.
    pub finding: String,
    /// Holds, does not hold, or undecided.
    pub verdict: FindingVerdict,
    /// The statistics that decided it.
    pub statistic: String,
}

/// Which columns the findings read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingsColumns {
    /// The model size (the paper's `num_param`).
    pub size: String,
    /// The energy (the paper's `energy`), also the resource of PePR-E.
    pub energy: String,
}

impl Default for FindingsColumns {
    fn default() -> Self {
        Self {
            size: "num_param".to_string(),
            energy: "energy".to_string(),
        }
    }
}

/// Everything [`paper_findings`] computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// The columns read.
    pub columns: FindingsColumns,
    /// Per experiment, in table order.
    pub size_correlations: Vec<SizeCorrelations>,
    /// Per experiment, in table order.
    pub best_models: Vec<BestModels>,
    /// Pretrained against scratch at the same fraction.
    pub pretrained_vs_scratch: Vec<ExperimentComparison>,
    /// Full against reduced training data, same initialization.
    pub full_vs_reduced: Vec<ExperimentComparison>,
    /// Pretrained on reduced data against scratch on full data.
    pub reduced_pretrained_vs_full_scratch: Vec<ExperimentComparison>,
    /// The verdicts: 1, 2, 3a (resources), 3b (data).
    pub verdicts: Vec<FindingCheck>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// A p-value for a sentence: two decimals, or scientific below 0.01.
fn p_fmt(p: f64) -> String {
    if p < 0.01 {
        format!("{p:.1e}")
    } else {
        format!("{p:.2}")
    }
}

fn p_text(c: &Correlation) -> String {
    c.p_value
        .map_or("p undefined".to_string(), |p| format!("p = {}", p_fmt(p)))
}

fn compare(a: &Pool, b: &Pool, energy: &str) -> Result<ExperimentComparison> {
    let (ea, eb) = (a.resource(energy)?, b.resource(energy)?);
    let mut diffs = Vec::new();
    let mut log_ratios = Vec::new();
    for (i, run) in a.runs().iter().enumerate() {
        if let Some(j) = b.runs().iter().position(|r| r.name == run.name) {
            diffs.push(run.performance - b.runs()[j].performance);
            log_ratios.push((ea[i] / eb[j]).ln());
        }
    }
    Ok(ExperimentComparison {
        a: a.label().to_string(),
        b: b.label().to_string(),
        accuracy: welch_t_test(&a.performances(), &b.performances()).ok(),
        energy: welch_t_test(&ea, &eb).ok(),
        paired_models: diffs.len(),
        paired_accuracy: one_sample_t_test(&diffs, 0.0, 0.95).ok(),
        paired_log_energy_ratio: one_sample_t_test(&log_ratios, 0.0, 0.95).ok(),
    })
}

/// A number for a sentence: 4 decimals, or 3 significant digits when tiny or huge.
fn num(v: f64) -> String {
    if v != 0.0 && !(1e-2..1e4).contains(&v.abs()) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn welch_text(what: &str, t: &WelchTTest) -> String {
    format!(
        "mean {what} {} vs {} (Welch t = {:.2}, df = {:.1}, p = {})",
        num(t.mean_a),
        num(t.mean_b),
        t.t,
        t.df,
        p_fmt(t.p_value)
    )
}

fn paired_text(what: &str, n: usize, t: &OneSampleTTest) -> String {
    format!(
        "paired over {n} models: mean {what} {} (95 % CI [{}, {}], t = {:.2}, p = {})",
        num(t.mean),
        num(t.ci_low),
        num(t.ci_high),
        t.t,
        p_fmt(t.p_value)
    )
}

/// The statistic that decides a comparison: the paired test when defined, else Welch's, as
/// (mean difference sign source, p-value, text).
fn decisive(
    c: &ExperimentComparison,
    paired: Option<&OneSampleTTest>,
    welch: Option<&WelchTTest>,
    what: &str,
    paired_what: &str,
) -> Option<(f64, f64, String)> {
    match (paired, welch) {
        (Some(t), _) if c.paired_models >= 2 => Some((
            t.mean,
            t.p_value,
            paired_text(paired_what, c.paired_models, t),
        )),
        (_, Some(w)) => Some((w.mean_a - w.mean_b, w.p_value, welch_text(what, w))),
        _ => None,
    }
}

/// Checks the paper's findings on `pools` (one per experiment, labelled as [`ExperimentLabel`]
/// reads them), with the size and energy columns `columns`.
///
/// # Errors
///
/// [`crate::PeprError::MissingResource`] when a pool lacks one of the columns.
///
/// ```
/// use smallscale_pepr_score::{FindingVerdict, FindingsColumns, ModelRun, Pool, paper_findings};
/// let run = |name: &str, p: f64, size: f64, energy: f64| {
///     ModelRun::new(name, p).with_resource("num_param", size).with_resource("energy", energy)
/// };
/// // Eight models, ten times larger each, costing 1, 2, ... 8 units of energy, accuracies unrelated
/// // to size.
/// let pool = Pool::new("toy", (0..8).map(|i| {
///     let p = [0.9, 0.8, 0.85, 0.82, 0.88, 0.81, 0.86, 0.84][i as usize];
///     run(&format!("m{i}"), p, 10f64.powi(i), 1.0 + f64::from(i))
/// }).collect())?;
/// let findings = paper_findings(&[pool], &FindingsColumns::default())?;
/// assert_eq!(findings.verdicts[0].verdict, FindingVerdict::Holds); // accuracy vs size: weak
/// assert_eq!(findings.verdicts[1].verdict, FindingVerdict::Holds); // PePR-E favours small
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn paper_findings(pools: &[Pool], columns: &FindingsColumns) -> Result<Findings> {
    let by_label: BTreeMap<ExperimentLabel, &Pool> = pools
        .iter()
        .map(|p| (ExperimentLabel::parse(p.label()), p))
        .collect();
    let mut size_correlations = Vec::new();
    let mut best_models = Vec::new();
    for pool in pools {
        let size = pool.resource(&columns.size)?;
        let acc = pool.performances();
        let scores = pool.pepr(&columns.energy)?;
        let pepr_e = scores.pepr_values();
        size_correlations.push(SizeCorrelations {
            experiment: pool.label().to_string(),
            n_models: pool.len(),
            accuracy_spearman: spearman(&size, &acc).ok(),
            accuracy_kendall: kendall_tau_b(&size, &acc).ok(),
            pepr_spearman: spearman(&size, &pepr_e).ok(),
            pepr_kendall: kendall_tau_b(&size, &pepr_e).ok(),
        });
        let best = scores.best();
        let top = pool
            .runs()
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| a.performance.total_cmp(&b.performance).then(j.cmp(i)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let best_index = pool
            .runs()
            .iter()
            .position(|r| r.name == best.name)
            .unwrap_or(0);
        best_models.push(BestModels {
            experiment: pool.label().to_string(),
            best_pepr: best.name.clone(),
            best_pepr_size: size[best_index],
            best_pepr_performance: best.performance,
            most_accurate: pool.runs()[top].name.clone(),
            most_accurate_size: size[top],
            most_accurate_performance: pool.runs()[top].performance,
            median_size: median(&size),
        });
    }

    let mut pretrained_vs_scratch = Vec::new();
    let mut full_vs_reduced = Vec::new();
    let mut reduced_pretrained_vs_full_scratch = Vec::new();
    for (label, pool) in &by_label {
        if label.pretrained
            && let Some(scratch) = by_label.get(&label.with(false, label.fraction))
        {
            pretrained_vs_scratch.push(compare(pool, scratch, &columns.energy)?);
        }
        if label.fraction == DataFraction::Full {
            for reduced in [DataFraction::Small, DataFraction::Smallest] {
                if let Some(r) = by_label.get(&label.with(label.pretrained, reduced)) {
                    full_vs_reduced.push(compare(pool, r, &columns.energy)?);
                }
            }
        }
        if label.pretrained
            && label.fraction != DataFraction::Full
            && let Some(full) = by_label.get(&label.with(false, DataFraction::Full))
        {
            reduced_pretrained_vs_full_scratch.push(compare(pool, full, &columns.energy)?);
        }
    }

    let full: Vec<&SizeCorrelations> = size_correlations
        .iter()
        .filter(|c| ExperimentLabel::parse(&c.experiment).fraction == DataFraction::Full)
        .collect();
    let verdicts = vec![
        finding_size_vs_accuracy(&full),
        finding_pepr_favours_small(&full),
        finding_pretraining_resources(&pretrained_vs_scratch, &columns.energy),
        finding_pretraining_data(&reduced_pretrained_vs_full_scratch),
    ];
    Ok(Findings {
        columns: columns.clone(),
        size_correlations,
        best_models,
        pretrained_vs_scratch,
        full_vs_reduced,
        reduced_pretrained_vs_full_scratch,
        verdicts,
    })
}

fn rho_list(
    full: &[&SizeCorrelations],
    pick: impl Fn(&SizeCorrelations) -> Option<Correlation>,
) -> String {
    full.iter()
        .map(|c| match pick(c) {
            Some(r) => format!(
                "{} rho = {:.2} ({})",
                c.experiment,
                r.coefficient,
                p_text(&r)
            ),
            None => format!("{} rho undefined (a constant column)", c.experiment),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn undecided(finding: String, why: &str) -> FindingCheck {
    FindingCheck {
        finding,
        verdict: FindingVerdict::Undecided,
        statistic: why.to_string(),
    }
}

fn significant(c: &Correlation) -> bool {
    c.p_value.is_some_and(|p| p < FINDINGS_ALPHA)
}

fn finding_size_vs_accuracy(full: &[&SizeCorrelations]) -> FindingCheck {
    let finding = "Accuracy barely correlates with model size".to_string();
    if full.is_empty() {
        return undecided(finding, "no full-data experiment in the table");
    }
    let rhos: Vec<Option<Correlation>> = full.iter().map(|c| c.accuracy_spearman).collect();
    let verdict = if rhos
        .iter()
        .flatten()
        .any(|r| significant(r) && r.coefficient.abs() >= WEAK_CORRELATION)
    {
        FindingVerdict::DoesNotHold
    } else if rhos
        .iter()
        .all(|r| r.is_some_and(|r| r.coefficient.abs() < WEAK_CORRELATION))
    {
        FindingVerdict::Holds
    } else {
        FindingVerdict::Undecided
    };
    FindingCheck {
        finding,
        verdict,
        statistic: format!(
            "Spearman's rho of size and accuracy on the full-data experiments: {} (holds when every |rho| < {WEAK_CORRELATION}, a judgement on the size of the correlation; does not hold when one |rho| >= {WEAK_CORRELATION} is significant at {FINDINGS_ALPHA})",
            rho_list(full, |c| c.accuracy_spearman)
        ),
    }
}

fn finding_pepr_favours_small(full: &[&SizeCorrelations]) -> FindingCheck {
    let finding = "PePR-E favours small models".to_string();
    if full.is_empty() {
        return undecided(finding, "no full-data experiment in the table");
    }
    let rhos: Vec<Option<Correlation>> = full.iter().map(|c| c.pepr_spearman).collect();
    let verdict = if rhos
        .iter()
        .all(|r| r.is_some_and(|r| r.coefficient < 0.0 && significant(&r)))
    {
        FindingVerdict::Holds
    } else if rhos
        .iter()
        .flatten()
        .any(|r| r.coefficient > 0.0 && significant(r))
    {
        FindingVerdict::DoesNotHold
    } else {
        FindingVerdict::Undecided
    };
    FindingCheck {
        finding,
        verdict,
        statistic: format!(
            "Spearman's rho of size and PePR-E on the full-data experiments: {} (holds when every rho is negative and significant at {FINDINGS_ALPHA})",
            rho_list(full, |c| c.pepr_spearman)
        ),
    }
}

fn finding_pretraining_resources(pairs: &[ExperimentComparison], energy: &str) -> FindingCheck {
    let finding = format!("Pretraining reduces the resources ({energy})");
    if pairs.is_empty() {
        return undecided(
            finding,
            "no pretrained experiment with a from-scratch counterpart in the table",
        );
    }
    let tests: Vec<Option<(f64, f64, String)>> = pairs
        .iter()
        .map(|c| {
            decisive(
                c,
                c.paired_log_energy_ratio.as_ref(),
                c.energy.as_ref(),
                energy,
                &format!("ln({energy} ratio)"),
            )
        })
        .collect();
    let verdict = if tests.iter().all(|t| {
        t.as_ref()
            .is_some_and(|t| t.0 < 0.0 && t.1 < FINDINGS_ALPHA)
    }) {
        FindingVerdict::Holds
    } else if tests
        .iter()
        .flatten()
        .any(|t| t.0 > 0.0 && t.1 < FINDINGS_ALPHA)
    {
        FindingVerdict::DoesNotHold
    } else {
        FindingVerdict::Undecided
    };
    let list = pairs
        .iter()
        .zip(&tests)
        .map(|(c, t)| match t {
            Some(t) => format!("{} vs {}: {}", c.a, c.b, t.2),
            None => format!("{} vs {}: {energy} test undefined", c.a, c.b),
        })
        .collect::<Vec<_>>()
        .join("; ");
    FindingCheck {
        finding,
        verdict,
        statistic: format!(
            "{list} (holds when every pretrained experiment uses significantly less at {FINDINGS_ALPHA}, does not hold when one uses significantly more)"
        ),
    }
}

fn finding_pretraining_data(pairs: &[ExperimentComparison]) -> FindingCheck {
    let finding = "Pretraining reduces the data needed".to_string();
    if pairs.is_empty() {
        return undecided(
            finding,
            "no pretrained experiment on reduced data with a full-data from-scratch counterpart in the table",
        );
    }
    // Per data set, decided on its largest reduced fraction (`_small` before `_smallest`).
    let mut sorted: Vec<&ExperimentComparison> = pairs.iter().collect();
    sorted.sort_by_key(|c| {
        let l = ExperimentLabel::parse(&c.a);
        (l.base, l.fraction)
    });
    let mut verdicts = Vec::new();
    let mut texts = Vec::new();
    let mut decided_on = Vec::new();
    let mut last_base = None;
    for c in &sorted {
        let base = ExperimentLabel::parse(&c.a).base;
        let decisive = last_base.as_ref() != Some(&base);
        last_base = Some(base);
        let (verdict, text) = match (&c.paired_accuracy, &c.accuracy) {
            (Some(t), _) if c.paired_models >= 2 => {
                let v = if t.ci_low > -NON_INFERIORITY_MARGIN {
                    FindingVerdict::Holds
                } else if t.mean < 0.0 && t.p_value < FINDINGS_ALPHA {
                    FindingVerdict::DoesNotHold
                } else {
                    FindingVerdict::Undecided
                };
                (v, paired_text("accuracy difference", c.paired_models, t))
            }
            (_, Some(w)) => {
                // Without pairs there is no interval to show non-inferiority.
                let v = if w.mean_a < w.mean_b && w.p_value < FINDINGS_ALPHA {
                    FindingVerdict::DoesNotHold
                } else {
                    FindingVerdict::Undecided
                };
                (v, welch_text("accuracy", w))
            }
            _ => (
                FindingVerdict::Undecided,
                "accuracy test undefined".to_string(),
            ),
        };
        texts.push(format!("{} vs {}: {text}", c.a, c.b));
        if decisive {
            verdicts.push(verdict);
            decided_on.push(c.a.clone());
        }
    }
    let verdict = if verdicts.contains(&FindingVerdict::DoesNotHold) {
        FindingVerdict::DoesNotHold
    } else if verdicts.iter().all(|v| *v == FindingVerdict::Holds) {
        FindingVerdict::Holds
    } else {
        FindingVerdict::Undecided
    };
    FindingCheck {
        finding,
        verdict,
        statistic: format!(
            "{} (decided on {}: holds when the 95 % interval of the paired accuracy difference lies above -{} points, i.e. fine-tuning on reduced data is not worse than training from scratch on all of it by more than that margin; does not hold when significantly less accurate at {FINDINGS_ALPHA})",
            texts.join("; "),
            decided_on.join(", "),
            100.0 * NON_INFERIORITY_MARGIN
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::ModelRun;

    fn pool(label: &str, rows: &[(f64, f64, f64)]) -> Pool {
        Pool::new(
            label,
            rows.iter()
                .enumerate()
                .map(|(i, &(p, size, energy))| {
                    ModelRun::new(format!("m{i}"), p)
                        .with_resource("num_param", size)
                        .with_resource("energy", energy)
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn labels_round_trip() {
        for label in [
            "derma",
            "derma_pt",
            "derma_small",
            "derma_smallest",
            "pneumonia_pt_smallest",
            "my_set_pt_small",
        ] {
            assert_eq!(ExperimentLabel::parse(label).to_string(), label);
        }
        assert_eq!(ExperimentLabel::parse("my_set").base, "my_set");
    }

    #[test]
    fn accuracy_rising_with_size_contradicts_finding_one() {
        let rows: Vec<(f64, f64, f64)> = (0..8)
            .map(|i| (0.5 + 0.05 * f64::from(i), 10f64.powi(i), 1.0 + f64::from(i)))
            .collect();
        let f = paper_findings(&[pool("x", &rows)], &FindingsColumns::default()).unwrap();
        assert_eq!(f.verdicts[0].verdict, FindingVerdict::DoesNotHold);
        assert!(
            f.verdicts[0].statistic.contains("x rho = 1.00"),
            "{}",
            f.verdicts[0].statistic
        );
        assert_eq!(f.best_models[0].most_accurate, "m7");
    }

    #[test]
    fn pretraining_comparisons_pair_the_right_experiments() {
        let cheap: Vec<(f64, f64, f64)> = (0..5)
            .map(|i| {
                (
                    0.9 + 0.001 * f64::from(i),
                    1.0 + f64::from(i),
                    1.0 + 0.01 * f64::from(i),
                )
            })
            .collect();
        let dear: Vec<(f64, f64, f64)> = (0..5)
            .map(|i| {
                (
                    0.7 + 0.001 * f64::from(i),
                    1.0 + f64::from(i),
                    5.0 + 0.01 * f64::from(i),
                )
            })
            .collect();
        let pools = [
            pool("d_pt", &cheap),
            pool("d", &dear),
            pool("d_pt_small", &cheap),
            pool("d_small", &dear),
        ];
        let f = paper_findings(&pools, &FindingsColumns::default()).unwrap();
        let pairs: Vec<(&str, &str)> = f
            .pretrained_vs_scratch
            .iter()
            .map(|c| (c.a.as_str(), c.b.as_str()))
            .collect();
        assert_eq!(pairs, [("d_pt", "d"), ("d_pt_small", "d_small")]);
        assert_eq!(f.full_vs_reduced.len(), 2);
        assert_eq!(f.reduced_pretrained_vs_full_scratch[0].b, "d");
        assert_eq!(f.verdicts[2].verdict, FindingVerdict::Holds);
        assert_eq!(f.verdicts[3].verdict, FindingVerdict::Holds);
        // The other way round: pretraining costs more and needs the data.
        let pools = [
            pool("d_pt", &dear),
            pool("d", &cheap),
            pool("d_pt_small", &dear),
        ];
        let f = paper_findings(&pools, &FindingsColumns::default()).unwrap();
        assert_eq!(f.verdicts[2].verdict, FindingVerdict::DoesNotHold);
        assert_eq!(f.verdicts[3].verdict, FindingVerdict::DoesNotHold);
    }

    #[test]
    fn missing_experiments_leave_findings_undecided() {
        let rows = [(0.8, 1.0, 1.0), (0.8, 2.0, 2.0), (0.8, 3.0, 3.0)];
        let f = paper_findings(&[pool("only_small", &rows)], &FindingsColumns::default()).unwrap();
        assert!(
            f.verdicts
                .iter()
                .all(|v| v.verdict == FindingVerdict::Undecided),
            "{:?}",
            f.verdicts
        );
    }
}
