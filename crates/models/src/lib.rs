#![doc = include_str!("../README.md")]

mod attention;
mod batch_norm;
mod buffers;
pub mod checkpoint;
mod context;
mod conv;
mod errors;
mod fitting;
mod init;
pub mod kernels;
mod layer_norm;
mod linear;
mod mlp;
mod model;
mod optim;
mod pool;
mod quant_state;
mod registry;
mod resnet;
mod small_cnn;
mod spec;
mod vit;

pub use attention::MultiHeadSelfAttention;
pub use batch_norm::{BN_EPS, BN_MOMENTUM, BatchNorm2d};
pub use buffers::{BufferSnapshot, BufferStore, RunningStatsUpdate};
pub use checkpoint::{
    PretrainedLoad, load_checkpoint, load_pretrained, read_checkpoint_config, save_checkpoint,
};
pub use context::ModelContext;
pub use conv::{Conv2dSpec, QuantConv2d};
pub use errors::{ModelError, Result, TensorMismatch};
pub use init::Init;
pub use kernels::softmax_last_dim;
pub use layer_norm::LayerNorm;
pub use linear::QuantLinear;
pub use mlp::{Mlp, MlpConfig};
pub use model::Model;
pub use optim::{Optimizer, OptimizerConfig, Schedule};
pub use pool::max_pool2x2;
pub use quant_state::{QuantHandle, QuantizationState};
pub use registry::{ModelConfig, ModelInfo, available_models, build_model};
pub use resnet::{ResNet, ResNetConfig};
pub use small_cnn::{SmallCnn, SmallCnnConfig};
pub use spec::{DEFAULT_ARCHITECTURE, ModelSpec};
pub use vit::{Vit, VitConfig};
