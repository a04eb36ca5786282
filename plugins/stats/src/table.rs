//! The table of scored items that calibration reads: one row per item.
//!
//! Columns: `score` (finite risk score or confidence), `harm` or `label` (harm loss in
//! `[0, B]`, or correctness for confidence metrics), and optional `category`,
//! `trajectory` and `weight`. Other columns are ignored. [`ScoreTable::from_columns`]
//! accepts plain vectors from any reader (Parquet, a stage's output, a test).

use std::io::Read;
use std::path::Path;

/// A failure to read or validate a score table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("failed to read score table `{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },

    #[error("failed to parse score table: {0}")]
    Csv(#[from] csv::Error),

    #[error("score table is empty: it needs a header row with `score` and `harm` (or `label`) and at least one data row")]
    Empty,

    #[error("score table has no `{missing}` column (found: {found}): add a `{missing}` column")]
    MissingColumn {
        missing: &'static str,
        found: String,
    },

    #[error("row {row}: `{column}` = `{value}` is not a finite number: fix or remove the row")]
    NotANumber {
        row: usize,
        column: &'static str,
        value: String,
    },

    #[error("row {row}: `{column}` = {value} is outside [0, {bound}]: fix the value or raise the harm bound `B`")]
    HarmOutOfRange {
        row: usize,
        column: &'static str,
        value: f64,
        bound: f64,
    },

    #[error("row {row}: `weight` = {value} is negative: weights must be at least 0")]
    NegativeWeight { row: usize, value: f64 },

    #[error(
        "column `{column}` has {found} values but `score` has {expected}: pass one value per item"
    )]
    LengthMismatch {
        column: &'static str,
        expected: usize,
        found: usize,
    },

    #[error("invalid harm bound {0}: expected a finite number above 0")]
    InvalidBound(f64),
}

/// Scored items with their harm and optional grouping columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreTable {
    /// Risk score (or confidence) of each item, finite.
    pub scores: Vec<f64>,
    /// Harm loss of each item in `[0, B]`; for confidence metrics, 1 when correct.
    pub harms: Vec<f64>,
    /// Category of each item (app, OS, device), when present.
    pub categories: Option<Vec<String>>,
    /// Trajectory id of each item, when present.
    pub trajectories: Option<Vec<String>>,
    /// Importance weight of each item (at least 0), when present.
    pub weights: Option<Vec<f64>>,
}

impl ScoreTable {
    /// Builds a table from columns, checking every value as [`Self::from_csv_reader`] does.
    /// Rows in errors are numbered from 1.
    ///
    /// # Errors
    /// No items, columns of different lengths, a non-finite score or weight, a negative
    /// weight, or a harm outside `[0, bound]`.
    pub fn from_columns(
        scores: Vec<f64>,
        harms: Vec<f64>,
        categories: Option<Vec<String>>,
        trajectories: Option<Vec<String>>,
        weights: Option<Vec<f64>>,
        bound: f64,
    ) -> Result<Self, TableError> {
        if !(bound > 0.0 && bound.is_finite()) {
            return Err(TableError::InvalidBound(bound));
        }
        if scores.is_empty() {
            return Err(TableError::Empty);
        }
        let expected = scores.len();
        let check_length = |column: &'static str, found: usize| {
            if found == expected {
                Ok(())
            } else {
                Err(TableError::LengthMismatch {
                    column,
                    expected,
                    found,
                })
            }
        };
        check_length("harm", harms.len())?;
        if let Some(categories) = &categories {
            check_length("category", categories.len())?;
        }
        if let Some(trajectories) = &trajectories {
            check_length("trajectory", trajectories.len())?;
        }
        if let Some(weights) = &weights {
            check_length("weight", weights.len())?;
        }

        for (index, &score) in scores.iter().enumerate() {
            if !score.is_finite() {
                return Err(TableError::NotANumber {
                    row: index + 1,
                    column: "score",
                    value: score.to_string(),
                });
            }
        }
        for (index, &harm) in harms.iter().enumerate() {
            check_harm(index + 1, "harm", harm, bound)?;
        }
        for (index, &weight) in weights.iter().flatten().enumerate() {
            check_weight(index + 1, weight)?;
        }
        Ok(ScoreTable {
            scores,
            harms,
            categories,
            trajectories,
            weights,
        })
    }

    /// Reads a CSV file; see [`Self::from_csv_reader`].
    ///
    /// # Errors
    /// The file cannot be opened, or as for `from_csv_reader`.
    pub fn from_csv_path(path: &Path, bound: f64) -> Result<Self, TableError> {
        let file = std::fs::File::open(path).map_err(|source| TableError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_csv_reader(file, bound)
    }

    /// Reads CSV with a header row. Harm comes from `harm`, or from `label` when there is
    /// no `harm` column. Rows in errors are numbered from 1 for the first data row.
    ///
    /// # Errors
    /// An empty input, a missing `score` or `harm`/`label` column (the message lists the
    /// columns found), a score or harm that is not a finite number (with its row and
    /// text), a harm outside `[0, bound]`, or a negative weight.
    pub fn from_csv_reader(reader: impl Read, bound: f64) -> Result<Self, TableError> {
        if !(bound > 0.0 && bound.is_finite()) {
            return Err(TableError::InvalidBound(bound));
        }
        let mut csv_reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(reader);

        // Locate the columns.
        let headers = csv_reader.headers()?.clone();
        if headers.is_empty() || headers.iter().all(str::is_empty) {
            return Err(TableError::Empty);
        }
        let position = |name: &str| headers.iter().position(|header| header == name);
        let found = || {
            headers
                .iter()
                .map(|header| format!("`{header}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let score_column = position("score").ok_or_else(|| TableError::MissingColumn {
            missing: "score",
            found: found(),
        })?;
        let (harm_column, harm_name) = match (position("harm"), position("label")) {
            (Some(column), _) => (column, "harm"),
            (None, Some(column)) => (column, "label"),
            (None, None) => {
                return Err(TableError::MissingColumn {
                    missing: "harm",
                    found: found(),
                })
            }
        };
        let category_column = position("category");
        let trajectory_column = position("trajectory");
        let weight_column = position("weight");

        // Read and check each row.
        let mut table = ScoreTable {
            categories: category_column.map(|_| Vec::new()),
            trajectories: trajectory_column.map(|_| Vec::new()),
            weights: weight_column.map(|_| Vec::new()),
            ..ScoreTable::default()
        };
        for (index, record) in csv_reader.records().enumerate() {
            let record = record?;
            let row = index + 1;
            let field = |column: usize| record.get(column).unwrap_or("");

            table
                .scores
                .push(parse_number(row, "score", field(score_column))?);
            let harm = parse_number(row, harm_name, field(harm_column))?;
            check_harm(row, harm_name, harm, bound)?;
            table.harms.push(harm);
            if let (Some(column), Some(categories)) = (category_column, table.categories.as_mut()) {
                categories.push(field(column).to_string());
            }
            if let (Some(column), Some(trajectories)) =
                (trajectory_column, table.trajectories.as_mut())
            {
                trajectories.push(field(column).to_string());
            }
            if let (Some(column), Some(weights)) = (weight_column, table.weights.as_mut()) {
                let weight = parse_number(row, "weight", field(column))?;
                check_weight(row, weight)?;
                weights.push(weight);
            }
        }
        if table.scores.is_empty() {
            return Err(TableError::Empty);
        }
        tracing::debug!(items = table.scores.len(), "read score table");
        Ok(table)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Returns whether the table has no items (never true for a table built by this module).
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Returns `harm > 0` for each item: "harmful", or for confidence tables "correct"
    /// when the `label` column contains correctness.
    pub fn positive_labels(&self) -> Vec<bool> {
        self.harms.iter().map(|&harm| harm > 0.0).collect()
    }
}

/// Parses a finite f64, naming the row, column and text on failure.
fn parse_number(row: usize, column: &'static str, text: &str) -> Result<f64, TableError> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(TableError::NotANumber {
            row,
            column,
            value: text.to_string(),
        }),
    }
}

fn check_harm(row: usize, column: &'static str, harm: f64, bound: f64) -> Result<(), TableError> {
    if !harm.is_finite() {
        return Err(TableError::NotANumber {
            row,
            column,
            value: harm.to_string(),
        });
    }
    if !(0.0..=bound).contains(&harm) {
        return Err(TableError::HarmOutOfRange {
            row,
            column,
            value: harm,
            bound,
        });
    }
    Ok(())
}

fn check_weight(row: usize, weight: f64) -> Result<(), TableError> {
    if !weight.is_finite() {
        return Err(TableError::NotANumber {
            row,
            column: "weight",
            value: weight.to_string(),
        });
    }
    if weight < 0.0 {
        return Err(TableError::NegativeWeight { row, value: weight });
    }
    Ok(())
}
