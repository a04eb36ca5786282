//! Report tables and published reference numbers.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Published numbers: table name -> row -> column -> value, in the table's unit.
pub type Reference = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

/// One table of the reproduced publication, rebuilt from the stages' metrics.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportTable {
    /// Table identifier; also the file name under `reports/` and the key into
    /// `reference`.
    pub name: String,
    /// Caption printed above the table. Default: the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Metric names (as the stages record them) that fill the cells.
    pub metrics: Vec<String>,
    /// Row labels, usually stage or model names. Default: one row per stage that
    /// recorded a listed metric.
    #[serde(default)]
    pub rows: Vec<String>,
    /// Column labels. Default: the metric names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Output format. Default: `markdown`.
    #[serde(default)]
    pub format: ReportFormat,
    /// Whether a higher or a lower value is better, to mark the best cell. Default:
    /// none, nothing is marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub better: Option<Better>,
    /// Largest absolute difference from the reference value that still counts as
    /// reproduced, in the metric's unit. At least 0. Default: none, no comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
}

/// Output format of a report table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// A Markdown table.
    #[default]
    Markdown,
    /// Comma-separated values.
    Csv,
    /// A LaTeX `tabular`.
    Latex,
}

/// Direction in which a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}
