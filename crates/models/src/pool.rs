//! Max pooling with a correct gradient.

use candle_core::Tensor;

/// 2x2 max pooling with stride 2 over `[batch, channels, h, w]` (`h` and `w` even), written as two
/// max reductions so that the gradient is exact.
///
/// candle 0.11's `max_pool2d` backward multiplies the upstream gradient by the *fraction* of
/// maxima in each window instead of dividing by their count, so with a unique maximum in a 2x2
/// window the gradient reaching the input is a quarter of the true one (compounding over stacked
/// pools). This function avoids that op. Ties (e.g. several zeros after a ReLU) each receive the
/// full gradient, as with candle's `max` reduction.
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// let x = Var::new(&[[[[1.0f32, 5.0], [2.0, 3.0]]]], &Device::Cpu)?;
/// let y = smallscale_models::max_pool2x2(x.as_tensor())?;
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, [5.0]);
/// let g = y.sum_all()?.backward()?;
/// assert_eq!(g.get(&x).unwrap().flatten_all()?.to_vec1::<f32>()?, [0.0, 1.0, 0.0, 0.0]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn max_pool2x2(x: &Tensor) -> candle_core::Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if !h.is_multiple_of(2) || !w.is_multiple_of(2) {
        candle_core::bail!("max_pool2x2 needs an even height and width, got {h}x{w}")
    }
    x.reshape((n, c, h, w / 2, 2))?
        .max(4)?
        .reshape((n, c, h / 2, 2, w / 2))?
        .max(3)
}
