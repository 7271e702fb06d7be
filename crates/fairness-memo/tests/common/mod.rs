//! Shared helpers: random distributions and plans, and the brute-force joint table over
//! `(A, Y, D, Y_hat)`.
#![allow(dead_code)]

use ndarray::{Array2, Array3, Array4};
use proptest::prelude::*;
use smallscale_fairness_memo::*;

/// Positive masses for a `(2, K, K)` table.
pub fn masses(k: usize) -> impl Strategy<Value = Array3<f64>> {
    proptest::collection::vec(0.05f64..1.0, 2 * k * k)
        .prop_map(move |v| Array3::from_shape_vec((2, k, k), v).unwrap())
}

/// A distribution with `K` in `2..=4` and a share matrix in `[0, 1]`.
pub fn dist_and_shares() -> impl Strategy<Value = (JointDistribution, Array2<f64>)> {
    (2usize..=4).prop_flat_map(|k| {
        (masses(k), proptest::collection::vec(0.0f64..=1.0, 2 * k)).prop_map(move |(m, r)| {
            (
                JointDistribution::from_masses(m).unwrap(),
                Array2::from_shape_vec((2, k), r).unwrap(),
            )
        })
    })
}

/// Brute-force joint table `P(a, y, d, yh)` of the confusion-row model: memorized rows are
/// exactly right, unmemorized rows keep the observed confusion rows.
pub fn confusion_row_table(dist: &JointDistribution, plan: &MemorizationPlan) -> Array4<f64> {
    let k = dist.n_classes();
    let p = dist.probabilities();
    let mut t = Array4::zeros((2, k, 2, k));
    for a in 0..2 {
        for y in 0..k {
            let cell: f64 = (0..k).map(|yh| p[[a, y, yh]]).sum();
            let m = plan.masses()[[a, y]];
            for yh in 0..k {
                if yh == y {
                    t[[a, y, 1, yh]] = m;
                }
                if cell > 0.0 {
                    t[[a, y, 0, yh]] = (cell - m) * p[[a, y, yh]] / cell;
                }
            }
        }
    }
    t
}

/// Brute-force joint table of the distribution model: unmemorized predictions drawn from
/// `s^a` independently of the label.
pub fn distribution_model_table(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
    s: &Array2<f64>,
) -> Array4<f64> {
    let k = dist.n_classes();
    let cells = dist.cell_masses();
    let mut t = Array4::zeros((2, k, 2, k));
    for a in 0..2 {
        for y in 0..k {
            let m = plan.masses()[[a, y]];
            t[[a, y, 1, y]] = m;
            for yh in 0..k {
                t[[a, y, 0, yh]] = (cells[[a, y]] - m) * s[[a, yh]];
            }
        }
    }
    t
}

/// `P(Y_hat = yh | A = a)` by summing the table.
pub fn table_prediction(t: &Array4<f64>, a: usize, yh: usize) -> f64 {
    let k = t.dim().1;
    let mut num = 0.0;
    let mut den = 0.0;
    for y in 0..k {
        for d in 0..2 {
            for h in 0..k {
                den += t[[a, y, d, h]];
                if h == yh {
                    num += t[[a, y, d, h]];
                }
            }
        }
    }
    num / den
}

/// `P(Y_hat = yh | Y = y, A = a)` by summing the table.
pub fn table_conditional(t: &Array4<f64>, a: usize, y: usize, yh: usize) -> f64 {
    let k = t.dim().1;
    let mut num = 0.0;
    let mut den = 0.0;
    for d in 0..2 {
        for h in 0..k {
            den += t[[a, y, d, h]];
            if h == yh {
                num += t[[a, y, d, h]];
            }
        }
    }
    num / den
}

/// A distribution from `[group][label][prediction]` counts.
pub fn dist(k: usize, counts: &[f64]) -> JointDistribution {
    JointDistribution::from_masses(Array3::from_shape_vec((2, k, k), counts.to_vec()).unwrap())
        .unwrap()
}
