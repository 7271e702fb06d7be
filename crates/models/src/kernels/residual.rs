//! The end of a residual block, `relu(a + b)`, as one candle custom op.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::element::{Element, SliceKernel, run_on_storages, with_cpu_slice};
use crate::errors::{ModelError, Result};

/// Elements per parallel task.
const CHUNK: usize = 1 << 15;

/// `relu(a + b)` for two tensors of one shape (a residual connection followed by its ReLU),
/// differentiable in both. On the CPU (`f32`/`f64`) one pass forward and one backward (the
/// gradient `dy * (y > 0)` goes to both inputs), instead of candle's addition and ReLU nodes;
/// elsewhere those two operations.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let a = Tensor::new(&[1.0f32, -3.0, 0.5], &Device::Cpu)?;
/// let b = Tensor::new(&[1.0f32, 1.0, -2.0], &Device::Cpu)?;
/// let y = smallscale_models::kernels::add_relu(&a, &b)?;
/// assert_eq!(y.to_vec1::<f32>()?, [2.0, 0.0, 0.0]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn add_relu(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.shape() != b.shape() {
        return Err(ModelError::Candle(candle_core::Error::Msg(format!(
            "add_relu needs two tensors of one shape, got {:?} and {:?}",
            a.dims(),
            b.dims()
        ))));
    }
    let uses_kernel = super::cpu_kernels_enabled()
        && matches!(a.dtype(), DType::F32 | DType::F64)
        && a.dtype() == b.dtype()
        && a.device().is_cpu()
        && b.device().is_cpu();
    if !uses_kernel {
        return Ok((a + b)?.relu()?);
    }
    Ok(a.contiguous()?.apply_op2(&b.contiguous()?, AddReluOp)?)
}

struct AddReluOp;

fn forward<T: Element>(a: &[T], b: &[T]) -> Vec<T> {
    let mut y = vec![T::zero(); a.len()];
    y.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .for_each(|(yc, (ac, bc))| {
            for ((y, &a), &b) in yc.iter_mut().zip(ac).zip(bc) {
                *y = num_traits::Float::max(a + b, T::zero());
            }
        });
    y
}

fn backward<T: Element>(y: &[T], gy: &[T]) -> Vec<T> {
    let mut dx = vec![T::zero(); y.len()];
    dx.par_chunks_mut(CHUNK)
        .zip(y.par_chunks(CHUNK).zip(gy.par_chunks(CHUNK)))
        .for_each(|(dc, (yc, gc))| {
            for ((d, &y), &g) in dc.iter_mut().zip(yc).zip(gc) {
                *d = if y > T::zero() { g } else { T::zero() };
            }
        });
    dx
}

impl SliceKernel for AddReluOp {
    fn run<T: Element>(&self, inputs: &[&[T]]) -> Vec<T> {
        forward(inputs[0], inputs[1])
    }
}

impl CustomOp2 for AddReluOp {
    fn name(&self) -> &'static str {
        "smallscale-add-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let inputs = [(s1, l1), (s2, l2)];
        let out = run_on_storages(self, &inputs, &["add_relu input"; 2], "add_relu")?;
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        _a: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        fn run<T: Element>(res: &Tensor, grad: &Tensor) -> candle_core::Result<Tensor> {
            let d = with_cpu_slice::<T, _>(res, "add_relu output", |y| {
                with_cpu_slice::<T, _>(grad, "add_relu gradient", |g| Ok(backward(y, g)))
            })?;
            Tensor::from_vec(d, res.shape(), res.device())
        }
        let d = match res.dtype() {
            DType::F32 => run::<f32>(res, grad)?,
            _ => run::<f64>(res, grad)?,
        };
        Ok((Some(d.clone()), Some(d)))
    }
}
