//! Weighted ridge regression from accumulated sufficient statistics, used offline to fit
//! the face finder's linear detector and landmark regressors.

/// Running sums `X^T W X` and `X^T W Y` of weighted samples with `inputs` features (a
/// constant 1 is appended as the bias input) and `outputs` targets.
#[derive(Debug, Clone)]
pub struct RidgeSums {
    inputs: usize,
    outputs: usize,
    /// `(inputs + 1) x (inputs + 1)`, upper triangle filled while accumulating.
    xtx: Vec<f64>,
    /// `(inputs + 1) x outputs`.
    xty: Vec<f64>,
    /// Sum of the sample weights.
    pub total_weight: f64,
    /// Number of samples added.
    pub count: usize,
}

impl RidgeSums {
    pub fn new(inputs: usize, outputs: usize) -> Self {
        let d = inputs + 1;
        Self {
            inputs,
            outputs,
            xtx: vec![0.0; d * d],
            xty: vec![0.0; d * outputs],
            total_weight: 0.0,
            count: 0,
        }
    }

    /// Adds one sample with features `x` (`inputs` values), targets `y` (`outputs`
    /// values) and weight `weight`.
    ///
    /// # Panics
    /// Panics when `x` or `y` has the wrong length.
    pub fn add(&mut self, x: &[f32], y: &[f32], weight: f64) {
        assert_eq!(x.len(), self.inputs, "feature length");
        assert_eq!(y.len(), self.outputs, "target length");
        let d = self.inputs + 1;
        let value = |i: usize| if i < self.inputs { x[i] as f64 } else { 1.0 };
        for i in 0..d {
            let wi = weight * value(i);
            if wi == 0.0 {
                continue;
            }
            let row = &mut self.xtx[i * d..(i + 1) * d];
            for (j, cell) in row.iter_mut().enumerate().skip(i) {
                *cell += wi * value(j);
            }
            for (k, t) in y.iter().enumerate() {
                self.xty[i * self.outputs + k] += wi * *t as f64;
            }
        }
        self.total_weight += weight;
        self.count += 1;
    }

    /// Adds every sum of `other`, scaled by `scale`, to these sums.
    ///
    /// # Panics
    /// Panics when the shapes differ.
    pub fn add_scaled(&mut self, other: &RidgeSums, scale: f64) {
        assert_eq!((self.inputs, self.outputs), (other.inputs, other.outputs), "shapes differ");
        self.xtx.iter_mut().zip(&other.xtx).for_each(|(a, b)| *a += scale * b);
        self.xty.iter_mut().zip(&other.xty).for_each(|(a, b)| *a += scale * b);
        self.total_weight += scale * other.total_weight;
        self.count += other.count;
    }

    /// Solves `(X^T W X + lambda I) B = X^T W Y` with the bias row left unpenalised,
    /// where `lambda = relative_lambda * trace(X^T W X) / inputs`. Returns `B` as
    /// `(inputs + 1) x outputs`, row-major, the bias row last.
    ///
    /// # Errors
    /// Returns a message when no samples were added or the system is not positive
    /// definite (for example `relative_lambda` is 0 with too few samples).
    pub fn solve(&self, relative_lambda: f64) -> Result<Vec<f32>, String> {
        if self.count == 0 {
            return Err("ridge regression needs at least one sample, got none".to_string());
        }
        let d = self.inputs + 1;
        let mut a = vec![0.0f64; d * d];
        for i in 0..d {
            for j in i..d {
                a[i * d + j] = self.xtx[i * d + j];
                a[j * d + i] = self.xtx[i * d + j];
            }
        }
        let trace: f64 = (0..self.inputs).map(|i| a[i * d + i]).sum();
        let lambda = relative_lambda * trace / self.inputs.max(1) as f64;
        for i in 0..self.inputs {
            a[i * d + i] += lambda;
        }
        // A tiny bias penalty keeps the system definite when every sample is all-zero.
        a[d * d - 1] += 1e-9 * (1.0 + a[d * d - 1]);
        cholesky_in_place(&mut a, d)?;
        let mut solution = vec![0.0f32; d * self.outputs];
        let mut column = vec![0.0f64; d];
        for k in 0..self.outputs {
            for (i, value) in column.iter_mut().enumerate() {
                *value = self.xty[i * self.outputs + k];
            }
            cholesky_solve(&a, d, &mut column);
            for i in 0..d {
                solution[i * self.outputs + k] = column[i] as f32;
            }
        }
        Ok(solution)
    }
}

/// Replaces the lower triangle of the symmetric `n x n` matrix `a` with its Cholesky
/// factor `L` (`a = L L^T`).
fn cholesky_in_place(a: &mut [f64], n: usize) -> Result<(), String> {
    for j in 0..n {
        let mut diagonal = a[j * n + j];
        for k in 0..j {
            diagonal -= a[j * n + k] * a[j * n + k];
        }
        if diagonal <= 0.0 || !diagonal.is_finite() {
            return Err(format!(
                "ridge system is not positive definite at row {j} (pivot {diagonal:e}); raise the regularisation"
            ));
        }
        let diagonal = diagonal.sqrt();
        a[j * n + j] = diagonal;
        for i in j + 1..n {
            let mut value = a[i * n + j];
            for k in 0..j {
                value -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = value / diagonal;
        }
    }
    Ok(())
}

/// Solves `L L^T x = b` in place, with `L` the lower triangle of `a`.
fn cholesky_solve(a: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let mut value = b[i];
        for k in 0..i {
            value -= a[i * n + k] * b[k];
        }
        b[i] = value / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut value = b[i];
        for k in i + 1..n {
            value -= a[k * n + i] * b[k];
        }
        b[i] = value / a[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_is_recovered_without_regularisation() {
        // y = 3 x0 - 2 x1 + 5 on four points determines all three coefficients.
        let mut sums = RidgeSums::new(2, 1);
        for (x0, x1) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (2.0, 3.0)] {
            sums.add(&[x0, x1], &[3.0 * x0 - 2.0 * x1 + 5.0], 1.0);
        }
        let b = sums.solve(0.0).unwrap();
        for (got, want) in b.iter().zip([3.0, -2.0, 5.0]) {
            assert!((got - want).abs() < 1e-4, "{b:?}");
        }
    }

    #[test]
    fn ridge_matches_hand_solution() {
        // One feature, samples x = 1 and x = -1 with y = 1 and y = -1: X^T X = [[2, 0],
        // [0, 2]], X^T y = [2, 0]. relative_lambda 1 gives lambda = trace / 1 = 2, so
        // the slope is 2 / (2 + 2) = 0.5 and the bias 0.
        let mut sums = RidgeSums::new(1, 1);
        sums.add(&[1.0], &[1.0], 1.0);
        sums.add(&[-1.0], &[-1.0], 1.0);
        let b = sums.solve(1.0).unwrap();
        assert!((b[0] - 0.5).abs() < 1e-6, "{b:?}");
        assert!(b[1].abs() < 1e-6, "{b:?}");
    }

    #[test]
    fn weights_count_as_repeated_samples() {
        let mut weighted = RidgeSums::new(1, 1);
        weighted.add(&[1.0], &[2.0], 3.0);
        weighted.add(&[2.0], &[1.0], 1.0);
        let mut repeated = RidgeSums::new(1, 1);
        for _ in 0..3 {
            repeated.add(&[1.0], &[2.0], 1.0);
        }
        repeated.add(&[2.0], &[1.0], 1.0);
        assert_eq!(weighted.solve(0.1).unwrap(), repeated.solve(0.1).unwrap());
    }

    #[test]
    fn empty_sums_are_an_error() {
        assert!(RidgeSums::new(3, 1).solve(1.0).is_err());
    }
}
