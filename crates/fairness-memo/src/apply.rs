//! Applying a memorization plan to rows: memorize rows stratified by prediction inside each
//! `(label, group)` cell (seeded), set their predictions to the true label, recompute.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::errors::{FairnessError, Result};
use crate::groups::{Group, SignConvention};
use crate::memorization::{MemorizationModel, metrics_after};
use crate::metrics::FairnessMetrics;
use crate::plan::MemorizationPlan;
use crate::rows::Rows;

/// How a cell share becomes a set of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Memorize whole rows: in each `(group, label, prediction)` stratum, the rows (in seeded
    /// random order) whose cumulative weight comes closest to the target; unweighted, that is
    /// `round(r n)` rows. Every metric then differs from the closed form by at most
    /// [`Verification::rounding_bound`].
    #[default]
    WholeRows,
    /// Realise the shares exactly: in each stratum at most one row is split into a memorized
    /// and an unmemorized part with fractional weights. The output rows are weighted and the
    /// metrics match the closed form up to floating-point rounding.
    SplitRows,
}

/// Options of [`apply_plan`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ApplyOptions {
    /// Seed of the ChaCha8 generator that picks the rows.
    pub seed: u64,
    /// Whole rows or split rows.
    pub rounding: Rounding,
    /// Sign convention of the reported metrics.
    pub sign: SignConvention,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            rounding: Rounding::WholeRows,
            sign: SignConvention::default(),
        }
    }
}

/// Empirical metrics after applying a plan, next to the closed form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Metrics recomputed from the rows after memorization.
    pub empirical: FairnessMetrics,
    /// Metrics from the closed form (confusion-row model) for the requested plan.
    pub closed_form: FairnessMetrics,
    /// Largest absolute difference over all entries of all metrics.
    pub max_deviation: f64,
    /// Upper bound on `max_deviation` from rounding to whole rows (0 for split rows):
    /// `(K - 1) w_max max( 1/W^+ + 1/W^-,  max_y (1/W_y^+ + 1/W_y^-) / 2 )` with `W` the
    /// group / cell weights (counts) and `w_max` the largest row weight.
    pub rounding_bound: f64,
    /// The memorized mass realised on the rows (fraction of the total weight).
    pub realised_total_mass: f64,
    /// The memorized mass of the requested plan.
    pub planned_total_mass: f64,
}

/// The rows after memorization and the verification against the closed form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedPlan {
    /// The rows after memorization (split rows appear twice, with fractional weights).
    #[serde(skip)]
    pub rows: Rows,
    /// For each output row, whether it is memorized.
    #[serde(skip)]
    pub memorized: Vec<bool>,
    /// For each output row, the index of the input row it comes from.
    #[serde(skip)]
    pub origin: Vec<usize>,
    /// The realised plan (masses as fractions of the total weight).
    pub realised_plan: MemorizationPlan,
    /// Empirical metrics versus the closed form.
    pub verification: Verification,
}

/// Applies `plan` (in the confusion-row model: shares `r_{y,a}` of each cell, stratified by
/// prediction) to `rows`: picks the rows with a seeded ChaCha8 generator, sets their
/// predictions to their labels, and recomputes the metrics.
///
/// ```
/// use smallscale_fairness_memo::*;
/// let rows = Rows::new(vec![0, 0, 0, 0, 1, 1, 1, 1], vec![1, 1, 0, 0, 1, 1, 0, 0], vec![1, 1, 0, 0, 0, 1, 0, 0]).unwrap();
/// let dist = rows.distribution().unwrap();
/// let eopp = minimal_memorization(&dist, Target::EqualOpportunity, MinimalOptions::default()).unwrap();
/// let applied = apply_plan(&rows, &eopp.plan().unwrap().plan, ApplyOptions::default()).unwrap();
/// assert!(applied.verification.max_deviation <= applied.verification.rounding_bound + 1e-12);
/// assert_eq!(applied.verification.empirical.equal_opportunity.unwrap().aggregates.max_abs, 0.0);
/// ```
pub fn apply_plan(
    rows: &Rows,
    plan: &MemorizationPlan,
    options: ApplyOptions,
) -> Result<AppliedPlan> {
    let k = rows.n_classes();
    if plan.n_classes() != k {
        return Err(FairnessError::InvalidPlan {
            reason: format!("the plan has {} classes, the rows {k}", plan.n_classes()),
        });
    }
    let dist = rows.distribution()?;
    // Bucket rows by (group, label, prediction) stratum.
    let mut strata: Vec<Vec<usize>> = vec![Vec::new(); 2 * k * k];
    for i in 0..rows.len() {
        let (a, y, p) = (
            rows.groups()[i] as usize,
            rows.labels()[i] as usize,
            rows.predictions()[i] as usize,
        );
        strata[(a * k + y) * k + p].push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut memorized_share: Vec<f64> = vec![0.0; rows.len()]; // fraction of each row memorized
    for (s, members) in strata.iter_mut().enumerate() {
        if members.is_empty() {
            continue;
        }
        let (a, y) = (s / (k * k), (s / k) % k);
        let r = plan.share(Group::BOTH[a], y);
        if r <= 0.0 {
            continue;
        }
        members.shuffle(&mut rng);
        let total: f64 = members.iter().map(|&i| rows.weight(i)).sum();
        let target = r * total;
        let mut cum = 0.0;
        for &i in members.iter() {
            let w = rows.weight(i);
            match options.rounding {
                Rounding::WholeRows => {
                    if cum + w / 2.0 <= target {
                        memorized_share[i] = 1.0;
                        cum += w;
                    } else {
                        break;
                    }
                }
                Rounding::SplitRows => {
                    if cum + w <= target {
                        memorized_share[i] = 1.0;
                        cum += w;
                    } else {
                        if w > 0.0 && target > cum {
                            memorized_share[i] = (target - cum) / w;
                        }
                        break;
                    }
                }
            }
        }
    }
    // Build the output rows.
    let n_out = rows.len()
        + memorized_share
            .iter()
            .filter(|&&f| f > 0.0 && f < 1.0)
            .count();
    let mut groups = Vec::with_capacity(n_out);
    let mut labels = Vec::with_capacity(n_out);
    let mut predictions = Vec::with_capacity(n_out);
    let mut weights = Vec::with_capacity(n_out);
    let mut memorized = Vec::with_capacity(n_out);
    let mut origin = Vec::with_capacity(n_out);
    let mut push = |i: usize, w: f64, mem: bool| {
        groups.push(rows.groups()[i]);
        labels.push(rows.labels()[i]);
        predictions.push(if mem {
            rows.labels()[i]
        } else {
            rows.predictions()[i]
        });
        weights.push(w);
        memorized.push(mem);
        origin.push(i);
    };
    for (i, &f) in memorized_share.iter().enumerate() {
        let w = rows.weight(i);
        if f > 0.0 && f < 1.0 {
            push(i, w * f, true);
            push(i, w * (1.0 - f), false);
        } else {
            push(i, w, f >= 1.0);
        }
    }
    let weighted = rows.weights().is_some() || n_out != rows.len();
    let out_rows = Rows::from_parts_unchecked(
        groups,
        labels,
        predictions,
        weighted.then_some(weights.clone()),
        k,
    );
    // Realised plan: memorized weight per cell, as fractions of the total weight.
    let total_weight: f64 = weights.iter().sum();
    let mut realised = ndarray::Array2::zeros((2, k));
    for j in 0..out_rows.len() {
        if memorized[j] {
            realised[[out_rows.groups()[j] as usize, out_rows.labels()[j] as usize]] +=
                weights[j] / total_weight;
        }
    }
    let realised_plan = MemorizationPlan::from_masses(&dist, realised)?;
    let empirical = FairnessMetrics::compute(&out_rows.distribution()?, options.sign);
    let closed_form = metrics_after(&dist, plan, MemorizationModel::ConfusionRow, options.sign);
    let max_deviation = max_difference(&empirical, &closed_form);
    let rounding_bound = match options.rounding {
        Rounding::SplitRows => 0.0,
        Rounding::WholeRows => rounding_bound(rows),
    };
    Ok(AppliedPlan {
        rows: out_rows,
        memorized,
        origin,
        verification: Verification {
            empirical,
            closed_form,
            max_deviation,
            rounding_bound,
            realised_total_mass: realised_plan.total_mass(),
            planned_total_mass: plan.total_mass(),
        },
        realised_plan,
    })
}

fn rounding_bound(rows: &Rows) -> f64 {
    let counts = rows.cell_counts();
    let cells = counts.masses().sum_axis(ndarray::Axis(2));
    let k = rows.n_classes();
    let w_max = rows
        .weights()
        .map_or(1.0, |w| w.iter().copied().fold(0.0, f64::max));
    let inv = |x: f64| if x > 0.0 { 1.0 / x } else { 0.0 };
    let groups = inv(cells.row(0).sum()) + inv(cells.row(1).sum());
    let per_cell = (0..k)
        .map(|y| (inv(cells[[0, y]]) + inv(cells[[1, y]])) / 2.0)
        .fold(0.0, f64::max);
    (k as f64 - 1.0) * w_max * groups.max(per_cell)
}

/// Largest absolute difference between two metric sets (entries present in both).
pub(crate) fn max_difference(a: &FairnessMetrics, b: &FairnessMetrics) -> f64 {
    let mut worst = 0.0f64;
    for (x, y) in a
        .statistical_parity
        .gaps
        .iter()
        .zip(b.statistical_parity.gaps.iter())
    {
        worst = worst.max((x - y).abs());
    }
    if let (Some(x), Some(y)) = (&a.equal_opportunity, &b.equal_opportunity) {
        for (u, v) in x.gaps.iter().zip(y.gaps.iter()) {
            worst = worst.max((u - v).abs());
        }
    }
    if let (Some(x), Some(y)) = (&a.equalized_odds, &b.equalized_odds) {
        for (u, v) in x.gaps.iter().zip(y.gaps.iter()) {
            worst = worst.max((u - v).abs());
        }
    }
    worst
}
