//! Expected calibration error (top-label) and reliability-diagram bins.
//!
//! ECE compares, bin by bin, the mean confidence with the accuracy of the items in the
//! bin. Each bin's gap is weighted by its share of all `N` items, empty bins add nothing:
//!
//! - L1: `sum_k (n_k / N) * |acc_k - conf_k|`
//! - L2: `sqrt(sum_k (n_k / N) * (acc_k - conf_k)^2)`
//! - max: `max_k |acc_k - conf_k|` over non-empty bins (the maximum calibration error)

use crate::check;
use crate::StatsError;

/// Number of bins used when a caller has no preference.
pub const DEFAULT_BIN_COUNT: usize = 15;

/// Grouping of confidences into bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binning {
    /// `bin_count` bins of width `1 / bin_count` over `[0, 1]`; see [`equal_width_bin`].
    #[default]
    EqualWidth,
    /// Items sorted by confidence and split into `bin_count` groups of equal size (the
    /// first `N mod bin_count` groups get one extra item). Tied confidences may fall in
    /// two neighbouring groups.
    EqualMass,
}

/// Combination of the per-bin gaps `|acc_k - conf_k|` into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CalibrationNorm {
    /// Weighted mean of absolute gaps (the usual ECE).
    #[default]
    L1,
    /// Square root of the weighted mean of squared gaps.
    L2,
    /// Largest gap over non-empty bins (maximum calibration error).
    Max,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin. For equal-mass bins, the smallest confidence in it.
    pub lower: f64,
    /// Upper edge of the bin. For equal-mass bins, the largest confidence in it.
    pub upper: f64,
    /// Mean confidence of the items in the bin (NaN when the bin is empty).
    pub mean_confidence: f64,
    /// Fraction of correct items in the bin (NaN when the bin is empty).
    pub accuracy: f64,
    /// Number of items in the bin.
    pub count: usize,
}

/// Returns the equal-width bin index of `confidence` among `bin_count` bins.
///
/// The rule is `min(floor(c * B), B - 1)`, except that a product `c * B` within `1e-9`
/// of an integer counts as that integer. Without this, a confidence such as 0.29 with
/// 100 bins gives `28.999999999999996` in f64 and lands one bin low. So `c = 0` is in the
/// first bin, `c = 1` in the last, and a decimal edge such as 0.3 with 10 bins opens bin 3.
pub fn equal_width_bin(confidence: f64, bin_count: usize) -> usize {
    let scaled = confidence * bin_count as f64;
    let nearest = scaled.round();
    let index = if (scaled - nearest).abs() <= 1e-9 {
        nearest
    } else {
        scaled.floor()
    };
    // `index` is at least 0 because confidences are checked to lie in [0, 1].
    (index.max(0.0) as usize).min(bin_count - 1)
}

/// Computes the reliability-diagram bins of `confidences` against `correct`.
///
/// `confidences` lie in `[0, 1]`; `correct[i]` is true when item `i` was right.
/// Returns `bin_count` bins in ascending order, empty ones included (with NaN means).
///
/// # Errors
/// Empty or unequal inputs, a confidence outside `[0, 1]` or NaN, or `bin_count == 0`.
pub fn reliability_diagram(
    confidences: &[f64],
    correct: &[bool],
    bin_count: usize,
    binning: Binning,
) -> Result<Vec<ReliabilityBin>, StatsError> {
    check::non_empty("confidences", confidences)?;
    check::same_length("confidences", confidences, "correct", correct)?;
    check::in_range(
        "confidences",
        confidences,
        0.0,
        1.0,
        "a confidence in [0, 1]",
    )?;
    if bin_count == 0 {
        return Err(StatsError::InvalidParameter {
            name: "bin_count",
            value: 0.0,
            expected: "at least 1 bin",
        });
    }

    // Assign each item to a bin.
    let members: Vec<Vec<usize>> = match binning {
        Binning::EqualWidth => {
            let mut members = vec![Vec::new(); bin_count];
            for (item, &confidence) in confidences.iter().enumerate() {
                members[equal_width_bin(confidence, bin_count)].push(item);
            }
            members
        }
        Binning::EqualMass => {
            let mut order: Vec<usize> = (0..confidences.len()).collect();
            order.sort_by(|&a, &b| confidences[a].total_cmp(&confidences[b]));
            let base = order.len() / bin_count;
            let extra = order.len() % bin_count;
            let mut members = Vec::with_capacity(bin_count);
            let mut start = 0;
            for bin in 0..bin_count {
                let size = base + usize::from(bin < extra);
                members.push(order[start..start + size].to_vec());
                start += size;
            }
            members
        }
    };

    // Summarise each bin.
    let bins = members
        .iter()
        .enumerate()
        .map(|(bin, items)| {
            let count = items.len();
            let confidence_sum: f64 = items.iter().map(|&i| confidences[i]).sum();
            let correct_count = items.iter().filter(|&&i| correct[i]).count();
            let (lower, upper) = match binning {
                Binning::EqualWidth => (
                    bin as f64 / bin_count as f64,
                    (bin + 1) as f64 / bin_count as f64,
                ),
                Binning::EqualMass => (
                    items.first().map_or(f64::NAN, |&i| confidences[i]),
                    items.last().map_or(f64::NAN, |&i| confidences[i]),
                ),
            };
            ReliabilityBin {
                lower,
                upper,
                mean_confidence: confidence_sum / count as f64,
                accuracy: correct_count as f64 / count as f64,
                count,
            }
        })
        .collect();
    Ok(bins)
}

/// Computes the expected calibration error of `confidences` against `correct`.
///
/// Uses [`reliability_diagram`] bins and combines their gaps with `norm` (see the module
/// docs). The result lies in `[0, 1]`; 0 means every non-empty bin's accuracy equals its
/// mean confidence.
///
/// # Errors
/// As for [`reliability_diagram`].
pub fn expected_calibration_error(
    confidences: &[f64],
    correct: &[bool],
    bin_count: usize,
    binning: Binning,
    norm: CalibrationNorm,
) -> Result<f64, StatsError> {
    let bins = reliability_diagram(confidences, correct, bin_count, binning)?;
    let total = confidences.len() as f64;
    let occupied = bins.iter().filter(|bin| bin.count > 0);
    let error = match norm {
        CalibrationNorm::L1 => occupied
            .map(|bin| bin.count as f64 / total * (bin.accuracy - bin.mean_confidence).abs())
            .sum(),
        CalibrationNorm::L2 => occupied
            .map(|bin| bin.count as f64 / total * (bin.accuracy - bin.mean_confidence).powi(2))
            .sum::<f64>()
            .sqrt(),
        CalibrationNorm::Max => occupied
            .map(|bin| (bin.accuracy - bin.mean_confidence).abs())
            .fold(0.0, f64::max),
    };
    Ok(error)
}
