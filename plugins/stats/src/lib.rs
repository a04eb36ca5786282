//! Metrics, calibration error and conformal risk control.
//!
//! Every metric is a small pure function over slices, so callers (stages, the CLI,
//! reward plugins) feed it plain vectors and tests feed it hand-made data.
//!
//! - [`ece`]: expected calibration error and reliability-diagram bins.
//! - [`brier`], [`auroc`], [`accuracy`]: scores of confidence against correctness.
//! - [`f1`]: set, binary, macro and micro F1 with an explicit [`f1::ZeroDivision`] policy.
//! - [`confidence`]: aggregation of decoupled (visual and reasoning) confidences.
//! - [`conformal`]: conformal risk control thresholds, weighted variants, Learn-then-Test
//!   and evaluation on a test split.
//! - [`table`]: the [`table::ScoreTable`] of calibration items read from CSV.
//! - [`calibration`]: one call that calibrates a table and evaluates the result.

pub mod accuracy;
pub mod auroc;
pub mod brier;
pub mod calibration;
pub mod confidence;
pub mod conformal;
pub mod ece;
pub mod error;
pub mod f1;
pub mod special;
pub mod table;

pub use error::StatsError;

pub(crate) mod check;
