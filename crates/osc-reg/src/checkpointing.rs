//! What a run directory holds while a run trains, and in which order it is written so that a
//! crash at any point resumes to the same result: per epoch the model and optimizer checkpoints,
//! then `state.json` and `metrics.jsonl` (the commit point), then `best.safetensors` (a copy of
//! the committed epoch's checkpoint when it is the best), then the previous epoch's files are
//! removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use smallscale_io::{is_atomic_temp_file, write_atomic};
use smallscale_models::{Model, Optimizer};
use smallscale_quant_core::{NamedTensors, StoredTensor, read_safetensors, write_safetensors};

use crate::early_stopping::EarlyStopping;
use crate::errors::{OscRegError, Result};
use crate::run_dir::{BEST_FILE, METRICS_FILE, STATE_FILE, epoch_file, optimizer_file};
use crate::trainer::EpochRecord;

/// The prefix of the names under which a method keeps its state (weight freezing's tracker and
/// frozen weights) in the optimizer's checkpoint.
pub(crate) const METHOD_STATE_PREFIX: &str = "method/";

/// On-disk progress of a run (`state.json`, written atomically after every epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunState {
    pub(crate) config: serde_json::Value,
    pub(crate) epochs_done: usize,
    #[serde(flatten)]
    pub(crate) early_stopping: EarlyStopping,
    pub(crate) finished: bool,
    pub(crate) stopped_early: bool,
    pub(crate) history: Vec<EpochRecord>,
}

impl RunState {
    /// A run that has trained nothing yet.
    pub(crate) fn new(config: serde_json::Value, patience: Option<usize>) -> Self {
        Self {
            config,
            epochs_done: 0,
            early_stopping: EarlyStopping::new(patience),
            finished: false,
            stopped_early: false,
            history: Vec::new(),
        }
    }
}

/// The checkpoint files of one run directory.
#[derive(Debug, Clone)]
pub(crate) struct RunCheckpoints {
    dir: PathBuf,
}

pub(crate) fn file_err(path: &Path, reason: String) -> OscRegError {
    OscRegError::File {
        path: path.to_path_buf(),
        reason,
    }
}

impl RunCheckpoints {
    /// Opens (and creates) the run directory.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| file_err(dir, format!("cannot create the run directory ({e})")))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The saved progress, if the directory holds a run.
    pub(crate) fn load_state(&self) -> Result<Option<RunState>> {
        let path = self.dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                file_err(
                    &path,
                    format!("cannot parse the run state ({e}); delete the directory to start over"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_err(&path, format!("cannot read the run state ({e})"))),
        }
    }

    /// Removes what an interrupted run can leave behind: temporary files of atomic writes, and
    /// epoch checkpoints other than those of the last committed epoch, which a kill between
    /// writing a checkpoint and removing the previous one leaves (about 135 MB each for
    /// ResNet-18). Then completes a commit cut short before `best.safetensors` was copied.
    pub(crate) fn clean_up_after_interruption(&self, state: &RunState) -> Result<()> {
        let last = state.epochs_done.checked_sub(1);
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            let kept = last.map(|e| [epoch_file(e), optimizer_file(e)]);
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_epoch_file = name.starts_with("epoch-") && name.ends_with(".safetensors");
                let stale = is_atomic_temp_file(&name)
                    || (is_epoch_file && !kept.as_ref().is_some_and(|k| k.contains(&name)));
                if stale {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        match last {
            Some(e)
                if state.early_stopping.best_epoch() == Some(e)
                    && self.dir.join(epoch_file(e)).is_file() =>
            {
                self.copy_to_best(e)
            }
            _ => Ok(()),
        }
    }

    /// Loads the model and optimizer of the last committed epoch; returns the method's state saved
    /// with the optimizer (the tensors named `method/...`; empty for methods without state).
    pub(crate) fn resume(
        &self,
        model: &dyn Model,
        optimizer: &mut Optimizer,
        epoch: usize,
    ) -> Result<BTreeMap<String, Tensor>> {
        model.load_checkpoint(&self.dir.join(epoch_file(epoch)))?;
        let opt = tensors_of(&read_safetensors(self.dir.join(optimizer_file(epoch)))?);
        optimizer.load_state(&opt)?;
        Ok(opt
            .into_iter()
            .filter(|(name, _)| name.starts_with(METHOD_STATE_PREFIX))
            .collect())
    }

    /// Loads the selected model.
    pub(crate) fn load_best(&self, model: &dyn Model) -> Result<()> {
        Ok(model.load_checkpoint(&self.dir.join(BEST_FILE))?)
    }

    /// Writes one finished epoch, in the order described in the module documentation. The
    /// method's state (`method_state`, names starting with `method/`) is saved in the optimizer's
    /// file.
    pub(crate) fn commit_epoch(
        &self,
        model: &dyn Model,
        optimizer: &Optimizer,
        method_state: BTreeMap<String, Tensor>,
        state: &RunState,
        epoch: usize,
        is_best: bool,
    ) -> Result<()> {
        let dir = &self.dir;
        model.save_checkpoint(&dir.join(epoch_file(epoch)))?;
        let mut opt = NamedTensors::default();
        for (name, t) in optimizer.state()? {
            opt.tensors.insert(name, StoredTensor::Tensor(t));
        }
        for (name, t) in method_state {
            debug_assert!(name.starts_with(METHOD_STATE_PREFIX));
            opt.tensors.insert(name, StoredTensor::Tensor(t));
        }
        write_safetensors(dir.join(optimizer_file(epoch)), &opt)?;
        write_atomic(dir.join(STATE_FILE), &serde_json::to_vec_pretty(state)?)?;
        let mut lines = String::new();
        for r in &state.history {
            lines.push_str(&serde_json::to_string(r)?);
            lines.push('\n');
        }
        write_atomic(dir.join(METRICS_FILE), lines.as_bytes())?;
        if is_best {
            self.copy_to_best(epoch)?;
        }
        if epoch > 0 {
            let _ = std::fs::remove_file(dir.join(epoch_file(epoch - 1)));
            let _ = std::fs::remove_file(dir.join(optimizer_file(epoch - 1)));
        }
        Ok(())
    }

    /// Copies epoch `epoch`'s model checkpoint to `best.safetensors`, atomically.
    fn copy_to_best(&self, epoch: usize) -> Result<()> {
        let source = self.dir.join(epoch_file(epoch));
        let bytes = std::fs::read(&source)
            .map_err(|e| file_err(&source, format!("cannot read the epoch checkpoint ({e})")))?;
        write_atomic(self.dir.join(BEST_FILE), &bytes)?;
        Ok(())
    }
}

fn tensors_of(file: &NamedTensors) -> BTreeMap<String, Tensor> {
    file.tensors
        .iter()
        .filter_map(|(n, t)| match t {
            StoredTensor::Tensor(t) => Some((n.clone(), t.clone())),
            StoredTensor::Raw(_) => None,
        })
        .collect()
}
