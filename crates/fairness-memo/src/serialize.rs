//! Serde helpers that write ndarray arrays as nested sequences (ndarray's own serde feature is off).

use ndarray::{Array1, Array2};
use serde::Serializer;
use serde::ser::SerializeSeq;

pub(crate) fn array1<S: Serializer>(a: &Array1<f64>, s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(a.len()))?;
    for v in a.iter() {
        seq.serialize_element(v)?;
    }
    seq.end()
}

pub(crate) fn array2<S: Serializer>(a: &Array2<f64>, s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(a.nrows()))?;
    for row in a.rows() {
        seq.serialize_element(&row.to_vec())?;
    }
    seq.end()
}
