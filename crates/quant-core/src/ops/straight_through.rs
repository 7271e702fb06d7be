//! Straight-through composition: the value of one tensor, the gradient of another.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

/// Forward: returns `value` unchanged (bit for bit). Backward: the upstream gradient goes to `x`
/// unchanged and nothing goes to `value`.
///
/// This is `(value - x).detach() + x` without the rounding error of the subtraction and addition,
/// so fake-quantized values stay exactly on the quantization grid. It runs on every device.
#[derive(Debug, Clone, Copy, Default)]
pub struct StraightThrough;

impl CustomOp2 for StraightThrough {
    fn name(&self) -> &'static str {
        "straight-through"
    }

    fn cpu_fwd(
        &self,
        _x: &CpuStorage,
        _lx: &Layout,
        value: &CpuStorage,
        lv: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok((value.try_clone(lv)?, lv.shape().clone()))
    }

    fn cuda_fwd(
        &self,
        _x: &candle_core::CudaStorage,
        _lx: &Layout,
        value: &candle_core::CudaStorage,
        lv: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        Ok((value.try_clone(lv)?, lv.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _value: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad_res.clone()), None))
    }
}

/// The value of `value` with the gradient of the identity on `x` (the straight-through estimator).
/// Shapes must match.
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// use smallscale_quant_core::straight_through;
/// let x = Var::new(&[0.3f32, 0.8], &Device::Cpu)?;
/// let q = Tensor::new(&[0.0f32, 1.0], &Device::Cpu)?;
/// let y = straight_through(x.as_tensor(), &q)?;
/// assert_eq!(y.to_vec1::<f32>()?, [0.0, 1.0]);
/// let g = (y * 3.0)?.sum_all()?.backward()?;
/// assert_eq!(g.get(&x).unwrap().to_vec1::<f32>()?, [3.0, 3.0]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn straight_through(x: &Tensor, value: &Tensor) -> candle_core::Result<Tensor> {
    if x.shape() != value.shape() {
        candle_core::bail!(
            "straight_through: shapes differ ({:?} vs {:?})",
            x.shape(),
            value.shape()
        );
    }
    x.apply_op2(&value.detach(), StraightThrough)
}
