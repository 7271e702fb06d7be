//! CIFAR-style augmentation: random crop after zero padding, and random horizontal flip.

use rand::Rng;

use crate::errors::{Result, invalid_data, invalid_parameter};
use crate::image::ImageShape;

/// Validated augmentation parameters.
///
/// Each image is padded with `padding` zeros on every side, a window of the original size is
/// cut at a uniformly random offset, and the result is mirrored left-right with probability
/// `flip_probability`. `padding = 0` and `flip_probability = 0` is the identity.
///
/// ```
/// use smallscale_datasets::AugmentParams;
/// let params = AugmentParams::cifar();
/// assert_eq!((params.padding(), params.flip_probability()), (4, 0.5));
/// assert!(AugmentParams::new(4, 1.5).is_err());
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentParams {
    padding: usize,
    flip_probability: f64,
    seed: u64,
}

impl AugmentParams {
    /// Creates parameters; `flip_probability` must lie in `[0, 1]`. The seed defaults to 0.
    pub fn new(padding: usize, flip_probability: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&flip_probability) {
            return Err(invalid_parameter(
                "flip_probability",
                format!("must lie in [0, 1], got {flip_probability}"),
            ));
        }
        Ok(Self {
            padding,
            flip_probability,
            seed: 0,
        })
    }

    /// The usual CIFAR recipe: padding 4, flip probability 0.5, seed 0.
    pub fn cifar() -> Self {
        Self {
            padding: 4,
            flip_probability: 0.5,
            seed: 0,
        }
    }

    /// Sets the seed from which the per-epoch random streams are derived.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Zero padding on each side, in pixels.
    pub fn padding(&self) -> usize {
        self.padding
    }

    /// Probability of a horizontal flip.
    pub fn flip_probability(&self) -> f64 {
        self.flip_probability
    }

    /// The seed of the augmentation randomness.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Augments one image from `source` into `target` (both `C x H x W`), drawing the crop
    /// offset and the flip from `rng`.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use smallscale_datasets::{AugmentParams, ImageShape};
    /// let shape = ImageShape::new(1, 2, 3);
    /// let source = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    /// let mut target = [0.0f32; 6];
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    /// AugmentParams::new(0, 1.0)?.apply(&source, shape, &mut rng, &mut target)?;
    /// assert_eq!(target, [3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
    /// # Ok::<(), smallscale_datasets::DatasetError>(())
    /// ```
    pub fn apply<T: Copy + Default, R: Rng + ?Sized>(
        &self,
        source: &[T],
        shape: ImageShape,
        rng: &mut R,
        target: &mut [T],
    ) -> Result<()> {
        let span = 2 * self.padding + 1;
        let offset_y = rng.random_range(0..span);
        let offset_x = rng.random_range(0..span);
        let flip = self.flip_probability > 0.0 && rng.random_bool(self.flip_probability);
        crop_with_zero_padding(source, shape, self.padding, offset_y, offset_x, target)?;
        if flip {
            flip_horizontal(target, shape)?;
        }
        Ok(())
    }
}

fn check_len(len: usize, shape: ImageShape, what: &str) -> Result<()> {
    if len != shape.values_per_image() {
        return Err(invalid_data(format!(
            "{what} holds {len} values, a {}x{}x{} image has {}",
            shape.channels,
            shape.height,
            shape.width,
            shape.values_per_image()
        )));
    }
    Ok(())
}

/// Mirrors one `C x H x W` image left-right, in place. Flipping twice is the identity.
///
/// ```
/// use smallscale_datasets::{ImageShape, augment::flip_horizontal};
/// let mut image = [1, 2, 3, 4];
/// flip_horizontal(&mut image, ImageShape::new(1, 2, 2))?;
/// assert_eq!(image, [2, 1, 4, 3]);
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn flip_horizontal<T>(image: &mut [T], shape: ImageShape) -> Result<()> {
    check_len(image.len(), shape, "image")?;
    if shape.width == 0 {
        return Ok(());
    }
    for row in image.chunks_exact_mut(shape.width) {
        row.reverse();
    }
    Ok(())
}

/// Cuts an `H x W` window at (`offset_y`, `offset_x`) out of `source` padded with `padding`
/// zeros (`T::default()`) on every side, writing it to `target`.
///
/// Offsets range over `0..=2 * padding`; offset `padding` on both axes returns the original.
pub fn crop_with_zero_padding<T: Copy + Default>(
    source: &[T],
    shape: ImageShape,
    padding: usize,
    offset_y: usize,
    offset_x: usize,
    target: &mut [T],
) -> Result<()> {
    check_len(source.len(), shape, "source image")?;
    check_len(target.len(), shape, "target image")?;
    if offset_y > 2 * padding || offset_x > 2 * padding {
        return Err(invalid_parameter(
            "offset",
            format!(
                "crop offsets ({offset_y}, {offset_x}) exceed 2 * padding = {}",
                2 * padding
            ),
        ));
    }
    let (h, w) = (shape.height, shape.width);
    let plane = shape.plane_len();
    // Target pixel (y, x) reads source pixel (y + offset_y - padding, x + offset_x - padding).
    // The valid target columns are those whose source column lies inside 0..w.
    let x_start = padding.saturating_sub(offset_x).min(w);
    let x_end = (w + padding).saturating_sub(offset_x).min(w).max(x_start);
    for c in 0..shape.channels {
        let src_plane = &source[c * plane..(c + 1) * plane];
        let dst_plane = &mut target[c * plane..(c + 1) * plane];
        for y in 0..h {
            let dst_row = &mut dst_plane[y * w..(y + 1) * w];
            let sy = (y + offset_y).checked_sub(padding).filter(|&sy| sy < h);
            match sy {
                Some(_) if x_end == x_start => dst_row.fill(T::default()),
                None => dst_row.fill(T::default()),
                Some(sy) => {
                    dst_row[..x_start].fill(T::default());
                    dst_row[x_end..].fill(T::default());
                    let sx_start = x_start + offset_x - padding;
                    let len = x_end - x_start;
                    dst_row[x_start..x_end]
                        .copy_from_slice(&src_plane[sy * w + sx_start..sy * w + sx_start + len]);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious per-pixel definition, to check the row-copy version against.
    fn naive_crop(src: &[i32], shape: ImageShape, pad: usize, oy: usize, ox: usize) -> Vec<i32> {
        let (h, w) = (shape.height as isize, shape.width as isize);
        let mut out = vec![0; src.len()];
        for c in 0..shape.channels as isize {
            for y in 0..h {
                for x in 0..w {
                    let sy = y + oy as isize - pad as isize;
                    let sx = x + ox as isize - pad as isize;
                    if (0..h).contains(&sy) && (0..w).contains(&sx) {
                        out[(c * h * w + y * w + x) as usize] =
                            src[(c * h * w + sy * w + sx) as usize];
                    }
                }
            }
        }
        out
    }

    #[test]
    fn crop_matches_naive_definition() {
        for (c, h, w) in [(1, 3, 4), (2, 5, 2), (3, 1, 1)] {
            let shape = ImageShape::new(c, h, w);
            let src: Vec<i32> = (1..=shape.values_per_image() as i32).collect();
            for pad in 0..7 {
                for oy in 0..=2 * pad {
                    for ox in 0..=2 * pad {
                        let mut dst = vec![-1; src.len()];
                        crop_with_zero_padding(&src, shape, pad, oy, ox, &mut dst).unwrap();
                        assert_eq!(dst, naive_crop(&src, shape, pad, oy, ox), "{pad} {oy} {ox}");
                    }
                }
            }
        }
    }

    #[test]
    fn bad_lengths_and_offsets_are_errors() {
        let shape = ImageShape::new(1, 2, 2);
        assert!(crop_with_zero_padding(&[0; 3], shape, 1, 0, 0, &mut [0; 4]).is_err());
        assert!(crop_with_zero_padding(&[0; 4], shape, 1, 3, 0, &mut [0; 4]).is_err());
        assert!(flip_horizontal(&mut [0; 5], shape).is_err());
    }
}
