//! Weighted conformal risk control for covariate shift.
//!
//! When test items come from a different distribution than the calibration items, but
//! the shift is only in the inputs, weighting each calibration item by the density ratio
//! `w(x) = p_target(x) / p_calibration(x)` restores the guarantee. The threshold then
//! depends on the test item's own weight, so it is computed per test item:
//! the largest `tau` with
//! `sum_i(w_i * h_i * 1{s_i <= tau}) + w_test * B <= alpha * (sum_i(w_i) + w_test)`.
//! Multiplying every weight (test weight included) by one constant leaves the threshold
//! unchanged, so weights need only be known up to a constant.

use std::collections::BTreeMap;

use crate::check;
use crate::conformal::exact::Dyadic;
use crate::conformal::threshold::{
    check_calibration, min_calibration_size, threshold_from_groups, tie_group_ends, Threshold,
};
use crate::StatsError;

/// A weighted calibration set, sorted once so that each test item's threshold takes
/// `O(log n)` exact comparisons.
#[derive(Debug, Clone)]
pub struct WeightedCalibration {
    sorted_scores: Vec<f64>,
    group_ends: Vec<usize>,
    /// Exact `sum(w_i * h_i)` over the tie groups up to and including each group.
    cumulative_weighted_harm: Vec<Dyadic>,
    total_weight: Dyadic,
    alpha: Dyadic,
    bound: Dyadic,
    min_calibration_size: u64,
}

impl WeightedCalibration {
    /// Sorts the calibration items and sums their weighted harms exactly.
    ///
    /// `weights` are finite and non-negative, one per item; other inputs are as for
    /// [`crc_threshold`](crate::conformal::crc_threshold).
    ///
    /// # Errors
    /// As for `crc_threshold`, plus a weight that is negative, NaN or infinite.
    pub fn new(
        scores: &[f64],
        harms: &[f64],
        weights: &[f64],
        alpha: f64,
        bound: f64,
    ) -> Result<Self, StatsError> {
        let min_calibration_size = min_calibration_size(alpha, bound)?;
        check_calibration(scores, harms, bound)?;
        check::same_length("scores", scores, "weights", weights)?;
        check::in_range(
            "weights",
            weights,
            0.0,
            f64::MAX,
            "a finite weight of at least 0",
        )?;

        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let sorted_scores: Vec<f64> = order.iter().map(|&i| scores[i]).collect();
        let group_ends = tie_group_ends(&sorted_scores);

        let mut cumulative_weighted_harm = Vec::with_capacity(group_ends.len());
        let mut running = Dyadic::zero();
        let mut total_weight = Dyadic::zero();
        let mut start = 0;
        for &end in &group_ends {
            for &item in &order[start..end] {
                let weight = Dyadic::from_f64(weights[item]);
                running = &running + &(&weight * &Dyadic::from_f64(harms[item]));
                total_weight = &total_weight + &weight;
            }
            cumulative_weighted_harm.push(running.clone());
            start = end;
        }

        Ok(WeightedCalibration {
            sorted_scores,
            group_ends,
            cumulative_weighted_harm,
            total_weight,
            alpha: Dyadic::from_f64(alpha),
            bound: Dyadic::from_f64(bound),
            min_calibration_size,
        })
    }

    /// Computes the threshold for a test item of weight `test_weight` (finite, >= 0).
    ///
    /// [`Threshold::AbstainAll`] reports as `min_calibration_size` the number of
    /// calibration items that would be needed if all had the test item's weight.
    ///
    /// # Errors
    /// A negative, NaN or infinite `test_weight`, or a total weight of 0.
    pub fn threshold(&self, test_weight: f64) -> Result<Threshold, StatsError> {
        if !(test_weight >= 0.0 && test_weight.is_finite()) {
            return Err(StatsError::InvalidParameter {
                name: "test_weight",
                value: test_weight,
                expected: "a finite weight of at least 0",
            });
        }
        let test_weight = Dyadic::from_f64(test_weight);
        let all_weight = &self.total_weight + &test_weight;
        if all_weight == Dyadic::zero() {
            return Err(StatsError::Unsupported(
                "every calibration weight and the test weight are 0, so the weighted risk is undefined: \
                 give at least one item a positive weight"
                    .to_string(),
            ));
        }
        let budget = &self.alpha * &all_weight;
        let test_term = &test_weight * &self.bound;

        let feasible = if test_term > budget {
            None
        } else {
            // Cumulative weighted harm never decreases, so the feasible groups are a prefix.
            Some(
                self.cumulative_weighted_harm
                    .partition_point(|harm| (harm + &test_term) <= budget),
            )
        };
        Ok(threshold_from_groups(
            &self.sorted_scores,
            &self.group_ends,
            feasible,
            self.min_calibration_size,
        ))
    }
}

/// Computes the weighted CRC threshold for one test item (see the module docs).
///
/// Build a [`WeightedCalibration`] instead when thresholding many test items.
///
/// # Errors
/// As for [`WeightedCalibration::new`] and [`WeightedCalibration::threshold`].
pub fn weighted_crc_threshold(
    scores: &[f64],
    harms: &[f64],
    weights: &[f64],
    test_weight: f64,
    alpha: f64,
    bound: f64,
) -> Result<Threshold, StatsError> {
    WeightedCalibration::new(scores, harms, weights, alpha, bound)?.threshold(test_weight)
}

/// Computes category weights `w(c) = p_target(c) / p_calibration(c)`.
///
/// `p_calibration(c)` is the share of `calibration_categories` equal to `c`;
/// `target_frequencies` gives relative frequencies of the test distribution (any
/// non-negative numbers, normalised here to sum to 1). A calibration category missing
/// from `target_frequencies` gets weight 0.
///
/// # Errors
/// An empty calibration set, a frequency that is negative or NaN, frequencies summing to
/// 0, or a category with a positive target frequency but no calibration items (its
/// weight would be infinite).
pub fn category_weights(
    calibration_categories: &[String],
    target_frequencies: &BTreeMap<String, f64>,
) -> Result<BTreeMap<String, f64>, StatsError> {
    check::non_empty("calibration_categories", calibration_categories)?;
    let mut target_total = 0.0;
    for (category, &frequency) in target_frequencies {
        if !(frequency >= 0.0 && frequency.is_finite()) {
            return Err(StatsError::Unsupported(format!(
                "target frequency of category `{category}` is {frequency}: expected a finite number of at least 0"
            )));
        }
        target_total += frequency;
    }
    if target_total <= 0.0 {
        return Err(StatsError::Unsupported(
            "target category frequencies sum to 0: give at least one category a positive frequency"
                .to_string(),
        ));
    }

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for category in calibration_categories {
        *counts.entry(category.as_str()).or_default() += 1;
    }
    for (category, &frequency) in target_frequencies {
        if frequency > 0.0 && !counts.contains_key(category.as_str()) {
            return Err(StatsError::Unsupported(format!(
                "category `{category}` has target frequency {frequency} but no calibration items, so its weight \
                 would be infinite: add calibration items of that category or set its frequency to 0"
            )));
        }
    }

    let n = calibration_categories.len() as f64;
    let weights = counts
        .into_iter()
        .map(|(category, count)| {
            let target_share =
                target_frequencies.get(category).copied().unwrap_or(0.0) / target_total;
            let calibration_share = count as f64 / n;
            (category.to_string(), target_share / calibration_share)
        })
        .collect();
    Ok(weights)
}
