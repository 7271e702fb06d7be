//! The fake-quant op against independent implementations of spec §1: a plain-Rust reference written
//! from the formulas, and the autograd form `s * ((round(w/s) - w/s).detach() + w/s)` built from candle
//! tensor ops.

use candle_core::{DType, Device, Tensor, Var};
use proptest::prelude::*;
use smallscale_quant_core::{
    BitWidth, MaxAbsQuantizer, PerChannelMaxAbsQuantizer, QuantError, Quantizer, ScaleGradient,
};

/// Spec §1 forward, written directly: per group, s = max|w| / K, q = s * round_half_even(w / s).
fn reference_forward<T>(w: &[T], group_len: usize, k: T) -> Vec<T>
where
    T: Copy
        + PartialOrd
        + std::ops::Div<Output = T>
        + std::ops::Mul<Output = T>
        + Default
        + RoundTies,
{
    let mut out = Vec::with_capacity(w.len());
    for group in w.chunks(group_len) {
        let mut m = T::default();
        for &v in group {
            let a = v.abs_val();
            if a > m {
                m = a;
            }
        }
        if m == T::default() {
            out.extend_from_slice(group);
            continue;
        }
        let s = m / k;
        out.extend(group.iter().map(|&v| (v / s).round_ties() * s));
    }
    out
}

trait RoundTies {
    fn round_ties(self) -> Self;
    fn abs_val(self) -> Self;
}
impl RoundTies for f32 {
    fn round_ties(self) -> Self {
        self.round_ties_even()
    }
    fn abs_val(self) -> Self {
        self.abs()
    }
}
impl RoundTies for f64 {
    fn round_ties(self) -> Self {
        self.round_ties_even()
    }
    fn abs_val(self) -> Self {
        self.abs()
    }
}

/// Spec §1 gradient in f64: dL/dw_j = g_j + [j in argmax] sign(w_j)/K * sum_i g_i (r_i - w_i/s) / ties.
fn reference_gradient(w: &[f64], g: &[f64], group_len: usize, k: f64, faithful: bool) -> Vec<f64> {
    let mut out = g.to_vec();
    if !faithful {
        return out;
    }
    for (gi, (wg, gg)) in w.chunks(group_len).zip(g.chunks(group_len)).enumerate() {
        let m = wg.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if m == 0.0 {
            continue;
        }
        let s = m / k;
        let sum: f64 = wg
            .iter()
            .zip(gg)
            .map(|(&wv, &gv)| gv * ((wv / s).round_ties_even() - wv / s))
            .sum();
        let ties: Vec<usize> = (0..wg.len()).filter(|&j| wg[j].abs() == m).collect();
        for &j in &ties {
            out[gi * group_len + j] += wg[j].signum() / k * sum / ties.len() as f64;
        }
    }
    out
}

fn op_forward_backward(
    w: &[f64],
    shape: &[usize],
    g: &[f64],
    dtype: DType,
    q: &dyn Quantizer,
) -> (Vec<f64>, Vec<f64>) {
    let x = Var::from_tensor(
        &Tensor::from_slice(w, shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap(),
    )
    .unwrap();
    let gt = Tensor::from_slice(g, shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let y = q.fake_quantize(x.as_tensor()).unwrap();
    let loss = (&y * &gt).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let dy = y
        .flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let dx = grads
        .get(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    (dy, dx)
}

fn assert_grad_close(got: &[f64], want: &[f64], rel: f64) {
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= rel * scale,
            "gradient {i}: got {a}, want {b}"
        );
    }
}

fn check_against_reference(w: &[f64], shape: &[usize], g: &[f64], bits: u32, per_channel: bool) {
    let b = BitWidth::new(bits).unwrap();
    let k = f64::from(b.max_level());
    let group_len = if per_channel {
        PerChannelMaxAbsQuantizer::channel_len(shape)
    } else {
        w.len()
    };
    for faithful in [true, false] {
        let sg = if faithful {
            ScaleGradient::Faithful
        } else {
            ScaleGradient::Detached
        };
        let q: Box<dyn Quantizer> = if per_channel {
            let q = PerChannelMaxAbsQuantizer::with_bits(b);
            Box::new(if faithful { q } else { q.with_detached_scale() })
        } else {
            Box::new(MaxAbsQuantizer::with_bits(b).with_scale_gradient(sg))
        };
        // f64: bit-exact forward, gradient to rounding.
        let (y, dx) = op_forward_backward(w, shape, g, DType::F64, q.as_ref());
        let want = reference_forward(w, group_len, k);
        for (a, b) in y.iter().zip(&want) {
            assert_eq!(a.to_bits(), b.to_bits(), "f64 forward differs: {a} vs {b}");
        }
        assert_grad_close(
            &dx,
            &reference_gradient(w, g, group_len, k, faithful),
            1e-12,
        );
        // f32: bit-exact against the same formula evaluated in f32.
        let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        let (y, dx) = op_forward_backward(w, shape, g, DType::F32, q.as_ref());
        let want = reference_forward(&w32, group_len, k as f32);
        for (a, b) in y.iter().zip(&want) {
            assert_eq!(
                (*a as f32).to_bits(),
                b.to_bits(),
                "f32 forward differs: {a} vs {b}"
            );
        }
        let w32_64: Vec<f64> = w32.iter().map(|&v| f64::from(v)).collect();
        let g32_64: Vec<f64> = g.iter().map(|&v| f64::from(v as f32)).collect();
        assert_grad_close(
            &dx,
            &reference_gradient(&w32_64, &g32_64, group_len, k, faithful),
            1e-5,
        );
    }
}

#[test]
fn spec_examples_ternary_and_three_bit() {
    // b = 2: K = 1, levels {-s, 0, s}.
    let w = [0.4, -0.2, 0.1, -0.05];
    let q = MaxAbsQuantizer::new(2).unwrap();
    let t = Tensor::new(&w, &Device::Cpu).unwrap();
    assert_eq!(
        q.fake_quantize(&t).unwrap().to_vec1::<f64>().unwrap(),
        [0.4, -0.0, 0.0, -0.0]
    );
    // -0.2 / 0.4 = -0.5 is a tie: half to even gives -0, not -1.
    let codes = q.quantize(&t).unwrap().codes;
    assert_eq!(codes, [1, 0, 0, 0]);
    // b = 3: 7 levels, codes in [-3, 3].
    let q3 = MaxAbsQuantizer::new(3).unwrap();
    let w3 = Tensor::new(&[3.0f64, -2.5, 1.5, 0.5, -0.49], &Device::Cpu).unwrap();
    assert_eq!(q3.quantize(&w3).unwrap().codes, [3, -2, 2, 0, 0]);
    // b = 8: 255 levels, the code -128 is never used.
    let w8: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) / 37.0).collect();
    let codes = MaxAbsQuantizer::new(8)
        .unwrap()
        .quantize(&Tensor::new(w8.as_slice(), &Device::Cpu).unwrap())
        .unwrap();
    assert_eq!(*codes.codes.iter().min().unwrap(), -127);
    assert_eq!(*codes.codes.iter().max().unwrap(), 127);
}

#[test]
fn ties_of_the_maximum_split_the_scale_gradient_evenly() {
    // Every element is a tie (a LayerNorm gamma initialized to one), and a mixed case.
    check_against_reference(&[1.0; 6], &[6], &[0.3, -0.2, 0.5, 0.1, 0.0, 0.7], 2, false);
    check_against_reference(
        &[0.7, -0.7, 0.2, 0.7, -0.1],
        &[5],
        &[1.0, 2.0, -1.0, 0.5, 0.25],
        3,
        false,
    );
    check_against_reference(
        &[0.7, -0.7, 0.2, 0.7, -0.1, 0.3],
        &[2, 3],
        &[1.0, 2.0, -1.0, 0.5, 0.25, 1.5],
        3,
        true,
    );
}

#[test]
fn all_zero_tensor_is_returned_unchanged_with_the_plain_gradient() {
    for q in [
        Box::new(MaxAbsQuantizer::new(4).unwrap()) as Box<dyn Quantizer>,
        Box::new(PerChannelMaxAbsQuantizer::new(4).unwrap()),
    ] {
        let x = Var::zeros((3, 4), DType::F32, &Device::Cpu).unwrap();
        let y = q.fake_quantize(x.as_tensor()).unwrap();
        assert_eq!(y.to_vec2::<f32>().unwrap(), vec![vec![0.0; 4]; 3]);
        let grads = (y * 2.0).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(
            grads.get(&x).unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![2.0; 4]; 3]
        );
    }
    // One zero channel among non-zero ones.
    check_against_reference(
        &[0.0, 0.0, 0.5, -1.0],
        &[2, 2],
        &[1.0, -1.0, 0.5, 0.5],
        2,
        true,
    );
}

#[test]
fn non_finite_inputs_and_bad_bits_are_clear_errors() {
    let x = Tensor::new(&[0.1f32, f32::NAN, 0.3], &Device::Cpu).unwrap();
    let err = MaxAbsQuantizer::new(4)
        .unwrap()
        .fake_quantize(&x)
        .unwrap_err();
    assert!(
        matches!(err, QuantError::NonFinite { index: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("index 1"));
    let x = Tensor::new(&[0.1f64, 0.2, f64::NEG_INFINITY], &Device::Cpu).unwrap();
    let err = PerChannelMaxAbsQuantizer::new(4)
        .unwrap()
        .fake_quantize(&x)
        .unwrap_err();
    assert!(
        matches!(err, QuantError::NonFinite { index: 2, .. }),
        "{err}"
    );
    for bits in [0, 1, 17, 100] {
        let err = MaxAbsQuantizer::new(bits).unwrap_err();
        assert!(err.to_string().contains("from 2 to 16"), "{err}");
    }
    let ints = Tensor::new(&[1u32, 2], &Device::Cpu).unwrap();
    assert!(matches!(
        MaxAbsQuantizer::new(4).unwrap().fake_quantize(&ints),
        Err(QuantError::UnsupportedDType { .. })
    ));
}

#[test]
fn autograd_form_agrees_with_the_op() {
    // s * ((round(w/s) - w/s).detach() + w/s), with s = max|w| / K built from candle ops (candle's
    // max backward does not split ties, so the data here has a unique maximum; candle's round is half
    // away from zero, so the data has no exact halves).
    let mut w: Vec<f32> = (0..257)
        .map(|i| ((i * 37 % 101) as f32 - 50.3) / 17.0)
        .collect();
    w[100] = -3.3; // the unique maximum of |w|
    let g: Vec<f32> = (0..257)
        .map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0)
        .collect();
    for bits in [2u32, 3, 4, 8] {
        let k = f32::from(BitWidth::new(bits).unwrap().max_level() as u16);
        let x = Var::new(w.as_slice(), &Device::Cpu).unwrap();
        let gt = Tensor::new(g.as_slice(), &Device::Cpu).unwrap();
        let kt = Tensor::new(k, &Device::Cpu).unwrap();
        let s = x
            .as_tensor()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .broadcast_div(&kt)
            .unwrap();
        let z = x.as_tensor().broadcast_div(&s).unwrap();
        let r = z.round().unwrap();
        let ste = ((r - &z).unwrap().detach() + &z).unwrap();
        let y_ref = ste.broadcast_mul(&s).unwrap();
        let grads_ref = (&y_ref * &gt)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();

        let x2 = Var::new(w.as_slice(), &Device::Cpu).unwrap();
        let y = MaxAbsQuantizer::new(bits)
            .unwrap()
            .fake_quantize(x2.as_tensor())
            .unwrap();
        let grads = (&y * &gt).unwrap().sum_all().unwrap().backward().unwrap();

        let a = y.to_vec1::<f32>().unwrap();
        let b = y_ref.to_vec1::<f32>().unwrap();
        for (u, v) in a.iter().zip(&b) {
            assert!(
                (u - v).abs() <= 1e-6 * v.abs().max(1.0),
                "bits {bits}: {u} vs {v}"
            );
        }
        let ga = grads.get(&x2).unwrap().to_vec1::<f32>().unwrap();
        let gb = grads_ref.get(&x).unwrap().to_vec1::<f32>().unwrap();
        for (u, v) in ga.iter().zip(&gb) {
            assert!(
                (u - v).abs() <= 1e-4 * v.abs().max(1.0),
                "bits {bits}: grad {u} vs {v}"
            );
        }
    }
}

#[test]
fn large_tensors_take_the_parallel_path_and_stay_exact() {
    let n = 300_007;
    let w: Vec<f64> = (0..n)
        .map(|i| (((i as u64 * 2_654_435_761) % 1_000_003) as f64 / 1_000_003.0 - 0.5) * 3.0)
        .collect();
    let g: Vec<f64> = (0..n).map(|i| ((i % 17) as f64 - 8.0) / 8.0).collect();
    check_against_reference(&w, &[n], &g, 4, false);
    check_against_reference(&w[..300_000], &[3, 100_000], &g[..300_000], 3, true);
    check_against_reference(&w[..300_000], &[3000, 100], &g[..300_000], 5, true);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn op_matches_reference(
        bits in 2u32..=8,
        rows in 1usize..6,
        cols in 1usize..40,
        per_channel: bool,
        seed in any::<u64>(),
    ) {
        let n = rows * cols;
        let mut state = seed | 1;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let w: Vec<f64> = (0..n).map(|_| next() * 4.0).collect();
        let g: Vec<f64> = (0..n).map(|_| next()).collect();
        check_against_reference(&w, &[rows, cols], &g, bits, per_channel);
    }

    #[test]
    fn codes_lie_in_range_and_dequantize_to_the_fake_quantized_values(
        bits in 2u32..=16,
        w in proptest::collection::vec(-100.0f32..100.0, 1..200),
    ) {
        let q = MaxAbsQuantizer::new(bits).unwrap();
        let t = Tensor::new(w.as_slice(), &Device::Cpu).unwrap();
        let codes = q.quantize(&t).unwrap();
        let k = BitWidth::new(bits).unwrap().max_level() as i32;
        prop_assert!(codes.codes.iter().all(|&c| (-k..=k).contains(&c)));
        let fake = q.fake_quantize(&t).unwrap().to_vec1::<f32>().unwrap();
        let deq = codes.dequantize(&Device::Cpu).unwrap().to_vec1::<f32>().unwrap();
        for (a, b) in fake.iter().zip(&deq) {
            prop_assert_eq!(a.to_bits() & 0x7fff_ffff, b.to_bits() & 0x7fff_ffff);
        }
    }
}
