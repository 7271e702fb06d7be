//! Launchers of the CUDA kernels in `kernels/fake_quant.cu` (feature `cuda`).

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{
    CudaSlice, CudaView, DeviceRepr, LaunchConfig, PushKernelArg,
};
use candle_core::cuda_backend::{CudaStorageSlice, WrapErr};
use candle_core::{CudaDevice, CudaStorage, Layout, Result, Shape};

use crate::error::QuantError;

const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/fake_quant.ptx"));
const MODULE: &str = "smallscale_quant_core_fake_quant";
const BLOCK: u32 = 256;
/// Upper bound on blocks for grid-stride element-wise kernels.
const MAX_BLOCKS: u32 = 65_535;

fn elementwise_config(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, MAX_BLOCKS as usize) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Blocks per group for the reductions: enough to fill the GPU on one huge group, one per group for
/// many small groups.
fn blocks_per_group(group_len: usize, groups: usize) -> u32 {
    let per_group = group_len.div_ceil(BLOCK as usize * 8).max(1);
    let cap = (1024 / groups.max(1)).max(1);
    per_group.min(cap) as u32
}

fn contiguous<'a, T>(slice: &'a CudaSlice<T>, layout: &Layout) -> Result<CudaView<'a, T>> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(slice.slice(start..end)),
        None => candle_core::bail!("fake quant (cuda): the input must be contiguous"),
    }
}

/// Element types with CUDA kernels, and the integer key type of their absolute values.
trait CudaFloat:
    DeviceRepr + Copy + candle_core::cuda_backend::CudaDType + candle_core::WithDType + 'static
{
    type Key: DeviceRepr
        + candle_core::cuda_backend::cudarc::driver::ValidAsZeroBits
        + Copy
        + Into<u64>;
    const SUFFIX: &'static str;
    const INF_KEY: u64;
    fn from_u32(v: u32) -> Self;
}

impl CudaFloat for f32 {
    type Key = u32;
    const SUFFIX: &'static str = "f32";
    const INF_KEY: u64 = 0x7f80_0000;
    fn from_u32(v: u32) -> Self {
        v as f32
    }
}

impl CudaFloat for f64 {
    type Key = u64;
    const SUFFIX: &'static str = "f64";
    const INF_KEY: u64 = 0x7ff0_0000_0000_0000;
    fn from_u32(v: u32) -> Self {
        f64::from(v)
    }
}

/// Per-group max-abs keys on the device; fails if a group holds NaN/Inf.
fn absmax_keys<T: CudaFloat>(
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    n: usize,
    group_len: usize,
) -> Result<CudaSlice<T::Key>> {
    let groups = n / group_len;
    let mut keys = dev.alloc_zeros::<T::Key>(groups)?;
    let bpg = blocks_per_group(group_len, groups);
    let func = dev.get_or_load_custom_func(&format!("absmax_groups_{}", T::SUFFIX), MODULE, PTX)?;
    let cfg = LaunchConfig {
        grid_dim: ((groups as u32) * bpg, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    };
    let mut b = func.builder();
    b.arg(x);
    b.arg(&group_len);
    b.arg(&bpg);
    b.arg(&mut keys);
    // SAFETY: the kernel reads `groups * group_len` elements of `x` and writes `groups` keys.
    unsafe { b.launch(cfg) }.w()?;
    let host: Vec<T::Key> = dev.clone_dtoh(&keys)?;
    if let Some(g) = host.iter().position(|&k| k.into() >= T::INF_KEY) {
        let vals: Vec<T> = dev.clone_dtoh(x)?;
        let start = g * group_len;
        let index = vals[start..start + group_len]
            .iter()
            .position(|v| {
                let f: f64 = candle_core::WithDType::to_f64(*v);
                !f.is_finite()
            })
            .map_or(start, |i| start + i);
        return Err(QuantError::NonFinite {
            name: "<input>".into(),
            index,
        }
        .into_candle());
    }
    Ok(keys)
}

fn forward_typed<T: CudaFloat + candle_core::WithDType>(
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    n: usize,
    group_len: usize,
    max_level: u32,
) -> Result<CudaSlice<T>> {
    let keys = absmax_keys::<T>(dev, x, n, group_len)?;
    // SAFETY: fully written by the kernel below.
    let mut out = unsafe { dev.alloc::<T>(n)? };
    let func =
        dev.get_or_load_custom_func(&format!("fake_quant_fwd_{}", T::SUFFIX), MODULE, PTX)?;
    let k = T::from_u32(max_level);
    let mut b = func.builder();
    b.arg(x);
    b.arg(&n);
    b.arg(&group_len);
    b.arg(&k);
    b.arg(&keys);
    b.arg(&mut out);
    // SAFETY: element-wise over `n` elements of `x` and `out`; `keys` has one entry per group.
    unsafe { b.launch(elementwise_config(n)) }.w()?;
    Ok(out)
}

/// Forward of max-abs fake quantization on a CUDA tensor.
pub(crate) fn max_abs_fake_quant_forward(
    storage: &CudaStorage,
    layout: &Layout,
    max_level: u32,
    group_len: usize,
) -> Result<(CudaStorage, Shape)> {
    let dev = storage.device().clone();
    let n = layout.shape().elem_count();
    let slice = match &storage.slice {
        CudaStorageSlice::F32(s) => {
            let x = contiguous(s, layout)?;
            CudaStorageSlice::F32(forward_typed::<f32>(&dev, &x, n, group_len, max_level)?)
        }
        CudaStorageSlice::F64(s) => {
            let x = contiguous(s, layout)?;
            CudaStorageSlice::F64(forward_typed::<f64>(&dev, &x, n, group_len, max_level)?)
        }
        _ => {
            return Err(QuantError::UnsupportedDType {
                name: "<input>".into(),
                dtype: storage.dtype(),
            }
            .into_candle());
        }
    };
    Ok((CudaStorage { slice, device: dev }, layout.shape().clone()))
}

fn backward_typed<T: CudaFloat + candle_core::WithDType>(
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    g: &CudaView<'_, T>,
    n: usize,
    group_len: usize,
    max_level: u32,
) -> Result<CudaSlice<T>> {
    let keys = absmax_keys::<T>(dev, x, n, group_len)?;
    let groups = n / group_len;
    let mut sums = dev.alloc_zeros::<f64>(groups)?;
    let mut ties = dev.alloc_zeros::<u32>(groups)?;
    let k = T::from_u32(max_level);
    let bpg = blocks_per_group(group_len, groups);
    let func =
        dev.get_or_load_custom_func(&format!("fake_quant_bwd_sums_{}", T::SUFFIX), MODULE, PTX)?;
    let mut b = func.builder();
    b.arg(x);
    b.arg(g);
    b.arg(&group_len);
    b.arg(&bpg);
    b.arg(&k);
    b.arg(&keys);
    b.arg(&mut sums);
    b.arg(&mut ties);
    let cfg = LaunchConfig {
        grid_dim: ((groups as u32) * bpg, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: reads `n` elements of `x` and `g`, accumulates one sum and one count per group.
    unsafe { b.launch(cfg) }.w()?;
    // SAFETY: fully written by the kernel below.
    let mut out = unsafe { dev.alloc::<T>(n)? };
    let func =
        dev.get_or_load_custom_func(&format!("fake_quant_bwd_apply_{}", T::SUFFIX), MODULE, PTX)?;
    let mut b = func.builder();
    b.arg(x);
    b.arg(g);
    b.arg(&n);
    b.arg(&group_len);
    b.arg(&k);
    b.arg(&keys);
    b.arg(&sums);
    b.arg(&ties);
    b.arg(&mut out);
    // SAFETY: element-wise over `n` elements.
    unsafe { b.launch(elementwise_config(n)) }.w()?;
    Ok(out)
}

/// Backward (faithful scale gradient) of max-abs fake quantization on CUDA tensors.
pub(crate) fn max_abs_fake_quant_backward(
    xs: &CudaStorage,
    xl: &Layout,
    gs: &CudaStorage,
    gl: &Layout,
    max_level: u32,
    group_len: usize,
) -> Result<(CudaStorage, Shape)> {
    let dev = xs.device().clone();
    let n = xl.shape().elem_count();
    if gl.shape().elem_count() != n {
        candle_core::bail!("fake quant backward (cuda): input and gradient sizes differ");
    }
    let slice = match (&xs.slice, &gs.slice) {
        (CudaStorageSlice::F32(x), CudaStorageSlice::F32(g)) => {
            CudaStorageSlice::F32(backward_typed::<f32>(
                &dev,
                &contiguous(x, xl)?,
                &contiguous(g, gl)?,
                n,
                group_len,
                max_level,
            )?)
        }
        (CudaStorageSlice::F64(x), CudaStorageSlice::F64(g)) => {
            CudaStorageSlice::F64(backward_typed::<f64>(
                &dev,
                &contiguous(x, xl)?,
                &contiguous(g, gl)?,
                n,
                group_len,
                max_level,
            )?)
        }
        _ => {
            candle_core::bail!("fake quant backward (cuda): only f32 and f64 with matching dtypes")
        }
    };
    Ok((CudaStorage { slice, device: dev }, xl.shape().clone()))
}

fn round_typed<T: CudaFloat>(
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    n: usize,
) -> Result<CudaSlice<T>> {
    // SAFETY: fully written by the kernel below.
    let mut out = unsafe { dev.alloc::<T>(n)? };
    let func =
        dev.get_or_load_custom_func(&format!("round_half_even_{}", T::SUFFIX), MODULE, PTX)?;
    let mut b = func.builder();
    b.arg(x);
    b.arg(&n);
    b.arg(&mut out);
    // SAFETY: element-wise over `n` elements.
    unsafe { b.launch(elementwise_config(n)) }.w()?;
    Ok(out)
}

/// Round half to even on a CUDA tensor.
pub(crate) fn round_half_even(
    storage: &CudaStorage,
    layout: &Layout,
) -> Result<(CudaStorage, Shape)> {
    let dev = storage.device().clone();
    let n = layout.shape().elem_count();
    let slice = match &storage.slice {
        CudaStorageSlice::F32(s) => {
            CudaStorageSlice::F32(round_typed::<f32>(&dev, &contiguous(s, layout)?, n)?)
        }
        CudaStorageSlice::F64(s) => {
            CudaStorageSlice::F64(round_typed::<f64>(&dev, &contiguous(s, layout)?, n)?)
        }
        _ => candle_core::bail!("round half even (cuda): only f32 and f64"),
    };
    Ok((CudaStorage { slice, device: dev }, layout.shape().clone()))
}
