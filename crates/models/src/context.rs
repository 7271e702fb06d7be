//! Where a model's parameters, buffers and quantization state live while it is built.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use crate::buffers::BufferStore;
use crate::errors::{ModelError, Result};
use crate::init::Init;
use crate::quant_state::QuantHandle;

/// Everything layers need when they are built: the [`VarMap`] of trainable parameters, the
/// [`BufferStore`] of running statistics, the shared [`QuantHandle`], the device, dtype and seed, and
/// a name prefix (like candle's `VarBuilder`). Cloning is cheap and shares the stores.
///
/// Build one context per model: parameter names must be unique within it.
///
/// ```
/// use candle_core::Device;
/// use smallscale_models::{Init, ModelContext};
/// let ctx = ModelContext::new(Device::Cpu).with_seed(7);
/// let w = ctx.pp("layer1").pp(0).param("weight", &[4, 3], Init::Ones)?;
/// assert_eq!(w.dims(), [4, 3]);
/// assert_eq!(ctx.pp("layer1").pp(0).name("weight"), "layer1.0.weight");
/// assert_eq!(ctx.varmap().all_vars().len(), 1);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Clone)]
pub struct ModelContext {
    varmap: VarMap,
    buffers: BufferStore,
    quant: QuantHandle,
    device: Device,
    dtype: DType,
    seed: u64,
    prefix: String,
}

impl std::fmt::Debug for ModelContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelContext")
            .field("parameters", &self.varmap.all_vars().len())
            .field("buffers", &self.buffers.len())
            .field("quant", &self.quant)
            .field("device", &self.device)
            .field("dtype", &self.dtype)
            .field("seed", &self.seed)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl ModelContext {
    /// An empty context on `device`: f32 parameters, seed 0, quantization off.
    pub fn new(device: Device) -> Self {
        Self {
            varmap: VarMap::new(),
            buffers: BufferStore::default(),
            quant: QuantHandle::default(),
            device,
            dtype: DType::F32,
            seed: 0,
            prefix: String::new(),
        }
    }

    /// Uses `quant` as the model's quantization state (share it with the trainer to switch it).
    pub fn with_quant(mut self, quant: QuantHandle) -> Self {
        self.quant = quant;
        self
    }

    /// Sets the initialization seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the parameter dtype (f32 by default; the fake-quant kernels take f32 and f64).
    pub fn with_dtype(mut self, dtype: DType) -> Self {
        self.dtype = dtype;
        self
    }

    /// A context whose names are prefixed by `segment` (`ctx.pp("layer1").pp(0)` names
    /// `layer1.0.*`).
    pub fn pp(&self, segment: impl std::fmt::Display) -> Self {
        let mut ctx = self.clone();
        ctx.prefix = self.name(&segment.to_string());
        ctx
    }

    /// The full name of `leaf` under this prefix.
    pub fn name(&self, leaf: &str) -> String {
        if self.prefix.is_empty() {
            leaf.to_string()
        } else {
            format!("{}.{leaf}", self.prefix)
        }
    }

    /// The current prefix (empty at the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Creates a trainable parameter `leaf` (under the prefix) in the [`VarMap`] and returns its
    /// tensor (which shares the variable, so gradients and optimizer updates reach it).
    pub fn param(&self, leaf: &str, shape: &[usize], init: Init) -> Result<Tensor> {
        let name = self.name(leaf);
        let value = init.tensor(self.seed, &name, shape, self.dtype, &self.device)?;
        let var = Var::from_tensor(&value)?;
        let mut data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        if data.contains_key(&name) || self.buffers.get(&name).is_some() {
            return Err(ModelError::DuplicateTensor { name });
        }
        let tensor = var.as_tensor().clone();
        data.insert(name, var);
        Ok(tensor)
    }

    /// Registers a buffer `leaf` (under the prefix) with its initial value; returns its full name.
    pub fn buffer(&self, leaf: &str, value: Tensor) -> Result<String> {
        let name = self.name(leaf);
        let in_varmap = self
            .varmap
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&name);
        if in_varmap {
            return Err(ModelError::DuplicateTensor { name });
        }
        self.buffers.insert(name.clone(), value)?;
        Ok(name)
    }

    /// The trainable parameters.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The buffers (running statistics).
    pub fn buffers(&self) -> &BufferStore {
        &self.buffers
    }

    /// The shared quantization state.
    pub fn quant(&self) -> &QuantHandle {
        &self.quant
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The parameter dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The initialization seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}
