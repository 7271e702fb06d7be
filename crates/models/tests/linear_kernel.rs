//! The CPU linear kernel (`kernels::linear`) against candle's `matmul` + `broadcast_add` and
//! their autograd, with and without bias, in f32 and f64.

mod common;

use candle_core::{DType, Var};
use smallscale_models::kernels::linear;

#[test]
fn linear_kernel_matches_candle_and_its_gradients() {
    for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 2e-5)] {
        for (i, &(rows, inputs, outputs)) in [
            (1, 1, 1),
            (5, 3, 7),
            (2080, 192, 576),
            (300, 64, 10),
            (17, 33, 65),
        ]
        .iter()
        .enumerate()
        {
            for with_bias in [false, true] {
                let seed = 10 * i as u64;
                let x = Var::from_tensor(
                    &common::randn(seed, &[rows, inputs])
                        .to_dtype(dtype)
                        .unwrap(),
                )
                .unwrap();
                let w = Var::from_tensor(
                    &common::randn(seed + 1, &[outputs, inputs])
                        .to_dtype(dtype)
                        .unwrap(),
                )
                .unwrap();
                let b =
                    Var::from_tensor(&common::randn(seed + 2, &[outputs]).to_dtype(dtype).unwrap())
                        .unwrap();
                let r = common::randn(seed + 3, &[rows, outputs])
                    .to_dtype(dtype)
                    .unwrap();
                let bias = with_bias.then(|| b.as_tensor());
                let ours = linear(x.as_tensor(), w.as_tensor(), bias).unwrap();
                let mut reference = x.as_tensor().matmul(&w.as_tensor().t().unwrap()).unwrap();
                if with_bias {
                    reference = reference.broadcast_add(b.as_tensor()).unwrap();
                }
                let what = format!("{dtype:?} {rows}x{inputs}->{outputs} bias={with_bias}");
                assert!(common::rel_diff(&ours, &reference) < tol, "{what}: forward");
                let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
                let g2 = (reference * &r)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let mut vars = vec![("x", &x), ("weight", &w)];
                if with_bias {
                    vars.push(("bias", &b));
                } else {
                    assert!(g1.get(&b).is_none());
                }
                for (name, v) in vars {
                    let d = common::rel_diff(g1.get(v).unwrap(), g2.get(v).unwrap());
                    assert!(d < tol, "{what}: gradient of {name} differs by {d:e}");
                }
            }
        }
    }
}

#[test]
fn linear_kernel_reports_mismatched_shapes() {
    let x = common::randn(1, &[4, 3]);
    let err = linear(&x, &common::randn(2, &[5, 2]), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("3 features") && err.contains("expects 2"),
        "{err}"
    );
    let err = linear(
        &x,
        &common::randn(2, &[5, 3]),
        Some(&common::randn(3, &[4])),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bias has 4 elements") && err.contains("5 outputs"),
        "{err}"
    );
}
