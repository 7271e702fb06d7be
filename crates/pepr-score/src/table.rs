//! Loading a CSV table of runs into pools.
//!
//! One row per run; named columns give the model, the performance and the
//! resources; an optional group column splits the table into pools (one per
//! value, in order of first appearance). Every other column is kept as a text
//! attribute of the run. Errors name the missing column, or the row and column
//! of a cell that is not a number.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use smallscale_io::CsvTable;

use crate::errors::{PeprError, Result, invalid_parameter};
use crate::pool::{ModelRun, Pool};

/// Which columns of a table mean what (unchecked builder).
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::{TableParams, load_pools_from_reader};
///
/// let csv = "model,acc,energy,dataset\n\
///            a,0.8,1.0,x\n\
///            b,0.9,3.0,x\n\
///            a,0.7,2.0,y\n";
/// let spec = TableParams::new("acc", ["energy"]).with_group_by("dataset").check()?;
/// let pools = load_pools_from_reader(csv.as_bytes(), "runs.csv", &spec)?;
/// assert_eq!(pools.len(), 2);
/// assert_eq!(pools[0].label(), "x");
/// assert_eq!(pools[0].pepr("energy")?.best().name, "a");
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableParams {
    model: String,
    performance: String,
    resources: Vec<String>,
    group_by: Option<String>,
    performance_scale: f64,
}

impl TableParams {
    /// Performance column and resource columns; model column `model`, no
    /// grouping, performance scale 1.
    pub fn new<I, S>(performance: impl Into<String>, resources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            model: "model".to_string(),
            performance: performance.into(),
            resources: resources.into_iter().map(Into::into).collect(),
            group_by: None,
            performance_scale: 1.0,
        }
    }

    /// The column holding model names (default `model`).
    pub fn with_model_column(mut self, column: impl Into<String>) -> Self {
        self.model = column.into();
        self
    }

    /// Splits the table into one pool per value of `column`.
    pub fn with_group_by(mut self, column: impl Into<String>) -> Self {
        self.group_by = Some(column.into());
        self
    }

    /// Multiplies performances by `scale` (e.g. `0.01` for percentages).
    pub fn with_performance_scale(mut self, scale: f64) -> Self {
        self.performance_scale = scale;
        self
    }

    /// Validates the specification.
    ///
    /// # Errors
    ///
    /// [`PeprError::InvalidParameter`] for empty column names, a repeated
    /// resource column, or a scale that is not finite and positive.
    pub fn check(self) -> Result<TableValidParams> {
        let mut names = vec![
            ("model column", &self.model),
            ("performance column", &self.performance),
        ];
        if let Some(g) = &self.group_by {
            names.push(("group column", g));
        }
        for r in &self.resources {
            names.push(("resource column", r));
        }
        for (what, name) in names {
            if name.is_empty() {
                return Err(invalid_parameter(
                    what,
                    "\"\"",
                    "column names must not be empty",
                ));
            }
        }
        for (i, r) in self.resources.iter().enumerate() {
            if self.resources[..i].contains(r) {
                return Err(invalid_parameter(
                    "resource column",
                    r,
                    "each resource column may be listed once",
                ));
            }
        }
        if !(self.performance_scale.is_finite() && self.performance_scale > 0.0) {
            return Err(invalid_parameter(
                "performance scale",
                self.performance_scale,
                "must be finite and > 0 (0.01 turns percentages into fractions)",
            ));
        }
        Ok(TableValidParams(self))
    }
}

/// A validated [`TableParams`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableValidParams(TableParams);

impl TableValidParams {
    /// The model column.
    pub fn model_column(&self) -> &str {
        &self.0.model
    }
    /// The performance column.
    pub fn performance_column(&self) -> &str {
        &self.0.performance
    }
    /// The resource columns.
    pub fn resource_columns(&self) -> &[String] {
        &self.0.resources
    }
    /// The group column, if any.
    pub fn group_column(&self) -> Option<&str> {
        self.0.group_by.as_deref()
    }
    /// The performance scale.
    pub fn performance_scale(&self) -> f64 {
        self.0.performance_scale
    }
}

/// Loads a CSV file of runs into pools (see [`load_pools_from_reader`]).
///
/// # Errors
///
/// [`PeprError::Table`] if the file cannot be opened, else as [`load_pools_from_reader`].
pub fn load_pools(path: impl AsRef<Path>, spec: &TableValidParams) -> Result<Vec<Pool>> {
    pools_from_table(CsvTable::open(path)?, spec)
}

/// Reads a CSV table (with a header row) into pools, one per group value in
/// order of first appearance, or a single pool labelled `source_name` without
/// grouping.
///
/// # Errors
///
/// [`PeprError::Table`] for a missing or repeated column, a cell that is not a
/// number (naming row, line and column) or malformed CSV, and the validation
/// errors of [`Pool::new`] (performance out of range, duplicate model within a
/// group, ...).
pub fn load_pools_from_reader<R: Read>(
    reader: R,
    source_name: &str,
    spec: &TableValidParams,
) -> Result<Vec<Pool>> {
    pools_from_table(CsvTable::from_reader(reader, source_name)?, spec)
}

fn pools_from_table<R: Read>(mut table: CsvTable<R>, spec: &TableValidParams) -> Result<Vec<Pool>> {
    let spec = &spec.0;
    let source_name = table.source_name().to_string();
    let model_i = table.column(&spec.model, None)?;
    let perf_i = table.column(&spec.performance, None)?;
    let res_i = spec
        .resources
        .iter()
        .map(|r| table.column(r, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let group_i = spec
        .group_by
        .as_deref()
        .map(|g| table.column(g, None))
        .transpose()?;
    let header = table.header().to_vec();

    let mut groups: Vec<(String, Vec<ModelRun>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for record in table.rows() {
        let record = record?;
        let name = record.text(model_i).to_string();
        let mut run = ModelRun::new(name, record.number(perf_i)? * spec.performance_scale);
        for &i in &res_i {
            run.resources.insert(header[i].clone(), record.number(i)?);
        }
        for (i, h) in header.iter().enumerate() {
            if i != model_i && i != perf_i && !res_i.contains(&i) {
                run.attributes.insert(h.clone(), record.text(i).to_string());
            }
        }
        let group = match group_i {
            Some(g) => record.text(g).to_string(),
            None => source_name.clone(),
        };
        let k = *index.entry(group.clone()).or_insert_with(|| {
            groups.push((group, Vec::new()));
            groups.len() - 1
        });
        groups[k].1.push(run);
    }
    if groups.is_empty() {
        return Err(PeprError::Empty {
            what: format!("table {source_name}"),
            hint: "it has a header but no rows; add one row per run".to_string(),
        });
    }
    groups
        .into_iter()
        .map(|(label, runs)| Pool::new(label, runs))
        .collect()
}
