//! Max pooling with a correct gradient.

use candle_core::{D, DType, Tensor};

/// 2x2 max pooling with stride 2 over `[batch, channels, h, w]` (`h` and `w` even), with
/// PyTorch's gradient: each window's gradient goes to one maximum, the first in row-major order
/// (top left, top right, bottom left, bottom right).
///
/// Two candle ops get this wrong: `max_pool2d`'s backward multiplies the upstream gradient by
/// the *fraction* of maxima in a window instead of routing it (a quarter of the true gradient
/// with a unique maximum), and the `max` reduction gives the full gradient to *every* tied
/// maximum, so a window with two equal maxima passes twice the gradient. Ties are common (zeros
/// after a ReLU, equal quantized weights). Here the window's maximum is selected by a detached
/// one-hot mask of its first maximum, so exactly one input receives the gradient. The forward
/// value is the maximum itself (a NaN in a window gives NaN, as PyTorch's).
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// // One window with a unique maximum, one with two tied maxima (2 and 2).
/// let x = Var::new(&[[[[1.0f32, 5.0, 2.0, 0.0], [2.0, 3.0, 2.0, 1.0]]]], &Device::Cpu)?;
/// let y = smallscale_models::max_pool2x2(x.as_tensor())?;
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, [5.0, 2.0]);
/// let g = y.sum_all()?.backward()?;
/// let g = g.get(&x).unwrap().flatten_all()?.to_vec1::<f32>()?;
/// assert_eq!(g, [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]); // the tie: only the first 2
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn max_pool2x2(x: &Tensor) -> candle_core::Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if !h.is_multiple_of(2) || !w.is_multiple_of(2) {
        candle_core::bail!("max_pool2x2 needs an even height and width, got {h}x{w}")
    }
    let on_cpu = crate::kernels::cpu_kernels_enabled()
        && x.device().is_cpu()
        && matches!(x.dtype(), DType::F32 | DType::F64);
    if on_cpu {
        // One pass each way (crate::kernels): the same values and gradients as below.
        return x
            .contiguous()?
            .apply_op1(crate::kernels::MaxPool2x2Op { dims: (n, c, h, w) });
    }
    let (oh, ow) = (h / 2, w / 2);
    // [n, c, oh, ow, 4]: each window's four values in row-major order.
    let windows = x
        .reshape((n, c, oh, 2, ow, 2))?
        .permute((0, 1, 2, 4, 3, 5))?
        .reshape((n, c, oh, ow, 4))?;
    let max = windows.detach().max_keepdim(D::Minus1)?;
    let is_max = windows.detach().broadcast_eq(&max)?.to_dtype(x.dtype())?;
    // Keep only the first maximum of each window: a position counts if it is a maximum and no
    // earlier position was.
    let mut first = Vec::with_capacity(4);
    let mut none_yet = Tensor::ones((n, c, oh, ow, 1), x.dtype(), x.device())?;
    for k in 0..4 {
        let here = is_max.narrow(D::Minus1, k, 1)?;
        let chosen = (&here * &none_yet)?;
        none_yet = (&none_yet - &chosen)?;
        first.push(chosen);
    }
    let first = Tensor::cat(&first, D::Minus1)?.to_dtype(DType::U8)?;
    // Select (not multiply: an infinite value times 0 would be NaN) the first maximum; its
    // gradient is the window's.
    let selected = first
        .where_cond(&windows, &windows.zeros_like()?)?
        .sum(D::Minus1)?;
    // A window with a NaN has no position equal to its maximum: its value is the maximum (NaN),
    // with no gradient.
    let has_max = first.max(D::Minus1)?;
    has_max.where_cond(&selected, &max.squeeze(D::Minus1)?)
}
