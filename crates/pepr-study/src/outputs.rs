//! The files a finished study writes into its directory, each atomically:
//!
//! ```text
//! results.json    StudyResults: parameters, data, every run with its resources
//! study.csv       the table in the authors' column layout (crate::table)
//! findings.json   StudyAnalysis: scores per experiment, findings without and with pretraining
//! report.md       the Markdown report
//! accuracy_vs_parameters.svg, pepr_per_model.svg, pretrained_vs_scratch.svg   (feature `plots`)
//! ```

use std::path::{Path, PathBuf};

use smallscale_osc_reg::write_json;

use crate::errors::Result;
use crate::report::{StudyAnalysis, analyze_study_csv, markdown_report};
use crate::study::StudyResults;
use crate::table::write_study_csv;

/// The results file.
pub const RESULTS_FILE: &str = "results.json";
/// The table.
pub const TABLE_FILE: &str = "study.csv";
/// The analysis.
pub const FINDINGS_FILE: &str = "findings.json";
/// The report.
pub const REPORT_FILE: &str = "report.md";

/// What [`write_study_outputs`] wrote.
#[derive(Debug, Clone)]
pub struct StudyOutputs {
    /// The analysis of the table as written.
    pub analysis: StudyAnalysis,
    /// Every file written.
    pub files: Vec<PathBuf>,
}

/// Writes the results, the table, the analysis (of the table read back), the plots and the
/// report into `out_dir`.
///
/// # Errors
///
/// A write, the analysis or a plot failed.
pub fn write_study_outputs(results: &StudyResults, out_dir: &Path) -> Result<StudyOutputs> {
    let mut files = Vec::new();
    let results_path = out_dir.join(RESULTS_FILE);
    write_json(&results_path, results)?;
    files.push(results_path);
    let table = out_dir.join(TABLE_FILE);
    write_study_csv(&table, results)?;
    files.push(table.clone());
    let analysis = analyze_study_csv(&table)?;
    let findings = out_dir.join(FINDINGS_FILE);
    write_json(&findings, &analysis)?;
    files.push(findings);
    let plots = write_plots(results, out_dir, &table)?;
    let names: Vec<String> = plots
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .collect();
    files.extend(plots);
    let report = out_dir.join(REPORT_FILE);
    smallscale_io::write_atomic(
        &report,
        markdown_report(results, &analysis, &names).as_bytes(),
    )?;
    files.push(report);
    Ok(StudyOutputs { analysis, files })
}

#[cfg(feature = "plots")]
fn write_plots(results: &StudyResults, out_dir: &Path, table: &Path) -> Result<Vec<PathBuf>> {
    let pools = crate::report::pools_of(table)?;
    let a = out_dir.join("accuracy_vs_parameters.svg");
    crate::plots::accuracy_vs_parameters(&a, results, &pools)?;
    let b = out_dir.join("pepr_per_model.svg");
    crate::plots::pepr_per_model(&b, results, &pools)?;
    let c = out_dir.join("pretrained_vs_scratch.svg");
    crate::plots::pretrained_vs_scratch(&c, results)?;
    Ok(vec![a, b, c])
}

#[cfg(not(feature = "plots"))]
fn write_plots(_: &StudyResults, _: &Path, _: &Path) -> Result<Vec<PathBuf>> {
    Ok(Vec::new())
}
