//! Meters a small CPU workload and prints the measurement as JSON.
//!
//! `cargo run -p smallscale-pepr-score --example measure_run` (add
//! `--features nvml` to include NVIDIA GPU energy).

use smallscale_pepr_score::{Meter, MeterConfig, Result};

fn main() -> Result<()> {
    let meter = Meter::new(MeterConfig::default())?;
    let (value, m) = meter.measure(|| {
        let mut x = 1u64;
        for i in 0..300_000_000u64 {
            x = x.rotate_left(7) ^ std::hint::black_box(i);
        }
        x
    });
    println!("workload result: {value}");
    println!(
        "{}",
        serde_json::to_string_pretty(&m).expect("a measurement serializes")
    );
    Ok(())
}
