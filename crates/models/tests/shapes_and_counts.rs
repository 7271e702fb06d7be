//! Output shapes of every model and parameter counts against hand computations.

mod common;

use candle_core::{DType, Device, Tensor};
use smallscale_models::{Model, ModelConfig, ModelContext, ResNet, ResNetConfig, build_model};

fn build(config: &ModelConfig) -> Box<dyn Model> {
    build_model(config, &ModelContext::new(Device::Cpu)).unwrap()
}

#[test]
fn every_model_gives_batch_by_classes_logits_in_train_and_eval() {
    for (config, shape) in common::tiny_models() {
        let model = build(&config);
        let x = common::randn(1, &shape);
        for train in [true, false] {
            let y = model.forward_t(&x, train).unwrap();
            assert_eq!(y.dims(), [4, 3], "{} train={train}", config.architecture());
        }
    }
}

#[test]
fn default_configs_give_ten_logits() {
    let cases = [
        ("small-cnn", vec![2, 1, 28, 28]),
        ("mlp", vec![2, 1, 28, 28]),
        ("vit", vec![2, 3, 32, 32]),
    ];
    for (name, shape) in cases {
        let model = build(&ModelConfig::default_for(name).unwrap());
        let x = Tensor::zeros(shape.as_slice(), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(
            model.forward_t(&x, false).unwrap().dims(),
            [2, 10],
            "{name}"
        );
    }
}

#[test]
fn resnet18_cifar10_has_pytorch_parameter_count_and_names() {
    let model = ResNet::new(&ResNetConfig::cifar10(), &ModelContext::new(Device::Cpu)).unwrap();
    assert_eq!(model.num_parameters(), 11_173_962);
    let names = model.parameter_names();
    for expected in [
        "conv1.weight",
        "bn1.weight",
        "bn1.bias",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.weight",
        "layer4.1.bn2.bias",
        "fc.weight",
        "fc.bias",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    // 62 parameter tensors as in torchvision's resnet18 state dict (without buffers).
    assert_eq!(names.len(), 62);
    let buffers = model.buffer_names();
    assert!(buffers.contains(&"bn1.running_mean".to_string()));
    assert!(buffers.contains(&"layer3.0.downsample.1.running_var".to_string()));
    assert!(buffers.contains(&"layer4.1.bn2.num_batches_tracked".to_string()));
    assert_eq!(buffers.len(), 20 * 3); // 20 batch norms x 3 buffers
}

#[test]
fn resnet18_forward_on_a_cifar_batch_gives_ten_logits() {
    let model = ResNet::new(&ResNetConfig::cifar10(), &ModelContext::new(Device::Cpu)).unwrap();
    let x = common::randn(3, &[2, 3, 32, 32]);
    assert_eq!(model.forward_t(&x, true).unwrap().dims(), [2, 10]);
}

#[test]
fn small_model_parameter_counts_match_hand_computation() {
    // MLP 12-8-6-3: (12*8 + 8) + (8*6 + 6) + (6*3 + 3)
    assert_eq!(build(&common::tiny_mlp()).num_parameters(), 104 + 54 + 21);
    // Fashion-MNIST MLP 784-256-128-10
    let mlp = build(&ModelConfig::default_for("mlp").unwrap());
    assert_eq!(
        mlp.num_parameters(),
        784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    );
    // Small CNN [32, 64] on 28x28x1: conv1 1*32*9, bn1 2*32, conv2 32*64*9, bn2 2*64,
    // fc (64*7*7)*10 + 10
    let cnn = build(&ModelConfig::default_for("small-cnn").unwrap());
    assert_eq!(cnn.num_parameters(), 288 + 64 + 18_432 + 128 + 31_370);
    // Tiny ViT (32x32x3, patch 4, dim 192, depth 6, mlp 768, 10 classes):
    // patch_embed 192*48 + 192 = 9_408; cls_token 192; pos_embed 65*192 = 12_480;
    // per block: 2 norms 2*384, qkv 192*576 + 576 = 111_168, proj 192*192 + 192 = 37_056,
    //            fc1 192*768 + 768 = 148_224, fc2 768*192 + 192 = 147_648 -> 444_864;
    // final norm 384; head 192*10 + 10 = 1_930.
    let vit = build(&ModelConfig::default_for("vit").unwrap());
    assert_eq!(
        vit.num_parameters(),
        9_408 + 192 + 12_480 + 6 * 444_864 + 384 + 1_930
    );
    // ResNet width 4 with the same structure scales as width^2 for convs, except stem and fc:
    // counted layer by layer.
    let r = build(&common::tiny_resnet());
    let conv = |cin: usize, cout: usize, k: usize| cin * cout * k * k;
    let bn = |c: usize| 2 * c;
    let mut expected = conv(3, 4, 3) + bn(4);
    let mut cin = 4;
    for stage in 0..4 {
        let cout = 4 << stage;
        for block in 0..2 {
            expected += conv(cin, cout, 3) + bn(cout) + conv(cout, cout, 3) + bn(cout);
            if block == 0 && cin != cout {
                expected += conv(cin, cout, 1) + bn(cout);
            }
            cin = cout;
        }
    }
    expected += 32 * 3 + 3;
    assert_eq!(r.num_parameters(), expected);
}

#[test]
fn vit_free_parameters_are_not_quantized_but_norm_gammas_are() {
    let model = build(&common::tiny_vit());
    let quantized: Vec<String> = model
        .quantized_weights()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(quantized.contains(&"patch_embed.proj.weight".to_string()));
    assert!(quantized.contains(&"blocks.1.norm2.weight".to_string()));
    assert!(quantized.contains(&"blocks.0.attn.qkv.weight".to_string()));
    assert!(quantized.contains(&"head.weight".to_string()));
    assert!(
        !quantized
            .iter()
            .any(|n| n.contains("cls_token") || n.contains("pos_embed"))
    );
    assert!(!quantized.iter().any(|n| n.ends_with(".bias")));
    // 1 patch embed + 2 blocks x (2 norms + qkv + proj + fc1 + fc2) + norm + head
    assert_eq!(quantized.len(), 1 + 2 * 6 + 2);
}
