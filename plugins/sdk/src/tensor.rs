//! Borrowed numeric buffers with a shape, as they cross the native ABI.

/// A borrowed, row-major (C order) buffer with its shape, e.g. `(batch, seq, hidden)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorView<'a, T> {
    data: &'a [T],
    shape: &'a [usize],
}

/// A shape that does not match its buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shape {shape:?} holds {expected} elements but the buffer has {actual}")]
pub struct TensorViewError {
    pub shape: Vec<usize>,
    pub expected: usize,
    pub actual: usize,
}

impl<'a, T> TensorView<'a, T> {
    /// Wraps `data` with `shape` after checking that the product of `shape` equals
    /// `data.len()`. An empty shape is a scalar and needs exactly one element.
    ///
    /// # Errors
    /// Returns [`TensorViewError`] when the element counts differ or the product overflows.
    pub fn new(data: &'a [T], shape: &'a [usize]) -> Result<Self, TensorViewError> {
        let expected = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        match expected {
            Some(expected) if expected == data.len() => Ok(Self { data, shape }),
            _ => Err(TensorViewError {
                shape: shape.to_vec(),
                expected: expected.unwrap_or(usize::MAX),
                actual: data.len(),
            }),
        }
    }

    /// Returns the elements in row-major order.
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// Returns the size of each dimension.
    pub fn shape(&self) -> &'a [usize] {
        self.shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_accepts_matching_shape() {
        let data = [1.0f32; 6];
        let view = TensorView::new(&data, &[2, 3]).unwrap();
        assert_eq!(view.shape(), &[2, 3]);
    }

    #[test]
    fn view_rejects_mismatched_shape() {
        let data = [1.0f32; 5];
        let err = TensorView::new(&data, &[2, 3]).unwrap_err();
        assert_eq!(err.expected, 6);
        assert_eq!(err.actual, 5);
    }

    #[test]
    fn view_rejects_overflowing_shape() {
        let data = [0u8; 1];
        assert!(TensorView::new(&data, &[usize::MAX, 2]).is_err());
    }

    #[test]
    fn scalar_shape_needs_one_element() {
        assert!(TensorView::new(&[3.0f32], &[]).is_ok());
        assert!(TensorView::<f32>::new(&[], &[]).is_err());
    }
}
