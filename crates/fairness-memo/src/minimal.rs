//! The minimal memorized mass `p_D*` that removes a bias, the plan that achieves it, and the
//! spec's lower and upper bounds.

use ndarray::Array2;
use serde::Serialize;

use crate::distribution::JointDistribution;
use crate::elimination::{DEFAULT_TOLERANCE, Target, check_tolerance, eliminates, ratio_condition};
use crate::errors::{FairnessError, Result};
use crate::groups::Group;
use crate::linear_program::solve_statistical_parity;
use crate::memorization::MemorizationModel;
use crate::metrics::{Aggregates, equal_opportunity, statistical_parity};
use crate::plan::MemorizationPlan;

/// Options of [`minimal_memorization`] and [`memorization_bounds`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MinimalOptions {
    /// The model for statistical parity (the conditional metrics are model-free). Default:
    /// [`MemorizationModel::ConfusionRow`], whose plans can be applied to rows.
    pub model: MemorizationModel,
    /// Tolerance for "bias removed" and for the EOdds ratio condition. Default
    /// [`DEFAULT_TOLERANCE`].
    pub tolerance: f64,
}

impl Default for MinimalOptions {
    fn default() -> Self {
        Self {
            model: MemorizationModel::ConfusionRow,
            tolerance: DEFAULT_TOLERANCE,
        }
    }
}

/// How a minimal plan was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SolutionMethod {
    /// The statistical-parity linear program.
    LinearProgram,
    /// A closed form of the spec.
    ClosedForm,
}

/// The per-class part of an EOpp / EOdds minimal plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMemorization {
    /// The label `y`.
    pub label: usize,
    /// The group memorized in (the one with the larger false-negative rate), if any.
    pub disadvantaged: Option<Group>,
    /// Memorized shares `r_{y,a}`, indexed by group (unprotected, protected).
    pub shares: [f64; 2],
    /// Memorized mass of the class.
    pub mass: f64,
    /// EOdds only: whether the ratio condition holds (`None` for EOpp).
    pub ratio_condition: Option<bool>,
    /// EOdds only: whether the whole cells with errors were memorized (the fallback when the
    /// ratio condition fails).
    pub whole_cells: bool,
}

/// A feasible minimal plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinimalPlan {
    /// The target bias.
    pub target: Target,
    /// The model used for statistical parity.
    pub model: MemorizationModel,
    /// How the plan was found.
    pub method: SolutionMethod,
    /// `p_D*`.
    pub total_mass: f64,
    /// The plan (masses `m_y^a` and shares `r_{y,a}`).
    pub plan: MemorizationPlan,
    /// Per-class details for EOpp and EOdds (empty for SP).
    pub per_class: Vec<ClassMemorization>,
    /// Aggregates of the target's gaps after applying the plan (closed form).
    pub remaining: Aggregates,
}

/// The result of a minimal-memorization problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MinimalMemorization {
    /// A plan removes the bias; this is the cheapest.
    Feasible(MinimalPlan),
    /// No plan removes the bias (statistical parity only: empty cells or an empty polytope).
    Infeasible {
        /// The target bias.
        target: Target,
        /// Why no plan exists.
        reason: String,
    },
}

impl MinimalMemorization {
    /// The minimal plan, if feasible.
    pub fn plan(&self) -> Option<&MinimalPlan> {
        match self {
            MinimalMemorization::Feasible(p) => Some(p),
            MinimalMemorization::Infeasible { .. } => None,
        }
    }

    /// `p_D*`, if feasible.
    pub fn total_mass(&self) -> Option<f64> {
        self.plan().map(|p| p.total_mass)
    }
}

fn feasible(
    dist: &JointDistribution,
    target: Target,
    options: MinimalOptions,
    method: SolutionMethod,
    masses: Array2<f64>,
    per_class: Vec<ClassMemorization>,
) -> Result<MinimalMemorization> {
    let plan = MemorizationPlan::from_masses(dist, masses)?;
    let check = eliminates(dist, &plan, target, options.model, f64::MAX)?;
    Ok(MinimalMemorization::Feasible(MinimalPlan {
        target,
        model: options.model,
        method,
        total_mass: plan.total_mass(),
        plan,
        per_class,
        remaining: check.remaining,
    }))
}

/// The minimal memorized mass that removes the `target` bias and the plan achieving it.
///
/// * Statistical parity: the linear program (`good_lp` + `microlp`) in the chosen model; the
///   default confusion-row model's plan can be applied to rows with
///   [`apply_plan`](crate::apply_plan). Infeasible programs are reported as
///   [`MinimalMemorization::Infeasible`] with the reason.
/// * Equal opportunity: closed form. Per class, memorize only in the group with the larger
///   false-negative rate `a*`, a share `r* = |t_{y,+} - t_{y,-}| / (1 - t_{y,a*})`.
/// * Equalized odds: closed form. Per class, the EOpp plan when the ratio condition holds,
///   else the whole cells of the class that have errors.
///
/// Errors only on invalid options, or (EOpp / EOdds) on empty cells where the metric is undefined.
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::*;
/// // [group][label][prediction] counts; the protected group is predicted positive less often
/// let counts = Array3::from_shape_vec((2, 2, 2), vec![40., 10., 10., 40., 45., 5., 20., 30.]).unwrap();
/// let dist = JointDistribution::from_masses(counts).unwrap();
/// let eopp = minimal_memorization(&dist, Target::EqualOpportunity, MinimalOptions::default()).unwrap();
/// let plan = eopp.plan().unwrap();
/// // TPR 0.6 (protected) vs 0.8: memorize half of the protected positives' cell
/// assert!((plan.plan.share(Group::Protected, 1) - 0.5).abs() < 1e-12);
/// let sp = minimal_memorization(&dist, Target::StatisticalParity, MinimalOptions::default()).unwrap();
/// assert!(sp.plan().unwrap().remaining.max_abs < 1e-9);
/// ```
pub fn minimal_memorization(
    dist: &JointDistribution,
    target: Target,
    options: MinimalOptions,
) -> Result<MinimalMemorization> {
    check_tolerance(options.tolerance)?;
    match target {
        Target::StatisticalParity => minimal_statistical_parity(dist, options),
        Target::EqualOpportunity => {
            let (masses, per_class) = equal_opportunity_plan(dist)?;
            feasible(
                dist,
                target,
                options,
                SolutionMethod::ClosedForm,
                masses,
                per_class,
            )
        }
        Target::EqualizedOdds => {
            let (masses, per_class) = equalized_odds_plan(dist, options.tolerance)?;
            feasible(
                dist,
                target,
                options,
                SolutionMethod::ClosedForm,
                masses,
                per_class,
            )
        }
    }
}

fn minimal_statistical_parity(
    dist: &JointDistribution,
    options: MinimalOptions,
) -> Result<MinimalMemorization> {
    let target = Target::StatisticalParity;
    if Aggregates::of(statistical_parity(dist, Default::default())).max_abs <= options.tolerance {
        return feasible(
            dist,
            target,
            options,
            SolutionMethod::LinearProgram,
            Array2::zeros((2, dist.n_classes())),
            vec![],
        );
    }
    match solve_statistical_parity(dist, options.model, [true, true])? {
        Some(masses) => feasible(
            dist,
            target,
            options,
            SolutionMethod::LinearProgram,
            masses,
            vec![],
        ),
        None => Ok(MinimalMemorization::Infeasible {
            target,
            reason: infeasibility_reason(dist),
        }),
    }
}

fn infeasibility_reason(dist: &JointDistribution) -> String {
    let empty = dist.empty_cells();
    let base = "no memorization plan within the cell masses equalises the two groups' prediction distributions (the SP polytope is empty)";
    if empty.is_empty() {
        format!(
            "{base}; memorizing cannot close this gap, which is driven by the base rates (memorizing everything leaves the base-rate gap)"
        )
    } else {
        let cells: Vec<String> = empty
            .iter()
            .map(|(g, y)| format!("(label {y}, {})", g.name()))
            .collect();
        format!(
            "{base}; the cells {} are empty, so memorization cannot move predictions toward those labels in that group",
            cells.join(", ")
        )
    }
}

/// Per class: `(disadvantaged group, share)` of the EOpp closed form.
fn equal_opportunity_class(dist: &JointDistribution, y: usize) -> Result<(Option<Group>, f64)> {
    let t_plus = dist.true_rate(Group::Protected, y)?;
    let t_minus = dist.true_rate(Group::Unprotected, y)?;
    if t_plus == t_minus {
        return Ok((None, 0.0));
    }
    let (worse, t_worse, t_better) = if t_plus < t_minus {
        (Group::Protected, t_plus, t_minus)
    } else {
        (Group::Unprotected, t_minus, t_plus)
    };
    Ok((
        Some(worse),
        ((t_better - t_worse) / (1.0 - t_worse)).clamp(0.0, 1.0),
    ))
}

fn equal_opportunity_plan(
    dist: &JointDistribution,
) -> Result<(Array2<f64>, Vec<ClassMemorization>)> {
    dist.require_full_cells("equal opportunity")?;
    let k = dist.n_classes();
    let mut masses = Array2::zeros((2, k));
    let mut per_class = Vec::with_capacity(k);
    for y in 0..k {
        let (worse, share) = equal_opportunity_class(dist, y)?;
        let mut shares = [0.0; 2];
        let mut mass = 0.0;
        if let Some(g) = worse {
            shares[g.index()] = share;
            mass = share * dist.cell_mass(g, y);
            masses[[g.index(), y]] = mass;
        }
        per_class.push(ClassMemorization {
            label: y,
            disadvantaged: worse,
            shares,
            mass,
            ratio_condition: None,
            whole_cells: false,
        });
    }
    Ok((masses, per_class))
}

fn equalized_odds_plan(
    dist: &JointDistribution,
    tolerance: f64,
) -> Result<(Array2<f64>, Vec<ClassMemorization>)> {
    let (mut masses, mut per_class) = equal_opportunity_plan(dist)?;
    for class in per_class.iter_mut() {
        let y = class.label;
        let holds = ratio_condition(dist, y, tolerance)?;
        class.ratio_condition = Some(holds);
        if holds {
            continue;
        }
        class.whole_cells = true;
        class.disadvantaged = None;
        class.mass = 0.0;
        for g in Group::BOTH {
            let has_errors = dist.true_rate(g, y)? < 1.0;
            let share = if has_errors { 1.0 } else { 0.0 };
            class.shares[g.index()] = share;
            masses[[g.index(), y]] = share * dist.cell_mass(g, y);
            class.mass += masses[[g.index(), y]];
        }
    }
    Ok((masses, per_class))
}

/// Lower and upper bounds on `p_D*` from the spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorizationBounds {
    /// The target bias.
    pub target: Target,
    /// A lower bound on `p_D*`.
    pub lower: f64,
    /// An upper bound on `p_D*`; `None` when the construction behind it is not available
    /// (SP: neither one-sided plan exists).
    pub upper: Option<f64>,
    /// The rule behind `lower`.
    pub lower_rule: &'static str,
    /// The rule behind `upper`.
    pub upper_rule: &'static str,
}

/// The spec's bounds on `p_D*`.
///
/// * SP: lower `min(p^+, p^-) TV(s^+, s^-)` (valid in both models, with `s^a` the observed
///   prediction distributions); upper = the best one-sided plan (memorize in one group only,
///   the cheaper of the two one-group linear programs, in the chosen model).
/// * EOpp: `sum_y p_y^{a*} |EOpp(y)| <= p_D* <= sum_y p_y^{a*}` (classes with a gap).
/// * EOdds: lower = the EOpp `p_D*`; upper = the mass of all cells with errors.
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::*;
/// let counts = Array3::from_shape_vec((2, 2, 2), vec![40., 10., 10., 40., 45., 5., 20., 30.]).unwrap();
/// let dist = JointDistribution::from_masses(counts).unwrap();
/// let opts = MinimalOptions::default();
/// let bounds = memorization_bounds(&dist, Target::StatisticalParity, opts).unwrap();
/// let exact = minimal_memorization(&dist, Target::StatisticalParity, opts).unwrap().total_mass().unwrap();
/// assert!(bounds.lower <= exact + 1e-12 && exact <= bounds.upper.unwrap() + 1e-12);
/// ```
pub fn memorization_bounds(
    dist: &JointDistribution,
    target: Target,
    options: MinimalOptions,
) -> Result<MemorizationBounds> {
    check_tolerance(options.tolerance)?;
    match target {
        Target::StatisticalParity => {
            let (pp, pm) = (
                dist.group_mass(Group::Protected),
                dist.group_mass(Group::Unprotected),
            );
            let tv = Aggregates::of(statistical_parity(dist, Default::default())).total_variation;
            let mut upper: Option<f64> = None;
            if tv > options.tolerance {
                for g in Group::BOTH {
                    let mut allowed = [false; 2];
                    allowed[g.index()] = true;
                    if let Some(m) = solve_statistical_parity(dist, options.model, allowed)? {
                        let mass = m.sum();
                        upper = Some(upper.map_or(mass, |u: f64| u.min(mass)));
                    }
                }
            } else {
                upper = Some(0.0);
            }
            Ok(MemorizationBounds {
                target,
                lower: pp.min(pm) * tv,
                upper,
                lower_rule: "min(p+, p-) * TV(s+, s-)",
                upper_rule: "cheapest one-sided plan (memorize in one group only)",
            })
        }
        Target::EqualOpportunity => {
            let eopp = equal_opportunity(dist, Default::default())?;
            let (mut lower, mut upper) = (0.0, 0.0);
            for y in 0..dist.n_classes() {
                if let (Some(g), _) = equal_opportunity_class(dist, y)? {
                    lower += dist.cell_mass(g, y) * eopp[y].abs();
                    upper += dist.cell_mass(g, y);
                }
            }
            Ok(MemorizationBounds {
                target,
                lower,
                upper: Some(upper),
                lower_rule: "sum_y p_y^{a*} |EOpp(y)|",
                upper_rule: "sum_y p_y^{a*} (whole disadvantaged cells)",
            })
        }
        Target::EqualizedOdds => {
            let (masses, _) = equal_opportunity_plan(dist)?;
            let mut upper = 0.0;
            for g in Group::BOTH {
                for y in 0..dist.n_classes() {
                    if dist.true_rate(g, y)? < 1.0 {
                        upper += dist.cell_mass(g, y);
                    }
                }
            }
            Ok(MemorizationBounds {
                target,
                lower: masses.sum(),
                upper: Some(upper),
                lower_rule: "the equal-opportunity p_D*",
                upper_rule: "all cells with errors",
            })
        }
    }
}

/// The binary (`K = 2`, positive class 1) closed form of the SP minimum in the chosen model.
///
/// Let the low group have the lower positive rate and `d` the gap. Two moves help: memorize
/// positives of the low group (raises its rate by `(1 - s_1^low) / p^low` per unit mass in the
/// distribution model, `c_low(0 | 1) / p^low` in the confusion-row model) or negatives of the
/// high group (lowers its rate by `s_1^high / p^high`, resp. `c_high(1 | 0) / p^high`). The
/// minimum spends the mass on the more efficient move first, up to the cell's mass, then on
/// the other (a fractional knapsack). When the first cell suffices this is the spec's
/// `p_D* = d min(p^+ / (1 - s_1^+), p^- / s_1^-)` (protected group low).
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::*;
/// let counts = Array3::from_shape_vec((2, 2, 2), vec![40., 10., 10., 40., 45., 5., 20., 30.]).unwrap();
/// let dist = JointDistribution::from_masses(counts).unwrap();
/// let opts = MinimalOptions::default();
/// let closed = binary_statistical_parity_minimum(&dist, opts.model).unwrap().total_mass().unwrap();
/// let lp = minimal_memorization(&dist, Target::StatisticalParity, opts).unwrap().total_mass().unwrap();
/// assert!((closed - lp).abs() < 1e-9);
/// ```
pub fn binary_statistical_parity_minimum(
    dist: &JointDistribution,
    model: MemorizationModel,
) -> Result<MinimalMemorization> {
    if dist.n_classes() != 2 {
        return Err(FairnessError::InvalidParameter {
            input: "distribution",
            reason: format!(
                "the binary closed form needs K = 2 classes, got {}",
                dist.n_classes()
            ),
        });
    }
    let target = Target::StatisticalParity;
    let options = MinimalOptions {
        model,
        tolerance: DEFAULT_TOLERANCE,
    };
    let rate = |g: Group| dist.prediction_distribution(g)[1];
    let gap = rate(Group::Protected) - rate(Group::Unprotected);
    let mut masses = Array2::zeros((2, 2));
    if gap == 0.0 {
        return feasible(
            dist,
            target,
            options,
            SolutionMethod::ClosedForm,
            masses,
            vec![],
        );
    }
    let (low, high) = if gap < 0.0 {
        (Group::Protected, Group::Unprotected)
    } else {
        (Group::Unprotected, Group::Protected)
    };
    let flip_rate = |g: Group, y: usize| -> f64 {
        match model {
            MemorizationModel::ConfusionRow => {
                dist.confusion_row(g, y).map(|c| c[1 - y]).unwrap_or(0.0)
            }
            MemorizationModel::Distribution => dist.prediction_distribution(g)[1 - y],
        }
    };
    // (group, label, efficiency per unit mass, capacity)
    let mut moves = [
        (
            low,
            1usize,
            flip_rate(low, 1) / dist.group_mass(low),
            dist.cell_mass(low, 1),
        ),
        (
            high,
            0usize,
            flip_rate(high, 0) / dist.group_mass(high),
            dist.cell_mass(high, 0),
        ),
    ];
    moves.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut remaining = gap.abs();
    for (g, y, efficiency, capacity) in moves {
        if remaining <= 0.0 || efficiency <= 0.0 {
            continue;
        }
        let mass = (remaining / efficiency).min(capacity);
        masses[[g.index(), y]] = mass;
        remaining -= mass * efficiency;
        if mass < capacity {
            remaining = 0.0;
        }
    }
    if remaining > DEFAULT_TOLERANCE {
        return Ok(MinimalMemorization::Infeasible {
            target,
            reason: infeasibility_reason(dist),
        });
    }
    feasible(
        dist,
        target,
        options,
        SolutionMethod::ClosedForm,
        masses,
        vec![],
    )
}
