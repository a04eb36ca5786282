//! Seeded simulations: CRC keeps the executed harm rate at or below alpha on fresh
//! data, the weighted variant keeps it under a category shift, and the unweighted one
//! breaks there.
//!
//! Known distribution: risk score `s ~ Uniform(0, 1)`; harm `~ Bernoulli(p_c * s)` with
//! `p_c = 1` for category "risky" and `0.2` for category "safe". Under a threshold `tau`
//! the executed harm rate of a category is `p_c * tau^2 / 2`.

use std::collections::BTreeMap;

use assay_stats::conformal::{
    category_weights, crc_threshold, validity_check, weighted_validity_check, Threshold,
    WeightedCalibration,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ALPHA: f64 = 0.1;
const REPETITIONS: usize = 200;
/// Allowed excess of the mean executed harm over alpha. Each repetition's rate varies
/// with both its calibration and its test draw, with a standard deviation near 0.014
/// here, so the mean of 200 has a standard error near 0.001 and 0.005 is about five.
const TOLERANCE: f64 = 0.005;

struct Items {
    scores: Vec<f64>,
    harms: Vec<f64>,
    categories: Vec<String>,
}

/// Draws `count` items, each "risky" with probability `risky_share`.
fn draw_items(rng: &mut ChaCha8Rng, count: usize, risky_share: f64) -> Items {
    let mut items = Items {
        scores: Vec::new(),
        harms: Vec::new(),
        categories: Vec::new(),
    };
    for _ in 0..count {
        let risky = rng.random::<f64>() < risky_share;
        let score: f64 = rng.random();
        let harm_probability = if risky { score } else { 0.2 * score };
        items.scores.push(score);
        items.harms.push(if rng.random::<f64>() < harm_probability {
            1.0
        } else {
            0.0
        });
        items
            .categories
            .push(if risky { "risky" } else { "safe" }.to_string());
    }
    items
}

/// Mean over items of `harm * 1{executed}` under per-item thresholds.
fn executed_harm_rate(items: &Items, threshold_of: impl Fn(&str) -> Threshold) -> f64 {
    let executed_harm: f64 = items
        .scores
        .iter()
        .zip(&items.harms)
        .zip(&items.categories)
        .filter(|((score, _), category)| threshold_of(category).executes(**score))
        .map(|((_, harm), _)| harm)
        .sum();
    executed_harm / items.scores.len() as f64
}

#[test]
fn crc_holds_over_random_splits() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let pool = draw_items(&mut rng, 2_000, 0.5);
    let report = validity_check(
        &pool.scores,
        &pool.harms,
        None,
        0.5,
        ALPHA,
        1.0,
        REPETITIONS,
        12,
    )
    .unwrap();
    assert_eq!(report.executed_harm_rates.len(), REPETITIONS);
    assert!(
        report.mean_executed_harm_rate <= ALPHA + TOLERANCE,
        "mean executed harm {} exceeds alpha {ALPHA} + {TOLERANCE}",
        report.mean_executed_harm_rate
    );
    // CRC is nearly tight with continuous scores: the mean is within B / (n + 1) of
    // alpha from below, plus noise, so it is not trivially conservative.
    assert!(
        report.mean_executed_harm_rate >= ALPHA - 0.01,
        "mean {}",
        report.mean_executed_harm_rate
    );
    assert_eq!(report.abstain_all_splits, 0);
}

#[test]
fn crc_holds_on_fresh_draws() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut rates = Vec::new();
    for _ in 0..REPETITIONS {
        let calibration = draw_items(&mut rng, 1_000, 0.5);
        let test = draw_items(&mut rng, 1_000, 0.5);
        let threshold = crc_threshold(&calibration.scores, &calibration.harms, ALPHA, 1.0).unwrap();
        rates.push(executed_harm_rate(&test, |_| threshold));
    }
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    assert!(mean <= ALPHA + TOLERANCE, "mean executed harm {mean}");
}

#[test]
fn weighted_crc_holds_under_category_shift() {
    // Calibration has 20% risky items, the target 80%.
    let target_frequencies =
        BTreeMap::from([("risky".to_string(), 0.8), ("safe".to_string(), 0.2)]);
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let mut weighted_rates = Vec::new();
    let mut unweighted_rates = Vec::new();
    for _ in 0..REPETITIONS {
        let calibration = draw_items(&mut rng, 1_000, 0.2);
        let target = draw_items(&mut rng, 1_000, 0.8);

        // Weighted: one threshold per category weight.
        let weights_by_category =
            category_weights(&calibration.categories, &target_frequencies).unwrap();
        let weights: Vec<f64> = calibration
            .categories
            .iter()
            .map(|c| weights_by_category[c])
            .collect();
        let weighted = WeightedCalibration::new(
            &calibration.scores,
            &calibration.harms,
            &weights,
            ALPHA,
            1.0,
        )
        .unwrap();
        let thresholds: BTreeMap<&str, Threshold> = weights_by_category
            .iter()
            .map(|(category, &weight)| (category.as_str(), weighted.threshold(weight).unwrap()))
            .collect();
        weighted_rates.push(executed_harm_rate(&target, |category| thresholds[category]));

        // Unweighted: one threshold for all.
        let plain = crc_threshold(&calibration.scores, &calibration.harms, ALPHA, 1.0).unwrap();
        unweighted_rates.push(executed_harm_rate(&target, |_| plain));
    }

    let weighted_mean = weighted_rates.iter().sum::<f64>() / REPETITIONS as f64;
    let unweighted_mean = unweighted_rates.iter().sum::<f64>() / REPETITIONS as f64;
    assert!(
        weighted_mean <= ALPHA + TOLERANCE,
        "weighted mean executed harm {weighted_mean}"
    );
    // Unweighted CRC calibrates to the source mix (risk 0.36 tau^2 / 2, tau near 0.75),
    // which on the target gives about 0.84 * 0.75^2 / 2, near 0.24.
    assert!(
        unweighted_mean > ALPHA + 0.05,
        "unweighted mean executed harm {unweighted_mean}"
    );
}

#[test]
fn weighted_validity_check_reweights_to_target() {
    let target_frequencies =
        BTreeMap::from([("risky".to_string(), 0.8), ("safe".to_string(), 0.2)]);
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let pool = draw_items(&mut rng, 2_000, 0.2);
    let weighted = weighted_validity_check(
        &pool.scores,
        &pool.harms,
        &pool.categories,
        &target_frequencies,
        None,
        0.5,
        ALPHA,
        1.0,
        REPETITIONS,
        42,
    )
    .unwrap();
    assert!(
        weighted.mean_executed_harm_rate <= ALPHA + TOLERANCE,
        "weighted {}",
        weighted.mean_executed_harm_rate
    );
    assert!(weighted.mean_executed_harm_rate > 0.0);
}
