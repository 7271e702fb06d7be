#![doc = include_str!("../README.md")]

mod asymmetric;
mod bits;
mod checkpoint_ptq;
mod error;
mod export;
mod io;
mod kernels;
mod lsq;
mod max_abs;
pub mod ops;
mod ptq;
mod quantizer;
mod selection;

pub use asymmetric::AsymmetricQuantizer;
pub use bits::BitWidth;
pub use checkpoint_ptq::{CheckpointPtq, PtqFile, quantize_checkpoint};
pub use error::{QuantError, Result};
pub use export::{EXPORT_FORMAT, QuantizedCheckpoint, is_integer_export};
pub use io::{
    NamedTensors, RawTensor, StoredTensor, parse_safetensors, read_safetensors, write_safetensors,
};
pub use lsq::LsqQuantizer;
pub use max_abs::{MaxAbsQuantizer, PerChannelMaxAbsQuantizer, max_abs_quantize_slice};
pub use ops::{max_abs_fake_quantize, round_half_even_ste, straight_through};
pub use ptq::{
    PtqOutput, TensorErrorReport, error_report, fake_quantize_any_float, quantize_tensors,
    quantize_varmap,
};
pub use quantizer::{QuantScheme, QuantizedTensor, Quantizer, ScaleGradient};
pub use selection::TensorSelector;
