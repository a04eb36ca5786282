//! Exact arithmetic on f64 values, so no rounding error can flip a threshold decision.
//!
//! Every finite f64 is a dyadic rational `m * 2^e` with an integer mantissa `m` of at most
//! 53 bits. Sums and products of such values are dyadic too, so they are held exactly as
//! an arbitrary-precision mantissa and a binary exponent, with no division and no gcd
//! (which a general rational type would spend time on). The unweighted scan first tries
//! `i128` fixed point at a common exponent, which is exact whenever every sum fits in 126
//! bits (binary and most graded harms), and falls back to [`Dyadic`] otherwise.

use std::cmp::Ordering;
use std::ops::{Add, Mul};

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

/// Splits a finite f64 into `(mantissa, exponent)` with `x = mantissa * 2^exponent` and
/// an odd mantissa (or zero, with exponent 0).
pub(crate) fn decompose(x: f64) -> (i64, i32) {
    debug_assert!(x.is_finite());
    if x == 0.0 {
        return (0, 0);
    }
    let bits = x.to_bits();
    let sign: i64 = if bits >> 63 == 1 { -1 } else { 1 };
    let exponent_bits = ((bits >> 52) & 0x7ff) as i32;
    let fraction = (bits & ((1u64 << 52) - 1)) as i64;
    let (mut mantissa, mut exponent) = if exponent_bits == 0 {
        // Subnormal: no implicit leading bit.
        (fraction, -1074)
    } else {
        (fraction | (1i64 << 52), exponent_bits - 1075)
    };
    let trailing = mantissa.trailing_zeros();
    mantissa >>= trailing;
    exponent += trailing as i32;
    (sign * mantissa, exponent)
}

/// An exact dyadic rational `mantissa * 2^exponent`.
#[derive(Debug, Clone)]
pub(crate) struct Dyadic {
    mantissa: BigInt,
    exponent: i64,
}

impl Dyadic {
    pub(crate) fn zero() -> Self {
        Dyadic {
            mantissa: BigInt::zero(),
            exponent: 0,
        }
    }

    /// Converts a finite f64 exactly.
    pub(crate) fn from_f64(x: f64) -> Self {
        let (mantissa, exponent) = decompose(x);
        Dyadic {
            mantissa: BigInt::from(mantissa),
            exponent: i64::from(exponent),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_u64(x: u64) -> Self {
        Dyadic {
            mantissa: BigInt::from(x),
            exponent: 0,
        }
    }

    /// Returns both mantissas scaled to the smaller of the two exponents.
    fn aligned(&self, other: &Dyadic) -> (BigInt, BigInt, i64) {
        match self.exponent.cmp(&other.exponent) {
            Ordering::Equal => (self.mantissa.clone(), other.mantissa.clone(), self.exponent),
            Ordering::Greater => {
                let shift = (self.exponent - other.exponent) as usize;
                (
                    &self.mantissa << shift,
                    other.mantissa.clone(),
                    other.exponent,
                )
            }
            Ordering::Less => {
                let shift = (other.exponent - self.exponent) as usize;
                (
                    self.mantissa.clone(),
                    &other.mantissa << shift,
                    self.exponent,
                )
            }
        }
    }

    /// Returns `ceil(self / other)` for positive values, saturating at `u64::MAX`.
    pub(crate) fn ceil_div_u64(&self, other: &Dyadic) -> u64 {
        let (numerator, denominator, _) = self.aligned(other);
        debug_assert!(denominator.is_positive() && !numerator.is_negative());
        let quotient = (numerator + &denominator - 1u32) / denominator;
        quotient.to_u64().unwrap_or(u64::MAX)
    }
}

impl Add for &Dyadic {
    type Output = Dyadic;

    fn add(self, other: &Dyadic) -> Dyadic {
        if self.mantissa.is_zero() {
            return other.clone();
        }
        if other.mantissa.is_zero() {
            return self.clone();
        }
        let (left, right, exponent) = self.aligned(other);
        Dyadic {
            mantissa: left + right,
            exponent,
        }
    }
}

impl Mul for &Dyadic {
    type Output = Dyadic;

    fn mul(self, other: &Dyadic) -> Dyadic {
        Dyadic {
            mantissa: &self.mantissa * &other.mantissa,
            exponent: self.exponent + other.exponent,
        }
    }
}

impl PartialEq for Dyadic {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Dyadic {}

impl PartialOrd for Dyadic {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dyadic {
    fn cmp(&self, other: &Self) -> Ordering {
        let (left, right, _) = self.aligned(other);
        left.cmp(&right)
    }
}

/// Returns the lowest exponent among the non-zero `values`' odd-mantissa forms, or 0
/// when all are zero: the common exponent at which all of them are integers.
pub(crate) fn lowest_exponent(values: impl Iterator<Item = f64>) -> i32 {
    values
        .map(decompose)
        .filter(|&(mantissa, _)| mantissa != 0)
        .map(|(_, exponent)| exponent)
        .min()
        .unwrap_or(0)
}

/// Adds `value * 2^-exponent` (an integer by choice of `exponent`) to `total` in place.
pub(crate) fn add_scaled(total: &mut BigInt, value: f64, exponent: i32) {
    let (mantissa, value_exponent) = decompose(value);
    if mantissa != 0 {
        *total += BigInt::from(mantissa) << (value_exponent - exponent) as usize;
    }
}

/// Returns `value * 2^-exponent` as an integer (see [`lowest_exponent`]).
pub(crate) fn scaled(value: f64, exponent: i32) -> BigInt {
    let mut total = BigInt::zero();
    add_scaled(&mut total, value, exponent);
    total
}

/// Fixed-point `i128` encoding of non-negative f64 values at one common exponent.
pub(crate) struct FixedPoint {
    /// Every encoded value is an integer multiple of `2^exponent`.
    exponent: i32,
}

impl FixedPoint {
    /// Chooses a common exponent for `values` and checks that `count` of the largest one,
    /// and `multiplier` times any of them, fit in `i128` without overflow. Returns `None`
    /// when they do not, so the caller falls back to [`Dyadic`].
    pub(crate) fn for_values(
        values: impl Iterator<Item = f64> + Clone,
        count: u64,
        multiplier: u64,
    ) -> Option<Self> {
        let mut lowest_exponent = i32::MAX;
        let mut highest_bit = i32::MIN;
        for value in values {
            let (mantissa, exponent) = decompose(value);
            if mantissa == 0 {
                continue;
            }
            lowest_exponent = lowest_exponent.min(exponent);
            let mantissa_bits = 64 - mantissa.unsigned_abs().leading_zeros() as i32;
            highest_bit = highest_bit.max(exponent + mantissa_bits);
        }
        if lowest_exponent == i32::MAX {
            return Some(FixedPoint { exponent: 0 });
        }
        let value_bits = i64::from(highest_bit) - i64::from(lowest_exponent);
        let growth_bits = 64 - i64::from(count.max(multiplier).max(1).leading_zeros());
        // One bit of headroom below the sign bit for the sum of two such quantities.
        (value_bits + growth_bits <= 125).then_some(FixedPoint {
            exponent: lowest_exponent,
        })
    }

    /// Encodes a non-negative value whose exponent was seen by [`Self::for_values`].
    pub(crate) fn encode(&self, value: f64) -> i128 {
        let (mantissa, exponent) = decompose(value);
        if mantissa == 0 {
            return 0;
        }
        i128::from(mantissa) << (exponent - self.exponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompose_round_trips() {
        for &x in &[1.0, 0.1, 0.2, 3.75, 1e-310, 5e-324, 1e300, -2.5] {
            let (mantissa, exponent) = decompose(x);
            assert_eq!(mantissa as f64 * 2f64.powi(exponent), x, "x = {x}");
            assert!(mantissa % 2 != 0, "mantissa of {x} is not odd");
        }
    }

    #[test]
    fn dyadic_sum_is_exact_where_f64_rounds() {
        // 0.1 + 0.2 rounds to 0.30000000000000004 in f64; the exact sum of the two f64
        // values lies below that double and above the double nearest 0.3.
        let sum = &Dyadic::from_f64(0.1) + &Dyadic::from_f64(0.2);
        assert!(sum < Dyadic::from_f64(0.1 + 0.2));
        assert!(sum > Dyadic::from_f64(0.3));
    }

    #[test]
    fn dyadic_product_and_ceil_division() {
        let product = &Dyadic::from_u64(20) * &Dyadic::from_f64(0.2);
        // The f64 0.2 is slightly above 1/5, so 20 * 0.2 is slightly above 4.
        assert!(product > Dyadic::from_u64(4));
        assert_eq!(Dyadic::from_u64(1).ceil_div_u64(&Dyadic::from_f64(0.25)), 4);
        // 1 / 0.1 is just below 10 because the f64 0.1 is just above 1/10.
        assert_eq!(Dyadic::from_u64(1).ceil_div_u64(&Dyadic::from_f64(0.1)), 10);
    }

    #[test]
    fn scaled_integers_share_an_exponent() {
        let exponent = lowest_exponent([0.75, 0.0, 2.0].into_iter());
        assert_eq!(exponent, -2);
        assert_eq!(scaled(0.75, exponent), BigInt::from(3));
        assert_eq!(scaled(2.0, exponent), BigInt::from(8));
    }

    #[test]
    fn fixed_point_rejects_wide_ranges() {
        assert!(
            FixedPoint::for_values([1.0, 0.5, 0.25].into_iter(), 1_000_000, 1_000_001).is_some()
        );
        assert!(FixedPoint::for_values([1e30, 1e-30].into_iter(), 10, 10).is_none());
    }
}
