//! A safe, bounds-checked front to the `gemm` crate's strided matrix product.

use gemm::Parallelism;

use super::element::Element;

/// A read-only `rows x cols` matrix view into a slice, with arbitrary row and column strides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatRef<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A row-major (C-contiguous) matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of this view (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Panics unless every element of the view lies inside `data` (with overflow-checked index
    /// arithmetic, and strides that fit the `isize` the product takes).
    fn check(&self, what: &str) {
        assert!(
            self.row_stride <= isize::MAX as usize && self.col_stride <= isize::MAX as usize,
            "{what} view has a stride beyond isize::MAX"
        );
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1)
                .checked_mul(self.row_stride)
                .zip((self.cols - 1).checked_mul(self.col_stride))
                .and_then(|(a, b)| a.checked_add(b));
            assert!(
                last.is_some_and(|l| l < self.data.len()),
                "{what} view reaches past its slice of {} elements",
                self.data.len()
            );
        }
    }
}

/// How many threads a product may use.
pub(crate) fn parallelism(threads: usize) -> Parallelism {
    if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// `dst = lhs @ rhs` (or `dst += lhs @ rhs` when `accumulate`), with `dst` row-major
/// `lhs.rows x rhs.cols`.
pub(crate) fn matmul<T: Element>(
    dst: &mut [T],
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions of a product differ");
    assert!(
        m.checked_mul(n).is_some_and(|len| dst.len() >= len),
        "product destination is too small"
    );
    lhs.check("left operand");
    rhs.check("right operand");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::zero());
        }
        return;
    }
    // SAFETY: every element the product reads or writes was checked above to lie inside its
    // slice; `dst` is borrowed mutably and so does not alias `lhs` or `rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism(threads),
        );
    }
}
