//! Non-trainable named tensors of a model (batch-norm running statistics), how BatchNorm
//! layers update them, and deep copies to restore them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use candle_core::Tensor;

use crate::errors::{ModelError, Result};

/// How the BatchNorm layers of a model update their running statistics in training mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunningStatsUpdate {
    /// `r <- (1 - momentum) r + momentum * batch` with momentum
    /// [`BN_MOMENTUM`](crate::BN_MOMENTUM) (PyTorch's default).
    #[default]
    Exponential,
    /// Each running statistic becomes the plain average of the batch statistics of the batches
    /// seen since this mode was set; the first batch replaces the old value entirely. This is
    /// PyTorch's `momentum=None` after `reset_running_stats()` (except that
    /// `num_batches_tracked` keeps counting from its old value). Used to re-estimate the
    /// statistics under a new quantization state.
    Cumulative,
}

#[derive(Debug, Default)]
struct Store {
    tensors: BTreeMap<String, Tensor>,
    update: RunningStatsUpdate,
    /// Batches seen per layer since [`RunningStatsUpdate::Cumulative`] was set.
    cumulative_batches: BTreeMap<String, u64>,
}

/// Named buffers (PyTorch's term): tensors that belong to the model's state and its checkpoints but
/// are not trained by the optimizer, such as `bn1.running_mean`, `bn1.running_var` and
/// `bn1.num_batches_tracked`; and how BatchNorm layers update them ([`RunningStatsUpdate`]).
/// Cheap to clone (shared), thread-safe.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_models::BufferStore;
/// let buffers = BufferStore::default();
/// buffers.insert("bn.running_mean", Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu)?)?;
/// assert_eq!(buffers.names(), ["bn.running_mean"]);
/// assert!(buffers.insert("bn.running_mean", Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu)?).is_err());
/// // A deep copy survives later changes and puts them back.
/// let saved = buffers.copy()?;
/// buffers.set("bn.running_mean", Tensor::ones(4, candle_core::DType::F32, &Device::Cpu)?);
/// buffers.restore(&saved);
/// assert_eq!(buffers.get("bn.running_mean").unwrap().to_vec1::<f32>()?, [0.0; 4]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct BufferStore(Arc<RwLock<Store>>);

/// Deep copies of every buffer of a [`BufferStore`], sorted by name; put back with
/// [`BufferStore::restore`].
#[derive(Debug, Clone, Default)]
pub struct BufferSnapshot(BTreeMap<String, Tensor>);

impl BufferSnapshot {
    /// The copied buffers, by name.
    pub fn tensors(&self) -> &BTreeMap<String, Tensor> {
        &self.0
    }

    /// The copy of one buffer.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.0.get(name)
    }
}

impl BufferStore {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new buffer; a name registered twice is an error.
    pub fn insert(&self, name: impl Into<String>, value: Tensor) -> Result<()> {
        let name = name.into();
        let mut store = self.write();
        if store.tensors.contains_key(&name) {
            return Err(ModelError::DuplicateTensor { name });
        }
        store.tensors.insert(name, value);
        Ok(())
    }

    /// The current value of a buffer.
    pub fn get(&self, name: &str) -> Option<Tensor> {
        self.read().tensors.get(name).cloned()
    }

    /// Replaces the value of a buffer (registering it if it is new).
    pub fn set(&self, name: &str, value: Tensor) {
        self.write().tensors.insert(name.to_string(), value);
    }

    /// Every buffer name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.read().tensors.keys().cloned().collect()
    }

    /// The current buffers, sorted by name (shared tensors, not copies: see [`copy`](Self::copy)).
    pub fn snapshot(&self) -> BTreeMap<String, Tensor> {
        self.read().tensors.clone()
    }

    /// Deep copies of every buffer, to [`restore`](Self::restore) later.
    pub fn copy(&self) -> Result<BufferSnapshot> {
        let tensors = self.snapshot();
        let copies = tensors
            .into_iter()
            .map(|(name, t)| Ok((name, t.copy()?)))
            .collect::<Result<_>>()?;
        Ok(BufferSnapshot(copies))
    }

    /// Puts back every buffer of `snapshot`.
    pub fn restore(&self, snapshot: &BufferSnapshot) {
        let mut store = self.write();
        for (name, t) in &snapshot.0 {
            store.tensors.insert(name.clone(), t.clone());
        }
    }

    /// Number of buffers.
    pub fn len(&self) -> usize {
        self.read().tensors.len()
    }

    /// Whether there are no buffers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How BatchNorm layers update their running statistics now.
    pub fn running_stats_update(&self) -> RunningStatsUpdate {
        self.read().update
    }

    /// Sets how BatchNorm layers update their running statistics; setting
    /// [`RunningStatsUpdate::Cumulative`] starts a new average (the next batch replaces the old
    /// statistics).
    pub fn set_running_stats_update(&self, update: RunningStatsUpdate) {
        let mut store = self.write();
        store.update = update;
        store.cumulative_batches.clear();
    }

    /// Runs `f` with `update` set (a new average when it is cumulative), then puts back the
    /// previous mode and, if that was cumulative too, its batch counts: also when `f` fails or
    /// panics.
    pub fn with_running_stats_update<T>(
        &self,
        update: RunningStatsUpdate,
        f: impl FnOnce() -> T,
    ) -> T {
        struct Restore<'a> {
            store: &'a BufferStore,
            update: RunningStatsUpdate,
            counts: BTreeMap<String, u64>,
        }
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                let mut store = self.store.write();
                store.update = self.update;
                store.cumulative_batches = std::mem::take(&mut self.counts);
            }
        }
        let (previous, counts) = {
            let store = self.read();
            (store.update, store.cumulative_batches.clone())
        };
        self.set_running_stats_update(update);
        let _restore = Restore {
            store: self,
            update: previous,
            counts,
        };
        f()
    }

    /// The weight of the new batch statistic in the update of `layer`'s running statistics:
    /// `momentum` when exponential, `1 / k` for the `k`-th batch when cumulative. Counts the batch.
    pub(crate) fn update_factor(&self, layer: &str, momentum: f64) -> f64 {
        let mut store = self.write();
        match store.update {
            RunningStatsUpdate::Exponential => momentum,
            RunningStatsUpdate::Cumulative => {
                let seen = store
                    .cumulative_batches
                    .entry(layer.to_string())
                    .or_insert(0);
                *seen += 1;
                1.0 / *seen as f64
            }
        }
    }
}
