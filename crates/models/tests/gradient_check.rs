//! Analytic gradients (full precision, f64) agree with central finite differences, for the layers
//! whose candle backward is least obvious: strided and padded convolutions, batch norm in training
//! mode, max pooling, the hand-written layer norm and softmax attention.

mod common;

use candle_core::{DType, Device, Tensor};
use smallscale_models::{Model, ModelContext, build_model};

fn loss(model: &dyn Model, x: &Tensor, y: &Tensor) -> Tensor {
    let logits = model.forward_t(x, true).unwrap();
    candle_nn::loss::cross_entropy(&logits, y).unwrap()
}

fn check(config: smallscale_models::ModelConfig, shape: &[usize]) {
    let ctx = ModelContext::new(Device::Cpu)
        .with_dtype(DType::F64)
        .with_seed(4);
    let model = build_model(&config, &ctx).unwrap();
    let x = common::randn(40, shape).to_dtype(DType::F64).unwrap();
    let y = common::labels(41, shape[0], 3);
    let grads = loss(model.as_ref(), &x, &y).backward().unwrap();
    let h = 1e-6;
    for (name, var) in model.named_parameters() {
        let analytic = grads
            .get(&var)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let original = var.as_tensor().copy().unwrap();
        let base = original.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let n = base.len();
        for &i in &[0, n / 2, n - 1] {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, original.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                loss(model.as_ref(), &x, &y).to_scalar::<f64>().unwrap()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            var.set(&original).unwrap();
            let tol = 1e-5 + 1e-3 * numeric.abs().max(analytic[i].abs());
            assert!(
                (numeric - analytic[i]).abs() < tol,
                "{}: {name}[{i}] analytic {} vs numeric {numeric}",
                config.architecture(),
                analytic[i]
            );
        }
    }
}

#[test]
fn resnet_gradients_match_finite_differences() {
    check(common::tiny_resnet(), &[3, 3, 8, 8]);
}

#[test]
fn vit_gradients_match_finite_differences() {
    check(common::tiny_vit(), &[3, 3, 8, 8]);
}

#[test]
fn small_cnn_gradients_match_finite_differences() {
    check(common::tiny_cnn(), &[3, 1, 8, 8]);
}
