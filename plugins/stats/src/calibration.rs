//! One call that calibrates a [`ScoreTable`] and evaluates the result: what the
//! `calibrate` stage and `assay calibrate` run.
//!
//! For the conformal methods it takes three steps:
//! 1. Fit the deployment threshold on every item.
//! 2. Fit again on a seeded calibration split and measure the result on the held-out
//!    test split, with bootstrap intervals and a risk-coverage curve.
//! 3. Repeat random splits and compare the mean executed harm with `alpha`.
//!
//! The confidence method scores `score` as a confidence against `label` (1 when correct).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::accuracy::accuracy;
use crate::auroc::auroc;
use crate::brier::brier_score;
use crate::conformal::{
    bootstrap_intervals, category_weights, crc_threshold, evaluate_decisions, learn_then_test, random_split,
    risk_coverage_curve, trajectory_split, validity_check, weighted_validity_check, InterventionMetrics,
    MetricIntervals, RiskCoveragePoint, Split, Threshold, ValidityReport, WeightedCalibration,
};
use crate::ece::{expected_calibration_error, reliability_diagram, Binning, CalibrationNorm, ReliabilityBin};
use crate::table::ScoreTable;
use crate::StatsError;

/// Largest number of risk-coverage points kept in a report; longer curves are thinned
/// evenly, keeping the last point.
pub const MAX_CURVE_POINTS: usize = 200;

/// Calibration method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Conformal risk control: bounds the expected joint rate of executed harm.
    Crc,
    /// Conformal risk control with category weights for a shift to target frequencies.
    WeightedCrc,
    /// Learn-then-Test: bounds the harm rate among executed items with probability
    /// `1 - delta`.
    LearnThenTest,
    /// Confidence calibration metrics (ECE, Brier, AUROC, accuracy).
    Confidence,
}

/// Settings of [`calibrate`].
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationSettings {
    pub method: Method,
    /// Target risk in harm units, above 0. Typical: 0.05 or 0.1.
    pub alpha: f64,
    /// Harm bound `B` above 0; 1 for binary harm.
    pub bound: f64,
    /// Allowed failure probability of Learn-then-Test, in `(0, 1)`.
    pub delta: f64,
    /// Learn-then-Test candidate thresholds, strictly ascending; `None` uses the
    /// percentiles 1, 2, ..., 100 of the calibration scores.
    pub candidates: Option<Vec<f64>>,
    /// Relative category frequencies of the target distribution (weighted CRC).
    pub target_frequencies: Option<BTreeMap<String, f64>>,
    /// Fraction of items (or trajectories, when the table has them) used for
    /// calibration in the evaluation split, in `(0, 1)`.
    pub calibration_fraction: f64,
    /// Random splits of the validity check; 0 skips it.
    pub split_count: usize,
    /// Bootstrap resamples of the test metrics; 0 skips the intervals.
    pub bootstrap_resamples: usize,
    /// Confidence level of the bootstrap intervals, in `(0, 1)`.
    pub confidence_level: f64,
    /// Equal-width bins of the confidence metrics.
    pub bin_count: usize,
    /// Seed of every split and resample.
    pub seed: u64,
}

impl Default for CalibrationSettings {
    fn default() -> Self {
        CalibrationSettings {
            method: Method::Crc,
            alpha: 0.1,
            bound: 1.0,
            delta: 0.1,
            candidates: None,
            target_frequencies: None,
            calibration_fraction: 0.5,
            split_count: 200,
            bootstrap_resamples: 1000,
            confidence_level: 0.95,
            bin_count: crate::ece::DEFAULT_BIN_COUNT,
            seed: 0,
        }
    }
}

/// A threshold in serializable form.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThresholdSummary {
    /// `threshold`, `execute_all` or `abstain_all`.
    pub decision: &'static str,
    /// Execute iff `score <= tau`; `None` for `execute_all` (+inf) and `abstain_all` (-inf).
    pub tau: Option<f64>,
    /// For `abstain_all`: the smallest calibration size that could be feasible.
    pub min_calibration_size: Option<u64>,
}

impl From<Threshold> for ThresholdSummary {
    fn from(threshold: Threshold) -> Self {
        match threshold {
            Threshold::At(tau) => ThresholdSummary { decision: "threshold", tau: Some(tau), min_calibration_size: None },
            Threshold::ExecuteAll => ThresholdSummary { decision: "execute_all", tau: None, min_calibration_size: None },
            Threshold::AbstainAll { min_calibration_size } => ThresholdSummary {
                decision: "abstain_all",
                tau: None,
                min_calibration_size: Some(min_calibration_size),
            },
        }
    }
}

/// Metrics of thresholds fitted on a calibration split and applied to the test split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitEvaluation {
    pub calibration_size: usize,
    pub test_size: usize,
    /// Threshold fitted on the calibration split (one per category for weighted CRC).
    pub thresholds: BTreeMap<String, ThresholdSummary>,
    pub metrics: InterventionMetrics,
    /// Bootstrap intervals of `metrics`, absent when resampling is off.
    pub intervals: Option<MetricIntervals>,
    /// Risk-coverage curve of the test scores, at most [`MAX_CURVE_POINTS`] points.
    pub risk_coverage: Vec<RiskCoveragePoint>,
}

/// Confidence calibration metrics of the whole table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfidenceMetrics {
    pub expected_calibration_error: f64,
    pub expected_calibration_error_l2: f64,
    pub maximum_calibration_error: f64,
    pub expected_calibration_error_equal_mass: f64,
    pub brier_score: f64,
    /// `None` when every item is correct or every item is wrong.
    pub auroc: Option<f64>,
    pub accuracy: f64,
    pub reliability_diagram: Vec<ReliabilityBin>,
}

/// Everything [`calibrate`] computes; sections that do not apply to the method are `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    pub method: Method,
    pub item_count: usize,
    pub alpha: f64,
    pub bound: f64,
    /// Deployment thresholds fitted on every item: key `all` for one threshold, or one
    /// key per category for weighted CRC.
    pub thresholds: Option<BTreeMap<String, ThresholdSummary>>,
    pub evaluation: Option<SplitEvaluation>,
    /// Repeated random splits; Learn-then-Test reports none because its guarantee is
    /// not about the mean over splits.
    pub validity: Option<ValidityReport>,
    pub confidence: Option<ConfidenceMetrics>,
}

/// Calibrates `table` with `settings.method` and evaluates the result (see the module
/// docs).
///
/// # Errors
/// Invalid settings, a table without the columns the method needs (weighted CRC needs
/// `category` and `target_frequencies`), or a split with an empty side.
pub fn calibrate(table: &ScoreTable, settings: &CalibrationSettings) -> Result<CalibrationReport, StatsError> {
    let mut report = CalibrationReport {
        method: settings.method,
        item_count: table.len(),
        alpha: settings.alpha,
        bound: settings.bound,
        thresholds: None,
        evaluation: None,
        validity: None,
        confidence: None,
    };
    if settings.method == Method::Confidence {
        report.confidence = Some(confidence_metrics(table, settings.bin_count)?);
        return Ok(report);
    }

    // Fit deployment thresholds on every item.
    let all: Vec<usize> = (0..table.len()).collect();
    report.thresholds = Some(fit(table, &all, settings)?.summaries());

    // Fit on a calibration split and measure on the test split.
    let split = match &table.trajectories {
        Some(trajectories) => trajectory_split(trajectories, settings.calibration_fraction, settings.seed)?,
        None => random_split(table.len(), settings.calibration_fraction, settings.seed)?,
    };
    report.evaluation = Some(evaluate_split(table, &split, settings)?);

    // Repeat random splits.
    if settings.split_count > 0 {
        let validity_seed = settings.seed.wrapping_add(1);
        report.validity = match settings.method {
            Method::Crc => Some(validity_check(
                &table.scores,
                &table.harms,
                table.trajectories.as_deref(),
                settings.calibration_fraction,
                settings.alpha,
                settings.bound,
                settings.split_count,
                validity_seed,
            )?),
            Method::WeightedCrc => Some(weighted_validity_check(
                &table.scores,
                &table.harms,
                required_categories(table)?,
                required_target_frequencies(settings)?,
                table.trajectories.as_deref(),
                settings.calibration_fraction,
                settings.alpha,
                settings.bound,
                settings.split_count,
                validity_seed,
            )?),
            Method::LearnThenTest | Method::Confidence => None,
        };
    }
    Ok(report)
}

/// Thresholds fitted on a subset of items.
enum Fitted {
    /// One threshold for every item.
    Single(Threshold),
    /// One threshold per category (weighted CRC).
    PerCategory(BTreeMap<String, Threshold>),
}

impl Fitted {
    fn summaries(&self) -> BTreeMap<String, ThresholdSummary> {
        match self {
            Fitted::Single(threshold) => BTreeMap::from([("all".to_string(), (*threshold).into())]),
            Fitted::PerCategory(thresholds) => {
                thresholds.iter().map(|(category, &threshold)| (category.clone(), threshold.into())).collect()
            }
        }
    }

    fn executes(&self, table: &ScoreTable, item: usize) -> bool {
        match self {
            Fitted::Single(threshold) => threshold.executes(table.scores[item]),
            Fitted::PerCategory(thresholds) => {
                // `fit` gives every category of the table a threshold, so the lookup succeeds;
                // abstaining is the safe fallback all the same.
                let category = &table.categories.as_ref().expect("weighted CRC checked categories")[item];
                thresholds.get(category).is_some_and(|threshold| threshold.executes(table.scores[item]))
            }
        }
    }
}

fn required_categories(table: &ScoreTable) -> Result<&[String], StatsError> {
    table.categories.as_deref().ok_or_else(|| {
        StatsError::Unsupported("weighted CRC needs a `category` column in the score table: add one".to_string())
    })
}

fn required_target_frequencies(settings: &CalibrationSettings) -> Result<&BTreeMap<String, f64>, StatsError> {
    settings.target_frequencies.as_ref().ok_or_else(|| {
        StatsError::Unsupported(
            "weighted CRC needs target category frequencies: set `target_frequencies`, e.g. {app: 0.7, os: 0.3}"
                .to_string(),
        )
    })
}

fn gather<T: Clone>(values: &[T], indices: &[usize]) -> Vec<T> {
    indices.iter().map(|&i| values[i].clone()).collect()
}

/// Fits the method's thresholds on the items `indices`.
fn fit(table: &ScoreTable, indices: &[usize], settings: &CalibrationSettings) -> Result<Fitted, StatsError> {
    let scores = gather(&table.scores, indices);
    let harms = gather(&table.harms, indices);
    match settings.method {
        Method::Crc => Ok(Fitted::Single(crc_threshold(&scores, &harms, settings.alpha, settings.bound)?)),
        Method::LearnThenTest => {
            let candidates = match &settings.candidates {
                Some(candidates) => candidates.clone(),
                None => percentile_candidates(&scores),
            };
            let result = learn_then_test(&scores, &harms, settings.alpha, settings.bound, settings.delta, &candidates)?;
            Ok(Fitted::Single(result.threshold))
        }
        Method::WeightedCrc => {
            let all_categories = required_categories(table)?;
            let categories = gather(all_categories, indices);
            let weights_by_category = category_weights(&categories, required_target_frequencies(settings)?)?;
            let weights: Vec<f64> = categories.iter().map(|category| weights_by_category[category]).collect();
            let calibration = WeightedCalibration::new(&scores, &harms, &weights, settings.alpha, settings.bound)?;

            // A category seen only outside `indices` has no calibration items, so its
            // target frequency is 0 (else `category_weights` failed) and its weight 0.
            let mut thresholds = BTreeMap::new();
            for category in all_categories {
                if !thresholds.contains_key(category) {
                    let weight = weights_by_category.get(category).copied().unwrap_or(0.0);
                    thresholds.insert(category.clone(), calibration.threshold(weight)?);
                }
            }
            Ok(Fitted::PerCategory(thresholds))
        }
        Method::Confidence => unreachable!("the confidence method fits no threshold"),
    }
}

/// Returns the distinct 1st, 2nd, ..., 100th percentiles (nearest rank) of `scores`.
///
/// NOTE: these candidates come from the calibration scores themselves, so the
/// Learn-then-Test guarantee is approximate; pass `candidates` fixed in advance for
/// the exact finite-sample guarantee.
fn percentile_candidates(scores: &[f64]) -> Vec<f64> {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut candidates: Vec<f64> = (1..=100)
        .map(|percent| {
            let rank = (percent * sorted.len()).div_ceil(100).max(1);
            sorted[rank - 1]
        })
        .collect();
    candidates.dedup();
    candidates
}

fn evaluate_split(table: &ScoreTable, split: &Split, settings: &CalibrationSettings) -> Result<SplitEvaluation, StatsError> {
    let fitted = fit(table, &split.calibration, settings)?;
    let executed: Vec<bool> = split.test.iter().map(|&item| fitted.executes(table, item)).collect();
    let test_harms = gather(&table.harms, &split.test);
    let metrics = evaluate_decisions(&executed, &test_harms)?;
    let intervals = if settings.bootstrap_resamples > 0 {
        Some(bootstrap_intervals(
            &executed,
            &test_harms,
            settings.bootstrap_resamples,
            settings.confidence_level,
            settings.seed.wrapping_add(2),
        )?)
    } else {
        None
    };
    let curve = risk_coverage_curve(&gather(&table.scores, &split.test), &test_harms)?;
    Ok(SplitEvaluation {
        calibration_size: split.calibration.len(),
        test_size: split.test.len(),
        thresholds: fitted.summaries(),
        metrics,
        intervals,
        risk_coverage: thin_curve(curve),
    })
}

/// Keeps at most [`MAX_CURVE_POINTS`] evenly spaced points, always including the last.
fn thin_curve(curve: Vec<RiskCoveragePoint>) -> Vec<RiskCoveragePoint> {
    if curve.len() <= MAX_CURVE_POINTS {
        return curve;
    }
    let last = curve.len() - 1;
    (1..=MAX_CURVE_POINTS).map(|k| curve[k * last / MAX_CURVE_POINTS]).collect()
}

fn confidence_metrics(table: &ScoreTable, bin_count: usize) -> Result<ConfidenceMetrics, StatsError> {
    let confidences = &table.scores;
    let correct = table.positive_labels();
    let ece = |binning, norm| expected_calibration_error(confidences, &correct, bin_count, binning, norm);
    Ok(ConfidenceMetrics {
        expected_calibration_error: ece(Binning::EqualWidth, CalibrationNorm::L1)?,
        expected_calibration_error_l2: ece(Binning::EqualWidth, CalibrationNorm::L2)?,
        maximum_calibration_error: ece(Binning::EqualWidth, CalibrationNorm::Max)?,
        expected_calibration_error_equal_mass: ece(Binning::EqualMass, CalibrationNorm::L1)?,
        brier_score: brier_score(confidences, &correct)?,
        auroc: auroc(confidences, &correct)?,
        accuracy: accuracy(&correct)?,
        reliability_diagram: reliability_diagram(confidences, &correct, bin_count, Binning::EqualWidth)?,
    })
}
