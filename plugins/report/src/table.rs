//! A built table: labelled rows of numeric cells in display units, ready to render.

/// A table ready to render in any format.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// File stem, from the spec.
    pub name: String,
    /// Caption.
    pub title: String,
    /// Header of the row-label column.
    pub corner: String,
    /// Column headers, one per cell of each row.
    pub columns: Vec<String>,
    /// Rows in display order.
    pub rows: Vec<TableRow>,
    /// Largest absolute change of any number that `check` accepts, in display units.
    pub tolerance: f64,
}

/// One table row.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    /// Row label.
    pub label: String,
    /// Cells, one per column.
    pub cells: Vec<Cell>,
}

/// Source of a cell's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Aggregated from the runs.
    Measured,
    /// The published value from the `reference:` block.
    Published,
    /// Measured minus published, printed with a sign.
    Difference,
}

impl CellKind {
    /// Lowercase name used in Parquet output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Measured => "measured",
            Self::Published => "published",
            Self::Difference => "difference",
        }
    }
}

/// The uncertainty printed beside a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// Nothing (one run, a published value or a difference).
    None,
    /// Sample standard deviation over runs, printed `value ± std`.
    Std(f64),
    /// Bootstrap confidence interval, printed `value [low, high]`.
    Interval { low: f64, high: f64 },
}

/// A number with its uncertainty, in display units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Printed value (already multiplied by 100 for percent metrics).
    pub value: f64,
    /// Uncertainty in the same units.
    pub spread: Spread,
}

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Source of the number.
    pub kind: CellKind,
    /// The number; `None` when the metric is undefined or absent, printed as a dash.
    pub estimate: Option<Estimate>,
    /// Digits after the decimal point.
    pub decimals: usize,
    /// Whether the cell is the best of its column.
    pub bold: bool,
}

impl Cell {
    /// Formats the cell's number as text without markup; `None` for a missing value.
    pub fn text(&self) -> Option<String> {
        let estimate = self.estimate?;
        let value = match self.kind {
            CellKind::Difference => format_signed(estimate.value, self.decimals),
            CellKind::Measured | CellKind::Published => format_number(estimate.value, self.decimals),
        };
        Some(match estimate.spread {
            Spread::None => value,
            Spread::Std(std) => format!("{value} ± {}", format_number(std, self.decimals)),
            Spread::Interval { low, high } => format!(
                "{value} [{}, {}]",
                format_number(low, self.decimals),
                format_number(high, self.decimals)
            ),
        })
    }
}

/// Rounds to `decimals` digits, printing a value that rounds to zero as `0.0`, not `-0.0`.
pub fn format_number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_owned()
    } else {
        text
    }
}

fn format_signed(value: f64, decimals: usize) -> String {
    let text = format_number(value, decimals);
    if text.starts_with('-') {
        text
    } else {
        format!("+{text}")
    }
}
