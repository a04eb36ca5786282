//! Errors of report building, rendering, plotting and checking.

use std::path::PathBuf;

/// Everything that can go wrong while reading run outputs or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("failed to access `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Polars failed to read, write or convert a frame.
    #[error("failed to process `{path}` with Polars: {source}")]
    Polars {
        path: PathBuf,
        #[source]
        source: polars::error::PolarsError,
    },
    /// A Parquet file lacks a column the report needs, or the column has the wrong type.
    #[error("`{path}` has no usable column `{column}` (expected {expected}); write it with `ResultsWriter` or `PredictionsWriter`")]
    Column {
        path: PathBuf,
        column: String,
        expected: &'static str,
    },
    /// A table spec or argument is invalid; the message names the value and the fix.
    #[error("{0}")]
    Invalid(String),
    /// A plot could not be drawn.
    #[error("failed to draw plot `{path}`: {message}")]
    Plot { path: PathBuf, message: String },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn polars(path: impl Into<PathBuf>, source: polars::error::PolarsError) -> Self {
        Self::Polars { path: path.into(), source }
    }
}

/// Result type of this crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
