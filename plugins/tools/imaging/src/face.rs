//! The face finder and aligner: finds the dominant face from pixels alone, estimates
//! its eye and mouth centres, and warps it to the 112x112 template.
//!
//! Detection scans a HOG scale pyramid of the luma with a linear window classifier.
//! The best window gives a first shape and the face box. A cascade of linear
//! regressors on patches warped to the canonical frame then refines the shape (see
//! [`crate::face_model`]). Working on luma makes gray and colour images alike. In
//! colour images a skin-colour proposer ([`crate::skin`]) offers a second candidate,
//! because the learned model, fitted on drawn faces, can miss a photographed face.

use crate::face_model::{canonical_features, canonical_to_image, FaceModel, Shape, FEATURES};
use crate::gray::GrayImage;
use crate::pyramid::{Pyramid, WINDOW_CELLS};
use crate::skin::detect_skin_face;
use crate::regions::{
    region_box, ALIGNED_SIZE, REGION_NAMES, TEMPLATE_LEFT_EYE, TEMPLATE_MOUTH, TEMPLATE_RIGHT_EYE,
};
use crate::{sample_bilinear, PixelBox, RgbImage, Similarity};

/// Eye and mouth centres in input-image pixel coordinates. `left_eye` is the eye on the
/// image's left (the subject's right eye).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Landmarks {
    pub left_eye: (f32, f32),
    pub right_eye: (f32, f32),
    pub mouth: (f32, f32),
}

/// A detected face: its box, landmarks and how the landmarks were found.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceDetection {
    /// Face box in input pixels.
    pub face_box: PixelBox,
    pub landmarks: Landmarks,
    /// Whether the landmarks come from a full measurement that passed the geometry
    /// checks (`true`): the refined cascade output or the skin proposer's eye and mouth
    /// blobs. `false` means the refinement failed those checks and the landmarks are
    /// the window regressor's first, coarser estimate.
    pub landmarks_measured: bool,
}

/// A face warped to the canonical frame.
#[derive(Debug, Clone)]
pub struct AlignedFace {
    pub detection: FaceDetection,
    /// The aligned crop, `ALIGNED_SIZE x ALIGNED_SIZE`, same channels as the input.
    pub image: RgbImage,
    /// Named regions in the aligned frame, in [`REGION_NAMES`] order.
    pub regions: Vec<(&'static str, PixelBox)>,
}

/// Smallest sum of a window's HOG features for it to count as a face, which rejects
/// windows of nearly flat pixels (a flat window sums to 0).
const MIN_WINDOW_EDGES: f32 = 5.0;

/// Smallest mean red-minus-blue difference, in 8-bit levels, of a skin-coloured face
/// centre. Of 400 rendered faces per colour domain, at least 95% measured 21 or more.
/// In the astronaut photograph the face measured about 60 and the mission patch -17.
const MIN_WARMTH: f32 = 8.0;

/// Aligned-score handicap of the skin-colour candidate against the window candidate,
/// chosen so that on rendered faces the finer window landmarks nearly always win.
const SKIN_MARGIN: f32 = 0.25;

/// Finds the face box and eye and mouth centres of the dominant face in `image`.
///
/// Steps: scan the pyramid with the window classifier, estimate the shape and face box
/// from the best window, and refine the shape with the cascade. In colour images the
/// skin-colour proposer adds a second candidate, and the classifier's score on each
/// candidate's aligned patch picks one.
///
/// # Errors
/// Returns a message starting with "no face found" when no candidate is accepted: the
/// best window scores below the model's threshold or contains almost no edges (or the
/// image is smaller than one window), and the skin candidate is missing or scores
/// below the threshold. Returns "embedded face model is invalid" when the model file
/// does not match this code.
pub fn detect_face(image: &RgbImage) -> Result<FaceDetection, String> {
    detect_face_with(FaceModel::embedded()?, image)
}

/// Runs [`detect_face`] with `model` in place of the embedded one.
///
/// # Errors
/// As [`detect_face`].
pub fn detect_face_with(model: &FaceModel, image: &RgbImage) -> Result<FaceDetection, String> {
    let pyramid = Pyramid::new(&GrayImage::from_rgb(image));
    let mut candidates = Vec::new();
    let window = window_candidate(model, &pyramid, image)?;
    let window_error = match window {
        Ok(candidate) => {
            candidates.push(candidate);
            None
        }
        Err(message) => Some(message),
    };

    // The window classifier is fitted on drawn faces, so on photographs its best window
    // can miss the face. For colour images the skin-colour finder proposes a second
    // face. A candidate with a skin-hued centre beats one without. Between two such,
    // the classifier's score on the aligned patches decides. The skin face needs a
    // clear margin there because its landmarks are coarser.
    if image.channels >= 3 {
        if let Ok(found) = detect_skin_face(image) {
            if found.landmarks_measured {
                let shape = shape_of(&found.landmarks);
                let aligned_score = aligned_score(model, &pyramid, &shape)?;
                if aligned_score >= model.threshold {
                    candidates.push(Candidate {
                        detection: found,
                        warm: warm_centre(image, &shape),
                        aligned_score: aligned_score - SKIN_MARGIN,
                    });
                }
            }
        }
    }
    candidates
        .into_iter()
        .max_by(|a, b| (a.warm, a.aligned_score).partial_cmp(&(b.warm, b.aligned_score)).unwrap_or(std::cmp::Ordering::Equal))
        .map(|c| FaceDetection {
            face_box: c.detection.face_box.clip(image.width, image.height),
            ..c.detection
        })
        .ok_or_else(|| window_error.unwrap_or_else(|| "no face found".to_string()))
}

/// A proposed face and how well it looks like one.
struct Candidate {
    detection: FaceDetection,
    /// Whether the face centre has a skin hue (always `true` for gray images).
    warm: bool,
    /// The classifier's score on the aligned patch, minus any handicap.
    aligned_score: f32,
}

/// Checks that the mean colour between the eyes and the mouth is warm, with red above
/// blue by at least `MIN_WARMTH` levels. Every skin tone from pale to dark brown is,
/// and a gray image counts as warm.
fn warm_centre(image: &RgbImage, shape: &Shape) -> bool {
    if image.channels < 3 {
        return true;
    }
    let clamp_x = |v: f32| (v.max(0.0) as u32).min(image.width);
    let clamp_y = |v: f32| (v.max(0.0) as u32).min(image.height);
    let (x0, x1) = (clamp_x(shape[0].min(shape[2])), clamp_x(shape[0].max(shape[2])));
    let (y0, y1) = (clamp_y(0.5 * (shape[1] + shape[3])), clamp_y(shape[5]));
    let (mut red_minus_blue, mut count) = (0.0f32, 0usize);
    for y in y0..y1 {
        for x in x0..x1 {
            let [r, _, b] = image.rgb(x, y);
            red_minus_blue += r as f32 - b as f32;
            count += 1;
        }
    }
    count > 0 && red_minus_blue / count as f32 >= MIN_WARMTH
}

/// Scans the pyramid with the window classifier and refines the best window's shape.
/// The outer error means a broken model. The inner one gives the reason no face was
/// accepted.
fn window_candidate(model: &FaceModel, pyramid: &Pyramid, image: &RgbImage) -> Result<Result<Candidate, String>, String> {
    let Some(hit) = model.scan(pyramid) else {
        return Ok(Err(format!(
            "no face found: the {}x{} image is too small to search",
            image.width, image.height
        )));
    };
    let level = &pyramid.levels[hit.level];
    let mut features = Vec::with_capacity(FEATURES);
    level.cells.window(hit.cx, hit.cy, WINDOW_CELLS, &mut features);
    let edges: f32 = features.iter().sum();
    if hit.score < model.threshold || edges < MIN_WINDOW_EDGES {
        return Ok(Err(format!(
            "no face found: the best window scores {:.3} (threshold {:.3}) with edge sum {edges:.1}",
            hit.score, model.threshold
        )));
    }

    let (first, face_box) = model.estimate_from_window(level, hit.cx, hit.cy);
    // A refinement that fails or leaves the plausible geometry keeps the window's shape.
    let refined = model.refine(pyramid, first).ok().filter(|s| plausible(s, &face_box));
    let shape = refined.unwrap_or(first);
    Ok(Ok(Candidate {
        detection: FaceDetection {
            face_box,
            landmarks: landmarks_of(&shape),
            landmarks_measured: refined.is_some(),
        },
        warm: warm_centre(image, &shape),
        aligned_score: aligned_score(model, pyramid, &shape)?,
    }))
}

/// Window classifier score of the patch warped to the canonical frame by `shape`.
fn aligned_score(model: &FaceModel, pyramid: &Pyramid, shape: &Shape) -> Result<f32, String> {
    let to_image = canonical_to_image(&model.mean_shape, shape)?;
    let mut features = Vec::with_capacity(FEATURES);
    canonical_features(pyramid, &to_image, &mut features);
    let (weights, bias) = model.detector.split_at(FEATURES);
    Ok(features.iter().zip(weights).map(|(f, w)| f * w).sum::<f32>() + bias[0])
}

fn shape_of(landmarks: &Landmarks) -> Shape {
    let l = landmarks;
    [l.left_eye.0, l.left_eye.1, l.right_eye.0, l.right_eye.1, l.mouth.0, l.mouth.1]
}

/// Checks that the shape looks like a face inside `face_box`: the eyes left to right
/// and within 45 degrees of level, the mouth below the eyes, and every point inside
/// the box grown by half its size.
fn plausible(shape: &Shape, face_box: &PixelBox) -> bool {
    let (dx, dy) = (shape[2] - shape[0], shape[3] - shape[1]);
    let mid_y = 0.5 * (shape[1] + shape[3]);
    let (grow_x, grow_y) = (0.5 * face_box.width(), 0.5 * face_box.height());
    let inside = (0..3).all(|p| {
        let (x, y) = (shape[2 * p], shape[2 * p + 1]);
        x >= face_box.x0 - grow_x && x <= face_box.x1 + grow_x && y >= face_box.y0 - grow_y && y <= face_box.y1 + grow_y
    });
    dx > 0.0 && dy.abs() <= dx && shape[5] > mid_y && inside && shape.iter().all(|v| v.is_finite())
}

fn landmarks_of(shape: &Shape) -> Landmarks {
    Landmarks {
        left_eye: (shape[0], shape[1]),
        right_eye: (shape[2], shape[3]),
        mouth: (shape[4], shape[5]),
    }
}

/// Detects the face and warps it to the 112x112 template with bilinear sampling.
///
/// # Errors
/// Returns the message of [`detect_face`] when no face is found.
pub fn align_face(image: &RgbImage) -> Result<AlignedFace, String> {
    let detection = detect_face(image)?;
    let l = &detection.landmarks;

    // Fit template -> input, so every output pixel maps straight to its source position.
    let to_source = Similarity::fit(
        &[TEMPLATE_LEFT_EYE, TEMPLATE_RIGHT_EYE, TEMPLATE_MOUTH],
        &[l.left_eye, l.right_eye, l.mouth],
    )?;
    let c = image.channels as usize;
    let mut pixels = vec![0u8; (ALIGNED_SIZE * ALIGNED_SIZE) as usize * c];
    for y in 0..ALIGNED_SIZE {
        for x in 0..ALIGNED_SIZE {
            let (sx, sy) = to_source.apply((x as f32, y as f32));
            let i = (y * ALIGNED_SIZE + x) as usize * c;
            sample_bilinear(image, sx, sy, &mut pixels[i..i + c]);
        }
    }
    let aligned = RgbImage::new(ALIGNED_SIZE, ALIGNED_SIZE, image.channels, pixels)?;
    let regions = REGION_NAMES
        .iter()
        .map(|&name| (name, region_box(name).expect("every listed region has a box")))
        .collect();
    Ok(AlignedFace {
        detection,
        image: aligned,
        regions,
    })
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_image_has_no_face() {
        let image = RgbImage::new(64, 64, 3, vec![30; 64 * 64 * 3]).unwrap();
        let err = detect_face(&image).unwrap_err();
        assert!(err.starts_with("no face found"), "{err}");
    }

    #[test]
    fn uniform_gray_image_has_no_face() {
        let image = RgbImage::new(8, 8, 1, vec![128; 64]).unwrap();
        assert!(detect_face(&image).is_err());
    }

    #[test]
    fn plausible_rejects_upside_down_shape() {
        let face_box = PixelBox::new(0.0, 0.0, 100.0, 100.0);
        assert!(plausible(&[30.0, 40.0, 70.0, 40.0, 50.0, 75.0], &face_box));
        // Mouth above the eyes.
        assert!(!plausible(&[30.0, 40.0, 70.0, 40.0, 50.0, 20.0], &face_box));
        // Eyes swapped.
        assert!(!plausible(&[70.0, 40.0, 30.0, 40.0, 50.0, 75.0], &face_box));
    }
}
