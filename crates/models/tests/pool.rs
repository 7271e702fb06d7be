//! 2x2 max pooling: the forward value and PyTorch's gradient rule (each window's gradient to its
//! first maximum in row-major order), against brute force, finite differences and tied windows.

use candle_core::{Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smallscale_models::max_pool2x2;

const SHAPE: (usize, usize, usize, usize) = (2, 3, 4, 6);

fn index(n: usize, c: usize, y: usize, x: usize) -> usize {
    let (_, cs, hs, ws) = SHAPE;
    ((n * cs + c) * hs + y) * ws + x
}

/// The pooled values and, for upstream gradient `g`, the input gradient under PyTorch's rule.
fn brute_force(x: &[f32], g: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (ns, cs, hs, ws) = SHAPE;
    let mut y = Vec::new();
    let mut dx = vec![0.0; x.len()];
    let mut out = 0;
    for n in 0..ns {
        for c in 0..cs {
            for oy in 0..hs / 2 {
                for ox in 0..ws / 2 {
                    let mut best = index(n, c, 2 * oy, 2 * ox);
                    for (ky, kx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let i = index(n, c, 2 * oy + ky, 2 * ox + kx);
                        if x[i] > x[best] {
                            best = i; // strictly greater: the first maximum stays
                        }
                    }
                    y.push(x[best]);
                    dx[best] += g[out];
                    out += 1;
                }
            }
        }
    }
    (y, dx)
}

fn pool_and_grad(x: &[f32], g: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let dev = Device::Cpu;
    let xv = Var::from_tensor(&Tensor::from_slice(x, SHAPE, &dev).unwrap()).unwrap();
    let y = max_pool2x2(xv.as_tensor()).unwrap();
    let gt = Tensor::from_slice(g, y.shape(), &dev).unwrap();
    let grads = (&y * &gt).unwrap().sum_all().unwrap().backward().unwrap();
    (
        y.flatten_all().unwrap().to_vec1().unwrap(),
        grads
            .get(&xv)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap(),
    )
}

fn inputs(rng: &mut ChaCha8Rng, tied: bool) -> (Vec<f32>, Vec<f32>) {
    let (ns, cs, hs, ws) = SHAPE;
    let x = (0..ns * cs * hs * ws)
        .map(|_| {
            if tied {
                // Few distinct values: most windows hold tied maxima (as after ReLU and quantization).
                f32::from(rng.random_range(0u8..3))
            } else {
                rng.random_range(-1.0f32..1.0)
            }
        })
        .collect();
    let g = (0..ns * cs * hs * ws / 4)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    (x, g)
}

#[test]
fn tied_windows_send_the_gradient_to_the_first_maximum_only() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut tied_windows = 0;
    for _ in 0..20 {
        let (x, g) = inputs(&mut rng, true);
        let (y, dx) = pool_and_grad(&x, &g);
        let (y_ref, dx_ref) = brute_force(&x, &g);
        assert_eq!(y, y_ref);
        assert_eq!(dx, dx_ref);
        tied_windows += x.chunks(2).filter(|pair| pair[0] == pair[1]).count();
        // Each window passes exactly its upstream gradient, once.
        let total: f32 = dx.iter().sum();
        let upstream: f32 = g.iter().sum();
        assert!((total - upstream).abs() < 1e-4, "{total} vs {upstream}");
    }
    assert!(tied_windows > 100, "the inputs do hold ties");
}

#[test]
fn untied_windows_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (x, g) = inputs(&mut rng, false);
    let (_, dx) = pool_and_grad(&x, &g);
    let loss = |x: &[f32]| -> f64 {
        let (y, _) = brute_force(x, &g);
        y.iter()
            .zip(&g)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum()
    };
    let eps = 1e-3f32;
    for i in 0..x.len() {
        let (mut up, mut down) = (x.clone(), x.clone());
        up[i] += eps;
        down[i] -= eps;
        let fd = (loss(&up) - loss(&down)) / (2.0 * f64::from(eps));
        assert!(
            (fd - f64::from(dx[i])).abs() < 1e-3,
            "input {i}: {fd} vs {}",
            dx[i]
        );
    }
}

#[test]
fn a_nan_in_a_window_is_not_hidden() {
    let mut x = vec![0.5f32; SHAPE.0 * SHAPE.1 * SHAPE.2 * SHAPE.3];
    x[index(0, 0, 0, 1)] = f32::NAN;
    let t = Tensor::from_slice(&x, SHAPE, &Device::Cpu).unwrap();
    let y: Vec<f32> = max_pool2x2(&t)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(y[0].is_nan());
    assert!(y[1..].iter().all(|v| *v == 0.5));
}

/// The CPU kernel and the tensor-operation form (what other devices run) agree bit for bit, on
/// tied, untied and non-finite windows, in `f32` and `f64`.
#[test]
fn the_cpu_kernel_and_the_tensor_operations_agree() {
    use smallscale_models::kernels::set_cpu_kernels_enabled;
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let dev = Device::Cpu;
    for case in 0..6 {
        let (mut x, g) = inputs(&mut rng, case % 2 == 0);
        if case >= 4 {
            x[index(0, 0, 0, 0)] = f32::INFINITY;
            x[index(1, 2, 3, 5)] = f32::NEG_INFINITY;
            x[index(0, 1, 2, 2)] = f32::NAN;
        }
        for dtype in [candle_core::DType::F32, candle_core::DType::F64] {
            let run = |kernels: bool| {
                set_cpu_kernels_enabled(kernels);
                let t = Tensor::from_slice(&x, SHAPE, &dev)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                let xv = Var::from_tensor(&t).unwrap();
                let y = max_pool2x2(xv.as_tensor()).unwrap();
                let gt = Tensor::from_slice(&g, y.shape(), &dev)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                let grads = (&y * &gt).unwrap().sum_all().unwrap().backward().unwrap();
                let dx = grads
                    .get(&xv)
                    .unwrap()
                    .to_dtype(candle_core::DType::F64)
                    .unwrap();
                set_cpu_kernels_enabled(true);
                let y: Vec<f64> = y
                    .to_dtype(candle_core::DType::F64)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                let dx: Vec<f64> = dx.flatten_all().unwrap().to_vec1().unwrap();
                (y, dx)
            };
            let (y_kernel, dx_kernel) = run(true);
            let (y_ops, dx_ops) = run(false);
            let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&y_kernel),
                bits(&y_ops),
                "forward, case {case}, {dtype:?}"
            );
            if case < 4 {
                assert_eq!(
                    bits(&dx_kernel),
                    bits(&dx_ops),
                    "backward, case {case}, {dtype:?}"
                );
                let (y_ref, dx_ref) = brute_force(&x, &g);
                let widen = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<_>>();
                assert_eq!(bits(&y_kernel), bits(&widen(&y_ref)));
                if dtype == candle_core::DType::F32 {
                    assert_eq!(bits(&dx_kernel), bits(&widen(&dx_ref)));
                }
            }
        }
    }
}
