//! The error type of the models crate.

use std::path::PathBuf;

use smallscale_quant_core::QuantError;

/// One tensor whose shape or dtype in a checkpoint differs from the model's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorMismatch {
    /// Name of the tensor (e.g. `layer1.0.conv1.weight`).
    pub name: String,
    /// Shape the model expects.
    pub expected_shape: Vec<usize>,
    /// Shape found in the checkpoint.
    pub found_shape: Vec<usize>,
    /// Dtype the model expects (e.g. `f32`).
    pub expected_dtype: String,
    /// Dtype found in the checkpoint.
    pub found_dtype: String,
}

impl std::fmt::Display for TensorMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {} {:?}, found {} {:?}",
            self.name, self.expected_dtype, self.expected_shape, self.found_dtype, self.found_shape
        )
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn list_mismatches(items: &[TensorMismatch]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Everything that can go wrong while building, running, saving or loading a model. Every message
/// names the offending input and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// An optimizer hyperparameter is out of range.
    #[error("invalid {parameter}: {reason}")]
    InvalidOptimizer {
        /// Which hyperparameter.
        parameter: &'static str,
        /// Why, and what is accepted.
        reason: String,
    },
    /// A saved optimizer state does not belong to the parameters being optimized.
    #[error("optimizer state: {reason}")]
    OptimizerState {
        /// What does not match.
        reason: String,
    },
    /// A model configuration value is out of range or inconsistent with another one.
    #[error("invalid {model} configuration: {field} {reason}")]
    InvalidConfig {
        /// The architecture (`resnet18`, `vit`, `small-cnn`, `mlp`).
        model: &'static str,
        /// The offending field.
        field: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// The input tensor does not have the shape the model was built for.
    #[error("{model} expects input {expected}, found shape {found:?}: {hint}")]
    InvalidInput {
        /// The architecture.
        model: &'static str,
        /// The expected layout, e.g. `[batch, 3, 32, 32]`.
        expected: String,
        /// The shape that was passed.
        found: Vec<usize>,
        /// What to do.
        hint: &'static str,
    },
    /// No architecture with this name is registered.
    #[error("unknown model {name:?}: choose one of {}", .available.join(", "))]
    UnknownModel {
        /// The name that was asked for.
        name: String,
        /// The registered names.
        available: Vec<String>,
    },
    /// Two parameters or buffers of one model got the same name.
    #[error(
        "tensor {name} is registered twice: build each model with a fresh ModelContext (or give \
         the second layer another name)"
    )]
    DuplicateTensor {
        /// The duplicated name.
        name: String,
    },
    /// A batch-norm layer in training mode got a single value per channel.
    #[error(
        "batch norm {layer} got {count} value(s) per channel in training mode: batch statistics \
         need at least 2 (use a batch size above 1, or evaluate with train = false)"
    )]
    BatchTooSmall {
        /// The layer's name prefix (e.g. `layer4.1.bn2`).
        layer: String,
        /// Values per channel in the batch (batch x height x width).
        count: usize,
    },
    /// Fake quantization of a named weight failed.
    #[error("quantizing {tensor} failed: {source}")]
    Quant {
        /// The weight being quantized.
        tensor: String,
        /// The quantizer's error.
        #[source]
        source: QuantError,
    },
    /// A checkpoint file could not be read or written.
    #[error("checkpoint {path}: {reason}")]
    CheckpointFile {
        /// The file.
        path: PathBuf,
        /// What went wrong and what to do.
        reason: String,
    },
    /// A checkpoint does not match the model: the model is left unchanged.
    #[error(
        "checkpoint {path} does not match the model (was it saved from another architecture or \
         configuration?). Missing from the file: {}. Unexpected in the file: {}. Shape or dtype \
         mismatches: {}",
        list(.missing), list(.unexpected), list_mismatches(.mismatched)
    )]
    CheckpointMismatch {
        /// The file.
        path: PathBuf,
        /// Model tensors the file lacks.
        missing: Vec<String>,
        /// File tensors the model does not have.
        unexpected: Vec<String>,
        /// Tensors present in both with a different shape or dtype.
        mismatched: Vec<TensorMismatch>,
    },
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of the models crate.
pub type Result<T> = std::result::Result<T, ModelError>;
