//! The plain conformal risk control threshold.

use crate::check;
use num_bigint::BigInt;

use crate::conformal::exact::{self, Dyadic, FixedPoint};
use crate::StatsError;

/// An execute/abstain rule: execute an item iff its risk score is at most the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// Execute items with `score <= tau`, a calibration score.
    At(f64),
    /// Execute every item (`tau = +inf`).
    ExecuteAll,
    /// Abstain on every item (`tau = -inf`).
    ///
    /// `min_calibration_size` is the smallest `n` with `(n + 1) * alpha >= B`, below which
    /// no threshold above `-inf` can ever qualify. When the calibration set is at least
    /// that large, abstention comes from harm at the lowest scores instead.
    AbstainAll { min_calibration_size: u64 },
}

impl Threshold {
    /// Returns whether the rule executes an item with risk score `score`.
    pub fn executes(&self, score: f64) -> bool {
        match *self {
            Threshold::At(tau) => score <= tau,
            Threshold::ExecuteAll => true,
            Threshold::AbstainAll { .. } => false,
        }
    }

    /// Returns `tau` as a number: `+inf` for [`Threshold::ExecuteAll`] and `-inf` for
    /// [`Threshold::AbstainAll`].
    pub fn tau(&self) -> f64 {
        match *self {
            Threshold::At(tau) => tau,
            Threshold::ExecuteAll => f64::INFINITY,
            Threshold::AbstainAll { .. } => f64::NEG_INFINITY,
        }
    }
}

/// Checks `alpha` and `bound` and returns the smallest calibration size that can be
/// feasible: the least `n` with `(n + 1) * alpha >= bound`, computed exactly.
pub(crate) fn min_calibration_size(alpha: f64, bound: f64) -> Result<u64, StatsError> {
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(StatsError::InvalidParameter {
            name: "alpha",
            value: alpha,
            expected: "a finite risk level above 0",
        });
    }
    if !(bound > 0.0 && bound.is_finite()) {
        return Err(StatsError::InvalidParameter {
            name: "bound",
            value: bound,
            expected: "a finite harm bound above 0",
        });
    }
    let items_plus_one = Dyadic::from_f64(bound).ceil_div_u64(&Dyadic::from_f64(alpha));
    Ok(items_plus_one.saturating_sub(1))
}

/// Checks the calibration inputs shared by the plain and weighted thresholds.
pub(crate) fn check_calibration(
    scores: &[f64],
    harms: &[f64],
    bound: f64,
) -> Result<(), StatsError> {
    check::non_empty("scores", scores)?;
    check::same_length("scores", scores, "harms", harms)?;
    check::finite("scores", scores)?;
    check::in_range("harms", harms, 0.0, bound, "a harm in [0, bound]")
}

/// Returns the end (exclusive) of each run of equal scores in `sorted_scores`.
pub(crate) fn tie_group_ends(sorted_scores: &[f64]) -> Vec<usize> {
    let mut ends = Vec::new();
    for index in 1..=sorted_scores.len() {
        if index == sorted_scores.len() || sorted_scores[index] != sorted_scores[index - 1] {
            ends.push(index);
        }
    }
    ends
}

/// Turns the count of feasible tie groups into a threshold.
pub(crate) fn threshold_from_groups(
    sorted_scores: &[f64],
    group_ends: &[usize],
    feasible_groups: Option<usize>,
    min_calibration_size: u64,
) -> Threshold {
    match feasible_groups {
        None | Some(0) => Threshold::AbstainAll {
            min_calibration_size,
        },
        // Including every calibration item is the same loss as tau = +inf, which is larger.
        Some(count) if count == group_ends.len() => Threshold::ExecuteAll,
        Some(count) => Threshold::At(sorted_scores[group_ends[count - 1] - 1]),
    }
}

/// Computes the conformal risk control threshold of a calibration set.
///
/// Returns the largest `tau` in `{-inf} U {scores} U {+inf}` with
/// `sum_i(harms[i] * 1{scores[i] <= tau}) + bound <= (n + 1) * alpha`, where every tied
/// score is included together. The comparison is exact on the f64 inputs as given (so
/// the f64 `0.2` counts as the dyadic rational just above 1/5), which means no rounding
/// error can turn a feasible threshold infeasible or back. Sorts once and scans once:
/// `O(n log n)`.
///
/// With the result, `E[h * 1{s <= tau}] <= alpha` for a new item exchangeable with the
/// calibration items; see the [module docs](crate::conformal) for what this does not
/// cover.
///
/// `scores` are finite risk scores (higher is riskier); `harms` lie in `[0, bound]`;
/// `alpha` > 0 is the target risk in harm units; `bound` (B) > 0 bounds the harm.
///
/// # Errors
/// Empty or unequal inputs, a NaN or infinite score, a harm outside `[0, bound]`, or a
/// non-positive `alpha` or `bound`.
pub fn crc_threshold(
    scores: &[f64],
    harms: &[f64],
    alpha: f64,
    bound: f64,
) -> Result<Threshold, StatsError> {
    let min_size = min_calibration_size(alpha, bound)?;
    check_calibration(scores, harms, bound)?;

    // Sort (score, harm) pairs by score.
    let mut items: Vec<(f64, f64)> = scores.iter().copied().zip(harms.iter().copied()).collect();
    items.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let sorted_scores: Vec<f64> = items.iter().map(|item| item.0).collect();
    let group_ends = tie_group_ends(&sorted_scores);

    // Scan in i128 fixed point when every sum fits, else in big integers, both at the
    // lowest exponent among the inputs so that every value is an integer.
    let n = items.len() as u64;
    let sorted_harms: Vec<f64> = items.iter().map(|item| item.1).collect();
    let values = sorted_harms.iter().copied().chain([alpha, bound]);
    let feasible = match FixedPoint::for_values(values.clone(), n, n + 1) {
        Some(fixed) => {
            let budget = fixed.encode(alpha) * i128::from(n + 1);
            count_feasible_groups(
                &sorted_harms,
                &group_ends,
                fixed.encode(bound),
                &budget,
                |total, harm| *total += fixed.encode(harm),
            )
        }
        None => {
            let exponent = exact::lowest_exponent(values);
            let budget = exact::scaled(alpha, exponent) * BigInt::from(n + 1);
            count_feasible_groups(
                &sorted_harms,
                &group_ends,
                exact::scaled(bound, exponent),
                &budget,
                |total, harm| exact::add_scaled(total, harm, exponent),
            )
        }
    };
    let threshold = threshold_from_groups(&sorted_scores, &group_ends, feasible, min_size);
    tracing::debug!(
        n,
        alpha,
        bound,
        ?threshold,
        "conformal risk control threshold"
    );
    Ok(threshold)
}

/// Counts the leading tie groups whose cumulative harm plus `bound` stays within `budget`.
/// Returns `None` when even `tau = -inf` (no harm, only `bound`) exceeds the budget.
///
/// Harms are non-negative, so cumulative harm never decreases and the scan stops at the
/// first infeasible group.
fn count_feasible_groups<T: Ord>(
    sorted_harms: &[f64],
    group_ends: &[usize],
    bound: T,
    budget: &T,
    add: impl Fn(&mut T, f64),
) -> Option<usize> {
    if &bound > budget {
        return None;
    }
    let mut total = bound;
    let mut start = 0;
    let mut feasible = 0;
    for &end in group_ends {
        for &harm in &sorted_harms[start..end] {
            add(&mut total, harm);
        }
        if &total > budget {
            break;
        }
        feasible += 1;
        start = end;
    }
    Some(feasible)
}
