//! One-pass CPU updates of Adam and SGD with momentum: every element of a parameter, its gradient
//! and its moment buffers is read once and written once, instead of one tensor operation (and one
//! allocation) per term of the update rule.

use candle_core::{DType, Tensor};
use rayon::prelude::*;

use super::element::{Element, with_cpu_slice};
use crate::errors::Result;

/// Elements per parallel task.
const CHUNK: usize = 1 << 15;

/// The constants of one Adam step (PyTorch's `torch.optim.Adam` rule, L2 `weight_decay` added to
/// the gradient).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f64,
    /// L2 coefficient added to the gradient (`g + weight_decay * p`).
    pub weight_decay: f64,
    /// The step number, from 1.
    pub step: u64,
}

/// Parameter, first and second moment after one Adam step:
///
/// ```text
/// g = grad + weight_decay * p
/// m = beta1 * m + (1 - beta1) * g          (m = (1 - beta1) * g on the first step)
/// v = beta2 * v + (1 - beta2) * g^2        (likewise)
/// p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// ```
///
/// computed in one multithreaded pass on the CPU for `f32`/`f64` tensors of one shape. Returns
/// `None` for anything else (another device or dtype, or the kernels switched off), where the
/// caller uses tensor operations.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_models::kernels::{AdamStep, adam_update};
/// let p = Tensor::new(&[1.0f32, -2.0], &Device::Cpu)?;
/// let g = Tensor::new(&[2.0f32, -4.0], &Device::Cpu)?;
/// let step = AdamStep { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, step: 1 };
/// let (p, _m, _v) = adam_update(&p, &g, None, &step)?.expect("CPU f32 runs the kernel");
/// // the first Adam step moves every coordinate by lr against its gradient's sign
/// let p = p.to_vec1::<f32>()?;
/// assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] + 1.9).abs() < 1e-6);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn adam_update(
    param: &Tensor,
    grad: &Tensor,
    moments: Option<(&Tensor, &Tensor)>,
    step: &AdamStep,
) -> Result<Option<(Tensor, Tensor, Tensor)>> {
    let mut tensors = vec![param, grad];
    if let Some((m, v)) = moments {
        tensors.extend([m, v]);
    }
    if !runs_on_cpu(&tensors) {
        return Ok(None);
    }
    let out = match param.dtype() {
        DType::F32 => adam_tensors::<f32>(param, grad, moments, step)?,
        _ => adam_tensors::<f64>(param, grad, moments, step)?,
    };
    Ok(Some(out))
}

/// Parameter and momentum buffer after one step of SGD with momentum (PyTorch's
/// `torch.optim.SGD` rule, dampening 0):
///
/// ```text
/// g = grad + weight_decay * p
/// b = momentum * b + g                    (b = g on the first step)
/// p = p - lr * (nesterov ? g + momentum * b : b)
/// ```
///
/// in one pass on the CPU for `f32`/`f64`; `None` elsewhere. Without momentum, `buffer` is
/// ignored and the returned buffer is the gradient `g`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_models::kernels::{SgdStep, sgd_update};
/// let p = Tensor::new(&[1.0f64], &Device::Cpu)?;
/// let g = Tensor::new(&[0.5f64], &Device::Cpu)?;
/// let step = SgdStep { lr: 0.1, momentum: 0.9, weight_decay: 0.0, nesterov: false };
/// let (p, b) = sgd_update(&p, &g, None, &step)?.expect("CPU f64 runs the kernel");
/// assert_eq!(p.to_vec1::<f64>()?, [0.95]);
/// let (p, _) = sgd_update(&p, &g, Some(&b), &step)?.expect("kernel");
/// assert!((p.to_vec1::<f64>()?[0] - (0.95 - 0.1 * 0.95)).abs() < 1e-15);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn sgd_update(
    param: &Tensor,
    grad: &Tensor,
    buffer: Option<&Tensor>,
    step: &SgdStep,
) -> Result<Option<(Tensor, Tensor)>> {
    let mut tensors = vec![param, grad];
    tensors.extend(buffer);
    if !runs_on_cpu(&tensors) {
        return Ok(None);
    }
    let out = match param.dtype() {
        DType::F32 => sgd_tensors::<f32>(param, grad, buffer, step)?,
        _ => sgd_tensors::<f64>(param, grad, buffer, step)?,
    };
    Ok(Some(out))
}

/// The constants of one SGD step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdStep {
    /// Learning rate.
    pub lr: f64,
    /// Momentum (0 for plain SGD).
    pub momentum: f64,
    /// L2 coefficient added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

/// Whether the kernels apply: every tensor on the CPU, `f32` or `f64`, of one dtype and shape.
fn runs_on_cpu(tensors: &[&Tensor]) -> bool {
    let first = tensors[0];
    super::cpu_kernels_enabled()
        && matches!(first.dtype(), DType::F32 | DType::F64)
        && tensors.iter().all(|t| {
            t.device().is_cpu() && t.dtype() == first.dtype() && t.shape() == first.shape()
        })
}

fn adam_tensors<T: Element>(
    param: &Tensor,
    grad: &Tensor,
    moments: Option<(&Tensor, &Tensor)>,
    s: &AdamStep,
) -> Result<(Tensor, Tensor, Tensor)> {
    let n = param.elem_count();
    let mut p_new = vec![T::zero(); n];
    let mut m_new = vec![T::zero(); n];
    let mut v_new = vec![T::zero(); n];
    let t = s.step.min(i32::MAX as u64) as i32;
    let c = |v: f64| T::narrow(v);
    let (b1, b2, wd, eps) = (c(s.beta1), c(s.beta2), c(s.weight_decay), c(s.eps));
    let (one_b1, one_b2) = (c(1.0 - s.beta1), c(1.0 - s.beta2));
    let root_bias2 = c((1.0 - s.beta2.powi(t)).sqrt());
    let step_size = c(s.lr / (1.0 - s.beta1.powi(t)));
    let decay = s.weight_decay > 0.0;
    with_cpu_slice::<T, _>(param, "parameter", |ps| {
        with_cpu_slice::<T, _>(grad, "gradient", |gs| {
            let mut update = |ms: Option<&[T]>, vs: Option<&[T]>| {
                p_new
                    .par_chunks_mut(CHUNK)
                    .zip(m_new.par_chunks_mut(CHUNK))
                    .zip(v_new.par_chunks_mut(CHUNK))
                    .enumerate()
                    .for_each(|(i, ((po, mo), vo))| {
                        let r = i * CHUNK..i * CHUNK + po.len();
                        let (p, g) = (&ps[r.clone()], &gs[r.clone()]);
                        let (m, v) = (ms.map(|m| &m[r.clone()]), vs.map(|v| &v[r]));
                        for j in 0..po.len() {
                            let gj = if decay { g[j] + wd * p[j] } else { g[j] };
                            let mj = match m {
                                Some(m) => b1 * m[j] + one_b1 * gj,
                                None => one_b1 * gj,
                            };
                            let vj = match v {
                                Some(v) => b2 * v[j] + one_b2 * gj * gj,
                                None => one_b2 * gj * gj,
                            };
                            mo[j] = mj;
                            vo[j] = vj;
                            po[j] = p[j] - mj / (vj.sqrt() / root_bias2 + eps) * step_size;
                        }
                    });
            };
            match moments {
                Some((m, v)) => with_cpu_slice::<T, _>(m, "first moment", |ms| {
                    with_cpu_slice::<T, _>(v, "second moment", |vs| {
                        update(Some(ms), Some(vs));
                        Ok(())
                    })
                }),
                None => {
                    update(None, None);
                    Ok(())
                }
            }
        })
    })?;
    let (shape, dev) = (param.shape(), param.device());
    Ok((
        Tensor::from_vec(p_new, shape, dev)?,
        Tensor::from_vec(m_new, shape, dev)?,
        Tensor::from_vec(v_new, shape, dev)?,
    ))
}

fn sgd_tensors<T: Element>(
    param: &Tensor,
    grad: &Tensor,
    buffer: Option<&Tensor>,
    s: &SgdStep,
) -> Result<(Tensor, Tensor)> {
    let n = param.elem_count();
    let mut p_new = vec![T::zero(); n];
    let mut b_new = vec![T::zero(); n];
    let c = |v: f64| T::narrow(v);
    let (lr, mom, wd) = (c(s.lr), c(s.momentum), c(s.weight_decay));
    let (decay, with_momentum, nesterov) = (s.weight_decay > 0.0, s.momentum > 0.0, s.nesterov);
    with_cpu_slice::<T, _>(param, "parameter", |ps| {
        with_cpu_slice::<T, _>(grad, "gradient", |gs| {
            let mut update = |bs: Option<&[T]>| {
                p_new
                    .par_chunks_mut(CHUNK)
                    .zip(b_new.par_chunks_mut(CHUNK))
                    .enumerate()
                    .for_each(|(i, (po, bo))| {
                        let r = i * CHUNK..i * CHUNK + po.len();
                        let (p, g, b) = (&ps[r.clone()], &gs[r.clone()], bs.map(|b| &b[r]));
                        for j in 0..po.len() {
                            let gj = if decay { g[j] + wd * p[j] } else { g[j] };
                            let (bj, dir) = if with_momentum {
                                let bj = match b {
                                    Some(b) => mom * b[j] + gj,
                                    None => gj,
                                };
                                (bj, if nesterov { gj + mom * bj } else { bj })
                            } else {
                                (gj, gj)
                            };
                            bo[j] = bj;
                            po[j] = p[j] - dir * lr;
                        }
                    });
            };
            match buffer.filter(|_| with_momentum) {
                Some(b) => with_cpu_slice::<T, _>(b, "momentum buffer", |bs| {
                    update(Some(bs));
                    Ok(())
                }),
                None => {
                    update(None);
                    Ok(())
                }
            }
        })
    })?;
    let (shape, dev) = (param.shape(), param.device());
    Ok((
        Tensor::from_vec(p_new, shape, dev)?,
        Tensor::from_vec(b_new, shape, dev)?,
    ))
}
