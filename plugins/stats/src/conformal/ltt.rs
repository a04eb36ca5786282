//! Learn-then-Test (LTT) for the harm rate among executed items.
//!
//! Conformal risk control bounds the joint rate of harmful-and-executed items. LTT
//! instead bounds the conditional rate `R(tau) = E[h | s <= tau] / B` with high
//! probability: with probability at least `1 - delta` over the calibration set,
//! `R(tau_hat) <= alpha / B`.
//!
//! For each candidate `tau` it tests the null hypothesis `R(tau) > alpha / B` with a
//! Hoeffding-Bentkus p-value computed from the executed calibration items (given which
//! items execute, their losses are independent draws with mean `R(tau)`). Candidates
//! are tested in a fixed sequence from the most conservative (lowest `tau`) up, each at
//! level `delta`, and testing stops at the first that is not rejected. Because the order
//! is fixed in advance, this controls the family-wise error at `delta` without a
//! multiplicity correction.
//! Reference: Angelopoulos, Bates, Candes, Jordan, Lei, "Learn then Test: Calibrating
//! Predictive Algorithms to Achieve Risk Control" (2021).

use crate::check;
use crate::conformal::threshold::{check_calibration, Threshold};
use crate::special::binomial_cdf;
use crate::StatsError;

/// One tested candidate threshold.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TestedThreshold {
    pub tau: f64,
    /// Calibration items with `score <= tau`.
    pub executed: usize,
    /// Mean normalised loss `h / B` among them (0 when none executed).
    pub conditional_harm_rate: f64,
    /// Hoeffding-Bentkus p-value of `R(tau) > alpha / B` (1 when none executed).
    pub p_value: f64,
    /// Whether the null hypothesis was rejected, which certifies `tau`.
    pub rejected: bool,
}

/// Result of [`learn_then_test`].
#[derive(Debug, Clone, PartialEq)]
pub struct LearnThenTest {
    /// The largest certified candidate, or [`Threshold::AbstainAll`] when the first
    /// candidate was not rejected. There `min_calibration_size` is the number of
    /// harm-free executed items needed to reject at `delta`:
    /// `ceil(ln(delta) / ln(1 - alpha / B))`.
    pub threshold: Threshold,
    /// The candidates tested, in order; testing stops after the first non-rejection.
    pub tested: Vec<TestedThreshold>,
}

/// Computes the Hoeffding-Bentkus p-value of the null `R > alpha` given the empirical
/// mean `empirical_risk` of `n` losses in `[0, 1]`:
/// `min(exp(-n * h1(min(r, alpha), alpha)), e * P(Binomial(n, alpha) <= ceil(n * r)))`,
/// with `h1(a, b) = a ln(a / b) + (1 - a) ln((1 - a) / (1 - b))`, capped at 1.
/// Returns 1 for `n == 0`.
pub fn hoeffding_bentkus_p_value(empirical_risk: f64, n: u64, alpha: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let risk = empirical_risk.clamp(0.0, 1.0);
    let clipped = risk.min(alpha);
    let hoeffding = (-(n as f64) * bernoulli_kl(clipped, alpha)).exp();

    // `n * risk` is a sum of losses. Within 1e-9 of an integer it counts as that integer,
    // so float noise in the sum does not raise the count by one.
    let losses = n as f64 * risk;
    let nearest = losses.round();
    let loss_count = if (losses - nearest).abs() <= 1e-9 {
        nearest
    } else {
        losses.ceil()
    };
    let bentkus = std::f64::consts::E * binomial_cdf(loss_count as u64, n, alpha);
    hoeffding.min(bentkus).min(1.0)
}

/// Returns `a ln(a / b) + (1 - a) ln((1 - a) / (1 - b))` with `0 ln 0 = 0`.
fn bernoulli_kl(a: f64, b: f64) -> f64 {
    let term = |p: f64, q: f64| if p == 0.0 { 0.0 } else { p * (p / q).ln() };
    term(a, b) + term(1.0 - a, 1.0 - b)
}

/// Certifies a threshold for the harm rate among executed items by Learn-then-Test
/// with Hoeffding-Bentkus p-values and fixed-sequence testing (see the module docs).
///
/// `candidates` are the thresholds to test, strictly ascending. They must be fixed
/// before looking at the calibration data (for example evenly spaced over the range
/// the risk scorer can output), because candidates chosen from these scores void the
/// finite-sample guarantee. `alpha` lies in `(0, bound)`; `delta` in `(0, 1)` is the
/// allowed probability that the bound fails.
///
/// # Errors
/// As for [`crc_threshold`](crate::conformal::crc_threshold), plus empty or unsorted
/// candidates, or `alpha` or `delta` out of range.
pub fn learn_then_test(
    scores: &[f64],
    harms: &[f64],
    alpha: f64,
    bound: f64,
    delta: f64,
    candidates: &[f64],
) -> Result<LearnThenTest, StatsError> {
    if !(bound > 0.0 && bound.is_finite()) {
        return Err(StatsError::InvalidParameter {
            name: "bound",
            value: bound,
            expected: "a finite harm bound above 0",
        });
    }
    if !(alpha > 0.0 && alpha < bound) {
        return Err(StatsError::InvalidParameter {
            name: "alpha",
            value: alpha,
            expected: "a risk level in (0, bound)",
        });
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(StatsError::InvalidParameter {
            name: "delta",
            value: delta,
            expected: "a probability in (0, 1)",
        });
    }
    check_calibration(scores, harms, bound)?;
    check::non_empty("candidates", candidates)?;
    check::finite("candidates", candidates)?;
    if let Some(index) = candidates.windows(2).position(|pair| pair[0] >= pair[1]) {
        return Err(StatsError::InvalidValue {
            name: "candidates",
            index: index + 1,
            value: candidates[index + 1],
            expected: "candidates in strictly ascending order",
        });
    }

    // Walk the candidates and the sorted items together.
    let normalised_alpha = alpha / bound;
    let mut items: Vec<(f64, f64)> = scores
        .iter()
        .copied()
        .zip(harms.iter().map(|&h| h / bound))
        .collect();
    items.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut tested = Vec::new();
    let mut certified = None;
    let mut executed = 0;
    let mut loss_sum = 0.0;
    for &tau in candidates {
        while executed < items.len() && items[executed].0 <= tau {
            loss_sum += items[executed].1;
            executed += 1;
        }
        let conditional_harm_rate = if executed == 0 {
            0.0
        } else {
            loss_sum / executed as f64
        };
        let p_value =
            hoeffding_bentkus_p_value(conditional_harm_rate, executed as u64, normalised_alpha);
        let rejected = p_value <= delta;
        tested.push(TestedThreshold {
            tau,
            executed,
            conditional_harm_rate,
            p_value,
            rejected,
        });
        if !rejected {
            break;
        }
        certified = Some(tau);
    }

    let threshold = match certified {
        Some(tau) => Threshold::At(tau),
        None => {
            let needed = (delta.ln() / (1.0 - normalised_alpha).ln()).ceil();
            Threshold::AbstainAll {
                min_calibration_size: needed as u64,
            }
        }
    };
    tracing::debug!(alpha, delta, ?threshold, "learn-then-test threshold");
    Ok(LearnThenTest { threshold, tested })
}
