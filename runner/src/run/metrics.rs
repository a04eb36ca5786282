//! The run's `metrics.parquet`: step-level scalars of all stages in one tidy frame with
//! columns `stage` (string), `step` (u64), `name` (string) and `value` (f64).

use std::path::Path;

use polars::prelude::{Column, DataFrame, ParquetWriter};

use super::atomic::write_atomic;
use super::scalars::read_scalars;

/// File name of the run-level metrics table.
pub const METRICS_FILE: &str = "metrics.parquet";

/// Gathers the scalars of the given stages' finished outputs into `metrics.parquet`.
pub fn write_run_metrics(run_dir: &Path, stages: &[String]) -> anyhow::Result<()> {
    let mut stage_column = Vec::new();
    let mut step_column = Vec::new();
    let mut name_column = Vec::new();
    let mut value_column = Vec::new();
    for stage in stages {
        for scalar in read_scalars(&run_dir.join("stages").join(stage))? {
            stage_column.push(stage.clone());
            step_column.push(scalar.step);
            name_column.push(scalar.name);
            value_column.push(scalar.value);
        }
    }

    let height = stage_column.len();
    let mut frame = DataFrame::new(height, vec![
        Column::new("stage".into(), stage_column),
        Column::new("step".into(), step_column),
        Column::new("name".into(), name_column),
        Column::new("value".into(), value_column),
    ])
    .map_err(|error| anyhow::anyhow!("failed to build the metrics table: {error}"))?;

    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame)
        .map_err(|error| anyhow::anyhow!("failed to encode metrics.parquet: {error}"))?;
    write_atomic(&run_dir.join(METRICS_FILE), &bytes)
}
