#![doc = include_str!("../README.md")]

#[cfg(feature = "adult-baseline")]
mod adult_baseline;
mod analysis;
mod apply;
mod binary;
mod bootstrap;
mod counts;
mod csv_rows;
mod distribution;
mod elimination;
mod errors;
mod groups;
mod linear_program;
mod memorization;
mod metrics;
mod minimal;
mod plan;
mod rows;
mod serialize;

#[cfg(feature = "adult-baseline")]
pub use adult_baseline::{
    ADULT_DEFAULT_ALPHA, ADULT_INCOME_CLASSES, ADULT_PROTECTED_SEX, ADULT_UNPROTECTED_SEX,
    AdultBaseline, AdultBaselineError, AdultBaselineParams, AdultBaselineSummary,
    AdultBaselineValidParams, fit_adult_baseline,
};
pub use analysis::{AnalysisOptions, FairnessAnalysis, TargetAnalysis, analyze};
pub use apply::{AppliedPlan, ApplyOptions, Rounding, Verification, apply_plan};
pub use binary::{BinaryFairness, binary_fairness};
pub use bootstrap::{
    BootstrapIntervals, BootstrapOptions, Interval, MetricIntervals, bootstrap_intervals,
};
pub use counts::CellCounts;
pub use csv_rows::{
    CsvColumns, CsvRowsError, EncodedClasses, EncodedRows, GroupEncoding, NamedColumn,
    encode_classes, encode_group_values, read_csv_rows, read_csv_rows_from_reader,
};
pub use distribution::{JointDistribution, NORMALIZATION_TOLERANCE};
pub use elimination::{
    DEFAULT_TOLERANCE, EliminationCheck, Target, eliminates, false_negative_gap_after,
    ratio_condition,
};
pub use errors::{FairnessError, Result};
pub use groups::{Group, SignConvention};
pub use memorization::{
    DistributionModel, MemorizationModel, confusion_after, equal_opportunity_after,
    equalized_odds_after, memorized_distribution, metrics_after, prediction_distribution_after,
    statistical_parity_after,
};
pub use metrics::{
    Aggregates, FairnessMetrics, GapMatrix, GapVector, equal_opportunity, equalized_odds,
    statistical_parity,
};
pub use minimal::{
    ClassMemorization, MemorizationBounds, MinimalMemorization, MinimalOptions, MinimalPlan,
    SolutionMethod, binary_statistical_parity_minimum, memorization_bounds, minimal_memorization,
};
pub use plan::{MemorizationPlan, PLAN_TOLERANCE};
pub use rows::{ClassEncoding, Rows, encode_groups};
