//! Export of integer codes and scales to safetensors, and the exact round trip back.
//!
//! Layout of an exported file, for each quantized tensor `NAME`:
//! - `NAME.codes`: the integer codes, `i8` for up to 8 bits and `i16` above, original shape;
//! - `NAME.scale`: the scales in the original dtype, shape `[groups]`;
//! - `NAME.zero_point`: the zero-points (asymmetric schemes only), same integer type as the codes;
//! - metadata key `smallscale.quant.NAME`: JSON with the scheme, bits, group length and dtype.
//!
//! Tensors that were not quantized are stored under their own name, unchanged. The metadata key
//! `smallscale.format` is `quantized-codes-v1`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};

use crate::bits::BitWidth;
use crate::error::{QuantError, Result};
use crate::io::{NamedTensors, RawTensor, StoredTensor, read_safetensors, serialize_raw};
use crate::quantizer::{QuantScheme, QuantizedTensor, Quantizer};
use crate::selection::TensorSelector;

/// The value of the `smallscale.format` metadata key of exported files.
pub const EXPORT_FORMAT: &str = "quantized-codes-v1";
const FORMAT_KEY: &str = "smallscale.format";
const QUANT_PREFIX: &str = "smallscale.quant.";

/// A checkpoint with some tensors stored as integer codes.
#[derive(Debug, Clone, Default)]
pub struct QuantizedCheckpoint {
    /// The quantized tensors by name.
    pub quantized: BTreeMap<String, QuantizedTensor>,
    /// Tensors stored unchanged (excluded, or not floating).
    pub passthrough: BTreeMap<String, StoredTensor>,
    /// The source checkpoint's metadata (the model configuration among it), kept so an export
    /// can be rebuilt and evaluated like its source; the export's own keys are not in it.
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EntryMeta {
    scheme: QuantScheme,
    bits: BitWidth,
    group_len: usize,
    dtype: String,
}

impl QuantizedCheckpoint {
    /// Quantizes the selected tensors of `tensors` to integer codes; the rest pass through.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use smallscale_quant_core::{MaxAbsQuantizer, NamedTensors, QuantizedCheckpoint, StoredTensor, TensorSelector};
    /// let mut ckpt = NamedTensors::default();
    /// let w = Tensor::new(&[0.5f32, -1.0, 0.25], &Device::Cpu)?;
    /// ckpt.tensors.insert("w".into(), StoredTensor::Tensor(w));
    /// let q = QuantizedCheckpoint::quantize(&ckpt, &MaxAbsQuantizer::new(8)?, &TensorSelector::all_floating())?;
    /// assert_eq!(q.quantized["w"].codes, [64, -127, 32]);
    /// # Ok::<(), smallscale_quant_core::QuantError>(())
    /// ```
    pub fn quantize(
        tensors: &NamedTensors,
        quantizer: &dyn Quantizer,
        selector: &TensorSelector,
    ) -> Result<Self> {
        let mut out = Self {
            metadata: carried_metadata(&tensors.metadata),
            ..Self::default()
        };
        for (name, stored) in &tensors.tensors {
            match stored {
                StoredTensor::Tensor(t) if selector.selects(name, t.dtype()) => {
                    let t32;
                    let t = match t.dtype() {
                        DType::F16 | DType::BF16 => {
                            t32 = t.to_dtype(DType::F32)?;
                            &t32
                        }
                        _ => t,
                    };
                    let q = quantizer
                        .quantize(t)
                        .map_err(|e| e.with_tensor_name(name))?;
                    out.quantized.insert(name.clone(), q);
                }
                other => {
                    out.passthrough.insert(name.clone(), other.clone());
                }
            }
        }
        Ok(out)
    }

    /// Every tensor with the quantized ones dequantized (exactly the fake-quantized values).
    pub fn dequantize(&self, device: &Device) -> Result<BTreeMap<String, Tensor>> {
        let mut out = BTreeMap::new();
        for (name, q) in &self.quantized {
            out.insert(
                name.clone(),
                q.dequantize(device).map_err(|e| e.with_tensor_name(name))?,
            );
        }
        for (name, t) in &self.passthrough {
            if let StoredTensor::Tensor(t) = t {
                out.insert(name.clone(), t.to_device(device)?);
            }
        }
        Ok(out)
    }

    /// Writes the checkpoint to a safetensors file atomically (see the module docs for the layout).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut entries = BTreeMap::new();
        let mut metadata: HashMap<String, String> =
            carried_metadata(&self.metadata).into_iter().collect();
        metadata.insert(FORMAT_KEY.to_string(), EXPORT_FORMAT.to_string());
        for (name, t) in &self.passthrough {
            let raw = match t {
                StoredTensor::Tensor(t) => RawTensor::from_tensor(t),
                StoredTensor::Raw(r) => r.clone(),
            };
            entries.insert(name.clone(), raw);
        }
        for (name, q) in &self.quantized {
            q.validate().map_err(|e| e.with_tensor_name(name))?;
            for suffix in [".codes", ".scale", ".zero_point"] {
                let key = format!("{name}{suffix}");
                if self.passthrough.contains_key(&key) {
                    return Err(QuantError::file(
                        path,
                        format!(
                            "tensor {key} would collide with the codes of {name}: rename or exclude one"
                        ),
                    ));
                }
            }
            let ints = |v: &[i32]| -> (Dtype, Vec<u8>) {
                if q.bits.fits_i8() {
                    (
                        Dtype::I8,
                        v.iter().flat_map(|&c| (c as i8).to_le_bytes()).collect(),
                    )
                } else {
                    (
                        Dtype::I16,
                        v.iter().flat_map(|&c| (c as i16).to_le_bytes()).collect(),
                    )
                }
            };
            let (dtype, data) = ints(&q.codes);
            entries.insert(
                format!("{name}.codes"),
                RawTensor {
                    dtype,
                    shape: q.shape.clone(),
                    data,
                },
            );
            let (sdtype, sdata): (Dtype, Vec<u8>) = match q.dtype {
                DType::F64 => (
                    Dtype::F64,
                    q.scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
                ),
                _ => (
                    Dtype::F32,
                    q.scales
                        .iter()
                        .flat_map(|&s| (s as f32).to_le_bytes())
                        .collect(),
                ),
            };
            entries.insert(
                format!("{name}.scale"),
                RawTensor {
                    dtype: sdtype,
                    shape: vec![q.scales.len()],
                    data: sdata,
                },
            );
            if !q.zero_points.is_empty() {
                let (dtype, data) = ints(&q.zero_points);
                entries.insert(
                    format!("{name}.zero_point"),
                    RawTensor {
                        dtype,
                        shape: vec![q.zero_points.len()],
                        data,
                    },
                );
            }
            let meta = EntryMeta {
                scheme: q.scheme,
                bits: q.bits,
                group_len: q.group_len,
                dtype: q.dtype.as_str().to_string(),
            };
            let json = serde_json_min(&meta);
            metadata.insert(format!("{QUANT_PREFIX}{name}"), json);
        }
        let bytes = serialize_raw(&entries, metadata)?;
        Ok(smallscale_io::write_atomic(path, &bytes)?)
    }

    /// Reads a file written by [`QuantizedCheckpoint::save`]. Files without the format marker, or with
    /// inconsistent codes, are errors naming the file and tensor.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use smallscale_quant_core::*;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("codes.safetensors");
    /// let mut ckpt = NamedTensors::default();
    /// ckpt.tensors.insert("w".into(), StoredTensor::Tensor(Tensor::new(&[0.5f32, -1.0], &Device::Cpu)?));
    /// let q = QuantizedCheckpoint::quantize(&ckpt, &MaxAbsQuantizer::new(4)?, &TensorSelector::all_floating())?;
    /// q.save(&path)?;
    /// let back = QuantizedCheckpoint::load(&path)?;
    /// assert_eq!(back.quantized["w"], q.quantized["w"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_file(read_safetensors(path)?, path)
    }

    /// The export held by `file`, read from `path` (named in errors); see [`QuantizedCheckpoint::load`].
    pub fn from_file(file: NamedTensors, path: &Path) -> Result<Self> {
        if !is_integer_export(&file) {
            return Err(QuantError::file(
                path,
                format!(
                    "not an integer-code export (metadata {FORMAT_KEY} is not {EXPORT_FORMAT}); write one with `smallscale quantize --export-int`"
                ),
            ));
        }
        let mut out = Self {
            metadata: carried_metadata(&file.metadata),
            ..Self::default()
        };
        let mut consumed = std::collections::BTreeSet::new();
        for (key, json) in &file.metadata {
            let Some(name) = key.strip_prefix(QUANT_PREFIX) else {
                continue;
            };
            let bad = |reason: String| QuantError::file(path, format!("tensor {name}: {reason}"));
            let meta: EntryMeta =
                serde_json::from_str(json).map_err(|e| bad(format!("bad metadata ({e})")))?;
            let dtype: DType = meta
                .dtype
                .parse()
                .map_err(|e| bad(format!("bad dtype ({e})")))?;
            let ints = |suffix: &str| -> Result<Option<(Vec<usize>, Vec<i32>)>> {
                let key = format!("{name}{suffix}");
                match file.tensors.get(&key) {
                    None => Ok(None),
                    Some(StoredTensor::Raw(r)) if r.dtype == Dtype::I8 => Ok(Some((
                        r.shape.clone(),
                        r.data.iter().map(|&b| i32::from(b as i8)).collect(),
                    ))),
                    Some(StoredTensor::Tensor(t)) if t.dtype() == DType::I16 => {
                        let v = t.flatten_all()?.to_dtype(DType::I64)?.to_vec1::<i64>()?;
                        Ok(Some((
                            t.dims().to_vec(),
                            v.into_iter().map(|c| c as i32).collect(),
                        )))
                    }
                    Some(_) => Err(bad(format!("{key} must hold i8 or i16 integers"))),
                }
            };
            let (shape, codes) =
                ints(".codes")?.ok_or_else(|| bad(format!("{name}.codes is missing")))?;
            let scales: Vec<f64> = match file.tensors.get(&format!("{name}.scale")) {
                Some(StoredTensor::Tensor(t)) => {
                    t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?
                }
                _ => return Err(bad(format!("{name}.scale is missing"))),
            };
            let zero_points = ints(".zero_point")?.map(|(_, z)| z).unwrap_or_default();
            let q = QuantizedTensor {
                scheme: meta.scheme,
                bits: meta.bits,
                shape,
                dtype,
                codes,
                group_len: meta.group_len,
                scales,
                zero_points,
            };
            q.validate().map_err(|e| bad(e.to_string()))?;
            for suffix in [".codes", ".scale", ".zero_point"] {
                consumed.insert(format!("{name}{suffix}"));
            }
            out.quantized.insert(name.to_string(), q);
        }
        for (name, t) in file.tensors {
            if !consumed.contains(&name) {
                out.passthrough.insert(name, t);
            }
        }
        Ok(out)
    }
}

/// The metadata an export carries over from its source: every key but the format's own.
fn carried_metadata<'a>(
    metadata: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    metadata
        .into_iter()
        .filter(|(k, _)| !is_export_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether a metadata key belongs to the export format itself.
fn is_export_key(key: &str) -> bool {
    key == FORMAT_KEY || key.starts_with(QUANT_PREFIX)
}

/// Whether `file` is an integer-code export ([`QuantizedCheckpoint::save`]).
pub fn is_integer_export(file: &NamedTensors) -> bool {
    file.metadata.get(FORMAT_KEY).map(String::as_str) == Some(EXPORT_FORMAT)
}

fn serde_json_min<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("metadata of plain fields always serializes")
}
