//! The oscillation tracker against a direct implementation of spec §5.

use proptest::prelude::*;
use smallscale_osc_reg::{OscillationParams, OscillationTracker};

proptest! {
    #[test]
    fn tracker_matches_the_definition(seq in proptest::collection::vec(proptest::collection::vec(-3i32..=3, 4), 2..60),
                                      m in 0.01f64..1.0) {
        let mut tracker = OscillationTracker::new(OscillationParams::new(m, 0.05).unwrap());
        for codes in &seq {
            tracker.update("layer", codes).unwrap();
        }
        // Direct: per weight, walk the sequence.
        let mut freq = [0.0f64; 4];
        for (i, f) in freq.iter_mut().enumerate() {
            let mut last = 0i32;
            for t in 1..seq.len() {
                let delta = seq[t - 1][i] - seq[t][i];
                let osc = delta != 0 && last != 0 && delta.signum() == -last;
                if delta != 0 {
                    last = delta.signum();
                }
                *f = m * if osc { 1.0 } else { 0.0 } + (1.0 - m) * *f;
            }
        }
        let stats = &tracker.stats()[0];
        let mean = freq.iter().sum::<f64>() / 4.0;
        prop_assert!((stats.mean_frequency - mean).abs() < 1e-5);
        let frac = freq.iter().filter(|&&f| f > 0.05 + 1e-6).count() as f64 / 4.0;
        let frac_lo = freq.iter().filter(|&&f| f > 0.05 - 1e-6).count() as f64 / 4.0;
        prop_assert!(stats.oscillating_fraction >= frac && stats.oscillating_fraction <= frac_lo);
        prop_assert_eq!(stats.steps, seq.len() as u64 - 1);
    }
}

#[test]
fn a_weight_cycling_between_two_codes_oscillates_at_every_switch_after_the_first() {
    let mut tracker = OscillationTracker::new(OscillationParams::new(0.01, 0.005).unwrap());
    let mut f = 0.0f64;
    for t in 0..200 {
        tracker.update("w", &[t % 2, 5]).unwrap();
        if t >= 2 {
            f = 0.01 + 0.99 * f;
        }
    }
    let s = &tracker.stats()[0];
    assert!((s.mean_frequency - f / 2.0).abs() < 1e-4);
    assert_eq!(s.oscillating_fraction, 0.5);
    assert_eq!(s.switch_fraction, 0.5);
    assert!(tracker.update("w", &[1, 2, 3]).is_err());
}
