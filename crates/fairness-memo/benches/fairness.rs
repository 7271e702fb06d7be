//! Benchmarks: all three metrics from in-memory columns (10 million rows, K = 2 and K = 10),
//! and the statistical-parity linear program for K = 10 and K = 100.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smallscale_fairness_memo::*;

fn columns(n: usize, k: u32, seed: u64) -> (Vec<u8>, Vec<u32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = (0..n).map(|_| rng.random_range(0..2u8)).collect();
    let y = (0..n).map(|_| rng.random_range(0..k)).collect();
    let p = (0..n).map(|_| rng.random_range(0..k)).collect();
    (g, y, p)
}

fn all_metrics(g: &[u8], y: &[u32], p: &[u32], k: usize) -> FairnessMetrics {
    let counts = CellCounts::from_columns(g, y, p, k).expect("valid columns");
    FairnessMetrics::compute(
        &counts.distribution().expect("both groups"),
        SignConvention::default(),
    )
}

fn metrics(c: &mut Criterion) {
    let n = 10_000_000;
    let mut group = c.benchmark_group("metrics_10M_rows");
    group.sample_size(20);
    for k in [2u32, 10] {
        let (g, y, p) = columns(n, k, 1);
        group.bench_function(format!("all_three_metrics_k{k}"), |b| {
            b.iter(|| {
                black_box(all_metrics(
                    black_box(&g),
                    black_box(&y),
                    black_box(&p),
                    k as usize,
                ))
            })
        });
    }
    group.finish();
}

fn sp_program(c: &mut Criterion) {
    let mut group = c.benchmark_group("statistical_parity_lp");
    group.sample_size(10);
    for k in [10usize, 100] {
        let mut rng = ChaCha8Rng::seed_from_u64(k as u64);
        let masses = Array3::from_shape_fn((2, k, k), |(_, y, yh)| {
            if y == yh {
                20.0 + rng.random::<f64>() * 10.0
            } else {
                rng.random::<f64>()
            }
        });
        let dist = JointDistribution::from_masses(masses).expect("valid masses");
        group.bench_function(format!("minimal_memorization_k{k}"), |b| {
            b.iter(|| {
                black_box(
                    minimal_memorization(
                        black_box(&dist),
                        Target::StatisticalParity,
                        MinimalOptions::default(),
                    )
                    .expect("solved"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, metrics, sp_program);
criterion_main!(benches);
