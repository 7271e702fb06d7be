//! A fully connected layer `y = x W^T + b` on the CPU as one candle custom op: one matrix product
//! forward (the bias written first and accumulated onto) and two products plus a column sum
//! backward, instead of candle's transpose, product and broadcast-add nodes.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::element::{Element, SliceKernel, run_on_storages, with_cpu_slice};
use super::matmul::{MatRef, matmul};
use crate::errors::{ModelError, Result};

/// Rows per partial bias-gradient sum.
const ROWS_PER_TASK: usize = 256;

/// `x W^T (+ b)` for `x: [rows, in]`, `weight: [out, in]`, `bias: [out]`, differentiable in all
/// three. On the CPU (`f32`/`f64`) one custom op with multithreaded `gemm` products forward and
/// backward; elsewhere candle's `matmul` and `broadcast_add`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[1.0f32, 2.0]], &Device::Cpu)?;
/// let w = Tensor::new(&[[1.0f32, 0.0], [1.0, 1.0], [0.0, -1.0]], &Device::Cpu)?;
/// let b = Tensor::new(&[0.5f32, 0.0, 0.0], &Device::Cpu)?;
/// let y = smallscale_models::kernels::linear(&x, &w, Some(&b))?;
/// assert_eq!(y.to_vec2::<f32>()?, [[1.5, 3.0, -2.0]]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (rows, inputs) = x.dims2()?;
    let (outputs, w_in) = weight.dims2()?;
    if w_in != inputs {
        return Err(ModelError::Candle(candle_core::Error::Msg(format!(
            "linear input has {inputs} features but the weight [{outputs}, {w_in}] expects {w_in}"
        ))));
    }
    if let Some(b) = bias
        && b.elem_count() != outputs
    {
        return Err(ModelError::Candle(candle_core::Error::Msg(format!(
            "linear bias has {} elements but the layer has {outputs} outputs",
            b.elem_count()
        ))));
    }
    let mut tensors = vec![x, weight];
    tensors.extend(bias);
    let uses_kernel = super::cpu_kernels_enabled()
        && matches!(x.dtype(), DType::F32 | DType::F64)
        && tensors
            .iter()
            .all(|t| t.device().is_cpu() && t.dtype() == x.dtype());
    if !uses_kernel || rows == 0 || inputs == 0 || outputs == 0 {
        let y = x.matmul(&weight.t()?)?;
        return Ok(match bias {
            Some(b) => y.broadcast_add(&b.flatten_all()?)?,
            None => y,
        });
    }
    let op = LinearOp {
        rows,
        inputs,
        outputs,
    };
    let (x, weight) = (x.contiguous()?, weight.contiguous()?);
    Ok(match bias {
        Some(b) => x.apply_op3(&weight, &b.flatten_all()?.contiguous()?, op)?,
        None => x.apply_op2(&weight, op)?,
    })
}

#[derive(Debug, Clone, Copy)]
struct LinearOp {
    rows: usize,
    inputs: usize,
    outputs: usize,
}

impl LinearOp {
    fn forward<T: Element>(&self, x: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
        let mut y = vec![T::zero(); self.rows * self.outputs];
        if let Some(b) = bias {
            y.par_chunks_mut(self.outputs * ROWS_PER_TASK)
                .for_each(|c| {
                    c.chunks_mut(self.outputs)
                        .for_each(|r| r.copy_from_slice(b))
                });
        }
        matmul(
            &mut y,
            MatRef::row_major(x, self.rows, self.inputs),
            MatRef::row_major(w, self.outputs, self.inputs).t(),
            bias.is_some(),
            rayon::current_num_threads(),
        );
        y
    }

    /// `(dx, dw, db)`; `dx` only when `need_dx`, `db` only when the layer has a bias.
    fn backward<T: Element>(
        &self,
        x: &[T],
        w: &[T],
        gy: &[T],
        need_dx: bool,
        with_bias: bool,
    ) -> (Option<Vec<T>>, Vec<T>, Option<Vec<T>>) {
        let threads = rayon::current_num_threads();
        let gy_m = MatRef::row_major(gy, self.rows, self.outputs);
        let dx = need_dx.then(|| {
            let mut dx = vec![T::zero(); self.rows * self.inputs];
            matmul(
                &mut dx,
                gy_m,
                MatRef::row_major(w, self.outputs, self.inputs),
                false,
                threads,
            );
            dx
        });
        let mut dw = vec![T::zero(); self.outputs * self.inputs];
        matmul(
            &mut dw,
            gy_m.t(),
            MatRef::row_major(x, self.rows, self.inputs),
            false,
            threads,
        );
        let db = with_bias.then(|| {
            // Partial column sums over fixed row blocks, added in block order: reproducible.
            let partials: Vec<Vec<f64>> = gy
                .par_chunks(self.outputs * ROWS_PER_TASK)
                .map(|c| {
                    let mut s = vec![0.0f64; self.outputs];
                    for row in c.chunks(self.outputs) {
                        s.iter_mut().zip(row).for_each(|(s, v)| *s += v.widen());
                    }
                    s
                })
                .collect();
            let mut total = vec![0.0f64; self.outputs];
            for p in partials {
                total.iter_mut().zip(&p).for_each(|(t, v)| *t += v);
            }
            total.into_iter().map(T::narrow).collect()
        });
        (dx, dw, db)
    }

    fn grads<T: Element>(
        &self,
        x: &Tensor,
        w: &Tensor,
        grad: &Tensor,
        with_bias: bool,
    ) -> candle_core::Result<(Option<Tensor>, Tensor, Option<Tensor>)> {
        let need_dx = x.track_op();
        let (dx, dw, db) = with_cpu_slice::<T, _>(x, "linear input", |xs| {
            with_cpu_slice::<T, _>(w, "linear weight", |ws| {
                with_cpu_slice::<T, _>(grad, "linear output gradient", |gs| {
                    Ok(self.backward(xs, ws, gs, need_dx, with_bias))
                })
            })
        })?;
        let dev = x.device();
        Ok((
            dx.map(|d| Tensor::from_vec(d, x.shape(), dev))
                .transpose()?,
            Tensor::from_vec(dw, w.shape(), dev)?,
            db.map(|d| Tensor::from_vec(d, self.outputs, dev))
                .transpose()?,
        ))
    }

    fn cpu(&self, inputs: &[(&CpuStorage, &Layout)]) -> candle_core::Result<(CpuStorage, Shape)> {
        let names = ["linear input", "linear weight", "linear bias"];
        let out = run_on_storages(self, inputs, &names[..inputs.len()], "linear")?;
        Ok((out, Shape::from((self.rows, self.outputs))))
    }

    fn dispatch_grads(
        &self,
        x: &Tensor,
        w: &Tensor,
        grad: &Tensor,
        with_bias: bool,
    ) -> candle_core::Result<(Option<Tensor>, Tensor, Option<Tensor>)> {
        match x.dtype() {
            DType::F32 => self.grads::<f32>(x, w, grad, with_bias),
            _ => self.grads::<f64>(x, w, grad, with_bias),
        }
    }
}

impl SliceKernel for LinearOp {
    fn run<T: Element>(&self, inputs: &[&[T]]) -> Vec<T> {
        self.forward(inputs[0], inputs[1], inputs.get(2).copied())
    }
}

impl CustomOp2 for LinearOp {
    fn name(&self) -> &'static str {
        "smallscale-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.cpu(&[(s1, l1), (s2, l2)])
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = self.dispatch_grads(x, w, grad, false)?;
        Ok((dx, Some(dw)))
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "smallscale-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.cpu(&[(s1, l1), (s2, l2), (s3, l3)])
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = self.dispatch_grads(x, w, grad, true)?;
        Ok((dx, Some(dw), db))
    }
}
