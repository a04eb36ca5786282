//! The error type shared by every metric in this crate.

/// Invalid input to a metric or a calibration routine.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StatsError {
    /// An input slice is empty where at least one value is required.
    #[error("`{name}` is empty: pass at least one value")]
    Empty { name: &'static str },

    /// Two inputs that pair up element by element differ in length.
    #[error("`{left}` has {left_len} values but `{right}` has {right_len}: pass one value per item in each")]
    LengthMismatch {
        left: &'static str,
        left_len: usize,
        right: &'static str,
        right_len: usize,
    },

    /// A value is NaN, infinite or outside its valid range.
    #[error("`{name}`[{index}] = {value} is invalid: expected {expected}")]
    InvalidValue {
        name: &'static str,
        index: usize,
        value: f64,
        expected: &'static str,
    },

    /// A scalar parameter is outside its valid range.
    #[error("`{name}` = {value} is invalid: expected {expected}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },

    /// A parameter combination that the function does not support.
    #[error("{0}")]
    Unsupported(String),
}
