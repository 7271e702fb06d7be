//! CUDA kernels against the CPU op, bit for bit (forward) and to rounding (backward, whose sums are
//! accumulated in a different order). Built only with the `cuda` feature; run on a machine with a
//! GPU (`scripts/gpu-check.sh`).
#![cfg(feature = "cuda")]

use candle_core::{DType, Device, Tensor, Var};
use smallscale_quant_core::{
    AsymmetricQuantizer, MaxAbsQuantizer, PerChannelMaxAbsQuantizer, QuantError, Quantizer,
    round_half_even_ste,
};

fn gpu() -> Device {
    Device::new_cuda(0).expect("a CUDA device (these tests need a GPU)")
}

fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32 * 3.0
        })
        .collect()
}

fn forward_backward(
    q: &dyn Quantizer,
    w: &[f32],
    shape: &[usize],
    g: &[f32],
    dev: &Device,
    dtype: DType,
) -> (Vec<f64>, Vec<f64>) {
    let x = Var::from_tensor(
        &Tensor::from_slice(w, shape, dev)
            .unwrap()
            .to_dtype(dtype)
            .unwrap(),
    )
    .unwrap();
    let gt = Tensor::from_slice(g, shape, dev)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let y = q.fake_quantize(x.as_tensor()).unwrap();
    let grads = (&y * &gt).unwrap().sum_all().unwrap().backward().unwrap();
    let to_host = |t: &Tensor| {
        t.flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_device(&Device::Cpu)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    (to_host(&y), to_host(grads.get(&x).unwrap()))
}

#[test]
fn cuda_forward_is_bit_identical_and_backward_agrees() {
    let dev = gpu();
    let cases: Vec<Vec<usize>> = vec![
        vec![1],
        vec![1000],
        vec![64, 3, 3, 3],
        vec![4096, 4096],
        vec![10, 100_003],
        vec![16_777_216],
    ];
    for shape in cases {
        let n: usize = shape.iter().product();
        let mut w = data(n, n as u64);
        if n > 8 {
            w[3] = 2.0;
            w[n - 1] = -2.0; // a tie of the maximum
        }
        let g = data(n, 7 + n as u64);
        for dtype in [DType::F32, DType::F64] {
            for bits in [2u32, 3, 4, 8] {
                let qs: Vec<Box<dyn Quantizer>> = vec![
                    Box::new(MaxAbsQuantizer::new(bits).unwrap()),
                    Box::new(MaxAbsQuantizer::new(bits).unwrap().with_detached_scale()),
                    Box::new(PerChannelMaxAbsQuantizer::new(bits).unwrap()),
                ];
                for q in qs {
                    let (yc, gc) =
                        forward_backward(q.as_ref(), &w, &shape, &g, &Device::Cpu, dtype);
                    let (yg, gg) = forward_backward(q.as_ref(), &w, &shape, &g, &dev, dtype);
                    for (i, (a, b)) in yc.iter().zip(&yg).enumerate() {
                        assert_eq!(
                            a.to_bits(),
                            b.to_bits(),
                            "{shape:?} {dtype:?} {bits} bits {q:?}: forward {i}: {a} vs {b}"
                        );
                    }
                    let scale = gc.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                    let tol = if dtype == DType::F32 { 1e-5 } else { 1e-10 } * scale;
                    for (i, (a, b)) in gc.iter().zip(&gg).enumerate() {
                        assert!(
                            (a - b).abs() <= tol,
                            "{shape:?} {dtype:?} {bits} bits {q:?}: gradient {i}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn cuda_all_zero_nan_and_rounding() {
    let dev = gpu();
    let zeros = Tensor::zeros((3, 5), DType::F32, &dev).unwrap();
    let q = MaxAbsQuantizer::new(3).unwrap();
    assert_eq!(
        q.fake_quantize(&zeros).unwrap().to_vec2::<f32>().unwrap(),
        vec![vec![0.0; 5]; 3]
    );
    let nan = Tensor::new(&[0.5f32, 1.0, f32::NAN, 2.0], &dev).unwrap();
    let err = q.fake_quantize(&nan).unwrap_err();
    assert!(
        matches!(err, QuantError::NonFinite { index: 2, .. }),
        "{err}"
    );
    let halves = Tensor::new(&[0.5f32, 1.5, 2.5, -0.5, -1.5, 3.7], &dev).unwrap();
    assert_eq!(
        round_half_even_ste(&halves)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        [0.0, 2.0, 2.0, -0.0, -2.0, 4.0]
    );
    // Asymmetric runs on CUDA through tensor ops and matches the CPU.
    let w = data(10_000, 3);
    let a = AsymmetricQuantizer::new(4).unwrap();
    let cpu = a
        .fake_quantize(&Tensor::new(w.as_slice(), &Device::Cpu).unwrap())
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let gpu = a
        .fake_quantize(&Tensor::new(w.as_slice(), &dev).unwrap())
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(cpu, gpu);
}
