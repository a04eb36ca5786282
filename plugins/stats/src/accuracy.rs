//! Accuracy: the fraction of correct items.

use crate::check;
use crate::StatsError;

/// Computes the fraction of `true` values in `correct`, in `[0, 1]`.
///
/// # Errors
/// An empty input.
pub fn accuracy(correct: &[bool]) -> Result<f64, StatsError> {
    check::non_empty("correct", correct)?;
    let correct_count = correct.iter().filter(|&&is_correct| is_correct).count();
    Ok(correct_count as f64 / correct.len() as f64)
}

/// Computes the fraction of positions where `predicted` equals `expected`, in `[0, 1]`.
///
/// # Errors
/// Empty or unequal inputs.
pub fn label_accuracy<L: PartialEq>(expected: &[L], predicted: &[L]) -> Result<f64, StatsError> {
    check::non_empty("expected", expected)?;
    check::same_length("expected", expected, "predicted", predicted)?;
    let matches = expected
        .iter()
        .zip(predicted)
        .filter(|(e, p)| e == p)
        .count();
    Ok(matches as f64 / expected.len() as f64)
}
