//! The error type of osc-reg.

/// Everything that can go wrong in training, evaluation and the regularizer. Messages name the input
/// and say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OscRegError {
    /// A hyperparameter is out of range.
    #[error("invalid {parameter}: {reason}")]
    InvalidParameter {
        /// Which parameter.
        parameter: &'static str,
        /// Why, and what is accepted.
        reason: String,
    },
    /// The train and test sets, or a split of them, cannot be used together.
    #[error("data: {reason}")]
    Data {
        /// What does not fit, and what to do.
        reason: String,
    },
    /// A layer tracked by the oscillation monitor changed size.
    #[error(
        "oscillation monitor: layer {layer} had {before} weights and now has {after}; track each layer under its own name"
    )]
    LayerChangedSize {
        /// The layer.
        layer: String,
        /// Weights at the previous step.
        before: usize,
        /// Weights now.
        after: usize,
    },
    /// Results of several seeds cannot be summarized together.
    #[error("seeds: {reason}")]
    SeedsMismatch {
        /// What differs, and what to do.
        reason: String,
    },
    /// BatchNorm re-estimation saw no training batch.
    #[error(
        "BatchNorm re-estimation: no training batch was available; give a training set with at least one example"
    )]
    NoReestimationBatch,
    /// A plot could not be drawn.
    #[error("cannot draw the plot: {reason}")]
    Plot {
        /// plotters' message.
        reason: String,
    },
    /// A value could not be turned into JSON.
    #[error("cannot serialize to JSON")]
    Json(#[from] serde_json::Error),
    /// An error of the PePR score or the resource meters.
    #[error(transparent)]
    Pepr(#[from] smallscale_pepr_score::PeprError),
    /// Training diverged.
    #[error(
        "training diverged at epoch {epoch}, step {step}: the loss is {loss}; lower the learning rate or lambda"
    )]
    Diverged {
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the epoch.
        step: usize,
        /// The offending loss value.
        loss: f64,
    },
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong and what to do.
        reason: String,
    },
    /// A file could not be written.
    #[error(transparent)]
    Io(Box<smallscale_io::IoError>),
    /// An error from quant-core.
    #[error(transparent)]
    Quant(#[from] smallscale_quant_core::QuantError),
    /// An error from the models crate.
    #[error(transparent)]
    Model(#[from] smallscale_models::ModelError),
    /// An error from the datasets crate.
    #[error(transparent)]
    Dataset(#[from] smallscale_datasets::DatasetError),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of osc-reg.
pub type Result<T> = std::result::Result<T, OscRegError>;

impl From<smallscale_io::IoError> for OscRegError {
    fn from(e: smallscale_io::IoError) -> Self {
        Self::Io(Box::new(e))
    }
}
