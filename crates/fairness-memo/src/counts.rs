//! One pass over the row columns that counts (or sums the weights of) every
//! `(group, label, prediction)` cell; all metrics derive from these cell masses.

use ndarray::Array3;
use serde::Serialize;

use crate::distribution::JointDistribution;
use crate::errors::{FairnessError, Result, check_finite_nonnegative};

/// Rows per thread below which counting stays on one thread.
const ROWS_PER_THREAD: usize = 1 << 20;

/// Cell masses `[group, label, prediction]` of a set of rows: counts, or summed weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellCounts {
    #[serde(serialize_with = "serialize_masses")]
    masses: Array3<f64>,
    n_rows: usize,
}

fn serialize_masses<S: serde::Serializer>(
    a: &Array3<f64>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(2))?;
    for g in a.outer_iter() {
        let rows: Vec<Vec<f64>> = g.rows().into_iter().map(|r| r.to_vec()).collect();
        seq.serialize_element(&rows)?;
    }
    seq.end()
}

impl CellCounts {
    /// Counts the rows of each cell in one pass (split over threads for large inputs),
    /// validating lengths, group codes (0 unprotected, 1 protected) and class indices `< n_classes`.
    ///
    /// ```
    /// use smallscale_fairness_memo::CellCounts;
    /// let counts = CellCounts::from_columns(&[0, 0, 1, 1], &[0, 1, 1, 1], &[0, 1, 0, 1], 2).unwrap();
    /// assert_eq!(counts.masses()[[1, 1, 0]], 1.0);
    /// assert_eq!(counts.n_rows(), 4);
    /// ```
    pub fn from_columns(
        groups: &[u8],
        labels: &[u32],
        predictions: &[u32],
        n_classes: usize,
    ) -> Result<Self> {
        check_columns(groups, labels, predictions, n_classes)?;
        let k = n_classes;
        let n = groups.len();
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(n / ROWS_PER_THREAD)
            .max(1);
        let counts = if threads == 1 {
            count_chunk(groups, labels, predictions, k, 0)?
        } else {
            let chunk = n.div_ceil(threads);
            let results: Vec<Result<Vec<u64>>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (lo, hi) = (t * chunk, ((t + 1) * chunk).min(n));
                        let (g, y, p) = (&groups[lo..hi], &labels[lo..hi], &predictions[lo..hi]);
                        scope.spawn(move || count_chunk(g, y, p, k, lo))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| Ok(vec![0; 2 * k * k])))
                    .collect()
            });
            let mut total = vec![0u64; 2 * k * k];
            for r in results {
                for (t, c) in total.iter_mut().zip(r?) {
                    *t += c;
                }
            }
            total
        };
        let masses =
            Array3::from_shape_vec((2, k, k), counts.into_iter().map(|c| c as f64).collect())
                .map_err(|_| FairnessError::NoRows { input: "groups" })?;
        Ok(Self { masses, n_rows: n })
    }

    /// Sums the weights of the rows of each cell (weights finite and `>= 0`).
    pub fn from_weighted_columns(
        groups: &[u8],
        labels: &[u32],
        predictions: &[u32],
        weights: &[f64],
        n_classes: usize,
    ) -> Result<Self> {
        check_columns(groups, labels, predictions, n_classes)?;
        if weights.len() != groups.len() {
            return Err(FairnessError::LengthMismatch {
                input: "weights",
                found: weights.len(),
                expected: groups.len(),
            });
        }
        check_finite_nonnegative("weights", weights)?;
        let k = n_classes;
        let mut masses = Array3::zeros((2, k, k));
        for i in 0..groups.len() {
            let (a, y, p) = (
                groups[i] as usize,
                labels[i] as usize,
                predictions[i] as usize,
            );
            if a > 1 || y >= k || p >= k {
                return Err(range_error(groups, labels, predictions, k, i));
            }
            masses[[a, y, p]] += weights[i];
        }
        Ok(Self {
            masses,
            n_rows: groups.len(),
        })
    }

    /// The masses, indexed `[group, label, prediction]`.
    pub fn masses(&self) -> &Array3<f64> {
        &self.masses
    }

    /// The number of rows counted.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.masses.dim().1
    }

    /// The normalized joint distribution (errors if a group is empty).
    pub fn distribution(&self) -> Result<JointDistribution> {
        JointDistribution::from_masses(self.masses.clone())
    }
}

fn check_columns(
    groups: &[u8],
    labels: &[u32],
    predictions: &[u32],
    n_classes: usize,
) -> Result<()> {
    if n_classes < 2 {
        return Err(FairnessError::TooFewClasses {
            input: "n_classes",
            n_classes,
        });
    }
    if labels.len() != groups.len() {
        return Err(FairnessError::LengthMismatch {
            input: "labels",
            found: labels.len(),
            expected: groups.len(),
        });
    }
    if predictions.len() != groups.len() {
        return Err(FairnessError::LengthMismatch {
            input: "predictions",
            found: predictions.len(),
            expected: groups.len(),
        });
    }
    if groups.is_empty() {
        return Err(FairnessError::NoRows { input: "groups" });
    }
    Ok(())
}

fn range_error(
    groups: &[u8],
    labels: &[u32],
    predictions: &[u32],
    k: usize,
    row: usize,
) -> FairnessError {
    if groups[row] > 1 {
        FairnessError::GroupCodeOutOfRange {
            row,
            value: groups[row],
        }
    } else if labels[row] as usize >= k {
        FairnessError::ClassOutOfRange {
            input: "labels",
            row,
            value: labels[row] as usize,
            n_classes: k,
        }
    } else {
        FairnessError::ClassOutOfRange {
            input: "predictions",
            row,
            value: predictions[row] as usize,
            n_classes: k,
        }
    }
}

/// Counts one chunk into four interleaved histograms (breaks store-to-load dependencies
/// when consecutive rows hit the same cell), then sums them. `offset` is the chunk's first row.
fn count_chunk(
    groups: &[u8],
    labels: &[u32],
    predictions: &[u32],
    k: usize,
    offset: usize,
) -> Result<Vec<u64>> {
    let cells = 2 * k * k;
    let mut hist = vec![0u64; 4 * cells];
    let n = groups.len();
    let mut bad = false;
    let index = |i: usize| -> (usize, bool) {
        let (a, y, p) = (
            groups[i] as usize,
            labels[i] as usize,
            predictions[i] as usize,
        );
        let out_of_range = (a > 1) | (y >= k) | (p >= k);
        ((a * k + y) * k + p, out_of_range)
    };
    let quads = n / 4;
    for q in 0..quads {
        let i = 4 * q;
        let (c0, b0) = index(i);
        let (c1, b1) = index(i + 1);
        let (c2, b2) = index(i + 2);
        let (c3, b3) = index(i + 3);
        if b0 | b1 | b2 | b3 {
            bad = true;
            break;
        }
        hist[c0] += 1;
        hist[cells + c1] += 1;
        hist[2 * cells + c2] += 1;
        hist[3 * cells + c3] += 1;
    }
    if !bad {
        for i in 4 * quads..n {
            let (c, b) = index(i);
            if b {
                bad = true;
                break;
            }
            hist[c] += 1;
        }
    }
    if bad {
        let row = (0..n).find(|&i| index(i).1).unwrap_or(0);
        let mut err = range_error(groups, labels, predictions, k, row);
        match &mut err {
            FairnessError::GroupCodeOutOfRange { row, .. }
            | FairnessError::ClassOutOfRange { row, .. } => *row += offset,
            _ => {}
        }
        return Err(err);
    }
    let (first, rest) = hist.split_at_mut(cells);
    for part in rest.chunks(cells) {
        for (f, v) in first.iter_mut().zip(part) {
            *f += v;
        }
    }
    hist.truncate(cells);
    Ok(hist)
}
