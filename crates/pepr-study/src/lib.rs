#![doc = include_str!("../README.md")]

mod errors;
mod hyperparams;
mod outputs;
#[cfg(feature = "plots")]
pub mod plots;
mod pool_file;
mod progress;
mod report;
mod study;
mod study_job;
pub mod table;

pub use errors::{Result, StudyError};
pub use hyperparams::{Experiment, StudyLimits, StudyParams, StudyValidParams, default_label};
pub use outputs::{
    FINDINGS_FILE, REPORT_FILE, RESULTS_FILE, StudyOutputs, TABLE_FILE, write_study_outputs,
};
pub use pool_file::{PoolModel, StudyPool, StudyPreset};
pub use report::{
    ExperimentScores, REPORTED_SCORES, StudyAnalysis, analyze_study_csv, markdown_report,
};
pub use study::{
    PretrainingRun, STUDY_FILE, StudyResults, StudyRun, StudySelection, pretrain_dir, run_dir,
    run_study, run_study_selected,
};
pub use study_job::StudyJob;
pub use table::{AUTHORS_COLUMNS, STUDY_COLUMNS, study_csv, write_study_csv};
