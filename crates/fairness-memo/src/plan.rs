//! The memorization plan: how much mass `m_y^a` is memorized in every `(label, group)` cell.

use ndarray::Array2;
use serde::Serialize;

use crate::distribution::JointDistribution;
use crate::errors::{FairnessError, Result};
use crate::groups::Group;

/// Slack accepted above a cell's mass before a plan is rejected (it is clamped to the cell).
pub const PLAN_TOLERANCE: f64 = 1e-9;

/// A memorization plan for one distribution: the memorized masses
/// `m_y^a = P(D = 1, Y = y, A = a)` with `0 <= m_y^a <= p_y^a`, and the shares
/// `r_{y,a} = m_y^a / p_y^a` (0 for empty cells).
///
/// Built only through constructors that check it against a [`JointDistribution`].
///
/// ```
/// use ndarray::{Array2, Array3};
/// use smallscale_fairness_memo::{Group, JointDistribution, MemorizationPlan};
/// let dist = JointDistribution::from_masses(Array3::from_elem((2, 2, 2), 1.0)).unwrap();
/// // memorize half of cell (label 1, protected)
/// let plan = MemorizationPlan::from_shares(&dist, Array2::from_shape_vec((2, 2), vec![0., 0., 0., 0.5]).unwrap()).unwrap();
/// assert!((plan.total_mass() - 0.125).abs() < 1e-12);
/// assert_eq!(plan.share(Group::Protected, 1), 0.5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorizationPlan {
    /// `p_D = sum m_y^a`.
    total_mass: f64,
    /// `m_y^a`, indexed `[group, label]`.
    #[serde(serialize_with = "crate::serialize::array2")]
    masses: Array2<f64>,
    /// `r_{y,a}`, indexed `[group, label]`.
    #[serde(serialize_with = "crate::serialize::array2")]
    shares: Array2<f64>,
}

impl MemorizationPlan {
    /// The plan that memorizes nothing.
    pub fn nothing(dist: &JointDistribution) -> Self {
        let k = dist.n_classes();
        Self {
            total_mass: 0.0,
            masses: Array2::zeros((2, k)),
            shares: Array2::zeros((2, k)),
        }
    }

    /// The plan that memorizes everything (`p_D = 1`).
    pub fn everything(dist: &JointDistribution) -> Self {
        let masses = dist.cell_masses();
        let shares = masses.mapv(|m| if m > 0.0 { 1.0 } else { 0.0 });
        Self {
            total_mass: masses.sum(),
            masses,
            shares,
        }
    }

    /// A plan from memorized masses `m_y^a` (`[group, label]`), each in `[0, p_y^a]`.
    pub fn from_masses(dist: &JointDistribution, masses: Array2<f64>) -> Result<Self> {
        let cells = dist.cell_masses();
        Self::check_shape(&masses, cells.dim())?;
        let mut m = masses;
        let mut shares = Array2::zeros(cells.dim());
        for ((a, y), v) in m.indexed_iter_mut() {
            let p = cells[[a, y]];
            if !v.is_finite() || *v < -PLAN_TOLERANCE || *v > p + PLAN_TOLERANCE {
                return Err(FairnessError::InvalidPlan {
                    reason: format!(
                        "memorized mass {v} of cell (label {y}, {} group) is outside [0, {p}] (the cell's mass)",
                        Group::BOTH[a].name()
                    ),
                });
            }
            *v = v.clamp(0.0, p);
            shares[[a, y]] = if p > 0.0 { (*v / p).min(1.0) } else { 0.0 };
        }
        Ok(Self {
            total_mass: m.sum(),
            masses: m,
            shares,
        })
    }

    /// A plan from memorized shares `r_{y,a}` (`[group, label]`), each in `[0, 1]`.
    pub fn from_shares(dist: &JointDistribution, shares: Array2<f64>) -> Result<Self> {
        let cells = dist.cell_masses();
        Self::check_shape(&shares, cells.dim())?;
        for ((a, y), &r) in shares.indexed_iter() {
            if !r.is_finite() || !(-PLAN_TOLERANCE..=1.0 + PLAN_TOLERANCE).contains(&r) {
                return Err(FairnessError::InvalidPlan {
                    reason: format!(
                        "share {r} of cell (label {y}, {} group) is outside [0, 1]",
                        Group::BOTH[a].name()
                    ),
                });
            }
        }
        let shares = shares.mapv(|r| r.clamp(0.0, 1.0));
        let masses = &shares * &cells;
        let shares = ndarray::Zip::from(&shares)
            .and(&cells)
            .map_collect(|&r, &p| if p > 0.0 { r } else { 0.0 });
        Ok(Self {
            total_mass: masses.sum(),
            masses,
            shares,
        })
    }

    fn check_shape(a: &Array2<f64>, expected: (usize, usize)) -> Result<()> {
        if a.dim() != expected {
            return Err(FairnessError::ShapeMismatch {
                input: "plan",
                found: vec![a.nrows(), a.ncols()],
                expected: vec![expected.0, expected.1],
            });
        }
        Ok(())
    }

    /// `p_D`, the total memorized mass.
    pub fn total_mass(&self) -> f64 {
        self.total_mass
    }

    /// `m_y^a`, indexed `[group, label]`.
    pub fn masses(&self) -> &Array2<f64> {
        &self.masses
    }

    /// `r_{y,a}`, indexed `[group, label]`.
    pub fn shares(&self) -> &Array2<f64> {
        &self.shares
    }

    /// `m_y^a` of one cell.
    pub fn mass(&self, group: Group, label: usize) -> f64 {
        self.masses[[group.index(), label]]
    }

    /// `r_{y,a}` of one cell.
    pub fn share(&self, group: Group, label: usize) -> f64 {
        self.shares[[group.index(), label]]
    }

    /// `M^a = sum_y m_y^a`, the memorized mass of a group.
    pub fn group_mass(&self, group: Group) -> f64 {
        self.masses.row(group.index()).sum()
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.masses.ncols()
    }
}
