//! Checkpoint round trip and each mismatch error.

mod common;

use candle_core::Device;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use smallscale_models::{
    Model, ModelConfig, ModelContext, ModelError, SmallCnnConfig, build_model, load_checkpoint,
    read_checkpoint_config, save_checkpoint,
};
use smallscale_quant_core::{StoredTensor, read_safetensors, write_safetensors};

fn flat(t: &candle_core::Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn trained(config: &ModelConfig, shape: &[usize]) -> Box<dyn Model> {
    let model = build_model(config, &ModelContext::new(Device::Cpu).with_seed(1)).unwrap();
    let mut opt = AdamW::new(
        model.varmap().all_vars(),
        ParamsAdamW {
            lr: 1e-2,
            weight_decay: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    let x = common::randn(31, shape);
    let y = common::labels(32, shape[0], 3);
    for _ in 0..3 {
        let loss = candle_nn::loss::cross_entropy(&model.forward_t(&x, true).unwrap(), &y).unwrap();
        opt.backward_step(&loss).unwrap();
    }
    model
}

#[test]
fn round_trip_gives_bitwise_equal_outputs_for_every_model() {
    let dir = tempfile::tempdir().unwrap();
    for (config, shape) in common::tiny_models() {
        let model = trained(&config, &shape);
        let path = dir
            .path()
            .join(format!("{}.safetensors", config.architecture()));
        save_checkpoint(model.as_ref(), &path).unwrap();
        assert_eq!(read_checkpoint_config(&path).unwrap(), Some(config.clone()));

        let fresh = build_model(&config, &ModelContext::new(Device::Cpu).with_seed(99)).unwrap();
        let x = common::randn(33, &shape);
        assert_ne!(
            flat(&model.forward_t(&x, false).unwrap()),
            flat(&fresh.forward_t(&x, false).unwrap())
        );
        load_checkpoint(fresh.as_ref(), &path).unwrap();
        assert_eq!(
            flat(&model.forward_t(&x, false).unwrap()),
            flat(&fresh.forward_t(&x, false).unwrap()),
            "{}",
            config.architecture()
        );
        for (name, t) in model.buffers().snapshot() {
            let other = fresh.buffers().get(&name).unwrap();
            assert_eq!(t.to_string(), other.to_string(), "{name}");
        }
        // The file holds every parameter and every buffer, nothing else.
        let file = read_safetensors(&path).unwrap();
        let mut names = model.parameter_names();
        names.extend(model.buffer_names());
        names.sort();
        assert_eq!(file.tensors.keys().cloned().collect::<Vec<_>>(), names);
    }
}

fn cnn(channels: Vec<usize>) -> ModelConfig {
    ModelConfig::SmallCnn(SmallCnnConfig {
        in_channels: 1,
        image_size: 8,
        num_classes: 3,
        channels,
    })
}

#[test]
fn missing_unexpected_and_misshapen_tensors_are_named_and_the_model_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cnn.safetensors");
    let model = trained(&cnn(vec![4, 8]), &[4, 1, 8, 8]);
    save_checkpoint(model.as_ref(), &path).unwrap();

    // Missing and unexpected names.
    let mut file = read_safetensors(&path).unwrap();
    file.tensors.remove("bn1.running_mean");
    let extra = file.tensors["fc.bias"].clone();
    file.tensors.insert("classifier.bias".into(), extra);
    let edited = dir.path().join("edited.safetensors");
    write_safetensors(&edited, &file).unwrap();
    let target = build_model(
        &cnn(vec![4, 8]),
        &ModelContext::new(Device::Cpu).with_seed(5),
    )
    .unwrap();
    let x = common::randn(7, &[2, 1, 8, 8]);
    let before = flat(&target.forward_t(&x, false).unwrap());
    match load_checkpoint(target.as_ref(), &edited).unwrap_err() {
        ModelError::CheckpointMismatch {
            missing,
            unexpected,
            mismatched,
            ..
        } => {
            assert_eq!(missing, ["bn1.running_mean"]);
            assert_eq!(unexpected, ["classifier.bias"]);
            assert!(mismatched.is_empty());
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(before, flat(&target.forward_t(&x, false).unwrap()));

    // Shape mismatch: a model with 6 channels in the second block.
    let narrower = build_model(&cnn(vec![4, 6]), &ModelContext::new(Device::Cpu)).unwrap();
    let err = load_checkpoint(narrower.as_ref(), &path).unwrap_err();
    let message = err.to_string();
    match err {
        ModelError::CheckpointMismatch { mismatched, .. } => {
            let conv2 = mismatched
                .iter()
                .find(|m| m.name == "conv2.weight")
                .expect("conv2.weight reported");
            assert_eq!(conv2.expected_shape, [6, 4, 3, 3]);
            assert_eq!(conv2.found_shape, [8, 4, 3, 3]);
            assert!(mismatched.iter().any(|m| m.name == "bn2.running_var"));
            assert!(mismatched.iter().any(|m| m.name == "fc.weight"));
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(
        message.contains("conv2.weight: expected f32 [6, 4, 3, 3], found f32 [8, 4, 3, 3]"),
        "{message}"
    );

    // Dtype mismatch.
    let mut file = read_safetensors(&path).unwrap();
    let w = match &file.tensors["fc.weight"] {
        StoredTensor::Tensor(t) => t.to_dtype(candle_core::DType::F64).unwrap(),
        StoredTensor::Raw(_) => unreachable!(),
    };
    file.tensors
        .insert("fc.weight".into(), StoredTensor::Tensor(w));
    write_safetensors(&edited, &file).unwrap();
    let err = load_checkpoint(target.as_ref(), &edited).unwrap_err();
    assert!(
        err.to_string()
            .contains("fc.weight: expected f32 [3, 32], found f64 [3, 32]"),
        "{err}"
    );
}

#[test]
fn unreadable_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = build_model(&common::tiny_mlp(), &ModelContext::new(Device::Cpu)).unwrap();
    let missing = dir.path().join("nope.safetensors");
    let err = load_checkpoint(model.as_ref(), &missing).unwrap_err();
    assert!(matches!(err, ModelError::CheckpointFile { .. }), "{err}");
    assert!(err.to_string().contains("nope.safetensors"), "{err}");
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a checkpoint").unwrap();
    let err = load_checkpoint(model.as_ref(), &garbage).unwrap_err();
    assert!(
        err.to_string().contains("not a valid safetensors file"),
        "{err}"
    );
    // Saving into a missing directory fails without leaving anything behind.
    let err =
        save_checkpoint(model.as_ref(), dir.path().join("no/such/dir/m.safetensors")).unwrap_err();
    assert!(matches!(err, ModelError::CheckpointFile { .. }), "{err}");
}

/// Any tensor's values (counters are integers) as f64.
fn values(t: &candle_core::Tensor) -> Vec<f64> {
    t.to_dtype(candle_core::DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

#[test]
fn a_pretrained_body_loads_into_a_model_with_another_head() {
    use smallscale_models::load_pretrained;
    let dir = tempfile::tempdir().unwrap();
    for (config, shape) in common::tiny_models() {
        // Pretrained with the tiny models' classes; fine-tuned with 2.
        let pretrained = trained(&config, &shape);
        let path = dir
            .path()
            .join(format!("{}.safetensors", config.architecture()));
        save_checkpoint(pretrained.as_ref(), &path).unwrap();
        let target = config.clone().with_classes(2);
        let head = target.head_prefix();
        let fresh_ctx = || ModelContext::new(Device::Cpu).with_seed(7);
        let model = build_model(&target, &fresh_ctx()).unwrap();
        let report = load_pretrained(model.as_ref(), &path, &head).unwrap();
        assert_eq!(
            report.fresh,
            [format!("{head}.bias"), format!("{head}.weight")],
            "{}",
            config.architecture()
        );
        let before = smallscale_models::checkpoint::state_dict(pretrained.as_ref());
        let after = smallscale_models::checkpoint::state_dict(model.as_ref());
        assert_eq!(report.loaded, after.len() - 2);
        let untouched = build_model(&target, &fresh_ctx()).unwrap();
        let init = smallscale_models::checkpoint::state_dict(untouched.as_ref());
        for (name, t) in &after {
            if name.starts_with(&format!("{head}.")) {
                // The head keeps its initialization.
                assert_eq!(values(t), values(&init[name]), "{name}");
            } else {
                assert_eq!(values(t), values(&before[name]), "{name}");
            }
        }
    }
    // A body of another architecture is refused with the names that differ, and nothing changes.
    let cnn = ModelConfig::default_for("small-cnn").unwrap();
    let path = dir.path().join("cnn.safetensors");
    save_checkpoint(
        build_model(&cnn, &ModelContext::new(Device::Cpu))
            .unwrap()
            .as_ref(),
        &path,
    )
    .unwrap();
    let mlp = ModelConfig::default_for("mlp").unwrap();
    let model = build_model(&mlp, &ModelContext::new(Device::Cpu)).unwrap();
    let err = load_pretrained(model.as_ref(), &path, &mlp.head_prefix()).unwrap_err();
    assert!(
        matches!(err, ModelError::CheckpointMismatch { .. }),
        "{err}"
    );
    assert_eq!(mlp.head_prefix(), "fc3");
}
