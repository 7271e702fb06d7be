//! Configuration validation, serde, the registry and input checks.

mod common;

use candle_core::{DType, Device, Tensor};
use smallscale_models::{
    MlpConfig, ModelConfig, ModelContext, ModelError, ResNetConfig, SmallCnnConfig, VitConfig,
    available_models, build_model,
};

fn invalid(config: ModelConfig) -> String {
    match build_model(&config, &ModelContext::new(Device::Cpu)) {
        Err(e @ ModelError::InvalidConfig { .. }) => e.to_string(),
        Err(other) => panic!("wrong error {other}"),
        Ok(_) => panic!("{config:?} was accepted"),
    }
}

#[test]
fn invalid_configurations_are_errors_that_name_the_field() {
    let vit = VitConfig::tiny_cifar10();
    let msg = invalid(ModelConfig::Vit(VitConfig {
        num_heads: 5,
        ..vit.clone()
    }));
    assert!(msg.contains("num_heads") && msg.contains("192"), "{msg}");
    let msg = invalid(ModelConfig::Vit(VitConfig {
        patch_size: 5,
        ..vit.clone()
    }));
    assert!(msg.contains("patch_size") && msg.contains("32"), "{msg}");
    let msg = invalid(ModelConfig::Vit(VitConfig {
        embed_dim: 0,
        ..vit.clone()
    }));
    assert!(msg.contains("embed_dim"), "{msg}");
    let msg = invalid(ModelConfig::Vit(VitConfig {
        mlp_ratio: -1.0,
        ..vit
    }));
    assert!(msg.contains("mlp_ratio"), "{msg}");
    let msg = invalid(ModelConfig::ResNet(ResNetConfig {
        base_width: 0,
        ..ResNetConfig::cifar10()
    }));
    assert!(msg.contains("base_width"), "{msg}");
    let msg = invalid(ModelConfig::ResNet(ResNetConfig {
        num_classes: 0,
        ..ResNetConfig::cifar10()
    }));
    assert!(msg.contains("num_classes"), "{msg}");
    let msg = invalid(ModelConfig::SmallCnn(SmallCnnConfig {
        channels: vec![8, 0],
        ..SmallCnnConfig::fashion_mnist()
    }));
    assert!(msg.contains("channels"), "{msg}");
    let msg = invalid(ModelConfig::SmallCnn(SmallCnnConfig {
        image_size: 30,
        ..SmallCnnConfig::fashion_mnist()
    }));
    assert!(
        msg.contains("image_size") && msg.contains("multiple of 4"),
        "{msg}"
    );
    let msg = invalid(ModelConfig::Mlp(MlpConfig {
        input_dim: 0,
        ..MlpConfig::fashion_mnist()
    }));
    assert!(msg.contains("input_dim"), "{msg}");
}

#[test]
fn configs_round_trip_through_json_and_unknown_fields_are_rejected() {
    for info in available_models() {
        let json = serde_json::to_string(&info.default_config).unwrap();
        assert!(
            json.contains(&format!("\"model\":\"{}\"", info.name)),
            "{json}"
        );
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, info.default_config);
        assert_eq!(back.architecture(), info.name);
        assert!(back.validate().is_ok());
    }
    let typo = r#"{"model":"mlp","input_dim":4,"hiden":[3],"num_classes":2}"#;
    assert!(serde_json::from_str::<ModelConfig>(typo).is_err());
}

#[test]
fn unknown_model_names_list_the_registered_ones() {
    let err = ModelConfig::default_for("resnet50").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("resnet50") && msg.contains("resnet18, vit, small-cnn, mlp"),
        "{msg}"
    );
}

#[test]
fn wrong_input_shapes_are_clear_errors() {
    for (config, _) in common::tiny_models() {
        let model = build_model(&config, &ModelContext::new(Device::Cpu)).unwrap();
        let x = Tensor::zeros((2, 5, 7, 7), DType::F32, &Device::Cpu).unwrap();
        let err = model.forward_t(&x, false).unwrap_err();
        assert!(matches!(err, ModelError::InvalidInput { .. }), "{err}");
        assert!(err.to_string().contains("[2, 5, 7, 7]"), "{err}");
    }
}

#[test]
fn building_two_models_into_one_context_is_a_duplicate_error() {
    let ctx = ModelContext::new(Device::Cpu);
    build_model(&common::tiny_mlp(), &ctx).unwrap();
    let err = build_model(&common::tiny_mlp(), &ctx).unwrap_err();
    assert!(matches!(err, ModelError::DuplicateTensor { .. }), "{err}");
}
