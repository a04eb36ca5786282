//! Brier score of a confidence against correctness.

use crate::check;
use crate::StatsError;

/// Computes the Brier score `mean((c_i - a_i)^2)`, with `a_i` 1 when item `i` was correct.
///
/// Lies in `[0, 1]`; lower is better. `confidences` lie in `[0, 1]`.
///
/// # Errors
/// Empty or unequal inputs, or a confidence outside `[0, 1]` or NaN.
pub fn brier_score(confidences: &[f64], correct: &[bool]) -> Result<f64, StatsError> {
    check::non_empty("confidences", confidences)?;
    check::same_length("confidences", confidences, "correct", correct)?;
    check::in_range(
        "confidences",
        confidences,
        0.0,
        1.0,
        "a confidence in [0, 1]",
    )?;
    let squared_error: f64 = confidences
        .iter()
        .zip(correct)
        .map(|(&confidence, &is_correct)| (confidence - f64::from(u8::from(is_correct))).powi(2))
        .sum();
    Ok(squared_error / confidences.len() as f64)
}
