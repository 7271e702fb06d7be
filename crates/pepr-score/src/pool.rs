//! Pools of model runs and their PePR scores, ranking and Pareto front.
//!
//! PePR is defined relative to a *pool*: the set of models being compared.
//! [`Pool::new`] validates the runs (performance in `[0, 1]`, finite
//! non-negative resources, unique names, same resources everywhere);
//! [`Pool::score`] normalizes each resource over the pool and scores every
//! model, returning a serializable [`PoolScores`].
//!
//! The score depends on the pool: adding one expensive model rescales every
//! `R` and can flip a ranking (see the tests and the crate docs).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::errors::{PeprError, Result};
use crate::normalize::{Normalized, min_max_normalize};
use crate::params::{ScoreParams, ScoreValidParams};
use crate::pareto::{pareto_front, pareto_front_multi};
use crate::score::check_performance;

/// One trained model (one run): its name, performance and resource costs.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::ModelRun;
///
/// let run = ModelRun::new("resnet18", 0.91)
///     .with_resource("energy", 0.12)
///     .with_attribute("type", "CNN");
/// assert_eq!(run.resources["energy"], 0.12);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRun {
    /// The model name, unique within a pool.
    pub name: String,
    /// Performance `P` in `[0, 1]` (e.g. test accuracy).
    pub performance: f64,
    /// Raw resource costs by name (e.g. `energy` in kWh), finite and >= 0.
    pub resources: BTreeMap<String, f64>,
    /// Other columns kept as text (e.g. `type`, `num_param`), for grouping.
    pub attributes: BTreeMap<String, String>,
}

impl ModelRun {
    /// A run with no resources or attributes yet.
    pub fn new(name: impl Into<String>, performance: f64) -> Self {
        Self {
            name: name.into(),
            performance,
            resources: BTreeMap::new(),
            attributes: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a resource cost.
    pub fn with_resource(mut self, resource: impl Into<String>, value: f64) -> Self {
        self.resources.insert(resource.into(), value);
        self
    }

    /// Adds (or replaces) a text attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    fn validate(&self) -> Result<()> {
        check_performance(&format!("model `{}`", self.name), self.performance)?;
        for (resource, &value) in &self.resources {
            if !(value.is_finite() && value >= 0.0) {
                return Err(PeprError::InvalidResource {
                    what: format!("model `{}`", self.name),
                    resource: resource.clone(),
                    value,
                });
            }
        }
        Ok(())
    }
}

/// A validated pool of runs compared with each other.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::{ModelRun, Pool};
///
/// let pool = Pool::new("demo", vec![
///     ModelRun::new("small", 0.80).with_resource("energy", 1.0),
///     ModelRun::new("large", 0.90).with_resource("energy", 3.0),
/// ])?;
/// let scores = pool.pepr("energy")?;
/// assert_eq!(scores.best().name, "small"); // 0.80 / 1 > 0.90 / 2
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pool {
    label: String,
    runs: Vec<ModelRun>,
}

impl Pool {
    /// Validates `runs` into a pool labelled `label` (used in messages).
    ///
    /// # Errors
    ///
    /// [`PeprError::Empty`] for no runs; [`PeprError::PerformanceOutOfRange`],
    /// [`PeprError::InvalidResource`], [`PeprError::DuplicateModel`], or
    /// [`PeprError::MissingResource`] if the runs do not all have the same
    /// resources.
    pub fn new(label: impl Into<String>, runs: Vec<ModelRun>) -> Result<Self> {
        let label = label.into();
        if runs.is_empty() {
            return Err(PeprError::Empty {
                what: format!("pool `{label}`"),
                hint: "add at least one model run".to_string(),
            });
        }
        let mut pool = Self {
            label,
            runs: Vec::with_capacity(runs.len()),
        };
        let mut names = BTreeSet::new();
        for run in runs {
            pool.check_run(&run, &names)?;
            names.insert(run.name.clone());
            pool.runs.push(run);
        }
        Ok(pool)
    }

    fn check_run(&self, run: &ModelRun, names: &BTreeSet<String>) -> Result<()> {
        run.validate()?;
        if names.contains(&run.name) {
            return Err(PeprError::DuplicateModel {
                name: run.name.clone(),
                pool: format!("pool `{}`", self.label),
            });
        }
        if let Some(first) = self.runs.first() {
            let missing = |have: &ModelRun, want: &ModelRun| {
                want.resources
                    .keys()
                    .find(|k| !have.resources.contains_key(*k))
                    .map(|k| PeprError::MissingResource {
                        model: have.name.clone(),
                        resource: k.clone(),
                        available: have
                            .resources
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            };
            if let Some(e) = missing(run, first).or_else(|| missing(first, run)) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Adds a run, validating it against the pool.
    ///
    /// # Errors
    ///
    /// As [`Pool::new`].
    pub fn push(&mut self, run: ModelRun) -> Result<()> {
        let names: BTreeSet<String> = self.runs.iter().map(|r| r.name.clone()).collect();
        self.check_run(&run, &names)?;
        self.runs.push(run);
        Ok(())
    }

    /// The pool's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The runs, in insertion order.
    pub fn runs(&self) -> &[ModelRun] {
        &self.runs
    }

    /// The number of runs (at least 1).
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Always `false`: a pool has at least one run.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The resource names every run has.
    pub fn resource_names(&self) -> Vec<String> {
        self.runs[0].resources.keys().cloned().collect()
    }

    /// The performances, in run order.
    pub fn performances(&self) -> Vec<f64> {
        self.runs.iter().map(|r| r.performance).collect()
    }

    /// The raw costs of `resource`, in run order.
    ///
    /// # Errors
    ///
    /// [`PeprError::MissingResource`] if the pool has no such resource.
    pub fn resource(&self, resource: &str) -> Result<Vec<f64>> {
        self.runs
            .iter()
            .map(|r| {
                r.resources
                    .get(resource)
                    .copied()
                    .ok_or_else(|| PeprError::MissingResource {
                        model: r.name.clone(),
                        resource: resource.to_string(),
                        available: r.resources.keys().cloned().collect::<Vec<_>>().join(", "),
                    })
            })
            .collect()
    }

    /// The paper's PePR for one resource (min-max over this pool, `w = 1`).
    ///
    /// # Errors
    ///
    /// [`PeprError::MissingResource`] or [`PeprError::InvalidParameter`]
    /// (empty name).
    pub fn pepr(&self, resource: &str) -> Result<PoolScores> {
        self.score(&ScoreParams::new(resource).check()?)
    }

    /// Scores every model of the pool.
    ///
    /// # Errors
    ///
    /// [`PeprError::MissingResource`] if a scored resource is not in the pool.
    ///
    /// # Example
    ///
    /// ```
    /// use smallscale_pepr_score::{ModelRun, Pool, ScoreParams};
    ///
    /// let pool = Pool::new("demo", vec![
    ///     ModelRun::new("a", 0.8).with_resource("energy", 1.0),
    ///     ModelRun::new("b", 0.9).with_resource("energy", 3.0),
    /// ])?;
    /// // Extension: fixed bounds keep R stable when the pool grows.
    /// let params = ScoreParams::new("energy").with_reference_bounds("energy", 0.0, 4.0).check()?;
    /// let scores = pool.score(&params)?;
    /// assert_eq!(scores.get("b").unwrap().resource, 0.75);
    /// # Ok::<(), smallscale_pepr_score::PeprError>(())
    /// ```
    pub fn score(&self, params: &ScoreValidParams) -> Result<PoolScores> {
        let mut summaries = Vec::new();
        let mut normalized: Vec<(String, f64, Normalized, Vec<f64>)> = Vec::new();
        let mut notes = Vec::new();
        for (name, share) in params.resources() {
            let raw = self.resource(name)?;
            let (n, method) = match params.bounds(name) {
                Some(b) => (b.normalize(&raw)?, NormalizationMethod::ReferenceBounds),
                None => (min_max_normalize(&raw)?, NormalizationMethod::PoolMinMax),
            };
            if n.degenerate {
                notes.push(format!(
                    "resource `{name}` has the same value ({}) for every model of pool `{}`: \
                     min-max normalization is undefined, R = 0 was used for all models",
                    n.min, self.label
                ));
            }
            if n.clamped > 0 {
                notes.push(format!(
                    "{} value(s) of resource `{name}` fell outside the reference bounds [{}, {}] \
                     and were clamped",
                    n.clamped, n.min, n.max
                ));
            }
            summaries.push(ResourceSummary {
                name: name.clone(),
                share: *share,
                method,
                min: n.min,
                max: n.max,
                degenerate: n.degenerate,
                clamped: n.clamped,
            });
            normalized.push((name.clone(), *share, n, raw));
        }
        let total_share: f64 = normalized.iter().map(|(_, s, _, _)| s).sum();
        let weight = params.weight();
        let mut models: Vec<ScoredModel> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let resource = if normalized.len() == 1 {
                    normalized[0].2.values[i]
                } else {
                    normalized
                        .iter()
                        .map(|(_, s, n, _)| s * n.values[i])
                        .sum::<f64>()
                        / total_share
                };
                // Guard against rounding just outside [0, 1] in the weighted mean.
                let resource = resource.clamp(0.0, 1.0);
                ScoredModel {
                    name: run.name.clone(),
                    performance: run.performance,
                    raw: normalized
                        .iter()
                        .map(|(k, _, _, raw)| (k.clone(), raw[i]))
                        .collect(),
                    normalized: normalized
                        .iter()
                        .map(|(k, _, n, _)| (k.clone(), n.values[i]))
                        .collect(),
                    resource,
                    pepr: run.performance / (1.0 + weight * resource),
                    rank: 0,
                    on_pareto_front: false,
                }
            })
            .collect();
        let perf = self.performances();
        let front = if normalized.len() == 1 {
            pareto_front(&perf, &normalized[0].3)?
        } else {
            let costs: Vec<&[f64]> = normalized.iter().map(|(_, _, _, r)| r.as_slice()).collect();
            pareto_front_multi(&perf, &costs)?
        };
        for i in front {
            models[i].on_pareto_front = true;
        }
        let mut order: Vec<usize> = (0..models.len()).collect();
        let keys: Vec<Vec<f64>> = (0..models.len())
            .map(|i| normalized.iter().map(|(_, _, _, r)| r[i]).collect())
            .collect();
        order.sort_by(|&a, &b| ranking_order(&models[a], &models[b], &keys[a], &keys[b]));
        for (rank, &i) in order.iter().enumerate() {
            models[i].rank = rank + 1;
        }
        Ok(PoolScores {
            pool: self.label.clone(),
            weight,
            resources: summaries,
            models,
            notes,
        })
    }
}

/// Best first: higher PePR, then higher P, then lower R, then lower raw costs
/// (lexicographic), then name. This makes the maximizer unique and always on
/// the Pareto front, even among ties.
fn ranking_order(a: &ScoredModel, b: &ScoredModel, ka: &[f64], kb: &[f64]) -> Ordering {
    b.pepr
        .total_cmp(&a.pepr)
        .then(b.performance.total_cmp(&a.performance))
        .then(a.resource.total_cmp(&b.resource))
        .then_with(|| {
            ka.iter()
                .zip(kb)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| a.name.cmp(&b.name))
}

/// How a resource was normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizationMethod {
    /// The paper's min-max over the pool.
    PoolMinMax,
    /// **Extension**: fixed reference bounds, clamped.
    ReferenceBounds,
}

/// How one resource entered the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceSummary {
    /// Resource name.
    pub name: String,
    /// Share in the combined `R` (1 for a single resource).
    pub share: f64,
    /// Normalization used.
    pub method: NormalizationMethod,
    /// Lower bound used (pool min or reference min).
    pub min: f64,
    /// Upper bound used (pool max or reference max).
    pub max: f64,
    /// All values equal over the pool, so `R = 0` was used.
    pub degenerate: bool,
    /// Values clamped into the reference bounds.
    pub clamped: usize,
}

/// One model's score within its pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredModel {
    /// Model name.
    pub name: String,
    /// Performance `P`.
    pub performance: f64,
    /// Raw costs of the scored resources.
    pub raw: BTreeMap<String, f64>,
    /// Normalized costs `R_k` of the scored resources (`normalised` in files of earlier
    /// versions is read too).
    #[serde(alias = "normalised")]
    pub normalized: BTreeMap<String, f64>,
    /// The (combined) normalized cost `R` in `[0, 1]`.
    pub resource: f64,
    /// The score `P / (1 + w R)`.
    pub pepr: f64,
    /// 1-based rank, 1 = best (ties broken by higher P, lower R, lower raw
    /// costs, then name).
    pub rank: usize,
    /// Whether no other model has P at least as high and every scored raw
    /// cost at least as low (one strictly).
    pub on_pareto_front: bool,
}

/// The scores of a pool, in the pool's run order.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::{ModelRun, Pool};
///
/// let pool = Pool::new("p", vec![
///     ModelRun::new("a", 0.6).with_resource("t", 10.0),
///     ModelRun::new("b", 0.9).with_resource("t", 20.0),
///     ModelRun::new("c", 0.5).with_resource("t", 15.0),
/// ])?;
/// let s = pool.pepr("t")?;
/// let names: Vec<&str> = s.ranking().iter().map(|m| m.name.as_str()).collect();
/// assert_eq!(names, ["a", "b", "c"]);
/// assert_eq!(s.pareto_front().len(), 2); // c is dominated by a
/// println!("{}", serde_json::to_string(&s).unwrap());
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolScores {
    /// The pool's label.
    pub pool: String,
    /// The weight `w` (1 = paper's PePR).
    pub weight: f64,
    /// How each resource was normalized.
    pub resources: Vec<ResourceSummary>,
    /// Every model's score, in pool order.
    pub models: Vec<ScoredModel>,
    /// Human-readable notes (degenerate pool, clamping).
    pub notes: Vec<String>,
}

impl PoolScores {
    /// The PePR maximizer (rank 1); always on the Pareto front.
    pub fn best(&self) -> &ScoredModel {
        self.models
            .iter()
            .find(|m| m.rank == 1)
            .unwrap_or(&self.models[0])
    }

    /// The models sorted best first.
    pub fn ranking(&self) -> Vec<&ScoredModel> {
        let mut v: Vec<&ScoredModel> = self.models.iter().collect();
        v.sort_by_key(|m| m.rank);
        v
    }

    /// The models on the Pareto front, in pool order.
    pub fn pareto_front(&self) -> Vec<&ScoredModel> {
        self.models.iter().filter(|m| m.on_pareto_front).collect()
    }

    /// The model named `name`.
    pub fn get(&self, name: &str) -> Option<&ScoredModel> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The scores in pool order.
    pub fn pepr_values(&self) -> Vec<f64> {
        self.models.iter().map(|m| m.pepr).collect()
    }

    /// `true` if any resource was degenerate over the pool (R set to 0).
    pub fn is_degenerate(&self) -> bool {
        self.resources.iter().any(|r| r.degenerate)
    }
}
