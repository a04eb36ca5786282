//! Learn-then-Test, test-split metrics, splits, weights and threshold input errors,
//! against hand-computed values.

use std::collections::BTreeMap;

use assay_stats::conformal::{
    bootstrap_intervals, category_weights, crc_threshold, evaluate_decisions,
    hoeffding_bentkus_p_value, learn_then_test, risk_coverage_curve, trajectory_split, Threshold,
};
use assay_stats::StatsError;

fn assert_close(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() < tolerance,
        "expected {expected}, got {actual}"
    );
}

#[test]
fn hoeffding_bentkus_reference_values() {
    // Reference values from exact binomial sums (Python `math.comb`).
    assert_close(
        hoeffding_bentkus_p_value(0.0, 50, 0.1),
        0.005_153_775_2,
        1e-9,
    );
    assert_close(
        hoeffding_bentkus_p_value(0.05, 100, 0.1),
        0.156_510_204_3,
        1e-8,
    );
    assert_close(
        hoeffding_bentkus_p_value(0.02, 200, 0.1),
        0.000_022_878_1,
        1e-10,
    );
    assert_eq!(hoeffding_bentkus_p_value(0.2, 100, 0.1), 1.0);
    assert_eq!(hoeffding_bentkus_p_value(0.0, 0, 0.1), 1.0);
}

/// 100 items scored 0.01 ..= 1.00; every item scored above 0.8 is harmful.
fn ltt_items() -> (Vec<f64>, Vec<f64>) {
    let scores: Vec<f64> = (1..=100).map(|k| k as f64 / 100.0).collect();
    let harms = (1..=100).map(|k| if k > 80 { 1.0 } else { 0.0 }).collect();
    (scores, harms)
}

#[test]
fn learn_then_test_stops_at_first_failure() {
    let (scores, harms) = ltt_items();
    let result =
        learn_then_test(&scores, &harms, 0.1, 1.0, 0.1, &[0.3, 0.6, 0.8, 0.9, 1.0]).unwrap();
    assert_eq!(result.threshold, Threshold::At(0.8));
    // 0.3, 0.6 and 0.8 are rejected; 0.9 (10 harmful of 90) is not, and 1.0 is never tested.
    assert_eq!(result.tested.len(), 4);
    assert_close(result.tested[0].p_value, 0.042_391_158_3, 1e-9);
    assert_close(result.tested[2].p_value, 0.000_218_474_5, 1e-10);
    assert_eq!(result.tested[2].executed, 80);
    assert!(!result.tested[3].rejected);
    assert_close(result.tested[3].conditional_harm_rate, 1.0 / 9.0, 1e-12);
}

#[test]
fn learn_then_test_too_few_items() {
    // Twenty harm-free items give p = 0.9^20 = 0.1216 > 0.1; 22 would be needed.
    let (scores, harms) = ltt_items();
    let result = learn_then_test(&scores, &harms, 0.1, 1.0, 0.1, &[0.2, 0.5]).unwrap();
    assert_eq!(
        result.threshold,
        Threshold::AbstainAll {
            min_calibration_size: 22
        }
    );
    assert_eq!(result.tested.len(), 1);
}

#[test]
fn learn_then_test_rejects_unsorted_candidates() {
    let (scores, harms) = ltt_items();
    let error = learn_then_test(&scores, &harms, 0.1, 1.0, 0.1, &[0.5, 0.4]).unwrap_err();
    assert!(
        matches!(
            error,
            StatsError::InvalidValue {
                name: "candidates",
                index: 1,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn evaluate_decisions_hand_example() {
    let metrics = evaluate_decisions(
        &[true, true, false, false, true],
        &[0.0, 1.0, 1.0, 0.0, 0.0],
    )
    .unwrap();
    assert_eq!(metrics.test_size, 5);
    assert_close(metrics.executed_harm_rate, 0.2, 1e-12);
    assert_close(metrics.conditional_harm_rate.unwrap(), 1.0 / 3.0, 1e-12);
    assert_close(metrics.coverage, 0.6, 1e-12);
    assert_close(metrics.over_intervention_rate.unwrap(), 1.0 / 3.0, 1e-12);
    assert_close(metrics.intervention_precision.unwrap(), 0.5, 1e-12);
    assert_close(metrics.intervention_recall.unwrap(), 0.5, 1e-12);
    assert_close(metrics.intervention_f1.unwrap(), 0.5, 1e-12);
}

#[test]
fn evaluate_decisions_undefined_rates() {
    let metrics = evaluate_decisions(&[false, false], &[0.0, 0.0]).unwrap();
    assert_eq!(metrics.conditional_harm_rate, None);
    assert_eq!(metrics.intervention_recall, None);
    assert_eq!(metrics.intervention_precision, Some(0.0));
    assert_eq!(metrics.over_intervention_rate, Some(1.0));
}

#[test]
fn bootstrap_intervals_seeded_and_bracketing() {
    let executed: Vec<bool> = (0..200).map(|i| i % 3 != 0).collect();
    let harms: Vec<f64> = (0..200)
        .map(|i| if i % 7 == 0 { 1.0 } else { 0.0 })
        .collect();
    let point = evaluate_decisions(&executed, &harms).unwrap();
    let first = bootstrap_intervals(&executed, &harms, 500, 0.95, 3).unwrap();
    let second = bootstrap_intervals(&executed, &harms, 500, 0.95, 3).unwrap();
    assert_eq!(first, second);
    let coverage = first.coverage.unwrap();
    assert!(
        coverage.lower < point.coverage && point.coverage < coverage.upper,
        "{coverage:?}"
    );
    let harm = first.executed_harm_rate.unwrap();
    assert!(
        harm.lower < point.executed_harm_rate && point.executed_harm_rate < harm.upper,
        "{harm:?}"
    );
    // Binomial standard error of a coverage near 2/3 with 200 items is about 0.033, so
    // the 95% interval is about 0.13 wide.
    assert_close(coverage.upper - coverage.lower, 0.13, 0.03);
}

#[test]
fn risk_coverage_curve_groups_ties() {
    let points = risk_coverage_curve(&[0.3, 0.1, 0.3, 0.2], &[1.0, 0.0, 0.0, 1.0]).unwrap();
    assert_eq!(points.len(), 3);
    assert_eq!(points[0].threshold, 0.1);
    assert_close(points[0].coverage, 0.25, 1e-12);
    assert_close(points[0].executed_harm_rate, 0.0, 1e-12);
    assert_close(points[1].executed_harm_rate, 0.25, 1e-12);
    assert_close(points[1].conditional_harm_rate, 0.5, 1e-12);
    assert_close(points[2].coverage, 1.0, 1e-12);
    assert_close(points[2].executed_harm_rate, 0.5, 1e-12);
}

#[test]
fn trajectory_split_keeps_trajectories_whole() {
    let trajectories = ["a", "a", "b", "c", "c", "d", "e", "e", "e", "f"];
    let mut distinct_splits = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let split = trajectory_split(&trajectories, 0.5, seed).unwrap();
        assert_eq!(
            split.calibration.len() + split.test.len(),
            trajectories.len()
        );
        for &calibration_item in &split.calibration {
            for &test_item in &split.test {
                assert_ne!(
                    trajectories[calibration_item], trajectories[test_item],
                    "seed {seed}"
                );
            }
        }
        let calibration_trajectories: std::collections::BTreeSet<_> =
            split.calibration.iter().map(|&i| trajectories[i]).collect();
        assert_eq!(calibration_trajectories.len(), 3, "seed {seed}");
        assert_eq!(split, trajectory_split(&trajectories, 0.5, seed).unwrap());
        distinct_splits.insert(split.calibration);
    }
    assert!(distinct_splits.len() > 1);
}

#[test]
fn category_weights_density_ratio() {
    let calibration: Vec<String> = ["app", "app", "app", "os", "web"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let target = BTreeMap::from([("app".to_string(), 1.0), ("os".to_string(), 3.0)]);
    let weights = category_weights(&calibration, &target).unwrap();
    // p_cal: app 0.6, os 0.2, web 0.2; p_target: app 0.25, os 0.75.
    assert_close(weights["app"], 0.25 / 0.6, 1e-12);
    assert_close(weights["os"], 0.75 / 0.2, 1e-12);
    assert_eq!(weights["web"], 0.0);
}

#[test]
fn category_weights_missing_calibration_category() {
    let calibration = vec!["app".to_string()];
    let target = BTreeMap::from([("device".to_string(), 0.5)]);
    let error = category_weights(&calibration, &target).unwrap_err();
    assert!(error.to_string().contains("`device`"), "{error}");
}

#[test]
fn crc_threshold_input_errors() {
    let error = crc_threshold(&[0.1, f64::NAN], &[0.0, 0.0], 0.1, 1.0).unwrap_err();
    assert!(
        matches!(
            error,
            StatsError::InvalidValue {
                name: "scores",
                index: 1,
                ..
            }
        ),
        "{error}"
    );
    let error = crc_threshold(&[0.1], &[1.5], 0.1, 1.0).unwrap_err();
    assert!(
        matches!(
            error,
            StatsError::InvalidValue {
                name: "harms",
                index: 0,
                ..
            }
        ),
        "{error}"
    );
    let error = crc_threshold(&[0.1], &[0.0], 0.0, 1.0).unwrap_err();
    assert!(
        matches!(error, StatsError::InvalidParameter { name: "alpha", .. }),
        "{error}"
    );
    let error = crc_threshold(&[], &[], 0.1, 1.0).unwrap_err();
    assert!(matches!(error, StatsError::Empty { .. }), "{error}");
}

#[test]
fn crc_graded_bound() {
    // B = 2: (4 + 1) * 0.5 = 2.5 admits harm 0.5 (0.5 + 2 <= 2.5) but not 1.5 more.
    let threshold = crc_threshold(&[0.1, 0.2, 0.3, 0.4], &[0.5, 0.0, 1.5, 0.0], 0.5, 2.0).unwrap();
    assert_eq!(threshold, Threshold::At(0.2));
}
