//! The statistical-parity linear program (minimize `sum m` subject to `SP = 0` and the box
//! bounds `0 <= m_y^a <= p_y^a`), solved with `good_lp` and the pure-Rust `microlp` solver.

use good_lp::{
    Expression, ResolutionError, Solution, SolverModel, Variable, microlp, variable, variables,
};
use ndarray::Array2;

use crate::distribution::JointDistribution;
use crate::errors::{FairnessError, Result};
use crate::groups::Group;
use crate::memorization::MemorizationModel;

/// `effect[a][[yh, y]]`: change of `p^a P(Y_hat = yh | A = a)` per unit of mass memorized in
/// cell `(y, a)`.
pub(crate) fn effects(dist: &JointDistribution, model: MemorizationModel) -> [Array2<f64>; 2] {
    let k = dist.n_classes();
    let make = |g: Group| {
        let s = dist.prediction_distribution(g);
        let mut e = Array2::zeros((k, k));
        for y in 0..k {
            let row = match model {
                MemorizationModel::ConfusionRow => match dist.confusion_row(g, y) {
                    Ok(c) => c,
                    Err(_) => continue, // empty cell: its variable is fixed at 0
                },
                MemorizationModel::Distribution => s.clone(),
            };
            for yh in 0..k {
                e[[yh, y]] = if yh == y { 1.0 } else { 0.0 } - row[yh];
            }
        }
        e
    };
    [make(Group::Unprotected), make(Group::Protected)]
}

/// Solves the SP program; `allowed[a]` says whether group `a` may be memorized.
/// `Ok(None)` means infeasible.
pub(crate) fn solve_statistical_parity(
    dist: &JointDistribution,
    model: MemorizationModel,
    allowed: [bool; 2],
) -> Result<Option<Array2<f64>>> {
    let k = dist.n_classes();
    let cells = dist.cell_masses();
    let eff = effects(dist, model);
    let mut vars = variables!();
    let mut m: Vec<Vec<Variable>> = Vec::with_capacity(2);
    for g in Group::BOTH {
        let a = g.index();
        m.push(
            (0..k)
                .map(|y| {
                    let upper = if allowed[a] { cells[[a, y]] } else { 0.0 };
                    vars.add(variable().min(0.0).max(upper))
                })
                .collect(),
        );
    }
    let objective: Expression = m.iter().flatten().copied().sum();
    let mut problem = vars.minimise(objective).using(microlp);
    let s_plus = dist.prediction_distribution(Group::Protected);
    let s_minus = dist.prediction_distribution(Group::Unprotected);
    let (pp, pm) = (
        dist.group_mass(Group::Protected),
        dist.group_mass(Group::Unprotected),
    );
    // K - 1 equations: the last one is implied because both prediction distributions sum to 1.
    for yh in 0..k - 1 {
        let mut lhs = Expression::from(0.0);
        for y in 0..k {
            lhs += (eff[Group::Protected.index()][[yh, y]] / pp) * m[Group::Protected.index()][y];
            lhs -=
                (eff[Group::Unprotected.index()][[yh, y]] / pm) * m[Group::Unprotected.index()][y];
        }
        let rhs = s_minus[yh] - s_plus[yh];
        problem.add_constraint(lhs.eq(rhs));
    }
    match problem.solve() {
        Ok(solution) => {
            let mut out = Array2::zeros((2, k));
            for a in 0..2 {
                for y in 0..k {
                    out[[a, y]] = solution.value(m[a][y]).clamp(0.0, cells[[a, y]]);
                }
            }
            Ok(Some(out))
        }
        Err(ResolutionError::Infeasible) => Ok(None),
        Err(e) => Err(FairnessError::Solver {
            target: "statistical parity",
            reason: e.to_string(),
        }),
    }
}
