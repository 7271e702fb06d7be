//! The `Quantizer` abstraction and its integer output.

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::bits::BitWidth;
use crate::error::{QuantError, Result};

/// How the gradient of the max-abs quantizers treats the scale `s = max|w| / K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScaleGradient {
    /// The reference behavior: `s` is not detached, so the gradient also flows through `s` into the
    /// arg-max element(s) (ties split evenly).
    #[default]
    Faithful,
    /// `s` is treated as a constant: the gradient is the plain straight-through estimator.
    Detached,
}

/// Which quantization scheme produced a [`QuantizedTensor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuantScheme {
    /// Symmetric, per-tensor max-abs scale, codes in `[-K, K]` (the paper's reference quantizer).
    MaxAbs,
    /// Symmetric, one max-abs scale per output channel (dimension 0), codes in `[-K, K]`.
    PerChannelMaxAbs,
    /// Asymmetric min/max with a zero-point, codes in `[-2^(b-1), 2^(b-1) - 1]`.
    Asymmetric,
    /// Learned step size (LSQ), codes in `[-2^(b-1), 2^(b-1) - 1]`.
    Lsq,
}

impl QuantScheme {
    /// The scheme's name as used in exported files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxAbs => "max-abs",
            Self::PerChannelMaxAbs => "per-channel-max-abs",
            Self::Asymmetric => "asymmetric",
            Self::Lsq => "lsq",
        }
    }
}

/// A weight quantizer: fake quantization for training and evaluation, and integer codes for export.
///
/// Implementations validate their parameters when constructed, so every method here can assume a
/// valid configuration.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::{MaxAbsQuantizer, Quantizer};
/// let q = MaxAbsQuantizer::new(2)?; // ternary {-s, 0, s}
/// let w = Tensor::new(&[0.8f32, -0.1, -0.5], &Device::Cpu)?;
/// let fake = q.fake_quantize(&w)?;
/// assert_eq!(fake.to_vec1::<f32>()?, [0.8, -0.0, -0.8]);
/// let codes = q.quantize(&w)?;
/// assert_eq!(codes.codes, [1, 0, -1]);
/// assert_eq!(codes.dequantize(&Device::Cpu)?.to_vec1::<f32>()?, [0.8, 0.0, -0.8]);
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
pub trait Quantizer: std::fmt::Debug + Send + Sync {
    /// The bit-width.
    fn bits(&self) -> BitWidth;

    /// The scheme.
    fn scheme(&self) -> QuantScheme;

    /// Fake quantization: the dequantized values, with a straight-through gradient. Same shape and
    /// dtype as `x`; NaN/Inf in `x` and non-float dtypes are errors.
    fn fake_quantize(&self, x: &Tensor) -> Result<Tensor>;

    /// The integer codes and the parameters that map them back to values.
    fn quantize(&self, x: &Tensor) -> Result<QuantizedTensor>;
}

/// Integer codes of a tensor with the scales (and zero-points) that dequantize them.
///
/// The value of element `i` of group `g` is `(codes[i] - zero_points[g]) * scales[g]`, computed in
/// the original dtype; for the quantizers of this crate that is bit for bit the fake-quantized value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizedTensor {
    /// The scheme that produced the codes.
    pub scheme: QuantScheme,
    /// The bit-width.
    pub bits: BitWidth,
    /// Shape of the original tensor.
    pub shape: Vec<usize>,
    /// The original floating dtype (`F32` or `F64`); scales are exact values of it.
    #[serde(with = "dtype_name")]
    pub dtype: DType,
    /// Integer codes, row-major.
    pub codes: Vec<i32>,
    /// Number of consecutive codes that share one scale.
    pub group_len: usize,
    /// One scale per group (exact values of `dtype`, widened to f64).
    pub scales: Vec<f64>,
    /// One zero-point per group; empty for the symmetric schemes (zero-point 0).
    pub zero_points: Vec<i32>,
}

impl QuantizedTensor {
    /// Number of groups (scales).
    pub fn num_groups(&self) -> usize {
        self.scales.len()
    }

    /// The dequantized tensor, `(code - zero_point) * scale` in the original dtype.
    pub fn dequantize(&self, device: &Device) -> Result<Tensor> {
        self.validate()?;
        match self.dtype {
            DType::F32 => {
                let v = self.dequantize_with(|c, z, s| ((c - z) as f32) * (s as f32));
                Ok(Tensor::from_vec(v, self.shape.as_slice(), device)?)
            }
            DType::F64 => {
                let v = self.dequantize_with(|c, z, s| ((c - z) as f64) * s);
                Ok(Tensor::from_vec(v, self.shape.as_slice(), device)?)
            }
            dtype => Err(QuantError::UnsupportedDType {
                name: "<codes>".into(),
                dtype,
            }),
        }
    }

    fn dequantize_with<T>(&self, f: impl Fn(i64, i64, f64) -> T) -> Vec<T> {
        let mut out = Vec::with_capacity(self.codes.len());
        for (g, chunk) in self.codes.chunks(self.group_len.max(1)).enumerate() {
            let s = self.scales[g];
            let z = self.zero_points.get(g).copied().unwrap_or(0) as i64;
            out.extend(chunk.iter().map(|&c| f(c as i64, z, s)));
        }
        out
    }

    /// Checks that codes, groups, scales and zero-points are consistent with each other and with
    /// the bit-width.
    pub fn validate(&self) -> Result<()> {
        let n: usize = self.shape.iter().product();
        let bad = |reason: String| {
            Err(QuantError::InvalidShape {
                name: "<codes>".into(),
                shape: self.shape.clone(),
                reason,
            })
        };
        if self.codes.len() != n {
            return bad(format!("{} codes for {n} elements", self.codes.len()));
        }
        if n > 0
            && (self.group_len == 0
                || !n.is_multiple_of(self.group_len)
                || n / self.group_len != self.scales.len())
        {
            return bad(format!(
                "{} scales with groups of {} do not cover {n} elements",
                self.scales.len(),
                self.group_len
            ));
        }
        if !self.zero_points.is_empty() && self.zero_points.len() != self.scales.len() {
            return bad(format!(
                "{} zero-points for {} scales",
                self.zero_points.len(),
                self.scales.len()
            ));
        }
        if self.scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
            return bad("a scale is negative or not finite".into());
        }
        let (lo, hi) = self.code_range();
        if let Some(c) = self.codes.iter().find(|&&c| c < lo || c > hi) {
            return bad(format!(
                "code {c} is outside [{lo}, {hi}] for {} bits",
                self.bits.get()
            ));
        }
        Ok(())
    }

    /// The range `[lo, hi]` that codes of this scheme and bit-width may take.
    pub fn code_range(&self) -> (i32, i32) {
        let b = self.bits.get();
        match self.scheme {
            QuantScheme::MaxAbs | QuantScheme::PerChannelMaxAbs => {
                let k = self.bits.max_level() as i32;
                (-k, k)
            }
            QuantScheme::Asymmetric | QuantScheme::Lsq => (-(1 << (b - 1)), (1 << (b - 1)) - 1),
        }
    }
}

mod dtype_name {
    use candle_core::DType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &DType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(d.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DType, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<DType>().map_err(serde::de::Error::custom)
    }
}

/// Checks that `x` is a floating tensor the kernels support (f32 or f64).
pub(crate) fn check_float(x: &Tensor) -> Result<()> {
    match x.dtype() {
        DType::F32 | DType::F64 => Ok(()),
        dtype => Err(QuantError::UnsupportedDType {
            name: "<input>".into(),
            dtype,
        }),
    }
}

/// Fails with [`QuantError::NonFinite`] if `x` holds NaN or Inf.
pub(crate) fn check_finite(x: &Tensor) -> Result<()> {
    let flat = x.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    match flat.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(QuantError::NonFinite {
            name: "<input>".into(),
            index,
        }),
        None => Ok(()),
    }
}
