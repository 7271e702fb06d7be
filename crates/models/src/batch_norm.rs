//! 2-D batch normalization with PyTorch's training/evaluation behavior and running statistics.

use candle_core::{DType, Tensor};

use crate::buffers::BufferStore;
use crate::context::ModelContext;
use crate::errors::{ModelError, Result};
use crate::init::Init;
use crate::kernels::{BatchNormMode, ChannelStats, batch_norm, channel_stats};
use crate::quant_state::QuantHandle;

/// PyTorch's default momentum of the running statistics.
pub const BN_MOMENTUM: f64 = 0.1;
/// PyTorch's default epsilon.
pub const BN_EPS: f64 = 1e-5;

/// Batch normalization over `[batch, channels, h, w]`, as PyTorch's `BatchNorm2d` with default
/// settings:
///
/// - training (`train = true`): normalize with the batch mean and the *biased* batch variance, then
///   update `running_mean` and `running_var` (with the *unbiased* variance) by
///   `r <- (1 - momentum) r + momentum * batch_stat`, momentum 0.1, and count `num_batches_tracked`
///   (or, while the buffer store's [`RunningStatsUpdate`](crate::RunningStatsUpdate) is
///   `Cumulative`, set `r` to the plain average of the batch statistics seen since);
/// - evaluation: normalize with the running statistics.
///
/// `weight` (gamma) goes through the quantization state like every weight; `bias` (beta) never.
/// Parameters: `weight`, `bias`; buffers: `running_mean`, `running_var`, `num_batches_tracked`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_models::{BatchNorm2d, ModelContext};
/// let ctx = ModelContext::new(Device::Cpu);
/// let bn = BatchNorm2d::new(&ctx.pp("bn1"), 2)?;
/// let x = Tensor::new(&[1.0f32, 3.0, 10.0, 30.0], &Device::Cpu)?.reshape((2, 2, 1, 1))?;
/// let y = bn.forward_t(&x, true)?; // per channel: mean of {1, 10} and of {3, 30}
/// assert!((y.flatten_all()?.to_vec1::<f32>()?[0] + 1.0).abs() < 1e-4);
/// // running_mean = 0.9 * 0 + 0.1 * [5.5, 16.5]
/// let rm = bn.running_mean()?.to_vec1::<f32>()?;
/// assert!((rm[0] - 0.55).abs() < 1e-6 && (rm[1] - 1.65).abs() < 1e-6);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchNorm2d {
    num_features: usize,
    weight: Tensor,
    weight_name: String,
    bias: Tensor,
    prefix: String,
    running_mean_name: String,
    running_var_name: String,
    num_batches_name: String,
    buffers: BufferStore,
    quant: QuantHandle,
    momentum: f64,
    eps: f64,
}

impl BatchNorm2d {
    /// Creates `weight = 1`, `bias = 0`, `running_mean = 0`, `running_var = 1`,
    /// `num_batches_tracked = 0` under the context's prefix.
    pub fn new(ctx: &ModelContext, num_features: usize) -> Result<Self> {
        let weight = ctx.param("weight", &[num_features], Init::Ones)?;
        let bias = ctx.param("bias", &[num_features], Init::Zeros)?;
        let zeros = Tensor::zeros(num_features, ctx.dtype(), ctx.device())?;
        let ones = Tensor::ones(num_features, ctx.dtype(), ctx.device())?;
        let count = Tensor::new(0i64, ctx.device())?;
        Ok(Self {
            num_features,
            weight,
            weight_name: ctx.name("weight"),
            bias,
            prefix: ctx.prefix().to_string(),
            running_mean_name: ctx.buffer("running_mean", zeros)?,
            running_var_name: ctx.buffer("running_var", ones)?,
            num_batches_name: ctx.buffer("num_batches_tracked", count)?,
            buffers: ctx.buffers().clone(),
            quant: ctx.quant().clone(),
            momentum: BN_MOMENTUM,
            eps: BN_EPS,
        })
    }

    fn buffer(&self, name: &str) -> Result<Tensor> {
        self.buffers.get(name).ok_or_else(|| {
            ModelError::Candle(candle_core::Error::Msg(format!(
                "buffer {name} was removed from the model's buffer store"
            )))
        })
    }

    /// The running mean, `[channels]`.
    pub fn running_mean(&self) -> Result<Tensor> {
        self.buffer(&self.running_mean_name)
    }

    /// The running (unbiased) variance, `[channels]`.
    pub fn running_var(&self) -> Result<Tensor> {
        self.buffer(&self.running_var_name)
    }

    /// Normalizes `x: [batch, channels, h, w]` (see the type's documentation for `train`).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.normalize(x, train, false)
    }

    /// `relu(self.forward_t(x, train))`, fused into one pass forward and one backward on the CPU.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use smallscale_models::{BatchNorm2d, ModelContext};
    /// let ctx = ModelContext::new(Device::Cpu);
    /// let bn = BatchNorm2d::new(&ctx.pp("bn1"), 1)?;
    /// let x = Tensor::new(&[1.0f32, 3.0], &Device::Cpu)?.reshape((2, 1, 1, 1))?;
    /// let y = bn.forward_relu_t(&x, true)?.flatten_all()?.to_vec1::<f32>()?;
    /// assert_eq!(y[0], 0.0);
    /// assert!((y[1] - 1.0).abs() < 1e-4);
    /// # Ok::<(), smallscale_models::ModelError>(())
    /// ```
    pub fn forward_relu_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.normalize(x, train, true)
    }

    fn normalize(&self, x: &Tensor, train: bool, relu: bool) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let count = n * h * w;
        if train && count < 2 {
            return Err(ModelError::BatchTooSmall {
                layer: self.prefix.clone(),
                count,
            });
        }
        let gamma = self.quant.apply(&self.weight_name, &self.weight)?;
        let fused = crate::kernels::cpu_kernels_enabled()
            && x.device().is_cpu()
            && matches!(x.dtype(), DType::F32 | DType::F64);
        if !fused {
            let y = self.normalize_with_tensor_ops(x, &gamma, train)?;
            return Ok(if relu { y.relu()? } else { y });
        }
        let (stats, mode) = if train {
            (channel_stats(x)?, BatchNormMode::BatchStatistics)
        } else {
            let stats = ChannelStats {
                mean: self.running_mean()?.to_dtype(DType::F64)?.to_vec1()?,
                var: self.running_var()?.to_dtype(DType::F64)?.to_vec1()?,
            };
            (stats, BatchNormMode::FixedStatistics)
        };
        let gamma = gamma.to_dtype(x.dtype())?;
        let beta = self.bias.to_dtype(x.dtype())?;
        let y = batch_norm(x, &gamma, &beta, &stats, self.eps, mode, relu)?;
        if train {
            let dev = x.device();
            let mean = Tensor::new(stats.mean.as_slice(), dev)?.reshape((1, c, 1, 1))?;
            let var = Tensor::new(stats.var.as_slice(), dev)?.reshape((1, c, 1, 1))?;
            self.update_running_stats(&mean, &var, count)?;
        }
        Ok(y)
    }

    /// The same normalization as candle tensor operations (any device and dtype).
    fn normalize_with_tensor_ops(&self, x: &Tensor, gamma: &Tensor, train: bool) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let shape = (1, c, 1, 1);
        let gamma = gamma.reshape(shape)?;
        let beta = self.bias.reshape(shape)?;
        if train {
            let mean = x.mean_keepdim((0, 2, 3))?;
            let centered = x.broadcast_sub(&mean)?;
            let var = centered.sqr()?.mean_keepdim((0, 2, 3))?;
            let scale = (var.clone() + self.eps)?
                .sqrt()?
                .recip()?
                .broadcast_mul(&gamma)?;
            let y = centered.broadcast_mul(&scale)?.broadcast_add(&beta)?;
            self.update_running_stats(&mean, &var, n * h * w)?;
            Ok(y)
        } else {
            let mean = self.running_mean()?.reshape(shape)?;
            let var = self.running_var()?.reshape(shape)?;
            let scale = (var + self.eps)?.sqrt()?.recip()?.broadcast_mul(&gamma)?;
            let shift = beta.broadcast_sub(&mean.broadcast_mul(&scale)?)?;
            Ok(x.broadcast_mul(&scale)?.broadcast_add(&shift)?)
        }
    }

    fn update_running_stats(&self, mean: &Tensor, var: &Tensor, count: usize) -> Result<()> {
        let m = self
            .buffers
            .update_factor(&self.running_mean_name, self.momentum);
        let mean = mean.detach().flatten_all()?;
        let unbiased = (var.detach().flatten_all()? * (count as f64 / (count - 1) as f64))?;
        let rm = self.running_mean()?;
        let rv = self.running_var()?;
        let (mean, unbiased) = (
            mean.to_dtype(self.weight.dtype())?,
            unbiased.to_dtype(self.weight.dtype())?,
        );
        // A factor of 1 (the first batch of a cumulative average) replaces the statistics
        // outright, so not even a NaN of the old ones survives.
        let (new_rm, new_rv) = if m == 1.0 {
            (mean, unbiased)
        } else {
            (
                ((rm * (1.0 - m))? + (mean * m)?)?,
                ((rv * (1.0 - m))? + (unbiased * m)?)?,
            )
        };
        self.buffers.set(&self.running_mean_name, new_rm.detach());
        self.buffers.set(&self.running_var_name, new_rv.detach());
        let tracked = self.buffer(&self.num_batches_name)?;
        let next = tracked.to_dtype(DType::I64)?.to_scalar::<i64>()? + 1;
        self.buffers
            .set(&self.num_batches_name, Tensor::new(next, tracked.device())?);
        Ok(())
    }

    /// Number of channels.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// The raw (unquantized) gamma.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Gamma's full name, e.g. `bn1.weight`.
    pub fn weight_name(&self) -> &str {
        &self.weight_name
    }
}
