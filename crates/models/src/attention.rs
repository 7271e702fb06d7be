//! Multi-head self-attention.

use candle_core::Tensor;

use crate::context::ModelContext;
use crate::errors::Result;
use crate::linear::QuantLinear;

/// Multi-head self-attention as in ViT (timm naming): `qkv: Linear(dim, 3 dim)`, scaled dot-product
/// attention per head, `proj: Linear(dim, dim)`. Input and output `[batch, tokens, dim]`.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{ModelContext, MultiHeadSelfAttention};
/// let ctx = ModelContext::new(Device::Cpu);
/// let attn = MultiHeadSelfAttention::new(&ctx.pp("attn"), 8, 2)?;
/// let y = attn.forward(&Tensor::ones((2, 5, 8), DType::F32, &Device::Cpu)?)?;
/// assert_eq!(y.dims(), [2, 5, 8]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MultiHeadSelfAttention {
    qkv: QuantLinear,
    proj: QuantLinear,
    num_heads: usize,
    head_dim: usize,
    scale: f64,
}

impl MultiHeadSelfAttention {
    /// Creates `qkv` and `proj` under the context's prefix. `dim` must be divisible by
    /// `num_heads` (the model configurations check it).
    pub fn new(ctx: &ModelContext, dim: usize, num_heads: usize) -> Result<Self> {
        let head_dim = dim / num_heads.max(1);
        Ok(Self {
            qkv: QuantLinear::new(&ctx.pp("qkv"), dim, 3 * dim, true)?,
            proj: QuantLinear::new(&ctx.pp("proj"), dim, dim, true)?,
            num_heads,
            head_dim,
            scale: 1.0 / (head_dim as f64).sqrt(),
        })
    }

    /// Attends over the tokens of `x: [batch, tokens, dim]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, dim) = x.dims3()?;
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, t, 3, self.num_heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?; // [3, b, heads, t, head_dim]
        let q = qkv.get(0)?.contiguous()?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scores = (q.matmul(&k.t()?.contiguous()?)? * self.scale)?;
        let attn = crate::kernels::softmax_last_dim(&scores)?;
        let out = attn
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, t, dim))?;
        self.proj.forward(&out)
    }
}
