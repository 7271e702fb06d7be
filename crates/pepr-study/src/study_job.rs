//! One model of a study as a job of a sweep: its pretraining and every experiment, with the
//! study's settings resolved and serializable.

use std::path::Path;

use candle_core::Device;
use serde::{Deserialize, Serialize};
use smallscale_osc_reg::RunEnvironment;
use smallscale_pepr_score::MeterConfig;

use crate::errors::{Result, StudyError};
use crate::hyperparams::{StudyParams, StudyValidParams};
use crate::study::{StudyResults, StudySelection, run_study_selected};

/// One model of a study's pool: its pretraining, then every experiment (from scratch and
/// fine-tuned, on every fraction), in the study directory the whole study uses. The models are
/// independent, so a sweep runs them as separate jobs, and a merge reads them all with
/// [`StudySelection::FinishedOf`].
///
/// ```
/// use smallscale_pepr_study::{StudyJob, StudyParams, StudyPreset};
/// let params = StudyParams::preset(StudyPreset::Quick).check()?;
/// let jobs = StudyJob::all(&params);
/// assert_eq!(jobs.len(), params.params().pool.models.len());
/// assert_eq!(jobs[0].valid_params()?.params(), params.params());
/// # Ok::<(), smallscale_pepr_study::StudyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyJob {
    /// The study's settings.
    pub params: StudyParams,
    /// How its runs are metered.
    pub meter: MeterConfig,
    /// The model's name in the pool.
    pub model: String,
}

impl StudyJob {
    /// One job per model of the pool, in the pool's order.
    pub fn all(params: &StudyValidParams) -> Vec<Self> {
        params
            .params()
            .pool
            .models
            .iter()
            .map(|m| Self {
                params: params.params().clone(),
                meter: params.meter().clone(),
                model: m.name.clone(),
            })
            .collect()
    }

    /// The study's settings, checked.
    ///
    /// # Errors
    ///
    /// As [`StudyParams::check`], and a model that is not in the pool.
    pub fn valid_params(&self) -> Result<StudyValidParams> {
        let valid = self.params.clone().check()?.with_meter(self.meter.clone());
        if !valid
            .params()
            .pool
            .models
            .iter()
            .any(|m| m.name == self.model)
        {
            return Err(StudyError::InvalidParameter {
                parameter: "model",
                reason: format!(
                    "{:?} is not a model of the pool: plan the sweep again",
                    self.model
                ),
            });
        }
        Ok(valid)
    }

    /// Pretrains the model and trains it on every experiment in the study directory `out_dir`
    /// (finished runs are found, an interrupted one resumes); the returned results hold this
    /// model's runs only.
    ///
    /// # Errors
    ///
    /// As [`crate::run_study`].
    pub fn run(
        &self,
        out_dir: &Path,
        device: &Device,
        environment: RunEnvironment,
        progress: bool,
        log: impl FnMut(&str),
    ) -> Result<StudyResults> {
        run_study_selected(
            &self.valid_params()?,
            out_dir,
            device,
            environment,
            &StudySelection::Models(vec![self.model.clone()]),
            progress,
            log,
        )
    }
}
