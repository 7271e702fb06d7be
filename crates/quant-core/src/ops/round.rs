//! Rounding half to even with a straight-through gradient.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::{FloatSlice, float_slice};
use crate::kernels::cpu;

/// `round_half_even(x)` in the forward pass, identity in the backward pass (the straight-through
/// estimator, `d round(z) / dz := 1`).
///
/// candle's own `round` rounds half away from zero and has no gradient; this op matches PyTorch's
/// `torch.round` (half to even) and passes gradients straight through.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundHalfEvenSte;

impl CustomOp1 for RoundHalfEvenSte {
    fn name(&self) -> &'static str {
        "round-half-even-ste"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = match float_slice(storage, layout, self.name())? {
            FloatSlice::F32(x) => CpuStorage::F32(round_all(x)),
            FloatSlice::F64(x) => CpuStorage::F64(round_all(x)),
        };
        Ok((out, layout.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        crate::kernels::cuda::round_half_even(storage, layout)
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.clone()))
    }
}

fn round_all<T: cpu::KernelFloat>(x: &[T]) -> Vec<T> {
    // SAFETY: `round_half_even_all` writes every element of `out` (one per element of `x`).
    let filled: Result<Vec<T>, std::convert::Infallible> = unsafe {
        cpu::filled_vec(x.len(), |out| {
            cpu::round_half_even_all(x, out);
            Ok(())
        })
    };
    match filled {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

/// Rounds every element half to even, with a straight-through gradient. Works on f32 and f64
/// tensors of any layout.
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// use smallscale_quant_core::round_half_even_ste;
/// let x = Var::new(&[0.5f32, 1.5, 2.5, -0.5, 0.7], &Device::Cpu)?;
/// let y = round_half_even_ste(x.as_tensor())?;
/// assert_eq!(y.to_vec1::<f32>()?, [0.0, 2.0, 2.0, -0.0, 1.0]);
/// let grads = y.sum_all()?.backward()?;
/// assert_eq!(grads.get(&x).unwrap().to_vec1::<f32>()?, [1.0; 5]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn round_half_even_ste(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(RoundHalfEvenSte)
}
