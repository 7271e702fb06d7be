//! Post-training quantization of named tensors, with a per-tensor error report.

use std::collections::BTreeMap;

use candle_core::{DType, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::error::{QuantError, Result};
use crate::quantizer::Quantizer;
use crate::selection::TensorSelector;

/// Quantization error of one tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorErrorReport {
    /// The tensor's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its dtype, as candle names it (`f32`, ...).
    pub dtype: String,
    /// Number of elements.
    pub numel: usize,
    /// Whether it was quantized (false: excluded or not floating, and unchanged).
    pub quantized: bool,
    /// Mean squared error `mean((q - w)^2)`.
    pub mse: f64,
    /// Largest absolute error `max |q - w|`.
    pub max_abs_error: f64,
    /// Signal-to-quantization-noise ratio `10 log10(sum w^2 / sum (q - w)^2)` in dB; `None` when the
    /// error is exactly zero (unchanged or exactly representable tensors).
    pub sqnr_db: Option<f64>,
    /// Share of the tensor's nonzero elements that quantize to exactly zero (0 when it has none).
    /// A large share means an outlier set the scale and most weights were lost: quantize per
    /// channel, or exclude the tensor.
    #[serde(default)]
    pub zeroed_share: f64,
}

impl TensorErrorReport {
    /// The report of a tensor that was left unchanged (excluded, or not floating).
    pub fn unchanged(name: &str, shape: &[usize], dtype: &str) -> Self {
        Self {
            name: name.to_string(),
            shape: shape.to_vec(),
            dtype: dtype.to_string(),
            numel: shape.iter().product(),
            quantized: false,
            mse: 0.0,
            max_abs_error: 0.0,
            sqnr_db: None,
            zeroed_share: 0.0,
        }
    }
}

/// Error statistics of `quantized` against `original` (same shape), computed in f64.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::error_report;
/// let w = Tensor::new(&[1.0f32, -2.0], &Device::Cpu)?;
/// let q = Tensor::new(&[1.0f32, -1.0], &Device::Cpu)?;
/// let r = error_report("w", &w, &q)?;
/// assert_eq!(r.mse, 0.5);
/// assert_eq!(r.max_abs_error, 1.0);
/// assert!((r.sqnr_db.unwrap() - 10.0 * 5f64.log10()).abs() < 1e-12);
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
pub fn error_report(
    name: &str,
    original: &Tensor,
    quantized: &Tensor,
) -> Result<TensorErrorReport> {
    if original.dims() != quantized.dims() {
        return Err(QuantError::InvalidShape {
            name: name.to_string(),
            shape: original.dims().to_vec(),
            reason: format!("the quantized tensor has shape {:?}", quantized.dims()),
        });
    }
    let w = original
        .flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    let q = quantized
        .flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    let (mut signal, mut noise, mut max_err) = (0.0f64, 0.0f64, 0.0f64);
    let (mut nonzero, mut zeroed) = (0usize, 0usize);
    for (a, b) in w.iter().zip(&q) {
        let e = b - a;
        signal += a * a;
        noise += e * e;
        max_err = max_err.max(e.abs());
        if *a != 0.0 {
            nonzero += 1;
            zeroed += usize::from(*b == 0.0);
        }
    }
    let n = w.len();
    Ok(TensorErrorReport {
        name: name.to_string(),
        shape: original.dims().to_vec(),
        dtype: original.dtype().as_str().to_string(),
        numel: n,
        quantized: true,
        mse: if n == 0 { 0.0 } else { noise / n as f64 },
        max_abs_error: max_err,
        sqnr_db: (noise > 0.0).then(|| 10.0 * (signal / noise).log10()),
        zeroed_share: if nonzero == 0 {
            0.0
        } else {
            zeroed as f64 / nonzero as f64
        },
    })
}

/// Fake-quantizes one tensor with `quantizer`. Half-precision tensors (f16, bf16) are quantized in
/// f32 and rounded back to their dtype.
pub fn fake_quantize_any_float(quantizer: &dyn Quantizer, t: &Tensor) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 | DType::F64 => quantizer.fake_quantize(t),
        DType::F16 | DType::BF16 => Ok(quantizer
            .fake_quantize(&t.to_dtype(DType::F32)?)?
            .to_dtype(t.dtype())?),
        dtype => Err(QuantError::UnsupportedDType {
            name: "<input>".into(),
            dtype,
        }),
    }
}

/// The result of [`quantize_tensors`]: every tensor (quantized or passed through) and the report.
#[derive(Debug, Clone)]
pub struct PtqOutput {
    /// All input tensors by name; the selected ones fake-quantized (same shape and dtype).
    pub tensors: BTreeMap<String, Tensor>,
    /// One report per input tensor, sorted by name.
    pub report: Vec<TensorErrorReport>,
}

fn unchanged_report(name: &str, t: &Tensor) -> TensorErrorReport {
    TensorErrorReport::unchanged(name, t.dims(), t.dtype().as_str())
}

/// Post-training quantization of a set of named tensors: every tensor that `selector` selects is
/// fake-quantized with `quantizer`, the others pass through unchanged, and each gets an error report.
///
/// ```
/// use std::collections::BTreeMap;
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::{MaxAbsQuantizer, TensorSelector, quantize_tensors};
/// let mut tensors = BTreeMap::new();
/// tensors.insert("fc.weight".to_string(), Tensor::new(&[0.3f32, -1.0, 0.6], &Device::Cpu)?);
/// tensors.insert("fc.bias".to_string(), Tensor::new(&[0.123f32], &Device::Cpu)?);
/// let out = quantize_tensors(&tensors, &MaxAbsQuantizer::new(2)?, &TensorSelector::reference_weights())?;
/// assert_eq!(out.tensors["fc.weight"].to_vec1::<f32>()?, [0.0, -1.0, 1.0]);
/// assert_eq!(out.tensors["fc.bias"].to_vec1::<f32>()?, [0.123]);
/// assert!(out.report.iter().any(|r| r.name == "fc.weight" && r.quantized));
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
pub fn quantize_tensors(
    tensors: &BTreeMap<String, Tensor>,
    quantizer: &dyn Quantizer,
    selector: &TensorSelector,
) -> Result<PtqOutput> {
    let mut out = BTreeMap::new();
    let mut report = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if selector.selects(name, t.dtype()) {
            let q = fake_quantize_any_float(quantizer, t).map_err(|e| e.with_tensor_name(name))?;
            report.push(error_report(name, t, &q)?);
            out.insert(name.clone(), q);
        } else {
            report.push(unchanged_report(name, t));
            out.insert(name.clone(), t.clone());
        }
    }
    Ok(PtqOutput {
        tensors: out,
        report,
    })
}

/// Post-training quantization of a candle [`VarMap`] in place: every selected variable is set to
/// its fake-quantized value. Returns the per-tensor report, sorted by name.
///
/// ```
/// use candle_core::{DType, Device};
/// use candle_nn::{VarBuilder, VarMap};
/// use smallscale_quant_core::{MaxAbsQuantizer, TensorSelector, quantize_varmap};
/// let varmap = VarMap::new();
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let _layer = candle_nn::linear(8, 4, vb.pp("fc"))?;
/// let report = quantize_varmap(&varmap, &MaxAbsQuantizer::new(4)?, &TensorSelector::reference_weights())?;
/// assert_eq!(report.iter().filter(|r| r.quantized).count(), 1); // fc.weight, not fc.bias
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn quantize_varmap(
    varmap: &VarMap,
    quantizer: &dyn Quantizer,
    selector: &TensorSelector,
) -> Result<Vec<TensorErrorReport>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| QuantError::InvalidParameter {
            parameter: "varmap",
            reason: "the VarMap's lock is poisoned (a thread panicked while holding it)".into(),
        })?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut report = Vec::with_capacity(names.len());
    for name in names {
        let var = &data[name];
        let t = var.as_tensor();
        if selector.selects(name, t.dtype()) {
            let q = fake_quantize_any_float(quantizer, &t.detach())
                .map_err(|e| e.with_tensor_name(name))?;
            report.push(error_report(name, t, &q)?);
            var.set(&q)?;
        } else {
            report.push(unchanged_report(name, t));
        }
    }
    Ok(report)
}
