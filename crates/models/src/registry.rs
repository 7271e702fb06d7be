//! Building any model by name from a serializable configuration.

use serde::{Deserialize, Serialize};

use crate::context::ModelContext;
use crate::errors::{ModelError, Result};
use crate::mlp::{Mlp, MlpConfig};
use crate::model::Model;
use crate::resnet::{ResNet, ResNetConfig};
use crate::small_cnn::{SmallCnn, SmallCnnConfig};
use crate::vit::{Vit, VitConfig};

/// The configuration of any registered model, tagged by its architecture name so that it reads
/// naturally in JSON results: `{"model": "resnet18", "in_channels": 3, ...}`.
///
/// ```
/// use smallscale_models::{ModelConfig, SmallCnnConfig};
/// let config = ModelConfig::SmallCnn(SmallCnnConfig::fashion_mnist());
/// let json = serde_json::to_string(&config).unwrap();
/// assert!(json.starts_with(r#"{"model":"small-cnn","#));
/// let back: ModelConfig = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, config);
/// assert_eq!(ModelConfig::default_for("vit")?.architecture(), "vit");
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model")]
pub enum ModelConfig {
    /// [`ResNet`] (ResNet-18 with the CIFAR stem by default).
    #[serde(rename = "resnet18")]
    ResNet(ResNetConfig),
    /// [`Vit`].
    #[serde(rename = "vit")]
    Vit(VitConfig),
    /// [`SmallCnn`].
    #[serde(rename = "small-cnn")]
    SmallCnn(SmallCnnConfig),
    /// [`Mlp`].
    #[serde(rename = "mlp")]
    Mlp(MlpConfig),
}

/// A registered architecture: its name, a one-line description and its default configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Registry name (the `model` tag of [`ModelConfig`]).
    pub name: &'static str,
    /// What it is and what it suits.
    pub description: &'static str,
    /// The default configuration.
    pub default_config: ModelConfig,
}

/// Every registered architecture, in a stable order.
///
/// ```
/// let names: Vec<&str> = smallscale_models::available_models().iter().map(|m| m.name).collect();
/// assert_eq!(names, ["resnet18", "vit", "small-cnn", "mlp"]);
/// ```
pub fn available_models() -> Vec<ModelInfo> {
    vec![
        ModelInfo {
            name: "resnet18",
            description: "ResNet-18 with the CIFAR stem (3x3 conv, no max-pool); 32x32 RGB, 10 classes",
            default_config: ModelConfig::ResNet(ResNetConfig::cifar10()),
        },
        ModelInfo {
            name: "vit",
            description: "tiny Vision Transformer (patch 4, dim 192, depth 6, 3 heads); 32x32 RGB",
            default_config: ModelConfig::Vit(VitConfig::tiny_cifar10()),
        },
        ModelInfo {
            name: "small-cnn",
            description: "two conv+BN+ReLU+pool blocks and a linear layer; 28x28 grey (Fashion-MNIST)",
            default_config: ModelConfig::SmallCnn(SmallCnnConfig::fashion_mnist()),
        },
        ModelInfo {
            name: "mlp",
            description: "multi-layer perceptron 784-256-128-10 (Fashion-MNIST)",
            default_config: ModelConfig::Mlp(MlpConfig::fashion_mnist()),
        },
    ]
}

impl ModelConfig {
    /// The default configuration of the architecture `name`; an unknown name is an error that
    /// lists the registered ones.
    pub fn default_for(name: &str) -> Result<Self> {
        let models = available_models();
        let available = models.iter().map(|m| m.name.to_string()).collect();
        models
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.default_config)
            .ok_or_else(|| ModelError::UnknownModel {
                name: name.to_string(),
                available,
            })
    }

    /// The registry name of the architecture.
    pub fn architecture(&self) -> &'static str {
        match self {
            Self::ResNet(_) => "resnet18",
            Self::Vit(_) => "vit",
            Self::SmallCnn(_) => "small-cnn",
            Self::Mlp(_) => "mlp",
        }
    }

    /// Checks the configuration without building anything.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::ResNet(c) => c.validate(),
            Self::Vit(c) => c.validate(),
            Self::SmallCnn(c) => c.validate(),
            Self::Mlp(c) => c.validate(),
        }
    }
}

/// Builds the model `config` describes, creating its parameters and buffers in `ctx` (give each
/// model a fresh context; its [`crate::QuantHandle`] is the model's quantization state).
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{build_model, ModelConfig, ModelContext, QuantHandle};
/// let quant = QuantHandle::default();
/// let ctx = ModelContext::new(Device::Cpu).with_quant(quant.clone()).with_seed(1);
/// let model = build_model(&ModelConfig::default_for("small-cnn")?, &ctx)?;
/// let x = Tensor::ones((2, 1, 28, 28), DType::F32, &Device::Cpu)?;
/// let fp = model.forward_t(&x, false)?;
/// quant.set_reference_bits(2)?; // the next forward sees ternary weights
/// let q2 = model.forward_t(&x, false)?;
/// assert_ne!(fp.to_vec2::<f32>()?, q2.to_vec2::<f32>()?);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn build_model(config: &ModelConfig, ctx: &ModelContext) -> Result<Box<dyn Model>> {
    Ok(match config {
        ModelConfig::ResNet(c) => Box::new(ResNet::new(c, ctx)?),
        ModelConfig::Vit(c) => Box::new(Vit::new(c, ctx)?),
        ModelConfig::SmallCnn(c) => Box::new(SmallCnn::new(c, ctx)?),
        ModelConfig::Mlp(c) => Box::new(Mlp::new(c, ctx)?),
    })
}
