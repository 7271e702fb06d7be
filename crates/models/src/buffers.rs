//! Non-trainable named tensors of a model (batch-norm running statistics).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use candle_core::Tensor;

use crate::errors::{ModelError, Result};

/// Named buffers (PyTorch's term): tensors that belong to the model's state and its checkpoints but
/// are not trained by the optimizer, such as `bn1.running_mean`, `bn1.running_var` and
/// `bn1.num_batches_tracked`. Cheap to clone (shared), thread-safe.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_models::BufferStore;
/// let buffers = BufferStore::default();
/// buffers.insert("bn.running_mean", Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu)?)?;
/// assert_eq!(buffers.names(), ["bn.running_mean"]);
/// assert!(buffers.insert("bn.running_mean", Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu)?).is_err());
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct BufferStore(Arc<RwLock<BTreeMap<String, Tensor>>>);

impl BufferStore {
    /// Registers a new buffer; a name registered twice is an error.
    pub fn insert(&self, name: impl Into<String>, value: Tensor) -> Result<()> {
        let name = name.into();
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        if map.contains_key(&name) {
            return Err(ModelError::DuplicateTensor { name });
        }
        map.insert(name, value);
        Ok(())
    }

    /// The current value of a buffer.
    pub fn get(&self, name: &str) -> Option<Tensor> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Replaces the value of a buffer (registering it if it is new).
    pub fn set(&self, name: &str, value: Tensor) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(name) {
            Some(slot) => *slot = value,
            None => {
                map.insert(name.to_string(), value);
            }
        }
    }

    /// Every buffer name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// A copy of every buffer, sorted by name.
    pub fn snapshot(&self) -> BTreeMap<String, Tensor> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Number of buffers.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether there are no buffers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
