//! Input checks shared by the metrics.

use crate::StatsError;

/// Rejects an empty slice.
pub(crate) fn non_empty<T>(name: &'static str, values: &[T]) -> Result<(), StatsError> {
    if values.is_empty() {
        return Err(StatsError::Empty { name });
    }
    Ok(())
}

/// Rejects two slices of different lengths.
pub(crate) fn same_length<A, B>(
    left: &'static str,
    left_values: &[A],
    right: &'static str,
    right_values: &[B],
) -> Result<(), StatsError> {
    if left_values.len() != right_values.len() {
        return Err(StatsError::LengthMismatch {
            left,
            left_len: left_values.len(),
            right,
            right_len: right_values.len(),
        });
    }
    Ok(())
}

/// Rejects any value outside the closed interval `[low, high]`, NaN included.
pub(crate) fn in_range(
    name: &'static str,
    values: &[f64],
    low: f64,
    high: f64,
    expected: &'static str,
) -> Result<(), StatsError> {
    for (index, &value) in values.iter().enumerate() {
        // `contains` is false for NaN, so NaN is rejected too.
        if !(low..=high).contains(&value) {
            return Err(StatsError::InvalidValue {
                name,
                index,
                value,
                expected,
            });
        }
    }
    Ok(())
}

/// Rejects NaN and infinite values.
pub(crate) fn finite(name: &'static str, values: &[f64]) -> Result<(), StatsError> {
    for (index, &value) in values.iter().enumerate() {
        if !value.is_finite() {
            return Err(StatsError::InvalidValue {
                name,
                index,
                value,
                expected: "a finite number",
            });
        }
    }
    Ok(())
}
