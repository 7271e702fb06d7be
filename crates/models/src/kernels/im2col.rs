//! The geometry of a 2-D convolution, and the patch-matrix (im2col) transforms between an NCHW
//! batch and the columns a matrix product consumes.

use rayon::prelude::*;

use super::element::Element;

/// Sizes of a stride/padding 2-D convolution of `x: [n, c, h, w]` with `weight: [o, c, kh, kw]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub padding: usize,
    pub ho: usize,
    pub wo: usize,
}

impl ConvGeometry {
    /// The geometry, or a message saying why the shapes cannot be convolved.
    pub fn new(
        x: (usize, usize, usize, usize),
        weight: (usize, usize, usize, usize),
        stride: usize,
        padding: usize,
    ) -> Result<Self, String> {
        let (n, c, h, w) = x;
        let (o, cw, kh, kw) = weight;
        if stride == 0 {
            return Err("convolution stride must be at least 1".into());
        }
        if c != cw {
            return Err(format!(
                "input has {c} channels but the weight expects {cw} (weight shape [{o}, {cw}, {kh}, {kw}])"
            ));
        }
        if [n, c, h, w, o].contains(&0) {
            return Err(format!(
                "the CPU convolution kernel needs non-empty shapes, got input [{n}, {c}, {h}, {w}] \
                 and {o} output channels"
            ));
        }
        let padded = |side: usize| padding.checked_mul(2).and_then(|p| p.checked_add(side));
        let (Some(ph), Some(pw)) = (padded(h), padded(w)) else {
            return Err(format!("padding {padding} is too large"));
        };
        if kh == 0 || kw == 0 || ph < kh || pw < kw {
            return Err(format!(
                "a {kh}x{kw} kernel does not fit a {h}x{w} input with padding {padding}"
            ));
        }
        Ok(Self {
            n,
            c,
            h,
            w,
            o,
            kh,
            kw,
            stride,
            padding,
            ho: (ph - kh) / stride + 1,
            wo: (pw - kw) / stride + 1,
        })
    }

    /// Rows of the patch matrix: `c * kh * kw`.
    pub fn patch_len(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Output pixels per sample and channel: `ho * wo`.
    pub fn out_pixels(&self) -> usize {
        self.ho * self.wo
    }

    /// Input pixels per sample and channel: `h * w`.
    pub fn in_pixels(&self) -> usize {
        self.h * self.w
    }

    /// Whether the patch matrix of one sample is the sample itself (1x1 kernel, stride 1, no
    /// padding).
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.padding == 0
    }

    /// For kernel column `kj`, the output columns `[lo, hi)` whose input column
    /// `ox * stride + kj - padding` lies inside the image.
    fn valid_columns(&self, kj: usize) -> (usize, usize) {
        let lo = self
            .padding
            .saturating_sub(kj)
            .div_ceil(self.stride)
            .min(self.wo);
        // ox * stride + kj < w + padding  <=>  ox < (w + padding - kj) / stride (rounded up)
        let hi = (self.w + self.padding)
            .saturating_sub(kj)
            .div_ceil(self.stride)
            .min(self.wo);
        (lo, hi.max(lo))
    }

    /// The input row of output row `oy` under kernel row `ki`, if inside the image.
    fn input_row(&self, oy: usize, ki: usize) -> Option<usize> {
        (oy * self.stride + ki)
            .checked_sub(self.padding)
            .filter(|&iy| iy < self.h)
    }
}

/// Writes the patch matrix of samples `first..first + count` of `x` into `cols`, row-major
/// `[c * kh * kw, count * ho * wo]`: row `(ci, ki, kj)`, column `(sample, oy, ox)`.
pub(crate) fn im2col<T: Element>(
    x: &[T],
    g: &ConvGeometry,
    first: usize,
    count: usize,
    cols: &mut [T],
    parallel: bool,
) {
    let p = g.out_pixels();
    let width = count * p;
    let cols = &mut cols[..g.patch_len() * width];
    let fill_row = |(r, row): (usize, &mut [T])| {
        let ci = r / (g.kh * g.kw);
        let ki = (r / g.kw) % g.kh;
        let kj = r % g.kw;
        let (lo, hi) = g.valid_columns(kj);
        for s in 0..count {
            let plane = &x[((first + s) * g.c + ci) * g.in_pixels()..][..g.in_pixels()];
            let out = &mut row[s * p..(s + 1) * p];
            if g.stride == 1 && g.wo == g.w {
                shifted_plane(plane, out, g, ki, kj, (lo, hi));
                continue;
            }
            for oy in 0..g.ho {
                let orow = &mut out[oy * g.wo..(oy + 1) * g.wo];
                let Some(iy) = g.input_row(oy, ki) else {
                    orow.fill(T::zero());
                    continue;
                };
                let xrow = &plane[iy * g.w..(iy + 1) * g.w];
                orow[..lo].fill(T::zero());
                orow[hi..].fill(T::zero());
                if lo >= hi {
                    // No column of this kernel offset lands inside the image.
                } else if g.stride == 1 {
                    let start = lo + kj - g.padding;
                    orow[lo..hi].copy_from_slice(&xrow[start..start + (hi - lo)]);
                } else {
                    for (ox, v) in orow[lo..hi].iter_mut().enumerate() {
                        *v = xrow[(ox + lo) * g.stride + kj - g.padding];
                    }
                }
            }
        }
    };
    if parallel {
        cols.par_chunks_mut(width).enumerate().for_each(fill_row);
    } else {
        cols.chunks_mut(width).enumerate().for_each(fill_row);
    }
}

/// One patch-matrix row of one sample for stride 1 and an output as wide as the input (the
/// "same" padding of 3x3 convolutions): the output is the input plane shifted by
/// `(ki - padding, kj - padding)`, so it is one contiguous copy, then the rows outside the image
/// and the columns that wrapped around a row edge are zeroed.
fn shifted_plane<T: Element>(
    plane: &[T],
    out: &mut [T],
    g: &ConvGeometry,
    ki: usize,
    kj: usize,
    (lo, hi): (usize, usize),
) {
    let w = g.w;
    // Output rows whose input row is inside the image.
    let oy_lo = g.padding.saturating_sub(ki).min(g.ho);
    let oy_hi = (g.h + g.padding).saturating_sub(ki).min(g.ho).max(oy_lo);
    out[..oy_lo * w].fill(T::zero());
    out[oy_hi * w..].fill(T::zero());
    if oy_lo == oy_hi {
        return;
    }
    // out[d] = plane[d + offset] for d in the valid rows, clipped to the plane.
    let offset = (ki * w + kj) as isize - (g.padding * w + g.padding) as isize;
    let (rows_lo, rows_hi) = ((oy_lo * w) as isize, (oy_hi * w) as isize);
    let d_lo = rows_lo.max(-offset).min(rows_hi);
    let d_hi = rows_hi.min(plane.len() as isize - offset).max(d_lo);
    let (d_lo, d_hi) = (d_lo as usize, d_hi as usize);
    if d_lo < d_hi {
        let src = (d_lo as isize + offset) as usize;
        out[d_lo..d_hi].copy_from_slice(&plane[src..src + (d_hi - d_lo)]);
    }
    out[oy_lo * w..d_lo].fill(T::zero());
    out[d_hi..oy_hi * w].fill(T::zero());
    for orow in out[oy_lo * w..oy_hi * w].chunks_mut(w) {
        orow[..lo].fill(T::zero());
        orow[hi..].fill(T::zero());
    }
}

/// Adds the patch-matrix gradient `cols` (layout of [`im2col`], `count` samples) back onto the
/// image gradient `dx` of those samples (`[count, c, h, w]`, overwritten).
pub(crate) fn col2im<T: Element>(
    cols: &[T],
    g: &ConvGeometry,
    count: usize,
    dx: &mut [T],
    parallel: bool,
) {
    let p = g.out_pixels();
    let width = count * p;
    let fill_plane = |(plane, dxp): (usize, &mut [T])| {
        dxp.fill(T::zero());
        let s = plane / g.c;
        let ci = plane % g.c;
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let r = (ci * g.kh + ki) * g.kw + kj;
                let src = &cols[r * width + s * p..][..p];
                let (lo, hi) = g.valid_columns(kj);
                for oy in 0..g.ho {
                    let Some(iy) = g.input_row(oy, ki) else {
                        continue;
                    };
                    let srow = &src[oy * g.wo..(oy + 1) * g.wo];
                    let drow = &mut dxp[iy * g.w..(iy + 1) * g.w];
                    if lo >= hi {
                        continue;
                    }
                    if g.stride == 1 {
                        let start = lo + kj - g.padding;
                        for (d, &v) in drow[start..start + (hi - lo)].iter_mut().zip(&srow[lo..hi])
                        {
                            *d += v;
                        }
                    } else {
                        for (ox, &v) in srow.iter().enumerate().take(hi).skip(lo) {
                            let ix = ox * g.stride + kj - g.padding;
                            drow[ix] += v;
                        }
                    }
                }
            }
        }
    };
    let dx = &mut dx[..count * g.c * g.in_pixels()];
    if parallel {
        dx.par_chunks_mut(g.in_pixels())
            .enumerate()
            .for_each(fill_plane);
    } else {
        dx.chunks_mut(g.in_pixels())
            .enumerate()
            .for_each(fill_plane);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition of a patch-matrix entry.
    fn patch_entry(x: &[f64], g: &ConvGeometry, s: usize, r: usize, oy: usize, ox: usize) -> f64 {
        let ci = r / (g.kh * g.kw);
        let ki = (r / g.kw) % g.kh;
        let kj = r % g.kw;
        let iy = (oy * g.stride + ki) as isize - g.padding as isize;
        let ix = (ox * g.stride + kj) as isize - g.padding as isize;
        if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
            0.0
        } else {
            x[((s * g.c + ci) * g.h + iy as usize) * g.w + ix as usize]
        }
    }

    #[test]
    fn patch_matrix_matches_its_definition_and_col2im_is_its_adjoint() {
        for (h, w, k, stride, padding) in [
            (5, 7, 3, 1, 1),
            (6, 6, 3, 2, 1),
            (7, 5, 1, 2, 0),
            (4, 4, 3, 3, 2),
            (3, 8, 2, 1, 0),
            // kernels wider than the padded image minus one: clipped column ranges
            (1, 1, 5, 1, 2),
            (2, 2, 6, 1, 2),
            (2, 3, 5, 2, 2),
        ] {
            let g = ConvGeometry::new((3, 2, h, w), (4, 2, k, k), stride, padding).unwrap();
            let x: Vec<f64> = (0..3 * 2 * h * w)
                .map(|i| (i as f64 * 0.37).sin())
                .collect();
            let (first, count) = (1, 2);
            let width = count * g.out_pixels();
            let mut cols = vec![f64::NAN; g.patch_len() * width];
            im2col(&x, &g, first, count, &mut cols, true);
            for r in 0..g.patch_len() {
                for s in 0..count {
                    for oy in 0..g.ho {
                        for ox in 0..g.wo {
                            let got = cols[r * width + s * g.out_pixels() + oy * g.wo + ox];
                            assert_eq!(got, patch_entry(&x, &g, first + s, r, oy, ox));
                        }
                    }
                }
            }
            // <im2col(x), c> == <x, col2im(c)> for every c: col2im is the adjoint.
            let c: Vec<f64> = (0..cols.len()).map(|i| (i as f64 * 0.11).cos()).collect();
            let mut back = vec![f64::NAN; count * 2 * h * w];
            col2im(&c, &g, count, &mut back, false);
            let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
            let xs = &x[first * 2 * h * w..(first + count) * 2 * h * w];
            let rhs: f64 = xs.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
        }
    }

    #[test]
    fn geometry_rejects_bad_shapes() {
        assert!(ConvGeometry::new((1, 3, 4, 4), (2, 2, 3, 3), 1, 1).is_err());
        assert!(ConvGeometry::new((1, 3, 2, 2), (2, 3, 5, 5), 1, 1).is_err());
        assert!(ConvGeometry::new((1, 3, 4, 4), (2, 3, 3, 3), 0, 1).is_err());
        assert!(ConvGeometry::new((1, 3, 0, 4), (2, 3, 1, 1), 1, 1).is_err());
        assert!(ConvGeometry::new((1, 3, 4, 4), (0, 3, 1, 1), 1, 0).is_err());
        assert!(ConvGeometry::new((1, 3, 4, 4), (2, 3, 3, 3), 1, usize::MAX).is_err());
        let g = ConvGeometry::new((1, 3, 32, 32), (8, 3, 3, 3), 2, 1).unwrap();
        assert_eq!((g.ho, g.wo), (16, 16));
    }
}
