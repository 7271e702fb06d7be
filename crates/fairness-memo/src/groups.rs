//! The two groups and the sign convention of the signed gaps.

use serde::Serialize;

/// One of the two groups compared by every metric.
///
/// The spec writes `A = 1` (`+`) for the protected group and `A = 0` (`-`) for the
/// unprotected one; arrays indexed by group in this crate use the same codes
/// (`Group::Unprotected as usize == 0`, `Group::Protected as usize == 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// `A = 0`, written `-` in the spec (AIF360's *privileged* group).
    Unprotected = 0,
    /// `A = 1`, written `+` in the spec (AIF360's *unprivileged* group).
    Protected = 1,
}

impl Group {
    /// Both groups, in index order (unprotected, protected).
    pub const BOTH: [Group; 2] = [Group::Unprotected, Group::Protected];

    /// Index of the group in arrays of this crate (0 unprotected, 1 protected).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The other group.
    pub fn other(self) -> Group {
        match self {
            Group::Unprotected => Group::Protected,
            Group::Protected => Group::Unprotected,
        }
    }

    /// `"protected"` or `"unprotected"`.
    pub fn name(self) -> &'static str {
        match self {
            Group::Unprotected => "unprotected",
            Group::Protected => "protected",
        }
    }
}

/// Which difference the signed metrics report.
///
/// The default, [`SignConvention::ProtectedMinusUnprotected`], is the spec's and AIF360's
/// (`P(. | unprivileged) - P(. | privileged)` when the protected group is AIF360's
/// unprivileged group). Aggregates (max-abs, L1, total variation) do not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignConvention {
    /// `metric(protected) - metric(unprotected)`.
    #[default]
    ProtectedMinusUnprotected,
    /// `metric(unprotected) - metric(protected)`.
    UnprotectedMinusProtected,
}

impl SignConvention {
    /// The signed difference of a per-group quantity under this convention.
    ///
    /// ```
    /// use smallscale_fairness_memo::SignConvention;
    /// assert_eq!(SignConvention::ProtectedMinusUnprotected.gap(0.3, 0.5), 0.3 - 0.5);
    /// assert_eq!(SignConvention::UnprotectedMinusProtected.gap(0.3, 0.5), 0.5 - 0.3);
    /// ```
    pub fn gap(self, protected: f64, unprotected: f64) -> f64 {
        match self {
            SignConvention::ProtectedMinusUnprotected => protected - unprotected,
            SignConvention::UnprotectedMinusProtected => unprotected - protected,
        }
    }
}
