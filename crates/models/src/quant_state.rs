//! The switchable weight-quantization state shared by every layer of a model.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use candle_core::{DType, Tensor};
use smallscale_quant_core::{
    BitWidth, MaxAbsQuantizer, PerChannelMaxAbsQuantizer, Quantizer, TensorSelector,
};

use crate::errors::{ModelError, Result};

/// What the quantizable layers do with their weights: nothing (full precision), or fake
/// quantization with a [`Quantizer`] of every weight the [`TensorSelector`] picks.
///
/// The default selector is the reference's: every parameter named `weight` (conv, linear and norm
/// gammas), never biases, running statistics or free parameters such as `cls_token`.
///
/// ```
/// use candle_core::DType;
/// use smallscale_models::QuantizationState;
/// let state = QuantizationState::reference(4)?.excluding(["conv1.*", "fc.*"])?;
/// assert_eq!(state.bits().map(|b| b.get()), Some(4));
/// assert!(state.selects("layer1.0.conv1.weight", DType::F32));
/// assert!(!state.selects("conv1.weight", DType::F32)); // excluded
/// assert!(!state.selects("layer1.0.bn1.bias", DType::F32)); // never biases
/// assert!(QuantizationState::off().is_off());
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct QuantizationState {
    quantizer: Option<Arc<dyn Quantizer>>,
    /// Quantizers of single tensors by name (LSQ's learned steps), used instead of `quantizer` for
    /// those tensors while a quantizer is set.
    per_tensor: Arc<BTreeMap<String, Arc<dyn Quantizer>>>,
    selector: TensorSelector,
}

impl Default for QuantizationState {
    fn default() -> Self {
        Self::off()
    }
}

fn quant_err(tensor: &str) -> impl FnOnce(smallscale_quant_core::QuantError) -> ModelError + '_ {
    move |source| ModelError::Quant {
        tensor: tensor.to_string(),
        source: source.with_tensor_name(tensor),
    }
}

impl QuantizationState {
    /// Full precision: weights pass through unchanged. The selector is the reference's.
    pub fn off() -> Self {
        Self {
            quantizer: None,
            per_tensor: Arc::default(),
            selector: TensorSelector::reference_weights(),
        }
    }

    /// The paper's reference quantizer ([`MaxAbsQuantizer`], per tensor, faithful scale gradient)
    /// at `bits` (2..=16) on every weight.
    pub fn reference(bits: u32) -> Result<Self> {
        let q = MaxAbsQuantizer::new(bits).map_err(quant_err("<bits>"))?;
        Ok(Self::with_quantizer(q))
    }

    /// Per-output-channel max-abs quantization ([`PerChannelMaxAbsQuantizer`]) at `bits`.
    pub fn per_channel(bits: u32) -> Result<Self> {
        let q = PerChannelMaxAbsQuantizer::new(bits).map_err(quant_err("<bits>"))?;
        Ok(Self::with_quantizer(q))
    }

    /// Fake quantization with any quantizer, on the reference selection of weights.
    pub fn with_quantizer(quantizer: impl Quantizer + 'static) -> Self {
        Self::with_shared_quantizer(Arc::new(quantizer))
    }

    /// Fake quantization with a shared quantizer, on the reference selection of weights.
    pub fn with_shared_quantizer(quantizer: Arc<dyn Quantizer>) -> Self {
        Self {
            quantizer: Some(quantizer),
            per_tensor: Arc::default(),
            selector: TensorSelector::reference_weights(),
        }
    }

    /// Gives single tensors their own quantizer (for example an [`LsqQuantizer`] with its learned
    /// step per weight tensor): a selected tensor named in `quantizers` is fake-quantized by its own,
    /// the others by the state's quantizer. Only while a quantizer is set (not when off).
    ///
    /// [`LsqQuantizer`]: smallscale_quant_core::LsqQuantizer
    ///
    /// ```
    /// use std::{collections::BTreeMap, sync::Arc};
    /// use candle_core::{Device, Tensor};
    /// use smallscale_models::QuantizationState;
    /// use smallscale_quant_core::{BitWidth, LsqQuantizer, Quantizer};
    /// let w = Tensor::new(&[0.9f32, 0.2, -0.4], &Device::Cpu)?;
    /// let lsq: Arc<dyn Quantizer> = Arc::new(LsqQuantizer::with_step(&w, BitWidth::new(2)?, 0.5)?);
    /// let state = QuantizationState::reference(2)?
    ///     .with_tensor_quantizers(BTreeMap::from([("fc.weight".to_string(), lsq)]));
    /// // Step 0.5, codes in [-2, 1]: 0.9 -> 0.5, 0.2 -> 0, -0.4 -> -0.5.
    /// assert_eq!(state.apply("fc.weight", &w)?.to_vec1::<f32>()?, [0.5, 0.0, -0.5]);
    /// // Other tensors keep the reference quantizer (ternary, s = 0.9).
    /// assert_eq!(state.apply("conv.weight", &w)?.to_vec1::<f32>()?, [0.9, 0.0, -0.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_tensor_quantizers(
        mut self,
        quantizers: BTreeMap<String, Arc<dyn Quantizer>>,
    ) -> Self {
        self.per_tensor = Arc::new(quantizers);
        self
    }

    /// The quantizers of single tensors ([`QuantizationState::with_tensor_quantizers`]).
    pub fn tensor_quantizers(&self) -> &BTreeMap<String, Arc<dyn Quantizer>> {
        &self.per_tensor
    }

    /// Replaces the selector (which named tensors are quantized).
    pub fn with_selector(mut self, selector: TensorSelector) -> Self {
        self.selector = selector;
        self
    }

    /// Adds exclude globs over full parameter names (`"fc.*"`, `"*.bn*.weight"`,
    /// `"layer1.0.conv1.weight"`). An invalid glob is an error.
    pub fn excluding<S: AsRef<str>>(
        mut self,
        patterns: impl IntoIterator<Item = S>,
    ) -> Result<Self> {
        self.selector = self
            .selector
            .exclude_all(patterns)
            .map_err(quant_err("<exclude pattern>"))?;
        Ok(self)
    }

    /// Whether weights pass through unchanged.
    pub fn is_off(&self) -> bool {
        self.quantizer.is_none()
    }

    /// The active quantizer, if any.
    pub fn quantizer(&self) -> Option<&Arc<dyn Quantizer>> {
        self.quantizer.as_ref()
    }

    /// The active bit-width, if any.
    pub fn bits(&self) -> Option<BitWidth> {
        self.quantizer.as_ref().map(|q| q.bits())
    }

    /// The selector (independent of whether quantization is on).
    pub fn selector(&self) -> &TensorSelector {
        &self.selector
    }

    /// Whether the tensor `name` is one the state quantizes when a quantizer is set.
    pub fn selects(&self, name: &str, dtype: DType) -> bool {
        self.selector.selects(name, dtype)
    }

    /// The weight as the forward pass sees it: fake-quantized if a quantizer is set and `name` is
    /// selected, otherwise `weight` itself (the same tensor, so the forward is bit-identical to
    /// full precision).
    pub fn apply(&self, name: &str, weight: &Tensor) -> Result<Tensor> {
        match &self.quantizer {
            Some(q) if self.selector.selects(name, weight.dtype()) => {
                let q = self.per_tensor.get(name).unwrap_or(q);
                q.fake_quantize(weight).map_err(quant_err(name))
            }
            _ => Ok(weight.clone()),
        }
    }
}

/// A cheap, cloneable, thread-safe handle to the [`QuantizationState`] that every layer of a model
/// reads at each forward call. Switching the state (between steps, for cross-bit evaluation, for
/// PTQ) needs no rebuild of the model.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_models::{QuantHandle, QuantizationState};
/// let quant = QuantHandle::default(); // off
/// let w = Tensor::new(&[0.9f32, 0.2, -0.4], &Device::Cpu)?;
/// assert_eq!(quant.apply("fc.weight", &w)?.to_vec1::<f32>()?, [0.9, 0.2, -0.4]);
/// quant.set_reference_bits(2)?; // ternary {-0.9, 0, 0.9}
/// assert_eq!(quant.apply("fc.weight", &w)?.to_vec1::<f32>()?, [0.9, 0.0, -0.0]);
/// // Evaluate at 8 bits, then restore whatever was set before.
/// let at_8 = quant.with_state(QuantizationState::reference(8)?, || quant.bits());
/// assert_eq!(at_8.map(|b| b.get()), Some(8));
/// assert_eq!(quant.bits().map(|b| b.get()), Some(2));
/// quant.set_off();
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct QuantHandle(Arc<RwLock<QuantizationState>>);

impl QuantHandle {
    /// A handle holding `state`.
    pub fn new(state: QuantizationState) -> Self {
        Self(Arc::new(RwLock::new(state)))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, QuantizationState> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, QuantizationState> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the current state.
    pub fn get(&self) -> QuantizationState {
        self.read().clone()
    }

    /// Replaces the state; returns the previous one.
    pub fn set(&self, state: QuantizationState) -> QuantizationState {
        std::mem::replace(&mut *self.write(), state)
    }

    /// Switches quantization off (full precision); the selector is kept.
    pub fn set_off(&self) {
        let mut state = self.write();
        state.quantizer = None;
        state.per_tensor = Arc::default();
    }

    /// Switches to fake quantization with `quantizer`; the selector is kept.
    pub fn set_quantizer(&self, quantizer: impl Quantizer + 'static) {
        let mut state = self.write();
        state.quantizer = Some(Arc::new(quantizer));
        state.per_tensor = Arc::default();
    }

    /// Switches to the reference quantizer at `bits`; the selector is kept.
    pub fn set_reference_bits(&self, bits: u32) -> Result<()> {
        let q = MaxAbsQuantizer::new(bits).map_err(quant_err("<bits>"))?;
        self.set_quantizer(q);
        Ok(())
    }

    /// Replaces the selector; the quantizer (or off) is kept.
    pub fn set_selector(&self, selector: TensorSelector) {
        self.write().selector = selector;
    }

    /// Runs `f` with `state` set, then restores the previous state (also if `f` panics).
    pub fn with_state<R>(&self, state: QuantizationState, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a QuantHandle, Option<QuantizationState>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                if let Some(s) = self.1.take() {
                    self.0.set(s);
                }
            }
        }
        let previous = self.set(state);
        let _restore = Restore(self, Some(previous));
        f()
    }

    /// Whether quantization is off.
    pub fn is_off(&self) -> bool {
        self.read().is_off()
    }

    /// The active bit-width, if any.
    pub fn bits(&self) -> Option<BitWidth> {
        self.read().bits()
    }

    /// Whether the tensor `name` is selected for quantization (whether or not it is on).
    pub fn selects(&self, name: &str, dtype: DType) -> bool {
        self.read().selects(name, dtype)
    }

    /// Whether two handles share the same state.
    pub fn same_as(&self, other: &QuantHandle) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The weight as the forward pass sees it under the current state (see
    /// [`QuantizationState::apply`]). The lock is held only to copy the quantizer pointer.
    pub fn apply(&self, name: &str, weight: &Tensor) -> Result<Tensor> {
        let quantizer = {
            let state = self.read();
            match &state.quantizer {
                Some(q) if state.selector.selects(name, weight.dtype()) => {
                    Some(state.per_tensor.get(name).unwrap_or(q).clone())
                }
                _ => None,
            }
        };
        match quantizer {
            Some(q) => q.fake_quantize(weight).map_err(quant_err(name)),
            None => Ok(weight.clone()),
        }
    }
}
