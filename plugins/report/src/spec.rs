//! Table and plot declarations of the spec's `reports:` section, and the `reference:` block.
//!
//! Every type rejects unknown fields, so a misspelt key fails validation instead of being
//! ignored. The doc comments become the JSON Schema descriptions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Published numbers: table name -> row -> column -> value.
///
/// Rows and columns are matched by key first (the stage, dataset, subset, metric or run
/// name in the results) and then by display label. Values are in the table's display units,
/// as printed in the publication: a percent metric shown as 71.3 has reference value 71.3.
pub type ReferenceBlock = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

/// The `reports:` section: which tables and plots `assay report` writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportsSpec {
    /// Tables to render, in this order. Default: none.
    #[serde(default)]
    pub tables: Vec<TableSpec>,
    /// Plots written beside the tables. Default: all plots with their defaults.
    #[serde(default)]
    pub plots: PlotsSpec,
}

/// One paper table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// File stem of the rendered table (`<name>.md`) and key into the `reference:` block.
    /// Required. Valid: letters, digits, `_` and `-`.
    pub name: String,
    /// Caption printed above the table. Default: the name.
    #[serde(default)]
    pub title: Option<String>,
    /// Metrics shown, with their format and direction. Required, at least one. When
    /// neither `rows` nor `columns` is by `metric`, exactly one metric is allowed.
    pub metrics: Vec<MetricSpec>,
    /// What each row is. Default: one row per stage.
    #[serde(default = "Axis::default_rows")]
    pub rows: Axis,
    /// What each column is. Default: one column per metric.
    #[serde(default = "Axis::default_columns")]
    pub columns: Axis,
    /// Which results enter the table. Default: all stages and datasets, and only the
    /// whole-dataset subset `all` unless `subset` is an axis.
    #[serde(default)]
    pub filter: Filter,
    /// How the runs (seeds) of one cell combine. Default: `mean_std`.
    #[serde(default)]
    pub aggregate: Aggregate,
    /// Which cells compete for bold: the best value of each column (methods in rows, as
    /// most papers print them), of each row (methods in columns), or none. Only cells of
    /// the same metric compete. Default: `column`.
    #[serde(default)]
    pub bold_best: BoldBest,
    /// Which columns to add from the `reference:` block when it has an entry for this
    /// table. Default: `difference`.
    #[serde(default)]
    pub reference: ReferenceColumns,
    /// Largest absolute change, in display units, that `assay report --check` accepts for
    /// any number in this table. Default: 0 (exact, since smoke runs are deterministic).
    /// Valid: 0 or more.
    #[serde(default)]
    pub tolerance: f64,
}

/// A metric shown in a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// Metric name as written in `results.parquet`, e.g. `accuracy`. Required.
    pub name: String,
    /// Header or row label. Default: the name, followed by ` (%)` for percent metrics.
    #[serde(default)]
    pub label: Option<String>,
    /// Whether higher or lower values are better, for bolding. Default: `higher`.
    #[serde(default)]
    pub direction: Direction,
    /// How numbers of this metric are printed. Default: plain with 3 decimals.
    #[serde(default)]
    pub format: NumberFormat,
    /// Per-sample column in `predictions.parquet` whose mean is this metric, used by the
    /// bootstrap aggregation. Default: the metric name.
    #[serde(default)]
    pub per_sample_column: Option<String>,
}

impl MetricSpec {
    /// Label used in headers and row names.
    pub fn display_label(&self) -> String {
        match (&self.label, self.format.style) {
            (Some(label), _) => label.clone(),
            (None, NumberStyle::Percent) => format!("{} (%)", self.name),
            (None, NumberStyle::Plain) => self.name.clone(),
        }
    }

    /// Name of the per-sample column in `predictions.parquet`.
    pub fn sample_column(&self) -> &str {
        self.per_sample_column.as_deref().unwrap_or(&self.name)
    }
}

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Larger values are better (accuracy, F1, reward).
    #[default]
    Higher,
    /// Smaller values are better (calibration error, loss, risk).
    Lower,
}

/// How a number is printed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberFormat {
    /// `plain` prints the value, `percent` prints 100 times the value without a `%` sign.
    /// Default: `plain`.
    #[serde(default)]
    pub style: NumberStyle,
    /// Digits after the decimal point. Default: 3 for plain, 1 for percent. Valid: 0 to 10.
    #[serde(default)]
    pub decimals: Option<u8>,
}

impl Default for NumberFormat {
    fn default() -> Self {
        Self { style: NumberStyle::Plain, decimals: None }
    }
}

impl NumberFormat {
    /// Digits after the decimal point, with the style's default filled in.
    pub fn digits(&self) -> usize {
        let default = match self.style {
            NumberStyle::Plain => 3,
            NumberStyle::Percent => 1,
        };
        usize::from(self.decimals.unwrap_or(default))
    }

    /// Factor from the stored value to the printed one.
    pub fn scale(&self) -> f64 {
        match self.style {
            NumberStyle::Plain => 1.0,
            NumberStyle::Percent => 100.0,
        }
    }
}

/// Number style.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberStyle {
    /// The value as stored.
    #[default]
    Plain,
    /// 100 times the value (a fraction 0.713 prints as 71.3).
    Percent,
}

/// A table axis: which result column varies along it, and which values appear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Result column along this axis. Required.
    pub by: Dimension,
    /// Values to show, in this order. Default: every value found, in order of first
    /// appearance (stages are read in folder-name order).
    #[serde(default)]
    pub values: Vec<String>,
    /// Display labels by value, e.g. `{grpo: "GRPO (ours)"}`. Default: the value itself
    /// (for `metric`, the metric's label).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Header of the row-label column when this axis is `rows`. Default: the dimension
    /// name with a capital letter, e.g. `Stage`.
    #[serde(default)]
    pub title: Option<String>,
}

impl Axis {
    fn default_rows() -> Self {
        Self { by: Dimension::Stage, values: Vec::new(), labels: BTreeMap::new(), title: None }
    }

    fn default_columns() -> Self {
        Self { by: Dimension::Metric, values: Vec::new(), labels: BTreeMap::new(), title: None }
    }
}

/// A column of the tidy results frame that a table axis can vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Stage name (the method, e.g. `sft`, `grpo`).
    Stage,
    /// Evaluation dataset.
    Dataset,
    /// Subset of a dataset (`all` is the whole dataset).
    Subset,
    /// Metric name.
    Metric,
    /// Run id; one run is one seed, so a per-run axis shows seeds side by side.
    Run,
}

impl Dimension {
    /// Column name in `results.parquet`.
    pub fn column(self) -> &'static str {
        match self {
            Self::Stage => "stage",
            Self::Dataset => "dataset",
            Self::Subset => "subset",
            Self::Metric => "metric",
            Self::Run => "run",
        }
    }
}

/// Restricts the results that enter a table. An empty list keeps every value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Stages to keep. Default: all.
    #[serde(default)]
    pub stage: Vec<String>,
    /// Datasets to keep. Default: all.
    #[serde(default)]
    pub dataset: Vec<String>,
    /// Subsets to keep. Default: `[all]` unless `subset` is an axis, then every subset.
    #[serde(default)]
    pub subset: Vec<String>,
    /// Runs to keep. Default: all.
    #[serde(default)]
    pub run: Vec<String>,
}

/// How the runs (seeds) of one table cell combine into one printed number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Aggregate {
    /// Mean over runs, printed alone.
    Mean,
    /// Mean over runs with the sample standard deviation (n - 1 denominator), printed as
    /// `mean ± std`; a single run prints its value alone.
    MeanStd,
    /// Mean of the metric's per-sample column over the samples of all runs in the cell, with
    /// a percentile bootstrap confidence interval printed as `mean [low, high]`.
    Bootstrap {
        /// Bootstrap resamples. Default: 1000. Valid: 1 or more.
        #[serde(default = "default_resamples")]
        resamples: usize,
        /// Coverage of the interval. Default: 0.95. Valid: strictly between 0 and 1.
        #[serde(default = "default_confidence")]
        confidence: f64,
        /// Seed of the resampling generator (ChaCha8). Default: 0.
        #[serde(default)]
        seed: u64,
    },
}

impl Default for Aggregate {
    fn default() -> Self {
        Self::MeanStd
    }
}

/// Which cells compete when bolding the best value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoldBest {
    /// The best value of each column is bold.
    #[default]
    Column,
    /// The best value of each row is bold.
    Row,
    /// Nothing is bold.
    None,
}

/// Columns taken from the `reference:` block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceColumns {
    /// No reference columns.
    None,
    /// After each column, the published value.
    Published,
    /// After each column, the published value and the difference (ours minus published).
    #[default]
    Difference,
}

/// Plots written beside the tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlotsSpec {
    /// Write plots at all. Default: true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Names in `metrics.parquet` drawn as training curves, one panel each. Names absent
    /// from a run are skipped. Default: `[reward, kl, entropy]`.
    #[serde(default = "default_curves")]
    pub training_curves: Vec<String>,
    /// Equal-width confidence bins of the reliability diagram. Default: 10. Valid: 1 to 100.
    #[serde(default = "default_bins")]
    pub reliability_bins: usize,
}

impl Default for PlotsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            training_curves: default_curves(),
            reliability_bins: default_bins(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_resamples() -> usize {
    1000
}

fn default_confidence() -> f64 {
    0.95
}

fn default_bins() -> usize {
    10
}

fn default_curves() -> Vec<String> {
    vec!["reward".into(), "kl".into(), "entropy".into()]
}

impl TableSpec {
    /// Checks the values serde cannot: names, counts and ranges.
    ///
    /// # Errors
    /// Returns a message naming the table, the invalid value and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(format!(
                "invalid table name `{name}`: use letters, digits, `_` and `-` only, since it becomes a file name"
            ));
        }
        if self.metrics.is_empty() {
            return Err(format!("table `{name}` lists no `metrics`: add at least one metric"));
        }
        if self.rows.by == self.columns.by {
            return Err(format!(
                "table `{name}` uses `{}` for both rows and columns: pick two different dimensions",
                self.rows.by.column()
            ));
        }
        let metric_on_axis = self.rows.by == Dimension::Metric || self.columns.by == Dimension::Metric;
        if !metric_on_axis && self.metrics.len() > 1 {
            return Err(format!(
                "table `{name}` lists {} metrics but neither `rows` nor `columns` is by `metric`: keep one metric or set `by: metric` on an axis",
                self.metrics.len()
            ));
        }
        for axis in [&self.rows, &self.columns].into_iter().filter(|a| a.by == Dimension::Metric) {
            if let Some(unknown) = axis.values.iter().find(|v| !self.metrics.iter().any(|m| &m.name == *v)) {
                return Err(format!(
                    "table `{name}`: axis value `{unknown}` is not in `metrics`: add it to `metrics` or remove it from `values`"
                ));
            }
        }
        for metric in &self.metrics {
            if let Some(decimals) = metric.format.decimals {
                if decimals > 10 {
                    return Err(format!(
                        "table `{name}`, metric `{}`: `decimals` is {decimals}; use 0 to 10",
                        metric.name
                    ));
                }
            }
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(format!(
                "table `{name}`: `tolerance` is {}; use a finite value of 0 or more",
                self.tolerance
            ));
        }
        if let Aggregate::Bootstrap { resamples, confidence, .. } = self.aggregate {
            if resamples == 0 {
                return Err(format!("table `{name}`: `resamples` is 0; use 1 or more (1000 is typical)"));
            }
            if !(confidence > 0.0 && confidence < 1.0) {
                return Err(format!(
                    "table `{name}`: `confidence` is {confidence}; use a value strictly between 0 and 1, e.g. 0.95"
                ));
            }
        }
        Ok(())
    }
}

impl PlotsSpec {
    /// Checks the values serde cannot.
    ///
    /// # Errors
    /// Returns a message naming the invalid value and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=100).contains(&self.reliability_bins) {
            return Err(format!(
                "`plots.reliability_bins` is {}; use 1 to 100 (10 or 15 are typical)",
                self.reliability_bins
            ));
        }
        Ok(())
    }
}

impl ReportsSpec {
    /// Checks every table and the plot settings, and that table names are unique.
    ///
    /// # Errors
    /// Returns the first problem found, naming the value and the fix.
    pub fn validate(&self) -> Result<(), String> {
        validate_tables(&self.tables)?;
        self.plots.validate()
    }
}

/// Checks every table and that table names are unique.
///
/// # Errors
/// Returns the first problem found, naming the value and the fix.
pub fn validate_tables(tables: &[TableSpec]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for table in tables {
        table.validate()?;
        if !seen.insert(table.name.as_str()) {
            return Err(format!("two tables are named `{}`: table names must be unique", table.name));
        }
    }
    Ok(())
}
