//! Reading and atomically writing safetensors files of named tensors.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::safetensors::Load;
use candle_core::{Device, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, View};

use crate::error::{QuantError, Result};

/// One tensor of a safetensors file: a candle tensor, or raw bytes for dtypes candle cannot hold
/// (such as `i8` or `bool`), which pass through unchanged.
#[derive(Debug, Clone)]
pub enum StoredTensor {
    /// A tensor candle can load.
    Tensor(Tensor),
    /// Raw little-endian bytes with their safetensors dtype and shape.
    Raw(RawTensor),
}

/// Raw bytes of a tensor with its safetensors dtype and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// The element type.
    pub dtype: Dtype,
    /// The shape.
    pub shape: Vec<usize>,
    /// Little-endian element bytes, row-major.
    pub data: Vec<u8>,
}

impl View for &RawTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

impl RawTensor {
    /// The bytes of a candle tensor.
    pub fn from_tensor(t: &Tensor) -> Self {
        Self {
            dtype: View::dtype(&t),
            shape: t.dims().to_vec(),
            data: View::data(&t).into_owned(),
        }
    }
}

/// Named tensors of a checkpoint, sorted by name, with the file's metadata.
#[derive(Debug, Clone, Default)]
pub struct NamedTensors {
    /// The tensors by name.
    pub tensors: BTreeMap<String, StoredTensor>,
    /// The `__metadata__` of the file, if any.
    pub metadata: HashMap<String, String>,
}

fn candle_loadable(dtype: Dtype) -> bool {
    matches!(
        dtype,
        Dtype::U8
            | Dtype::U32
            | Dtype::I16
            | Dtype::I32
            | Dtype::I64
            | Dtype::F16
            | Dtype::BF16
            | Dtype::F32
            | Dtype::F64
    )
}

/// Reads every tensor of a safetensors file onto the CPU.
///
/// A missing, truncated or corrupt file is an error that names the file.
///
/// ```no_run
/// let ckpt = smallscale_quant_core::read_safetensors("model.safetensors")?;
/// for name in ckpt.tensors.keys() {
///     println!("{name}");
/// }
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<NamedTensors> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| {
        QuantError::file(
            path,
            format!("cannot read the file ({e}); check the path and permissions"),
        )
    })?;
    parse_safetensors(&bytes, path)
}

/// Parses the bytes of a safetensors file; `source` names it in errors (as
/// [`read_safetensors`] does with the path).
///
/// ```
/// use smallscale_quant_core::parse_safetensors;
/// let err = parse_safetensors(b"not a checkpoint", "x.safetensors").unwrap_err();
/// assert!(err.to_string().contains("not a valid safetensors file"));
/// ```
pub fn parse_safetensors(bytes: &[u8], source: impl AsRef<Path>) -> Result<NamedTensors> {
    parse_tensors(bytes).map_err(|reason| QuantError::file(source.as_ref(), reason))
}

fn parse_tensors(bytes: &[u8]) -> std::result::Result<NamedTensors, String> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| {
        format!("not a valid safetensors file ({e}); is it truncated or another format?")
    })?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        format!("not a valid safetensors file ({e}); is it truncated or another format?")
    })?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        let stored = if candle_loadable(view.dtype()) {
            let t = view
                .load(&Device::Cpu)
                .map_err(|e| format!("tensor {name} cannot be loaded ({e})"))?;
            StoredTensor::Tensor(t)
        } else {
            StoredTensor::Raw(RawTensor {
                dtype: view.dtype(),
                shape: view.shape().to_vec(),
                data: view.data().to_vec(),
            })
        };
        tensors.insert(name, stored);
    }
    Ok(NamedTensors { tensors, metadata })
}

/// Serializes named tensors (with optional metadata) to safetensors bytes.
pub(crate) fn serialize_raw(
    entries: &BTreeMap<String, RawTensor>,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let data: Vec<(&String, &RawTensor)> = entries.iter().collect();
    let info = if metadata.is_empty() {
        None
    } else {
        Some(metadata)
    };
    safetensors::serialize(data, info)
        .map_err(|e| QuantError::file("<output>", format!("cannot serialize the tensors ({e})")))
}

/// Writes named tensors to a safetensors file atomically (temporary file + rename).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::{NamedTensors, StoredTensor, read_safetensors, write_safetensors};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("w.safetensors");
/// let mut ckpt = NamedTensors::default();
/// ckpt.tensors.insert("w".into(), StoredTensor::Tensor(Tensor::new(&[1.0f32, 2.0], &Device::Cpu)?));
/// write_safetensors(&path, &ckpt)?;
/// assert_eq!(read_safetensors(&path)?.tensors.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_safetensors(path: impl AsRef<Path>, tensors: &NamedTensors) -> Result<()> {
    let raw: BTreeMap<String, RawTensor> = tensors
        .tensors
        .iter()
        .map(|(name, t)| {
            let raw = match t {
                StoredTensor::Tensor(t) => RawTensor::from_tensor(t),
                StoredTensor::Raw(r) => r.clone(),
            };
            (name.clone(), raw)
        })
        .collect();
    let bytes = serialize_raw(&raw, tensors.metadata.clone())?;
    Ok(smallscale_io::write_atomic(path, &bytes)?)
}
