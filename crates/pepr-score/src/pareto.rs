//! The Pareto front of a pool: maximize performance, minimize cost.
//!
//! A model is *dominated* when another model is at least as good on every
//! objective and strictly better on one. The front is the set of models that
//! no other model dominates. Every PePR maximizer lies on it (tested).

use crate::errors::{PeprError, Result, check_finite};

/// Indices (ascending) of the Pareto front of `(max performance, min cost)`.
///
/// Runs in `O(n log n)`. Identical points are all kept (none dominates the
/// other).
///
/// # Errors
///
/// [`PeprError::LengthMismatch`] if the slices differ in length,
/// [`PeprError::NonFinite`] for NaN or infinite values.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::pareto_front;
///
/// let performance = [0.9, 0.8, 0.7, 0.95];
/// let cost = [2.0, 1.0, 1.5, 5.0];
/// // Model 2 is dominated by model 1 (better and cheaper).
/// assert_eq!(pareto_front(&performance, &cost)?, vec![0, 1, 3]);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn pareto_front(performance: &[f64], cost: &[f64]) -> Result<Vec<usize>> {
    if performance.len() != cost.len() {
        return Err(PeprError::LengthMismatch {
            what: "pareto_front(performance, cost)".to_string(),
            left: performance.len(),
            right: cost.len(),
        });
    }
    check_finite("performance", performance)?;
    check_finite("cost", cost)?;
    let mut order: Vec<usize> = (0..cost.len()).collect();
    // Cheapest first; among equal cost, best performance first.
    order.sort_by(|&a, &b| {
        cost[a]
            .total_cmp(&cost[b])
            .then(performance[b].total_cmp(&performance[a]))
    });
    let mut front = Vec::new();
    let mut best = f64::NEG_INFINITY; // best performance among strictly cheaper models
    let mut i = 0;
    while i < order.len() {
        // One block of equal cost.
        let mut j = i;
        while j < order.len() && cost[order[j]] == cost[order[i]] {
            j += 1;
        }
        let block_best = performance[order[i]];
        if block_best > best {
            for &k in &order[i..j] {
                if performance[k] == block_best {
                    front.push(k);
                }
            }
            best = block_best;
        }
        i = j;
    }
    front.sort_unstable();
    Ok(front)
}

/// Indices (ascending) of the Pareto front of `(max performance, min cost_1,
/// ..., min cost_k)` for several costs (`costs[k][i]` is cost `k` of model
/// `i`).
///
/// Runs in `O(k n^2)`; with one cost use [`pareto_front`].
///
/// # Errors
///
/// As [`pareto_front`].
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::pareto_front_multi;
///
/// let performance = [0.9, 0.9, 0.8];
/// let energy = [1.0, 2.0, 1.0];
/// let memory = [4.0, 1.0, 5.0];
/// assert_eq!(pareto_front_multi(&performance, &[&energy, &memory])?, vec![0, 1]);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn pareto_front_multi(performance: &[f64], costs: &[&[f64]]) -> Result<Vec<usize>> {
    check_finite("performance", performance)?;
    for (k, c) in costs.iter().enumerate() {
        if c.len() != performance.len() {
            return Err(PeprError::LengthMismatch {
                what: format!("pareto_front_multi(performance, costs[{k}])"),
                left: performance.len(),
                right: c.len(),
            });
        }
        check_finite(&format!("costs[{k}]"), c)?;
    }
    let n = performance.len();
    let dominates = |a: usize, b: usize| {
        let mut strict = performance[a] > performance[b];
        if performance[a] < performance[b] {
            return false;
        }
        for c in costs {
            if c[a] > c[b] {
                return false;
            }
            strict |= c[a] < c[b];
        }
        strict
    };
    Ok((0..n)
        .filter(|&i| !(0..n).any(|j| j != i && dominates(j, i)))
        .collect())
}
