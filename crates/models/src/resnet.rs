//! ResNet-18 with the CIFAR stem.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::batch_norm::BatchNorm2d;
use crate::context::ModelContext;
use crate::conv::{Conv2dSpec, QuantConv2d};
use crate::errors::{ModelError, Result};
use crate::init::Init;
use crate::linear::QuantLinear;
use crate::model::{Model, check_image_input};
use crate::registry::ModelConfig;

const NAME: &str = "resnet18";

/// Configuration of [`ResNet`]: BasicBlock ResNet with the CIFAR stem (3x3 conv, stride 1,
/// padding 1, no max-pool), stages of widths `base_width x [1, 2, 4, 8]`, 1x1 conv + BN
/// downsample shortcuts, global average pool and `fc`.
///
/// ```
/// use smallscale_models::ResNetConfig;
/// let c = ResNetConfig::cifar10();
/// assert_eq!((c.in_channels, c.num_classes, c.base_width, c.blocks), (3, 10, 64, [2, 2, 2, 2]));
/// assert!(ResNetConfig { base_width: 0, ..c }.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetConfig {
    /// Input channels (3 for RGB).
    pub in_channels: usize,
    /// Output classes.
    pub num_classes: usize,
    /// Channels of the first stage (64 for the standard ResNet-18; smaller = width multiplier).
    pub base_width: usize,
    /// BasicBlocks per stage (`[2, 2, 2, 2]` is ResNet-18).
    pub blocks: [usize; 4],
}

impl Default for ResNetConfig {
    fn default() -> Self {
        Self::cifar10()
    }
}

impl ResNetConfig {
    /// ResNet-18 for CIFAR-10: 3 channels, 10 classes, width 64 (11,173,962 parameters).
    pub fn cifar10() -> Self {
        Self {
            in_channels: 3,
            num_classes: 10,
            base_width: 64,
            blocks: [2, 2, 2, 2],
        }
    }

    /// Checks every field; errors name the field and the accepted values.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: &str| {
            Err(ModelError::InvalidConfig {
                model: NAME,
                field,
                reason: reason.to_string(),
            })
        };
        if self.in_channels == 0 {
            return bad("in_channels", "is 0: use 1 (grey) or 3 (RGB)");
        }
        if self.num_classes == 0 {
            return bad("num_classes", "is 0: a classifier needs at least 1 class");
        }
        if self.base_width == 0 {
            return bad(
                "base_width",
                "is 0: use a positive width (64 for ResNet-18)",
            );
        }
        if self.blocks.contains(&0) {
            return bad(
                "blocks",
                "has a stage with 0 blocks: use at least 1 per stage",
            );
        }
        Ok(())
    }
}

/// One BasicBlock: `conv1 (3x3, stride s) - bn1 - relu - conv2 (3x3) - bn2`, plus the shortcut
/// (identity, or `downsample.0` 1x1 conv stride s + `downsample.1` BN), then relu.
#[derive(Debug, Clone)]
struct BasicBlock {
    conv1: QuantConv2d,
    bn1: BatchNorm2d,
    conv2: QuantConv2d,
    bn2: BatchNorm2d,
    downsample: Option<(QuantConv2d, BatchNorm2d)>,
}

fn conv3x3(ctx: &ModelContext, cin: usize, cout: usize, stride: usize) -> Result<QuantConv2d> {
    let spec = Conv2dSpec::new(cin, cout, 3)
        .with_stride(stride)
        .with_padding(1);
    QuantConv2d::new(ctx, spec, Init::kaiming_normal(spec.fan_out()))
}

impl BasicBlock {
    fn new(ctx: &ModelContext, cin: usize, cout: usize, stride: usize) -> Result<Self> {
        let downsample = if stride != 1 || cin != cout {
            let ds = ctx.pp("downsample");
            let spec = Conv2dSpec::new(cin, cout, 1).with_stride(stride);
            Some((
                QuantConv2d::new(&ds.pp(0), spec, Init::kaiming_normal(spec.fan_out()))?,
                BatchNorm2d::new(&ds.pp(1), cout)?,
            ))
        } else {
            None
        };
        Ok(Self {
            conv1: conv3x3(&ctx.pp("conv1"), cin, cout, stride)?,
            bn1: BatchNorm2d::new(&ctx.pp("bn1"), cout)?,
            conv2: conv3x3(&ctx.pp("conv2"), cout, cout, 1)?,
            bn2: BatchNorm2d::new(&ctx.pp("bn2"), cout)?,
            downsample,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.bn1.forward_relu_t(&self.conv1.forward(x)?, train)?;
        let y = self.bn2.forward_t(&self.conv2.forward(&y)?, train)?;
        let shortcut = match &self.downsample {
            Some((conv, bn)) => bn.forward_t(&conv.forward(x)?, train)?,
            None => x.clone(),
        };
        crate::kernels::add_relu(&y, &shortcut)
    }
}

/// ResNet-18 (or another BasicBlock depth) with the CIFAR stem; PyTorch/torchvision parameter names
/// (`conv1.weight`, `bn1.running_mean`, `layer1.0.conv1.weight`, `layer2.0.downsample.0.weight`,
/// `fc.weight`, ...). Convolutions are He-normal initialized (fan-out), as in torchvision.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{Model, ModelContext, ResNet, ResNetConfig};
/// let config = ResNetConfig { base_width: 4, ..ResNetConfig::cifar10() };
/// let model = ResNet::new(&config, &ModelContext::new(Device::Cpu))?;
/// let logits = model.forward_t(&Tensor::zeros((2, 3, 8, 8), DType::F32, &Device::Cpu)?, false)?;
/// assert_eq!(logits.dims(), [2, 10]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ResNet {
    config: ResNetConfig,
    ctx: ModelContext,
    conv1: QuantConv2d,
    bn1: BatchNorm2d,
    layers: Vec<Vec<BasicBlock>>,
    fc: QuantLinear,
}

impl ResNet {
    /// Validates `config` and creates the parameters in `ctx`.
    pub fn new(config: &ResNetConfig, ctx: &ModelContext) -> Result<Self> {
        config.validate()?;
        let w = config.base_width;
        let conv1 = conv3x3(&ctx.pp("conv1"), config.in_channels, w, 1)?;
        let bn1 = BatchNorm2d::new(&ctx.pp("bn1"), w)?;
        let mut layers = Vec::with_capacity(4);
        let mut cin = w;
        for (stage, &blocks) in config.blocks.iter().enumerate() {
            let cout = w << stage;
            let layer_ctx = ctx.pp(format!("layer{}", stage + 1));
            let mut layer = Vec::with_capacity(blocks);
            for b in 0..blocks {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                layer.push(BasicBlock::new(&layer_ctx.pp(b), cin, cout, stride)?);
                cin = cout;
            }
            layers.push(layer);
        }
        let fc = QuantLinear::new(&ctx.pp("fc"), cin, config.num_classes, true)?;
        Ok(Self {
            config: config.clone(),
            ctx: ctx.clone(),
            conv1,
            bn1,
            layers,
            fc,
        })
    }
}

impl Model for ResNet {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        check_image_input(NAME, x, self.config.in_channels, None)?;
        let mut y = self.bn1.forward_relu_t(&self.conv1.forward(x)?, train)?;
        for block in self.layers.iter().flatten() {
            y = block.forward_t(&y, train)?;
        }
        let pooled = y.mean((2, 3))?; // global average pool
        self.fc.forward(&pooled)
    }

    fn config(&self) -> ModelConfig {
        ModelConfig::ResNet(self.config.clone())
    }

    fn context(&self) -> &ModelContext {
        &self.ctx
    }
}
