//! Regeneration check: compares freshly built tables with the committed copies under
//! `reports/<paper>/` and lists every number that moved beyond the table's tolerance.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{ReportError, Result};
use crate::render::{render_text, Format};
use crate::table::Table;

/// One line that differs between the committed and the regenerated table.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Committed file.
    pub path: PathBuf,
    /// Line number in the committed file, from 1.
    pub line: usize,
    /// Reason the line differs, e.g. which numbers moved.
    pub reason: String,
    /// Committed text of the line (empty when the line is new).
    pub committed: String,
    /// Regenerated text of the line (empty when the line is gone).
    pub regenerated: String,
}

/// The result of [`check`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckOutcome {
    /// Committed files that were compared.
    pub checked: Vec<PathBuf>,
    /// Every difference found; empty when the check passed.
    pub mismatches: Vec<Mismatch>,
}

impl CheckOutcome {
    /// Returns true when every regenerated table matches its committed copy.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

impl fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed() {
            return writeln!(f, "{} committed tables match", self.checked.len());
        }
        for mismatch in &self.mismatches {
            writeln!(f, "{}:{}: {}", mismatch.path.display(), mismatch.line, mismatch.reason)?;
            writeln!(f, "  committed:   {}", mismatch.committed)?;
            writeln!(f, "  regenerated: {}", mismatch.regenerated)?;
        }
        writeln!(
            f,
            "{} differences in {} tables; if the change is intended, rerun `assay report --out <committed folder>` and commit the tables",
            self.mismatches.len(),
            self.checked.len()
        )
    }
}

/// Renders each table in `format` and compares it line by line with
/// `<committed_dir>/<name>.<extension>`.
///
/// Numbers are compared with the table's tolerance (absolute, in display units) and all
/// other text exactly. A missing committed file is a mismatch.
///
/// # Errors
/// Fails for the Parquet format, which has no text to compare, and when a committed file
/// exists but cannot be read.
pub fn check(tables: &[Table], committed_dir: &Path, format: Format) -> Result<CheckOutcome> {
    let mut outcome = CheckOutcome::default();
    for table in tables {
        let regenerated = render_text(table, format).ok_or_else(|| {
            ReportError::Invalid("`--check` compares text tables: use md, csv, tex or html".to_owned())
        })?;
        let path = committed_dir.join(format!("{}.{}", table.name, format.extension()));
        if !path.is_file() {
            outcome.mismatches.push(Mismatch {
                path: path.clone(),
                line: 0,
                reason: format!("no committed copy of table `{}`", table.name),
                committed: String::new(),
                regenerated: regenerated.lines().next().unwrap_or_default().to_owned(),
            });
            continue;
        }
        let committed = std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))?;
        outcome.mismatches.extend(compare_text(&path, &committed, &regenerated, table.tolerance));
        outcome.checked.push(path);
    }
    Ok(outcome)
}

fn compare_text(path: &Path, committed: &str, regenerated: &str, tolerance: f64) -> Vec<Mismatch> {
    let committed: Vec<&str> = committed.lines().collect();
    let regenerated: Vec<&str> = regenerated.lines().collect();
    let mut mismatches = Vec::new();
    for line in 0..committed.len().max(regenerated.len()) {
        let old = committed.get(line).copied().unwrap_or_default();
        let new = regenerated.get(line).copied().unwrap_or_default();
        if let Some(reason) = compare_line(old, new, tolerance) {
            mismatches.push(Mismatch {
                path: path.to_owned(),
                line: line + 1,
                reason,
                committed: old.to_owned(),
                regenerated: new.to_owned(),
            });
        }
    }
    mismatches
}

/// Returns why two lines differ, or `None` when they match within `tolerance`.
fn compare_line(old: &str, new: &str, tolerance: f64) -> Option<String> {
    if old == new {
        return None;
    }
    let (old_text, old_numbers) = split_numbers(old);
    let (new_text, new_numbers) = split_numbers(new);
    if old_text != new_text || old_numbers.len() != new_numbers.len() {
        return Some("text differs".to_owned());
    }
    let changes: Vec<String> = old_numbers
        .iter()
        .zip(&new_numbers)
        .filter(|((_, a), (_, b))| (a - b).abs() > tolerance + 1e-9 * a.abs().max(b.abs()).max(1.0))
        .map(|((a_text, a), (b_text, b))| format!("{a_text} became {b_text} (change {:+})", round_change(b - a)))
        .collect();
    if changes.is_empty() {
        return None;
    }
    Some(format!("{} (tolerance {tolerance})", changes.join(", ")))
}

fn round_change(change: f64) -> f64 {
    // Printed numbers have at most 10 decimals, so this removes float noise only.
    (change * 1e10).round() / 1e10
}

/// Splits a line into its text with each number replaced by `#`, and the numbers.
fn split_numbers(line: &str) -> (String, Vec<(String, f64)>) {
    let chars: Vec<char> = line.chars().collect();
    let mut text = String::new();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_signed = matches!(chars[i], '-' | '+')
            && chars.get(i + 1).is_some_and(char::is_ascii_digit)
            && (i == 0 || !chars[i - 1].is_alphanumeric());
        if chars[i].is_ascii_digit() || starts_signed {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))) {
                i += 1;
            }
            let token: String = chars[start..i].iter().collect();
            match token.parse::<f64>() {
                Ok(value) => {
                    text.push('#');
                    numbers.push((token, value));
                }
                Err(_) => text.push_str(&token),
            }
        } else {
            text.push(chars[i]);
            i += 1;
        }
    }
    (text, numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_numbers_keeps_signs_and_decimals() {
        let (text, numbers) = split_numbers("| grpo | 71.2 ± 0.4 | -1.5 | +0.3 | qwen3-2b |");
        assert_eq!(text, "| grpo | # ± # | # | # | qwen#-#b |");
        let values: Vec<f64> = numbers.iter().map(|(_, v)| *v).collect();
        assert_eq!(values, vec![71.2, 0.4, -1.5, 0.3, 3.0, 2.0]);
    }

    #[test]
    fn compare_line_within_tolerance() {
        assert_eq!(compare_line("| a | 71.2 |", "| a | 71.3 |", 0.15), None);
        assert!(compare_line("| a | 71.2 |", "| a | 71.3 |", 0.0).is_some());
        assert_eq!(compare_line("| a | 71.2 |", "| b | 71.2 |", 1.0).as_deref(), Some("text differs"));
    }
}
