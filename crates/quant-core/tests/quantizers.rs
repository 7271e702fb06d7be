//! Asymmetric and LSQ quantizers against independent implementations of their formulas.

use candle_core::{DType, Device, Tensor, Var};
use proptest::prelude::*;
use smallscale_quant_core::{
    AsymmetricQuantizer, BitWidth, LsqQuantizer, QuantError, QuantScheme, Quantizer,
};

/// Asymmetric quantization written from its definition, in f64.
fn asymmetric_reference(w: &[f64], bits: u32) -> (Vec<i32>, f64, i32, Vec<f64>) {
    let lo = w.iter().cloned().fold(0.0f64, f64::min);
    let hi = w.iter().cloned().fold(0.0f64, f64::max);
    let qmin = -(1i32 << (bits - 1));
    let qmax = (1i32 << (bits - 1)) - 1;
    let s = (hi - lo) / f64::from((1u32 << bits) - 1);
    if s == 0.0 {
        return (vec![0; w.len()], 0.0, 0, w.to_vec());
    }
    let z = qmin - (lo / s).round_ties_even() as i32;
    let codes: Vec<i32> = w
        .iter()
        .map(|&v| ((v / s).round_ties_even() as i32 + z).clamp(qmin, qmax))
        .collect();
    let values = codes.iter().map(|&c| f64::from(c - z) * s).collect();
    (codes, s, z, values)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn asymmetric_matches_reference_and_round_trips(
        bits in 2u32..=12,
        w in proptest::collection::vec(-50.0f64..80.0, 1..100),
    ) {
        let q = AsymmetricQuantizer::new(bits).unwrap();
        let t = Tensor::new(w.as_slice(), &Device::Cpu).unwrap();
        let (codes, s, z, values) = asymmetric_reference(&w, bits);
        let got = q.quantize(&t).unwrap();
        prop_assert_eq!(&got.codes, &codes);
        prop_assert_eq!(got.scales[0], s);
        prop_assert_eq!(got.zero_points[0], z);
        let fake = q.fake_quantize(&t).unwrap().to_vec1::<f64>().unwrap();
        for (a, b) in fake.iter().zip(&values) {
            prop_assert_eq!(a.to_bits(), b.to_bits());
        }
        let deq = got.dequantize(&Device::Cpu).unwrap().to_vec1::<f64>().unwrap();
        prop_assert_eq!(deq, fake.clone());
        // Error bounded by half a step.
        for (a, b) in fake.iter().zip(&w) {
            prop_assert!((a - b).abs() <= s / 2.0 + 1e-12);
        }
    }
}

#[test]
fn asymmetric_zero_is_exact_all_zero_is_unchanged_and_gradient_is_straight_through() {
    let q = AsymmetricQuantizer::new(3).unwrap();
    let x = Var::new(&[0.0f32, 0.7, 2.3, 5.0, -1.2], &Device::Cpu).unwrap();
    let y = q.fake_quantize(x.as_tensor()).unwrap();
    assert_eq!(y.to_vec1::<f32>().unwrap()[0], 0.0);
    let g = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0, 5.0], &Device::Cpu).unwrap();
    let grads = (&y * &g).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(
        grads.get(&x).unwrap().to_vec1::<f32>().unwrap(),
        [1.0, 2.0, 3.0, 4.0, 5.0]
    );
    let zeros = Tensor::zeros(7, DType::F32, &Device::Cpu).unwrap();
    assert_eq!(
        q.fake_quantize(&zeros).unwrap().to_vec1::<f32>().unwrap(),
        [0.0; 7]
    );
    let nan = Tensor::new(&[1.0f32, f32::NAN], &Device::Cpu).unwrap();
    assert!(matches!(
        q.fake_quantize(&nan),
        Err(QuantError::NonFinite { index: 1, .. })
    ));
    assert_eq!(
        q.quantize(&x.as_tensor().clone()).unwrap().scheme,
        QuantScheme::Asymmetric
    );
}

#[test]
fn lsq_forward_and_gradients_follow_the_paper() {
    let w = [0.31f32, -0.74, 1.9, -2.6, 0.05, 0.52];
    let gy = [1.0f32, -0.5, 2.0, 0.25, 1.5, -1.0];
    let bits = 3u32;
    let (qn, qp) = (4.0f64, 3.0f64);
    let step = 0.4f64;
    let x = Var::new(&w, &Device::Cpu).unwrap();
    let lsq = LsqQuantizer::with_step(x.as_tensor(), BitWidth::new(bits).unwrap(), step).unwrap();
    let y = lsq.fake_quantize(x.as_tensor()).unwrap();
    let g = Tensor::new(&gy, &Device::Cpu).unwrap();
    let grads = (&y * &g).unwrap().sum_all().unwrap().backward().unwrap();

    let s = step as f32;
    let gscale = 1.0 / (w.len() as f64 * qp).sqrt();
    let mut want_y = Vec::new();
    let mut want_dw = Vec::new();
    let mut want_ds = 0.0f64;
    for (&wv, &gv) in w.iter().zip(&gy) {
        let z = wv / s;
        let (v, dw, ds) = if f64::from(z) <= -qn {
            (-(qn as f32), 0.0, -qn)
        } else if f64::from(z) >= qp {
            (qp as f32, 0.0, qp)
        } else {
            let r = z.round_ties_even();
            (r, 1.0, f64::from(r - z))
        };
        want_y.push(v * s);
        want_dw.push(gv * dw);
        want_ds += f64::from(gv) * ds;
    }
    want_ds *= gscale;
    assert_eq!(y.to_vec1::<f32>().unwrap(), want_y);
    assert_eq!(grads.get(&x).unwrap().to_vec1::<f32>().unwrap(), want_dw);
    let ds = f64::from(
        grads
            .get(lsq.step().as_tensor())
            .unwrap()
            .to_scalar::<f32>()
            .unwrap(),
    );
    assert!((ds - want_ds).abs() < 1e-5, "{ds} vs {want_ds}");

    // Codes in [-Qn, Qp] that dequantize to the fake-quantized values.
    let codes = lsq.quantize(x.as_tensor()).unwrap();
    assert_eq!(codes.codes, [1, -2, 3, -4, 0, 1]);
    assert_eq!(
        codes
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        want_y
    );
}

#[test]
fn lsq_initializes_its_step_like_the_paper_and_rejects_bad_steps() {
    let w = Tensor::new(&[0.5f32, -1.5, 1.0, -1.0], &Device::Cpu).unwrap();
    let lsq = LsqQuantizer::init(&w, 4).unwrap();
    let step = lsq.step().as_tensor().to_scalar::<f32>().unwrap();
    let want = (2.0 * 1.0 / 7f64.sqrt()) as f32;
    assert!((step - want).abs() < 1e-6);
    let zeros = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    let err = LsqQuantizer::init(&zeros, 4).unwrap_err();
    assert!(err.to_string().contains("step"), "{err}");
    let err = LsqQuantizer::with_step(&w, BitWidth::new(4).unwrap(), -1.0).unwrap_err();
    assert!(matches!(
        err,
        QuantError::InvalidParameter {
            parameter: "step",
            ..
        }
    ));
}

#[test]
fn lsq_step_gradient_against_finite_differences() {
    // L(s) = sum g_i q(w_i; s). Where w/s is clipped, q = -Qn s or Qp s and the finite difference
    // of L is LSQ's gradient exactly. Inside the range the true derivative of the rounded value is
    // round(w/s); LSQ's straight-through gradient is round(w/s) - w/s by design (Esser et al.'s
    // "transition" term): the finite difference minus LSQ's gradient must be sum g_i w_i / s there.
    let w = [0.31f64, -0.74, 1.9, -2.6, 0.05, 0.52, 1.13];
    let g = [1.0f64, -0.5, 2.0, 0.25, 1.5, -1.0, 0.75];
    let bits = BitWidth::new(3).unwrap(); // [-4, 3]
    let s0 = 0.41f64;
    let loss = |s: f64| -> f64 {
        let x = Tensor::new(&w, &Device::Cpu).unwrap();
        let lsq = LsqQuantizer::with_step(&x, bits, s).unwrap();
        let y = lsq.fake_quantize(&x).unwrap().to_vec1::<f64>().unwrap();
        y.iter().zip(&g).map(|(y, g)| y * g).sum()
    };
    for scaled in [false, true] {
        let x = Var::new(&w, &Device::Cpu).unwrap();
        let mut lsq = LsqQuantizer::with_step(x.as_tensor(), bits, s0).unwrap();
        if !scaled {
            lsq = lsq.without_grad_scale();
        }
        let gt = Tensor::new(&g, &Device::Cpu).unwrap();
        let grads = (lsq.fake_quantize(x.as_tensor()).unwrap() * &gt)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let ds = grads
            .get(lsq.step().as_tensor())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let scale = lsq.grad_scale().unwrap_or(1.0);
        // A step small enough that no w/s crosses a rounding threshold or the clip.
        let h = 1e-7;
        let fd = (loss(s0 + h) - loss(s0 - h)) / (2.0 * h);
        let transition: f64 = w
            .iter()
            .zip(&g)
            .filter(|(w, _)| {
                let z = *w / s0;
                z > -4.0 && z < 3.0
            })
            .map(|(w, g)| g * w / s0)
            .sum();
        assert!(
            (fd - ds / scale - transition).abs() < 1e-6,
            "scaled {scaled}: finite difference {fd}, LSQ {}, transition {transition}",
            ds / scale
        );
        // Only clipped weights: the finite difference is LSQ's gradient itself.
        let clipped = [2.6f64, -3.0, 1.5];
        let xc = Var::new(&clipped, &Device::Cpu).unwrap();
        let lc = LsqQuantizer::with_step(xc.as_tensor(), bits, 0.3)
            .unwrap()
            .without_grad_scale();
        let dsc = lc
            .fake_quantize(xc.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap()
            .get(lc.step().as_tensor())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let lossc = |s: f64| -> f64 {
            let x = Tensor::new(&clipped, &Device::Cpu).unwrap();
            let q = LsqQuantizer::with_step(&x, bits, s).unwrap();
            q.fake_quantize(&x)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let fdc = (lossc(0.3 + h) - lossc(0.3 - h)) / (2.0 * h);
        assert!((fdc - dsc).abs() < 1e-6, "clipped: {fdc} vs {dsc}");
        assert_eq!(dsc, 3.0 - 4.0 + 3.0); // Qp, -Qn, Qp
    }
}
