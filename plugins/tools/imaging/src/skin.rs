//! A skin-colour face proposer for colour photographs: skin segmentation finds the
//! face, dark blobs give the eye centres and a red-dark blob gives the mouth.
//!
//! [`crate::face`] uses it as a second candidate beside the learned window detector,
//! which is fitted on drawn faces and can miss the face in a photograph. It assumes a
//! colour image with one dominant, roughly frontal face whose skin falls in a YCbCr
//! skin range (luma above 100, Cb 77..=127, Cr 138..=180); the Cr floor of 138
//! separates skin from warm gray backgrounds and blond hair.

use crate::face::{FaceDetection, Landmarks};
use crate::{PixelBox, RgbImage};

/// Maximum side of the downscaled copy the detector analyses, in pixels.
const ANALYSIS_SIDE: u32 = 256;
/// Smallest face component, as a fraction of the analysed image area.
const MIN_FACE_FRACTION: f32 = 0.004;

/// The downscaled planes the detector works on, `(height, width)` row-major each.
struct Planes {
    width: usize,
    height: usize,
    /// Input pixels per analysis pixel along each axis.
    scale: f32,
    luma: Vec<f32>,
    cr: Vec<f32>,
    /// Whether the input has colour; gray inputs have no skin masks.
    colour: bool,
    /// Strict skin mask that keeps blond hair and warm gray backgrounds out.
    skin_strict: Vec<bool>,
    /// Looser skin mask for darker skin tones, which the strict mask's luma floor misses.
    skin_relaxed: Vec<bool>,
}

fn analysis_planes(image: &RgbImage) -> Planes {
    let step = image.width.max(image.height).div_ceil(ANALYSIS_SIDE).max(1);
    let width = (image.width / step).max(1) as usize;
    let height = (image.height / step).max(1) as usize;
    let mut luma = vec![0.0; width * height];
    let mut cr = vec![0.0; width * height];
    let mut skin_strict = vec![false; width * height];
    let mut skin_relaxed = vec![false; width * height];
    for ay in 0..height {
        for ax in 0..width {
            // Box-average the step x step block to suppress noise before thresholding.
            let (mut r, mut g, mut b) = (0.0f32, 0.0f32, 0.0f32);
            for dy in 0..step {
                for dx in 0..step {
                    let [pr, pg, pb] = image.rgb(ax as u32 * step + dx, ay as u32 * step + dy);
                    r += pr as f32;
                    g += pg as f32;
                    b += pb as f32;
                }
            }
            let n = (step * step) as f32;
            let (r, g, b) = (r / n, g / n, b / n);
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
            let cb_value = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
            let cr_value = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
            let i = ay * width + ax;
            luma[i] = y;
            cr[i] = cr_value;
            skin_strict[i] = y > 100.0
                && (138.0..=180.0).contains(&cr_value)
                && (77.0..=127.0).contains(&cb_value)
                && r > b;
            // Skin hue runs from red to orange, so red > green > blue, which also
            // rejects magenta and purple backgrounds that pass the Cr range.
            skin_relaxed[i] = y > 35.0
                && (135.0..=190.0).contains(&cr_value)
                && (65.0..=130.0).contains(&cb_value)
                && r > g
                && g > b
                && r - b > 12.0;
        }
    }
    Planes {
        width,
        height,
        scale: step as f32,
        luma,
        cr,
        colour: image.channels >= 3,
        skin_strict,
        skin_relaxed,
    }
}

/// Applies one pass of 3x3 erosion (`erode = true`) or dilation to a mask.
fn morph(mask: &[bool], width: usize, height: usize, erode: bool) -> Vec<bool> {
    let mut out = vec![false; mask.len()];
    for y in 0..height {
        for x in 0..width {
            let mut all = true;
            let mut any = false;
            for dy in -1i32..=1 {
                for dx in -1i32..=1 {
                    let (nx, ny) = (x as i32 + dx, y as i32 + dy);
                    let v = nx >= 0
                        && ny >= 0
                        && (nx as usize) < width
                        && (ny as usize) < height
                        && mask[ny as usize * width + nx as usize];
                    all &= v;
                    any |= v;
                }
            }
            out[y * width + x] = if erode { all } else { any };
        }
    }
    out
}

/// A connected skin component: its pixel count and bounding box (inclusive-exclusive).
#[derive(Debug, Clone, Copy)]
struct Component {
    area: usize,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

fn components(mask: &[bool], width: usize, height: usize) -> Vec<Component> {
    let mut label = vec![false; mask.len()];
    let mut found = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || label[start] {
            continue;
        }
        let mut c = Component {
            area: 0,
            x0: usize::MAX,
            y0: usize::MAX,
            x1: 0,
            y1: 0,
        };
        label[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % width, i / width);
            c.area += 1;
            c.x0 = c.x0.min(x);
            c.y0 = c.y0.min(y);
            c.x1 = c.x1.max(x + 1);
            c.y1 = c.y1.max(y + 1);
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < width).then(|| i + 1),
                (y > 0).then(|| i - width),
                (y + 1 < height).then(|| i + width),
            ];
            for n in neighbours.into_iter().flatten() {
                if mask[n] && !label[n] {
                    label[n] = true;
                    stack.push(n);
                }
            }
        }
        found.push(c);
    }
    found
}

/// Picks the largest component shaped like a face: tall-ish, not too sparse.
fn pick_face(components: &[Component], image_area: usize) -> Option<Component> {
    components
        .iter()
        .filter(|c| c.area as f32 >= MIN_FACE_FRACTION * image_area as f32)
        .filter(|c| {
            let (w, h) = ((c.x1 - c.x0) as f32, (c.y1 - c.y0) as f32);
            let fill = c.area as f32 / (w * h);
            let aspect = h / w;
            fill >= 0.35 && (0.6..=2.6).contains(&aspect)
        })
        .max_by_key(|c| c.area)
        .copied()
}

/// Box means of a plane over `(2 r + 1)`-sized windows, computed with an integral image.
struct BoxMean {
    width: usize,
    height: usize,
    integral: Vec<f64>,
}

impl BoxMean {
    fn new(values: &[f32], width: usize, height: usize) -> Self {
        let mut integral = vec![0.0f64; (width + 1) * (height + 1)];
        for y in 0..height {
            let mut row = 0.0f64;
            for x in 0..width {
                row += values[y * width + x] as f64;
                integral[(y + 1) * (width + 1) + x + 1] = integral[y * (width + 1) + x + 1] + row;
            }
        }
        Self {
            width,
            height,
            integral,
        }
    }

    /// Mean over the window of half-sizes `(rx, ry)` centred on `(x, y)`, cut at the edges.
    fn mean(&self, x: usize, y: usize, rx: usize, ry: usize) -> f32 {
        let (x0, y0) = (x.saturating_sub(rx), y.saturating_sub(ry));
        let (x1, y1) = ((x + rx + 1).min(self.width), (y + ry + 1).min(self.height));
        let at = |x: usize, y: usize| self.integral[y * (self.width + 1) + x];
        let sum = at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0);
        (sum / ((x1 - x0) * (y1 - y0)) as f64) as f32
    }
}

/// Row-major analysis-pixel window `[x0, x1) x [y0, y1)`.
#[derive(Debug, Clone, Copy)]
struct Window {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

/// Local maxima of a smoothed plane inside `window`: positions whose value is the
/// largest within `radius`, strongest first, at most `limit`.
fn local_maxima(smoothed: &[f32], width: usize, window: Window, radius: usize, limit: usize) -> Vec<(usize, usize, f32)> {
    let mut peaks = Vec::new();
    for y in window.y0..window.y1 {
        for x in window.x0..window.x1 {
            let v = smoothed[y * width + x];
            let mut is_peak = true;
            'scan: for yy in y.saturating_sub(radius)..(y + radius + 1).min(window.y1) {
                for xx in x.saturating_sub(radius)..(x + radius + 1).min(window.x1) {
                    let other = smoothed[yy * width + xx];
                    // Ties go to the first position in scan order, so a plateau has one peak.
                    if other > v || (other == v && (yy, xx) < (y, x)) {
                        is_peak = false;
                        break 'scan;
                    }
                }
            }
            if is_peak {
                peaks.push((x, y, v));
            }
        }
    }
    peaks.sort_by(|a, b| b.2.total_cmp(&a.2));
    peaks.truncate(limit);
    peaks
}

/// Finds the face box and eye and mouth centres of the dominant face in `image`.
///
/// Steps: segment skin and keep the largest face-shaped component. Take dark local
/// maxima inside the face as eye candidates. Score every candidate pair that is level
/// and spaced like eyes by its darkness plus the best lip response where the mouth
/// should be, and keep the best pair. The returned face box is derived from the landmarks (eye
/// distance `d`: `1.25 d` either side of the eye midpoint, from `0.9 d` above the eyes
/// to `d` below the mouth) because the skin component often includes hair or neck.
///
/// # Errors
/// Returns a message when the image is gray (skin needs colour) or no skin region
/// shaped like a face is found.
pub fn detect_skin_face(image: &RgbImage) -> Result<FaceDetection, String> {
    let planes = analysis_planes(image);
    let (w, h) = (planes.width, planes.height);

    // Gray images have no skin colour, so the whole frame is taken as the face, which
    // suits roughly aligned face crops only.
    let masks: Vec<&[bool]> = if planes.colour {
        vec![&planes.skin_strict, &planes.skin_relaxed]
    } else {
        vec![]
    };
    let mut candidates = Vec::new();
    if masks.is_empty() {
        let whole = vec![true; w * h];
        let face = Component {
            area: w * h,
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        };
        // Without a skin mask only a measured eye pair and mouth count as a face.
        candidates.extend(
            detect_in_component(&planes, &whole, face, image).filter(|(d, _)| d.landmarks_measured),
        );
    }
    for mask in masks {
        // Open the mask (erode, dilate) to cut thin bridges, then keep the largest
        // face-shaped component.
        let opened = morph(&morph(mask, w, h, true), w, h, false);
        if let Some(face) = pick_face(&components(&opened, w, h), w * h) {
            candidates.extend(detect_in_component(&planes, &opened, face, image));
        }
    }

    // Prefer measured landmarks, then the stronger eye-and-mouth response.
    candidates
        .into_iter()
        .max_by(|(a, sa), (b, sb)| {
            (a.landmarks_measured, *sa)
                .partial_cmp(&(b.landmarks_measured, *sb))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|(detection, _)| detection)
        .ok_or_else(|| "no face found: no skin-coloured region of face shape".to_string())
}

/// Finds eyes and mouth inside one face component and returns the detection with the
/// constellation score (higher is a clearer eye pair and mouth).
fn detect_in_component(
    planes: &Planes,
    opened: &[bool],
    face: Component,
    image: &RgbImage,
) -> Option<(FaceDetection, f32)> {
    let (w, h) = (planes.width, planes.height);
    let face_w = face.x1 - face.x0;
    let face_h = face.y1 - face.y0;

    // Mark the pixels inside each row's skin span: eyes and mouth are holes in the skin
    // mask but lie between skin on both sides, unlike background or hair at the sides.
    let mut inside = vec![false; w * h];
    for y in face.y0..face.y1 {
        let row = &opened[y * w + face.x0..y * w + face.x1];
        if let (Some(l), Some(r)) = (row.iter().position(|&s| s), row.iter().rposition(|&s| s)) {
            for x in (face.x0 + l)..=(face.x0 + r) {
                inside[y * w + x] = true;
            }
        }
    }
    let skin_cr_mean = {
        let skin_cr: Vec<f32> = (0..w * h).filter(|&i| opened[i] && inside[i]).map(|i| planes.cr[i]).collect();
        skin_cr.iter().sum::<f32>() / (skin_cr.len().max(1) as f32)
    };
    let darkness: Vec<f32> = (0..w * h)
        .map(|i| if inside[i] { 255.0 - planes.luma[i] } else { 0.0 })
        .collect();
    // Lips are redder than the face's skin; without colour, an open mouth is darker.
    let lip: Vec<f32> = (0..w * h)
        .map(|i| match (inside[i], planes.colour) {
            (false, _) => 0.0,
            (true, true) => planes.cr[i] - skin_cr_mean,
            (true, false) => darkness[i],
        })
        .collect();

    // Smooth both planes at the scale of an eye and of a mouth.
    let eye_r = (face_w / 16).max(1);
    let dark_mean = BoxMean::new(&darkness, w, h);
    // A difference of box means (centre minus a 3x wider surround) responds to small
    // dark blobs in skin (eyes) but not to large dark areas (hair).
    let dark_smooth: Vec<f32> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            dark_mean.mean(x, y, eye_r, eye_r) - dark_mean.mean(x, y, 3 * eye_r, 3 * eye_r)
        })
        .collect();
    let lip_mean = BoxMean::new(&lip, w, h);

    // Score level, eye-spaced pairs of dark peaks by darkness plus the mouth response.
    // Eyes lie in the upper-middle rows of the skin component whether or not it
    // includes hair or neck. The band keeps the chin and most fringe strands out.
    let band = Window {
        x0: face.x0,
        y0: face.y0 + (face_h as f32 * 0.15) as usize,
        x1: face.x1,
        y1: face.y0 + (face_h as f32 * 0.62) as usize,
    };
    let peaks = local_maxima(&dark_smooth, w, band, eye_r.max(2), 24);
    let mut best: Option<(f32, Landmarks)> = None;
    for &(lx, ly, lv) in &peaks {
        for &(rx, ry, rv) in &peaks {
            let (dx, dy) = (rx as f32 - lx as f32, ry as f32 - ly as f32);
            let spacing = dx / face_w as f32;
            // The pair must be level, spaced like eyes, centred on the face and clear
            // of its sides, which rejects dark hair at one side of the face.
            let centre_offset = ((lx + rx) as f32 / 2.0 - (face.x0 + face.x1) as f32 / 2.0).abs();
            if dx <= 0.0
                || lv <= 1.0
                || rv <= 1.0
                || dy.abs() > 0.3 * dx
                || !(0.2..=0.7).contains(&spacing)
                || centre_offset > 0.15 * face_w as f32
                || (lx as f32) < face.x0 as f32 + 0.12 * face_w as f32
                || (rx as f32) > face.x1 as f32 - 0.12 * face_w as f32
            {
                continue;
            }
            let d = dx.hypot(dy);
            let (mx, my) = ((lx + rx) as f32 / 2.0, (ly + ry) as f32 / 2.0);
            // The bridge of the nose between the eyes is skin.
            if !opened[my as usize * w + mx as usize] {
                continue;
            }
            let mouth_rx = ((0.3 * d) as usize).max(1);
            let mouth_ry = ((0.1 * d) as usize).max(1);
            let mut mouth_best: Option<(f32, f32, f32)> = None;
            let y_start = (my + 0.7 * d) as usize;
            let y_end = ((my + 1.5 * d) as usize).min(h);
            let x_start = (mx - 0.25 * d).max(0.0) as usize;
            let x_end = ((mx + 0.25 * d) as usize + 1).min(w);
            for y in y_start..y_end {
                for x in x_start..x_end {
                    let v = lip_mean.mean(x, y, mouth_rx, mouth_ry)
                        - lip_mean.mean(x, y, 2 * mouth_rx, 3 * mouth_ry);
                    if mouth_best.is_none_or(|(b, _, _)| v > b) {
                        mouth_best = Some((v, x as f32, y as f32));
                    }
                }
            }
            // Both eyes must be darker than their surround and the mouth must stand out.
            let Some((mouth_value, mouth_x, mouth_y)) = mouth_best.filter(|m| m.0 > 0.0) else {
                continue;
            };
            let score = lv + rv + mouth_value;
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((
                    score,
                    Landmarks {
                        left_eye: (lx as f32 + 0.5, ly as f32 + 0.5),
                        right_eye: (rx as f32 + 0.5, ry as f32 + 0.5),
                        mouth: (mouth_x + 0.5, mouth_y + 0.5),
                    },
                ));
            }
        }
    }

    // Map back to input pixels; without a landmark constellation fall back to the
    // average positions inside the skin component.
    let s = planes.scale;
    let scaled = |(x, y): (f32, f32)| (x * s, y * s);
    match best {
        Some((score, m)) => {
            let landmarks = Landmarks {
                left_eye: scaled(m.left_eye),
                right_eye: scaled(m.right_eye),
                mouth: scaled(m.mouth),
            };
            let l = &landmarks;
            let d = (l.right_eye.0 - l.left_eye.0).hypot(l.right_eye.1 - l.left_eye.1);
            let mid_x = (l.left_eye.0 + l.right_eye.0) / 2.0;
            let eye_y = (l.left_eye.1 + l.right_eye.1) / 2.0;
            let face_box = PixelBox::new(mid_x - 1.25 * d, eye_y - 0.9 * d, mid_x + 1.25 * d, l.mouth.1 + d)
                .clip(image.width, image.height);
            Some((
                FaceDetection {
                    face_box,
                    landmarks,
                    landmarks_measured: true,
                },
                score,
            ))
        }
        None => {
            let fx = |f: f32| (face.x0 as f32 + f * face_w as f32) * s;
            let fy = |f: f32| (face.y0 as f32 + f * face_h as f32) * s;
            Some((
                FaceDetection {
                    face_box: PixelBox::new(fx(0.0), fy(0.0), fx(1.0), fy(1.0)),
                    landmarks: Landmarks {
                        left_eye: (fx(0.31), fy(0.42)),
                        right_eye: (fx(0.69), fy(0.42)),
                        mouth: (fx(0.5), fy(0.8)),
                    },
                    landmarks_measured: false,
                },
                f32::NEG_INFINITY,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_image_has_no_face() {
        let image = RgbImage::new(64, 64, 3, vec![30; 64 * 64 * 3]).unwrap();
        let err = detect_skin_face(&image).unwrap_err();
        assert!(err.starts_with("no face found"), "{err}");
    }

    #[test]
    fn uniform_gray_image_has_no_face() {
        let image = RgbImage::new(8, 8, 1, vec![128; 64]).unwrap();
        assert!(detect_skin_face(&image).is_err());
    }

    /// Draws a skin ellipse with two dark eyes and a red mouth at known places.
    fn drawn_face() -> (RgbImage, Landmarks) {
        let (w, h) = (200u32, 200u32);
        let mut pixels = vec![0u8; (w * h * 3) as usize];
        let truth = Landmarks {
            left_eye: (80.0, 85.0),
            right_eye: (120.0, 85.0),
            mouth: (100.0, 135.0),
        };
        for y in 0..h {
            for x in 0..w {
                let (xf, yf) = (x as f32 + 0.5, y as f32 + 0.5);
                let in_face = ((xf - 100.0) / 45.0).powi(2) + ((yf - 105.0) / 60.0).powi(2) <= 1.0;
                let near = |p: (f32, f32), rx: f32, ry: f32| {
                    ((xf - p.0) / rx).powi(2) + ((yf - p.1) / ry).powi(2) <= 1.0
                };
                let colour = if in_face && (near(truth.left_eye, 6.0, 4.0) || near(truth.right_eye, 6.0, 4.0)) {
                    [40, 30, 30]
                } else if in_face && near(truth.mouth, 14.0, 4.0) {
                    [170, 50, 60]
                } else if in_face {
                    [220, 170, 140]
                } else {
                    [60, 90, 160]
                };
                let i = ((y * w + x) * 3) as usize;
                pixels[i..i + 3].copy_from_slice(&colour);
            }
        }
        (RgbImage::new(w, h, 3, pixels).unwrap(), truth)
    }

    #[test]
    fn drawn_face_landmarks_within_three_pixels() {
        let (image, truth) = drawn_face();
        let found = detect_skin_face(&image).unwrap();
        assert!(found.landmarks_measured);
        for (got, want) in [
            (found.landmarks.left_eye, truth.left_eye),
            (found.landmarks.right_eye, truth.right_eye),
            (found.landmarks.mouth, truth.mouth),
        ] {
            let error = (got.0 - want.0).hypot(got.1 - want.1);
            assert!(error <= 3.0, "landmark {got:?} is {error} px from {want:?}");
        }
        let iou = found.face_box.iou(&PixelBox::new(55.0, 45.0, 145.0, 165.0));
        assert!(iou >= 0.8, "face box {:?} has IoU {iou}", found.face_box);
    }
}
