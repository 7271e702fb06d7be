//! What to score: the resource(s), the weight and the normalization.
//!
//! [`ScoreParams`] is an unchecked builder; [`ScoreParams::check`] validates
//! it into [`ScoreValidParams`], the only form [`crate::Pool::score`] accepts,
//! so invalid parameters never reach the scoring.
//!
//! The paper's PePR is `ScoreParams::new(resource)` with nothing else. The
//! other knobs are **extensions**:
//!
//! * [`ScoreParams::with_weight`]: `P / (1 + w R)`;
//! * [`ScoreParams::and_resource`]: several resources combined as the
//!   share-weighted mean of their normalized costs,
//!   `R = sum_k s_k R_k / sum_k s_k` (still in `[0, 1]`);
//! * [`ScoreParams::with_reference_bounds`]: normalize a resource against fixed
//!   bounds, clamped, instead of over the pool.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::errors::{Result, invalid_parameter};
use crate::normalize::ReferenceBounds;
use crate::score::check_weight;

/// Unchecked scoring parameters (builder). Validate with [`ScoreParams::check`].
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::ScoreParams;
///
/// // Paper's PePR-E.
/// let pepr_e = ScoreParams::new("energy").check()?;
/// assert_eq!(pepr_e.weight(), 1.0);
///
/// // Extension: energy and memory, energy counting twice as much, w = 0.5.
/// let mixed = ScoreParams::new("energy")
///     .with_resource_share(2.0)
///     .and_resource("memory", 1.0)
///     .with_weight(0.5)
///     .check()?;
/// assert_eq!(mixed.resources().len(), 2);
///
/// // Invalid parameters are caught before scoring.
/// assert!(ScoreParams::new("energy").with_weight(-1.0).check().is_err());
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreParams {
    resources: Vec<(String, f64)>,
    weight: f64,
    bounds: Vec<(String, f64, f64)>,
}

impl ScoreParams {
    /// Scores by one named resource (share 1, weight 1, pool min-max), i.e.
    /// the paper's PePR for that resource.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resources: vec![(resource.into(), 1.0)],
            weight: 1.0,
            bounds: Vec::new(),
        }
    }

    /// **Extension**: sets the share of the most recently added resource.
    pub fn with_resource_share(mut self, share: f64) -> Self {
        if let Some(last) = self.resources.last_mut() {
            last.1 = share;
        }
        self
    }

    /// **Extension**: adds another resource with share `share` (>= 0).
    pub fn and_resource(mut self, resource: impl Into<String>, share: f64) -> Self {
        self.resources.push((resource.into(), share));
        self
    }

    /// **Extension**: the weight `w` of `P / (1 + w R)` (default 1).
    pub fn with_weight(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    /// **Extension**: normalizes `resource` against fixed bounds
    /// `[min, max]` instead of the pool, clamping R into `[0, 1]`.
    pub fn with_reference_bounds(
        mut self,
        resource: impl Into<String>,
        min: f64,
        max: f64,
    ) -> Self {
        self.bounds.push((resource.into(), min, max));
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    ///
    /// [`crate::PeprError::InvalidParameter`] for an empty or repeated
    /// resource name, a negative or non-finite share, shares summing to 0, a
    /// negative or non-finite weight, invalid bounds, or bounds for a resource
    /// that is not scored.
    pub fn check(self) -> Result<ScoreValidParams> {
        check_weight(self.weight)?;
        let mut seen = BTreeMap::new();
        for (name, share) in &self.resources {
            if name.is_empty() {
                return Err(invalid_parameter(
                    "resource",
                    "\"\"",
                    "name the resource (a column such as `energy`)",
                ));
            }
            if !(share.is_finite() && *share >= 0.0) {
                return Err(invalid_parameter(
                    &format!("share of `{name}`"),
                    share,
                    "resource shares must be finite and >= 0",
                ));
            }
            if seen.insert(name.clone(), *share).is_some() {
                return Err(invalid_parameter(
                    "resource",
                    name,
                    "each resource may be listed once",
                ));
            }
        }
        let total: f64 = self.resources.iter().map(|(_, s)| s).sum();
        if total <= 0.0 {
            return Err(invalid_parameter(
                "resource shares",
                total,
                "at least one resource needs a positive share",
            ));
        }
        let mut bounds = BTreeMap::new();
        for (name, min, max) in self.bounds {
            if !seen.contains_key(&name) {
                return Err(invalid_parameter(
                    "reference bounds",
                    &name,
                    "bounds were given for a resource that is not scored; add it first",
                ));
            }
            let b = ReferenceBounds::new(min, max)?;
            if bounds.insert(name.clone(), b).is_some() {
                return Err(invalid_parameter(
                    "reference bounds",
                    &name,
                    "give bounds for each resource at most once",
                ));
            }
        }
        Ok(ScoreValidParams {
            resources: self.resources,
            weight: self.weight,
            bounds,
        })
    }
}

/// Validated scoring parameters; obtain with [`ScoreParams::check`].
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::ScoreParams;
///
/// let p = ScoreParams::new("co2").check()?;
/// assert_eq!(p.resources(), &[("co2".to_string(), 1.0)]);
/// assert!(p.bounds("co2").is_none());
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreValidParams {
    resources: Vec<(String, f64)>,
    weight: f64,
    bounds: BTreeMap<String, ReferenceBounds>,
}

impl ScoreValidParams {
    /// The scored resources with their shares, in the order given.
    pub fn resources(&self) -> &[(String, f64)] {
        &self.resources
    }

    /// The weight `w` of `P / (1 + w R)` (1 for the paper's PePR).
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// Fixed bounds for `resource`, if any (else pool min-max).
    pub fn bounds(&self, resource: &str) -> Option<&ReferenceBounds> {
        self.bounds.get(resource)
    }

    /// `true` when this is the paper's plain PePR (one resource, `w = 1`,
    /// pool min-max), i.e. no extension is used.
    pub fn is_paper_pepr(&self) -> bool {
        self.resources.len() == 1 && self.weight == 1.0 && self.bounds.is_empty()
    }
}
