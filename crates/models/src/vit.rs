//! A tiny Vision Transformer.

use candle_core::{IndexOp, Tensor};
use serde::{Deserialize, Serialize};

use crate::attention::MultiHeadSelfAttention;
use crate::context::ModelContext;
use crate::errors::{ModelError, Result};
use crate::init::Init;
use crate::layer_norm::LayerNorm;
use crate::linear::QuantLinear;
use crate::model::{Model, check_image_input};
use crate::registry::ModelConfig;

const NAME: &str = "vit";
/// LayerNorm epsilon of the ViT (timm's value).
const LN_EPS: f64 = 1e-6;

/// Configuration of [`Vit`].
///
/// ```
/// use smallscale_models::VitConfig;
/// let c = VitConfig::tiny_cifar10();
/// assert_eq!((c.patch_size, c.embed_dim, c.depth, c.num_heads), (4, 192, 6, 3));
/// assert_eq!(c.num_patches(), 64);
/// assert!(VitConfig { num_heads: 5, ..c.clone() }.validate().is_err()); // 192 % 5 != 0
/// assert!(VitConfig { patch_size: 5, ..c }.validate().is_err()); // 32 % 5 != 0
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitConfig {
    /// Height and width of the (square) input.
    pub image_size: usize,
    /// Height and width of a patch; must divide `image_size`.
    pub patch_size: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Output classes.
    pub num_classes: usize,
    /// Token width; must be divisible by `num_heads`.
    pub embed_dim: usize,
    /// Number of transformer blocks.
    pub depth: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Hidden width of the MLP as a multiple of `embed_dim` (4 in ViT).
    pub mlp_ratio: f64,
}

impl Default for VitConfig {
    fn default() -> Self {
        Self::tiny_cifar10()
    }
}

impl VitConfig {
    /// The tiny ViT used for CIFAR-10 here: 32x32x3 inputs, patch 4 (64 tokens + cls), DeiT-Tiny
    /// width (dim 192, 3 heads, MLP ratio 4) at half its depth (6 blocks), 10 classes.
    pub fn tiny_cifar10() -> Self {
        Self {
            image_size: 32,
            patch_size: 4,
            in_channels: 3,
            num_classes: 10,
            embed_dim: 192,
            depth: 6,
            num_heads: 3,
            mlp_ratio: 4.0,
        }
    }

    /// `(image_size / patch_size)^2`.
    pub fn num_patches(&self) -> usize {
        let side = self.image_size / self.patch_size.max(1);
        side * side
    }

    /// Hidden width of the MLPs, `round(embed_dim * mlp_ratio)`.
    pub fn mlp_hidden(&self) -> usize {
        (self.embed_dim as f64 * self.mlp_ratio).round() as usize
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
        for (field, value) in [
            ("image_size", self.image_size),
            ("patch_size", self.patch_size),
            ("in_channels", self.in_channels),
            ("num_classes", self.num_classes),
            ("embed_dim", self.embed_dim),
            ("depth", self.depth),
            ("num_heads", self.num_heads),
        ] {
            if value == 0 {
                return bad(field, "is 0: use a positive value".into());
            }
        }
        if !self.image_size.is_multiple_of(self.patch_size) {
            return bad(
                "patch_size",
                format!(
                    "is {} but image_size {} is not a multiple of it: choose a patch size that \
                     divides the image size",
                    self.patch_size, self.image_size
                ),
            );
        }
        if !self.embed_dim.is_multiple_of(self.num_heads) {
            return bad(
                "num_heads",
                format!(
                    "is {} but embed_dim {} is not divisible by it: choose heads that divide the \
                     embedding dimension",
                    self.num_heads, self.embed_dim
                ),
            );
        }
        if !self.mlp_ratio.is_finite() || self.mlp_ratio <= 0.0 || self.mlp_hidden() == 0 {
            return bad(
                "mlp_ratio",
                format!(
                    "is {}: use a positive ratio (4 in ViT) giving a hidden width of at least 1",
                    self.mlp_ratio
                ),
            );
        }
        Ok(())
    }
}

/// A pre-norm transformer block: `x + attn(norm1(x))`, then `x + mlp(norm2(x))` with
/// `mlp = fc2(gelu(fc1(.)))`.
#[derive(Debug, Clone)]
struct Block {
    norm1: LayerNorm,
    attn: MultiHeadSelfAttention,
    norm2: LayerNorm,
    fc1: QuantLinear,
    fc2: QuantLinear,
}

impl Block {
    fn new(ctx: &ModelContext, c: &VitConfig) -> Result<Self> {
        let mlp = ctx.pp("mlp");
        Ok(Self {
            norm1: LayerNorm::new(&ctx.pp("norm1"), c.embed_dim, LN_EPS)?,
            attn: MultiHeadSelfAttention::new(&ctx.pp("attn"), c.embed_dim, c.num_heads)?,
            norm2: LayerNorm::new(&ctx.pp("norm2"), c.embed_dim, LN_EPS)?,
            fc1: QuantLinear::new(&mlp.pp("fc1"), c.embed_dim, c.mlp_hidden(), true)?,
            fc2: QuantLinear::new(&mlp.pp("fc2"), c.mlp_hidden(), c.embed_dim, true)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.norm1.forward(x)?)?)?;
        let h = crate::kernels::gelu_erf(&self.fc1.forward(&self.norm2.forward(&x)?)?)?;
        Ok((&x + self.fc2.forward(&h)?)?)
    }
}

/// Vision Transformer with timm's parameter names: `patch_embed.proj.weight` (`[dim, C, p, p]`, a
/// conv with kernel = stride = patch, computed as a matrix product over the patches), `cls_token`,
/// `pos_embed` (free parameters: never quantized by the reference selector),
/// `blocks.{i}.norm1`, `blocks.{i}.attn.qkv`, `blocks.{i}.attn.proj`, `blocks.{i}.norm2`,
/// `blocks.{i}.mlp.fc1`, `blocks.{i}.mlp.fc2`, `norm`, `head`. Classification from the cls token.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{Model, ModelContext, Vit, VitConfig};
/// let config = VitConfig { image_size: 8, patch_size: 4, embed_dim: 8, depth: 1, num_heads: 2,
///                          ..VitConfig::tiny_cifar10() };
/// let model = Vit::new(&config, &ModelContext::new(Device::Cpu))?;
/// let y = model.forward_t(&Tensor::zeros((2, 3, 8, 8), DType::F32, &Device::Cpu)?, true)?;
/// assert_eq!(y.dims(), [2, 10]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Vit {
    config: VitConfig,
    ctx: ModelContext,
    patch_embed: QuantLinear,
    cls_token: Tensor,
    pos_embed: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: QuantLinear,
}

impl Vit {
    /// Validates `config` and creates the parameters in `ctx` (tokens `N(0, 0.02^2)`, linear
    /// layers with PyTorch's default uniform init, norms 1 and 0).
    pub fn new(config: &VitConfig, ctx: &ModelContext) -> Result<Self> {
        config.validate()?;
        let (d, p, ch) = (config.embed_dim, config.patch_size, config.in_channels);
        let patch_ctx = ctx.pp("patch_embed").pp("proj");
        let weight = patch_ctx.param("weight", &[d, ch, p, p], Init::fan_in_uniform(ch * p * p))?;
        let bias = patch_ctx.param("bias", &[d], Init::fan_in_uniform(ch * p * p))?;
        let patch_embed = QuantLinear::from_parts(
            weight.reshape((d, ch * p * p))?,
            patch_ctx.name("weight"),
            Some(bias),
            ctx.quant().clone(),
        )?;
        let tokens = Init::Normal { std: 0.02 };
        let cls_token = ctx.param("cls_token", &[1, 1, d], tokens)?;
        let pos_embed = ctx.param("pos_embed", &[1, config.num_patches() + 1, d], tokens)?;
        let blocks = (0..config.depth)
            .map(|i| Block::new(&ctx.pp("blocks").pp(i), config))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: config.clone(),
            ctx: ctx.clone(),
            patch_embed,
            cls_token,
            pos_embed,
            blocks,
            norm: LayerNorm::new(&ctx.pp("norm"), d, LN_EPS)?,
            head: QuantLinear::new(&ctx.pp("head"), d, config.num_classes, true)?,
        })
    }

    /// `[b, c, h, w] -> [b, patches, c * p * p]`, patches in row-major order, each flattened as
    /// `(channel, row, column)` to match the `[dim, c, p, p]` kernel layout.
    fn patchify(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let p = self.config.patch_size;
        Ok(x.reshape((b, c, h / p, p, w / p, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b, (h / p) * (w / p), c * p * p))?)
    }
}

impl Model for Vit {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let c = &self.config;
        check_image_input(NAME, x, c.in_channels, Some(c.image_size))?;
        let b = x.dim(0)?;
        let patches = self.patch_embed.forward(&self.patchify(x)?)?;
        let cls = self.cls_token.broadcast_as((b, 1, c.embed_dim))?;
        let mut tokens = Tensor::cat(&[&cls, &patches], 1)?.broadcast_add(&self.pos_embed)?;
        for block in &self.blocks {
            tokens = block.forward(&tokens)?;
        }
        let cls_out = self.norm.forward(&tokens)?.i((.., 0))?;
        self.head.forward(&cls_out)
    }

    fn config(&self) -> ModelConfig {
        ModelConfig::Vit(self.config.clone())
    }

    fn context(&self) -> &ModelContext {
        &self.ctx
    }
}
