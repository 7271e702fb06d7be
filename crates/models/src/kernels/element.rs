//! The floating element types the CPU kernels run on, and safe access to tensor storage.

use candle_core::{CpuStorage, Layout, Storage, Tensor, WithDType};

/// `f32` or `f64`: the element types of the CPU training kernels.
pub(crate) trait Element: WithDType + num_traits::Float + Send + Sync + 'static {
    /// Wraps a vector of this type in a CPU storage.
    fn into_storage(data: Vec<Self>) -> CpuStorage;
    /// The value as `f64` (exact).
    fn widen(self) -> f64;
    /// The `f64` rounded to this type.
    fn narrow(v: f64) -> Self;
    /// The error function at this precision (`libm`'s `erff` or `erf`).
    fn erf(self) -> Self;
}

impl Element for f32 {
    fn into_storage(data: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(data)
    }
    fn widen(self) -> f64 {
        self as f64
    }
    fn narrow(v: f64) -> Self {
        v as f32
    }
    fn erf(self) -> Self {
        libm::erff(self)
    }
}

impl Element for f64 {
    fn into_storage(data: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(data)
    }
    fn widen(self) -> f64 {
        self
    }
    fn narrow(v: f64) -> Self {
        v
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
}

/// The contiguous elements of `storage` under `layout`.
pub(crate) fn contiguous_slice<'a, T: WithDType>(
    storage: &'a CpuStorage,
    layout: &Layout,
    what: &str,
) -> candle_core::Result<&'a [T]> {
    let data = storage.as_slice::<T>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => Err(candle_core::Error::Msg(format!(
            "{what} must be contiguous for the CPU kernel; call `.contiguous()` on it first"
        ))),
    }
}

/// Runs `f` on the contiguous CPU elements of `tensor` (made contiguous first if needed).
pub(crate) fn with_cpu_slice<T: WithDType, R>(
    tensor: &Tensor,
    what: &str,
    f: impl FnOnce(&[T]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let tensor = tensor.contiguous()?;
    let (storage, layout) = tensor.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(contiguous_slice::<T>(cpu, layout, what)?),
        _ => Err(candle_core::Error::Msg(format!(
            "{what} is not on the CPU; the CPU kernel cannot read it"
        ))),
    }
}

/// The body of a CPU kernel's forward pass over contiguous input slices of one float type.
pub(crate) trait SliceKernel {
    /// The output for `inputs` (in the op's argument order).
    fn run<T: Element>(&self, inputs: &[&[T]]) -> Vec<T>;
}

/// Runs `kernel` on the op's input storages, which must all be `f32` or all `f64`; `names` label
/// the inputs in errors and `what` the kernel.
pub(crate) fn run_on_storages<K: SliceKernel>(
    kernel: &K,
    inputs: &[(&CpuStorage, &Layout)],
    names: &[&str],
    what: &str,
) -> candle_core::Result<CpuStorage> {
    fn slices<'a, T: WithDType>(
        inputs: &[(&'a CpuStorage, &Layout)],
        names: &[&str],
    ) -> candle_core::Result<Vec<&'a [T]>> {
        inputs
            .iter()
            .zip(names)
            .map(|(&(s, l), name)| contiguous_slice(s, l, name))
            .collect()
    }
    match inputs.first().map(|i| i.0) {
        Some(CpuStorage::F32(_)) => Ok(f32::into_storage(kernel.run(&slices(inputs, names)?))),
        Some(CpuStorage::F64(_)) => Ok(f64::into_storage(kernel.run(&slices(inputs, names)?))),
        _ => Err(candle_core::Error::Msg(format!(
            "the CPU {what} kernel takes f32 or f64 tensors of one dtype"
        ))),
    }
}
