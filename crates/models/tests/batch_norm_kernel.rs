//! The fused CPU batch-norm kernel (`kernels::batch_norm`, with and without ReLU, batch and fixed
//! statistics) against the same formula written as candle tensor operations and differentiated
//! by candle's autograd.

mod common;

use candle_core::{DType, Tensor, Var};
use smallscale_models::kernels::{BatchNormMode, ChannelStats, batch_norm, channel_stats};

const EPS: f64 = 1e-5;

/// The reference: tensor operations, statistics from the tensor itself in batch mode.
fn reference(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    stats: Option<&ChannelStats>,
    relu: bool,
) -> Tensor {
    let c = x.dim(1).unwrap();
    let shape = (1, c, 1, 1);
    let (mean, var) = match stats {
        None => {
            let mean = x.mean_keepdim((0, 2, 3)).unwrap();
            let var = x
                .broadcast_sub(&mean)
                .unwrap()
                .sqr()
                .unwrap()
                .mean_keepdim((0, 2, 3))
                .unwrap();
            (mean, var)
        }
        Some(s) => (
            Tensor::new(s.mean.as_slice(), x.device())
                .unwrap()
                .to_dtype(x.dtype())
                .unwrap()
                .reshape(shape)
                .unwrap(),
            Tensor::new(s.var.as_slice(), x.device())
                .unwrap()
                .to_dtype(x.dtype())
                .unwrap()
                .reshape(shape)
                .unwrap(),
        ),
    };
    let y = x
        .broadcast_sub(&mean)
        .unwrap()
        .broadcast_div(&(var + EPS).unwrap().sqrt().unwrap())
        .unwrap()
        .broadcast_mul(&gamma.reshape(shape).unwrap())
        .unwrap()
        .broadcast_add(&beta.reshape(shape).unwrap())
        .unwrap();
    if relu { y.relu().unwrap() } else { y }
}

#[test]
fn batch_norm_kernel_matches_tensor_operations_and_their_gradients() {
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-11 } else { 3e-5 };
        for (i, &(n, c, h, w)) in [(4, 3, 5, 5), (2, 8, 1, 1), (3, 2, 7, 3), (32, 4, 2, 2)]
            .iter()
            .enumerate()
        {
            for relu in [false, true] {
                for fixed in [false, true] {
                    let seed = 100 * i as u64;
                    // An offset mean, so centring matters.
                    let x = Var::from_tensor(
                        &common::randn(seed, &[n, c, h, w])
                            .affine(3.0, 1.5)
                            .unwrap()
                            .to_dtype(dtype)
                            .unwrap(),
                    )
                    .unwrap();
                    let gamma =
                        Var::from_tensor(&common::randn(seed + 1, &[c]).to_dtype(dtype).unwrap())
                            .unwrap();
                    let beta =
                        Var::from_tensor(&common::randn(seed + 2, &[c]).to_dtype(dtype).unwrap())
                            .unwrap();
                    let fixed_stats = ChannelStats {
                        mean: (0..c).map(|j| 0.3 * j as f64 - 0.2).collect(),
                        var: (0..c).map(|j| 0.5 + j as f64).collect(),
                    };
                    let (stats, mode) = if fixed {
                        (fixed_stats.clone(), BatchNormMode::FixedStatistics)
                    } else {
                        (
                            channel_stats(x.as_tensor()).unwrap(),
                            BatchNormMode::BatchStatistics,
                        )
                    };
                    let ours = batch_norm(
                        x.as_tensor(),
                        gamma.as_tensor(),
                        beta.as_tensor(),
                        &stats,
                        EPS,
                        mode,
                        relu,
                    )
                    .unwrap();
                    let want = reference(
                        x.as_tensor(),
                        gamma.as_tensor(),
                        beta.as_tensor(),
                        fixed.then_some(&fixed_stats),
                        relu,
                    );
                    let what = format!("{dtype:?} {:?} relu={relu} fixed={fixed}", (n, c, h, w));
                    assert!(common::rel_diff(&ours, &want) < tol, "{what}: forward");
                    let r = common::randn(seed + 3, &[n, c, h, w])
                        .to_dtype(dtype)
                        .unwrap();
                    let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
                    let g2 = (want * &r).unwrap().sum_all().unwrap().backward().unwrap();
                    for (name, v) in [("x", &x), ("gamma", &gamma), ("beta", &beta)] {
                        let d = common::rel_diff(g1.get(v).unwrap(), g2.get(v).unwrap());
                        assert!(d < tol, "{what}: gradient of {name} differs by {d:e}");
                    }
                }
            }
        }
    }
}

#[test]
fn channel_stats_are_two_pass_f64_mean_and_biased_variance() {
    // A large offset with a small spread: a one-pass sum of squares in f32 would lose it.
    let v: Vec<f32> = (0..64).map(|i| 1000.0 + (i % 4) as f32 * 0.25).collect();
    let x = Tensor::from_vec(v, (16, 1, 2, 2), &candle_core::Device::Cpu).unwrap();
    let s = channel_stats(&x).unwrap();
    assert!((s.mean[0] - 1000.375).abs() < 1e-9);
    // values 0, .25, .5, .75 around their mean .375: variance 0.078125
    assert!((s.var[0] - 0.078125).abs() < 1e-9);
}

#[test]
fn batch_norm_kernel_reports_mismatched_parameters() {
    let x = common::randn(1, &[2, 3, 2, 2]);
    let stats = channel_stats(&x).unwrap();
    let gamma = common::randn(2, &[4]);
    let beta = common::randn(3, &[3]);
    let err = batch_norm(
        &x,
        &gamma,
        &beta,
        &stats,
        EPS,
        BatchNormMode::BatchStatistics,
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("gamma has 4 elements") && err.contains("3 channels"),
        "{err}"
    );
}

#[test]
fn batch_norm_fallback_keeps_the_batch_statistics_gradient() {
    // gamma and beta in f64 with an f32 input: the kernel does not apply and the tensor-operation
    // path runs; in batch mode its gradient must still flow through the mean and the variance.
    let x = Var::from_tensor(&common::randn(1, &[4, 3, 5, 5]).affine(2.0, 1.0).unwrap()).unwrap();
    let gamma = common::randn(2, &[3]).to_dtype(DType::F64).unwrap();
    let beta = common::randn(3, &[3]).to_dtype(DType::F64).unwrap();
    let stats = channel_stats(x.as_tensor()).unwrap();
    let y = batch_norm(
        x.as_tensor(),
        &gamma,
        &beta,
        &stats,
        EPS,
        BatchNormMode::BatchStatistics,
        true,
    )
    .unwrap();
    let g32 = gamma.to_dtype(DType::F32).unwrap();
    let b32 = beta.to_dtype(DType::F32).unwrap();
    let want = reference(x.as_tensor(), &g32, &b32, None, true);
    assert!(common::rel_diff(&y, &want) < 3e-5);
    let r = common::randn(4, &[4, 3, 5, 5]);
    let g1 = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let g2 = (want * &r).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(common::rel_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap()) < 3e-5);
}
