//! The whole pipeline for a set of rows: metrics, then per target the minimal plan, the bounds
//! and the metrics after applying the plan to the rows. Every result is `Serialize`.

use serde::Serialize;

use crate::apply::{ApplyOptions, Verification, apply_plan};
use crate::binary::{BinaryFairness, binary_fairness};
use crate::bootstrap::{BootstrapIntervals, BootstrapOptions, bootstrap_intervals};
use crate::elimination::Target;
use crate::errors::{FairnessError, Result};
use crate::groups::{Group, SignConvention};
use crate::memorization::MemorizationModel;
use crate::metrics::FairnessMetrics;
use crate::minimal::{
    MemorizationBounds, MinimalMemorization, MinimalOptions, memorization_bounds,
    minimal_memorization,
};
use crate::rows::Rows;

/// Options of [`analyze`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisOptions {
    /// Sign convention of the signed gaps.
    pub sign: SignConvention,
    /// Model and tolerance of the minimal-memorization problems.
    pub minimal: MinimalOptions,
    /// The targets to solve for (default: all three).
    pub targets: Vec<Target>,
    /// How minimal plans are applied to the rows (confusion-row model only).
    pub apply: ApplyOptions,
    /// Bootstrap intervals, if wanted.
    pub bootstrap: Option<BootstrapOptions>,
    /// Positive class of the binary summary (when `K = 2`). Default 1.
    pub positive_class: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            sign: SignConvention::default(),
            minimal: MinimalOptions::default(),
            targets: Target::ALL.to_vec(),
            apply: ApplyOptions::default(),
            bootstrap: None,
            positive_class: 1,
        }
    }
}

/// The analysis of one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetAnalysis {
    /// The target bias.
    pub target: Target,
    /// The minimal plan, or why none exists.
    pub minimal: Option<MinimalMemorization>,
    /// The spec's bounds on the minimal mass.
    pub bounds: Option<MemorizationBounds>,
    /// The minimal plan applied to the rows (confusion-row model plans only).
    pub applied: Option<Verification>,
    /// Why the target is undefined (an empty cell for the conditional metrics).
    pub undefined: Option<String>,
}

/// Everything [`analyze`] computes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FairnessAnalysis {
    /// Number of rows.
    pub n_rows: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// `P(A = a)`, indexed (unprotected, protected).
    pub group_mass: [f64; 2],
    /// The metrics of the rows.
    pub metrics: FairnessMetrics,
    /// fairlearn / AIF360 binary summaries (when `K = 2` and defined).
    pub binary: Option<BinaryFairness>,
    /// Bootstrap intervals, if requested.
    pub bootstrap: Option<BootstrapIntervals>,
    /// Per target: minimal plan, bounds, verification on the rows.
    pub targets: Vec<TargetAnalysis>,
}

/// Rows in, everything out: metrics, per target the minimal memorization plan (mass, per-cell
/// masses and shares, feasibility), the bounds, and the metrics after applying the plan to
/// the rows next to the closed form.
///
/// ```
/// use smallscale_fairness_memo::*;
/// let rows = Rows::new(
///     vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
///     vec![1, 1, 1, 0, 0, 1, 1, 0, 0, 0],
///     vec![1, 1, 0, 0, 1, 1, 0, 0, 0, 0],
/// ).unwrap();
/// let report = analyze(&rows, &AnalysisOptions::default()).unwrap();
/// let json = serde_json::to_string(&report).unwrap();
/// assert!(json.contains("\"status\":\"feasible\""));
/// ```
pub fn analyze(rows: &Rows, options: &AnalysisOptions) -> Result<FairnessAnalysis> {
    let dist = rows.distribution()?;
    let metrics = FairnessMetrics::compute(&dist, options.sign);
    let binary = if dist.n_classes() == 2 {
        binary_fairness(&dist, options.positive_class).ok()
    } else {
        None
    };
    let bootstrap = options
        .bootstrap
        .map(|b| bootstrap_intervals(rows, b))
        .transpose()?;
    let mut targets = Vec::with_capacity(options.targets.len());
    for &target in &options.targets {
        let minimal = match minimal_memorization(&dist, target, options.minimal) {
            Ok(m) => m,
            Err(e @ FairnessError::EmptyCell { .. }) => {
                targets.push(TargetAnalysis {
                    target,
                    minimal: None,
                    bounds: None,
                    applied: None,
                    undefined: Some(e.to_string()),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let bounds = memorization_bounds(&dist, target, options.minimal)?;
        let model = if target == Target::StatisticalParity {
            options.minimal.model
        } else {
            MemorizationModel::ConfusionRow
        };
        let applied = match (&minimal, model) {
            (MinimalMemorization::Feasible(plan), MemorizationModel::ConfusionRow) => {
                let apply = ApplyOptions {
                    sign: options.sign,
                    ..options.apply
                };
                Some(apply_plan(rows, &plan.plan, apply)?.verification)
            }
            _ => None,
        };
        targets.push(TargetAnalysis {
            target,
            minimal: Some(minimal),
            bounds: Some(bounds),
            applied,
            undefined: None,
        });
    }
    Ok(FairnessAnalysis {
        n_rows: rows.len(),
        n_classes: dist.n_classes(),
        group_mass: [
            dist.group_mass(Group::Unprotected),
            dist.group_mass(Group::Protected),
        ],
        metrics,
        binary,
        bootstrap,
        targets,
    })
}
