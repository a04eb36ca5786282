//! Paper tables and plots from run outputs with Polars.
//!
//! Stages write tidy results with [`ResultsWriter`] and per-sample predictions with
//! [`PredictionsWriter`]. [`Runs::load`] reads them back from run folders,
//! [`build_tables`] turns them into [`Table`]s following the spec's `reports:` section,
//! [`render_all`] writes Markdown, LaTeX, CSV, HTML or Parquet, [`check`] compares
//! regenerated tables with committed ones, [`compare()`] diffs two runs, and [`plots`]
//! draws training curves, reliability diagrams and risk-coverage curves.

pub mod build;
pub mod check;
pub mod compare;
pub mod error;
pub mod plots;
pub mod render;
pub mod results;
mod results_index;
pub mod runs;
pub mod spec;
pub mod stats;
pub mod table;

pub use build::{build_table, build_tables};
pub use check::{check, CheckOutcome, Mismatch};
pub use compare::{compare, CompareOptions, Comparison, MetricChange};
pub use error::{ReportError, Result};
pub use render::{render_all, render_csv, render_html, render_latex, render_markdown, render_text, table_frame, write_table, Format};
pub use results::{
    read_metrics, read_predictions, read_results, results_frame, write_metrics, write_results, MetricPoint, PredictionsWriter, ResultRow,
    ResultsWriter, METRICS_FILE, PREDICTIONS_FILE, RESULTS_FILE, WHOLE_DATASET,
};
pub use runs::{RunMetrics, Runs, StagePredictions};
pub use spec::{ReferenceBlock, ReportsSpec, TableSpec};
pub use table::{Cell, CellKind, Estimate, Spread, Table, TableRow};
