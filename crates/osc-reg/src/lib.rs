#![doc = include_str!("../README.md")]

mod across_seeds;
mod annealing;
mod checkpointing;
mod claim_statistics;
mod classification_metrics;
mod config_diff;
mod dampening;
mod data;
mod data_description;
mod early_stopping;
mod environment;
mod errors;
mod evaluate;
mod freezing;
mod hyperparams;
mod lsq_training;
mod oscillation;
#[cfg(feature = "plots")]
mod plots;
mod progress;
mod regularizer;
mod report;
mod reproduce;
mod reproduce_job;
mod run_dir;
mod toy;
mod trainer;
mod training_run;

pub use across_seeds::{
    ClaimTally, CrossBitRow, MeanSd, SeedsSummary, seeds_markdown_report, summarize_seeds,
    write_seeds_summary,
};
pub use annealing::WarmupCosine;
pub use claim_statistics::{
    CLAIM_CONFIDENCE, ClaimDecision, SeedComparison, Verdict, decide_claims,
};
pub use classification_metrics::{
    ClassificationMetrics, balanced_accuracy, classification_metrics, roc_auc,
};
pub use config_diff::{ConfigDifference, config_differences};
pub use dampening::{
    BASELINE_WARMUP_FRACTION, DampeningAggregation, DampeningParams, oscillation_dampening_loss,
};
pub use data::ImageData;
pub use data_description::{DataDescription, SplitSpec, load_split_data};
pub use early_stopping::EarlyStopping;
pub use environment::RunEnvironment;
pub use errors::{OscRegError, Result};
pub use evaluate::{
    CrossBitAccuracy, CrossBitEvaluation, EVAL_BATCH_SIZE, accuracy, cross_bit_evaluation,
    has_batch_norm, reestimate_batch_norm,
};
pub use freezing::{FreezingParams, WeightFreezer};
pub use hyperparams::{Method, TrainParams, TrainValidParams};
pub use lsq_training::{LSQ_STEP_FLOOR, LsqSteps, learned_steps};
pub use oscillation::{LayerOscillation, OscillationParams, OscillationTracker};
#[cfg(feature = "plots")]
pub use plots::{accuracy_plot, cross_bit_plot, seeds_accuracy_plot, toy_trajectories_plot};
pub use regularizer::{OscillationRegularizer, RegularizerParams, oscillation_regularizer};
pub use report::{ClaimCheck, MATCH_TOLERANCE_PP, check_claims, markdown_report, write_report};
pub use reproduce::{
    DeployedSize, PaperPreset, PeprAtBit, PeprEntry, ReproduceParams, ReproduceResults,
    ReproduceValidParams, RunResult, RunSelection, TrainedRow, per_bit_table, reproduce,
    reproduce_selected,
};
pub use reproduce_job::ReproduceJob;
pub use run_dir::{
    BEST_FILE, CONFIG_FILE, METRICS_FILE, RESOURCES_FILE, RESULT_FILE, RunConfig, RunStatus,
    STATE_FILE, TestAccuracy, TrainResult, read_json_if_exists, record_run_resources, run_finished,
    write_json,
};
pub use toy::{ToyCycle, ToyStep, UnivariateToyModel};
pub use trainer::{EpochRecord, OscillationSummary, TrainOutcome, Trainer};
pub use training_run::{TrainingRun, TrainingRunOutput, pretrained_checkpoint};
