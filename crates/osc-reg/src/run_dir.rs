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
use smallscale_pepr_score::Measurement;
use smallscale_quant_core::BitWidth;

use crate::classification_metrics::ClassificationMetrics;
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

/// Whether `dir` holds a run that finished (its `state.json` says so); `false` for a directory that
/// does not exist, holds no run or an unfinished one.
///
/// # Errors
///
/// [`OscRegError::File`] when `state.json` exists but cannot be read or parsed.
pub fn run_finished(dir: &Path) -> Result<bool> {
    if !dir.join(STATE_FILE).exists() {
        return Ok(false);
    }
    let state = crate::checkpointing::RunCheckpoints::open(dir)?.load_state()?;
    Ok(state.is_some_and(|s| s.finished))
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
    /// The checkpoint whose body initialized the model (fine-tuning), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<std::path::PathBuf>,
}

impl RunConfig {
    /// The parts that must agree for a run directory to be resumed.
    pub fn identity(&self) -> serde_json::Value {
        let mut identity = serde_json::json!({
            "model": self.model,
            "train": self.train,
            "exclude": self.exclude,
            "data": self.data,
        });
        if let (Some(path), Some(map)) = (&self.pretrained, identity.as_object_mut()) {
            map.insert("pretrained".into(), serde_json::json!(path));
        }
        identity
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
    /// Balanced accuracy, per-class recall and (two classes) AUC with quantization off (absent
    /// in files of older versions).
    #[serde(default)]
    pub fp_metrics: Option<ClassificationMetrics>,
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
    /// Time, CPU time, memory, energy and CO2 of the training, each labelled measured or
    /// estimated (absent in files of older versions).
    #[serde(default)]
    pub resources: Option<Measurement>,
}

/// Writes `resources.json` of a metered run directory and returns the figures to report. The
/// resources of a training run across calls: a run finished earlier keeps the measurement saved
/// with it; a finished run continued with more epochs adds this call's measurement to the saved one;
/// a run resumed after an interruption is metered only for the part that ran in this call (said in
/// its notes); a fresh run is saved for later calls.
pub fn record_run_resources(
    run_dir: &Path,
    training: &TrainOutcome,
    measured: Measurement,
) -> Result<Measurement> {
    let path = run_dir.join(RESOURCES_FILE);
    let saved = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Measurement>(&bytes).ok());
    let mut m = measured;
    match (training.already_finished, training.resumed_at_epoch, saved) {
        (true, _, Some(saved)) => return Ok(saved),
        (true, _, None) => m.notes.push("the run had finished earlier and its measurement was not found: these figures cover only loading it".into()),
        (false, Some(epoch), Some(saved)) => {
            m = added(&saved, m);
            m.notes.push(format!(
                "the run was continued at epoch {} after it had finished: these figures add this call's training to the measurement saved with the earlier epochs",
                epoch + 1
            ));
        }
        (false, Some(epoch), None) => m.notes.push(format!(
            "the run was resumed at epoch {}: these figures cover only the epochs trained after the interruption",
            epoch + 1
        )),
        (false, None, _) => {}
    }
    write_json(&path, &m)?;
    Ok(m)
}

/// `later` with the time, energy and CO2 of `earlier` added (peak memory: the larger); a figure is
/// estimated when either part was.
fn added(earlier: &Measurement, mut later: Measurement) -> Measurement {
    use smallscale_pepr_score::{Figure, Provenance};
    let add = |a: &Figure, b: &mut Figure| {
        b.value += a.value;
        if a.provenance == Provenance::Estimated {
            b.provenance = Provenance::Estimated;
        }
    };
    add(&earlier.wall_time, &mut later.wall_time);
    add(&earlier.cpu_time, &mut later.cpu_time);
    add(&earlier.energy, &mut later.energy);
    add(&earlier.co2, &mut later.co2);
    if let (Some(a), Some(b)) = (&earlier.peak_memory, &mut later.peak_memory)
        && a.value > b.value
    {
        *b = a.clone();
    }
    for c in &mut later.energy_components {
        if let Some(e) = earlier.energy_components.iter().find(|e| e.name == c.name) {
            c.joules += e.joules;
        }
    }
    later
}
