//! 2-D convolution on the CPU as patch matrices (im2col) and matrix products (`gemm`), with both
//! gradients, as a candle custom op.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::element::{Element, SliceKernel, run_on_storages, with_cpu_slice};
use super::im2col::{ConvGeometry, col2im, im2col};
use super::matmul::{MatRef, matmul};
use crate::errors::{ModelError, Result};

/// Output columns (samples x output pixels) one matrix product should cover: enough for the
/// product to run near its peak, small enough for the patch matrix to stay in cache.
const TARGET_COLUMNS: usize = 1024;

/// 2-D convolution of `x: [n, c, h, w]` with `weight: [o, c, kh, kw]` (zero padding on every side,
/// one stride for both axes, no dilation or groups), differentiable in both arguments.
///
/// On the CPU with `f32` or `f64` tensors this runs our own kernel: patch matrices and
/// multithreaded matrix products from the `gemm` crate, for the forward pass and for both
/// gradients. Anywhere else (CUDA, other dtypes) it is candle's `conv2d`. The two agree to float
/// rounding; `tests/conv_kernel.rs` checks it over many shapes.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::arange(0f32, 16.0, &Device::Cpu)?.reshape((1, 1, 4, 4))?;
/// let w = Tensor::ones((1, 1, 3, 3), candle_core::DType::F32, &Device::Cpu)?;
/// let y = smallscale_models::kernels::conv2d(&x, &w, 0, 1)?;
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, [45.0, 54.0, 81.0, 90.0]);
/// // the same as candle's reference convolution
/// let reference = x.conv2d(&w, 0, 1, 1, 1)?;
/// assert_eq!(reference.flatten_all()?.to_vec1::<f32>()?, [45.0, 54.0, 81.0, 90.0]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
pub fn conv2d(x: &Tensor, weight: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let uses_kernel = super::cpu_kernels_enabled()
        && x.device().is_cpu()
        && matches!(x.dtype(), DType::F32 | DType::F64)
        && weight.dtype() == x.dtype();
    if !uses_kernel || x.elem_count() == 0 || weight.elem_count() == 0 {
        return Ok(x.conv2d(weight, padding, stride, 1, 1)?);
    }
    let geometry = ConvGeometry::new(x.dims4()?, weight.dims4()?, stride, padding)
        .map_err(|m| ModelError::Candle(candle_core::Error::Msg(m)))?;
    let op = Conv2dOp { geometry };
    Ok(x.contiguous()?.apply_op2(&weight.contiguous()?, op)?)
}

/// The custom op; its geometry was validated when it was built.
struct Conv2dOp {
    geometry: ConvGeometry,
}

impl SliceKernel for Conv2dOp {
    fn run<T: Element>(&self, inputs: &[&[T]]) -> Vec<T> {
        forward(inputs[0], inputs[1], &self.geometry)
    }
}

impl CustomOp2 for Conv2dOp {
    fn name(&self) -> &'static str {
        "smallscale-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = &self.geometry;
        let inputs = [(s1, l1), (s2, l2)];
        let out = run_on_storages(self, &inputs, &["conv input", "conv weight"], "convolution")?;
        Ok((out, Shape::from((g.n, g.o, g.ho, g.wo))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let g = self.geometry;
        let need = Needs {
            input: x.track_op(),
            weight: weight.track_op(),
        };
        let (dx, dw) = match x.dtype() {
            DType::F32 => grads_as_tensors::<f32>(x, weight, grad, &g, need)?,
            DType::F64 => grads_as_tensors::<f64>(x, weight, grad, &g, need)?,
            dtype => {
                return Err(candle_core::Error::Msg(format!(
                    "the CPU convolution kernel has no backward for {dtype:?}"
                )));
            }
        };
        Ok((dx, dw))
    }
}

/// Which gradients the backward pass must compute.
#[derive(Debug, Clone, Copy)]
struct Needs {
    input: bool,
    weight: bool,
}

fn grads_as_tensors<T: Element>(
    x: &Tensor,
    weight: &Tensor,
    grad: &Tensor,
    g: &ConvGeometry,
    need: Needs,
) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
    let (dx, dw) = with_cpu_slice::<T, _>(x, "conv input", |xs| {
        with_cpu_slice::<T, _>(weight, "conv weight", |ws| {
            with_cpu_slice::<T, _>(grad, "conv output gradient", |gs| {
                Ok(backward(xs, ws, gs, g, need))
            })
        })
    })?;
    let device = x.device();
    let dx = dx
        .map(|d| Tensor::from_vec(d, (g.n, g.c, g.h, g.w), device))
        .transpose()?;
    let dw = dw
        .map(|d| Tensor::from_vec(d, (g.o, g.c, g.kh, g.kw), device))
        .transpose()?;
    Ok((dx, dw))
}

/// Samples per matrix product.
fn samples_per_product(g: &ConvGeometry) -> usize {
    TARGET_COLUMNS.div_ceil(g.out_pixels()).clamp(1, g.n.max(1))
}

/// How the work is split: over sample groups (one thread per group, each product on one thread)
/// when there are enough groups for every thread, else group by group with threaded products.
fn split(g: &ConvGeometry) -> (usize, bool) {
    let per_group = samples_per_product(g);
    let groups = g.n.div_ceil(per_group);
    let threads = rayon::current_num_threads();
    (per_group, threads > 1 && groups >= threads)
}

/// The weight as a row-major `[o, c * kh * kw]` matrix.
fn weight_matrix<'a, T>(weight: &'a [T], g: &ConvGeometry) -> MatRef<'a, T> {
    MatRef::row_major(weight, g.o, g.patch_len())
}

/// `y = conv(x, weight)`, `[n, o, ho, wo]`.
fn forward<T: Element>(x: &[T], weight: &[T], g: &ConvGeometry) -> Vec<T> {
    let (o, p) = (g.o, g.out_pixels());
    let mut y = vec![T::zero(); g.n * o * p];
    if y.is_empty() {
        return y;
    }
    let (per_group, over_groups) = split(g);
    let run_group = |first: usize, yg: &mut [T], threads: usize, scratch: &mut Scratch<T>| {
        let count = yg.len() / (o * p);
        let width = count * p;
        let rhs = if g.is_pointwise() && count == 1 {
            MatRef::row_major(&x[first * g.c * p..(first + 1) * g.c * p], g.c, p)
        } else {
            let cols = grow(&mut scratch.cols, g.patch_len() * width);
            im2col(x, g, first, count, cols, threads > 1);
            MatRef::row_major(&*cols, g.patch_len(), width)
        };
        if count == 1 {
            matmul(yg, weight_matrix(weight, g), rhs, false, threads);
        } else {
            let mut product = vec![T::zero(); o * width];
            matmul(&mut product, weight_matrix(weight, g), rhs, false, threads);
            // [o, (sample, pixel)] -> [sample, o, pixel]
            for (s, ys) in yg.chunks_mut(o * p).enumerate() {
                for (oc, row) in ys.chunks_mut(p).enumerate() {
                    row.copy_from_slice(&product[oc * width + s * p..][..p]);
                }
            }
        }
    };
    if over_groups {
        y.par_chunks_mut(per_group * o * p)
            .enumerate()
            .for_each_init(Scratch::default, |scratch, (i, yg)| {
                run_group(i * per_group, yg, 1, scratch)
            });
    } else {
        let threads = rayon::current_num_threads();
        let mut scratch = Scratch::default();
        for (i, yg) in y.chunks_mut(per_group * o * p).enumerate() {
            run_group(i * per_group, yg, threads, &mut scratch);
        }
    }
    y
}

/// Reusable buffers of one worker.
struct Scratch<T> {
    cols: Vec<T>,
    grad: Vec<T>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Self {
            cols: Vec::new(),
            grad: Vec::new(),
        }
    }
}

/// The first `len` elements of `buf`, grown (with zeros) if it is shorter.
fn grow<T: Element>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
    &mut buf[..len]
}

/// For stride 1, a square kernel and `padding < kernel`, the geometry of the convolution that
/// gives the input gradient: the output gradient `[n, o, ho, wo]` convolved with
/// [`flipped_weight`] `[c, o, k, k]` at padding `k - 1 - padding` (its output is `[n, c, h, w]`).
fn transposed_geometry(g: &ConvGeometry) -> Option<ConvGeometry> {
    if g.stride != 1 || g.kh != g.kw || g.padding >= g.kh {
        return None;
    }
    let gt = ConvGeometry::new(
        (g.n, g.o, g.ho, g.wo),
        (g.c, g.o, g.kh, g.kw),
        1,
        g.kh - 1 - g.padding,
    )
    .ok()?;
    (gt.ho == g.h && gt.wo == g.w).then_some(gt)
}

/// The weight with its channel axes swapped and its kernel rotated by 180 degrees:
/// `out[ci, oc, i, j] = weight[oc, ci, kh - 1 - i, kw - 1 - j]`.
fn flipped_weight<T: Element>(weight: &[T], g: &ConvGeometry) -> Vec<T> {
    let kk = g.kh * g.kw;
    let mut out = vec![T::zero(); weight.len()];
    out.par_chunks_mut(g.o * kk)
        .enumerate()
        .for_each(|(ci, row)| {
            for (oc, dst) in row.chunks_mut(kk).enumerate() {
                let src = &weight[(oc * g.c + ci) * kk..][..kk];
                for (d, &v) in dst.iter_mut().zip(src.iter().rev()) {
                    *d = v;
                }
            }
        });
    out
}

/// The transpose of a row-major `rows x cols` matrix, in tiles of 16 output rows so every read
/// uses a whole cache line.
fn transpose<T: Element>(src: &[T], rows: usize, cols: usize) -> Vec<T> {
    const TILE: usize = 16;
    let mut out = vec![T::zero(); rows * cols];
    if rows == 0 {
        return out;
    }
    out.par_chunks_mut(TILE * rows)
        .enumerate()
        .for_each(|(t, tile)| {
            let c0 = t * TILE;
            let width = tile.len() / rows;
            for r in 0..rows {
                let line = &src[r * cols + c0..][..width];
                for (j, &v) in line.iter().enumerate() {
                    tile[j * rows + r] = v;
                }
            }
        });
    out
}

/// Gradients of `sum(grad * conv(x, weight))` with respect to `x` and `weight`.
fn backward<T: Element>(
    x: &[T],
    weight: &[T],
    grad: &[T],
    g: &ConvGeometry,
    need: Needs,
) -> (Option<Vec<T>>, Option<Vec<T>>) {
    // Stride 1: the input gradient is a forward convolution of the output gradient, whose matrix
    // products have the good shape (a long inner dimension) and need no col2im scatter.
    if let Some(gt) = need.input.then(|| transposed_geometry(g)).flatten() {
        let dx = forward(grad, &flipped_weight(weight, g), &gt);
        let only_weight = Needs {
            input: false,
            weight: need.weight,
        };
        let (_, dw) = backward(x, weight, grad, g, only_weight);
        return (Some(dx), dw);
    }
    let (o, p, k) = (g.o, g.out_pixels(), g.patch_len());
    let in_len = g.c * g.in_pixels();
    let mut dx = vec![T::zero(); if need.input { g.n * in_len } else { 0 }];
    if g.n == 0 || (!need.input && !need.weight) {
        return (
            need.input.then_some(dx),
            need.weight.then(|| vec![T::zero(); o * k]),
        );
    }
    let (per_group, over_groups) = split(g);
    // One group: accumulates its weight gradient, transposed (`[k, o]`), into `dwt` and writes
    // its input gradient `dxg`.
    let run_group = |first: usize,
                     count: usize,
                     dxg: &mut [T],
                     dwt: &mut [T],
                     threads: usize,
                     scratch: &mut Scratch<T>| {
        let width = count * p;
        let gy = &grad[first * o * p..(first + count) * o * p];
        // The output gradient as [o, (sample, pixel)].
        let gy: &[T] = if count == 1 {
            gy
        } else {
            let buf = grow(&mut scratch.grad, o * width);
            for (s, gs) in gy.chunks(o * p).enumerate() {
                for (oc, row) in gs.chunks(p).enumerate() {
                    buf[oc * width + s * p..][..p].copy_from_slice(row);
                }
            }
            &*buf
        };
        let gy = MatRef::row_major(gy, o, width);
        if need.weight {
            let cols: &[T] = if g.is_pointwise() && count == 1 {
                &x[first * in_len..(first + 1) * in_len]
            } else {
                let cols = grow(&mut scratch.cols, k * width);
                im2col(x, g, first, count, cols, threads > 1);
                &*cols
            };
            // dW^T[k, o] += patches[k, cols] @ gy[o, cols]^T. Computing the transpose keeps the
            // long inner dimension contiguous in the left operand, which gemm runs about 3x
            // faster than dW = gy @ patches^T (measured: 194 against 62 GFLOPS at 64x576x1024).
            matmul(
                dwt,
                MatRef::row_major(cols, k, width),
                gy.t(),
                true,
                threads,
            );
        }
        if need.input {
            let wt = weight_matrix(weight, g).t();
            if g.is_pointwise() && count == 1 {
                matmul(dxg, wt, gy, false, threads);
            } else {
                let mut dcols = vec![T::zero(); k * width];
                matmul(&mut dcols, wt, gy, false, threads);
                col2im(&dcols, g, count, dxg, threads > 1);
            }
        }
    };
    let group_len = if need.input { per_group * in_len } else { 0 };
    let dw = if over_groups {
        let zeros = || vec![T::zero(); o * k];
        let groups: Vec<(usize, &mut [T])> = if need.input {
            dx.chunks_mut(group_len).enumerate().collect()
        } else {
            (0..g.n.div_ceil(per_group))
                .map(|i| (i, &mut [][..]))
                .collect()
        };
        // One partial weight gradient per group, summed in group order: the result does not
        // depend on which thread ran which group, so training is reproducible run to run.
        let partials: Vec<Vec<T>> = groups
            .into_par_iter()
            .map_init(Scratch::default, |scratch, (i, dxg)| {
                let first = i * per_group;
                let count = per_group.min(g.n - first);
                let mut part = zeros();
                run_group(first, count, dxg, &mut part, 1, scratch);
                part
            })
            .collect();
        let mut partials = partials.into_iter();
        let mut dw = partials.next().unwrap_or_else(zeros);
        for part in partials {
            dw.iter_mut().zip(&part).for_each(|(a, &b)| *a += b);
        }
        dw
    } else {
        // Group by group with threaded products; the same per-group parts, summed in the same
        // order, as the threaded branch above.
        let threads = rayon::current_num_threads();
        let mut dw = vec![T::zero(); o * k];
        let mut part = vec![T::zero(); o * k];
        let mut scratch = Scratch::default();
        for i in 0..g.n.div_ceil(per_group) {
            let first = i * per_group;
            let count = per_group.min(g.n - first);
            let dxg: &mut [T] = if need.input {
                &mut dx[first * in_len..(first + count) * in_len]
            } else {
                &mut []
            };
            part.fill(T::zero());
            run_group(first, count, dxg, &mut part, threads, &mut scratch);
            dw.iter_mut().zip(&part).for_each(|(a, &b)| *a += b);
        }
        dw
    };
    let dw = need.weight.then(|| transpose(&dw, k, o));
    (need.input.then_some(dx), dw)
}
