//! Tidy results, per-sample predictions and training metrics as Parquet files.
//!
//! A stage writes `stages/<name>/results.parquet` with one row per
//! (run, stage, dataset, subset, metric, value) and, where a metric needs them,
//! `stages/<name>/predictions.parquet` with one row per evaluated sample. Training stages
//! write the run's `metrics.parquet` (stage, step, name, value).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{ReportError, Result};

/// File name of a stage's tidy results.
pub const RESULTS_FILE: &str = "results.parquet";
/// File name of a stage's per-sample predictions.
pub const PREDICTIONS_FILE: &str = "predictions.parquet";
/// File name of a run's training metrics.
pub const METRICS_FILE: &str = "metrics.parquet";
/// Subset name meaning the whole dataset.
pub const WHOLE_DATASET: &str = "all";

/// One evaluated number.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// Run id (one run is one seed).
    pub run: String,
    /// Stage name.
    pub stage: String,
    /// Evaluation dataset.
    pub dataset: String,
    /// Subset of the dataset; [`WHOLE_DATASET`] for all of it.
    pub subset: String,
    /// Metric name, e.g. `accuracy`.
    pub metric: String,
    /// Value in the metric's own units. `None` marks an undefined metric (for example AUROC
    /// on a subset with one class), and tables print it as a dash.
    pub value: Option<f64>,
}

/// Collects the results of one stage and writes them to `results.parquet`.
#[derive(Debug, Clone)]
pub struct ResultsWriter {
    run: String,
    stage: String,
    rows: Vec<ResultRow>,
}

impl ResultsWriter {
    /// Starts an empty writer for one stage of one run.
    pub fn new(run: impl Into<String>, stage: impl Into<String>) -> Self {
        Self { run: run.into(), stage: stage.into(), rows: Vec::new() }
    }

    /// Records a whole-dataset value. NaN is stored as missing.
    pub fn record(&mut self, dataset: &str, metric: &str, value: f64) {
        self.record_subset(dataset, WHOLE_DATASET, metric, Some(value));
    }

    /// Records a value for a subset; `None` or NaN marks the metric undefined there.
    pub fn record_subset(&mut self, dataset: &str, subset: &str, metric: &str, value: Option<f64>) {
        self.rows.push(ResultRow {
            run: self.run.clone(),
            stage: self.stage.clone(),
            dataset: dataset.to_owned(),
            subset: subset.to_owned(),
            metric: metric.to_owned(),
            value: value.filter(|v| !v.is_nan()),
        });
    }

    /// Rows recorded so far.
    pub fn rows(&self) -> &[ResultRow] {
        &self.rows
    }

    /// Writes `<stage_dir>/results.parquet` and returns its path.
    ///
    /// # Errors
    /// Fails when the folder cannot be created or the file cannot be written.
    pub fn write(&self, stage_dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(stage_dir).map_err(|e| ReportError::io(stage_dir, e))?;
        let path = stage_dir.join(RESULTS_FILE);
        write_results(&path, &self.rows)?;
        Ok(path)
    }
}

/// Builds the tidy results frame: columns run, stage, dataset, subset, metric (string)
/// and value (f64, null when undefined).
///
/// # Errors
/// Fails only if Polars rejects the columns.
pub fn results_frame(rows: &[ResultRow]) -> Result<DataFrame> {
    let column = |f: fn(&ResultRow) -> &str| -> Vec<&str> { rows.iter().map(f).collect() };
    let values: Vec<Option<f64>> = rows.iter().map(|r| r.value).collect();
    df!(
        "run" => column(|r| &r.run),
        "stage" => column(|r| &r.stage),
        "dataset" => column(|r| &r.dataset),
        "subset" => column(|r| &r.subset),
        "metric" => column(|r| &r.metric),
        "value" => values,
    )
    .map_err(|e| ReportError::polars("results", e))
}

/// Writes rows as a results Parquet file.
///
/// # Errors
/// Fails when the file cannot be created or written.
pub fn write_results(path: &Path, rows: &[ResultRow]) -> Result<()> {
    let mut frame = results_frame(rows)?;
    write_parquet(path, &mut frame)
}

/// Reads one results file and checks its columns.
///
/// # Errors
/// Fails when the file is missing, unreadable, or lacks a column of the tidy schema.
pub fn read_results(path: &Path) -> Result<DataFrame> {
    let frame = read_parquet(path)?;
    for name in ["run", "stage", "dataset", "subset", "metric"] {
        require_column(&frame, path, name, &DataType::String, "a string column")?;
    }
    let value = frame
        .column("value")
        .ok()
        .and_then(|c| c.cast(&DataType::Float64).ok())
        .ok_or_else(|| column_error(path, "value", "a float column"))?;
    let mut frame = frame.select(["run", "stage", "dataset", "subset", "metric"]).map_err(|e| ReportError::polars(path, e))?;
    frame.with_column(value).map_err(|e| ReportError::polars(path, e))?;
    Ok(frame)
}

/// Collects the per-sample predictions of one (run, stage, dataset) and writes
/// `predictions.parquet`.
///
/// Every metric-specific column (`correct`, `confidence`, `y_true`, `y_pred`, ...) is a
/// float column: store booleans as 0 or 1 and class labels as their index. A sample that
/// lacks a column gets a null there.
#[derive(Debug, Clone)]
pub struct PredictionsWriter {
    run: String,
    stage: String,
    datasets: Vec<String>,
    sample_ids: Vec<String>,
    columns: BTreeMap<String, Vec<Option<f64>>>,
}

impl PredictionsWriter {
    /// Starts an empty writer for one stage of one run.
    pub fn new(run: impl Into<String>, stage: impl Into<String>) -> Self {
        Self {
            run: run.into(),
            stage: stage.into(),
            datasets: Vec::new(),
            sample_ids: Vec::new(),
            columns: BTreeMap::new(),
        }
    }

    /// Appends one sample with its named values.
    ///
    /// # Errors
    /// Rejects the reserved names run, stage, dataset and sample_id as value columns.
    pub fn push(&mut self, dataset: &str, sample_id: &str, values: &[(&str, f64)]) -> Result<()> {
        let height = self.sample_ids.len();
        for (name, _) in values {
            if ["run", "stage", "dataset", "sample_id"].contains(name) {
                return Err(ReportError::Invalid(format!(
                    "prediction column `{name}` is reserved for the key columns: rename it"
                )));
            }
        }
        self.datasets.push(dataset.to_owned());
        self.sample_ids.push(sample_id.to_owned());
        for (name, value) in values {
            let column = self.columns.entry((*name).to_owned()).or_insert_with(|| vec![None; height]);
            column.push(Some(*value).filter(|v| !v.is_nan()));
        }
        // Columns this sample did not mention get a null so all columns keep one length.
        for column in self.columns.values_mut() {
            column.resize(height + 1, None);
        }
        Ok(())
    }

    /// Builds the predictions frame.
    ///
    /// # Errors
    /// Fails only if Polars rejects the columns.
    pub fn frame(&self) -> Result<DataFrame> {
        let height = self.sample_ids.len();
        let mut columns = vec![
            Column::new("run".into(), vec![self.run.as_str(); height]),
            Column::new("stage".into(), vec![self.stage.as_str(); height]),
            Column::new("dataset".into(), &self.datasets),
            Column::new("sample_id".into(), &self.sample_ids),
        ];
        for (name, values) in &self.columns {
            columns.push(Column::new(name.as_str().into(), values));
        }
        DataFrame::new(height, columns).map_err(|e| ReportError::polars("predictions", e))
    }

    /// Writes `<stage_dir>/predictions.parquet` and returns its path.
    ///
    /// # Errors
    /// Fails when the folder cannot be created or the file cannot be written.
    pub fn write(&self, stage_dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(stage_dir).map_err(|e| ReportError::io(stage_dir, e))?;
        let path = stage_dir.join(PREDICTIONS_FILE);
        write_parquet(&path, &mut self.frame()?)?;
        Ok(path)
    }
}

/// Reads one predictions file, checks its key columns and casts the others to f64.
///
/// # Errors
/// Fails when the file is unreadable, lacks a key column, or has a value column that
/// cannot be cast to float.
pub fn read_predictions(path: &Path) -> Result<DataFrame> {
    let frame = read_parquet(path)?;
    for name in ["run", "stage", "dataset", "sample_id"] {
        require_column(&frame, path, name, &DataType::String, "a string column")?;
    }
    let mut columns = Vec::with_capacity(frame.width());
    for column in frame.columns() {
        let name = column.name().as_str();
        if ["run", "stage", "dataset", "sample_id", "subset"].contains(&name) {
            columns.push(column.clone());
        } else {
            let cast = column
                .cast(&DataType::Float64)
                .map_err(|_| column_error(path, name, "a numeric or boolean column"))?;
            columns.push(cast);
        }
    }
    DataFrame::new(frame.height(), columns).map_err(|e| ReportError::polars(path, e))
}

/// One training metric value at one optimiser step.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// Stage name.
    pub stage: String,
    /// Optimiser step, from 0.
    pub step: u64,
    /// Metric name, e.g. `reward`, `kl`, `entropy`.
    pub name: String,
    /// Value at that step.
    pub value: f64,
}

/// Writes training metrics (columns stage, step, name, value).
///
/// # Errors
/// Fails when the file cannot be written.
pub fn write_metrics(path: &Path, points: &[MetricPoint]) -> Result<()> {
    let mut frame = df!(
        "stage" => points.iter().map(|p| p.stage.as_str()).collect::<Vec<_>>(),
        "step" => points.iter().map(|p| p.step).collect::<Vec<_>>(),
        "name" => points.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        "value" => points.iter().map(|p| p.value).collect::<Vec<_>>(),
    )
    .map_err(|e| ReportError::polars(path, e))?;
    write_parquet(path, &mut frame)
}

/// Reads training metrics back as points.
///
/// # Errors
/// Fails when the file is unreadable or a column is missing or mistyped.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricPoint>> {
    let frame = read_parquet(path)?;
    let cast = |name: &str, dtype: &DataType, expected: &'static str| -> Result<Column> {
        frame
            .column(name)
            .ok()
            .and_then(|c| c.cast(dtype).ok())
            .ok_or_else(|| column_error(path, name, expected))
    };
    let stage = cast("stage", &DataType::String, "a string column")?;
    let step = cast("step", &DataType::UInt64, "an integer column")?;
    let name = cast("name", &DataType::String, "a string column")?;
    let value = cast("value", &DataType::Float64, "a float column")?;
    let polars_error = |e| ReportError::polars(path, e);
    let points = stage
        .str()
        .map_err(polars_error)?
        .iter()
        .zip(step.u64().map_err(polars_error)?.iter())
        .zip(name.str().map_err(polars_error)?.iter())
        .zip(value.f64().map_err(polars_error)?.iter())
        .filter_map(|(((stage, step), name), value)| {
            Some(MetricPoint { stage: stage?.to_owned(), step: step?, name: name?.to_owned(), value: value? })
        })
        .collect();
    Ok(points)
}

pub(crate) fn write_parquet(path: &Path, frame: &mut DataFrame) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
    }
    let file = File::create(path).map_err(|e| ReportError::io(path, e))?;
    ParquetWriter::new(file).finish(frame).map_err(|e| ReportError::polars(path, e))?;
    Ok(())
}

pub(crate) fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).map_err(|e| ReportError::io(path, e))?;
    ParquetReader::new(file).finish().map_err(|e| ReportError::polars(path, e))
}

fn require_column(frame: &DataFrame, path: &Path, name: &str, dtype: &DataType, expected: &'static str) -> Result<()> {
    match frame.column(name) {
        Ok(column) if column.dtype() == dtype => Ok(()),
        _ => Err(column_error(path, name, expected)),
    }
}

fn column_error(path: &Path, name: &str, expected: &'static str) -> ReportError {
    ReportError::Column { path: path.to_owned(), column: name.to_owned(), expected }
}
