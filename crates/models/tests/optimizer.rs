//! The optimizers against independent implementations (candle's AdamW, PyTorch's SGD rule by
//! hand), a state free of autograd graphs, and state round trips.

use candle_core::{Device, Tensor, Var};
use candle_nn::Optimizer as _;
use smallscale_models::{Optimizer, OptimizerConfig};

/// The gradients of `sum(t^2)`.
fn grads_of_sum_of_squares(t: &Tensor) -> candle_core::backprop::GradStore {
    t.sqr().unwrap().sum_all().unwrap().backward().unwrap()
}

#[test]
fn adam_matches_candles_adamw_without_weight_decay() {
    let init = [0.5f32, -1.5, 2.0, 0.1];
    let a = Var::new(&init, &Device::Cpu).unwrap();
    let b = Var::new(&init, &Device::Cpu).unwrap();
    let mut ours = Optimizer::new(OptimizerConfig::adam(0.05), vec![("a".into(), a.clone())]);
    let params = candle_nn::ParamsAdamW {
        lr: 0.05,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let mut theirs = candle_nn::AdamW::new(vec![b.clone()], params).unwrap();
    let target = Tensor::new(&[1.0f32, 1.0, -1.0, 0.0], &Device::Cpu).unwrap();
    for _ in 0..25 {
        let ga = grads_of_sum_of_squares(&(a.as_tensor() - &target).unwrap());
        ours.step(&ga).unwrap();
        let gb = grads_of_sum_of_squares(&(b.as_tensor() - &target).unwrap());
        theirs.step(&gb).unwrap();
    }
    let (va, vb) = (
        a.as_tensor().to_vec1::<f32>().unwrap(),
        b.as_tensor().to_vec1::<f32>().unwrap(),
    );
    for (x, y) in va.iter().zip(&vb) {
        assert!((x - y).abs() < 1e-5, "{va:?} vs {vb:?}");
    }
}

#[test]
fn sgd_with_momentum_and_weight_decay_follows_pytorchs_rule() {
    let w = Var::new(&[1.0f64, -2.0], &Device::Cpu).unwrap();
    let config = OptimizerConfig::Sgd {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.01,
        nesterov: false,
    };
    let mut opt = Optimizer::new(config, vec![("w".into(), w.clone())]);
    // Manual: loss = sum(w^2), g = 2w + wd w; buf = g (first), then 0.9 buf + g; w -= lr buf.
    let mut manual = [1.0f64, -2.0];
    let mut buf = [0.0f64; 2];
    for step in 0..5 {
        let g = grads_of_sum_of_squares(w.as_tensor());
        opt.step(&g).unwrap();
        for i in 0..2 {
            let gi = 2.0 * manual[i] + 0.01 * manual[i];
            buf[i] = if step == 0 { gi } else { 0.9 * buf[i] + gi };
            manual[i] -= 0.1 * buf[i];
        }
    }
    let got = w.as_tensor().to_vec1::<f64>().unwrap();
    assert!((got[0] - manual[0]).abs() < 1e-12 && (got[1] - manual[1]).abs() < 1e-12);
}

#[test]
fn optimizer_state_keeps_no_autograd_graph() {
    // A model whose gradients come from tracked candle ops (a matmul), for Adam with weight decay and
    // SGD with momentum: nothing the optimizer keeps may hold on to a step's graph.
    for config in [
        OptimizerConfig::Adam {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        },
        OptimizerConfig::sgd(0.1),
    ] {
        let w = Var::new(&[[1.0f32, 2.0], [3.0, 4.0]], &Device::Cpu).unwrap();
        let x = Tensor::new(&[[0.5f32], [-1.0]], &Device::Cpu).unwrap();
        let mut opt = Optimizer::new(config, vec![("w".into(), w.clone())]);
        for _ in 0..3 {
            let y = w
                .as_tensor()
                .matmul(&x)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            opt.step(&y.backward().unwrap()).unwrap();
        }
        for (name, t) in opt.state().unwrap() {
            assert!(
                !t.track_op(),
                "{name} is still attached to an autograd graph ({config:?})"
            );
        }
    }
}

#[test]
fn optimizer_state_round_trips() {
    let w = Var::new(&[1.0f32, 2.0], &Device::Cpu).unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.1), vec![("w".into(), w.clone())]);
    let g = grads_of_sum_of_squares(w.as_tensor());
    opt.step(&g).unwrap();
    let state = opt.state().unwrap();
    let mut other = Optimizer::new(OptimizerConfig::adam(0.1), vec![("w".into(), w.clone())]);
    other.load_state(&state).unwrap();
    assert_eq!(other.steps(), 1);
    let bad = Var::new(&[1.0f32, 2.0, 3.0], &Device::Cpu).unwrap();
    let mut wrong = Optimizer::new(OptimizerConfig::adam(0.1), vec![("w".into(), bad)]);
    assert!(wrong.load_state(&state).is_err());
}
