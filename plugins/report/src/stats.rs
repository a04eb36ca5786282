//! Small statistics used by the tables: mean, standard deviation and percentile bootstrap.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Arithmetic mean; `None` for an empty slice.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample standard deviation with the n - 1 denominator; `None` for fewer than two values.
pub fn sample_std(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let mean = mean(values)?;
    let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    Some((squares / (values.len() - 1) as f64).sqrt())
}

/// Computes percentile `q` (0 to 1) of sorted values by linear interpolation between the
/// two nearest ranks, which is the default of NumPy's `percentile`. Returns `None` for an
/// empty slice.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = q.clamp(0.0, 1.0) * last as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    let weight = rank - below as f64;
    Some(sorted[below] + (sorted[above] - sorted[below]) * weight)
}

/// A percentile bootstrap confidence interval of a mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Mean of the original sample.
    pub estimate: f64,
    /// Lower end, the (1 - confidence) / 2 percentile of the resampled means.
    pub low: f64,
    /// Upper end, the (1 + confidence) / 2 percentile of the resampled means.
    pub high: f64,
}

/// Resamples `values` with replacement `resamples` times (ChaCha8 seeded with `seed`) and
/// returns the percentile interval of the resampled means; `None` for an empty slice.
pub fn bootstrap_mean(values: &[f64], resamples: usize, confidence: f64, seed: u64) -> Option<Interval> {
    let estimate = mean(values)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = values.len();
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some(Interval {
        estimate,
        low: percentile(&means, tail)?,
        high: percentile(&means, 1.0 - tail)?,
    })
}

/// Paired bootstrap of the mean difference `b - a` over matched samples: the interval of
/// resampled mean differences. The change exceeds the noise when the interval excludes 0.
/// `None` when there are no pairs or the slices differ in length.
pub fn paired_bootstrap(a: &[f64], b: &[f64], resamples: usize, confidence: f64, seed: u64) -> Option<Interval> {
    if a.len() != b.len() {
        return None;
    }
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    bootstrap_mean(&differences, resamples, confidence, seed)
}
