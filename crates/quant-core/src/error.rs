//! The error type of quant-core.

use std::path::PathBuf;

/// Everything that can go wrong while quantizing. Every message names the offending input and says
/// what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuantError {
    /// A bit-width outside the supported range.
    #[error(
        "bit-width {bits} is not supported: choose a value from 2 to 16 (2 = ternary, 8 = int8)"
    )]
    InvalidBits {
        /// The rejected value.
        bits: u32,
    },
    /// The input holds NaN or infinite values.
    #[error(
        "tensor {name} holds a NaN or infinite value at flat index {index}: quantization needs finite \
         values (a diverged training run? lower the learning rate, or exclude this tensor)"
    )]
    NonFinite {
        /// Name of the tensor (or `<input>` when it has none).
        name: String,
        /// Flat index of the first non-finite value.
        index: usize,
    },
    /// The dtype cannot be quantized.
    #[error(
        "tensor {name} has dtype {dtype:?}, which cannot be fake-quantized: convert it to f32 or f64 \
         first (or exclude it)"
    )]
    UnsupportedDType {
        /// Name of the tensor.
        name: String,
        /// Its dtype.
        dtype: candle_core::DType,
    },
    /// A parameter of a quantizer is out of its valid range.
    #[error("invalid quantizer parameter {parameter}: {reason}")]
    InvalidParameter {
        /// Which parameter.
        parameter: &'static str,
        /// Why it was rejected and what is accepted.
        reason: String,
    },
    /// A tensor's shape does not suit the quantizer.
    #[error("tensor {name} with shape {shape:?} cannot be quantized this way: {reason}")]
    InvalidShape {
        /// Name of the tensor.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// What is wrong and what to do.
        reason: String,
    },
    /// An exclude/include pattern is not a valid glob.
    #[error(
        "pattern {pattern:?} is not a valid glob ({reason}); use * and ? wildcards, e.g. \"*.bias\""
    )]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A file could not be read, parsed or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong and what to do.
        reason: String,
    },
    /// A file could not be written (or is not a file that may be replaced).
    #[error(transparent)]
    Io(Box<smallscale_io::IoError>),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl QuantError {
    /// Names the tensor in errors that carry a tensor name (used when a quantizer is applied to a named
    /// tensor of a checkpoint rather than an anonymous input).
    pub fn with_tensor_name(self, tensor: &str) -> Self {
        match self {
            Self::NonFinite { index, .. } => Self::NonFinite {
                name: tensor.to_string(),
                index,
            },
            Self::UnsupportedDType { dtype, .. } => Self::UnsupportedDType {
                name: tensor.to_string(),
                dtype,
            },
            Self::InvalidShape { shape, reason, .. } => Self::InvalidShape {
                name: tensor.to_string(),
                shape,
                reason,
            },
            other => other,
        }
    }

    /// Recovers the typed error of a custom op of this crate from the `candle_core::Error` it had
    /// to return (candle's error type cannot carry ours); other candle errors are wrapped.
    pub fn from_candle(err: candle_core::Error) -> Self {
        let message = err.to_string();
        match OP_ERROR.with(|slot| slot.borrow_mut().take()) {
            Some((msg, typed)) if message.contains(&msg) => typed,
            _ => Self::Candle(err),
        }
    }

    /// Converts into a candle error for a custom op, remembering the typed error on this thread so
    /// that [`QuantError::from_candle`] can recover it (ops run on the calling thread).
    pub(crate) fn into_candle(self) -> candle_core::Error {
        match self {
            Self::Candle(e) => e,
            other => {
                let msg = other.to_string();
                let err = candle_core::Error::Msg(msg.clone());
                OP_ERROR.with(|slot| *slot.borrow_mut() = Some((msg, other)));
                err
            }
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::File {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl From<smallscale_io::IoError> for QuantError {
    fn from(e: smallscale_io::IoError) -> Self {
        Self::Io(Box::new(e))
    }
}

thread_local! {
    /// The last typed error an op of this crate returned on this thread, with its message.
    static OP_ERROR: std::cell::RefCell<Option<(String, QuantError)>> = const { std::cell::RefCell::new(None) };
}

/// Result alias of quant-core.
pub type Result<T> = std::result::Result<T, QuantError>;
