//! Batch normalization over `[n, c, h, w]` on the CPU, optionally followed by ReLU, as one candle
//! custom op with a fused backward pass.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::element::{Element, SliceKernel, run_on_storages, with_cpu_slice};
use crate::errors::{ModelError, Result};

/// Per-channel statistics a batch-norm call normalizes with.
#[derive(Debug, Clone)]
pub struct ChannelStats {
    /// The mean of each channel.
    pub mean: Vec<f64>,
    /// The biased (divide by the count) variance of each channel.
    pub var: Vec<f64>,
}

/// Mean and biased variance of every channel of `x: [n, c, h, w]`, accumulated in `f64` (two
/// passes: the mean, then the squared deviations from it).
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[1.0f32, 3.0, 10.0, 30.0], &Device::Cpu)?.reshape((2, 2, 1, 1))?;
/// let stats = smallscale_models::kernels::channel_stats(&x)?;
/// assert_eq!(stats.mean, [5.5, 16.5]);
/// assert_eq!(stats.var, [20.25, 182.25]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn channel_stats(x: &Tensor) -> Result<ChannelStats> {
    let (n, c, h, w) = x.dims4()?;
    let shape = PlaneShape { n, c, hw: h * w };
    let stats = match x.dtype() {
        DType::F32 => with_cpu_slice::<f32, _>(&x.detach(), "batch-norm input", |xs| {
            Ok(stats_of(xs, shape))
        }),
        DType::F64 => with_cpu_slice::<f64, _>(&x.detach(), "batch-norm input", |xs| {
            Ok(stats_of(xs, shape))
        }),
        dtype => Err(candle_core::Error::Msg(format!(
            "channel statistics take f32 or f64 input, got {dtype:?}"
        ))),
    }?;
    Ok(stats)
}

/// What the normalization uses and whether ReLU follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchNormMode {
    /// Normalize with the statistics of this batch; the gradient flows through them (training).
    BatchStatistics,
    /// Normalize with given (running) statistics, which are constants (evaluation).
    FixedStatistics,
}

/// `y = gamma * (x - mean) / sqrt(var + eps) + beta` per channel of `x: [n, c, h, w]`, then
/// `max(y, 0)` when `relu`, differentiable in `x`, `gamma` and `beta`.
///
/// With [`BatchNormMode::BatchStatistics`], `stats` must be [`channel_stats`] of this `x` and the
/// gradient is the full batch-norm gradient (through the mean and the variance); with
/// [`BatchNormMode::FixedStatistics`] the statistics are constants. On the CPU with `f32`/`f64`
/// this is one fused kernel for the forward pass and one for the backward pass; elsewhere it is
/// the same formula as candle tensor operations (in batch mode with the statistics recomputed
/// from `x` by tensor operations, so the gradient is the same). The ReLU passes the gradient
/// where its output is positive, as PyTorch's does.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_models::kernels::{BatchNormMode, batch_norm, channel_stats};
/// let x = Tensor::new(&[1.0f32, 3.0, 10.0, 30.0], &Device::Cpu)?.reshape((2, 2, 1, 1))?;
/// let (gamma, beta) = (Tensor::ones(2, candle_core::DType::F32, &Device::Cpu)?, Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu)?);
/// let stats = channel_stats(&x)?;
/// let y = batch_norm(&x, &gamma, &beta, &stats, 1e-5, BatchNormMode::BatchStatistics, true)?;
/// let y = y.flatten_all()?.to_vec1::<f32>()?;
/// assert_eq!(y[0], 0.0); // (1 - 5.5) / 4.5 < 0, cut by the ReLU
/// assert!((y[2] - 1.0).abs() < 1e-5);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn batch_norm(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    stats: &ChannelStats,
    eps: f64,
    mode: BatchNormMode,
    relu: bool,
) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    for (name, t) in [("gamma", gamma), ("beta", beta)] {
        if t.elem_count() != c {
            return Err(ModelError::Candle(candle_core::Error::Msg(format!(
                "batch-norm {name} has {} elements but the input has {c} channels",
                t.elem_count()
            ))));
        }
    }
    if stats.mean.len() != c || stats.var.len() != c {
        return Err(ModelError::Candle(candle_core::Error::Msg(format!(
            "batch-norm statistics are for {} channels but the input has {c}",
            stats.mean.len()
        ))));
    }
    let inv_std: Vec<f64> = stats.var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let uses_kernel = super::cpu_kernels_enabled()
        && x.device().is_cpu()
        && matches!(x.dtype(), DType::F32 | DType::F64)
        && gamma.dtype() == x.dtype()
        && beta.dtype() == x.dtype();
    if !uses_kernel {
        let dev = x.device();
        let shape = (1, c, 1, 1);
        let (mean, inv_std) = match mode {
            // The statistics of this batch, as tensor operations, so the gradient flows through
            // them as in the kernel.
            BatchNormMode::BatchStatistics => {
                let mean = x.mean_keepdim((0, 2, 3))?;
                let var = x.broadcast_sub(&mean)?.sqr()?.mean_keepdim((0, 2, 3))?;
                (mean, (var + eps)?.sqrt()?.recip()?)
            }
            BatchNormMode::FixedStatistics => (
                Tensor::new(stats.mean.as_slice(), dev)?
                    .to_dtype(x.dtype())?
                    .reshape(shape)?,
                Tensor::new(inv_std.as_slice(), dev)?
                    .to_dtype(x.dtype())?
                    .reshape(shape)?,
            ),
        };
        let scale = inv_std.broadcast_mul(&gamma.reshape(shape)?.to_dtype(x.dtype())?)?;
        let y = x
            .broadcast_sub(&mean)?
            .broadcast_mul(&scale)?
            .broadcast_add(&beta.reshape(shape)?.to_dtype(x.dtype())?)?;
        return Ok(if relu { y.relu()? } else { y });
    }
    let op = BatchNormOp {
        shape: PlaneShape { n, c, hw: h * w },
        mean: stats.mean.clone(),
        inv_std,
        mode,
        relu,
    };
    Ok(x.contiguous()?.apply_op3(
        &gamma.flatten_all()?.contiguous()?,
        &beta.flatten_all()?.contiguous()?,
        op,
    )?)
}

/// `[n, c, h * w]`.
#[derive(Debug, Clone, Copy)]
struct PlaneShape {
    n: usize,
    c: usize,
    hw: usize,
}

impl PlaneShape {
    /// The `n` planes of channel `ci`.
    fn planes<'a, T>(&self, xs: &'a [T], ci: usize) -> impl Iterator<Item = &'a [T]> + 'a {
        let (c, hw) = (self.c, self.hw);
        (0..self.n).map(move |s| &xs[(s * c + ci) * hw..][..hw])
    }
}

fn stats_of<T: Element>(xs: &[T], shape: PlaneShape) -> ChannelStats {
    let count = (shape.n * shape.hw) as f64;
    let (mean, var) = (0..shape.c)
        .into_par_iter()
        .map(|ci| {
            let sum: f64 = shape
                .planes(xs, ci)
                .map(|p| p.iter().map(|v| v.widen()).sum::<f64>())
                .sum();
            let mean = sum / count;
            let sq: f64 = shape
                .planes(xs, ci)
                .map(|p| p.iter().map(|v| (v.widen() - mean).powi(2)).sum::<f64>())
                .sum();
            (mean, sq / count)
        })
        .unzip();
    ChannelStats { mean, var }
}

struct BatchNormOp {
    shape: PlaneShape,
    mean: Vec<f64>,
    inv_std: Vec<f64>,
    mode: BatchNormMode,
    relu: bool,
}

impl BatchNormOp {
    fn forward<T: Element>(&self, xs: &[T], gamma: &[T], beta: &[T]) -> Vec<T> {
        let PlaneShape { c, hw, .. } = self.shape;
        let mut y = vec![T::zero(); xs.len()];
        y.par_chunks_mut(hw.max(1))
            .zip(xs.par_chunks(hw.max(1)))
            .enumerate()
            .for_each(|(plane, (yp, xp))| {
                let ci = plane % c;
                let mean = T::narrow(self.mean[ci]);
                let scale = T::narrow(self.inv_std[ci]) * gamma[ci];
                let shift = beta[ci];
                if self.relu {
                    for (y, &x) in yp.iter_mut().zip(xp) {
                        *y = num_traits::Float::max((x - mean) * scale + shift, T::zero());
                    }
                } else {
                    for (y, &x) in yp.iter_mut().zip(xp) {
                        *y = (x - mean) * scale + shift;
                    }
                }
            });
        y
    }

    /// `(dx, dgamma, dbeta)`.
    fn backward<T: Element>(
        &self,
        xs: &[T],
        gamma: &[T],
        ys: &[T],
        gys: &[T],
    ) -> (Vec<T>, Vec<T>, Vec<T>) {
        let shape = self.shape;
        let PlaneShape { n, c, hw } = shape;
        let count = (n * hw) as f64;
        let relu = self.relu;
        // Gradient reaching the affine output: cut where the ReLU was off.
        let upstream = |y: T, gy: T| {
            if relu && y <= T::zero() {
                T::zero()
            } else {
                gy
            }
        };
        // Per channel: sum of g and of g * (x - mean).
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ci| {
                let mean = self.mean[ci];
                let mut sum_g = 0.0;
                let mut sum_gx = 0.0;
                for ((xp, yp), gp) in shape
                    .planes(xs, ci)
                    .zip(shape.planes(ys, ci))
                    .zip(shape.planes(gys, ci))
                {
                    for ((&x, &y), &gy) in xp.iter().zip(yp).zip(gp) {
                        let g = upstream(y, gy).widen();
                        sum_g += g;
                        sum_gx += g * (x.widen() - mean);
                    }
                }
                (sum_g, sum_gx)
            })
            .collect();
        let dgamma = (0..c)
            .map(|ci| T::narrow(sums[ci].1 * self.inv_std[ci]))
            .collect();
        let dbeta = sums.iter().map(|s| T::narrow(s.0)).collect();
        let mut dx = vec![T::zero(); xs.len()];
        dx.par_chunks_mut(hw.max(1))
            .enumerate()
            .for_each(|(plane, dxp)| {
                let ci = plane % c;
                let range = plane * hw..(plane + 1) * hw;
                let (xp, yp, gp) = (&xs[range.clone()], &ys[range.clone()], &gys[range]);
                let inv_std = self.inv_std[ci];
                let scale = T::narrow(inv_std * gamma[ci].widen());
                let mean = T::narrow(self.mean[ci]);
                match self.mode {
                    BatchNormMode::FixedStatistics => {
                        for ((d, &y), &gy) in dxp.iter_mut().zip(yp).zip(gp) {
                            *d = scale * upstream(y, gy);
                        }
                    }
                    BatchNormMode::BatchStatistics => {
                        let mean_g = T::narrow(sums[ci].0 / count);
                        let k = T::narrow(inv_std * inv_std * sums[ci].1 / count);
                        for (((d, &x), &y), &gy) in dxp.iter_mut().zip(xp).zip(yp).zip(gp) {
                            *d = scale * (upstream(y, gy) - mean_g - (x - mean) * k);
                        }
                    }
                }
            });
        (dx, dgamma, dbeta)
    }
}

impl SliceKernel for BatchNormOp {
    fn run<T: Element>(&self, inputs: &[&[T]]) -> Vec<T> {
        self.forward(inputs[0], inputs[1], inputs[2])
    }
}

impl CustomOp3 for BatchNormOp {
    fn name(&self) -> &'static str {
        "smallscale-batch-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let inputs = [(s1, l1), (s2, l2), (s3, l3)];
        let names = ["batch-norm input", "batch-norm gamma", "batch-norm beta"];
        let out = run_on_storages(self, &inputs, &names, "batch-norm")?;
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        match x.dtype() {
            DType::F32 => self.grads_as_tensors::<f32>(x, gamma, res, grad),
            DType::F64 => self.grads_as_tensors::<f64>(x, gamma, res, grad),
            dtype => Err(candle_core::Error::Msg(format!(
                "the CPU batch-norm kernel has no backward for {dtype:?}"
            ))),
        }
    }
}

impl BatchNormOp {
    fn grads_as_tensors<T: Element>(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dgamma, dbeta) = with_cpu_slice::<T, _>(x, "batch-norm input", |xs| {
            with_cpu_slice::<T, _>(gamma, "batch-norm gamma", |gs| {
                with_cpu_slice::<T, _>(res, "batch-norm output", |ys| {
                    with_cpu_slice::<T, _>(grad, "batch-norm output gradient", |gys| {
                        Ok(self.backward(xs, gs, ys, gys))
                    })
                })
            })
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dgamma, gamma.shape(), dev)?),
            Some(Tensor::from_vec(dbeta, gamma.shape(), dev)?),
        ))
    }
}
