#![doc = include_str!("../README.md")]

pub mod errors;
pub mod findings;
pub mod meter;
pub mod normalize;
pub mod params;
pub mod pareto;
pub mod pool;
pub mod score;
pub mod stats;
pub mod table;

pub use errors::{PeprError, Result};
pub use findings::{
    BestModels, DataFraction, ExperimentComparison, ExperimentLabel, FINDINGS_ALPHA, FindingCheck,
    FindingVerdict, Findings, FindingsColumns, NON_INFERIORITY_MARGIN, SizeCorrelations,
    WEAK_CORRELATION, paper_findings,
};
pub use meter::carbon::{
    COUNTRY_AVERAGES, CarbonIntensity, DEFAULT_PUE, PAPER_PUE, WORLD_AVERAGE_G_PER_KWH,
};
pub use meter::estimate::{
    CpuPowerModel, CpuUsage, DEFAULT_WATTS_PER_CORE, LoadScope, MachineLoad,
    codecarbon_machine_watts, codecarbon_process_watts, estimate_cpu_energy_joules,
};
pub use meter::machine::MachineInfo;
#[cfg(feature = "nvml")]
pub use meter::nvml::NvmlReader;
pub use meter::process::{
    CpuTime, PeakMemorySource, peak_memory_bytes, process_cpu_time, reset_peak_memory,
};
pub use meter::rapl::{
    DEFAULT_POWERCAP_ROOT, DomainEnergy, RaplDomain, RaplReader, RaplSampler, RaplTotals,
    rapl_delta_uj,
};
pub use meter::{
    EnergyComponent, Figure, Measurement, Meter, MeterConfig, Provenance, RunningMeter,
};
pub use normalize::{Normalized, ReferenceBounds, min_max_normalize};
pub use params::{ScoreParams, ScoreValidParams};
pub use pareto::{pareto_front, pareto_front_multi};
pub use pool::{ModelRun, NormalizationMethod, Pool, PoolScores, ResourceSummary, ScoredModel};
pub use score::{PeprVariant, break_even_performance, iso_pepr_performance, pepr, pepr_weighted};
pub use stats::{
    Correlation, EXACT_PERMUTATION_MAX_N, OneSampleTTest, WelchTTest, average_ranks, kendall_tau_b,
    one_sample_t_test, spearman, welch_t_test,
};
pub use table::{TableParams, TableValidParams, load_pools, load_pools_from_reader};
