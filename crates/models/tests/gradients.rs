//! A gradient reaches every trainable parameter of every model in every quantization state.

mod common;

use candle_core::Device;
use smallscale_models::{ModelContext, QuantHandle, QuantizationState, build_model};

fn states() -> Vec<(&'static str, QuantizationState)> {
    vec![
        ("off", QuantizationState::off()),
        ("reference 2-bit", QuantizationState::reference(2).unwrap()),
        ("reference 4-bit", QuantizationState::reference(4).unwrap()),
        (
            "per-channel 4-bit",
            QuantizationState::per_channel(4).unwrap(),
        ),
    ]
}

#[test]
fn every_parameter_gets_a_finite_nonzero_gradient_in_every_state() {
    for (config, shape) in common::tiny_models() {
        let quant = QuantHandle::default();
        let ctx = ModelContext::new(Device::Cpu)
            .with_quant(quant.clone())
            .with_seed(3);
        let model = build_model(&config, &ctx).unwrap();
        let x = common::randn(11, &shape);
        let y = common::labels(12, shape[0], 3);
        for (label, state) in states() {
            quant.set(state);
            let logits = model.forward_t(&x, true).unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
            let grads = loss.backward().unwrap();
            for (name, var) in model.named_parameters() {
                let g = grads.get(&var).unwrap_or_else(|| {
                    panic!(
                        "{}: no gradient for {name} ({label})",
                        config.architecture()
                    )
                });
                let values = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                assert!(
                    values.iter().all(|v| v.is_finite()),
                    "{}: non-finite gradient for {name} ({label})",
                    config.architecture()
                );
                assert!(
                    values.iter().any(|v| *v != 0.0),
                    "{}: zero gradient for {name} ({label})",
                    config.architecture()
                );
            }
        }
    }
}
