//! The one error type of this crate.

use std::path::PathBuf;

/// What went wrong with a sweep, naming the file, the job or the setting and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A setting of the plan or of the SLURM script is invalid.
    #[error("invalid {parameter}: {reason}")]
    InvalidParameter {
        /// The setting (as the command line names it).
        parameter: &'static str,
        /// Why, and what to give instead.
        reason: String,
    },

    /// A file of the sweep directory cannot be read, parsed or written.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },

    /// The directory holds another sweep.
    #[error(
        "{} holds another sweep (its plan differs in: {differences}): plan into another directory, or delete this one to start over",
        dir.display()
    )]
    OtherPlan {
        /// The sweep directory.
        dir: PathBuf,
        /// What differs.
        differences: String,
    },

    /// No job has this index.
    #[error(
        "the sweep in {} has {jobs} jobs (indices 0 to {}): no job {index}; `smallscale sweep status {}` lists them",
        dir.display(),
        jobs.saturating_sub(1),
        dir.display()
    )]
    NoSuchJob {
        /// The sweep directory.
        dir: PathBuf,
        /// The index asked for.
        index: usize,
        /// How many jobs the sweep has.
        jobs: usize,
    },

    /// A job ran and failed; its message is also in its `error.txt`.
    #[error("job {index} ({label}, id {id}) failed: {message}")]
    JobFailed {
        /// The job's index.
        index: usize,
        /// The job's id.
        id: String,
        /// The job's label.
        label: String,
        /// The error, as the job reported it.
        message: String,
    },

    /// A file operation of the `smallscale-io` crate failed.
    #[error(transparent)]
    Io(#[from] smallscale_io::IoError),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, SweepError>;

pub(crate) fn file_error(path: &std::path::Path, reason: impl Into<String>) -> SweepError {
    SweepError::File {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
