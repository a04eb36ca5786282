//! Invariants of the thresholds and metrics, checked on generated inputs.

use assay_stats::conformal::{crc_threshold, weighted_crc_threshold, Threshold};
use assay_stats::ece::{expected_calibration_error, Binning, CalibrationNorm};
use proptest::prelude::*;

/// Calibration items on a coarse score grid (so ties occur) with harms in quarters.
fn calibration_items() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((0u32..20, 0u32..=4), 1..60).prop_map(|items| {
        items
            .into_iter()
            .map(|(score, harm)| (score as f64 / 20.0, harm as f64 / 4.0))
            .collect()
    })
}

fn alphas() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5])
}

fn unzip(items: &[(f64, f64)]) -> (Vec<f64>, Vec<f64>) {
    items.iter().copied().unzip()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn weight_scaling_leaves_threshold(
        items in calibration_items(),
        alpha in alphas(),
        seed_weights in prop::collection::vec(1u32..=8, 60),
        test_weight in 1u32..=8,
        factor in 1u32..=1000,
    ) {
        // Small integer weights times an integer factor are exact in f64, so the scaled
        // problem is the same rational problem.
        let (scores, harms) = unzip(&items);
        let weights: Vec<f64> = seed_weights[..items.len()].iter().map(|&w| w as f64).collect();
        let scaled: Vec<f64> = weights.iter().map(|w| w * factor as f64).collect();
        let original = weighted_crc_threshold(&scores, &harms, &weights, test_weight as f64, alpha, 1.0).unwrap();
        let rescaled = weighted_crc_threshold(
            &scores, &harms, &scaled, (test_weight * factor) as f64, alpha, 1.0,
        ).unwrap();
        prop_assert_eq!(original, rescaled);
    }

    #[test]
    fn weight_scaling_by_power_of_two(
        items in calibration_items(),
        alpha in alphas(),
        weights in prop::collection::vec(0.01f64..10.0, 60),
        test_weight in 0.01f64..10.0,
        power in -20i32..20,
    ) {
        let (scores, harms) = unzip(&items);
        let weights = &weights[..items.len()];
        let factor = 2f64.powi(power);
        let scaled: Vec<f64> = weights.iter().map(|w| w * factor).collect();
        let original = weighted_crc_threshold(&scores, &harms, weights, test_weight, alpha, 1.0).unwrap();
        let rescaled = weighted_crc_threshold(&scores, &harms, &scaled, test_weight * factor, alpha, 1.0).unwrap();
        prop_assert_eq!(original, rescaled);
    }

    #[test]
    fn unit_weights_equal_plain_crc(items in calibration_items(), alpha in alphas()) {
        let (scores, harms) = unzip(&items);
        let unit = vec![1.0; scores.len()];
        prop_assert_eq!(
            weighted_crc_threshold(&scores, &harms, &unit, 1.0, alpha, 1.0).unwrap(),
            crc_threshold(&scores, &harms, alpha, 1.0).unwrap()
        );
    }

    #[test]
    fn harmless_item_never_lowers_threshold(
        items in calibration_items(),
        alpha in alphas(),
        new_score in 0u32..25,
    ) {
        let (mut scores, mut harms) = unzip(&items);
        let before = crc_threshold(&scores, &harms, alpha, 1.0).unwrap();
        scores.push(new_score as f64 / 20.0);
        harms.push(0.0);
        let after = crc_threshold(&scores, &harms, alpha, 1.0).unwrap();
        prop_assert!(after.tau() >= before.tau(), "before {:?}, after {:?}", before, after);
    }

    #[test]
    fn crc_threshold_is_largest_feasible(
        items in calibration_items(),
        alpha_64ths in prop::sample::select(vec![2i64, 4, 8, 12, 16, 24, 32]),
    ) {
        // Independent check in integers: harms are quarters and alpha is a multiple of
        // 1/64, both exact in f64, so scaling by 256 makes every quantity an integer.
        let (scores, harms) = unzip(&items);
        let alpha = alpha_64ths as f64 / 64.0;
        let threshold = crc_threshold(&scores, &harms, alpha, 1.0).unwrap();
        let budget = (scores.len() as i64 + 1) * alpha_64ths * 4;
        let loss_at = |tau: f64| -> i64 {
            let quarters: i64 = scores.iter().zip(&harms)
                .filter(|(s, _)| **s <= tau)
                .map(|(_, h)| (h * 4.0).round() as i64)
                .sum();
            (quarters + 4) * 64
        };
        match threshold {
            Threshold::At(tau) => {
                prop_assert!(loss_at(tau) <= budget);
                let next = scores.iter().copied().filter(|&s| s > tau).fold(f64::INFINITY, f64::min);
                prop_assert!(loss_at(next) > budget, "tau {} is not the largest feasible", tau);
            }
            Threshold::ExecuteAll => prop_assert!(loss_at(f64::INFINITY) <= budget),
            Threshold::AbstainAll { .. } => {
                let lowest = scores.iter().copied().fold(f64::INFINITY, f64::min);
                prop_assert!(loss_at(lowest) > budget);
            }
        }
    }

    #[test]
    fn ece_of_calibrated_sample_is_zero(
        groups in prop::collection::btree_map(0u32..=10, 1usize..5, 1..8),
        bins in 1usize..30,
    ) {
        // Group k has confidence k / 10 and 10 * r items of which k * r are correct, so
        // its accuracy equals its confidence. A bin that contains several whole groups has
        // accuracy and mean confidence both equal to the count-weighted mean of theirs,
        // so every equal-width bin has a gap of 0.
        let mut confidences = Vec::new();
        let mut correct = Vec::new();
        for (&k, &repeat) in &groups {
            for item in 0..10 * repeat {
                confidences.push(k as f64 / 10.0);
                correct.push(item < k as usize * repeat);
            }
        }
        for norm in [CalibrationNorm::L1, CalibrationNorm::L2, CalibrationNorm::Max] {
            let value = expected_calibration_error(&confidences, &correct, bins, Binning::EqualWidth, norm).unwrap();
            prop_assert!(value.abs() < 1e-12, "ECE {} with {} bins and {:?}", value, bins, norm);
        }
    }
}

#[test]
fn crc_exact_in_fixed_point() {
    // (3 + 1) * 0.25 = 1, so the last item's harm 2^-60 makes its group infeasible; in
    // f64, 1 + 2^-60 rounds to 1 and would wrongly execute everything.
    let harm = 2f64.powi(-60);
    assert_eq!(1.0 + harm, 1.0);
    let threshold = crc_threshold(&[0.1, 0.2, 0.3], &[0.0, 0.0, harm], 0.25, 1.0).unwrap();
    assert_eq!(threshold, Threshold::At(0.2));
}

#[test]
fn crc_exact_in_big_dyadics() {
    // A harm of 2^-1000 next to a bound of 1 needs about 1000 bits, beyond i128.
    let harm = 2f64.powi(-1000);
    let threshold = crc_threshold(&[0.1, 0.2, 0.3], &[0.0, 0.0, harm], 0.25, 1.0).unwrap();
    assert_eq!(threshold, Threshold::At(0.2));
    let threshold = crc_threshold(&[0.1, 0.2, 0.3], &[0.0, 0.0, 0.0], 0.25, 1.0).unwrap();
    assert_eq!(threshold, Threshold::ExecuteAll);
}

#[test]
fn weighted_crc_exact_with_tiny_weighted_harm() {
    // Unit weights, test weight 1: budget 0.25 * 4 = 1; the weighted harm 2^-1000 makes
    // the last group infeasible.
    let harm = 2f64.powi(-1000);
    let threshold = weighted_crc_threshold(
        &[0.1, 0.2, 0.3],
        &[0.0, 0.0, harm],
        &[1.0, 1.0, 1.0],
        1.0,
        0.25,
        1.0,
    )
    .unwrap();
    assert_eq!(threshold, Threshold::At(0.2));
}
