//! Aggregation of decoupled confidences.
//!
//! A model that states a visual confidence (is the perception right?) and a reasoning
//! confidence (is the reasoning right?) gets one overall confidence from their harmonic
//! mean, which stays low when either part is low.

use crate::StatsError;

/// Computes the harmonic mean `2 * v * r / (v + r)` of a visual and a reasoning
/// confidence, both in `[0, 1]`. Defined as 0 when both are 0.
///
/// # Errors
/// A confidence outside `[0, 1]` or NaN.
pub fn harmonic_confidence(visual: f64, reasoning: f64) -> Result<f64, StatsError> {
    for (name, value) in [("visual", visual), ("reasoning", reasoning)] {
        if !(0.0..=1.0).contains(&value) {
            return Err(StatsError::InvalidParameter {
                name,
                value,
                expected: "a confidence in [0, 1]",
            });
        }
    }
    let sum = visual + reasoning;
    if sum == 0.0 {
        return Ok(0.0);
    }
    Ok(2.0 * visual * reasoning / sum)
}
