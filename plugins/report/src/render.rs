//! Rendering built tables as Markdown, LaTeX (booktabs), CSV, HTML and Parquet.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use polars::prelude::*;

use crate::build::build_tables;
use crate::error::{ReportError, Result};
use crate::runs::Runs;
use crate::spec::{ReferenceBlock, TableSpec};
use crate::table::{Cell, Spread, Table};

/// Output format of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// GitHub-flavoured Markdown with the title as a heading; bold is `**…**`.
    Markdown,
    /// A LaTeX `tabular` with booktabs rules; bold is `\textbf{…}`.
    Latex,
    /// Comma-separated values without markup; missing values are `-`.
    Csv,
    /// An HTML `<table>` with a caption; bold is `<strong>`.
    Html,
    /// Long-format Parquet: one row per cell with its numbers, kind and bold flag.
    Parquet,
}

impl Format {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [Format; 5] = [Format::Markdown, Format::Csv, Format::Latex, Format::Html, Format::Parquet];

    /// File extension without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Markdown => "md",
            Self::Latex => "tex",
            Self::Csv => "csv",
            Self::Html => "html",
            Self::Parquet => "parquet",
        }
    }
}

impl FromStr for Format {
    type Err = ReportError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "md" | "markdown" => Ok(Self::Markdown),
            "tex" | "latex" => Ok(Self::Latex),
            "csv" => Ok(Self::Csv),
            "html" => Ok(Self::Html),
            "parquet" => Ok(Self::Parquet),
            other => Err(ReportError::Invalid(format!(
                "unknown report format `{other}`: use md, csv, tex, html or parquet"
            ))),
        }
    }
}

/// Renders a table as Markdown: a `###` heading, a header row, and right-aligned numbers.
pub fn render_markdown(table: &Table) -> String {
    let escape = |text: &str| text.replace('|', "\\|");
    let mut out = format!("### {}\n\n", table.title);
    let headers: Vec<String> = std::iter::once(&table.corner).chain(&table.columns).map(|h| escape(h)).collect();
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let rule: Vec<&str> = std::iter::once(":---").chain(table.columns.iter().map(|_| "---:")).collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for row in &table.rows {
        let cells = row.cells.iter().map(|cell| match cell.text() {
            None => "–".to_owned(),
            Some(text) if cell.bold => format!("**{text}**"),
            Some(text) => text,
        });
        let line: Vec<String> = std::iter::once(escape(&row.label)).chain(cells).collect();
        let _ = writeln!(out, "| {} |", line.join(" | "));
    }
    out
}

/// Renders a table as a LaTeX `table` environment with booktabs rules
/// (`\usepackage{booktabs}`); missing values print as `--`.
pub fn render_latex(table: &Table) -> String {
    let mut out = String::from("\\begin{table}[t]\n\\centering\n");
    let _ = writeln!(out, "\\caption{{{}}}", latex_escape(&table.title));
    let _ = writeln!(out, "\\label{{tab:{}}}", table.name);
    let _ = writeln!(out, "\\begin{{tabular}}{{l{}}}", "r".repeat(table.columns.len()));
    out.push_str("\\toprule\n");
    let headers: Vec<String> = std::iter::once(&table.corner).chain(&table.columns).map(|h| latex_escape(h)).collect();
    let _ = writeln!(out, "{} \\\\", headers.join(" & "));
    out.push_str("\\midrule\n");
    for row in &table.rows {
        let cells = row.cells.iter().map(|cell| match cell.text() {
            None => "--".to_owned(),
            Some(text) if cell.bold => format!("\\textbf{{{}}}", latex_escape(&text)),
            Some(text) => latex_escape(&text),
        });
        let line: Vec<String> = std::iter::once(latex_escape(&row.label)).chain(cells).collect();
        let _ = writeln!(out, "{} \\\\", line.join(" & "));
    }
    out.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
    out
}

/// Renders a table as CSV (RFC 4180 quoting) without markup; missing values are `-`.
pub fn render_csv(table: &Table) -> String {
    let mut out = String::new();
    let headers: Vec<String> = std::iter::once(&table.corner).chain(&table.columns).map(|h| csv_field(h)).collect();
    let _ = writeln!(out, "{}", headers.join(","));
    for row in &table.rows {
        let cells = row.cells.iter().map(|cell| csv_field(&cell.text().unwrap_or_else(|| "-".to_owned())));
        let line: Vec<String> = std::iter::once(csv_field(&row.label)).chain(cells).collect();
        let _ = writeln!(out, "{}", line.join(","));
    }
    out
}

/// Renders a table as an HTML `<table>`; missing values print as `–`.
pub fn render_html(table: &Table) -> String {
    let mut out = format!("<table id=\"{}\">\n<caption>{}</caption>\n<thead>\n<tr>", html_escape(&table.name), html_escape(&table.title));
    for header in std::iter::once(&table.corner).chain(&table.columns) {
        let _ = write!(out, "<th>{}</th>", html_escape(header));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in &table.rows {
        let _ = write!(out, "<tr><th>{}</th>", html_escape(&row.label));
        for cell in &row.cells {
            match cell.text() {
                None => out.push_str("<td>–</td>"),
                Some(text) if cell.bold => {
                    let _ = write!(out, "<td><strong>{}</strong></td>", html_escape(&text));
                }
                Some(text) => {
                    let _ = write!(out, "<td>{}</td>", html_escape(&text));
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Builds the long-format frame of a table: one row per cell with columns table, row,
/// column, kind, value, std, low, high (display units, null when absent), bold and text.
///
/// # Errors
/// Fails only if Polars rejects the columns.
pub fn table_frame(table: &Table) -> Result<DataFrame> {
    let cells: Vec<(&str, &str, &Cell)> = table
        .rows
        .iter()
        .flat_map(|row| row.cells.iter().zip(&table.columns).map(move |(cell, column)| (row.label.as_str(), column.as_str(), cell)))
        .collect();
    let spread = |cell: &Cell| cell.estimate.map(|e| e.spread).unwrap_or(Spread::None);
    df!(
        "table" => vec![table.name.as_str(); cells.len()],
        "row" => cells.iter().map(|c| c.0).collect::<Vec<_>>(),
        "column" => cells.iter().map(|c| c.1).collect::<Vec<_>>(),
        "kind" => cells.iter().map(|c| c.2.kind.as_str()).collect::<Vec<_>>(),
        "value" => cells.iter().map(|c| c.2.estimate.map(|e| e.value)).collect::<Vec<_>>(),
        "std" => cells.iter().map(|c| match spread(c.2) { Spread::Std(s) => Some(s), _ => None }).collect::<Vec<_>>(),
        "low" => cells.iter().map(|c| match spread(c.2) { Spread::Interval { low, .. } => Some(low), _ => None }).collect::<Vec<_>>(),
        "high" => cells.iter().map(|c| match spread(c.2) { Spread::Interval { high, .. } => Some(high), _ => None }).collect::<Vec<_>>(),
        "bold" => cells.iter().map(|c| c.2.bold).collect::<Vec<_>>(),
        "text" => cells.iter().map(|c| c.2.text()).collect::<Vec<_>>(),
    )
    .map_err(|e| ReportError::polars(&table.name, e))
}

/// Renders a text format; `None` for Parquet, which is binary.
pub fn render_text(table: &Table, format: Format) -> Option<String> {
    match format {
        Format::Markdown => Some(render_markdown(table)),
        Format::Latex => Some(render_latex(table)),
        Format::Csv => Some(render_csv(table)),
        Format::Html => Some(render_html(table)),
        Format::Parquet => None,
    }
}

/// Writes `<out_dir>/<table.name>.<extension>` and returns its path.
///
/// # Errors
/// Fails when the folder or file cannot be written.
pub fn write_table(table: &Table, format: Format, out_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    let path = out_dir.join(format!("{}.{}", table.name, format.extension()));
    match render_text(table, format) {
        Some(text) => std::fs::write(&path, text).map_err(|e| ReportError::io(&path, e))?,
        None => crate::results::write_parquet(&path, &mut table_frame(table)?)?,
    }
    Ok(path)
}

/// Builds every declared table from the runs and writes each in `format` to `out_dir`.
/// Returns the written paths in spec order.
///
/// # Errors
/// Fails on an invalid spec, an ambiguous cell, or a file that cannot be written.
pub fn render_all(tables: &[TableSpec], reference: &ReferenceBlock, runs: &Runs, format: Format, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let tables = build_tables(tables, reference, runs)?;
    tables.iter().map(|table| write_table(table, format, out_dir)).collect()
}

fn latex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '±' => out.push_str("$\\pm$"),
            'Δ' => out.push_str("$\\Delta$"),
            '–' => out.push_str("--"),
            _ => out.push(c),
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
