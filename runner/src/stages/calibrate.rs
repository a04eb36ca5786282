//! The `calibrate` stage kind: conformal risk control thresholds or confidence
//! calibration metrics for a score table, with no model involved.
//!
//! Outputs in the stage folder: `calibration.json` (the whole report), `thresholds.csv`,
//! `risk_coverage.csv` (the held-out test split's curve) or `reliability.csv` (for the
//! confidence method), and headline scalars at step 0 in `scalars.jsonl`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use assay_stats::calibration::{calibrate, CalibrationReport, CalibrationSettings, Method};
use assay_stats::table::ScoreTable;
use polars::prelude::{DataType, ParquetReader, SerReader};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::run::ScalarLog;
use crate::spec::{self, Diagnostic, Experiment};
use crate::stage::{StageContext, StageRunner};

/// Calibration method of the `calibrate` stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Conformal risk control: bounds the expected rate of harmful-and-executed items.
    #[default]
    Crc,
    /// Conformal risk control weighted by `target_frequencies / calibration
    /// frequencies` of the `category` column, for a shift in the category mix.
    WeightedCrc,
    /// Learn-then-Test: bounds the harm rate among executed items with probability
    /// `1 - delta`.
    LearnThenTest,
    /// Confidence calibration metrics of `score` (a confidence) against `label`.
    Confidence,
}

impl From<CalibrationMethod> for Method {
    fn from(method: CalibrationMethod) -> Self {
        match method {
            CalibrationMethod::Crc => Method::Crc,
            CalibrationMethod::WeightedCrc => Method::WeightedCrc,
            CalibrationMethod::LearnThenTest => Method::LearnThenTest,
            CalibrationMethod::Confidence => Method::Confidence,
        }
    }
}

/// A file in the output folder of an earlier stage listed in `inputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageFile {
    /// Name of the earlier stage; it must also be listed in this stage's `inputs`.
    pub stage: String,
    /// Path of the file inside that stage's output folder, e.g. `scores.parquet`.
    pub file: PathBuf,
}

/// Parameters of the `calibrate` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrateParams {
    /// Calibration method. Default: `crc`.
    #[serde(default)]
    pub method: CalibrationMethod,
    /// Score table from a dataset under `data` whose `path` is a CSV or Parquet file
    /// with columns `score`, `harm` (or `label`) and optional `category`, `trajectory`
    /// and `weight`. Set this or `scores_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores_dataset: Option<String>,
    /// Score table written by an earlier stage. Set this or `scores_dataset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores_from: Option<StageFile>,
    /// Target risk in harm units, in (0, `bound`). Default: 0.1.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Upper bound `B` of the harm loss, above 0; 1 for binary harm. Default: 1.
    #[serde(default = "default_bound")]
    pub bound: f64,
    /// Learn-then-Test failure probability, in (0, 1). Default: 0.1.
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// Learn-then-Test candidate thresholds, strictly ascending and fixed before seeing
    /// the data. Default: the 1st to 100th percentiles of the calibration scores, which
    /// makes the guarantee approximate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<f64>>,
    /// Relative frequency of each category in the target distribution, for
    /// `weighted_crc`, e.g. `{app: 0.7, os: 0.3}`. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_frequencies: Option<BTreeMap<String, f64>>,
    /// Fraction of items (of trajectories, when the table has a `trajectory` column)
    /// used for calibration in the held-out evaluation, in (0, 1). Default: 0.5.
    #[serde(default = "default_calibration_fraction")]
    pub calibration_fraction: f64,
    /// Random calibration/test splits of the validity check; 0 skips it. Default: 200.
    #[serde(default = "default_n_splits")]
    pub n_splits: usize,
    /// Bootstrap resamples of the test metrics; 0 skips the intervals. Default: 1000.
    #[serde(default = "default_bootstrap_resamples")]
    pub bootstrap_resamples: usize,
    /// Equal-width bins of the confidence metrics, at least 1. Default: 15.
    #[serde(default = "default_bin_count")]
    pub bin_count: usize,
}

fn default_alpha() -> f64 {
    0.1
}
fn default_bound() -> f64 {
    1.0
}
fn default_delta() -> f64 {
    0.1
}
fn default_calibration_fraction() -> f64 {
    0.5
}
fn default_n_splits() -> usize {
    200
}
fn default_bootstrap_resamples() -> usize {
    1000
}
fn default_bin_count() -> usize {
    assay_stats::ece::DEFAULT_BIN_COUNT
}

impl CalibrateParams {
    /// Settings for [`calibrate`], with the stage's seed.
    pub fn settings(&self, seed: u64) -> CalibrationSettings {
        CalibrationSettings {
            method: self.method.into(),
            alpha: self.alpha,
            bound: self.bound,
            delta: self.delta,
            candidates: self.candidates.clone(),
            target_frequencies: self.target_frequencies.clone(),
            calibration_fraction: self.calibration_fraction,
            split_count: self.n_splits,
            bootstrap_resamples: self.bootstrap_resamples,
            confidence_level: 0.95,
            bin_count: self.bin_count,
            seed,
        }
    }
}

/// The `calibrate` stage kind.
pub struct CalibrateStage;

impl StageRunner for CalibrateStage {
    type Params = CalibrateParams;
    const KIND: &'static str = "calibrate";
    const DESCRIPTION: &'static str =
        "Conformal risk control thresholds or confidence calibration metrics for a score table";

    fn validate(params: &CalibrateParams, spec: &Experiment) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        match (&params.scores_dataset, &params.scores_from) {
            (Some(_), Some(_)) => problems.push(
                Diagnostic::for_key("scores_dataset", "set only one of `scores_dataset` and `scores_from`")
                    .with_help("remove one of the two keys"),
            ),
            (None, None) => problems.push(
                Diagnostic::for_key("scores_dataset", "missing score table: set `scores_dataset` or `scores_from`")
                    .with_help("e.g. `scores_dataset: guardian_scores` with `data.guardian_scores.path: scores.csv`"),
            ),
            (Some(name), None) => problems.extend(spec::dataset(spec, "scores_dataset", name)),
            (None, Some(source)) => {
                if !spec.stages.iter().any(|stage| stage.name == source.stage) {
                    problems.push(Diagnostic::for_key(
                        "scores_from.stage",
                        format!("stage `{}` not found in `stages`", source.stage),
                    ));
                }
            }
        }
        problems.extend(spec::positive("bound", params.bound));
        if !(params.alpha > 0.0 && params.alpha < params.bound) {
            problems.push(Diagnostic::for_key(
                "alpha",
                format!("`alpha` must be above 0 and below `bound` ({}), found {}", params.bound, params.alpha),
            ));
        }
        problems.extend(spec::open_unit_interval("delta", params.delta));
        problems.extend(spec::open_unit_interval("calibration_fraction", params.calibration_fraction));
        problems.extend(spec::at_least("bin_count", params.bin_count, 1));
        if params.method == CalibrationMethod::WeightedCrc && params.target_frequencies.is_none() {
            problems.push(
                Diagnostic::for_key("target_frequencies", "`weighted_crc` needs `target_frequencies`")
                    .with_help("give the target share of each category, e.g. `target_frequencies: {app: 0.7, os: 0.3}`"),
            );
        }
        problems
    }

    fn run(params: &CalibrateParams, ctx: &mut StageContext) -> anyhow::Result<()> {
        // Locate and read the score table.
        let path = match (&params.scores_dataset, &params.scores_from) {
            (Some(name), _) => ctx
                .spec
                .data
                .get(name)
                .and_then(|dataset| dataset.path.clone())
                .with_context(|| format!("dataset `{name}` has no `path`: set `data.{name}.path` to the score file"))?,
            (None, Some(source)) => {
                let folder = ctx.inputs.get(&source.stage).with_context(|| {
                    format!("stage `{}` is not in this stage's `inputs`: add it to `inputs`", source.stage)
                })?;
                folder.join(&source.file)
            }
            (None, None) => anyhow::bail!("missing score table: set `scores_dataset` or `scores_from`"),
        };
        let table = read_score_table(&path, params.bound)?;
        tracing::info!(stage = ctx.name, items = table.len(), path = %path.display(), "calibrating");

        // Calibrate and write the outputs.
        let report = calibrate(&table, &params.settings(ctx.seed))
            .with_context(|| format!("calibration of `{}` failed", path.display()))?;
        write_outputs(&report, &ctx.work_dir)?;
        write_results(&report, ctx)?;
        write_plots(&table, params, &ctx.work_dir)?;
        Ok(())
    }
}

/// Draws `risk_coverage.{png,svg}` (harm rate among executed items against the fraction
/// executed, executing the lowest scores first) or, for the confidence method,
/// `reliability.{png,svg}`, over the whole score table.
fn write_plots(table: &ScoreTable, params: &CalibrateParams, work_dir: &Path) -> anyhow::Result<()> {
    let plotted = if params.method == CalibrationMethod::Confidence {
        assay_report::plots::plot_reliability_diagram(
            &table.scores,
            &table.harms,
            params.bin_count,
            "Reliability diagram",
            &work_dir.join("reliability"),
        )
    } else {
        // A lower risk score means more confident to execute, and a harmless item counts
        // as correct, so the selective-prediction curve is the risk-coverage curve of CRC.
        let confidence: Vec<f64> = table.scores.iter().map(|score| -score).collect();
        let correct: Vec<f64> = table.harms.iter().map(|harm| 1.0 - harm / params.bound).collect();
        assay_report::plots::plot_risk_coverage(
            &confidence,
            &correct,
            "Harm among executed items against coverage",
            &work_dir.join("risk_coverage"),
        )
    };
    plotted.map(|_| ()).map_err(|error| anyhow::anyhow!("failed to draw the calibration plot: {error}"))
}

/// Writes the headline numbers as tidy `results.parquet` rows (dataset `scores`), so
/// report tables can show them; undefined values are stored as missing, never as 0.
fn write_results(report: &CalibrationReport, ctx: &StageContext) -> anyhow::Result<()> {
    let run = ctx.run_dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let mut results = assay_report::ResultsWriter::new(&run, ctx.name);
    let dataset = "scores";
    if let Some(all) = report.thresholds.as_ref().and_then(|thresholds| thresholds.get("all")) {
        results.record_subset(dataset, "all", "threshold", all.tau.filter(|tau| tau.is_finite()));
    }
    if let Some(evaluation) = &report.evaluation {
        let metrics = &evaluation.metrics;
        results.record(dataset, "executed_harm_rate", metrics.executed_harm_rate);
        results.record(dataset, "coverage", metrics.coverage);
        results.record_subset(dataset, "all", "over_intervention_rate", metrics.over_intervention_rate);
        results.record_subset(dataset, "all", "intervention_precision", metrics.intervention_precision);
        results.record_subset(dataset, "all", "intervention_recall", metrics.intervention_recall);
    }
    if let Some(validity) = &report.validity {
        results.record(dataset, "validity_mean_executed_harm", validity.mean_executed_harm_rate);
    }
    if let Some(confidence) = &report.confidence {
        results.record(dataset, "expected_calibration_error", confidence.expected_calibration_error);
    }
    results.write(&ctx.work_dir).map_err(|error| anyhow::anyhow!("failed to write results.parquet: {error}"))?;
    Ok(())
}

/// Reads a score table from CSV (`.csv`) or Parquet (`.parquet`, `.pq`).
///
/// # Errors
/// An unknown extension, an unreadable file, or any [`ScoreTable`] check.
pub fn read_score_table(path: &Path, bound: f64) -> anyhow::Result<ScoreTable> {
    let extension = path.extension().and_then(|extension| extension.to_str()).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "csv" => Ok(ScoreTable::from_csv_path(path, bound)?),
        "parquet" | "pq" => read_parquet_table(path, bound),
        _ => anyhow::bail!(
            "score file `{}` has an unknown extension: use a `.csv` or `.parquet` file",
            path.display()
        ),
    }
}

fn read_parquet_table(path: &Path, bound: f64) -> anyhow::Result<ScoreTable> {
    let file = std::fs::File::open(path).with_context(|| format!("failed to open score file `{}`", path.display()))?;
    let frame = ParquetReader::new(file)
        .finish()
        .with_context(|| format!("failed to read Parquet score file `{}`", path.display()))?;
    let names: Vec<String> = frame.get_column_names().iter().map(|name| format!("`{name}`")).collect();
    let has = |name: &str| frame.column(name).is_ok();

    let score_name = "score";
    let harm_name = if has("harm") { "harm" } else { "label" };
    for required in [score_name, harm_name] {
        if !has(required) {
            let missing = if required == "label" { "harm" } else { required };
            anyhow::bail!("score table has no `{missing}` column (found: {}): add a `{missing}` column", names.join(", "));
        }
    }
    let numbers = |name: &str| -> anyhow::Result<Vec<f64>> {
        let column = frame.column(name)?.cast(&DataType::Float64)?;
        let values = column.f64()?;
        (0..values.len())
            .map(|index| {
                values
                    .get(index)
                    .with_context(|| format!("row {}: `{name}` is null: fill or remove the row", index + 1))
            })
            .collect()
    };
    let strings = |name: &str| -> anyhow::Result<Option<Vec<String>>> {
        if !has(name) {
            return Ok(None);
        }
        let column = frame.column(name)?.cast(&DataType::String)?;
        let texts = column.str()?;
        let values = (0..texts.len()).map(|index| texts.get(index).unwrap_or("").to_string()).collect();
        Ok(Some(values))
    };
    let weights = if has("weight") { Some(numbers("weight")?) } else { None };
    Ok(ScoreTable::from_columns(
        numbers(score_name)?,
        numbers(harm_name)?,
        strings("category")?,
        strings("trajectory")?,
        weights,
        bound,
    )?)
}

/// Writes `calibration.json`, the CSV tables and the headline scalars.
fn write_outputs(report: &CalibrationReport, work_dir: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(work_dir.join("calibration.json"), json).context("failed to write calibration.json")?;

    let mut scalars = ScalarLog::open(work_dir)?;
    if let Some(thresholds) = &report.thresholds {
        let mut csv = String::from("category,decision,tau,min_calibration_size\n");
        for (category, threshold) in thresholds {
            let tau = threshold.tau.map(|tau| tau.to_string()).unwrap_or_default();
            let size = threshold.min_calibration_size.map(|size| size.to_string()).unwrap_or_default();
            csv.push_str(&format!("{category},{},{tau},{size}\n", threshold.decision));
        }
        std::fs::write(work_dir.join("thresholds.csv"), csv).context("failed to write thresholds.csv")?;
        if let Some(tau) = thresholds.get("all").and_then(|threshold| threshold.tau) {
            scalars.log(0, "threshold", tau)?;
        }
    }
    if let Some(evaluation) = &report.evaluation {
        let mut csv = String::from("threshold,coverage,executed_harm_rate,conditional_harm_rate\n");
        for point in &evaluation.risk_coverage {
            csv.push_str(&format!(
                "{},{},{},{}\n",
                point.threshold, point.coverage, point.executed_harm_rate, point.conditional_harm_rate
            ));
        }
        std::fs::write(work_dir.join("risk_coverage.csv"), csv).context("failed to write risk_coverage.csv")?;
        let metrics = &evaluation.metrics;
        scalars.log(0, "executed_harm_rate", metrics.executed_harm_rate)?;
        scalars.log(0, "coverage", metrics.coverage)?;
        for (name, value) in [
            ("conditional_harm_rate", metrics.conditional_harm_rate),
            ("over_intervention_rate", metrics.over_intervention_rate),
            ("intervention_precision", metrics.intervention_precision),
            ("intervention_recall", metrics.intervention_recall),
            ("intervention_f1", metrics.intervention_f1),
        ] {
            if let Some(value) = value {
                scalars.log(0, name, value)?;
            }
        }
    }
    if let Some(validity) = &report.validity {
        scalars.log(0, "validity_mean_executed_harm_rate", validity.mean_executed_harm_rate)?;
        scalars.log(0, "validity_standard_error", validity.standard_error)?;
    }
    if let Some(confidence) = &report.confidence {
        let mut csv = String::from("lower,upper,mean_confidence,accuracy,count\n");
        for bin in &confidence.reliability_diagram {
            csv.push_str(&format!(
                "{},{},{},{},{}\n",
                bin.lower, bin.upper, bin.mean_confidence, bin.accuracy, bin.count
            ));
        }
        std::fs::write(work_dir.join("reliability.csv"), csv).context("failed to write reliability.csv")?;
        scalars.log(0, "expected_calibration_error", confidence.expected_calibration_error)?;
        scalars.log(0, "brier_score", confidence.brier_score)?;
        scalars.log(0, "accuracy", confidence.accuracy)?;
        if let Some(auroc) = confidence.auroc {
            scalars.log(0, "auroc", auroc)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{Column, DataFrame, ParquetWriter};

    fn write_parquet(path: &Path, columns: Vec<Column>) {
        let mut frame = DataFrame::new_infer_height(columns).unwrap();
        let file = std::fs::File::create(path).unwrap();
        ParquetWriter::new(file).finish(&mut frame).unwrap();
    }

    #[test]
    fn parquet_table_with_integer_labels() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("scores.parquet");
        write_parquet(
            &path,
            vec![
                Column::new("score".into(), vec![0.2f64, 0.7, 0.9]),
                Column::new("label".into(), vec![0i64, 1, 1]),
                Column::new("category".into(), vec!["app", "os", "app"]),
            ],
        );
        let table = read_score_table(&path, 1.0).unwrap();
        assert_eq!(table.scores, vec![0.2, 0.7, 0.9]);
        assert_eq!(table.harms, vec![0.0, 1.0, 1.0]);
        assert_eq!(table.categories.unwrap(), vec!["app", "os", "app"]);
        assert_eq!(table.trajectories, None);
    }

    #[test]
    fn parquet_missing_column_lists_found() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("scores.parquet");
        write_parquet(&path, vec![Column::new("risk".into(), vec![0.2f64]), Column::new("harm".into(), vec![0.0f64])]);
        let message = format!("{:#}", read_score_table(&path, 1.0).unwrap_err());
        assert!(message.contains("no `score` column (found: `risk`, `harm`)"), "{message}");
    }

    #[test]
    fn parquet_harm_outside_bound() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("scores.parquet");
        write_parquet(&path, vec![Column::new("score".into(), vec![0.2f64]), Column::new("harm".into(), vec![3.0f64])]);
        let message = format!("{:#}", read_score_table(&path, 1.0).unwrap_err());
        assert!(message.contains("row 1: `harm` = 3 is outside [0, 1]"), "{message}");
    }

    #[test]
    fn unknown_extension_is_an_error() {
        let message = format!("{:#}", read_score_table(Path::new("scores.txt"), 1.0).unwrap_err());
        assert!(message.contains("use a `.csv` or `.parquet` file"), "{message}");
    }
}
