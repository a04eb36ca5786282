//! Empirical validity check: repeat random calibration/test splits and compare the
//! mean executed harm rate on the test splits with `alpha`.
//!
//! Conformal risk control bounds the executed harm rate in expectation over splits, so
//! the mean over many splits should stay at or below `alpha` up to sampling noise
//! (about two standard errors).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::check;
use crate::conformal::evaluate::evaluate_decisions;
use crate::conformal::split::{random_split, trajectory_split, Split};
use crate::conformal::threshold::{crc_threshold, Threshold};
use crate::conformal::weighted::{category_weights, WeightedCalibration};
use crate::StatsError;

/// Summary of repeated calibration/test splits.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ValidityReport {
    /// Target risk the thresholds were calibrated for.
    pub alpha: f64,
    /// Executed harm rate on each split's test items, in harm units. For the weighted
    /// check this is the estimate under the target category frequencies.
    pub executed_harm_rates: Vec<f64>,
    /// Mean of `executed_harm_rates`.
    pub mean_executed_harm_rate: f64,
    /// Standard error of that mean (sample standard deviation over `sqrt(splits)`).
    pub standard_error: f64,
    /// Mean fraction of test items executed.
    pub mean_coverage: f64,
    /// Splits whose calibration set gave [`Threshold::AbstainAll`] (for the weighted
    /// check: every test item abstained).
    pub abstain_all_splits: usize,
}

impl ValidityReport {
    fn from_splits(
        alpha: f64,
        executed_harm_rates: Vec<f64>,
        coverages: &[f64],
        abstain_all_splits: usize,
    ) -> Self {
        let count = executed_harm_rates.len() as f64;
        let mean = executed_harm_rates.iter().sum::<f64>() / count;
        let variance = if executed_harm_rates.len() > 1 {
            executed_harm_rates
                .iter()
                .map(|rate| (rate - mean).powi(2))
                .sum::<f64>()
                / (count - 1.0)
        } else {
            0.0
        };
        ValidityReport {
            alpha,
            mean_executed_harm_rate: mean,
            standard_error: (variance / count).sqrt(),
            mean_coverage: coverages.iter().sum::<f64>() / count,
            executed_harm_rates,
            abstain_all_splits,
        }
    }
}

/// Draws one split of a repeated-split check.
fn draw_split(
    item_count: usize,
    trajectories: Option<&[String]>,
    calibration_fraction: f64,
    seed: u64,
) -> Result<Split, StatsError> {
    match trajectories {
        Some(trajectories) => trajectory_split(trajectories, calibration_fraction, seed),
        None => random_split(item_count, calibration_fraction, seed),
    }
}

/// Rejects a split count of 0.
fn check_split_count(split_count: usize) -> Result<(), StatsError> {
    if split_count == 0 {
        return Err(StatsError::InvalidParameter {
            name: "split_count",
            value: 0.0,
            expected: "at least 1 split",
        });
    }
    Ok(())
}

/// Gathers `values[i]` for each index.
fn gather<T: Clone>(values: &[T], indices: &[usize]) -> Vec<T> {
    indices.iter().map(|&i| values[i].clone()).collect()
}

/// Repeats `split_count` seeded splits (by trajectory when `trajectories` is given),
/// calibrates plain CRC on each calibration part and evaluates it on the test part.
///
/// # Errors
/// As for [`crc_threshold`] and [`trajectory_split`], `split_count == 0`, or a split
/// with an empty calibration or test part.
#[allow(clippy::too_many_arguments)]
pub fn validity_check(
    scores: &[f64],
    harms: &[f64],
    trajectories: Option<&[String]>,
    calibration_fraction: f64,
    alpha: f64,
    bound: f64,
    split_count: usize,
    seed: u64,
) -> Result<ValidityReport, StatsError> {
    check_split_count(split_count)?;
    check::same_length("scores", scores, "harms", harms)?;
    if let Some(trajectories) = trajectories {
        check::same_length("scores", scores, "trajectories", trajectories)?;
    }

    let mut seeds = ChaCha8Rng::seed_from_u64(seed);
    let mut rates = Vec::with_capacity(split_count);
    let mut coverages = Vec::with_capacity(split_count);
    let mut abstain_all_splits = 0;
    for _ in 0..split_count {
        let split = draw_split(
            scores.len(),
            trajectories,
            calibration_fraction,
            seeds.random(),
        )?;
        let threshold = crc_threshold(
            &gather(scores, &split.calibration),
            &gather(harms, &split.calibration),
            alpha,
            bound,
        )?;
        abstain_all_splits += usize::from(matches!(threshold, Threshold::AbstainAll { .. }));

        let executed: Vec<bool> = split
            .test
            .iter()
            .map(|&i| threshold.executes(scores[i]))
            .collect();
        let metrics = evaluate_decisions(&executed, &gather(harms, &split.test))?;
        rates.push(metrics.executed_harm_rate);
        coverages.push(metrics.coverage);
    }
    Ok(ValidityReport::from_splits(
        alpha,
        rates,
        &coverages,
        abstain_all_splits,
    ))
}

/// Repeats seeded splits as [`validity_check`] does, but calibrates weighted CRC with
/// category weights `p_target(c) / p_calibration(c)` and thresholds each test item by
/// its category's weight.
///
/// The test split comes from the calibration distribution, so each split's executed
/// harm rate is estimated under the target by reweighting categories:
/// `sum_c p_target(c) * mean(h * 1{executed})` over the test items of category `c`.
///
/// # Errors
/// As for [`validity_check`] and [`category_weights`]; a split whose test part lacks a
/// category with positive target frequency cannot be reweighted and is an error.
#[allow(clippy::too_many_arguments)]
pub fn weighted_validity_check(
    scores: &[f64],
    harms: &[f64],
    categories: &[String],
    target_frequencies: &BTreeMap<String, f64>,
    trajectories: Option<&[String]>,
    calibration_fraction: f64,
    alpha: f64,
    bound: f64,
    split_count: usize,
    seed: u64,
) -> Result<ValidityReport, StatsError> {
    check_split_count(split_count)?;
    check::same_length("scores", scores, "harms", harms)?;
    check::same_length("scores", scores, "categories", categories)?;
    if let Some(trajectories) = trajectories {
        check::same_length("scores", scores, "trajectories", trajectories)?;
    }

    let mut seeds = ChaCha8Rng::seed_from_u64(seed);
    let mut rates = Vec::with_capacity(split_count);
    let mut coverages = Vec::with_capacity(split_count);
    let mut abstain_all_splits = 0;
    for _ in 0..split_count {
        let split = draw_split(
            scores.len(),
            trajectories,
            calibration_fraction,
            seeds.random(),
        )?;

        // Calibrate with weights from the calibration part's category shares.
        let calibration_categories = gather(categories, &split.calibration);
        let weights_by_category = category_weights(&calibration_categories, target_frequencies)?;
        let calibration_weights: Vec<f64> = calibration_categories
            .iter()
            .map(|category| weights_by_category[category])
            .collect();
        let calibration = WeightedCalibration::new(
            &gather(scores, &split.calibration),
            &gather(harms, &split.calibration),
            &calibration_weights,
            alpha,
            bound,
        )?;

        // Threshold each test item by its own weight, then reweight the test part to
        // the target frequencies with its own category shares.
        let test_categories = gather(categories, &split.test);
        let test_weights = category_weights(&test_categories, target_frequencies)?;
        let mut executed_count = 0;
        let mut weighted_executed_harm = 0.0;
        let mut total_test_weight = 0.0;
        for (&item, category) in split.test.iter().zip(&test_categories) {
            // A test category that never appears in calibration has zero target
            // frequency (else `category_weights` failed above), so its weight is 0.
            let weight = weights_by_category.get(category).copied().unwrap_or(0.0);
            let executes = calibration.threshold(weight)?.executes(scores[item]);
            executed_count += usize::from(executes);
            let target_weight = test_weights[category];
            total_test_weight += target_weight;
            if executes {
                weighted_executed_harm += target_weight * harms[item];
            }
        }
        abstain_all_splits += usize::from(executed_count == 0);
        rates.push(weighted_executed_harm / total_test_weight);
        coverages.push(executed_count as f64 / split.test.len() as f64);
    }
    Ok(ValidityReport::from_splits(
        alpha,
        rates,
        &coverages,
        abstain_all_splits,
    ))
}
