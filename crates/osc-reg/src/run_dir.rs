//! The run directory: the one layout every command that trains writes, and the files in it.
//!
//! ```text
//! DIR/
//!   config.json       RunConfig: model, training parameters, exclude list, data (source,
//!                     split, caps, shape, classes, sizes, normalization), device
//!   best.safetensors  the selected model (the model configuration in its metadata)
//!   state.json        the trainer's progress (epochs done, best epoch, history, finished)
//!   metrics.jsonl     one record per epoch
//!   epoch-E.safetensors, epoch-E-optimizer.safetensors
//!                     the last epoch's model and optimizer state, to resume from (E 0-based)
//!   result.json       TrainResult (`smallscale train`)
//!   resources.json    the run's measured resources (`smallscale reproduce`)
//! ```
//!
//! Everything `eval` needs to evaluate a checkpoint on the run's own data, split and
//! normalization is in `config.json`.

use std::path::Path;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use smallscale_io::write_atomic;
use smallscale_models::ModelConfig;
use smallscale_quant_core::BitWidth;

use crate::config_diff::{config_differences, listed};
use crate::data_description::DataDescription;
use crate::environment::RunEnvironment;
use crate::errors::{OscRegError, Result};
use crate::hyperparams::TrainParams;
use crate::trainer::TrainOutcome;

/// Name of the run configuration file.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the result file of `smallscale train`.
pub const RESULT_FILE: &str = "result.json";
/// Name of the best checkpoint (written by the trainer).
pub const BEST_FILE: &str = "best.safetensors";
/// Name of the trainer's progress file.
pub const STATE_FILE: &str = "state.json";
/// Name of the per-epoch metrics file.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Name of the resources file of a metered run.
pub const RESOURCES_FILE: &str = "resources.json";

/// The checkpoint of epoch `epoch` (0-based).
pub(crate) fn epoch_file(epoch: usize) -> String {
    format!("epoch-{epoch}.safetensors")
}

/// The optimizer state of epoch `epoch` (0-based).
pub(crate) fn optimizer_file(epoch: usize) -> String {
    format!("epoch-{epoch}-optimizer.safetensors")
}

fn file_error(path: &Path, reason: String) -> OscRegError {
    OscRegError::File {
        path: path.to_path_buf(),
        reason,
    }
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| file_error(path, format!("cannot serialize ({e})")))?;
    Ok(write_atomic(path, &bytes)?)
}

/// Reads a JSON file of a run directory, if it exists.
pub fn read_json_if_exists<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            file_error(
                path,
                format!(
                    "not a valid run file ({e}); delete it (or the run directory) to start over"
                ),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(path, format!("cannot read it ({e})"))),
    }
}

/// `config.json`: the model, training and data configuration of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The model configuration (also stored in the checkpoints' metadata).
    pub model: ModelConfig,
    /// The training parameters (method, optimizer, schedule, epochs, ...).
    pub train: TrainParams,
    /// Exclude globs of the quantization selector (which weights are never quantized).
    pub exclude: Vec<String>,
    /// The data set, its split and normalization.
    pub data: DataDescription,
    /// For FP runs of `smallscale train`: the bit-width at which the test accuracy after PTQ is
    /// reported.
    pub ptq_bits: Option<BitWidth>,
    /// The device the run was started on (`cpu`, `cuda`; not part of the identity of a run).
    pub device: String,
}

impl RunConfig {
    /// The parts that must agree for a run directory to be resumed.
    pub fn identity(&self) -> serde_json::Value {
        serde_json::json!({
            "model": self.model,
            "train": self.train,
            "exclude": self.exclude,
            "data": self.data,
        })
    }

    /// Reads `DIR/config.json`, if any.
    ///
    /// # Errors
    ///
    /// [`OscRegError::File`] when it exists but cannot be read or parsed.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        read_json_if_exists(&dir.join(CONFIG_FILE))
    }

    /// Fails if `dir` holds a run with another configuration (listing what differs); otherwise
    /// creates `dir`, and writes `config.json` if the directory held no run. More epochs are not
    /// another configuration: they may continue the run, which the trainer decides; call
    /// [`RunConfig::save`] once it has trained, so that `config.json` always describes the run that
    /// `state.json` holds.
    ///
    /// # Errors
    ///
    /// [`OscRegError::File`].
    pub fn claim(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| file_error(dir, format!("cannot create the run directory ({e})")))?;
        if let Some(previous) = Self::read(dir)? {
            let differences: Vec<_> = config_differences(&previous.identity(), &self.identity())
                .into_iter()
                .filter(|d| !d.raises_epochs())
                .collect();
            if !differences.is_empty() {
                return Err(file_error(
                    dir,
                    format!(
                        "holds a run with a different configuration (differs in: {}): choose another output directory, or delete this one to start over",
                        listed(&differences, 8)
                    ),
                ));
            }
            return Ok(());
        }
        self.save(dir)
    }

    /// Writes `DIR/config.json`.
    ///
    /// # Errors
    ///
    /// [`OscRegError::File`] or [`OscRegError::Io`].
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(CONFIG_FILE), self)
    }
}

/// How a call related to what the run directory held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Trained from the first epoch.
    Trained,
    /// Continued an interrupted (or lengthened) run.
    Resumed,
    /// The directory held a finished run: nothing was trained, the best checkpoint was evaluated.
    AlreadyFinished,
}

impl RunStatus {
    /// What the trainer's outcome says the call did.
    pub fn of(outcome: &TrainOutcome) -> Self {
        if outcome.already_finished {
            Self::AlreadyFinished
        } else if outcome.resumed_at_epoch.is_some() {
            Self::Resumed
        } else {
            Self::Trained
        }
    }
}

/// Test accuracies of the selected model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestAccuracy {
    /// With quantization off.
    pub fp: f64,
    /// The bit-width of `quantized` (the target bit, or the PTQ bit of an FP run).
    pub bits: Option<BitWidth>,
    /// After PTQ at `bits` with the reference quantizer.
    pub quantized: Option<f64>,
}

/// `result.json` of `smallscale train`: the outcome of a run and the test accuracies of its
/// selected model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainResult {
    /// Method label (`fp`, `qat-b4`, `reg-b4-l1`).
    pub method: String,
    /// Architecture name.
    pub model: String,
    /// Number of trainable parameters.
    pub parameters: usize,
    /// Trained, resumed or already finished.
    pub status: RunStatus,
    /// Test accuracy at full precision and at the target bit.
    pub test: TestAccuracy,
    /// The trainer's outcome: every epoch, the selected epoch, early stopping.
    pub outcome: TrainOutcome,
    /// The command, version, commit, thread count and machine (absent in files of older versions).
    #[serde(default)]
    pub environment: Option<RunEnvironment>,
}
