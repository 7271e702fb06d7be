//! PTQ of a whole checkpoint file: the file to write and one error report per tensor.

use std::path::Path;

use candle_core::Device;

use crate::error::Result;
use crate::export::QuantizedCheckpoint;
use crate::io::{NamedTensors, StoredTensor, write_safetensors};
use crate::ptq::{TensorErrorReport, error_report, quantize_tensors};
use crate::quantizer::Quantizer;
use crate::selection::TensorSelector;

/// The file that PTQ of a checkpoint writes.
#[derive(Debug, Clone)]
pub enum PtqFile {
    /// The same tensors and metadata, the selected ones fake-quantized.
    FakeQuantized(NamedTensors),
    /// Integer codes and scales ([`QuantizedCheckpoint`]), with the source's metadata.
    IntegerCodes(QuantizedCheckpoint),
}

impl PtqFile {
    /// Writes the file atomically.
    ///
    /// # Errors
    ///
    /// The write's error, naming the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        match self {
            Self::FakeQuantized(t) => write_safetensors(path, t),
            Self::IntegerCodes(c) => c.save(path),
        }
    }
}

/// PTQ of a checkpoint: the file to write and the error report.
#[derive(Debug, Clone)]
pub struct CheckpointPtq {
    /// What to write.
    pub file: PtqFile,
    /// One report per tensor of the input, sorted by name: the quantized ones with their error
    /// (for integer codes, the error of the dequantized codes, which is what the file holds), the
    /// others marked unchanged (excluded, or not floating, or of a dtype candle cannot load).
    pub report: Vec<TensorErrorReport>,
}

impl CheckpointPtq {
    /// Number of tensors that were quantized.
    pub fn quantized_tensors(&self) -> usize {
        self.report.iter().filter(|r| r.quantized).count()
    }
}

/// Post-training quantization of every tensor of `input` that `selector` selects, as fake-quantized
/// floats or, with `integer_codes`, as integer codes and scales.
///
/// # Errors
///
/// A tensor the quantizer refuses (NaN, a shape it cannot quantize), named.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::*;
/// let mut ckpt = NamedTensors::default();
/// ckpt.tensors.insert("fc.weight".into(), StoredTensor::Tensor(Tensor::new(&[0.5f32, -1.0, 0.3], &Device::Cpu)?));
/// ckpt.tensors.insert("fc.bias".into(), StoredTensor::Tensor(Tensor::new(&[0.1f32], &Device::Cpu)?));
/// let selector = TensorSelector::reference_weights();
/// let ptq = quantize_checkpoint(&ckpt, &MaxAbsQuantizer::new(2)?, &selector, true)?;
/// assert_eq!(ptq.quantized_tensors(), 1);
/// assert_eq!(ptq.report.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["fc.bias", "fc.weight"]);
/// assert!(matches!(ptq.file, PtqFile::IntegerCodes(_)));
/// # Ok::<(), QuantError>(())
/// ```
pub fn quantize_checkpoint(
    input: &NamedTensors,
    quantizer: &dyn Quantizer,
    selector: &TensorSelector,
    integer_codes: bool,
) -> Result<CheckpointPtq> {
    let tensors = input
        .tensors
        .iter()
        .filter_map(|(name, t)| match t {
            StoredTensor::Tensor(t) => Some((name.clone(), t.clone())),
            StoredTensor::Raw(_) => None,
        })
        .collect();
    let ptq = quantize_tensors(&tensors, quantizer, selector)?;
    let mut report = ptq.report;
    let file = if integer_codes {
        let codes = QuantizedCheckpoint::quantize(input, quantizer, selector)?;
        // The report describes exactly what is written: the dequantized codes.
        let deq = codes.dequantize(&Device::Cpu)?;
        for r in report.iter_mut().filter(|r| r.quantized) {
            *r = error_report(&r.name, &tensors[&r.name], &deq[&r.name])?;
        }
        PtqFile::IntegerCodes(codes)
    } else {
        let mut out = input.clone();
        for (name, t) in ptq.tensors {
            out.tensors.insert(name, StoredTensor::Tensor(t));
        }
        PtqFile::FakeQuantized(out)
    };
    for (name, t) in &input.tensors {
        if let StoredTensor::Raw(r) = t {
            report.push(TensorErrorReport::unchanged(
                name,
                &r.shape,
                &format!("{:?}", r.dtype).to_lowercase(),
            ));
        }
    }
    report.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(CheckpointPtq { file, report })
}
