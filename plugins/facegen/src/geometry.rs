//! Face geometry: where every feature sits, in face units, for an identity, a pose and
//! an expression, and the transform from face units to pixels.
//!
//! Face units put the origin between the eyes and the nose, x to the image's right and y
//! down; 1.0 is the cheek-to-cheek width of an average face. Side index 0 is the image's
//! left (x < 0), side index 1 the image's right.

use crate::action_unit::ActionUnit as Au;
use crate::expression::Activation;
use crate::identity::Identity;
use crate::sample::{PixelBox, Point};

/// A point in face units.
pub type Vec2 = (f32, f32);

/// Direction of side `side_index` along x: -1 for the image's left, +1 for its right.
pub fn side_sign(side_index: usize) -> f32 {
    if side_index == 0 {
        -1.0
    } else {
        1.0
    }
}

/// Maps face units to pixels: scale, then roll, then translation.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Pixels per face unit.
    pub scale: f32,
    /// In-plane rotation in radians, positive clockwise in the image.
    pub roll: f32,
    /// Pixel position of the face-unit origin.
    pub center: Point,
}

impl Placement {
    pub fn to_pixel(&self, p: Vec2) -> Point {
        let (s, c) = self.roll.sin_cos();
        Point {
            x: self.scale * (c * p.0 - s * p.1) + self.center.x,
            y: self.scale * (s * p.0 + c * p.1) + self.center.y,
        }
    }

    pub fn transform(&self) -> tiny_skia::Transform {
        let (s, c) = self.roll.sin_cos();
        tiny_skia::Transform::from_row(
            self.scale * c,
            self.scale * s,
            -self.scale * s,
            self.scale * c,
            self.center.x,
            self.center.y,
        )
    }

    /// Pixel box around a face-unit rectangle after rotation.
    pub fn box_around(&self, x_min: f32, y_min: f32, x_max: f32, y_max: f32) -> PixelBox {
        PixelBox::around(
            [
                (x_min, y_min),
                (x_max, y_min),
                (x_min, y_max),
                (x_max, y_max),
            ]
            .map(|p| self.to_pixel(p)),
        )
    }
}

/// One eye's shape.
#[derive(Debug, Clone, Copy)]
pub struct Eye {
    /// Centre of the eye opening.
    pub center: Vec2,
    /// Corner toward the nose.
    pub inner: Vec2,
    /// Corner toward the ear.
    pub outer: Vec2,
    /// Height of the upper lid's apex above the corner line.
    pub upper: f32,
    /// Depth of the lower lid below the corner line.
    pub lower: f32,
    /// Iris radius.
    pub iris_radius: f32,
    /// Iris centre.
    pub iris: Vec2,
}

/// One brow as three points from the nose outward.
#[derive(Debug, Clone, Copy)]
pub struct Brow {
    pub inner: Vec2,
    pub middle: Vec2,
    pub outer: Vec2,
}

/// Mouth shape.
#[derive(Debug, Clone, Copy)]
pub struct Mouth {
    /// Corners, image left then image right.
    pub corners: [Vec2; 2],
    /// Bottom edge of the upper lip at the midline.
    pub upper_inner: Vec2,
    /// Top edge of the lower lip at the midline.
    pub lower_inner: Vec2,
    /// Top edge of the upper lip at the midline (the cupid's bow dip).
    pub upper_outer: Vec2,
    /// Bottom edge of the lower lip at the midline.
    pub lower_outer: Vec2,
}

impl Mouth {
    /// Vertical gap between the lips in face units.
    pub fn opening(&self) -> f32 {
        self.lower_inner.1 - self.upper_inner.1
    }

    /// Centre of the lip line, or of the opening.
    pub fn center(&self) -> Vec2 {
        (
            0.5 * (self.upper_inner.0 + self.lower_inner.0),
            0.5 * (self.upper_inner.1 + self.lower_inner.1),
        )
    }
}

/// Positions of all features in face units.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Closed outline of the head from the crown around to the chin, clockwise.
    pub outline: Vec<Vec2>,
    /// Lowest point of the chin.
    pub chin: Vec2,
    pub eyes: [Eye; 2],
    pub brows: [Brow; 2],
    pub nose_tip: Vec2,
    /// Nostril centres, image left then image right.
    pub nostrils: [Vec2; 2],
    /// Nostril half-width.
    pub nostril_size: f32,
    pub mouth: Mouth,
    /// Horizontal foreshortening from yaw: features on the far side move toward the
    /// midline by this factor.
    pub yaw: f32,
    /// Neutral (expression-free) vertical landmarks for region boxes.
    pub neutral_brow_y: f32,
    pub neutral_eye_y: f32,
    pub neutral_nose_y: f32,
    pub neutral_mouth_y: f32,
    pub neutral_chin_y: f32,
}

/// Maps an interior feature's x for a head turned by `yaw` (-1..1 for -30..30 degrees):
/// features shift toward the turn and the face narrows.
///
/// NOTE: this is a 2D approximation. The outline barely moves and the near and far
/// halves are foreshortened alike, so large yaws look flatter than real profiles.
pub fn yaw_x(x: f32, yaw: f32) -> f32 {
    x * (1.0 - 0.22 * yaw.abs()) + 0.13 * yaw
}

/// Sample points of a closed Catmull-Rom spline through `points`, `steps` per span.
pub fn closed_spline(points: &[Vec2], steps: usize) -> Vec<Vec2> {
    let n = points.len();
    let mut out = Vec::with_capacity(n * steps);
    for i in 0..n {
        let p0 = points[(i + n - 1) % n];
        let p1 = points[i];
        let p2 = points[(i + 1) % n];
        let p3 = points[(i + 2) % n];
        for k in 0..steps {
            let t = k as f32 / steps as f32;
            let (t2, t3) = (t * t, t * t * t);
            let f = |a: f32, b: f32, c: f32, d: f32| {
                0.5 * (2.0 * b
                    + (-a + c) * t
                    + (2.0 * a - 5.0 * b + 4.0 * c - d) * t2
                    + (-a + 3.0 * b - 3.0 * c + d) * t3)
            };
            out.push((f(p0.0, p1.0, p2.0, p3.0), f(p0.1, p1.1, p2.1, p3.1)));
        }
    }
    out
}

impl Layout {
    /// Computes the layout of `identity` making expression `activation`, with the head
    /// turned by `yaw` in `-1.0..=1.0` (about -30 to 30 degrees).
    pub fn new(identity: &Identity, activation: &Activation, yaw: f32) -> Layout {
        let id = identity;
        let a = activation;
        let w = 0.5 * id.face_width;
        let h = id.face_height;

        // Jaw drop and lips part lower the chin.
        let jaw = 0.075 * a.max(Au::Au26) + 0.015 * a.max(Au::Au25);
        let neutral_chin_y = 0.6 * h;
        let chin_y = neutral_chin_y + jaw;
        let top = -0.64 * h;

        // Outline control points, clockwise from the crown, mirrored for the left half.
        let right: [Vec2; 7] = [
            (0.26 * w / 0.5, top + 0.035),
            (0.44 * w / 0.5, -0.42 * h),
            (w, -0.12),
            (0.96 * w, 0.12),
            (0.82 * w, 0.34),
            (id.chin_width + 0.12, 0.52 * h + jaw),
            (id.chin_width, chin_y - 0.025),
        ];
        let mut outline = vec![(0.0, top)];
        outline.extend(right.iter().copied());
        outline.push((0.0, chin_y));
        outline.extend(right.iter().rev().map(|&(x, y)| (-x, y)));
        // Turning the head shifts the visible outline a little toward the turn.
        for p in outline.iter_mut() {
            p.0 += 0.04 * yaw;
        }

        let eyes = [0, 1].map(|s| Self::eye(id, a, yaw, s));
        let brows = [0, 1].map(|s| Self::brow(id, a, yaw, s));

        // AU9 pulls the nostril wings up.
        let nose_raise = 0.018 * a.max(Au::Au9);
        let nose_tip = (yaw_x(0.0, yaw) + 0.05 * yaw, id.nose_y);
        let nostrils = [0, 1].map(|s| {
            let sign = side_sign(s);
            (
                yaw_x(sign * 0.045 * id.nose_width, yaw) + 0.02 * yaw,
                id.nose_y + 0.03 - nose_raise,
            )
        });

        let mouth = Self::mouth(id, a, yaw);

        Layout {
            outline,
            chin: (0.04 * yaw, chin_y),
            eyes,
            brows,
            nose_tip,
            nostrils,
            nostril_size: 0.02 * id.nose_width * (1.0 + 0.25 * a.max(Au::Au9)),
            mouth,
            yaw,
            neutral_brow_y: id.eye_y - id.brow_gap,
            neutral_eye_y: id.eye_y,
            neutral_nose_y: id.nose_y,
            neutral_mouth_y: id.mouth_y,
            neutral_chin_y,
        }
    }

    fn eye(id: &Identity, a: &Activation, yaw: f32, s: usize) -> Eye {
        let sign = side_sign(s);
        let au5 = a.side(Au::Au5, s);
        let au6 = a.side(Au::Au6, s);
        let au7 = a.side(Au::Au7, s);
        let half_width = 0.085 * id.eye_size;
        let cx = sign * id.eye_spacing;
        let inner = (yaw_x(cx - sign * half_width, yaw), id.eye_y + 0.004);
        let outer = (yaw_x(cx + sign * half_width, yaw), id.eye_y - 0.004);
        // AU5 widens the opening above; AU7 and AU6 push the lower lid up and narrow it.
        let upper = (0.04 + 0.032 * au5 - 0.012 * au7 - 0.008 * au6) * id.eye_size;
        let lower = (0.028 - 0.016 * au7 - 0.012 * au6 + 0.004 * au5) * id.eye_size;
        let center = (0.5 * (inner.0 + outer.0), id.eye_y);
        Eye {
            center,
            inner,
            outer,
            upper,
            lower,
            iris_radius: 0.033 * id.eye_size,
            iris: (center.0 + 0.01 * yaw, center.1 - 0.004),
        }
    }

    fn brow(id: &Identity, a: &Activation, yaw: f32, s: usize) -> Brow {
        let sign = side_sign(s);
        let au1 = a.side(Au::Au1, s);
        let au2 = a.side(Au::Au2, s);
        let au4 = a.side(Au::Au4, s);
        let y = id.eye_y - id.brow_gap;
        let lower = 0.028 * au4;
        let inner = (
            yaw_x(sign * (0.07 - 0.022 * au4), yaw),
            y + 0.01 - 0.055 * au1 + lower + 0.016 * au4,
        );
        let middle = (
            yaw_x(sign * 0.19, yaw),
            y - 0.028 - 0.018 * au1 - 0.03 * au2 + lower,
        );
        let outer = (
            yaw_x(sign * 0.31, yaw),
            y + 0.012 - 0.05 * au2 + 0.6 * lower,
        );
        Brow {
            inner,
            middle,
            outer,
        }
    }

    fn mouth(id: &Identity, a: &Activation, yaw: f32) -> Mouth {
        let au17 = a.max(Au::Au17);
        let au20 = a.max(Au::Au20);
        let au23 = a.max(Au::Au23);
        let au25 = a.max(Au::Au25);
        let au26 = a.max(Au::Au26);
        let y = id.mouth_y;

        let corners = [0, 1].map(|s| {
            let sign = side_sign(s);
            let au12 = a.side(Au::Au12, s);
            let au14 = a.side(Au::Au14, s);
            let au15 = a.side(Au::Au15, s);
            let dx = 0.035 * au12 + 0.045 * au20 - 0.012 * au14 - 0.028 * au23;
            let dy = -0.07 * au12 + 0.05 * au15 - 0.012 * au14 + 0.004 * au20 - 0.006 * au17;
            (yaw_x(sign * (id.mouth_width + dx), yaw), y + dy)
        });

        // AU23 thins the red of the lips; AU20 flattens them.
        let thin = 1.0 - 0.55 * au23 - 0.25 * au20;
        let upper_thickness = 0.032 * id.lip_fullness * thin;
        let lower_thickness = 0.042 * id.lip_fullness * thin;
        let opening = 0.022 * au25 + 0.07 * au26;
        // AU17 pushes the lower lip up against the upper one.
        let push = 0.012 * au17;
        let mid_x = yaw_x(0.0, yaw);
        let corner_mean = 0.5 * (corners[0].1 + corners[1].1);
        // The midline follows the corners a little, so a smile curves the lip line.
        let line_y = y + 0.25 * (corner_mean - y) - push;
        let upper_inner = (mid_x, line_y - 0.3 * opening);
        let lower_inner = (mid_x, line_y + 0.7 * opening);
        Mouth {
            corners,
            upper_inner,
            lower_inner,
            upper_outer: (mid_x, upper_inner.1 - upper_thickness),
            lower_outer: (mid_x, lower_inner.1 + lower_thickness - 0.5 * push),
        }
    }

    /// Face-unit rectangle `(x_min, y_min, x_max, y_max)` of a region, from the neutral
    /// feature positions so that a region does not move with the expression.
    pub fn region_rect(&self, region: crate::action_unit::FaceRegion) -> (f32, f32, f32, f32) {
        use crate::action_unit::FaceRegion;
        let x = |v: f32| yaw_x(v, self.yaw);
        match region {
            FaceRegion::ForeheadEyebrow => (
                x(-0.4),
                self.neutral_brow_y - 0.25,
                x(0.4),
                self.neutral_brow_y + 0.07,
            ),
            FaceRegion::EyePeriorbital => (
                x(-0.42),
                self.neutral_eye_y - 0.085,
                x(0.42),
                self.neutral_eye_y + 0.15,
            ),
            FaceRegion::Nose => (
                x(-0.15),
                self.neutral_eye_y + 0.02,
                x(0.15),
                self.neutral_nose_y + 0.065,
            ),
            FaceRegion::MouthChin => (
                x(-0.3),
                self.neutral_mouth_y - 0.1,
                x(0.3),
                self.neutral_chin_y + 0.1,
            ),
        }
    }

    /// Outline points below `cut_y`, for the face box (which leaves out the crown hidden
    /// by hair).
    pub fn face_points(&self) -> Vec<Vec2> {
        let cut = self.neutral_brow_y - 0.22;
        closed_spline(&self.outline, 8)
            .into_iter()
            .filter(|p| p.1 >= cut)
            .collect()
    }
}
