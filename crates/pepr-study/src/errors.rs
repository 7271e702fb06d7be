//! The errors of a study.

use std::path::PathBuf;

/// What can go wrong in a study.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudyError {
    /// The pool file is not valid.
    #[error("pool {origin}: {reason}")]
    Pool {
        /// The file (or preset) the pool came from.
        origin: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A study parameter is out of range.
    #[error("invalid {parameter}: {reason}")]
    InvalidParameter {
        /// Which parameter.
        parameter: &'static str,
        /// What is accepted.
        reason: String,
    },
    /// A file of the study directory cannot be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong and what to do.
        reason: String,
    },
    /// A model of the pool does not fit the data.
    #[error("model {name} of the pool: {source}")]
    Model {
        /// The pool's name of the model.
        name: String,
        /// The models crate's error.
        source: Box<smallscale_models::ModelError>,
    },
    /// A run failed.
    #[error("run {run}: {source}")]
    Run {
        /// The run (`pneumonia_pt_small/mlp-w4`, `pretrain/mlp-w4`).
        run: String,
        /// The trainer's error.
        source: Box<smallscale_osc_reg::OscRegError>,
    },
    /// Loading the data failed.
    #[error(transparent)]
    Data(Box<smallscale_osc_reg::OscRegError>),
    /// Scoring or statistics failed.
    #[error(transparent)]
    Pepr(#[from] smallscale_pepr_score::PeprError),
    /// Writing a file failed.
    #[error(transparent)]
    Io(#[from] smallscale_io::IoError),
    /// Drawing a plot failed.
    #[error("plot: {reason}")]
    Plot {
        /// What went wrong.
        reason: String,
    },
}

impl From<smallscale_osc_reg::OscRegError> for StudyError {
    fn from(e: smallscale_osc_reg::OscRegError) -> Self {
        Self::Data(Box::new(e))
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, StudyError>;
