//! 2x2 max pooling with stride 2 as one candle custom op: one pass forward, one backward that
//! sends each window's gradient to its first maximum (PyTorch's rule).

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::element::{Element, contiguous_slice, with_cpu_slice};

/// Planes (one channel of one image) per parallel task, at least.
const MIN_PLANES: usize = 16;

/// The op over `[planes, h, w]` (planes = batch x channels), `h` and `w` even.
pub(crate) struct MaxPool2x2Op {
    pub(crate) dims: (usize, usize, usize, usize),
}

/// The position (0..4, row-major: top left, top right, bottom left, bottom right) of a window's
/// first maximum; a NaN counts as the maximum (the first NaN), so that it is not hidden.
#[inline]
fn first_max<T: Element>(v: [T; 4]) -> usize {
    let mut best = 0;
    for k in 1..4 {
        if !v[best].is_nan() && (v[k] > v[best] || v[k].is_nan()) {
            best = k;
        }
    }
    best
}

/// The four values of window (`oy`, `ox`) of a `w`-wide plane.
#[inline]
fn window<T: Element>(plane: &[T], w: usize, oy: usize, ox: usize) -> [T; 4] {
    let (top, bottom) = (2 * oy * w + 2 * ox, (2 * oy + 1) * w + 2 * ox);
    [plane[top], plane[top + 1], plane[bottom], plane[bottom + 1]]
}

fn forward<T: Element>(x: &[T], h: usize, w: usize) -> Vec<T> {
    let (oh, ow) = (h / 2, w / 2);
    let mut y = vec![T::zero(); x.len() / 4];
    y.par_chunks_mut(oh * ow)
        .zip(x.par_chunks(h * w))
        .with_min_len(MIN_PLANES)
        .for_each(|(out, plane)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    let v = window(plane, w, oy, ox);
                    out[oy * ow + ox] = v[first_max(v)];
                }
            }
        });
    y
}

fn backward<T: Element>(x: &[T], gy: &[T], h: usize, w: usize) -> Vec<T> {
    let (oh, ow) = (h / 2, w / 2);
    let mut dx = vec![T::zero(); x.len()];
    dx.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w).zip(gy.par_chunks(oh * ow)))
        .with_min_len(MIN_PLANES)
        .for_each(|(d, (plane, g))| {
            for oy in 0..oh {
                for ox in 0..ow {
                    let k = first_max(window(plane, w, oy, ox));
                    let at = (2 * oy + k / 2) * w + 2 * ox + k % 2;
                    d[at] = g[oy * ow + ox];
                }
            }
        });
    dx
}

impl CustomOp1 for MaxPool2x2Op {
    fn name(&self) -> &'static str {
        "smallscale-max-pool-2x2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = self.dims;
        let out = match s {
            CpuStorage::F32(_) => f32::into_storage(forward(
                contiguous_slice::<f32>(s, l, "max-pool input")?,
                h,
                w,
            )),
            CpuStorage::F64(_) => f64::into_storage(forward(
                contiguous_slice::<f64>(s, l, "max-pool input")?,
                h,
                w,
            )),
            _ => candle_core::bail!("the CPU max-pool kernel takes f32 or f64 tensors"),
        };
        Ok((out, Shape::from((n, c, h / 2, w / 2))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let (_, _, h, w) = self.dims;
        let dx = match x.dtype() {
            DType::F32 => Tensor::from_vec(
                with_cpu_slice::<f32, _>(x, "max-pool input", |x| {
                    with_cpu_slice::<f32, _>(grad, "max-pool gradient", |g| {
                        Ok(backward(x, g, h, w))
                    })
                })?,
                x.shape(),
                x.device(),
            )?,
            _ => Tensor::from_vec(
                with_cpu_slice::<f64, _>(x, "max-pool input", |x| {
                    with_cpu_slice::<f64, _>(grad, "max-pool gradient", |g| {
                        Ok(backward(x, g, h, w))
                    })
                })?,
                x.shape(),
                x.device(),
            )?,
        };
        Ok(Some(dx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_maximum_wins_ties_and_nan_is_kept() {
        assert_eq!(first_max([1.0f32, 2.0, 2.0, 0.0]), 1);
        assert_eq!(first_max([3.0f32, 3.0, 3.0, 3.0]), 0);
        assert_eq!(first_max([0.0f32, 1.0, 2.0, 3.0]), 3);
        assert_eq!(first_max([5.0f32, f32::NAN, 9.0, f32::NAN]), 1);
        assert_eq!(first_max([f32::NAN, 9.0, 1.0, 1.0]), 0);
        assert_eq!(first_max([-0.0f32, 0.0, -1.0, -1.0]), 0);
    }
}
