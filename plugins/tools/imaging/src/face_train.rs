//! Offline fitting of the [`FaceModel`] from faces with known eye and mouth centres and
//! face boxes. The guests never call this; the host's test suite runs it on rendered
//! synthetic faces to regenerate `face_model.bin`.
//!
//! Steps:
//! 1. Fit a ridge-regression window classifier on HOG windows. Positives are windows
//!    that fit the face box and negatives random windows elsewhere. Refit it after
//!    adding the highest-scoring wrong windows (hard-negative mining).
//! 2. Fit a ridge regressor from window features to the shape and face box.
//! 3. Fit a cascade of ridge regressors from canonical-patch features to shape
//!    corrections, each on the shapes the previous stage produces.

use crate::face_model::{
    apply_delta, canonical_features, canonical_to_image, shape_points, FaceModel, LinearMap, Shape, FEATURES,
    WINDOW_OUTPUTS,
};
use crate::gray::GrayImage;
use crate::pyramid::{window_for_face, Pyramid, WINDOW_CELLS, WINDOW_PIXELS};
use crate::ridge::RidgeSums;
use crate::{PixelBox, RgbImage};

/// One training image and its ground truth in input pixels.
#[derive(Debug, Clone)]
pub struct TrainingFace {
    pub image: RgbImage,
    pub shape: Shape,
    pub face_box: PixelBox,
}

impl TrainingFace {
    /// Returns the face mirrored left to right. The eyes swap so that `left` stays the
    /// eye on the image's left.
    pub fn mirrored(&self) -> Self {
        let (w, h, c) = (self.image.width as usize, self.image.height as usize, self.image.channels as usize);
        let mut pixels = vec![0u8; self.image.pixels.len()];
        for y in 0..h {
            for x in 0..w {
                let from = (y * w + x) * c;
                let to = (y * w + (w - 1 - x)) * c;
                pixels[to..to + c].copy_from_slice(&self.image.pixels[from..from + c]);
            }
        }
        let width = w as f32;
        let s = &self.shape;
        Self {
            image: RgbImage {
                pixels,
                ..self.image.clone()
            },
            shape: [width - s[2], s[3], width - s[0], s[1], width - s[4], s[5]],
            face_box: PixelBox::new(width - self.face_box.x1, self.face_box.y0, width - self.face_box.x0, self.face_box.y1),
        }
    }
}

/// Sampling and regularisation settings of [`train_face_model`].
#[derive(Debug, Clone)]
pub struct TrainingOptions {
    /// Ridge penalty of the window classifier, relative to the mean feature energy.
    pub classifier_lambda: f64,
    /// Ridge penalty of the regressors, relative to the mean feature energy.
    pub regressor_lambda: f64,
    /// Random background windows per image in the first classifier fit.
    pub random_negatives: usize,
    /// Rounds of hard-negative mining after the first fit.
    pub mining_rounds: usize,
    /// Highest-scoring wrong windows added per image and round.
    pub mined_per_image: usize,
    /// Refinement stages of the cascade.
    pub refiner_stages: usize,
    /// Randomly displaced starting shapes per image for the cascade, besides the
    /// shape estimated from the detected window.
    pub perturbed_starts: usize,
    /// Seed of the window sampling and perturbations.
    pub seed: u64,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        Self {
            classifier_lambda: 0.01,
            regressor_lambda: 0.01,
            random_negatives: 40,
            mining_rounds: 2,
            mined_per_image: 8,
            refiner_stages: 3,
            perturbed_starts: 2,
            seed: 1,
        }
    }
}

/// A window counts as the face when its IoU with the face's window is at least this.
const POSITIVE_IOU: f32 = 0.7;
/// Windows the window regressor learns from overlap the face's window at least this.
const REGRESSION_IOU: f32 = 0.5;
/// A window counts as background when its IoU with the face's window is below this.
const NEGATIVE_IOU: f32 = 0.4;

/// SplitMix64, a small deterministic generator for the sampling.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `[-1, 1)`.
    fn symmetric(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Shape of `face` in units of `window` (0 at its top-left corner, 1 at its
/// bottom-right), followed by the face box in the same units.
fn window_targets(face: &TrainingFace, window: &PixelBox) -> [f32; WINDOW_OUTPUTS] {
    let u = |x: f32| (x - window.x0) / window.width();
    let v = |y: f32| (y - window.y0) / window.height();
    let (s, b) = (&face.shape, &face.face_box);
    [u(s[0]), v(s[1]), u(s[2]), v(s[3]), u(s[4]), v(s[5]), u(b.x0), v(b.y0), u(b.x1), v(b.y1)]
}

/// Lists every window position of a pyramid with its IoU against the face's window.
fn windows_with_iou(pyramid: &Pyramid, face_window: &PixelBox) -> Vec<(usize, usize, usize, f32)> {
    let mut all = Vec::new();
    for (index, level) in pyramid.levels.iter().enumerate() {
        let (nx, ny) = level.positions();
        for cy in 0..ny {
            for cx in 0..nx {
                all.push((index, cx, cy, level.window_box(cx, cy).iou(face_window)));
            }
        }
    }
    all
}

fn window_features(pyramid: &Pyramid, level: usize, cx: usize, cy: usize) -> Vec<f32> {
    let mut features = Vec::with_capacity(FEATURES);
    pyramid.levels[level].cells.window(cx, cy, WINDOW_CELLS, &mut features);
    features
}

/// Fits a [`FaceModel`] to `faces`. `progress` receives one line per finished step.
///
/// # Errors
/// Returns a message when `faces` is empty, no face has a window that fits it, or a
/// ridge system cannot be solved.
pub fn train_face_model(
    faces: &[TrainingFace],
    options: &TrainingOptions,
    progress: &mut dyn FnMut(String),
) -> Result<FaceModel, String> {
    if faces.is_empty() {
        return Err("training needs at least one face, got none".to_string());
    }
    let mut rng = SplitMix(options.seed);
    let pyramid_of = |face: &TrainingFace| Pyramid::new(&GrayImage::from_rgb(&face.image));

    // Step 1: positives, random negatives and window-regression samples.
    let mut positives = RidgeSums::new(FEATURES, 1);
    let mut negatives = RidgeSums::new(FEATURES, 1);
    let mut window_sums = RidgeSums::new(FEATURES, WINDOW_OUTPUTS);
    let mut mean_shape = [0.0f64; 6];
    for face in faces {
        let pyramid = pyramid_of(face);
        let face_window = window_for_face(&face.face_box);
        let windows = windows_with_iou(&pyramid, &face_window);
        for &(level, cx, cy, iou) in &windows {
            if iou >= POSITIVE_IOU {
                positives.add(&window_features(&pyramid, level, cx, cy), &[1.0], 1.0);
            }
        }
        let near: Vec<_> = windows.iter().filter(|w| w.3 >= REGRESSION_IOU).collect();
        for _ in 0..near.len().min(6) {
            let &&(level, cx, cy, _) = &near[rng.below(near.len())];
            let window = pyramid.levels[level].window_box(cx, cy);
            window_sums.add(&window_features(&pyramid, level, cx, cy), &window_targets(face, &window), 1.0);
        }
        let background: Vec<_> = windows.iter().filter(|w| w.3 < NEGATIVE_IOU).collect();
        for _ in 0..options.random_negatives.min(background.len()) {
            let &&(level, cx, cy, _) = &background[rng.below(background.len())];
            negatives.add(&window_features(&pyramid, level, cx, cy), &[-1.0], 1.0);
        }
        let targets = window_targets(face, &face_window);
        for (m, t) in mean_shape.iter_mut().zip(&targets[..6]) {
            *m += (*t * WINDOW_PIXELS as f32) as f64 / faces.len() as f64;
        }
    }
    if positives.count == 0 {
        return Err("no training face has a pyramid window that fits its face box".to_string());
    }
    let mean_shape: Shape = mean_shape.map(|v| v as f32);
    let fit_detector = |positives: &RidgeSums, negatives: &RidgeSums| -> Result<Vec<f32>, String> {
        // Weight the classes equally whatever their counts.
        let mut sums = RidgeSums::new(FEATURES, 1);
        sums.add_scaled(positives, 1.0 / positives.total_weight);
        sums.add_scaled(negatives, 1.0 / negatives.total_weight.max(1.0));
        sums.solve(options.classifier_lambda)
    };
    let mut model = FaceModel {
        detector: fit_detector(&positives, &negatives)?,
        threshold: f32::NEG_INFINITY,
        mean_shape,
        window_regressor: LinearMap {
            outputs: WINDOW_OUTPUTS,
            weights: window_sums.solve(options.regressor_lambda)?,
        },
        refiners: Vec::new(),
    };
    progress(format!(
        "classifier fitted on {} positive and {} random negative windows; window regressor on {} windows",
        positives.count, negatives.count, window_sums.count
    ));

    // Step 2: hard-negative mining.
    for round in 0..options.mining_rounds {
        let mut wrong_wins = 0usize;
        for face in faces {
            let pyramid = pyramid_of(face);
            let face_window = window_for_face(&face.face_box);
            let (weights, bias) = model.detector.split_at(FEATURES);
            let mut scored: Vec<(f32, usize, usize, usize)> = windows_with_iou(&pyramid, &face_window)
                .into_iter()
                .filter(|w| w.3 < NEGATIVE_IOU)
                .map(|(level, cx, cy, _)| {
                    (pyramid.levels[level].cells.dot_window(cx, cy, WINDOW_CELLS, weights) + bias[0], level, cx, cy)
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            if let Some(hit) = model.scan(&pyramid) {
                let found = pyramid.levels[hit.level].window_box(hit.cx, hit.cy);
                if found.iou(&face_window) < REGRESSION_IOU {
                    wrong_wins += 1;
                }
            }
            for &(_, level, cx, cy) in scored.iter().take(options.mined_per_image) {
                negatives.add(&window_features(&pyramid, level, cx, cy), &[-1.0], 1.0);
            }
        }
        model.detector = fit_detector(&positives, &negatives)?;
        progress(format!(
            "mining round {}: the best window missed the face on {wrong_wins} of {} images before refitting; {} negatives",
            round + 1,
            faces.len(),
            negatives.count
        ));
    }

    // Step 3: detect every face, set the threshold and collect the cascade's starts.
    let mut scores = Vec::new();
    let mut starts: Vec<(usize, Shape)> = Vec::new();
    for (index, face) in faces.iter().enumerate() {
        let pyramid = pyramid_of(face);
        let face_window = window_for_face(&face.face_box);
        let Some(hit) = model.scan(&pyramid) else {
            continue;
        };
        let level = &pyramid.levels[hit.level];
        if level.window_box(hit.cx, hit.cy).iou(&face_window) >= REGRESSION_IOU {
            scores.push(hit.score);
            starts.push((index, model.estimate_from_window(level, hit.cx, hit.cy).0));
        }
        for _ in 0..options.perturbed_starts {
            starts.push((index, perturb(&face.shape, &mut rng)));
        }
    }
    scores.sort_by(f32::total_cmp);
    let bias = model.detector[FEATURES];
    // Accept nearly every correct detection; the bias is the score of a blank window.
    let lowest = scores.get(scores.len() / 200).copied().unwrap_or(bias);
    model.threshold = lowest - 0.1 * (lowest - bias).abs();
    progress(format!(
        "detected {} of {} faces; threshold {:.3} (blank-window score {bias:.3})",
        scores.len(),
        faces.len(),
        model.threshold
    ));

    // Step 4: the refinement cascade.
    for stage in 0..options.refiner_stages {
        let mut sums = RidgeSums::new(FEATURES, 6);
        let mut samples: Vec<(usize, Vec<f32>)> = Vec::with_capacity(starts.len());
        let mut error_before = 0.0f64;
        for (face_index, face) in faces.iter().enumerate() {
            let pyramid = pyramid_of(face);
            for (start_index, (owner, shape)) in starts.iter().enumerate() {
                if *owner != face_index {
                    continue;
                }
                let to_image = canonical_to_image(&mean_shape, shape)?;
                let mut features = Vec::with_capacity(FEATURES);
                canonical_features(&pyramid, &to_image, &mut features);
                let to_canonical = to_image.inverse()?;
                let mut target = [0.0f32; 6];
                for (p, (x, y)) in shape_points(&face.shape).into_iter().enumerate() {
                    let (u, v) = to_canonical.apply((x, y));
                    target[2 * p] = u - mean_shape[2 * p];
                    target[2 * p + 1] = v - mean_shape[2 * p + 1];
                }
                error_before += normalised_error(shape, &face.shape);
                sums.add(&features, &target, 1.0);
                samples.push((start_index, features));
            }
        }
        let refiner = LinearMap {
            outputs: 6,
            weights: sums.solve(options.regressor_lambda)?,
        };
        let mut error_after = 0.0f64;
        for (start_index, features) in &samples {
            let (owner, shape) = starts[*start_index];
            let to_image = canonical_to_image(&mean_shape, &shape)?;
            let updated = apply_delta(&mean_shape, &to_image, &refiner.apply(features));
            error_after += normalised_error(&updated, &faces[owner].shape);
            starts[*start_index].1 = updated;
        }
        model.refiners.push(refiner);
        progress(format!(
            "refiner {}: mean error over inter-ocular distance {:.4} -> {:.4} on {} starts",
            stage + 1,
            error_before / samples.len().max(1) as f64,
            error_after / samples.len().max(1) as f64,
            samples.len()
        ));
    }
    Ok(model)
}

/// Mean distance of the three points divided by the true inter-ocular distance.
fn normalised_error(shape: &Shape, truth: &Shape) -> f64 {
    let iod = (truth[2] - truth[0]).hypot(truth[3] - truth[1]).max(1e-3);
    let error: f32 = (0..3)
        .map(|p| (shape[2 * p] - truth[2 * p]).hypot(shape[2 * p + 1] - truth[2 * p + 1]))
        .sum();
    (error / 3.0 / iod) as f64
}

/// Moves a shape by a random similarity about its centroid: scale within 12%, rotation
/// within 10 degrees, shift within 15% of the inter-ocular distance.
fn perturb(shape: &Shape, rng: &mut SplitMix) -> Shape {
    let points = shape_points(shape);
    let cx = points.iter().map(|p| p.0).sum::<f32>() / 3.0;
    let cy = points.iter().map(|p| p.1).sum::<f32>() / 3.0;
    let iod = (shape[2] - shape[0]).hypot(shape[3] - shape[1]);
    let scale = 1.0 + 0.12 * rng.symmetric();
    let angle = 10f32.to_radians() * rng.symmetric();
    let (dx, dy) = (0.15 * iod * rng.symmetric(), 0.15 * iod * rng.symmetric());
    let (a, b) = (scale * angle.cos(), scale * angle.sin());
    let mut out = [0.0; 6];
    for (p, (x, y)) in points.into_iter().enumerate() {
        let (rx, ry) = (x - cx, y - cy);
        out[2 * p] = cx + a * rx - b * ry + dx;
        out[2 * p + 1] = cy + b * rx + a * ry + dy;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrored_swaps_eyes_and_flips_box() {
        let face = TrainingFace {
            image: RgbImage::new(10, 1, 1, (0..10).collect()).unwrap(),
            shape: [2.0, 0.5, 6.0, 0.5, 4.0, 0.8],
            face_box: PixelBox::new(1.0, 0.0, 7.0, 1.0),
        };
        let m = face.mirrored();
        assert_eq!(m.image.pixels, (0..10).rev().collect::<Vec<u8>>());
        assert_eq!(m.shape, [4.0, 0.5, 8.0, 0.5, 6.0, 0.8]);
        assert_eq!(m.face_box, PixelBox::new(3.0, 0.0, 9.0, 1.0));
    }

    /// Draws a 48x48 gray face: a light ellipse with two dark eyes and a dark mouth on a
    /// textured background, with the position and size taken from `rng`.
    fn drawn_face(rng: &mut SplitMix) -> TrainingFace {
        let size = 48usize;
        let half_width = 13.0 + 3.0 * rng.symmetric();
        let centre = (24.0 + 4.0 * rng.symmetric(), 24.0 + 4.0 * rng.symmetric());
        let half_height = 1.25 * half_width;
        let eye_y = centre.1 - 0.25 * half_height;
        let eye_dx = 0.45 * half_width;
        let mouth_y = centre.1 + 0.45 * half_height;
        let shape = [centre.0 - eye_dx, eye_y, centre.0 + eye_dx, eye_y, centre.0, mouth_y];

        let mut pixels = Vec::with_capacity(size * size);
        for y in 0..size {
            for x in 0..size {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = |cx: f32, cy: f32, rx: f32, ry: f32| ((px - cx) / rx).powi(2) + ((py - cy) / ry).powi(2) <= 1.0;
                let value = if inside(shape[0], eye_y, 0.25 * eye_dx, 0.15 * eye_dx)
                    || inside(shape[2], eye_y, 0.25 * eye_dx, 0.15 * eye_dx)
                    || inside(centre.0, mouth_y, 0.5 * eye_dx, 0.12 * eye_dx)
                {
                    40
                } else if inside(centre.0, centre.1, half_width, half_height) {
                    200
                } else {
                    // Stripes give the background edges the classifier must reject.
                    if (x / 5 + y / 7) % 2 == 0 { 90 } else { 120 }
                };
                pixels.push(value);
            }
        }

        let face_box = PixelBox::new(
            centre.0 - half_width,
            centre.1 - 0.6 * half_height,
            centre.0 + half_width,
            centre.1 + half_height,
        );
        TrainingFace {
            image: RgbImage::new(size as u32, size as u32, 1, pixels).unwrap(),
            shape,
            face_box,
        }
    }

    #[test]
    fn trained_model_finds_unseen_drawn_face() {
        let mut rng = SplitMix(7);
        let faces: Vec<TrainingFace> = (0..24).map(|_| drawn_face(&mut rng)).collect();
        let options = TrainingOptions {
            random_negatives: 10,
            mining_rounds: 1,
            mined_per_image: 4,
            refiner_stages: 1,
            perturbed_starts: 1,
            ..TrainingOptions::default()
        };
        let model = train_face_model(&faces, &options, &mut |_| {}).unwrap();

        let unseen = drawn_face(&mut SplitMix(99));
        let found = crate::face::detect_face_with(&model, &unseen.image).unwrap();
        let iou = found.face_box.iou(&unseen.face_box);
        assert!(iou >= 0.5, "face box {:?} has IoU {iou} with {:?}", found.face_box, unseen.face_box);
        let l = found.landmarks;
        let error = normalised_error(
            &[l.left_eye.0, l.left_eye.1, l.right_eye.0, l.right_eye.1, l.mouth.0, l.mouth.1],
            &unseen.shape,
        );
        // The refined landmarks land within about 2% of the eye distance. A refiner fitted
        // to wrong targets left 8% or more, or failed the geometry checks.
        assert!(found.landmarks_measured, "refined landmarks {l:?} failed the geometry checks");
        assert!(error < 0.05, "landmarks {l:?} have error {error} against {:?}", unseen.shape);
    }

    #[test]
    fn normalised_error_hand_value() {
        // Eyes 10 px apart; only the mouth is off, by 6 px: (0 + 0 + 6) / 3 / 10.
        let truth = [0.0, 0.0, 10.0, 0.0, 5.0, 10.0];
        let shape = [0.0, 0.0, 10.0, 0.0, 5.0, 16.0];
        assert!((normalised_error(&shape, &truth) - 0.2).abs() < 1e-6);
    }
}
