//! 2-D similarity transforms (rotation, uniform scale, translation) fitted by least squares.

/// `p' = [a -b; b a] p + [tx ty]`: a rotation by `atan2(b, a)` and a scale by
/// `hypot(a, b)`, then a translation, with no reflection or shear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Applies the transform to `(x, y)`.
    pub fn apply(&self, (x, y): (f32, f32)) -> (f32, f32) {
        (
            self.a * x - self.b * y + self.tx,
            self.b * x + self.a * y + self.ty,
        )
    }

    /// Scale factor, `hypot(a, b)`.
    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    /// Returns the inverse transform.
    ///
    /// # Errors
    /// Returns a message when the scale is 0, so that no inverse exists.
    pub fn inverse(&self) -> Result<Self, String> {
        let norm = self.a * self.a + self.b * self.b;
        // `norm` is NaN or infinite when a coefficient is, and then there is no inverse.
        if norm <= 0.0 || !norm.is_finite() {
            return Err(format!("similarity with scale {} has no inverse", self.scale()));
        }
        // The inverse of [a -b; b a] is [a b; -b a] / (a^2 + b^2).
        let (a, b) = (self.a / norm, -self.b / norm);
        Ok(Self {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        })
    }

    /// Fits the transform that maps `from[i]` closest to `to[i]` in the least-squares
    /// sense (the closed form of Umeyama's method restricted to 2-D without reflection).
    ///
    /// # Errors
    /// Returns a message when the slices differ in length, hold fewer than 2 points, or
    /// the `from` points all coincide.
    pub fn fit(from: &[(f32, f32)], to: &[(f32, f32)]) -> Result<Self, String> {
        if from.len() != to.len() || from.len() < 2 {
            return Err(format!(
                "a similarity fit needs at least 2 point pairs, got {} and {}",
                from.len(),
                to.len()
            ));
        }
        let n = from.len() as f32;
        let mean = |pts: &[(f32, f32)]| {
            let (sx, sy) = pts.iter().fold((0.0, 0.0), |(ax, ay), &(x, y)| (ax + x, ay + y));
            (sx / n, sy / n)
        };
        let (fx, fy) = mean(from);
        let (tx, ty) = mean(to);

        // With centred points p (from) and q (to), minimising sum |[a -b; b a] p - q|^2
        // gives a = sum(p.q) / sum|p|^2 and b = sum(p x q) / sum|p|^2.
        let mut dot = 0.0;
        let mut cross = 0.0;
        let mut norm = 0.0;
        for (&(px, py), &(qx, qy)) in from.iter().zip(to) {
            let (px, py) = (px - fx, py - fy);
            let (qx, qy) = (qx - tx, qy - ty);
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
            norm += px * px + py * py;
        }
        if norm < 1e-9 {
            return Err("the source points coincide, so no similarity is defined".to_string());
        }
        let a = dot / norm;
        let b = cross / norm;
        Ok(Self {
            a,
            b,
            tx: tx - (a * fx - b * fy),
            ty: ty - (b * fx + a * fy),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_known_transform() {
        // Rotation by 30 degrees, scale 2, translation (5, -3).
        let (s, c) = (30f32.to_radians().sin(), 30f32.to_radians().cos());
        let truth = Similarity {
            a: 2.0 * c,
            b: 2.0 * s,
            tx: 5.0,
            ty: -3.0,
        };
        let from = [(0.0, 0.0), (10.0, 0.0), (3.0, 7.0)];
        let to: Vec<_> = from.iter().map(|&p| truth.apply(p)).collect();
        let fit = Similarity::fit(&from, &to).unwrap();
        for (got, want) in [(fit.a, truth.a), (fit.b, truth.b), (fit.tx, truth.tx), (fit.ty, truth.ty)] {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
    }

    #[test]
    fn inverse_undoes_transform() {
        let t = Similarity {
            a: 1.5,
            b: -0.4,
            tx: 3.0,
            ty: 7.0,
        };
        let inverse = t.inverse().unwrap();
        let (x, y) = inverse.apply(t.apply((2.0, -5.0)));
        assert!((x - 2.0).abs() < 1e-5, "({x}, {y})");
        assert!((y + 5.0).abs() < 1e-5, "({x}, {y})");
    }

    #[test]
    fn fit_rejects_coincident_points() {
        assert!(Similarity::fit(&[(1.0, 1.0), (1.0, 1.0)], &[(0.0, 0.0), (1.0, 0.0)]).is_err());
    }
}
