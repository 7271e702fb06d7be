//! Row-wise kernels over the last dimension: layer normalization, softmax and the erf GELU, each a
//! candle custom op with a one-pass backward.

use candle_core::{CpuStorage, CustomOp1, CustomOp3, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::element::{Element, SliceKernel, run_on_storages, with_cpu_slice};
use crate::errors::{ModelError, Result};

/// Rows per parallel task (rows are short: a token's features, an attention row).
const ROWS_PER_TASK: usize = 64;

fn last_dim(t: &Tensor) -> Result<usize> {
    t.dims().last().copied().filter(|&d| d > 0).ok_or_else(|| {
        ModelError::Candle(candle_core::Error::Msg(format!(
            "a row-wise kernel needs a tensor with a non-empty last dimension, got shape {:?}",
            t.dims()
        )))
    })
}

fn kernel_applies(tensors: &[&Tensor]) -> bool {
    let first = tensors[0];
    super::cpu_kernels_enabled()
        && first.device().is_cpu()
        && matches!(first.dtype(), DType::F32 | DType::F64)
        && tensors
            .iter()
            .all(|t| t.dtype() == first.dtype() && t.device().is_cpu())
}

// ---------------------------------------------------------------------------------------------
// Layer normalization

/// Layer normalization over the last dimension: `(x - mean) / sqrt(var + eps) * gamma + beta`
/// (biased variance), differentiable in `x`, `gamma` and `beta`. On the CPU (`f32`/`f64`) one
/// fused pass forward and one backward; elsewhere the same formula as tensor operations.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[1.0f32, 3.0], [0.0, 10.0]], &Device::Cpu)?;
/// let (g, b) = (Tensor::new(&[1.0f32, 1.0], &Device::Cpu)?, Tensor::new(&[0.0f32, 0.5], &Device::Cpu)?);
/// let y = smallscale_models::kernels::layer_norm(&x, &g, &b, 0.0)?.to_vec2::<f32>()?;
/// assert_eq!(y, [[-1.0, 1.5], [-1.0, 1.5]]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    let d = last_dim(x)?;
    for (name, t) in [("gamma", gamma), ("beta", beta)] {
        if t.elem_count() != d {
            return Err(ModelError::Candle(candle_core::Error::Msg(format!(
                "layer-norm {name} has {} elements but the rows have {d}",
                t.elem_count()
            ))));
        }
    }
    if !kernel_applies(&[x, gamma, beta]) {
        let mean = x.mean_keepdim(candle_core::D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(candle_core::D::Minus1)?;
        let normed = centered.broadcast_div(&(var + eps)?.sqrt()?)?;
        return Ok(normed
            .broadcast_mul(&gamma.flatten_all()?)?
            .broadcast_add(&beta.flatten_all()?)?);
    }
    Ok(x.contiguous()?.apply_op3(
        &gamma.flatten_all()?.contiguous()?,
        &beta.flatten_all()?.contiguous()?,
        LayerNormOp { eps },
    )?)
}

struct LayerNormOp {
    eps: f64,
}

/// Mean and `1 / sqrt(var + eps)` of one row, accumulated in `f64`.
fn row_moments<T: Element>(row: &[T], eps: f64) -> (f64, f64) {
    let n = row.len() as f64;
    let mean = row.iter().map(|v| v.widen()).sum::<f64>() / n;
    let var = row.iter().map(|v| (v.widen() - mean).powi(2)).sum::<f64>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

impl LayerNormOp {
    fn forward<T: Element>(&self, x: &[T], gamma: &[T], beta: &[T]) -> Vec<T> {
        let d = gamma.len();
        let mut y = vec![T::zero(); x.len()];
        y.par_chunks_mut(d * ROWS_PER_TASK)
            .zip(x.par_chunks(d * ROWS_PER_TASK))
            .for_each(|(yc, xc)| {
                for (yr, xr) in yc.chunks_mut(d).zip(xc.chunks(d)) {
                    let (mean, rstd) = row_moments(xr, self.eps);
                    let (mean, rstd) = (T::narrow(mean), T::narrow(rstd));
                    for (((y, &x), &g), &b) in yr.iter_mut().zip(xr).zip(gamma).zip(beta) {
                        *y = (x - mean) * rstd * g + b;
                    }
                }
            });
        y
    }

    /// `(dx, dgamma, dbeta)`.
    fn backward<T: Element>(&self, x: &[T], gamma: &[T], gy: &[T]) -> (Vec<T>, Vec<T>, Vec<T>) {
        let d = gamma.len();
        let mut dx = vec![T::zero(); x.len()];
        // Per task of ROWS_PER_TASK rows: its share of dgamma and dbeta; the shares are summed
        // in row order, so the result does not depend on the thread schedule.
        let partials: Vec<(Vec<f64>, Vec<f64>)> = dx
            .par_chunks_mut(d * ROWS_PER_TASK)
            .zip(x.par_chunks(d * ROWS_PER_TASK))
            .zip(gy.par_chunks(d * ROWS_PER_TASK))
            .map(|((dxc, xc), gc)| {
                let (mut dg, mut db) = (vec![0.0f64; d], vec![0.0f64; d]);
                for ((dxr, xr), gr) in dxc.chunks_mut(d).zip(xc.chunks(d)).zip(gc.chunks(d)) {
                    let (mean, rstd) = row_moments(xr, self.eps);
                    // g = dy * gamma; dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
                    let mut sum_g = 0.0;
                    let mut sum_gx = 0.0;
                    for j in 0..d {
                        let xhat = (xr[j].widen() - mean) * rstd;
                        let dy = gr[j].widen();
                        let g = dy * gamma[j].widen();
                        sum_g += g;
                        sum_gx += g * xhat;
                        dg[j] += dy * xhat;
                        db[j] += dy;
                    }
                    let (mg, mgx) = (sum_g / d as f64, sum_gx / d as f64);
                    for j in 0..d {
                        let xhat = (xr[j].widen() - mean) * rstd;
                        let g = gr[j].widen() * gamma[j].widen();
                        dxr[j] = T::narrow(rstd * (g - mg - xhat * mgx));
                    }
                }
                (dg, db)
            })
            .collect();
        let (mut dgamma, mut dbeta) = (vec![0.0f64; d], vec![0.0f64; d]);
        for (dg, db) in partials {
            dgamma.iter_mut().zip(&dg).for_each(|(a, b)| *a += b);
            dbeta.iter_mut().zip(&db).for_each(|(a, b)| *a += b);
        }
        let narrow = |v: Vec<f64>| v.into_iter().map(T::narrow).collect();
        (dx, narrow(dgamma), narrow(dbeta))
    }

    fn grads<T: Element>(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dg, db) = with_cpu_slice::<T, _>(x, "layer-norm input", |xs| {
            with_cpu_slice::<T, _>(gamma, "layer-norm gamma", |gs| {
                with_cpu_slice::<T, _>(grad, "layer-norm output gradient", |gys| {
                    Ok(self.backward(xs, gs, gys))
                })
            })
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dg, gamma.shape(), dev)?),
            Some(Tensor::from_vec(db, gamma.shape(), dev)?),
        ))
    }
}

impl SliceKernel for LayerNormOp {
    fn run<T: Element>(&self, inputs: &[&[T]]) -> Vec<T> {
        self.forward(inputs[0], inputs[1], inputs[2])
    }
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "smallscale-layer-norm"
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
        let names = ["layer-norm input", "layer-norm gamma", "layer-norm beta"];
        let out = run_on_storages(self, &inputs, &names, "layer-norm")?;
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        match x.dtype() {
            DType::F32 => self.grads::<f32>(x, gamma, grad),
            _ => self.grads::<f64>(x, gamma, grad),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax

/// Softmax over the last dimension (row maximum subtracted for stability), differentiable. On
/// the CPU (`f32`/`f64`) a fused kernel whose backward is `y * (dy - sum(dy * y))` per row;
/// elsewhere tensor operations.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let p = smallscale_models::kernels::softmax_last_dim(&Tensor::new(&[[0.0f32, 0.0], [1000.0, 1000.0]], &Device::Cpu)?)?;
/// assert_eq!(p.to_vec2::<f32>()?, [[0.5, 0.5], [0.5, 0.5]]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    last_dim(x)?;
    if !kernel_applies(&[x]) {
        let max = x.max_keepdim(candle_core::D::Minus1)?.detach();
        let e = x.broadcast_sub(&max)?.exp()?;
        let sum = e.sum_keepdim(candle_core::D::Minus1)?;
        return Ok(e.broadcast_div(&sum)?);
    }
    Ok(x.contiguous()?.apply_op1(SoftmaxOp { d: last_dim(x)? })?)
}

struct SoftmaxOp {
    d: usize,
}

fn softmax_rows<T: Element>(x: &[T], d: usize) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(d * ROWS_PER_TASK)
        .zip(x.par_chunks(d * ROWS_PER_TASK))
        .for_each(|(yc, xc)| {
            for (yr, xr) in yc.chunks_mut(d).zip(xc.chunks(d)) {
                let max = xr
                    .iter()
                    .copied()
                    .fold(T::neg_infinity(), num_traits::Float::max);
                let mut sum = T::zero();
                for (y, &x) in yr.iter_mut().zip(xr) {
                    *y = (x - max).exp();
                    sum += *y;
                }
                let inv = T::one() / sum;
                yr.iter_mut().for_each(|y| *y *= inv);
            }
        });
    y
}

fn softmax_grad<T: Element>(y: &[T], gy: &[T], d: usize) -> Vec<T> {
    let mut dx = vec![T::zero(); y.len()];
    dx.par_chunks_mut(d * ROWS_PER_TASK)
        .zip(y.par_chunks(d * ROWS_PER_TASK))
        .zip(gy.par_chunks(d * ROWS_PER_TASK))
        .for_each(|((dc, yc), gc)| {
            for ((dr, yr), gr) in dc.chunks_mut(d).zip(yc.chunks(d)).zip(gc.chunks(d)) {
                let dot = yr.iter().zip(gr).fold(T::zero(), |s, (&y, &g)| s + y * g);
                for ((dx, &y), &g) in dr.iter_mut().zip(yr).zip(gr) {
                    *dx = y * (g - dot);
                }
            }
        });
    dx
}

impl SliceKernel for SoftmaxOp {
    fn run<T: Element>(&self, inputs: &[&[T]]) -> Vec<T> {
        softmax_rows(inputs[0], self.d)
    }
}

impl CustomOp1 for SoftmaxOp {
    fn name(&self) -> &'static str {
        "smallscale-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = run_on_storages(self, &[(s, l)], &["softmax input"], "softmax")?;
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dx = match res.dtype() {
            DType::F32 => Tensor::from_vec(
                with_cpu_slice::<f32, _>(res, "softmax output", |y| {
                    with_cpu_slice::<f32, _>(grad, "softmax gradient", |g| {
                        Ok(softmax_grad(y, g, self.d))
                    })
                })?,
                res.shape(),
                res.device(),
            )?,
            _ => Tensor::from_vec(
                with_cpu_slice::<f64, _>(res, "softmax output", |y| {
                    with_cpu_slice::<f64, _>(grad, "softmax gradient", |g| {
                        Ok(softmax_grad(y, g, self.d))
                    })
                })?,
                res.shape(),
                res.device(),
            )?,
        };
        Ok(Some(dx))
    }
}

// ---------------------------------------------------------------------------------------------
// GELU

/// `1 / sqrt(2 pi)`.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// The exact (erf) GELU, `x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))`, differentiable. On the CPU
/// (`f32`/`f64`) a fused kernel with derivative `Phi(x) + x phi(x)`, computed at the tensor's
/// precision (`libm`'s `erff` for `f32`, `erf` for `f64`); elsewhere candle's `gelu_erf`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let y = smallscale_models::kernels::gelu_erf(&Tensor::new(&[0.0f64, 1.0], &Device::Cpu)?)?;
/// let y = y.to_vec1::<f64>()?;
/// assert_eq!(y[0], 0.0);
/// assert!((y[1] - 0.841_344_746_068_542_9).abs() < 1e-15);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if !kernel_applies(&[x]) {
        return Ok(x.gelu_erf()?);
    }
    Ok(x.contiguous()?.apply_op1(GeluOp)?)
}

struct GeluOp;

/// `Phi(x)`, the standard normal distribution function, at the precision of `T`.
fn normal_cdf<T: Element>(x: T) -> T {
    let half = T::narrow(0.5);
    half * (T::one() + (x * T::narrow(std::f64::consts::FRAC_1_SQRT_2)).erf())
}

/// `d/dx x Phi(x) = Phi(x) + x phi(x)`.
fn gelu_slope<T: Element>(x: T) -> T {
    normal_cdf(x) + x * T::narrow(INV_SQRT_2PI) * (T::narrow(-0.5) * x * x).exp()
}

fn map_elements<T: Element>(x: &[T], f: impl Fn(T) -> T + Sync) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(1 << 14)
        .zip(x.par_chunks(1 << 14))
        .for_each(|(yc, xc)| {
            for (y, &x) in yc.iter_mut().zip(xc) {
                *y = f(x);
            }
        });
    y
}

impl SliceKernel for GeluOp {
    fn run<T: Element>(&self, inputs: &[&[T]]) -> Vec<T> {
        map_elements(inputs[0], |v| v * normal_cdf(v))
    }
}

impl CustomOp1 for GeluOp {
    fn name(&self) -> &'static str {
        "smallscale-gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = run_on_storages(self, &[(s, l)], &["GELU input"], "GELU")?;
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        fn run<T: Element>(x: &Tensor, grad: &Tensor) -> candle_core::Result<Tensor> {
            let dx = with_cpu_slice::<T, _>(x, "GELU input", |xs| {
                with_cpu_slice::<T, _>(grad, "GELU gradient", |gs| {
                    let mut dx = vec![T::zero(); xs.len()];
                    dx.par_chunks_mut(1 << 14)
                        .zip(xs.par_chunks(1 << 14))
                        .zip(gs.par_chunks(1 << 14))
                        .for_each(|((dc, xc), gc)| {
                            for ((d, &x), &g) in dc.iter_mut().zip(xc).zip(gc) {
                                *d = g * gelu_slope(x);
                            }
                        });
                    Ok(dx)
                })
            })?;
            Tensor::from_vec(dx, x.shape(), x.device())
        }
        Ok(Some(match x.dtype() {
            DType::F32 => run::<f32>(x, grad)?,
            _ => run::<f64>(x, grad)?,
        }))
    }
}
