//! The regularizer against brute force and the spec's gradient formulas.

use candle_core::{DType, Device, Tensor, Var};
use proptest::prelude::*;
use smallscale_osc_reg::{OscillationRegularizer, RegularizerParams};
use smallscale_quant_core::{BitWidth, max_abs_quantize_slice};

fn layers(seed: u64, sizes: &[usize]) -> Vec<Vec<f64>> {
    let mut s = seed | 1;
    sizes
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0
                })
                .collect()
        })
        .collect()
}

/// The spec's full gradient of lambda * mean(q^2 - w^2) for one layer, in f64:
/// (2 lambda / n) [ (q_j - w_j) + [j in argmax] sign(w_j) / K / ties * sum_i q_i (r_i - w_i / s) ].
fn spec_gradient(w: &[f64], bits: u32, lambda: f64) -> Vec<f64> {
    let k = f64::from(BitWidth::new(bits).unwrap().max_level());
    let n = w.len() as f64;
    let m = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let s = m / k;
    let q: Vec<f64> = w.iter().map(|&v| (v / s).round_ties_even() * s).collect();
    let scale_sum: f64 = w
        .iter()
        .zip(&q)
        .map(|(&v, &qv)| qv * ((v / s).round_ties_even() - v / s))
        .sum();
    let ties = w.iter().filter(|v| v.abs() == m).count() as f64;
    w.iter()
        .zip(&q)
        .map(|(&v, &qv)| {
            let extra = if v.abs() == m {
                v.signum() / k / ties * scale_sum
            } else {
                0.0
            };
            2.0 * lambda / n * ((qv - v) + extra)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn value_and_gradient_match_brute_force(seed in any::<u64>(), bits in 2u32..=8, lambda in 0.0f64..20.0,
                                            a in 1usize..50, b in 1usize..50) {
        let ws = layers(seed, &[a, b]);
        let reg = OscillationRegularizer::new(RegularizerParams::new(bits, lambda).unwrap());
        let vars: Vec<Var> = ws.iter().map(|w| Var::new(w.as_slice(), &Device::Cpu).unwrap()).collect();
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        // Value: sum over layers of the per-layer mean of q^2 - w^2.
        let want: f64 = ws.iter().map(|w| {
            let q = max_abs_quantize_slice(w, BitWidth::new(bits).unwrap()).unwrap();
            q.iter().zip(w).map(|(q, w)| q * q - w * w).sum::<f64>() / w.len() as f64
        }).sum();
        let value = reg.value(&tensors).unwrap().to_scalar::<f64>().unwrap();
        prop_assert!((value - want).abs() < 1e-12, "{value} vs {want}");
        let penalty = reg.penalty(&tensors).unwrap();
        prop_assert!((penalty.to_scalar::<f64>().unwrap() - lambda * want).abs() < 1e-10);
        // Gradient: 2 lambda (q - w) / n away from the arg-max, the full formula everywhere.
        let grads = penalty.backward().unwrap();
        for (w, var) in ws.iter().zip(&vars) {
            let g = grads.get(var).unwrap().to_vec1::<f64>().unwrap();
            let q = max_abs_quantize_slice(w, BitWidth::new(bits).unwrap()).unwrap();
            let m = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let full = spec_gradient(w, bits, lambda);
            for j in 0..w.len() {
                if w[j].abs() != m {
                    let simple = 2.0 * lambda * (q[j] - w[j]) / w.len() as f64;
                    prop_assert!((g[j] - simple).abs() < 1e-12, "element {j}: {} vs {simple}", g[j]);
                }
                prop_assert!((g[j] - full[j]).abs() < 1e-10 * (1.0 + full[j].abs()), "element {j}: {} vs {}", g[j], full[j]);
            }
        }
    }
}

#[test]
fn each_layer_weighs_the_same_whatever_its_size_and_value_can_be_negative() {
    let reg = OscillationRegularizer::new(RegularizerParams::new(2, 1.0).unwrap());
    // A layer whose weights all sit on levels contributes 0; one with weights near 0 contributes
    // negative values (q = 0 there).
    let on_grid = Tensor::new(&[1.0f32, -1.0, 0.0, 1.0], &Device::Cpu).unwrap();
    let small = Tensor::new(&[1.0f32, 0.4, -0.4, 0.3, 0.2, 0.1, 0.0, 0.0], &Device::Cpu).unwrap();
    let v1 = reg
        .value(std::slice::from_ref(&on_grid))
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(v1, 0.0);
    let v2 = reg
        .value(std::slice::from_ref(&small))
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let want = -(0.16 + 0.16 + 0.09 + 0.04 + 0.01) / 8.0;
    assert!((v2 - want).abs() < 1e-6);
    assert!(v2 < 0.0);
    let both = reg
        .value(&[on_grid, small])
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((both - (v1 + v2)).abs() < 1e-7);
    // No weights: zero.
    assert_eq!(reg.value(&[]).unwrap().to_scalar::<f32>().unwrap(), 0.0);
    let empty = Tensor::zeros(0, DType::F32, &Device::Cpu).unwrap();
    assert_eq!(
        reg.value(&[empty]).unwrap().to_scalar::<f32>().unwrap(),
        0.0
    );
}

#[test]
fn descent_on_the_regularizer_pushes_weights_away_from_their_level() {
    // One gradient step on lambda * R moves every non-arg-max weight away from q(w).
    let w0 = [1.0f64, 0.3, -0.2, 0.7, -0.8];
    let x = Var::new(&w0, &Device::Cpu).unwrap();
    let reg = OscillationRegularizer::new(RegularizerParams::new(2, 1.0).unwrap());
    let g = reg
        .penalty(&[x.as_tensor().clone()])
        .unwrap()
        .backward()
        .unwrap();
    let g = g.get(&x).unwrap().to_vec1::<f64>().unwrap();
    let q = max_abs_quantize_slice(&w0, BitWidth::new(2).unwrap()).unwrap();
    for j in 1..w0.len() {
        let w1 = w0[j] - 0.1 * g[j];
        assert!(
            (w1 - q[j]).abs() > (w0[j] - q[j]).abs(),
            "weight {j} moved towards its level"
        );
    }
}
