//! The row-wise CPU kernels of the ViT path (`kernels::layer_norm`, `softmax_last_dim`,
//! `gelu_erf`) against the same formulas as candle tensor operations differentiated by candle's
//! autograd, and the GELU derivative against central finite differences.

mod common;

use candle_core::{D, DType, Tensor, Var};
use smallscale_models::kernels::{gelu_erf, layer_norm, softmax_last_dim};

/// Value and gradients (for `vars`) of `sum(r * f())`.
fn value_and_grads(y: Tensor, r: &Tensor, vars: &[&Var]) -> (Tensor, Vec<Tensor>) {
    let grads = (y.clone() * r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    (
        y,
        vars.iter().map(|v| grads.get(v).unwrap().clone()).collect(),
    )
}

const SHAPES: &[&[usize]] = &[&[7, 5], &[2, 3, 65, 65], &[4, 9, 192], &[1, 1]];

#[test]
fn layer_norm_kernel_matches_tensor_operations() {
    for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 2e-5)] {
        for (i, shape) in SHAPES.iter().enumerate() {
            let d = *shape.last().unwrap();
            let seed = 10 * i as u64;
            let x = Var::from_tensor(
                &common::randn(seed, shape)
                    .affine(2.0, 0.7)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap(),
            )
            .unwrap();
            let g =
                Var::from_tensor(&common::randn(seed + 1, &[d]).to_dtype(dtype).unwrap()).unwrap();
            let b =
                Var::from_tensor(&common::randn(seed + 2, &[d]).to_dtype(dtype).unwrap()).unwrap();
            let r = common::randn(seed + 3, shape).to_dtype(dtype).unwrap();
            let eps = 1e-6;
            let ours = layer_norm(x.as_tensor(), g.as_tensor(), b.as_tensor(), eps).unwrap();
            let xt = x.as_tensor();
            let mean = xt.mean_keepdim(D::Minus1).unwrap();
            let c = xt.broadcast_sub(&mean).unwrap();
            let var = c.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
            let reference = c
                .broadcast_div(&(var + eps).unwrap().sqrt().unwrap())
                .unwrap()
                .broadcast_mul(g.as_tensor())
                .unwrap()
                .broadcast_add(b.as_tensor())
                .unwrap();
            let (y1, g1) = value_and_grads(ours, &r, &[&x, &g, &b]);
            let (y2, g2) = value_and_grads(reference, &r, &[&x, &g, &b]);
            assert!(
                common::rel_diff(&y1, &y2) < tol,
                "{dtype:?} {shape:?} forward"
            );
            for (name, (a, e)) in ["x", "gamma", "beta"].iter().zip(g1.iter().zip(&g2)) {
                let diff = common::rel_diff(a, e);
                assert!(
                    diff < tol,
                    "{dtype:?} {shape:?} gradient of {name}: {diff:e}"
                );
            }
        }
    }
}

#[test]
fn softmax_kernel_matches_tensor_operations() {
    for (dtype, tol) in [(DType::F64, 1e-13), (DType::F32, 1e-5)] {
        for (i, shape) in SHAPES.iter().enumerate() {
            let seed = 20 * i as u64;
            let x = Var::from_tensor(
                &common::randn(seed, shape)
                    .affine(3.0, 0.0)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap(),
            )
            .unwrap();
            let r = common::randn(seed + 1, shape).to_dtype(dtype).unwrap();
            let ours = softmax_last_dim(x.as_tensor()).unwrap();
            let e = x.as_tensor().exp().unwrap();
            let reference = e.broadcast_div(&e.sum_keepdim(D::Minus1).unwrap()).unwrap();
            let (y1, g1) = value_and_grads(ours, &r, &[&x]);
            let (y2, g2) = value_and_grads(reference, &r, &[&x]);
            assert!(
                common::rel_diff(&y1, &y2) < tol,
                "{dtype:?} {shape:?} forward"
            );
            let diff = common::rel_diff(&g1[0], &g2[0]);
            assert!(diff < tol, "{dtype:?} {shape:?} gradient: {diff:e}");
        }
    }
    // Large logits: the maximum is subtracted, so nothing overflows.
    let p =
        softmax_last_dim(&Tensor::new(&[[1000.0f32, 999.0]], &candle_core::Device::Cpu).unwrap())
            .unwrap();
    let p = p.to_vec2::<f32>().unwrap();
    assert!((p[0][0] - 0.731_058_6).abs() < 1e-6 && p[0][0].is_finite());
}

#[test]
fn gelu_kernel_matches_candle_and_finite_differences() {
    let x = Var::from_tensor(
        &common::randn(5, &[3, 50])
            .affine(2.5, 0.0)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap(),
    )
    .unwrap();
    let r = common::randn(6, &[3, 50]).to_dtype(DType::F64).unwrap();
    let (y1, g1) = value_and_grads(gelu_erf(x.as_tensor()).unwrap(), &r, &[&x]);
    let (y2, g2) = value_and_grads(x.as_tensor().gelu_erf().unwrap(), &r, &[&x]);
    assert!(common::rel_diff(&y1, &y2) < 1e-12, "forward");
    // candle's backward rounds 1/sqrt(2 pi) to 0.398942, so it is only close.
    assert!(common::rel_diff(&g1[0], &g2[0]) < 1e-6, "candle's gradient");
    let xs = common::to_f64(x.as_tensor());
    let rs = common::to_f64(&r);
    let h = 1e-6;
    let f = |v: f64| {
        let t = Tensor::new(&[v], &candle_core::Device::Cpu).unwrap();
        gelu_erf(&t).unwrap().to_vec1::<f64>().unwrap()[0]
    };
    for (j, (&v, &rj)) in xs.iter().zip(&rs).enumerate() {
        let fd = (f(v + h) - f(v - h)) / (2.0 * h) * rj;
        let analytic = common::to_f64(&g1[0])[j];
        assert!(
            (fd - analytic).abs() < 1e-7 * (1.0 + fd.abs()),
            "x = {v}: {analytic} vs {fd}"
        );
    }
    // f32 agrees with f64 to f32 rounding.
    let x32 = x.as_tensor().to_dtype(DType::F32).unwrap();
    assert!(common::rel_diff(&gelu_erf(&x32).unwrap(), &y1) < 1e-6);
}

#[test]
fn row_kernels_report_bad_shapes() {
    let x = common::randn(1, &[2, 4]);
    let err = layer_norm(&x, &common::randn(2, &[3]), &common::randn(3, &[4]), 1e-5)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gamma has 3 elements") && err.contains("rows have 4"),
        "{err}"
    );
    let empty = Tensor::zeros((2, 0), DType::F32, &candle_core::Device::Cpu).unwrap();
    assert!(
        softmax_last_dim(&empty)
            .unwrap_err()
            .to_string()
            .contains("non-empty last dimension")
    );
}

#[test]
fn layer_norm_parameter_gradients_are_bitwise_reproducible() {
    let run = || {
        let x = common::randn(1, &[40, 65, 32]);
        let g = Var::from_tensor(&common::randn(2, &[32])).unwrap();
        let b = Var::from_tensor(&common::randn(3, &[32])).unwrap();
        let y = layer_norm(&x, g.as_tensor(), b.as_tensor(), 1e-6).unwrap();
        let grads = (y * common::randn(4, &[40, 65, 32]))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        (
            common::to_f64(grads.get(&g).unwrap()),
            common::to_f64(grads.get(&b).unwrap()),
        )
    };
    let first = run();
    for _ in 0..5 {
        assert!(run() == first, "a rerun gave different gradient bits");
    }
}

#[test]
fn add_relu_kernel_matches_tensor_operations() {
    use smallscale_models::kernels::add_relu;
    for dtype in [DType::F64, DType::F32] {
        let a =
            Var::from_tensor(&common::randn(1, &[4, 3, 7, 5]).to_dtype(dtype).unwrap()).unwrap();
        let b =
            Var::from_tensor(&common::randn(2, &[4, 3, 7, 5]).to_dtype(dtype).unwrap()).unwrap();
        let r = common::randn(3, &[4, 3, 7, 5]).to_dtype(dtype).unwrap();
        let ours = add_relu(a.as_tensor(), b.as_tensor()).unwrap();
        let reference = (a.as_tensor() + b.as_tensor()).unwrap().relu().unwrap();
        let (y1, g1) = value_and_grads(ours, &r, &[&a, &b]);
        let (y2, g2) = value_and_grads(reference, &r, &[&a, &b]);
        assert_eq!(
            common::to_f64(&y1),
            common::to_f64(&y2),
            "{dtype:?} forward"
        );
        for (x, e) in g1.iter().zip(&g2) {
            // Random inputs never sum to exactly 0, where the two ReLU conventions differ.
            assert_eq!(common::to_f64(x), common::to_f64(e), "{dtype:?} gradient");
        }
    }
    let err = add_relu(&common::randn(1, &[2, 3]), &common::randn(2, &[3, 2]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("one shape"), "{err}");
}
