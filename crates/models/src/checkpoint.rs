//! safetensors checkpoints of parameters and running statistics.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Tensor;
use smallscale_quant_core::{
    NamedTensors, QuantError, QuantizedCheckpoint, StoredTensor, is_integer_export,
    read_safetensors, write_safetensors,
};

use crate::errors::{ModelError, Result, TensorMismatch};
use crate::model::Model;

/// A checkpoint file's error, naming the path once.
fn file_error(path: &Path, e: QuantError) -> ModelError {
    let reason = match e {
        QuantError::File { reason, .. } => reason,
        other => other.to_string(),
    };
    ModelError::CheckpointFile {
        path: path.to_path_buf(),
        reason,
    }
}

fn read_file(path: &Path) -> Result<NamedTensors> {
    read_safetensors(path).map_err(|e| file_error(path, e))
}

/// Metadata key holding the model's configuration as JSON.
pub const CONFIG_METADATA_KEY: &str = "smallscale.model_config";

/// Every tensor of the checkpoint: trainable parameters and buffers, by PyTorch-style name.
pub fn state_dict<M: Model + ?Sized>(model: &M) -> BTreeMap<String, Tensor> {
    let mut all: BTreeMap<String, Tensor> = model
        .named_parameters()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    all.extend(model.buffers().snapshot());
    all
}

/// Saves parameters and buffers (running statistics included) to a safetensors file, atomically
/// (temporary file + rename), with the configuration as JSON in the metadata
/// ([`CONFIG_METADATA_KEY`]).
///
/// ```
/// use candle_core::Device;
/// use smallscale_models::{build_model, load_checkpoint, save_checkpoint, ModelConfig, ModelContext};
/// let config = ModelConfig::default_for("mlp")?;
/// let model = build_model(&config, &ModelContext::new(Device::Cpu).with_seed(1))?;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("mlp.safetensors");
/// save_checkpoint(model.as_ref(), &path)?;
/// let fresh = build_model(&config, &ModelContext::new(Device::Cpu).with_seed(2))?;
/// load_checkpoint(fresh.as_ref(), &path)?;
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn save_checkpoint<M: Model + ?Sized>(model: &M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut named = NamedTensors::default();
    for (name, t) in state_dict(model) {
        let t = t.to_device(&candle_core::Device::Cpu)?;
        named.tensors.insert(name, StoredTensor::Tensor(t));
    }
    let config =
        serde_json::to_string(&model.config()).map_err(|e| ModelError::CheckpointFile {
            path: path.to_path_buf(),
            reason: format!("cannot serialize the model configuration ({e})"),
        })?;
    named
        .metadata
        .insert(CONFIG_METADATA_KEY.to_string(), config);
    write_safetensors(path, &named).map_err(|e| ModelError::CheckpointFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Loads a checkpoint written by [`save_checkpoint`] (or any safetensors file with the same names)
/// into `model`: parameters are set in place (optimizers holding the variables see the new values)
/// and buffers replaced.
///
/// Every name and shape is checked first; on any mismatch the model is left unchanged and the error
/// lists the missing and unexpected names and each tensor whose shape or dtype differs (expected
/// vs found). An integer-code export of a checkpoint (`smallscale quantize --export-int`,
/// [`QuantizedCheckpoint`]) is loaded dequantized: the weights are its fake-quantized values.
pub fn load_checkpoint<M: Model + ?Sized>(model: &M, path: impl AsRef<Path>) -> Result<()> {
    load_except(model, path.as_ref(), |_| false).map(|_| ())
}

/// What [`load_pretrained`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PretrainedLoad {
    /// Tensors taken from the checkpoint (parameters and buffers).
    pub loaded: usize,
    /// Tensors of the new head, left at their initialization.
    pub fresh: Vec<String>,
}

/// Loads a pretrained checkpoint into `model` for fine-tuning: every tensor except those under
/// `head` (the classifier, e.g. [`ModelConfig::head_prefix`](crate::ModelConfig::head_prefix)) is
/// taken from the checkpoint, whose head may have another number of classes; the head keeps its
/// initialization. Every other name must be present with the same shape, as in
/// [`load_checkpoint`], or nothing is loaded and the error lists what differs.
///
/// ```no_run
/// use candle_core::Device;
/// use smallscale_models::{ModelConfig, ModelContext, build_model, load_pretrained};
/// let config = ModelConfig::default_for("small-cnn")?.with_classes(2);
/// let model = build_model(&config, &ModelContext::new(Device::Cpu))?;
/// let report = load_pretrained(model.as_ref(), "pretrained-fashion.safetensors", &config.head_prefix())?;
/// println!("{} tensors loaded, fresh: {:?}", report.loaded, report.fresh);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn load_pretrained<M: Model + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
    head: &str,
) -> Result<PretrainedLoad> {
    let prefix = format!("{head}.");
    load_except(model, path.as_ref(), |name| name.starts_with(&prefix))
}

/// Loads every tensor of `model` but those `fresh` selects (which the file may lack or hold
/// with other shapes).
fn load_except<M: Model + ?Sized>(
    model: &M,
    path: &Path,
    fresh: impl Fn(&str) -> bool,
) -> Result<PretrainedLoad> {
    let file = read_file(path)?;
    let file = if is_integer_export(&file) {
        // An integer-code export (`smallscale quantize --export-int`): load it dequantized.
        let codes = QuantizedCheckpoint::from_file(file, path).map_err(|e| file_error(path, e))?;
        let tensors = codes
            .dequantize(&candle_core::Device::Cpu)
            .map_err(|e| file_error(path, e))?
            .into_iter()
            .map(|(name, t)| (name, StoredTensor::Tensor(t)))
            .collect();
        NamedTensors {
            tensors,
            metadata: codes.metadata.into_iter().collect(),
        }
    } else {
        file
    };
    let mut expected = state_dict(model);
    let fresh_names: Vec<String> = expected.keys().filter(|n| fresh(n)).cloned().collect();
    expected.retain(|n, _| !fresh(n));
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    let mut loaded = Vec::with_capacity(expected.len());
    for (name, want) in &expected {
        match file.tensors.get(name) {
            None => missing.push(name.clone()),
            Some(StoredTensor::Tensor(found)) => {
                if found.dims() != want.dims() || found.dtype() != want.dtype() {
                    mismatched.push(mismatch(name, want, found.dims(), found.dtype().as_str()));
                } else {
                    loaded.push((name.clone(), found.clone()));
                }
            }
            Some(StoredTensor::Raw(raw)) => mismatched.push(mismatch(
                name,
                want,
                &raw.shape,
                &format!("{:?}", raw.dtype).to_lowercase(),
            )),
        }
    }
    let unexpected: Vec<String> = file
        .tensors
        .keys()
        .filter(|n| !expected.contains_key(*n) && !fresh(n))
        .cloned()
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
        return Err(ModelError::CheckpointMismatch {
            path: path.to_path_buf(),
            missing,
            unexpected,
            mismatched,
        });
    }
    let params: BTreeMap<String, candle_core::Var> = model.named_parameters().into_iter().collect();
    let device = model.context().device().clone();
    let count = loaded.len();
    for (name, value) in loaded {
        let value = value.to_device(&device)?;
        match params.get(&name) {
            Some(var) => var.set(&value)?,
            None => model.buffers().set(&name, value),
        }
    }
    Ok(PretrainedLoad {
        loaded: count,
        fresh: fresh_names,
    })
}

fn mismatch(name: &str, want: &Tensor, found_shape: &[usize], found_dtype: &str) -> TensorMismatch {
    TensorMismatch {
        name: name.to_string(),
        expected_shape: want.dims().to_vec(),
        found_shape: found_shape.to_vec(),
        expected_dtype: want.dtype().as_str().to_string(),
        found_dtype: found_dtype.to_string(),
    }
}

/// Reads the model configuration stored in a checkpoint's metadata, if any, so a checkpoint can be
/// rebuilt without knowing its architecture.
pub fn read_checkpoint_config(path: impl AsRef<Path>) -> Result<Option<crate::ModelConfig>> {
    let path = path.as_ref();
    let file = read_file(path)?;
    match file.metadata.get(CONFIG_METADATA_KEY) {
        None => Ok(None),
        Some(json) => {
            serde_json::from_str(json)
                .map(Some)
                .map_err(|e| ModelError::CheckpointFile {
                    path: path.to_path_buf(),
                    reason: format!(
                        "the stored model configuration is not valid ({e}); rebuild the model from \
                     its configuration and load the tensors"
                    ),
                })
        }
    }
}
