#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
//! ## Crates
//!
//! This umbrella crate only re-exports the member crates, one cargo feature each, so that a user who
//! wants only PePR or only the fairness analysis never compiles candle.

/// Quantizers, fake-quant custom ops with straight-through backward, PTQ and integer export.
#[cfg(feature = "quant-core")]
pub use smallscale_quant_core as quant_core;

/// PePR, performance per resource unit: the score, pools, Pareto fronts, statistics and meters.
#[cfg(feature = "pepr-score")]
pub use smallscale_pepr_score as pepr_score;

/// Multi-class fairness metrics, bias under memorization and the minimal memorized mass.
#[cfg(feature = "fairness-memo")]
pub use smallscale_fairness_memo as fairness_memo;

/// Strict readers (IDX, CIFAR-10, CSV), embedded Fashion-MNIST subset and UCI Adult, splits, batching.
#[cfg(feature = "datasets")]
pub use smallscale_datasets as datasets;

/// Trainable, quantizable candle models: ResNet-18, Tiny ViT, a small CNN and an MLP.
#[cfg(feature = "models")]
pub use smallscale_models as models;

/// The oscillation regularizer, FP / QAT / Reg training, cross-bit evaluation and the toy model.
#[cfg(feature = "osc-reg")]
pub use smallscale_osc_reg as osc_reg;

/// The PePR paper's study: a model pool pretrained and from scratch on training-set fractions,
/// every run metered, the table in the authors' layout, the findings checked.
#[cfg(feature = "pepr-study")]
pub use smallscale_pepr_study as pepr_study;

/// Grids of runs as a job list for SLURM or any batch system: stable job ids, locked idempotent
/// jobs, the array script, a local worker pool and the status of every job.
#[cfg(feature = "sweep")]
pub use smallscale_sweep as sweep;

/// The guides' examples (`docs/quantization.md`, `docs/datasets.md`, `docs/models.md`), compiled as
/// doctests so they stay true.
#[cfg(doctest)]
mod guides {
    #[cfg(feature = "quant-core")]
    #[doc = include_str!("../docs/quantization.md")]
    struct Quantization;

    #[cfg(feature = "datasets")]
    #[doc = include_str!("../docs/datasets.md")]
    struct Datasets;

    #[cfg(feature = "models")]
    #[doc = include_str!("../docs/models.md")]
    struct Models;
}
