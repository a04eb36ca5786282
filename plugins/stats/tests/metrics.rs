//! Confidence metrics, F1 variants and input errors, against hand-computed values.

use assay_stats::brier::brier_score;
use assay_stats::confidence::harmonic_confidence;
use assay_stats::ece::{
    equal_width_bin, expected_calibration_error, reliability_diagram, Binning, CalibrationNorm,
};
use assay_stats::f1::{micro_f1, multilabel_f1, set_f1, ZeroDivision};
use assay_stats::StatsError;

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "expected {expected}, got {actual}"
    );
}

#[test]
fn equal_width_bin_decimal_edges() {
    assert_eq!(equal_width_bin(0.29, 100), 29);
    assert_eq!(equal_width_bin(0.57, 100), 57);
    assert_eq!(equal_width_bin(0.3, 10), 3);
    assert_eq!(equal_width_bin(0.7, 10), 7);
    assert_eq!(equal_width_bin(0.0, 15), 0);
    assert_eq!(equal_width_bin(1.0, 15), 14);
    assert_eq!(equal_width_bin(0.2999, 10), 2);
}

#[test]
fn ece_equal_mass_bins() {
    // Bins {.1, .2} (accuracy 0, confidence .15) and {.3, .4} (accuracy 1, confidence .35):
    // 0.5 * 0.15 + 0.5 * 0.65 = 0.4.
    let correct = [false, false, true, true];
    let value = expected_calibration_error(
        &[0.4, 0.1, 0.3, 0.2],
        &[true, false, true, false],
        2,
        Binning::EqualMass,
        CalibrationNorm::L1,
    )
    .unwrap();
    assert_close(value, 0.4);
    let bins = reliability_diagram(&[0.1, 0.2, 0.3, 0.4], &correct, 2, Binning::EqualMass).unwrap();
    assert_eq!(bins.len(), 2);
    assert_eq!(bins[0].count, 2);
    assert_close(bins[0].lower, 0.1);
    assert_close(bins[0].upper, 0.2);
    assert_close(bins[1].accuracy, 1.0);
    assert_close(bins[1].mean_confidence, 0.35);
}

#[test]
fn reliability_diagram_keeps_empty_bins() {
    let bins = reliability_diagram(&[0.05, 0.95], &[false, true], 10, Binning::EqualWidth).unwrap();
    assert_eq!(bins.len(), 10);
    assert_eq!(bins[0].count, 1);
    assert_eq!(bins[9].count, 1);
    assert_eq!(bins[5].count, 0);
    assert!(bins[5].accuracy.is_nan());
    assert_close(bins[9].lower, 0.9);
}

#[test]
fn ece_rejects_bad_input() {
    let error = expected_calibration_error(
        &[0.5, 1.5],
        &[true, false],
        10,
        Binning::EqualWidth,
        CalibrationNorm::L1,
    )
    .unwrap_err();
    assert!(
        matches!(error, StatsError::InvalidValue { index: 1, .. }),
        "{error}"
    );
    let error = expected_calibration_error(
        &[0.5],
        &[true, false],
        10,
        Binning::EqualWidth,
        CalibrationNorm::L1,
    )
    .unwrap_err();
    assert!(
        matches!(error, StatsError::LengthMismatch { .. }),
        "{error}"
    );
    let error = expected_calibration_error(&[], &[], 10, Binning::EqualWidth, CalibrationNorm::L1)
        .unwrap_err();
    assert!(matches!(error, StatsError::Empty { .. }), "{error}");
    let error =
        expected_calibration_error(&[0.5], &[true], 0, Binning::EqualWidth, CalibrationNorm::L1)
            .unwrap_err();
    assert!(
        matches!(
            error,
            StatsError::InvalidParameter {
                name: "bin_count",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn brier_two_items() {
    // ((0.9 - 1)^2 + (0.2 - 0)^2) / 2 = 0.025.
    assert_close(brier_score(&[0.9, 0.2], &[true, false]).unwrap(), 0.025);
}

#[test]
fn harmonic_confidence_values() {
    assert_close(harmonic_confidence(0.5, 1.0).unwrap(), 2.0 / 3.0);
    assert_eq!(harmonic_confidence(0.0, 0.0).unwrap(), 0.0);
    assert_eq!(harmonic_confidence(0.0, 0.8).unwrap(), 0.0);
    assert_close(harmonic_confidence(0.6, 0.6).unwrap(), 0.6);
    assert!(harmonic_confidence(1.2, 0.5).is_err());
    assert!(harmonic_confidence(f64::NAN, 0.5).is_err());
}

#[test]
fn micro_f1_equals_accuracy_multiclass() {
    // Single-label multi-class: summed TP 2, FP 4, FN 4, so 4 / 12.
    let value = micro_f1(
        &[0, 1, 2, 0, 1, 2],
        &[0, 2, 1, 0, 0, 1],
        None,
        ZeroDivision::Zero,
    )
    .unwrap();
    assert_close(value, 1.0 / 3.0);
}

#[test]
fn multilabel_f1_per_action_unit() {
    let y_true = vec![vec![true, false], vec![true, false], vec![false, false]];
    let y_pred = vec![vec![true, false], vec![false, false], vec![false, false]];
    // Unit 0: TP 1, FN 1 gives 2 / 3. Unit 1 never occurs nor is predicted.
    let zero = multilabel_f1(&y_true, &y_pred, ZeroDivision::Zero).unwrap();
    assert_close(zero.mean, 1.0 / 3.0);
    assert_eq!(zero.per_label[1], Some(0.0));
    let one = multilabel_f1(&y_true, &y_pred, ZeroDivision::One).unwrap();
    assert_close(one.mean, 5.0 / 6.0);
    let excluded = multilabel_f1(&y_true, &y_pred, ZeroDivision::Exclude).unwrap();
    assert_close(excluded.mean, 2.0 / 3.0);
    assert_eq!(excluded.per_label[1], None);
}

#[test]
fn exclude_policy_rejected_outside_averages() {
    let error = set_f1(&[1], &[1], ZeroDivision::Exclude).unwrap_err();
    assert!(error.to_string().contains("ZeroDivision::Zero"), "{error}");
}

#[test]
fn multilabel_rows_must_match() {
    let error = multilabel_f1(&[vec![true, false]], &[vec![true]], ZeroDivision::Zero).unwrap_err();
    assert!(
        matches!(error, StatsError::LengthMismatch { .. }),
        "{error}"
    );
}
