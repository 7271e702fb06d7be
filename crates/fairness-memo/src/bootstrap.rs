//! Percentile bootstrap confidence intervals for the metric aggregates on row data.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::distribution::JointDistribution;
use crate::errors::{FairnessError, Result};
use crate::groups::SignConvention;
use crate::metrics::{Aggregates, FairnessMetrics};
use crate::rows::Rows;

/// Options of [`bootstrap_intervals`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BootstrapOptions {
    /// Number of resamples (>= 10). Default 1000.
    pub n_resamples: usize,
    /// Confidence level in (0, 1). Default 0.95.
    pub confidence: f64,
    /// Seed; resample `b` uses ChaCha8 seeded with `seed` on stream `b`, so results do not
    /// depend on the number of threads.
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            n_resamples: 1000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

/// A point estimate with a percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The value on the full data.
    pub estimate: f64,
    /// Lower percentile of the resampled values.
    pub lower: f64,
    /// Upper percentile of the resampled values.
    pub upper: f64,
}

/// Intervals for the three aggregates of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricIntervals {
    /// Max-abs gap.
    pub max_abs: Interval,
    /// L1 norm of the gaps.
    pub l1: Interval,
    /// Total variation (L1 / 2).
    pub total_variation: Interval,
}

/// Bootstrap intervals of all aggregates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapIntervals {
    /// The options used.
    pub options: BootstrapOptions,
    /// Statistical parity (resamples with an empty group are dropped).
    pub statistical_parity: Option<MetricIntervals>,
    /// Equal opportunity (resamples with an empty cell are dropped).
    pub equal_opportunity: Option<MetricIntervals>,
    /// Equalized odds (resamples with an empty cell are dropped).
    pub equalized_odds: Option<MetricIntervals>,
    /// Resamples in which statistical parity was undefined (an empty group).
    pub dropped_statistical_parity: usize,
    /// Resamples in which the conditional metrics were undefined (an empty cell).
    pub dropped_conditional: usize,
}

/// Percentile-bootstrap intervals for the max-abs, L1 and total-variation aggregates of the
/// three metrics: rows are resampled with replacement (keeping their weights), `O(n)` per
/// resample, resamples spread over threads.
///
/// ```
/// use smallscale_fairness_memo::*;
/// let rows = Rows::new(vec![0, 0, 0, 0, 1, 1, 1, 1], vec![1, 1, 0, 0, 1, 1, 0, 0], vec![1, 0, 0, 0, 1, 1, 1, 0]).unwrap();
/// let ci = bootstrap_intervals(&rows, BootstrapOptions { n_resamples: 200, ..Default::default() }).unwrap();
/// let sp = ci.statistical_parity.unwrap().max_abs;
/// assert!(sp.lower <= sp.upper);
/// ```
pub fn bootstrap_intervals(rows: &Rows, options: BootstrapOptions) -> Result<BootstrapIntervals> {
    if options.n_resamples < 10 {
        return Err(FairnessError::InvalidParameter {
            input: "n_resamples",
            reason: format!(
                "{} resamples are too few; use at least 10 (1000 is usual)",
                options.n_resamples
            ),
        });
    }
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return Err(FairnessError::InvalidParameter {
            input: "confidence",
            reason: format!("{} must lie strictly between 0 and 1", options.confidence),
        });
    }
    let k = rows.n_classes();
    let cell_of: Vec<u32> = (0..rows.len())
        .map(|i| {
            ((rows.groups()[i] as usize * k + rows.labels()[i] as usize) * k
                + rows.predictions()[i] as usize) as u32
        })
        .collect();
    let full = FairnessMetrics::compute(&rows.distribution()?, SignConvention::default());
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(options.n_resamples);
    let per_thread: Vec<Vec<Option<FairnessMetrics>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let cell_of = &cell_of;
                scope.spawn(move || {
                    (t..options.n_resamples)
                        .step_by(threads)
                        .map(|b| resample(rows, cell_of, k, options.seed, b as u64))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let samples: Vec<Option<FairnessMetrics>> = per_thread.into_iter().flatten().collect();
    let alpha = 1.0 - options.confidence;
    let sp: Vec<Aggregates> = samples
        .iter()
        .flatten()
        .map(|m| m.statistical_parity.aggregates)
        .collect();
    let eopp: Vec<Aggregates> = samples
        .iter()
        .flatten()
        .filter_map(|m| m.equal_opportunity.as_ref().map(|v| v.aggregates))
        .collect();
    let eodds: Vec<Aggregates> = samples
        .iter()
        .flatten()
        .filter_map(|m| m.equalized_odds.as_ref().map(|v| v.aggregates))
        .collect();
    let dropped_statistical_parity = samples.iter().filter(|m| m.is_none()).count();
    Ok(BootstrapIntervals {
        options,
        statistical_parity: intervals(Some(full.statistical_parity.aggregates), &sp, alpha),
        equal_opportunity: intervals(
            full.equal_opportunity.as_ref().map(|v| v.aggregates),
            &eopp,
            alpha,
        ),
        equalized_odds: intervals(
            full.equalized_odds.as_ref().map(|v| v.aggregates),
            &eodds,
            alpha,
        ),
        dropped_statistical_parity,
        dropped_conditional: options.n_resamples - dropped_statistical_parity - eopp.len(),
    })
}

fn resample(rows: &Rows, cell_of: &[u32], k: usize, seed: u64, b: u64) -> Option<FairnessMetrics> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(b);
    let n = rows.len();
    let mut masses = vec![0.0; 2 * k * k];
    for _ in 0..n {
        let i = rng.random_range(0..n);
        masses[cell_of[i] as usize] += rows.weight(i);
    }
    let masses = ndarray::Array3::from_shape_vec((2, k, k), masses).ok()?;
    let dist = JointDistribution::from_masses(masses).ok()?;
    Some(FairnessMetrics::compute(&dist, SignConvention::default()))
}

fn intervals(
    estimate: Option<Aggregates>,
    samples: &[Aggregates],
    alpha: f64,
) -> Option<MetricIntervals> {
    let estimate = estimate?;
    if samples.is_empty() {
        return None;
    }
    let interval = |point: f64, pick: fn(&Aggregates) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(pick).collect();
        v.sort_by(f64::total_cmp);
        Interval {
            estimate: point,
            lower: percentile(&v, alpha / 2.0),
            upper: percentile(&v, 1.0 - alpha / 2.0),
        }
    };
    Some(MetricIntervals {
        max_abs: interval(estimate.max_abs, |a| a.max_abs),
        l1: interval(estimate.l1, |a| a.l1),
        total_variation: interval(estimate.total_variation, |a| a.total_variation),
    })
}

/// Linear-interpolation percentile of sorted values, `q` in [0, 1].
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}
