//! Conformal risk control (CRC) for an execute/abstain decision on risk scores.
//!
//! A guardian gives each item a risk score `s`; the rule executes an item iff
//! `s <= tau` and abstains otherwise. Each calibration item carries a harm loss `h` in
//! `[0, B]` (binary harm is `h` in `{0, 1}` with `B = 1`), and the loss of the rule on an
//! item is `h * 1{s <= tau}`: harm that was executed.
//!
//! # What is guaranteed
//! [`crc_threshold`] picks `tau` so that, for a new item exchangeable with the `n`
//! calibration items, `E[h * 1{s <= tau}] <= alpha`, the expectation taken over both the
//! calibration set and the new item. This bounds the *joint* rate of executed harm
//! (harmful and executed) per item. It does not bound the harm rate *among executed
//! items*, which can exceed `alpha` when few items execute. For that conditional rate,
//! [`learn_then_test`] gives a high-probability bound instead. [`weighted`] thresholds
//! keep the CRC guarantee under covariate shift when the density ratio (the weights) is
//! known; estimated weights make it approximate.

pub mod evaluate;
mod exact;
pub mod ltt;
pub mod split;
pub mod threshold;
pub mod validity;
pub mod weighted;

pub use evaluate::{
    bootstrap_intervals, evaluate_decisions, risk_coverage_curve, Interval, InterventionMetrics,
    MetricIntervals, RiskCoveragePoint,
};
pub use ltt::{hoeffding_bentkus_p_value, learn_then_test, LearnThenTest, TestedThreshold};
pub use split::{random_split, trajectory_split, Split};
pub use threshold::{crc_threshold, Threshold};
pub use validity::{validity_check, weighted_validity_check, ValidityReport};
pub use weighted::{category_weights, weighted_crc_threshold, WeightedCalibration};
