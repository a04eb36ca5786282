//! The one-call `calibrate` entry point on a small score file.

use std::collections::BTreeMap;
use std::path::Path;

use assay_stats::calibration::{calibrate, CalibrationSettings, Method};
use assay_stats::conformal::{crc_threshold, learn_then_test};
use assay_stats::ece::{expected_calibration_error, Binning, CalibrationNorm};
use assay_stats::table::ScoreTable;

/// 40 steps of 10 trajectories with `score`, `harm`, `category` and `trajectory`.
fn fixture() -> ScoreTable {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scores.csv");
    ScoreTable::from_csv_path(&path, 1.0).unwrap()
}

fn settings(method: Method) -> CalibrationSettings {
    CalibrationSettings { method, alpha: 0.2, split_count: 20, bootstrap_resamples: 100, seed: 9, ..Default::default() }
}

#[test]
fn crc_report_matches_direct_threshold() {
    let table = fixture();
    let report = calibrate(&table, &settings(Method::Crc)).unwrap();
    let direct = crc_threshold(&table.scores, &table.harms, 0.2, 1.0).unwrap();
    let fitted = report.thresholds.as_ref().unwrap()["all"];
    assert_eq!(fitted.tau, Some(direct.tau()).filter(|tau| tau.is_finite()));

    let evaluation = report.evaluation.as_ref().unwrap();
    assert_eq!(evaluation.calibration_size + evaluation.test_size, 40);
    // Whole trajectories of 4 steps go to one side: 5 of 10 trajectories each.
    assert_eq!(evaluation.calibration_size, 20);
    assert!(evaluation.intervals.is_some());
    assert_eq!(evaluation.risk_coverage.last().unwrap().coverage, 1.0);

    let validity = report.validity.as_ref().unwrap();
    assert_eq!(validity.executed_harm_rates.len(), 20);
    assert!(report.confidence.is_none());
}

#[test]
fn weighted_report_has_threshold_per_category() {
    let table = fixture();
    let mut weighted = settings(Method::WeightedCrc);
    weighted.target_frequencies = Some(BTreeMap::from([("app".to_string(), 0.3), ("os".to_string(), 0.7)]));
    let report = calibrate(&table, &weighted).unwrap();
    let thresholds = report.thresholds.unwrap();
    assert_eq!(thresholds.keys().collect::<Vec<_>>(), ["app", "os"]);
    assert!(report.validity.is_some());
}

#[test]
fn weighted_without_frequencies_is_an_error() {
    let error = calibrate(&fixture(), &settings(Method::WeightedCrc)).unwrap_err();
    assert!(error.to_string().contains("target_frequencies"), "{error}");
}

#[test]
fn learn_then_test_report_uses_candidates() {
    let table = fixture();
    let mut ltt = settings(Method::LearnThenTest);
    ltt.alpha = 0.3;
    ltt.candidates = Some(vec![0.2, 0.4, 0.6, 0.8, 1.0]);
    let report = calibrate(&table, &ltt).unwrap();
    let direct = learn_then_test(&table.scores, &table.harms, 0.3, 1.0, 0.1, &[0.2, 0.4, 0.6, 0.8, 1.0]).unwrap();
    assert_eq!(report.thresholds.unwrap()["all"], direct.threshold.into());
    assert!(report.validity.is_none());
}

#[test]
fn confidence_report_matches_metrics() {
    let table = ScoreTable::from_csv_reader("score,label\n0.9,1\n0.8,0\n0.3,0\n0.6,1\n".as_bytes(), 1.0).unwrap();
    let report = calibrate(&table, &settings(Method::Confidence)).unwrap();
    let metrics = report.confidence.unwrap();
    let correct = [true, false, false, true];
    let expected =
        expected_calibration_error(&table.scores, &correct, 15, Binning::EqualWidth, CalibrationNorm::L1).unwrap();
    assert_eq!(metrics.expected_calibration_error, expected);
    assert_eq!(metrics.accuracy, 0.5);
    // Positives score 0.9 and 0.6, negatives 0.8 and 0.3: 3 of 4 pairs ordered.
    assert_eq!(metrics.auroc, Some(0.75));
    assert_eq!(metrics.reliability_diagram.len(), 15);
    assert!(report.thresholds.is_none());
}
