//! One training run of a reproduction as a job of a sweep: everything it needs, resolved and
//! serializable, so that a job list holds it and any machine runs it.

use std::path::Path;

use candle_core::Device;
use serde::{Deserialize, Serialize};
use smallscale_datasets::DataSource;
use smallscale_pepr_score::MeterConfig;

use crate::data_description::SplitSpec;
use crate::errors::{OscRegError, Result};
use crate::reproduce::{
    ReproduceParams, ReproduceValidParams, RunResult, RunSelection, reproduce_selected,
};

/// One training run of a reproduction (`fp`, `qat-b3`, `reg-b3-l1`, ...) at one seed.
///
/// ```
/// use smallscale_datasets::DataSource;
/// use smallscale_osc_reg::{ReproduceJob, ReproduceParams, SplitSpec};
/// let params = ReproduceParams::default().check()?;
/// let jobs = ReproduceJob::all(&params, &DataSource::EmbeddedFashionMnist, &SplitSpec::default())?;
/// let labels: Vec<&str> = jobs.iter().map(|j| j.label.as_str()).collect();
/// assert_eq!(labels, ["fp", "qat-b2", "qat-b3", "qat-b4", "reg-b2-l1", "reg-b3-l1", "reg-b4-l1"]);
/// // A job is data: it goes into a job list and comes back the same.
/// let line = serde_json::to_string(&jobs[1])?;
/// assert_eq!(serde_json::from_str::<ReproduceJob>(&line)?, jobs[1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReproduceJob {
    /// The reproduction's settings, at the job's seed.
    pub params: ReproduceParams,
    /// How the run is metered.
    pub meter: MeterConfig,
    /// The data.
    pub source: DataSource,
    /// Its split.
    pub split: SplitSpec,
    /// The run's label among the reproduction's runs.
    pub label: String,
}

impl ReproduceJob {
    /// One job per training run of the reproduction `params` at its seed, in the order
    /// [`crate::reproduce`] trains them.
    ///
    /// # Errors
    ///
    /// Settings whose runs cannot be listed (a lambda the regularizer refuses).
    pub fn all(
        params: &ReproduceValidParams,
        source: &DataSource,
        split: &SplitSpec,
    ) -> Result<Vec<Self>> {
        Ok(params
            .params()
            .methods()?
            .iter()
            .map(|m| Self {
                params: params.params().clone(),
                meter: params.meter().clone(),
                source: source.clone(),
                split: *split,
                label: m.label(),
            })
            .collect())
    }

    /// The reproduction's settings, checked.
    ///
    /// # Errors
    ///
    /// As [`ReproduceParams::check`], and a label that is none of the reproduction's runs.
    pub fn valid_params(&self) -> Result<ReproduceValidParams> {
        let valid = self.params.clone().check()?.with_meter(self.meter.clone());
        if !valid
            .params()
            .methods()?
            .iter()
            .any(|m| m.label() == self.label)
        {
            return Err(OscRegError::InvalidParameter {
                parameter: "label",
                reason: format!(
                    "{:?} is none of the reproduction's runs: plan the sweep again",
                    self.label
                ),
            });
        }
        Ok(valid)
    }

    /// Trains the run into `out_dir/runs/LABEL` (or finds it finished there, or resumes it), and
    /// evaluates it as [`crate::reproduce`] does: `out_dir` is the reproduction's output
    /// directory, which a merge reads with [`RunSelection::FinishedAmong`].
    ///
    /// # Errors
    ///
    /// As [`crate::reproduce`].
    pub fn run(
        &self,
        device: &Device,
        out_dir: &Path,
        progress: bool,
        log: impl FnMut(&str),
    ) -> Result<RunResult> {
        let params = self.valid_params()?;
        let results = reproduce_selected(
            &params,
            &self.source,
            &self.split,
            device,
            out_dir,
            &RunSelection::Only(vec![self.label.clone()]),
            progress,
            log,
        )?;
        results
            .runs
            .into_iter()
            .find(|r| r.label == self.label)
            .ok_or_else(|| OscRegError::InvalidParameter {
                parameter: "label",
                reason: format!("the run {:?} was not trained", self.label),
            })
    }
}
