//! Loading the outputs of one or more run folders (`runs/<experiment>/<id>/`).

use std::path::{Path, PathBuf};

use polars::prelude::*;
use tracing::debug;

use crate::error::{ReportError, Result};
use crate::results::{
    read_metrics, read_predictions, read_results, MetricPoint, METRICS_FILE, PREDICTIONS_FILE, RESULTS_FILE,
};

/// The per-sample predictions of one stage of one run.
#[derive(Debug, Clone)]
pub struct StagePredictions {
    /// Run id from the file's `run` column (the folder name when the file is empty).
    pub run: String,
    /// Stage name (the folder name under `stages/`).
    pub stage: String,
    /// Frame with run, stage, dataset, sample_id and float value columns.
    pub frame: DataFrame,
}

/// The training metrics of one run.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    /// Run id (the run folder's name).
    pub run: String,
    /// Points in file order.
    pub points: Vec<MetricPoint>,
}

/// Everything a report reads from run folders.
#[derive(Debug, Clone)]
pub struct Runs {
    /// Tidy results of every stage of every run, stacked.
    pub results: DataFrame,
    /// Per-sample predictions, one entry per stage that wrote them.
    pub predictions: Vec<StagePredictions>,
    /// Training metrics, one entry per run that wrote them.
    pub metrics: Vec<RunMetrics>,
}

impl Runs {
    /// Wraps an in-memory results frame with no predictions or metrics.
    pub fn from_results(results: DataFrame) -> Self {
        Self { results, predictions: Vec::new(), metrics: Vec::new() }
    }

    /// Reads `stages/*/results.parquet`, `stages/*/predictions.parquet` and
    /// `metrics.parquet` of each run folder. Stages are read in folder-name order.
    ///
    /// # Errors
    /// Fails when a folder cannot be listed, a file cannot be read, or no results file
    /// exists under any of the folders.
    pub fn load(run_dirs: &[PathBuf]) -> Result<Self> {
        let mut results: Option<DataFrame> = None;
        let mut predictions = Vec::new();
        let mut metrics = Vec::new();
        for run_dir in run_dirs {
            if !run_dir.is_dir() {
                return Err(ReportError::Invalid(format!(
                    "run folder `{}` not found: pass a folder such as `runs/<experiment>/<id>`",
                    run_dir.display()
                )));
            }
            let run_name = run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();

            // Read every stage's results and predictions.
            for stage_dir in stage_dirs(run_dir)? {
                let stage_name = stage_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let results_path = stage_dir.join(RESULTS_FILE);
                if results_path.is_file() {
                    // A stage reused from the cache carries the id of the run that first
                    // wrote it, but its rows belong to the run folder they are read from.
                    let mut frame = read_results(&results_path)?;
                    relabel_run(&mut frame, &run_name, &results_path)?;
                    debug!(path = %results_path.display(), rows = frame.height(), "read results");
                    match &mut results {
                        Some(all) => {
                            all.vstack_mut_owned(frame).map_err(|e| ReportError::polars(&results_path, e))?;
                        }
                        None => results = Some(frame),
                    }
                }
                let predictions_path = stage_dir.join(PREDICTIONS_FILE);
                if predictions_path.is_file() {
                    let mut frame = read_predictions(&predictions_path)?;
                    relabel_run(&mut frame, &run_name, &predictions_path)?;
                    predictions.push(StagePredictions { run: run_name.clone(), stage: stage_name, frame });
                }
            }

            // Read the training metrics.
            let metrics_path = run_dir.join(METRICS_FILE);
            if metrics_path.is_file() {
                metrics.push(RunMetrics { run: run_name, points: read_metrics(&metrics_path)? });
            }
        }

        let mut results = results.ok_or_else(|| {
            ReportError::Invalid(format!(
                "no `stages/*/{RESULTS_FILE}` found under {}: run the experiment's evaluation stages first",
                run_dirs.iter().map(|d| format!("`{}`", d.display())).collect::<Vec<_>>().join(", ")
            ))
        })?;
        results.rechunk_mut();
        Ok(Self { results, predictions, metrics })
    }
}

/// Sets the `run` column of every row to `run` (the id of the folder read).
fn relabel_run(frame: &mut DataFrame, run: &str, path: &Path) -> Result<()> {
    let height = frame.height();
    frame.with_column(Column::new("run".into(), vec![run; height])).map_err(|e| ReportError::polars(path, e))?;
    Ok(())
}

fn stage_dirs(run_dir: &Path) -> Result<Vec<PathBuf>> {
    let stages = run_dir.join("stages");
    if !stages.is_dir() {
        return Ok(Vec::new());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&stages)
        .map_err(|e| ReportError::io(&stages, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}
