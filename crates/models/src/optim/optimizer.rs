//! Adam and SGD with momentum over named variables, with a state that can be saved and restored
//! (for resuming runs); the fused one-pass update kernels are in `crate::kernels`.

use std::collections::BTreeMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::errors::{ModelError, Result};
use crate::kernels::{AdamStep, SgdStep, adam_update, sgd_update};
use crate::optim::OptimizerConfig;

/// An optimizer over named variables: Adam or SGD with momentum, following PyTorch's update rules, with
/// its state exposed as named tensors so a crashed run can resume exactly.
///
/// ```
/// use candle_core::{Device, Var};
/// use smallscale_models::{Optimizer, OptimizerConfig};
/// let w = Var::new(&[1.0f32, -2.0], &Device::Cpu)?;
/// let mut opt = Optimizer::new(OptimizerConfig::adam(0.1), vec![("w".into(), w.clone())]);
/// let grads = w.as_tensor().sqr()?.sum_all()?.backward()?;
/// opt.step(&grads)?;
/// // Adam's first step moves every coordinate by lr against the gradient's sign.
/// let v = w.as_tensor().to_vec1::<f32>()?;
/// assert!((v[0] - 0.9).abs() < 1e-6 && (v[1] + 1.9).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    lr: f64,
    params: Vec<(String, Var)>,
    step: u64,
    /// Adam: first moments; SGD: momentum buffers.
    first: BTreeMap<String, Tensor>,
    /// Adam: second moments.
    second: BTreeMap<String, Tensor>,
}

impl Optimizer {
    /// An optimizer for `params` (name, variable).
    pub fn new(config: OptimizerConfig, params: Vec<(String, Var)>) -> Self {
        Self {
            lr: config.lr(),
            config,
            params,
            step: 0,
            first: BTreeMap::new(),
            second: BTreeMap::new(),
        }
    }

    /// The current learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate (schedules call this every epoch).
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One update from the gradients in `grads`; variables without a gradient are left alone.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        for (name, var) in &self.params {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Work on detached values: an op on a `Var` is tracked by autograd, and keeping such
            // tensors in the optimizer state would chain every step's graph to the next.
            let grad = grad.detach();
            let param = var.as_tensor().detach();
            match self.config {
                OptimizerConfig::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    ..
                } => {
                    let step = AdamStep {
                        lr: self.lr,
                        beta1,
                        beta2,
                        eps,
                        weight_decay,
                        step: self.step,
                    };
                    let moments = self.first.get(name).zip(self.second.get(name));
                    let (p, m, v) = match adam_update(&param, &grad, moments, &step)? {
                        Some(fused) => fused,
                        None => adam_with_tensor_ops(&param, &grad, moments, &step)?,
                    };
                    var.set(&p)?;
                    self.first.insert(name.clone(), m);
                    self.second.insert(name.clone(), v);
                }
                OptimizerConfig::Sgd {
                    momentum,
                    weight_decay,
                    nesterov,
                    ..
                } => {
                    let step = SgdStep {
                        lr: self.lr,
                        momentum,
                        weight_decay,
                        nesterov,
                    };
                    let buffer = self.first.get(name);
                    let (p, b) = match sgd_update(&param, &grad, buffer, &step)? {
                        Some(fused) => fused,
                        None => sgd_with_tensor_ops(&param, &grad, buffer, &step)?,
                    };
                    var.set(&p)?;
                    if momentum > 0.0 {
                        self.first.insert(name.clone(), b);
                    }
                }
            }
        }
        Ok(())
    }

    /// The optimizer state as named tensors (`NAME.first`, `NAME.second`, and `step` and `lr`).
    pub fn state(&self) -> Result<BTreeMap<String, Tensor>> {
        let device = self
            .params
            .first()
            .map_or(candle_core::Device::Cpu, |(_, v)| v.device().clone());
        let mut out = BTreeMap::new();
        for (n, t) in &self.first {
            out.insert(format!("{n}.first"), t.clone());
        }
        for (n, t) in &self.second {
            out.insert(format!("{n}.second"), t.clone());
        }
        out.insert("step".into(), Tensor::new(&[self.step as i64], &device)?);
        out.insert("lr".into(), Tensor::new(&[self.lr], &device)?);
        Ok(out)
    }

    /// Restores a state written by [`Optimizer::state`] for the same parameters.
    pub fn load_state(&mut self, state: &BTreeMap<String, Tensor>) -> Result<()> {
        let bad = |reason: String| ModelError::OptimizerState { reason };
        let step = state
            .get("step")
            .ok_or_else(|| bad("no step counter".into()))?;
        self.step = step.to_vec1::<i64>()?.first().copied().unwrap_or(0).max(0) as u64;
        if let Some(lr) = state.get("lr") {
            self.lr = lr.to_vec1::<f64>()?.first().copied().unwrap_or(self.lr);
        }
        self.first.clear();
        self.second.clear();
        for (name, var) in &self.params {
            for (suffix, map) in [("first", &mut self.first), ("second", &mut self.second)] {
                if let Some(t) = state.get(&format!("{name}.{suffix}")) {
                    if t.dims() != var.dims() {
                        return Err(bad(format!(
                            "{name}.{suffix} has shape {:?} but the parameter has {:?}: the state belongs to another model",
                            t.dims(),
                            var.dims()
                        )));
                    }
                    map.insert(
                        name.clone(),
                        t.to_device(var.device())?.to_dtype(var.dtype())?,
                    );
                }
            }
        }
        Ok(())
    }
}

/// Adam's rule as tensor operations, for devices and dtypes the one-pass kernel does not cover;
/// `(param, m, v)` after the step.
pub(crate) fn adam_with_tensor_ops(
    param: &Tensor,
    grad: &Tensor,
    moments: Option<(&Tensor, &Tensor)>,
    s: &AdamStep,
) -> Result<(Tensor, Tensor, Tensor)> {
    let g = if s.weight_decay > 0.0 {
        (grad + (param * s.weight_decay)?)?
    } else {
        grad.clone()
    };
    let (m, v) = match moments {
        Some((m, v)) => (
            ((m * s.beta1)? + (&g * (1.0 - s.beta1))?)?,
            ((v * s.beta2)? + (g.sqr()? * (1.0 - s.beta2))?)?,
        ),
        None => ((&g * (1.0 - s.beta1))?, (g.sqr()? * (1.0 - s.beta2))?),
    };
    let t = s.step.min(i32::MAX as u64) as i32;
    let bias1 = 1.0 - s.beta1.powi(t);
    let bias2 = 1.0 - s.beta2.powi(t);
    let denom = ((v.sqrt()? / bias2.sqrt())? + s.eps)?;
    let update = ((&m / &denom)? * (s.lr / bias1))?;
    Ok(((param - update)?, m, v))
}

/// SGD's rule as tensor operations (see [`adam_with_tensor_ops`]); `(param, buffer)`.
pub(crate) fn sgd_with_tensor_ops(
    param: &Tensor,
    grad: &Tensor,
    buffer: Option<&Tensor>,
    s: &SgdStep,
) -> Result<(Tensor, Tensor)> {
    let g = if s.weight_decay > 0.0 {
        (grad + (param * s.weight_decay)?)?
    } else {
        grad.clone()
    };
    if s.momentum <= 0.0 {
        return Ok(((param - (&g * s.lr)?)?, g));
    }
    let buf = match buffer {
        Some(b) => ((b * s.momentum)? + &g)?,
        None => g.clone(),
    };
    let dir = if s.nesterov {
        (&g + (&buf * s.momentum)?)?
    } else {
        buf.clone()
    };
    Ok(((param - (dir * s.lr)?)?, buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn close(a: &Tensor, b: &Tensor, tol: f64) {
        let a = a.to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap();
        let b = b.to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    fn data(seed: u64, dtype: DType) -> Tensor {
        let v: Vec<f64> = (0..1000)
            .map(|i| ((i as f64 + 0.5) * (seed as f64 + 1.3)).sin() * 2.0)
            .collect();
        Tensor::new(v, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    /// The one-pass kernels follow the same rule as the tensor operations, step after step, with
    /// and without weight decay, momentum and Nesterov, in f32 and f64.
    #[test]
    fn one_pass_updates_equal_the_tensor_operation_rule() {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            for weight_decay in [0.0, 0.01] {
                let (mut p1, mut p2) = (data(0, dtype), data(0, dtype));
                let mut moments1: Option<(Tensor, Tensor)> = None;
                let mut moments2: Option<(Tensor, Tensor)> = None;
                for step in 1..=4 {
                    let g = data(step, dtype);
                    let s = AdamStep {
                        lr: 0.01,
                        beta1: 0.9,
                        beta2: 0.999,
                        eps: 1e-8,
                        weight_decay,
                        step,
                    };
                    let m1 = moments1.as_ref().map(|(m, v)| (m, v));
                    let (a, m, v) = adam_update(&p1, &g, m1, &s).unwrap().expect("CPU kernel");
                    let m2 = moments2.as_ref().map(|(m, v)| (m, v));
                    let (b, mm, vv) = adam_with_tensor_ops(&p2, &g, m2, &s).unwrap();
                    close(&a, &b, tol);
                    close(&m, &mm, tol);
                    close(&v, &vv, tol);
                    (p1, p2, moments1, moments2) = (a, b, Some((m, v)), Some((mm, vv)));
                }
                for (momentum, nesterov) in [(0.0, false), (0.9, false), (0.9, true)] {
                    let (mut p1, mut p2) = (data(0, dtype), data(0, dtype));
                    let (mut b1, mut b2): (Option<Tensor>, Option<Tensor>) = (None, None);
                    for step in 1..=4 {
                        let g = data(step, dtype);
                        let s = SgdStep {
                            lr: 0.1,
                            momentum,
                            weight_decay,
                            nesterov,
                        };
                        let (a, ba) = sgd_update(&p1, &g, b1.as_ref(), &s).unwrap().expect("CPU");
                        let (b, bb) = sgd_with_tensor_ops(&p2, &g, b2.as_ref(), &s).unwrap();
                        close(&a, &b, tol);
                        close(&ba, &bb, tol);
                        (p1, p2, b1, b2) = (a, b, Some(ba), Some(bb));
                    }
                }
            }
        }
    }
}
