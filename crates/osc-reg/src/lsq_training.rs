//! QAT with learned step sizes (LSQ, Esser et al. 2020) as a training method: one trainable step
//! per quantized weight tensor, trained with the weights and used wherever the model is evaluated
//! at its target bit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Var};
use smallscale_models::{Model, QuantizationState};
use smallscale_quant_core::{BitWidth, LsqQuantizer, Quantizer};

use crate::checkpointing::RunCheckpoints;
use crate::errors::{OscRegError, Result};

/// The name prefix of the steps among the optimizer's parameters.
const STEP_PREFIX: &str = "lsq_step/";

/// The learned steps of a model's quantized weight tensors.
///
/// [`LsqSteps::init`] gives each convolution and linear weight the model's quantizer selects (every
/// selected tensor of two or more dimensions) an [`LsqQuantizer`] with the paper's initial step
/// `2 mean|w| / sqrt(Qp)` and gradient scale `1 / sqrt(n Qp)`; [`LsqSteps::state`] is the
/// quantization state that fake-quantizes each of them with its own step. Norm gammas (one
/// dimension) keep the reference max-abs quantizer, as Esser et al. quantize convolution and linear
/// layers only: gammas initialized to one all tie, and at 2 bits LSQ's initial step would put
/// every one of them on the midpoint `w / s = 0.5`, which rounds to zero.
///
/// ```
/// use candle_core::Device;
/// use smallscale_models::{ModelConfig, ModelContext, build_model};
/// use smallscale_osc_reg::LsqSteps;
/// use smallscale_quant_core::BitWidth;
/// let model = build_model(&ModelConfig::default_for("mlp")?, &ModelContext::new(Device::Cpu))?;
/// let steps = LsqSteps::init(model.as_ref(), BitWidth::new(3)?)?;
/// assert_eq!(steps.named_steps().len(), model.quantized_vars().len());
/// let values = steps.values()?;
/// assert!(values.values().all(|&s| s > 0.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LsqSteps {
    bits: BitWidth,
    quantizers: BTreeMap<String, LsqQuantizer>,
}

/// The lowest value a learned step takes while training.
pub const LSQ_STEP_FLOOR: f64 = 1e-8;

/// The tensors that get a learned step: the selected ones of two or more dimensions.
fn learned_tensors(model: &dyn Model) -> Vec<(String, Var)> {
    model
        .quantized_vars()
        .into_iter()
        .filter(|(_, v)| v.rank() >= 2)
        .collect()
}

impl LsqSteps {
    /// Steps initialized from the model's current weights, for every tensor its selector picks.
    pub fn init(model: &dyn Model, bits: BitWidth) -> Result<Self> {
        let mut quantizers = BTreeMap::new();
        for (name, var) in learned_tensors(model) {
            let q = LsqQuantizer::init(var.as_tensor(), bits.get())
                .map_err(|e| e.with_tensor_name(&name))?;
            quantizers.insert(name, q);
        }
        Ok(Self { bits, quantizers })
    }

    /// Steps with the given values (a saved run's), for the model's quantized tensors; every
    /// tensor must have one.
    pub fn from_values(
        model: &dyn Model,
        bits: BitWidth,
        values: &BTreeMap<String, f64>,
    ) -> Result<Self> {
        let mut quantizers = BTreeMap::new();
        for (name, var) in learned_tensors(model) {
            let step = values.get(&name).copied().ok_or_else(|| OscRegError::InvalidParameter {
                parameter: "LSQ steps",
                reason: format!(
                    "the run saved no learned step for {name}: it was trained with another model or exclude list"
                ),
            })?;
            quantizers.insert(name, LsqQuantizer::with_step(var.as_tensor(), bits, step)?);
        }
        Ok(Self { bits, quantizers })
    }

    /// The quantizer of tensor `name`, if it has a learned step.
    pub fn quantizer(&self, name: &str) -> Option<&LsqQuantizer> {
        self.quantizers.get(name)
    }

    /// Keeps every step at or above [`LSQ_STEP_FLOOR`] (Adam moves a step by about its learning
    /// rate whatever its gradient, which can push a small step through zero; at the floor every
    /// weight is clipped and the step's gradient pushes it up again). The trainer calls it after
    /// every optimizer step.
    pub fn keep_positive(&self) -> Result<()> {
        for q in self.quantizers.values() {
            let step = q.step();
            let s = step.as_tensor().to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if s.is_nan() || s < LSQ_STEP_FLOOR {
                let t = candle_core::Tensor::new(LSQ_STEP_FLOOR, step.device())?
                    .to_dtype(step.dtype())?;
                step.set(&t)?;
            }
        }
        Ok(())
    }

    /// The target bit-width.
    pub fn bits(&self) -> BitWidth {
        self.bits
    }

    /// The steps as trainable variables, named `lsq_step/TENSOR` (give them to the optimizer).
    pub fn named_steps(&self) -> Vec<(String, Var)> {
        self.quantizers
            .iter()
            .map(|(name, q)| (format!("{STEP_PREFIX}{name}"), q.step().clone()))
            .collect()
    }

    /// The current step of every tensor.
    pub fn values(&self) -> Result<BTreeMap<String, f64>> {
        self.quantizers
            .iter()
            .map(|(name, q)| {
                let s = q
                    .step()
                    .as_tensor()
                    .to_dtype(DType::F64)?
                    .to_scalar::<f64>()?;
                Ok((name.clone(), s))
            })
            .collect()
    }

    /// Sets the steps to saved values (every tensor of these steps must be among them).
    pub fn set_values(&self, values: &BTreeMap<String, f64>) -> Result<()> {
        for (name, q) in &self.quantizers {
            let v = values.get(name).ok_or_else(|| OscRegError::InvalidParameter {
                parameter: "LSQ steps",
                reason: format!(
                    "the saved state has no step for {name}: delete the run directory to start over"
                ),
            })?;
            let step = q.step();
            let t = candle_core::Tensor::new(*v, step.device())?.to_dtype(step.dtype())?;
            step.set(&t)?;
        }
        Ok(())
    }

    /// The per-tensor quantizers, for [`QuantizationState::with_tensor_quantizers`].
    pub fn quantizers(&self) -> BTreeMap<String, Arc<dyn Quantizer>> {
        self.quantizers
            .iter()
            .map(|(name, q)| (name.clone(), Arc::new(q.clone()) as Arc<dyn Quantizer>))
            .collect()
    }

    /// The reference state at the target bit with these steps on their tensors, keeping `selector`'s
    /// choice of tensors.
    pub fn state(
        &self,
        selector: smallscale_quant_core::TensorSelector,
    ) -> Result<QuantizationState> {
        Ok(QuantizationState::reference(self.bits.get())?
            .with_selector(selector)
            .with_tensor_quantizers(self.quantizers()))
    }
}

/// The learned steps of the selected epoch of the LSQ run in `run_dir` (none for another method, or
/// a directory without a run).
pub fn learned_steps(run_dir: &Path) -> Result<Option<BTreeMap<String, f64>>> {
    if !run_dir.is_dir() {
        return Ok(None);
    }
    let Some(state) = RunCheckpoints::open(run_dir)?.load_state()? else {
        return Ok(None);
    };
    let best = state.early_stopping.best_epoch();
    Ok(best
        .and_then(|e| state.history.iter().find(|r| r.epoch == e))
        .and_then(|r| r.lsq_steps.clone()))
}
