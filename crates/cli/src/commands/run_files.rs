//! The files the CLI adds to a training run directory: `config.json` (everything needed to rebuild
//! and re-evaluate the run) and `result.json` (the outcome and the test accuracies). The trainer
//! itself writes `best.safetensors`, `state.json`, `metrics.jsonl` and the last epoch's checkpoint.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use smallscale_models::ModelConfig;
use smallscale_osc_reg::{TrainOutcome, TrainParams, config_differences};

use super::experiment_args::{DataDescription, DeviceKind, read_json_if_exists};

/// Name of the run configuration file.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the result file.
pub const RESULT_FILE: &str = "result.json";
/// Name of the best checkpoint (written by the trainer).
pub const BEST_FILE: &str = "best.safetensors";
/// Name of the trainer's progress file.
pub const STATE_FILE: &str = "state.json";

/// `config.json`: the model, training and data configuration of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The model configuration (also stored in the checkpoints' metadata).
    pub model: ModelConfig,
    /// The training parameters (method, optimizer, schedule, epochs, ...).
    pub train: TrainParams,
    /// Exclude globs of the quantization selector (which weights are never quantized).
    pub exclude: Vec<String>,
    /// The data set, its split and normalisation.
    pub data: DataDescription,
    /// For FP runs: the bit-width at which the test accuracy after PTQ is reported.
    pub ptq_bits: Option<u32>,
    /// The device the run was started on (not part of the identity of a run).
    pub device: DeviceKind,
}

impl RunConfig {
    /// The parts that must agree for a run directory to be resumed.
    fn identity(&self) -> Result<Value> {
        Ok(serde_json::json!({
            "model": self.model,
            "train": self.train,
            "exclude": self.exclude,
            "data": self.data,
        }))
    }

    /// Reads `DIR/config.json`, if any.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        read_json_if_exists(&dir.join(CONFIG_FILE))
    }

    /// Fails if `dir` holds a run with another configuration; otherwise writes `config.json`.
    pub fn claim(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the run directory {}", dir.display()))?;
        if let Some(previous) = Self::read(dir)? {
            // More epochs continue the run (the trainer decides whether that is possible).
            let differences: Vec<String> =
                config_differences(&previous.identity()?, &self.identity()?)
                    .iter()
                    .filter(|d| !d.raises_epochs())
                    .map(ToString::to_string)
                    .collect();
            if !differences.is_empty() {
                bail!(
                    "{} holds a run with a different configuration (differs in: {}): choose another \
                     --out directory, or delete this one to start over",
                    dir.display(),
                    differences.join(", ")
                );
            }
        }
        write_json(&dir.join(CONFIG_FILE), self)
    }
}

/// How this invocation related to what the run directory held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Trained from the first epoch.
    Trained,
    /// Continued an interrupted run.
    Resumed,
    /// The directory held a finished run: nothing was trained, the best checkpoint was evaluated.
    AlreadyFinished,
}

impl RunStatus {
    /// What the trainer's outcome says this call did.
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
    /// The bit-width of `quantized` (the target bit, or `--bits` of an FP run).
    pub bits: Option<u32>,
    /// After PTQ at `bits` with the reference quantizer.
    pub quantized: Option<f64>,
}

/// `result.json`: the outcome of a run and the test accuracies of its selected model.
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
    pub environment: Option<smallscale_osc_reg::RunEnvironment>,
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    smallscale_io::write_atomic(path, &bytes)?;
    Ok(())
}
