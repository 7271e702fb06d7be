//! The trait every architecture implements.

use std::path::Path;

use candle_core::{Tensor, Var};
use candle_nn::VarMap;

use crate::buffers::BufferStore;
use crate::checkpoint;
use crate::context::ModelContext;
use crate::errors::Result;
use crate::quant_state::QuantHandle;
use crate::registry::ModelConfig;

/// A trainable, quantizable classifier: a forward pass with a training flag, its configuration,
/// and access to its parameters, buffers and quantization state. Everything beyond
/// [`Model::forward_t`], [`Model::config`] and [`Model::context`] is provided.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{build_model, MlpConfig, Model, ModelConfig, ModelContext};
/// let config = ModelConfig::Mlp(MlpConfig { input_dim: 8, hidden: vec![16], num_classes: 3 });
/// let model = build_model(&config, &ModelContext::new(Device::Cpu))?;
/// assert_eq!(model.parameter_names(), ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
/// assert_eq!(model.num_parameters(), 8 * 16 + 16 + 16 * 3 + 3);
/// let names: Vec<String> = model.quantized_weights().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc2.weight"]);
/// let logits = model.forward_t(&Tensor::zeros((5, 8), DType::F32, &Device::Cpu)?, false)?;
/// assert_eq!(logits.dims(), [5, 3]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub trait Model: Send + Sync + std::fmt::Debug {
    /// Logits `[batch, classes]` for the input batch; `train` selects batch statistics (and
    /// updates running statistics) in batch-norm layers.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor>;

    /// The configuration the model was built from.
    fn config(&self) -> ModelConfig;

    /// The context that holds the parameters, buffers and quantization state.
    fn context(&self) -> &ModelContext;

    /// The architecture's registry name (`resnet18`, `vit`, `small-cnn`, `mlp`).
    fn architecture(&self) -> &'static str {
        self.config().architecture()
    }

    /// The trainable parameters (give `varmap().all_vars()` to the optimizer).
    fn varmap(&self) -> &VarMap {
        self.context().varmap()
    }

    /// The running statistics.
    fn buffers(&self) -> &BufferStore {
        self.context().buffers()
    }

    /// The shared quantization state: switch it to change how the next forward sees the weights.
    fn quant(&self) -> &QuantHandle {
        self.context().quant()
    }

    /// Every trainable parameter with its PyTorch-style name, sorted by name.
    fn named_parameters(&self) -> Vec<(String, Var)> {
        let data = self
            .varmap()
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut params: Vec<(String, Var)> =
            data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        params
    }

    /// Parameter names, sorted.
    fn parameter_names(&self) -> Vec<String> {
        self.named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    /// Buffer names (running statistics), sorted.
    fn buffer_names(&self) -> Vec<String> {
        self.buffers().names()
    }

    /// Number of trainable scalars (buffers excluded, as PyTorch counts).
    fn num_parameters(&self) -> usize {
        self.named_parameters()
            .iter()
            .map(|(_, v)| v.elem_count())
            .sum()
    }

    /// The variables the quantization state's selector picks (whether quantization is currently on
    /// or off), sorted by name: exactly the weights the forward pass fake-quantizes when a quantizer
    /// is set. The regularizer and the oscillation tracker work on these.
    fn quantized_vars(&self) -> Vec<(String, Var)> {
        let state = self.quant().get();
        self.named_parameters()
            .into_iter()
            .filter(|(n, v)| state.selects(n, v.dtype()))
            .collect()
    }

    /// The raw (unquantized) tensors of [`Model::quantized_vars`]; they share the variables, so
    /// gradients computed from them reach the parameters.
    fn quantized_weights(&self) -> Vec<(String, Tensor)> {
        self.quantized_vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect()
    }

    /// Saves parameters and buffers to a safetensors file atomically (see
    /// [`checkpoint::save_checkpoint`]).
    fn save_checkpoint(&self, path: &Path) -> Result<()> {
        checkpoint::save_checkpoint(self, path)
    }

    /// Loads parameters and buffers from a safetensors file (see
    /// [`checkpoint::load_checkpoint`]).
    fn load_checkpoint(&self, path: &Path) -> Result<()> {
        checkpoint::load_checkpoint(self, path)
    }
}

/// Checks that `x` is `[batch, channels, size, size]` for an image model.
pub(crate) fn check_image_input(
    model: &'static str,
    x: &Tensor,
    channels: usize,
    size: Option<usize>,
) -> Result<()> {
    let dims = x.dims();
    let ok = dims.len() == 4
        && dims[0] > 0
        && dims[1] == channels
        && size.is_none_or(|s| dims[2] == s && dims[3] == s);
    if ok {
        Ok(())
    } else {
        let side = size.map_or("H, W".to_string(), |s| format!("{s}, {s}"));
        Err(crate::errors::ModelError::InvalidInput {
            model,
            expected: format!("[batch, {channels}, {side}]"),
            found: dims.to_vec(),
            hint: "reshape the batch to NCHW with the configured channels and image size",
        })
    }
}
