//! A rendered face image and its ground truth.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action_unit::{ActionUnit, AuIntensity, FaceRegion};
use crate::emotion::Emotion;

/// An 8-bit image, rows top to bottom, channels interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: u8,
    /// `height * width * channels` bytes, shape `(height, width, channels)`.
    pub pixels: Vec<u8>,
}

impl FaceImage {
    /// Value of channel `c` at column `x`, row `y`.
    ///
    /// # Panics
    /// Panics when `x`, `y` or `c` is out of bounds.
    pub fn get(&self, x: u32, y: u32, c: u8) -> u8 {
        assert!(
            x < self.width && y < self.height && c < self.channels,
            "pixel out of bounds"
        );
        let index = ((y * self.width + x) * u32::from(self.channels) + u32::from(c)) as usize;
        self.pixels[index]
    }

    /// Luma (ITU-R BT.601 weights) at column `x`, row `y`, in `0.0..=255.0`.
    pub fn luma(&self, x: u32, y: u32) -> f32 {
        if self.channels == 1 {
            return f32::from(self.get(x, y, 0));
        }
        0.299 * f32::from(self.get(x, y, 0))
            + 0.587 * f32::from(self.get(x, y, 1))
            + 0.114 * f32::from(self.get(x, y, 2))
    }
}

/// A point in pixel coordinates (x to the right, y down, origin at the top-left corner of
/// the top-left pixel).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// An axis-aligned box in pixel coordinates, `x_min <= x_max`, `y_min <= y_max`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PixelBox {
    pub x_min: f32,
    pub y_min: f32,
    pub x_max: f32,
    pub y_max: f32,
}

impl PixelBox {
    /// Smallest box that contains every point.
    pub fn around(points: impl IntoIterator<Item = Point>) -> PixelBox {
        let mut b = PixelBox {
            x_min: f32::INFINITY,
            y_min: f32::INFINITY,
            x_max: f32::NEG_INFINITY,
            y_max: f32::NEG_INFINITY,
        };
        for p in points {
            b.x_min = b.x_min.min(p.x);
            b.y_min = b.y_min.min(p.y);
            b.x_max = b.x_max.max(p.x);
            b.y_max = b.y_max.max(p.y);
        }
        b
    }

    /// Returns the box clipped to an image of `width` x `height` pixels.
    pub fn clipped(self, width: u32, height: u32) -> PixelBox {
        let (w, h) = (width as f32, height as f32);
        PixelBox {
            x_min: self.x_min.clamp(0.0, w),
            y_min: self.y_min.clamp(0.0, h),
            x_max: self.x_max.clamp(0.0, w),
            y_max: self.y_max.clamp(0.0, h),
        }
    }

    /// Returns whether `p` lies inside the box or on its border.
    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.x_min && p.x <= self.x_max && p.y >= self.y_min && p.y <= self.y_max
    }

    pub fn width(&self) -> f32 {
        self.x_max - self.x_min
    }

    pub fn height(&self) -> f32 {
        self.y_max - self.y_min
    }

    /// Area in square pixels.
    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    /// Intersection over union with `other`, in `0.0..=1.0`.
    pub fn iou(&self, other: &PixelBox) -> f32 {
        let inter = PixelBox {
            x_min: self.x_min.max(other.x_min),
            y_min: self.y_min.max(other.y_min),
            x_max: self.x_max.min(other.x_max),
            y_max: self.y_max.min(other.y_max),
        };
        let inter_area = if inter.width() > 0.0 && inter.height() > 0.0 {
            inter.area()
        } else {
            0.0
        };
        let union = self.area() + other.area() - inter_area;
        if union > 0.0 {
            inter_area / union
        } else {
            0.0
        }
    }
}

/// Facial landmarks. `left` and `right` are as seen in the image, so `left_eye` is the
/// subject's right eye.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Landmarks {
    /// Centre of the eye on the image's left (centre of the eye opening).
    pub left_eye: Point,
    /// Centre of the eye on the image's right.
    pub right_eye: Point,
    pub nose_tip: Point,
    /// Mouth corner on the image's left.
    pub mouth_left: Point,
    /// Mouth corner on the image's right.
    pub mouth_right: Point,
    /// Centre of the mouth: the midpoint of the lip line, or of the opening when the lips
    /// part.
    pub mouth_center: Point,
}

impl Landmarks {
    /// Returns the six landmarks in field order.
    pub fn points(&self) -> [Point; 6] {
        [
            self.left_eye,
            self.right_eye,
            self.nose_tip,
            self.mouth_left,
            self.mouth_right,
            self.mouth_center,
        ]
    }
}

/// Boxes of the four face regions, each clipped to the image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RegionBoxes {
    pub forehead_eyebrow: PixelBox,
    pub eye_periorbital: PixelBox,
    pub nose: PixelBox,
    pub mouth_chin: PixelBox,
}

impl RegionBoxes {
    /// Box of `region`.
    pub fn get(&self, region: FaceRegion) -> PixelBox {
        match region {
            FaceRegion::ForeheadEyebrow => self.forehead_eyebrow,
            FaceRegion::EyePeriorbital => self.eye_periorbital,
            FaceRegion::Nose => self.nose,
            FaceRegion::MouthChin => self.mouth_chin,
        }
    }
}

/// Head pose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pose {
    /// In-plane rotation in degrees, positive clockwise in the image.
    pub roll_degrees: f32,
    /// Approximate out-of-plane turn in degrees, positive when the face turns toward the
    /// image's right. The renderer fakes yaw by shifting and foreshortening the features.
    pub yaw_degrees: f32,
}

/// Position of a frame in a video-like sequence (AU-only domains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SequencePosition {
    /// Subject index; every frame of one subject shares the identity.
    pub subject: u64,
    /// Frame index within the subject's sequence.
    pub frame: u64,
}

/// Ground truth of one rendered face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FaceTruth {
    /// Emotion label, after label noise; `None` in AU-only domains.
    pub emotion: Option<Emotion>,
    /// Emotion whose prototype was rendered; differs from `emotion` when label noise
    /// flipped the label.
    pub expressed_emotion: Option<Emotion>,
    /// Active Action Units with intensity above zero, in FACS-number order.
    pub action_units: Vec<AuIntensity>,
    /// Box around the face from about the hairline (0.22 face widths above the brows) to
    /// the chin and from cheek to cheek, ears and hair excluded, clipped to the image.
    pub face_box: PixelBox,
    pub landmarks: Landmarks,
    pub regions: RegionBoxes,
    pub pose: Pose,
    /// Region hidden by an occluder or local corruption, where zooming in shows nothing
    /// useful.
    pub occluded_region: Option<FaceRegion>,
    /// Frame position for video-like domains, `None` for still images.
    pub sequence: Option<SequencePosition>,
}

impl FaceTruth {
    /// Action Units whose intensity is at least `threshold`, in FACS-number order.
    pub fn active_action_units(&self, threshold: f32) -> Vec<ActionUnit> {
        self.action_units
            .iter()
            .filter(|a| a.intensity >= threshold)
            .map(|a| a.au)
            .collect()
    }

    /// Intensity of `au`, 0 when inactive.
    pub fn intensity(&self, au: ActionUnit) -> f32 {
        self.action_units
            .iter()
            .find(|a| a.au == au)
            .map_or(0.0, |a| a.intensity)
    }
}

/// A rendered image with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceSample {
    /// Index within the generated split.
    pub index: u64,
    pub image: FaceImage,
    pub truth: FaceTruth,
}
