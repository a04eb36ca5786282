//! Stage kind `training_plots`: plots the step metrics of its input stages (training
//! curves and tool use over steps) and tabulates their wall-clock latency per sample.
//!
//! Outputs under the stage folder:
//! - `training_curves.{png,svg}`: one panel per name in `curves`, one line per input stage;
//! - `tool_use_curves.{png,svg}`: the same for `tool_use_curves`;
//! - `latency.md`: mean `latency_ms` per input stage (rows) and dataset (columns), read
//!   from the stages' `results.parquet`.
//!
//! These are kept out of the spec's `reports:` tables on purpose: latency is wall-clock
//! time, so it differs between runs and machines, and the committed tables that
//! `assay report --check` compares must be deterministic.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use assay_report::MetricPoint;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{Diagnostic, Experiment};
use crate::stage::{StageContext, StageRunner};

/// Parameters of the `training_plots` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingPlotsParams {
    /// Step metrics drawn in `training_curves`, as the training stages log them. Names
    /// that no input logged are skipped. Default `[reward/mean, kl, entropy]`.
    #[serde(default = "default_curves")]
    pub curves: Vec<String>,
    /// Step metrics drawn in `tool_use_curves`. Default `[tool_calls_per_rollout, turns,
    /// tool_failure_rate]`.
    #[serde(default = "default_tool_use_curves")]
    pub tool_use_curves: Vec<String>,
    /// Result metric tabulated in `latency.md`, in milliseconds per sample. Default
    /// `latency_ms`.
    #[serde(default = "default_latency_metric")]
    pub latency_metric: String,
}

fn default_curves() -> Vec<String> {
    ["reward/mean", "kl", "entropy"].map(String::from).to_vec()
}

fn default_tool_use_curves() -> Vec<String> {
    ["tool_calls_per_rollout", "turns", "tool_failure_rate"].map(String::from).to_vec()
}

fn default_latency_metric() -> String {
    "latency_ms".to_string()
}

/// The `training_plots` stage kind.
pub struct TrainingPlots;

impl StageRunner for TrainingPlots {
    type Params = TrainingPlotsParams;
    const KIND: &'static str = "training_plots";
    const DESCRIPTION: &'static str = "plot the step metrics of the input stages and tabulate their latency per sample";

    fn validate(params: &TrainingPlotsParams, _spec: &Experiment) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        if params.curves.is_empty() && params.tool_use_curves.is_empty() {
            problems.push(Diagnostic::for_key("curves", "`curves` and `tool_use_curves` are both empty: name at least one step metric"));
        }
        problems
    }

    fn run(params: &TrainingPlotsParams, ctx: &mut StageContext) -> Result<()> {
        if ctx.inputs.is_empty() {
            anyhow::bail!("stage `{}` has no `inputs`: list the training and evaluate stages to plot", ctx.name);
        }
        std::fs::create_dir_all(&ctx.work_dir).with_context(|| format!("failed to create {}", ctx.work_dir.display()))?;

        // Gather the step metrics of every input.
        let mut points = Vec::new();
        for (stage, dir) in &ctx.inputs {
            for scalar in crate::run::scalars::read_scalars(dir)? {
                points.push(MetricPoint { stage: stage.clone(), step: scalar.step, name: scalar.name, value: scalar.value });
            }
        }

        // Draw the curves.
        let mut written = Vec::new();
        for (names, stem, title) in [
            (&params.curves, "training_curves", "training curves"),
            (&params.tool_use_curves, "tool_use_curves", "tool use over training steps"),
        ] {
            let paths = assay_report::plots::plot_training_curves(&points, names, title, &ctx.work_dir.join(stem))
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            if paths.is_empty() && !names.is_empty() {
                tracing::warn!(stage = ctx.name, curves = ?names, "no input stage logged these step metrics; plot skipped");
            }
            written.extend(paths);
        }

        // Tabulate the latency.
        let mut latency: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for (stage, dir) in &ctx.inputs {
            let path = dir.join("results.parquet");
            if path.is_file() {
                let rows = overall_rows(&path, &params.latency_metric)?;
                if !rows.is_empty() {
                    latency.insert(stage.clone(), rows);
                }
            }
        }
        let table = latency_table(&latency, &params.latency_metric);
        let table_path = ctx.work_dir.join("latency.md");
        std::fs::write(&table_path, table).with_context(|| format!("failed to write {}", table_path.display()))?;
        tracing::info!(stage = ctx.name, plots = written.len(), latency_stages = latency.len(), "wrote training plots and latency table");
        Ok(())
    }
}

/// Values of `metric` on the whole-dataset subset (`all`) of a `results.parquet`, by dataset.
fn overall_rows(path: &Path, metric: &str) -> Result<BTreeMap<String, f64>> {
    let frame = assay_report::read_results(path).map_err(|error| anyhow::anyhow!("{error}"))?;
    let column = |name: &str| frame.column(name).and_then(|c| c.str().cloned()).with_context(|| format!("`{name}` column in {}", path.display()));
    let (datasets, subsets, metrics) = (column("dataset")?, column("subset")?, column("metric")?);
    let values = frame.column("value").and_then(|c| c.f64().cloned()).with_context(|| format!("`value` column in {}", path.display()))?;
    let mut rows = BTreeMap::new();
    for i in 0..frame.height() {
        if metrics.get(i) == Some(metric) && subsets.get(i) == Some("all") {
            if let (Some(dataset), Some(value)) = (datasets.get(i), values.get(i)) {
                rows.insert(dataset.to_string(), value);
            }
        }
    }
    Ok(rows)
}

/// Renders stage -> dataset -> value as a Markdown table with one decimal.
pub fn latency_table(latency: &BTreeMap<String, BTreeMap<String, f64>>, metric: &str) -> String {
    let mut datasets: Vec<&str> = latency.values().flat_map(|row| row.keys().map(String::as_str)).collect();
    datasets.sort_unstable();
    datasets.dedup();
    let mut text = format!("### Wall-clock `{metric}` per sample (differs between runs and machines)\n\n| Stage |");
    for dataset in &datasets {
        let _ = write!(text, " {dataset} |");
    }
    text.push_str("\n| :--- |");
    text.push_str(&" ---: |".repeat(datasets.len()));
    text.push('\n');
    for (stage, row) in latency {
        let _ = write!(text, "| {stage} |");
        for dataset in &datasets {
            match row.get(*dataset) {
                Some(value) => {
                    let _ = write!(text, " {value:.1} |");
                }
                None => text.push_str(" – |"),
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_table_fills_missing_cells() {
        let mut latency = BTreeMap::new();
        latency.insert("eval_a".to_string(), BTreeMap::from([("all".to_string(), 12.345), ("rafdb".to_string(), 10.0)]));
        latency.insert("eval_b".to_string(), BTreeMap::from([("all".to_string(), 3.0)]));
        let table = latency_table(&latency, "latency_ms");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[2], "| Stage | all | rafdb |");
        assert_eq!(lines[3], "| :--- | ---: | ---: |");
        assert_eq!(lines[4], "| eval_a | 12.3 | 10.0 |");
        assert_eq!(lines[5], "| eval_b | 3.0 | – |");
    }
}
