//! candle custom ops: fake quantization with straight-through backward.
//!
//! The ops run on CPU (fused, multithreaded kernels) and, with the `cuda` feature, on CUDA devices.

mod fake_quant;
mod round;
mod straight_through;

pub use fake_quant::{MaxAbsFakeQuant, max_abs_fake_quantize};
pub use round::{RoundHalfEvenSte, round_half_even_ste};
pub use straight_through::{StraightThrough, straight_through};

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Layout};

/// The contiguous slice that `layout` selects from `data`, or an error for strided layouts (the
/// public functions make their inputs contiguous first).
pub(crate) fn contiguous_slice<'a, T>(
    data: &'a [T],
    layout: &Layout,
    op: &'static str,
) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: the input must be contiguous (call .contiguous() first)"),
    }
}

/// Element types of the CPU kernels, matched out of candle's storage.
pub(crate) enum FloatSlice<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

pub(crate) fn float_slice<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &'static str,
) -> candle_core::Result<FloatSlice<'a>> {
    match storage {
        CpuStorage::F32(v) => Ok(FloatSlice::F32(contiguous_slice(v, layout, op)?)),
        CpuStorage::F64(v) => Ok(FloatSlice::F64(contiguous_slice(v, layout, op)?)),
        other => Err(crate::QuantError::UnsupportedDType {
            name: "<input>".into(),
            dtype: other.dtype(),
        }
        .into_candle()),
    }
}
