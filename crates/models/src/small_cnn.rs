//! A small CNN for 28x28 grey images (Fashion-MNIST), fast on a CPU.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::batch_norm::BatchNorm2d;
use crate::context::ModelContext;
use crate::conv::{Conv2dSpec, QuantConv2d};
use crate::errors::{ModelError, Result};
use crate::init::Init;
use crate::linear::QuantLinear;
use crate::model::{Model, check_image_input};
use crate::pool::max_pool2x2;
use crate::registry::ModelConfig;

const NAME: &str = "small-cnn";

/// Configuration of [`SmallCnn`]: one block per entry of `channels` (3x3 conv padding 1, no bias,
/// BN, ReLU, 2x2 max-pool stride 2 via [`crate::max_pool2x2`]), then `fc` on the flattened features.
///
/// ```
/// use smallscale_models::SmallCnnConfig;
/// let c = SmallCnnConfig::fashion_mnist();
/// assert_eq!(c.feature_size(), 7); // 28 -> 14 -> 7
/// assert!(SmallCnnConfig { image_size: 30, ..c.clone() }.validate().is_err()); // 30 / 4 is not whole
/// assert!(SmallCnnConfig { channels: vec![], ..c }.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmallCnnConfig {
    /// Input channels (1 for Fashion-MNIST).
    pub in_channels: usize,
    /// Height and width of the (square) input.
    pub image_size: usize,
    /// Output classes.
    pub num_classes: usize,
    /// Output channels of each conv block (one 2x2 pooling each).
    pub channels: Vec<usize>,
}

impl Default for SmallCnnConfig {
    fn default() -> Self {
        Self::fashion_mnist()
    }
}

impl SmallCnnConfig {
    /// 1x28x28 inputs, 10 classes, blocks of 32 and 64 channels.
    pub fn fashion_mnist() -> Self {
        Self {
            in_channels: 1,
            image_size: 28,
            num_classes: 10,
            channels: vec![32, 64],
        }
    }

    /// Side of the last feature map: `image_size / 2^blocks`.
    pub fn feature_size(&self) -> usize {
        self.image_size >> self.channels.len().min(usize::BITS as usize - 1)
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
        if self.in_channels == 0 {
            return bad("in_channels", "is 0: use 1 (grey) or 3 (RGB)".into());
        }
        if self.num_classes == 0 {
            return bad("num_classes", "is 0: use at least 1 class".into());
        }
        if self.channels.is_empty() || self.channels.contains(&0) {
            return bad(
                "channels",
                format!(
                    "is {:?}: give at least one block, each with a positive width (e.g. [32, 64])",
                    self.channels
                ),
            );
        }
        let pools = 1usize << self.channels.len().min(usize::BITS as usize - 1);
        if self.image_size == 0 || !self.image_size.is_multiple_of(pools) {
            return bad(
                "image_size",
                format!(
                    "is {}: each of the {} blocks halves it with a 2x2 pooling, so it must be a \
                     positive multiple of {pools} (or use fewer blocks)",
                    self.image_size,
                    self.channels.len()
                ),
            );
        }
        Ok(())
    }
}

/// Conv blocks (`conv{i}`, `bn{i}`, i from 1) + `fc`.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{Model, ModelContext, SmallCnn, SmallCnnConfig};
/// let model = SmallCnn::new(&SmallCnnConfig::fashion_mnist(), &ModelContext::new(Device::Cpu))?;
/// assert_eq!(model.parameter_names()[..3], ["bn1.bias", "bn1.weight", "bn2.bias"]);
/// let y = model.forward_t(&Tensor::zeros((2, 1, 28, 28), DType::F32, &Device::Cpu)?, false)?;
/// assert_eq!(y.dims(), [2, 10]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SmallCnn {
    config: SmallCnnConfig,
    ctx: ModelContext,
    blocks: Vec<(QuantConv2d, BatchNorm2d)>,
    fc: QuantLinear,
}

impl SmallCnn {
    /// Validates `config` and creates the parameters in `ctx`.
    pub fn new(config: &SmallCnnConfig, ctx: &ModelContext) -> Result<Self> {
        config.validate()?;
        let mut blocks = Vec::with_capacity(config.channels.len());
        let mut cin = config.in_channels;
        for (i, &cout) in config.channels.iter().enumerate() {
            let spec = Conv2dSpec::new(cin, cout, 3).with_padding(1);
            let conv = QuantConv2d::new(
                &ctx.pp(format!("conv{}", i + 1)),
                spec,
                Init::kaiming_normal(spec.fan_out()),
            )?;
            let bn = BatchNorm2d::new(&ctx.pp(format!("bn{}", i + 1)), cout)?;
            blocks.push((conv, bn));
            cin = cout;
        }
        let side = config.feature_size();
        let fc = QuantLinear::new(&ctx.pp("fc"), cin * side * side, config.num_classes, true)?;
        Ok(Self {
            config: config.clone(),
            ctx: ctx.clone(),
            blocks,
            fc,
        })
    }
}

impl Model for SmallCnn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let c = &self.config;
        check_image_input(NAME, x, c.in_channels, Some(c.image_size))?;
        let mut y = x.clone();
        for (conv, bn) in &self.blocks {
            y = max_pool2x2(&bn.forward_relu_t(&conv.forward(&y)?, train)?)?;
        }
        self.fc.forward(&y.flatten_from(1)?)
    }

    fn config(&self) -> ModelConfig {
        ModelConfig::SmallCnn(self.config.clone())
    }

    fn context(&self) -> &ModelContext {
        &self.ctx
    }
}
