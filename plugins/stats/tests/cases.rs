//! Test vectors for calibration error, AUROC, F1 and conformal risk control, with
//! values to 6 decimals. Source: hand computations shared by peer projects' bug
//! reports, checked here again by hand in the comments.

use assay_stats::auroc::auroc;
use assay_stats::conformal::{crc_threshold, weighted_crc_threshold, Threshold};
use assay_stats::ece::{expected_calibration_error, Binning, CalibrationNorm};
use assay_stats::f1::{binary_f1, macro_f1, set_f1, ZeroDivision};

const TOLERANCE: f64 = 1e-6;

fn correct(labels: &[u8]) -> Vec<bool> {
    labels.iter().map(|&label| label == 1).collect()
}

fn ece(confidences: &[f64], labels: &[u8], bins: usize, norm: CalibrationNorm) -> f64 {
    expected_calibration_error(
        confidences,
        &correct(labels),
        bins,
        Binning::EqualWidth,
        norm,
    )
    .unwrap()
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < TOLERANCE,
        "expected {expected:.6}, got {actual:.9}"
    );
}

#[test]
fn ece_perfectly_calibrated_is_zero() {
    let confidences = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
    let labels = [1, 0, 0, 0, 1, 1, 1, 0];
    assert_close(ece(&confidences, &labels, 10, CalibrationNorm::L1), 0.0);
    assert_close(ece(&confidences, &labels, 15, CalibrationNorm::L1), 0.0);
}

#[test]
fn ece_ten_items_all_norms() {
    let confidences = [0.95, 0.92, 0.85, 0.81, 0.72, 0.65, 0.55, 0.45, 0.35, 0.15];
    let labels = [1, 0, 1, 1, 0, 1, 0, 1, 0, 0];
    assert_close(ece(&confidences, &labels, 10, CalibrationNorm::L1), 0.388);
    assert_close(
        ece(&confidences, &labels, 10, CalibrationNorm::L2),
        0.427452,
    );
    assert_close(ece(&confidences, &labels, 10, CalibrationNorm::Max), 0.72);
    assert_close(ece(&confidences, &labels, 15, CalibrationNorm::L1), 0.398);
    assert_close(
        ece(&confidences, &labels, 15, CalibrationNorm::L2),
        0.479333,
    );
    assert_close(ece(&confidences, &labels, 15, CalibrationNorm::Max), 0.92);
}

#[test]
fn ece_confidence_one_in_last_bin() {
    let confidences = [1.0, 1.0, 0.95, 0.95, 0.55];
    let labels = [0, 1, 1, 1, 1];
    assert_close(ece(&confidences, &labels, 10, CalibrationNorm::L1), 0.27);
    assert_close(ece(&confidences, &labels, 15, CalibrationNorm::L1), 0.27);
}

#[test]
fn ece_confidence_zero_in_first_bin() {
    let confidences = [0.0, 0.0, 0.33];
    let labels = [0, 1, 0];
    assert_close(
        ece(&confidences, &labels, 10, CalibrationNorm::L1),
        0.443333,
    );
}

#[test]
fn auroc_separable_with_one_swap() {
    let value = auroc(&[0.1, 0.4, 0.35, 0.8], &correct(&[0, 0, 1, 1]))
        .unwrap()
        .unwrap();
    assert_close(value, 0.75);
}

#[test]
fn auroc_ties_count_one_half() {
    let value = auroc(&[0.9, 0.9, 0.7, 0.7, 0.5], &correct(&[1, 0, 1, 0, 1]))
        .unwrap()
        .unwrap();
    assert_close(value, 1.0 / 3.0);
}

#[test]
fn auroc_all_scores_equal() {
    let value = auroc(&[0.6; 4], &correct(&[1, 0, 1, 0])).unwrap().unwrap();
    assert_close(value, 0.5);
}

#[test]
fn auroc_one_class_is_missing() {
    assert_eq!(auroc(&[0.2, 0.5, 0.9], &correct(&[1, 1, 1])).unwrap(), None);
}

#[test]
fn set_f1_partial_overlap() {
    assert_close(
        set_f1(&[1, 2, 4], &[1, 2, 6, 12], ZeroDivision::Zero).unwrap(),
        0.571429,
    );
}

#[test]
fn set_f1_empty_sets() {
    let empty: [u32; 0] = [];
    assert_eq!(set_f1(&empty, &empty, ZeroDivision::One).unwrap(), 1.0);
    assert_eq!(set_f1(&empty, &empty, ZeroDivision::Zero).unwrap(), 0.0);
    for policy in [ZeroDivision::Zero, ZeroDivision::One] {
        assert_eq!(set_f1(&[3], &empty, policy).unwrap(), 0.0);
        assert_eq!(set_f1(&empty, &[3], policy).unwrap(), 0.0);
    }
}

#[test]
fn macro_f1_with_absent_class() {
    let y_true = [0, 1, 2, 0, 1, 2];
    let y_pred = [0, 2, 1, 0, 0, 1];
    assert_close(
        macro_f1(&y_true, &y_pred, None, ZeroDivision::Zero).unwrap(),
        0.266667,
    );
    let labels = [0, 1, 2, 3];
    assert_close(
        macro_f1(&y_true, &y_pred, Some(&labels), ZeroDivision::Zero).unwrap(),
        0.2,
    );
    assert_close(
        macro_f1(&y_true, &y_pred, Some(&labels), ZeroDivision::One).unwrap(),
        0.45,
    );
    assert_close(
        macro_f1(&y_true, &y_pred, Some(&labels), ZeroDivision::Exclude).unwrap(),
        0.266667,
    );
}

#[test]
fn binary_f1_no_true_positive_is_zero() {
    let y_true = correct(&[1, 0, 0]);
    let y_pred = correct(&[0, 1, 0]);
    assert_eq!(binary_f1(&y_true, &y_pred, ZeroDivision::One).unwrap(), 0.0);
}

/// Scores 0.05, 0.10, ..., 0.95, harmful at .25, .50, .65, .75, .80, .90 and .95.
fn base_set() -> (Vec<f64>, Vec<f64>) {
    let scores: Vec<f64> = (1..=19).map(|k| k as f64 * 0.05).collect();
    let harmful = [5, 10, 13, 15, 16, 18, 19];
    let harms = (1..=19)
        .map(|k| if harmful.contains(&k) { 1.0 } else { 0.0 })
        .collect();
    (scores, harms)
}

fn assert_threshold(threshold: Threshold, expected_tau: f64) {
    match threshold {
        Threshold::At(tau) => assert_close(tau, expected_tau),
        other => panic!("expected a threshold of {expected_tau}, got {other:?}"),
    }
}

#[test]
fn crc_base_set_alpha_0_22() {
    let (scores, harms) = base_set();
    assert_threshold(crc_threshold(&scores, &harms, 0.22, 1.0).unwrap(), 0.70);
}

#[test]
fn crc_bound_equal_to_alpha_allowed() {
    // (19 + 1) * 0.2 = 4 and harm up to 0.70 is 3, so 3 + 1 <= 4 is met with equality.
    let (scores, harms) = base_set();
    assert_threshold(crc_threshold(&scores, &harms, 0.20, 1.0).unwrap(), 0.70);
}

#[test]
fn crc_no_harm_infeasible_then_execute_all() {
    let scores: Vec<f64> = (1..=9).map(|k| k as f64 / 10.0).collect();
    let harms = vec![0.0; 9];
    // 10 * 0.05 < 1: too few items; 19 would be the smallest feasible size.
    assert_eq!(
        crc_threshold(&scores, &harms, 0.05, 1.0).unwrap(),
        Threshold::AbstainAll {
            min_calibration_size: 19
        }
    );
    assert_eq!(
        crc_threshold(&scores, &harms, 0.10, 1.0).unwrap(),
        Threshold::ExecuteAll
    );
}

#[test]
fn crc_ties_and_graded_harm() {
    let scores = [0.2, 0.2, 0.4, 0.4, 0.4, 0.6, 0.8, 0.8, 1.0];
    let harms = [0.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.25, 0.0, 1.0];
    assert_threshold(crc_threshold(&scores, &harms, 0.30, 1.0).unwrap(), 0.8);
    assert_threshold(crc_threshold(&scores, &harms, 0.20, 1.0).unwrap(), 0.2);
}

#[test]
fn weighted_crc_per_test_point() {
    let scores: Vec<f64> = (1..=10).map(|k| k as f64 / 10.0).collect();
    let harms = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
    let weights = [0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0];
    let unit = [1.0; 10];
    assert_threshold(
        weighted_crc_threshold(&scores, &harms, &unit, 1.0, 0.25, 1.0).unwrap(),
        0.5,
    );
    assert_threshold(
        weighted_crc_threshold(&scores, &harms, &weights, 1.0, 0.25, 1.0).unwrap(),
        0.7,
    );
    let tripled: Vec<f64> = weights.iter().map(|w| w * 3.0).collect();
    assert_threshold(
        weighted_crc_threshold(&scores, &harms, &tripled, 3.0, 0.25, 1.0).unwrap(),
        0.7,
    );
}
