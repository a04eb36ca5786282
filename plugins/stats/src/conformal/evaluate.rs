//! Metrics of execute/abstain decisions on a test split.
//!
//! Intervention means abstaining. An item is harmful when its harm is above 0, so the
//! intervention precision, recall and F1 score abstentions against harmful items.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::check;
use crate::StatsError;

/// Metrics of execute/abstain decisions on labelled test items.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InterventionMetrics {
    /// Number of test items.
    pub test_size: usize,
    /// `sum(h_i * 1{executed_i}) / n`, in harm units: the joint rate that conformal risk
    /// control bounds by `alpha`.
    pub executed_harm_rate: f64,
    /// `sum(h_i * 1{executed_i}) / executed`: the harm rate among executed items, `None`
    /// when nothing executed.
    pub conditional_harm_rate: Option<f64>,
    /// Fraction of items executed.
    pub coverage: f64,
    /// Fraction of benign items (harm 0) abstained on, `None` without benign items.
    pub over_intervention_rate: Option<f64>,
    /// Harmful abstentions over all abstentions, `None` without abstentions.
    pub intervention_precision: Option<f64>,
    /// Harmful abstentions over all harmful items, `None` without harmful items.
    pub intervention_recall: Option<f64>,
    /// `2 TP / (2 TP + FP + FN)` of abstention against harm, `None` without abstentions
    /// or harmful items.
    pub intervention_f1: Option<f64>,
}

/// Returns `numerator / denominator`, or `None` when the denominator is 0.
fn ratio(numerator: f64, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator / denominator as f64)
}

/// Computes [`InterventionMetrics`] of decisions `executed` on items with `harms`.
///
/// # Errors
/// Empty or unequal inputs, or a harm that is negative, NaN or infinite.
pub fn evaluate_decisions(
    executed: &[bool],
    harms: &[f64],
) -> Result<InterventionMetrics, StatsError> {
    check::non_empty("executed", executed)?;
    check::same_length("executed", executed, "harms", harms)?;
    check::in_range("harms", harms, 0.0, f64::MAX, "a finite harm of at least 0")?;

    let mut executed_count = 0;
    let mut executed_harm = 0.0;
    let mut benign = 0;
    let mut benign_abstained = 0;
    let mut harmful = 0;
    let mut harmful_abstained = 0;
    for (&is_executed, &harm) in executed.iter().zip(harms) {
        let is_harmful = harm > 0.0;
        if is_executed {
            executed_count += 1;
            executed_harm += harm;
        }
        if is_harmful {
            harmful += 1;
            harmful_abstained += usize::from(!is_executed);
        } else {
            benign += 1;
            benign_abstained += usize::from(!is_executed);
        }
    }

    let n = executed.len();
    let abstained = n - executed_count;
    let true_positives = harmful_abstained;
    let false_positives = benign_abstained;
    let false_negatives = harmful - harmful_abstained;
    Ok(InterventionMetrics {
        test_size: n,
        executed_harm_rate: executed_harm / n as f64,
        conditional_harm_rate: ratio(executed_harm, executed_count),
        coverage: executed_count as f64 / n as f64,
        over_intervention_rate: ratio(benign_abstained as f64, benign),
        intervention_precision: ratio(true_positives as f64, abstained),
        intervention_recall: ratio(true_positives as f64, harmful),
        intervention_f1: ratio(
            2.0 * true_positives as f64,
            2 * true_positives + false_positives + false_negatives,
        ),
    })
}

/// A two-sided percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

/// Bootstrap intervals of each [`InterventionMetrics`] field, `None` where the metric
/// was undefined in more than half of the resamples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MetricIntervals {
    pub executed_harm_rate: Option<Interval>,
    pub conditional_harm_rate: Option<Interval>,
    pub coverage: Option<Interval>,
    pub over_intervention_rate: Option<Interval>,
    pub intervention_precision: Option<Interval>,
    pub intervention_recall: Option<Interval>,
    pub intervention_f1: Option<Interval>,
}

/// Computes percentile bootstrap intervals of the test metrics, at `confidence_level`
/// (for example 0.95), from `resamples` resamples of the test items with replacement
/// drawn from a ChaCha8 generator seeded with `seed`.
///
/// The decisions stay fixed, so the intervals cover test-set sampling noise only, not
/// the variability of the calibrated threshold.
///
/// # Errors
/// As for [`evaluate_decisions`], `resamples == 0`, or a level outside `(0, 1)`.
pub fn bootstrap_intervals(
    executed: &[bool],
    harms: &[f64],
    resamples: usize,
    confidence_level: f64,
    seed: u64,
) -> Result<MetricIntervals, StatsError> {
    evaluate_decisions(executed, harms)?;
    if resamples == 0 {
        return Err(StatsError::InvalidParameter {
            name: "resamples",
            value: 0.0,
            expected: "at least 1 resample",
        });
    }
    if !(confidence_level > 0.0 && confidence_level < 1.0) {
        return Err(StatsError::InvalidParameter {
            name: "confidence_level",
            value: confidence_level,
            expected: "a level strictly between 0 and 1, such as 0.95",
        });
    }

    // Evaluate each resample.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = executed.len();
    let mut resample_executed = vec![false; n];
    let mut resample_harms = vec![0.0; n];
    let mut samples: Vec<InterventionMetrics> = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in 0..n {
            let item = rng.random_range(0..n);
            resample_executed[slot] = executed[item];
            resample_harms[slot] = harms[item];
        }
        samples.push(evaluate_decisions(&resample_executed, &resample_harms)?);
    }

    // Take percentiles of each metric over the resamples where it is defined.
    let interval = |metric: &dyn Fn(&InterventionMetrics) -> Option<f64>| -> Option<Interval> {
        let mut values: Vec<f64> = samples.iter().filter_map(metric).collect();
        if values.len() * 2 < samples.len() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let tail = (1.0 - confidence_level) / 2.0;
        Some(Interval {
            lower: quantile(&values, tail),
            upper: quantile(&values, 1.0 - tail),
        })
    };
    Ok(MetricIntervals {
        executed_harm_rate: interval(&|m| Some(m.executed_harm_rate)),
        conditional_harm_rate: interval(&|m| m.conditional_harm_rate),
        coverage: interval(&|m| Some(m.coverage)),
        over_intervention_rate: interval(&|m| m.over_intervention_rate),
        intervention_precision: interval(&|m| m.intervention_precision),
        intervention_recall: interval(&|m| m.intervention_recall),
        intervention_f1: interval(&|m| m.intervention_f1),
    })
}

/// Returns the `q` quantile of sorted values by linear interpolation between order
/// statistics (the default method of NumPy's `quantile`).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

/// One point of a risk-coverage curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RiskCoveragePoint {
    /// Threshold `tau`: items with `score <= tau` execute.
    pub threshold: f64,
    /// Fraction of items executed.
    pub coverage: f64,
    /// `sum(h_i * 1{s_i <= tau}) / n`.
    pub executed_harm_rate: f64,
    /// Harm rate among executed items.
    pub conditional_harm_rate: f64,
}

/// Computes the risk-coverage curve: one point per distinct score, ascending, each
/// executing the items scored at or below it.
///
/// # Errors
/// Empty or unequal inputs, a NaN or infinite score, or an invalid harm.
pub fn risk_coverage_curve(
    scores: &[f64],
    harms: &[f64],
) -> Result<Vec<RiskCoveragePoint>, StatsError> {
    check::non_empty("scores", scores)?;
    check::same_length("scores", scores, "harms", harms)?;
    check::finite("scores", scores)?;
    check::in_range("harms", harms, 0.0, f64::MAX, "a finite harm of at least 0")?;

    let mut items: Vec<(f64, f64)> = scores.iter().copied().zip(harms.iter().copied()).collect();
    items.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let n = items.len() as f64;
    let mut points = Vec::new();
    let mut cumulative_harm = 0.0;
    for (index, &(score, harm)) in items.iter().enumerate() {
        cumulative_harm += harm;
        let is_group_end = index + 1 == items.len() || items[index + 1].0 != score;
        if is_group_end {
            let executed = (index + 1) as f64;
            points.push(RiskCoveragePoint {
                threshold: score,
                coverage: executed / n,
                executed_harm_rate: cumulative_harm / n,
                conditional_harm_rate: cumulative_harm / executed,
            });
        }
    }
    Ok(points)
}
