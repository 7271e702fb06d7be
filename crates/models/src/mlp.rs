//! A multi-layer perceptron.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::context::ModelContext;
use crate::errors::{ModelError, Result};
use crate::linear::QuantLinear;
use crate::model::Model;
use crate::registry::ModelConfig;

const NAME: &str = "mlp";

/// Configuration of [`Mlp`]: inputs flattened to `input_dim`, hidden ReLU layers, linear output.
///
/// ```
/// use smallscale_models::MlpConfig;
/// let c = MlpConfig::fashion_mnist();
/// assert_eq!((c.input_dim, c.hidden.as_slice(), c.num_classes), (784, &[256, 128][..], 10));
/// assert!(MlpConfig { hidden: vec![0], ..c }.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Number of input features (`channels x height x width` for images).
    pub input_dim: usize,
    /// Widths of the hidden layers (may be empty: a linear classifier).
    pub hidden: Vec<usize>,
    /// Output classes.
    pub num_classes: usize,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self::fashion_mnist()
    }
}

impl MlpConfig {
    /// 784 inputs (28x28), hidden 256 and 128, 10 classes.
    pub fn fashion_mnist() -> Self {
        Self {
            input_dim: 784,
            hidden: vec![256, 128],
            num_classes: 10,
        }
    }

    /// Checks every field; errors name the field and the accepted values.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| {
            Err(ModelError::InvalidConfig {
                model: NAME,
                field,
                reason,
            })
        };
        if self.input_dim == 0 {
            return bad("input_dim", "is 0: use the number of input features".into());
        }
        if self.num_classes == 0 {
            return bad("num_classes", "is 0: use at least 1 class".into());
        }
        if self.hidden.contains(&0) {
            return bad(
                "hidden",
                format!(
                    "is {:?}: every hidden layer needs a positive width",
                    self.hidden
                ),
            );
        }
        Ok(())
    }
}

/// Linear layers `fc1 .. fcN` (the last one is the classifier) with ReLU between them; any input
/// `[batch, ...]` with `input_dim` features per example.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{Mlp, MlpConfig, Model, ModelContext};
/// let model = Mlp::new(&MlpConfig::fashion_mnist(), &ModelContext::new(Device::Cpu))?;
/// let y = model.forward_t(&Tensor::zeros((3, 1, 28, 28), DType::F32, &Device::Cpu)?, true)?;
/// assert_eq!(y.dims(), [3, 10]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mlp {
    config: MlpConfig,
    ctx: ModelContext,
    layers: Vec<QuantLinear>,
}

impl Mlp {
    /// Validates `config` and creates the parameters in `ctx`.
    pub fn new(config: &MlpConfig, ctx: &ModelContext) -> Result<Self> {
        config.validate()?;
        let widths: Vec<usize> = std::iter::once(config.input_dim)
            .chain(config.hidden.iter().copied())
            .chain(std::iter::once(config.num_classes))
            .collect();
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| QuantLinear::new(&ctx.pp(format!("fc{}", i + 1)), w[0], w[1], true))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: config.clone(),
            ctx: ctx.clone(),
            layers,
        })
    }
}

impl Model for Mlp {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let dims = x.dims();
        let features: usize = dims.iter().skip(1).product();
        if dims.len() < 2 || dims[0] == 0 || features != self.config.input_dim {
            return Err(ModelError::InvalidInput {
                model: NAME,
                expected: format!("[batch, ...] with {} features", self.config.input_dim),
                found: dims.to_vec(),
                hint: "flatten or resize the inputs, or set input_dim to their feature count",
            });
        }
        let mut y = x.flatten_from(1)?;
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            y = layer.forward(&y)?;
            if i < last {
                y = y.relu()?;
            }
        }
        Ok(y)
    }

    fn config(&self) -> ModelConfig {
        ModelConfig::Mlp(self.config.clone())
    }

    fn context(&self) -> &ModelContext {
        &self.ctx
    }
}
