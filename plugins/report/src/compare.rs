//! Per-metric comparison of two runs, with a paired bootstrap where per-sample rows exist.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use polars::prelude::*;

use crate::error::{ReportError, Result};
use crate::results::WHOLE_DATASET;
use crate::runs::Runs;
use crate::stats::{self, Interval};
use crate::table::format_number;

/// Settings of [`compare`].
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Paired bootstrap resamples. Default: 1000.
    pub resamples: usize,
    /// Coverage of the interval of the change. Default: 0.95.
    pub confidence: f64,
    /// Seed of the resampling generator (ChaCha8). Default: 0.
    pub seed: u64,
    /// Per-sample column of each metric in `predictions.parquet`. Default: empty, so a
    /// metric uses the column of its own name, and `accuracy` falls back to `correct`.
    pub per_sample_columns: BTreeMap<String, String>,
    /// Digits after the decimal point in the printed table. Default: 4.
    pub decimals: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self { resamples: 1000, confidence: 0.95, seed: 0, per_sample_columns: BTreeMap::new(), decimals: 4 }
    }
}

/// The change of one metric between run A and run B.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChange {
    /// Stage name.
    pub stage: String,
    /// Dataset.
    pub dataset: String,
    /// Subset.
    pub subset: String,
    /// Metric name.
    pub metric: String,
    /// Mean value over the runs of A; `None` when absent or undefined.
    pub a: Option<f64>,
    /// Mean value over the runs of B.
    pub b: Option<f64>,
    /// `b - a` when both exist.
    pub change: Option<f64>,
    /// Paired bootstrap interval of the per-sample change, when both sides have per-sample
    /// rows for this metric with shared sample ids.
    pub noise: Option<Interval>,
    /// Number of samples paired by `sample_id`.
    pub pairs: usize,
}

impl MetricChange {
    /// Returns whether the change exceeds the noise, meaning the paired interval excludes 0.
    /// `None` without per-sample rows.
    pub fn exceeds_noise(&self) -> Option<bool> {
        self.noise.map(|interval| interval.low > 0.0 || interval.high < 0.0)
    }
}

/// All metric changes between two runs, sorted by stage, dataset, subset and metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// One entry per (stage, dataset, subset, metric) present in either run.
    pub changes: Vec<MetricChange>,
    /// Digits after the decimal point when printed.
    pub decimals: usize,
}

impl Comparison {
    /// Renders the comparison as a Markdown table; absent values print as `–`.
    pub fn to_markdown(&self) -> String {
        let d = self.decimals;
        let mut out = String::from("| stage | dataset | subset | metric | A | B | Δ | interval of Δ | exceeds noise |\n");
        out.push_str("| :--- | :--- | :--- | :--- | ---: | ---: | ---: | ---: | :---: |\n");
        let dash = || "–".to_owned();
        for c in &self.changes {
            let signed = |v: f64| {
                let text = format_number(v, d);
                if text.starts_with('-') { text } else { format!("+{text}") }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.stage,
                c.dataset,
                c.subset,
                c.metric,
                c.a.map_or_else(dash, |v| format_number(v, d)),
                c.b.map_or_else(dash, |v| format_number(v, d)),
                c.change.map_or_else(dash, signed),
                c.noise.map_or_else(dash, |i| format!("[{}, {}]", format_number(i.low, d), format_number(i.high, d))),
                match c.exceeds_noise() {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "–",
                },
            );
        }
        out
    }
}

type Key = (String, String, String, String);

/// Compares every metric of run A with run B.
///
/// Values are averaged over the runs on each side. Where both sides have per-sample rows
/// for a whole-dataset metric, samples are paired by `sample_id` (averaged over runs) and a
/// paired bootstrap gives the interval of the change.
///
/// # Errors
/// Fails when a results frame lacks the tidy columns.
pub fn compare(a: &Runs, b: &Runs, options: &CompareOptions) -> Result<Comparison> {
    let a_values = metric_means(&a.results)?;
    let b_values = metric_means(&b.results)?;
    let mut keys: Vec<&Key> = a_values.keys().chain(b_values.keys()).collect();
    keys.sort();
    keys.dedup();

    let mut changes = Vec::with_capacity(keys.len());
    for key in keys {
        let (stage, dataset, subset, metric) = key;
        let va = a_values.get(key).copied().flatten();
        let vb = b_values.get(key).copied().flatten();
        let mut noise = None;
        let mut pairs = 0;
        if subset == WHOLE_DATASET {
            let columns = sample_columns(metric, options);
            let samples_a = per_sample(a, stage, dataset, &columns);
            let samples_b = per_sample(b, stage, dataset, &columns);
            let (xs, ys): (Vec<f64>, Vec<f64>) =
                samples_a.iter().filter_map(|(id, x)| Some((*x, *samples_b.get(id)?))).unzip();
            pairs = xs.len();
            noise = stats::paired_bootstrap(&xs, &ys, options.resamples, options.confidence, options.seed);
        }
        changes.push(MetricChange {
            stage: stage.clone(),
            dataset: dataset.clone(),
            subset: subset.clone(),
            metric: metric.clone(),
            a: va,
            b: vb,
            change: va.zip(vb).map(|(x, y)| y - x),
            noise,
            pairs,
        });
    }
    Ok(Comparison { changes, decimals: options.decimals })
}

fn sample_columns(metric: &str, options: &CompareOptions) -> Vec<String> {
    if let Some(column) = options.per_sample_columns.get(metric) {
        return vec![column.clone()];
    }
    let mut columns = vec![metric.to_owned()];
    if metric == "accuracy" {
        columns.push("correct".to_owned());
    }
    columns
}

/// Mean value of each (stage, dataset, subset, metric) over runs; `None` when undefined in
/// every run.
fn metric_means(frame: &DataFrame) -> Result<BTreeMap<Key, Option<f64>>> {
    let column = |name: &str| {
        frame
            .column(name)
            .and_then(|c| c.str())
            .map_err(|_| ReportError::Invalid(format!("results frame has no string column `{name}`")))
    };
    let (stage, dataset, subset, metric) = (column("stage")?, column("dataset")?, column("subset")?, column("metric")?);
    let value = frame.column("value").and_then(|c| c.f64()).map_err(|_| ReportError::Invalid("results frame has no float column `value`".into()))?;
    let mut sums: BTreeMap<Key, (f64, usize)> = BTreeMap::new();
    for (((stage, dataset), subset), (metric, value)) in stage.iter().zip(dataset.iter()).zip(subset.iter()).zip(metric.iter().zip(value.iter())) {
        let (Some(stage), Some(dataset), Some(subset), Some(metric)) = (stage, dataset, subset, metric) else { continue };
        let entry = sums.entry((stage.into(), dataset.into(), subset.into(), metric.into())).or_insert((0.0, 0));
        if let Some(value) = value {
            entry.0 += value;
            entry.1 += 1;
        }
    }
    Ok(sums.into_iter().map(|(k, (sum, n))| (k, (n > 0).then(|| sum / n as f64))).collect())
}

/// Per-sample values of the first matching column, averaged over runs by `sample_id`.
fn per_sample(runs: &Runs, stage: &str, dataset: &str, columns: &[String]) -> BTreeMap<String, f64> {
    let mut sums: HashMap<String, (f64, usize)> = HashMap::new();
    for predictions in runs.predictions.iter().filter(|p| p.stage == stage) {
        let frame = &predictions.frame;
        let Some(values) = columns.iter().find_map(|c| frame.column(c).ok()?.f64().ok()) else { continue };
        let (Ok(ids), Ok(datasets)) = (frame.column("sample_id").and_then(|c| c.str()), frame.column("dataset").and_then(|c| c.str())) else {
            continue;
        };
        for ((id, ds), value) in ids.iter().zip(datasets.iter()).zip(values.iter()) {
            if let (Some(id), Some(ds), Some(value)) = (id, ds, value) {
                if ds == dataset {
                    let entry = sums.entry(id.to_owned()).or_insert((0.0, 0));
                    entry.0 += value;
                    entry.1 += 1;
                }
            }
        }
    }
    sums.into_iter().map(|(id, (sum, n))| (id, sum / n as f64)).collect()
}
