//! The learned parts of the face finder and how they are applied. A linear HOG window
//! classifier scores every window of the scale pyramid. A linear regressor maps the
//! best window to the eye and mouth centres and the face box. A cascade of linear
//! regressors then refines the centres on patches warped to the canonical frame
//! (supervised descent, after Xiong and De la Torre, CVPR 2013).
//!
//! The weights are fitted offline on rendered synthetic faces (see [`crate::face_train`])
//! and embedded in the binary as `face_model.bin`.

use std::sync::OnceLock;

use crate::gray::GrayImage;
use crate::hog::{CellGrid, BINS, CELL};
use crate::pyramid::{Level, Pyramid, WINDOW_CELLS, WINDOW_PIXELS};
use crate::{PixelBox, Similarity};

/// Length of a window's feature vector (10 x 10 cells of 9 bins).
pub const FEATURES: usize = WINDOW_CELLS * WINDOW_CELLS * BINS;
/// Eye and mouth centres as `[left_eye_x, left_eye_y, right_eye_x, right_eye_y,
/// mouth_x, mouth_y]`. `left` is the eye on the image's left.
pub type Shape = [f32; 6];

/// Leading bytes of the model file.
const MAGIC: &[u8; 4] = b"AFM1";
/// Outputs of the window regressor: the shape, then the face box `x0, y0, x1, y1`,
/// all in window units (0 at the window's top-left corner, 1 at its bottom-right).
pub const WINDOW_OUTPUTS: usize = 10;

/// A linear map from a feature vector (plus a constant 1) to `outputs` values.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearMap {
    pub outputs: usize,
    /// `(FEATURES + 1) x outputs`, row-major, the bias row last.
    pub weights: Vec<f32>,
}

impl LinearMap {
    /// Applies the map to `features` (`FEATURES` values).
    pub fn apply(&self, features: &[f32]) -> Vec<f32> {
        let mut out = self.weights[FEATURES * self.outputs..].to_vec();
        for (i, f) in features.iter().enumerate() {
            if *f == 0.0 {
                continue;
            }
            let row = &self.weights[i * self.outputs..(i + 1) * self.outputs];
            out.iter_mut().zip(row).for_each(|(o, w)| *o += f * w);
        }
        out
    }
}

/// Every fitted parameter of the face finder.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceModel {
    /// Window classifier: `FEATURES` weights in the layout of
    /// [`CellGrid::window`] followed by the bias.
    pub detector: Vec<f32>,
    /// Lowest classifier score accepted as a face.
    pub threshold: f32,
    /// Mean shape in canonical-frame pixels, the frame of a 40x40 detection window
    /// around a face of average proportions.
    pub mean_shape: Shape,
    /// Window features to shape and face box ([`WINDOW_OUTPUTS`] values).
    pub window_regressor: LinearMap,
    /// Canonical-patch features to a shape correction in canonical pixels, applied in
    /// order.
    pub refiners: Vec<LinearMap>,
}

/// The best window found by [`FaceModel::scan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowHit {
    pub level: usize,
    /// Top-left cell in the level's padded grid.
    pub cx: usize,
    pub cy: usize,
    pub score: f32,
}

impl FaceModel {
    /// Returns the model embedded in the binary, parsed on first use.
    ///
    /// # Errors
    /// Returns a message when the embedded bytes are malformed, which means the model
    /// file and this code disagree on the format.
    pub fn embedded() -> Result<&'static FaceModel, String> {
        static MODEL: OnceLock<Result<FaceModel, String>> = OnceLock::new();
        MODEL
            .get_or_init(|| FaceModel::from_bytes(include_bytes!("face_model.bin")))
            .as_ref()
            .map_err(|e| format!("embedded face model is invalid: {e}"))
    }

    /// Serialises the model: the magic `AFM1`, `FEATURES` and the refiner count as
    /// little-endian `u32`, then every parameter as little-endian `f32` (threshold,
    /// mean shape, detector, window regressor, refiners).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(FEATURES as u32).to_le_bytes());
        out.extend_from_slice(&(self.refiners.len() as u32).to_le_bytes());
        let mut push = |values: &[f32]| values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        push(&[self.threshold]);
        push(&self.mean_shape);
        push(&self.detector);
        push(&self.window_regressor.weights);
        for refiner in &self.refiners {
            push(&refiner.weights);
        }
        out
    }

    /// Parses bytes written by [`FaceModel::to_bytes`].
    ///
    /// # Errors
    /// Returns a message when the magic, the feature count or the length is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 12 || &bytes[..4] != MAGIC {
            return Err("face model does not start with the magic `AFM1`".to_string());
        }
        let read_u32 = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let features = read_u32(4);
        if features != FEATURES {
            return Err(format!("face model has {features} features per window; this code expects {FEATURES}"));
        }
        let refiner_count = read_u32(8);
        let floats = 1 + 6 + (FEATURES + 1) * (1 + WINDOW_OUTPUTS + 6 * refiner_count);
        if bytes.len() != 12 + 4 * floats {
            return Err(format!(
                "face model has {} bytes; {refiner_count} refiners need {}",
                bytes.len(),
                12 + 4 * floats
            ));
        }
        let values: Vec<f32> = bytes[12..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut rest = values.as_slice();
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head.to_vec()
        };
        let threshold = take(1)[0];
        let mean_shape: Shape = take(6).try_into().expect("six values");
        let detector = take(FEATURES + 1);
        let window_regressor = LinearMap {
            outputs: WINDOW_OUTPUTS,
            weights: take((FEATURES + 1) * WINDOW_OUTPUTS),
        };
        let refiners = (0..refiner_count)
            .map(|_| LinearMap {
                outputs: 6,
                weights: take((FEATURES + 1) * 6),
            })
            .collect();
        Ok(Self {
            detector,
            threshold,
            mean_shape,
            window_regressor,
            refiners,
        })
    }

    /// Scores every window of every level and returns the highest-scoring one, or
    /// `None` when the pyramid has no window position.
    pub fn scan(&self, pyramid: &Pyramid) -> Option<WindowHit> {
        let (weights, bias) = self.detector.split_at(FEATURES);
        let mut best: Option<WindowHit> = None;
        for (index, level) in pyramid.levels.iter().enumerate() {
            let (nx, ny) = level.positions();
            for cy in 0..ny {
                for cx in 0..nx {
                    let score = level.cells.dot_window(cx, cy, WINDOW_CELLS, weights) + bias[0];
                    if best.is_none_or(|b| score > b.score) {
                        best = Some(WindowHit {
                            level: index,
                            cx,
                            cy,
                            score,
                        });
                    }
                }
            }
        }
        best
    }

    /// Estimates the shape and face box, in input pixels, from the features of the
    /// window at `(cx, cy)` of `level`.
    pub fn estimate_from_window(&self, level: &Level, cx: usize, cy: usize) -> (Shape, PixelBox) {
        let mut features = Vec::with_capacity(FEATURES);
        level.cells.window(cx, cy, WINDOW_CELLS, &mut features);
        let out = self.window_regressor.apply(&features);
        let window = level.window_box(cx, cy);
        let to_x = |u: f32| window.x0 + u * window.width();
        let to_y = |v: f32| window.y0 + v * window.height();
        let shape = [
            to_x(out[0]),
            to_y(out[1]),
            to_x(out[2]),
            to_y(out[3]),
            to_x(out[4]),
            to_y(out[5]),
        ];
        let face_box = PixelBox::new(to_x(out[6]), to_y(out[7]), to_x(out[8]), to_y(out[9]));
        (shape, face_box)
    }

    /// Applies the refiners in order to `shape` (input pixels) and returns the result.
    ///
    /// # Errors
    /// Returns a message when a shape degenerates (all three points coincide), so that
    /// no canonical frame can be fitted.
    pub fn refine(&self, pyramid: &Pyramid, shape: Shape) -> Result<Shape, String> {
        let mut shape = shape;
        let mut features = Vec::with_capacity(FEATURES);
        for refiner in &self.refiners {
            let to_image = canonical_to_image(&self.mean_shape, &shape)?;
            features.clear();
            canonical_features(pyramid, &to_image, &mut features);
            let delta = refiner.apply(&features);
            shape = apply_delta(&self.mean_shape, &to_image, &delta);
        }
        Ok(shape)
    }
}

/// Points of a shape as `(x, y)` pairs.
pub fn shape_points(shape: &Shape) -> [(f32, f32); 3] {
    [(shape[0], shape[1]), (shape[2], shape[3]), (shape[4], shape[5])]
}

/// The similarity that maps the mean shape (canonical pixels) closest to `shape`.
///
/// # Errors
/// Returns a message when the mean shape's points coincide.
pub fn canonical_to_image(mean_shape: &Shape, shape: &Shape) -> Result<Similarity, String> {
    Similarity::fit(&shape_points(mean_shape), &shape_points(shape))
}

/// Maps `mean_shape + delta` (canonical pixels) to input pixels with `to_image`.
pub fn apply_delta(mean_shape: &Shape, to_image: &Similarity, delta: &[f32]) -> Shape {
    let mut out = [0.0; 6];
    for p in 0..3 {
        let (x, y) = to_image.apply((mean_shape[2 * p] + delta[2 * p], mean_shape[2 * p + 1] + delta[2 * p + 1]));
        out[2 * p] = x;
        out[2 * p + 1] = y;
    }
    out
}

/// Appends the `FEATURES` HOG features of the canonical window mapped into the image by
/// `to_image`. The patch is sampled with one extra cell on each side so that its border
/// cells are normalised by real neighbours, from the pyramid level closest in scale.
pub fn canonical_features(pyramid: &Pyramid, to_image: &Similarity, out: &mut Vec<f32>) {
    let side = WINDOW_PIXELS + 2 * CELL;
    let level = &pyramid.levels[pyramid.nearest_level(1.0 / to_image.scale())];
    let mut pixels = Vec::with_capacity(side * side);
    for row in 0..side {
        for column in 0..side {
            // Canonical pixel centres; the window itself spans 0..40.
            let u = column as f32 - CELL as f32 + 0.5;
            let v = row as f32 - CELL as f32 + 0.5;
            let (x, y) = to_image.apply((u, v));
            pixels.push(level.gray.sample(x * level.scale_x - 0.5, y * level.scale_y - 0.5));
        }
    }
    let patch = GrayImage {
        width: side,
        height: side,
        pixels,
    };
    CellGrid::new(&patch, 0).window(1, 1, WINDOW_CELLS, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_model() -> FaceModel {
        let ramp = |n: usize, k: f32| (0..n).map(|i| (i % 17) as f32 * k).collect::<Vec<_>>();
        FaceModel {
            detector: ramp(FEATURES + 1, 0.01),
            threshold: 0.25,
            mean_shape: [14.0, 15.0, 26.0, 15.0, 20.0, 28.0],
            window_regressor: LinearMap {
                outputs: WINDOW_OUTPUTS,
                weights: ramp((FEATURES + 1) * WINDOW_OUTPUTS, 0.001),
            },
            refiners: vec![LinearMap {
                outputs: 6,
                weights: ramp((FEATURES + 1) * 6, -0.002),
            }],
        }
    }

    #[test]
    fn bytes_round_trip() {
        let model = small_model();
        assert_eq!(FaceModel::from_bytes(&model.to_bytes()).unwrap(), model);
    }

    #[test]
    fn truncated_bytes_are_rejected() {
        let bytes = small_model().to_bytes();
        let err = FaceModel::from_bytes(&bytes[..bytes.len() - 4]).unwrap_err();
        assert!(err.contains("bytes"), "{err}");
        assert!(FaceModel::from_bytes(b"nope").is_err());
    }

    #[test]
    fn embedded_model_parses() {
        let model = FaceModel::embedded().unwrap();
        assert!(!model.refiners.is_empty());
    }

    #[test]
    fn linear_map_adds_bias() {
        let mut weights = vec![0.0; (FEATURES + 1) * 2];
        weights[0] = 2.0; // feature 0 -> output 0
        weights[3] = -1.0; // feature 1 -> output 1
        weights[FEATURES * 2] = 0.5;
        weights[FEATURES * 2 + 1] = 1.5;
        let map = LinearMap { outputs: 2, weights };
        let mut features = vec![0.0; FEATURES];
        features[0] = 3.0;
        features[1] = 4.0;
        assert_eq!(map.apply(&features), vec![6.5, -2.5]);
    }

    #[test]
    fn zero_delta_maps_mean_shape_onto_shape() {
        let mean = [14.0, 15.0, 26.0, 15.0, 20.0, 28.0];
        // The target is the mean shape scaled by 2 and moved, so the fit is exact.
        let target: Shape = [38.0, 40.0, 62.0, 40.0, 50.0, 66.0];
        let to_image = canonical_to_image(&mean, &target).unwrap();
        let shape = apply_delta(&mean, &to_image, &[0.0; 6]);
        for (a, b) in shape.iter().zip(&target) {
            assert!((a - b).abs() < 1e-3, "{shape:?}");
        }
    }
}
