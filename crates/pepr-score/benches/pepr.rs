//! Benchmarks: meter overhead on a fixed workload, and scoring a pool of 10k models.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use smallscale_pepr_score::{Meter, MeterConfig, ModelRun, Pool};

/// A fixed CPU workload of roughly 20 ms.
fn workload() -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..20_000_000u64 {
        x = x.rotate_left(5) ^ i.wrapping_mul(0x5851_F42D_4C95_7F2D);
    }
    x
}

fn meter_overhead(c: &mut Criterion) {
    let meter = Meter::new(MeterConfig::default()).expect("default config is valid");
    let mut g = c.benchmark_group("meter_overhead");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.bench_function("bare_workload", |b| b.iter(|| black_box(workload())));
    g.bench_function("metered_workload", |b| {
        b.iter(|| black_box(meter.measure(workload)))
    });
    g.finish();
}

fn pool_scoring(c: &mut Criterion) {
    let runs: Vec<ModelRun> = (0..10_000u32)
        .map(|i| {
            let h = i.wrapping_mul(2_654_435_761);
            ModelRun::new(format!("model-{i}"), f64::from(h % 1000) / 1000.0)
                .with_resource("energy", f64::from(h % 9973) / 100.0)
        })
        .collect();
    let pool = Pool::new("bench", runs).expect("valid pool");
    c.bench_function("score_pool_10k", |b| {
        b.iter(|| black_box(pool.pepr("energy").expect("scores")))
    });
}

criterion_group!(benches, meter_overhead, pool_scoring);
criterion_main!(benches);
