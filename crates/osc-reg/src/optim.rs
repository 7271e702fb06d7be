//! Adam and SGD with momentum, with a state that can be saved and restored (for resuming runs).

use std::collections::BTreeMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::errors::{OscRegError, Result};
use crate::hyperparams::OptimizerConfig;

/// An optimizer over named variables: Adam or SGD with momentum, following PyTorch's update rules, with
/// its state exposed as named tensors so a crashed run can resume exactly.
///
/// ```
/// use candle_core::{Device, Var};
/// use smallscale_osc_reg::{Optimizer, OptimizerConfig};
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
        let t = self.step as i32;
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
                    let g = if weight_decay > 0.0 {
                        (&grad + (&param * weight_decay)?)?
                    } else {
                        grad.clone()
                    };
                    let m = match self.first.get(name) {
                        Some(m) => ((m * beta1)? + (&g * (1.0 - beta1))?)?,
                        None => (&g * (1.0 - beta1))?,
                    };
                    let v = match self.second.get(name) {
                        Some(v) => ((v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?,
                        None => (g.sqr()? * (1.0 - beta2))?,
                    };
                    let bias1 = 1.0 - beta1.powi(t);
                    let bias2 = 1.0 - beta2.powi(t);
                    let denom = ((v.sqrt()? / bias2.sqrt())? + eps)?;
                    let update = ((&m / &denom)? * (self.lr / bias1))?;
                    var.set(&(&param - update)?)?;
                    self.first.insert(name.clone(), m);
                    self.second.insert(name.clone(), v);
                }
                OptimizerConfig::Sgd {
                    momentum,
                    weight_decay,
                    nesterov,
                    ..
                } => {
                    let mut g = if weight_decay > 0.0 {
                        (&grad + (&param * weight_decay)?)?
                    } else {
                        grad.clone()
                    };
                    if momentum > 0.0 {
                        let buf = match self.first.get(name) {
                            Some(b) => ((b * momentum)? + &g)?,
                            None => g.clone(),
                        };
                        g = if nesterov {
                            (g + (&buf * momentum)?)?
                        } else {
                            buf.clone()
                        };
                        self.first.insert(name.clone(), buf);
                    }
                    var.set(&(&param - (g * self.lr)?)?)?;
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
        let bad = |reason: String| OscRegError::InvalidParameter {
            parameter: "optimizer state",
            reason,
        };
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
