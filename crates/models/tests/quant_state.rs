//! Switching the quantization state, the exclude list and the list of quantized weights.

mod common;

use std::sync::{Arc, Mutex};

use candle_core::{Device, Tensor};
use smallscale_models::{ModelContext, ModelError, QuantHandle, QuantizationState, build_model};
use smallscale_quant_core::{
    BitWidth, MaxAbsQuantizer, QuantScheme, QuantizedTensor, Quantizer, TensorSelector,
};

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn switching_changes_the_output_and_off_reproduces_full_precision_exactly() {
    for (config, shape) in common::tiny_models() {
        let quant = QuantHandle::default();
        let ctx = ModelContext::new(Device::Cpu).with_quant(quant.clone());
        let model = build_model(&config, &ctx).unwrap();
        let x = common::randn(5, &shape);
        let fp = values(&model.forward_t(&x, false).unwrap());
        quant.set_reference_bits(2).unwrap();
        let q2 = values(&model.forward_t(&x, false).unwrap());
        quant.set_reference_bits(4).unwrap();
        let q4 = values(&model.forward_t(&x, false).unwrap());
        assert_ne!(fp, q2, "{}", config.architecture());
        assert_ne!(q2, q4, "{}", config.architecture());
        quant.set_off();
        let back = values(&model.forward_t(&x, false).unwrap());
        assert_eq!(
            fp,
            back,
            "{}: off must be bit-identical",
            config.architecture()
        );
    }
}

#[test]
fn fake_quantized_forward_equals_forward_with_quantized_weights_copied_in() {
    let quant = QuantHandle::default();
    let config = common::tiny_mlp();
    let model = build_model(
        &config,
        &ModelContext::new(Device::Cpu).with_quant(quant.clone()),
    )
    .unwrap();
    let x = common::randn(9, &[4, 12]);
    quant.set_reference_bits(3).unwrap();
    let fake = values(&model.forward_t(&x, false).unwrap());
    // PTQ by hand: overwrite each weight with its 3-bit value, forward at full precision.
    quant.set_off();
    let q = MaxAbsQuantizer::new(3).unwrap();
    for (_, var) in model.quantized_vars() {
        let qw = q.fake_quantize(var.as_tensor()).unwrap();
        var.set(&qw).unwrap();
    }
    assert_eq!(fake, values(&model.forward_t(&x, false).unwrap()));
}

#[test]
fn excluded_layers_stay_full_precision() {
    let quant = QuantHandle::default();
    let config = common::tiny_mlp();
    let model = build_model(
        &config,
        &ModelContext::new(Device::Cpu).with_quant(quant.clone()),
    )
    .unwrap();
    let x = common::randn(9, &[4, 12]);
    let fp = values(&model.forward_t(&x, false).unwrap());
    // Excluding every weight makes the 2-bit state a no-op.
    quant.set(
        QuantizationState::reference(2)
            .unwrap()
            .excluding(["fc*"])
            .unwrap(),
    );
    assert_eq!(fp, values(&model.forward_t(&x, false).unwrap()));
    assert!(model.quantized_weights().is_empty());
    // Excluding one layer: the listed weights and the output change accordingly.
    quant.set(
        QuantizationState::reference(2)
            .unwrap()
            .excluding(["fc3.*"])
            .unwrap(),
    );
    let names: Vec<String> = model
        .quantized_weights()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["fc1.weight", "fc2.weight"]);
    let partial = values(&model.forward_t(&x, false).unwrap());
    quant.set(QuantizationState::reference(2).unwrap());
    let full = values(&model.forward_t(&x, false).unwrap());
    assert_ne!(partial, fp);
    assert_ne!(partial, full);
    // An invalid glob is a clear error.
    let err = QuantizationState::off().excluding(["fc[1"]).unwrap_err();
    assert!(matches!(err, ModelError::Quant { .. }), "{err}");
    assert!(err.to_string().contains("fc[1"), "{err}");
}

/// A quantizer that records the shape of every tensor it is asked to fake-quantize.
#[derive(Debug)]
struct Recording {
    inner: MaxAbsQuantizer,
    seen: Arc<Mutex<Vec<usize>>>,
}

impl Quantizer for Recording {
    fn bits(&self) -> BitWidth {
        self.inner.bits()
    }
    fn scheme(&self) -> QuantScheme {
        self.inner.scheme()
    }
    fn fake_quantize(&self, x: &Tensor) -> smallscale_quant_core::Result<Tensor> {
        self.seen.lock().unwrap().push(x.elem_count());
        self.inner.fake_quantize(x)
    }
    fn quantize(&self, x: &Tensor) -> smallscale_quant_core::Result<QuantizedTensor> {
        self.inner.quantize(x)
    }
}

#[test]
fn the_forward_quantizes_exactly_the_listed_weights() {
    for (config, shape) in common::tiny_models() {
        let quant = QuantHandle::default();
        let model = build_model(
            &config,
            &ModelContext::new(Device::Cpu).with_quant(quant.clone()),
        )
        .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        quant.set_quantizer(Recording {
            inner: MaxAbsQuantizer::new(4).unwrap(),
            seen: seen.clone(),
        });
        quant.set_selector(
            TensorSelector::reference_weights()
                .exclude("*norm1*")
                .unwrap(),
        );
        model.forward_t(&common::randn(2, &shape), true).unwrap();
        let mut quantized_sizes = seen.lock().unwrap().clone();
        let mut listed_sizes: Vec<usize> = model
            .quantized_weights()
            .iter()
            .map(|(_, t)| t.elem_count())
            .collect();
        quantized_sizes.sort_unstable();
        listed_sizes.sort_unstable();
        assert_eq!(quantized_sizes, listed_sizes, "{}", config.architecture());
        for (name, _) in model.quantized_weights() {
            assert!(
                name.ends_with(".weight") && !name.contains("norm1"),
                "{name}"
            );
        }
    }
}

#[test]
fn listed_weights_share_storage_with_the_parameters() {
    let model = build_model(&common::tiny_cnn(), &ModelContext::new(Device::Cpu)).unwrap();
    let (name, w) = model.quantized_weights().into_iter().next().unwrap();
    let loss = w.sqr().unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let var = model
        .named_parameters()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1;
    assert!(grads.get(&var).is_some(), "{name}");
}

#[test]
fn one_handle_can_be_switched_from_another_thread() {
    let quant = QuantHandle::default();
    let model = build_model(
        &common::tiny_mlp(),
        &ModelContext::new(Device::Cpu).with_quant(quant.clone()),
    )
    .unwrap();
    let remote = quant.clone();
    std::thread::spawn(move || remote.set_reference_bits(3).unwrap())
        .join()
        .unwrap();
    assert_eq!(model.quant().bits().map(|b| b.get()), Some(3));
    assert!(model.quant().same_as(&quant));
}
