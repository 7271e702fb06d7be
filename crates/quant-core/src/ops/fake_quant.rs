//! Max-abs fake quantization as a candle custom op (forward and backward).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

use super::{FloatSlice, float_slice};
use crate::error::QuantError;
use crate::kernels::cpu::{self, KernelFloat, NonFiniteAt};
use crate::quantizer::ScaleGradient;

/// The fake-quant op of the max-abs quantizers: `s * round_half_even(x / s)` with
/// `s = max|x| / K` per group of `group_len` contiguous elements (the whole tensor for per-tensor
/// quantization, one output channel for per-channel quantization).
///
/// Backward: straight-through for the rounding; with [`ScaleGradient::Faithful`] the gradient also
/// flows through the non-detached scale into the arg-max element(s) of each group (ties split
/// evenly), exactly like the reference's autograd; with [`ScaleGradient::Detached`] it is the plain
/// straight-through gradient.
///
/// Use it through [`max_abs_fake_quantize`] or the quantizers; the struct is public so that other
/// crates can compose it.
#[derive(Debug, Clone, Copy)]
pub struct MaxAbsFakeQuant {
    /// `K = 2^(b-1) - 1`.
    pub max_level: u32,
    /// Number of contiguous elements that share one scale; must divide the element count.
    pub group_len: usize,
    /// How the gradient treats the scale.
    pub scale_gradient: ScaleGradient,
}

fn non_finite(at: NonFiniteAt) -> candle_core::Error {
    QuantError::NonFinite {
        name: "<input>".into(),
        index: at.index,
    }
    .into_candle()
}

impl MaxAbsFakeQuant {
    fn check_len(&self, len: usize) -> candle_core::Result<()> {
        if self.max_level == 0 {
            candle_core::bail!(
                "max-abs fake quant: max_level (K = 2^(b-1) - 1) must be at least 1; use b >= 2"
            );
        }
        if self.group_len == 0 || !len.is_multiple_of(self.group_len) {
            candle_core::bail!(
                "max-abs fake quant: group length {} does not divide the element count {len}",
                self.group_len
            );
        }
        Ok(())
    }

    fn forward_slice<T: KernelFloat>(&self, x: &[T]) -> candle_core::Result<Vec<T>> {
        self.check_len(x.len())?;
        if x.is_empty() {
            return Ok(Vec::new());
        }
        let k = T::from_f64(f64::from(self.max_level));
        // SAFETY: on `Ok` the forward kernel has written every element of `out`.
        unsafe {
            cpu::filled_vec(x.len(), |out| {
                cpu::max_abs_fake_quant_forward(x, self.group_len, k, out).map(drop)
            })
        }
        .map_err(non_finite)
    }
}

impl CustomOp1 for MaxAbsFakeQuant {
    fn name(&self) -> &'static str {
        "max-abs-fake-quant"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = match float_slice(storage, layout, self.name())? {
            FloatSlice::F32(x) => CpuStorage::F32(self.forward_slice(x)?),
            FloatSlice::F64(x) => CpuStorage::F64(self.forward_slice(x)?),
        };
        Ok((out, layout.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        self.check_len(layout.shape().elem_count())?;
        crate::kernels::cuda::max_abs_fake_quant_forward(
            storage,
            layout,
            self.max_level,
            self.group_len,
        )
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        match self.scale_gradient {
            ScaleGradient::Detached => Ok(Some(grad_res.clone())),
            ScaleGradient::Faithful => {
                let grad = arg
                    .contiguous()?
                    .apply_op2_no_bwd(&grad_res.contiguous()?, &MaxAbsFakeQuantBackward(*self))?;
                Ok(Some(grad))
            }
        }
    }
}

/// The backward of [`MaxAbsFakeQuant`] with the faithful scale gradient: inputs `x` and the upstream
/// gradient `g`, output `dL/dx`.
#[derive(Debug, Clone, Copy)]
struct MaxAbsFakeQuantBackward(MaxAbsFakeQuant);

impl MaxAbsFakeQuantBackward {
    fn backward_slice<T: KernelFloat>(&self, x: &[T], g: &[T]) -> candle_core::Result<Vec<T>> {
        self.0.check_len(x.len())?;
        if x.len() != g.len() {
            candle_core::bail!(
                "max-abs fake quant backward: {} inputs but {} gradients",
                x.len(),
                g.len()
            );
        }
        if x.is_empty() {
            return Ok(Vec::new());
        }
        let k = T::from_f64(f64::from(self.0.max_level));
        let faithful = self.0.scale_gradient == ScaleGradient::Faithful;
        // SAFETY: on `Ok` the backward kernel has written every element of `out`.
        unsafe {
            cpu::filled_vec(x.len(), |out| {
                cpu::max_abs_fake_quant_backward(x, g, self.0.group_len, k, faithful, out)
            })
        }
        .map_err(non_finite)
    }
}

impl CustomOp2 for MaxAbsFakeQuantBackward {
    fn name(&self) -> &'static str {
        "max-abs-fake-quant-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = match (
            float_slice(s1, l1, self.name())?,
            float_slice(s2, l2, self.name())?,
        ) {
            (FloatSlice::F32(x), FloatSlice::F32(g)) => CpuStorage::F32(self.backward_slice(x, g)?),
            (FloatSlice::F64(x), FloatSlice::F64(g)) => CpuStorage::F64(self.backward_slice(x, g)?),
            _ => {
                candle_core::bail!("max-abs fake quant backward: input and gradient dtypes differ")
            }
        };
        Ok((out, l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        self.0.check_len(l1.shape().elem_count())?;
        crate::kernels::cuda::max_abs_fake_quant_backward(
            s1,
            l1,
            s2,
            l2,
            self.0.max_level,
            self.0.group_len,
        )
    }
}

/// Fake-quantizes `x` with the reference max-abs quantizer, `max_level = K = 2^(b-1) - 1`, with
/// one scale per `group_len` contiguous elements (pass `x.elem_count()` for one per-tensor scale).
///
/// Prefer [`MaxAbsQuantizer`](crate::MaxAbsQuantizer) and
/// [`PerChannelMaxAbsQuantizer`](crate::PerChannelMaxAbsQuantizer), which validate their
/// parameters; this function is the op underneath them.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::{ScaleGradient, max_abs_fake_quantize};
/// let x = Tensor::new(&[0.9f32, -0.2, 0.5, 0.3], &Device::Cpu)?;
/// // 2 bits: K = 1, s = 0.9, levels {-0.9, 0, 0.9}
/// let q = max_abs_fake_quantize(&x, 1, 4, ScaleGradient::Faithful)?;
/// assert_eq!(q.to_vec1::<f32>()?, [0.9, -0.0, 0.9, 0.0]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn max_abs_fake_quantize(
    x: &Tensor,
    max_level: u32,
    group_len: usize,
    scale_gradient: ScaleGradient,
) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(MaxAbsFakeQuant {
        max_level,
        group_len,
        scale_gradient,
    })
}
