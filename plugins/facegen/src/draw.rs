//! Anti-aliased drawing of the background, head and facial features with tiny-skia.
//!
//! Shapes are built in face units and mapped to pixels by the placement transform, so
//! stroke widths scale with the face. Texture cues (wrinkles, furrows, dimples) are thin,
//! low-contrast strokes: visible in a zoomed crop, mostly lost when the whole image is
//! downscaled.

use rand::Rng;
use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, Mask, Paint, Path, PathBuilder, Pixmap, RadialGradient,
    SpreadMode, Stroke, Transform,
};

use crate::action_unit::{ActionUnit as Au, FaceRegion};
use crate::expression::Activation;
use crate::geometry::{closed_spline, side_sign, yaw_x, Layout, Placement, Vec2};
use crate::identity::{HairStyle, Identity, Rgb};

/// A pixmap with the face-unit transform of the face being drawn.
pub struct Canvas {
    pub pixmap: Pixmap,
    pub transform: Transform,
}

fn color(c: Rgb, alpha: f32) -> Color {
    Color::from_rgba(
        c[0].clamp(0.0, 1.0),
        c[1].clamp(0.0, 1.0),
        c[2].clamp(0.0, 1.0),
        alpha.clamp(0.0, 1.0),
    )
    .unwrap_or(Color::BLACK)
}

fn shade(c: Rgb, factor: f32) -> Rgb {
    [c[0] * factor, c[1] * factor, c[2] * factor]
}

fn paint(c: Rgb, alpha: f32) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(color(c, alpha));
    paint.anti_alias = true;
    paint
}

/// Path through `points`, closed or open.
fn polyline(points: &[Vec2], close: bool) -> Option<Path> {
    let mut pb = PathBuilder::new();
    let (first, rest) = points.split_first()?;
    pb.move_to(first.0, first.1);
    for p in rest {
        pb.line_to(p.0, p.1);
    }
    if close {
        pb.close();
    }
    pb.finish()
}

/// Quadratic curve from `a` to `b` that passes through `through` at its midpoint.
fn curve_through(a: Vec2, through: Vec2, b: Vec2) -> Option<Path> {
    let ctrl = (
        2.0 * through.0 - 0.5 * (a.0 + b.0),
        2.0 * through.1 - 0.5 * (a.1 + b.1),
    );
    let mut pb = PathBuilder::new();
    pb.move_to(a.0, a.1);
    pb.quad_to(ctrl.0, ctrl.1, b.0, b.1);
    pb.finish()
}

fn ellipse(center: Vec2, rx: f32, ry: f32) -> Option<Path> {
    let rect =
        tiny_skia::Rect::from_ltrb(center.0 - rx, center.1 - ry, center.0 + rx, center.1 + ry)?;
    PathBuilder::from_oval(rect)
}

impl Canvas {
    pub fn new(width: u32, height: u32, placement: &Placement) -> Option<Canvas> {
        Some(Canvas {
            pixmap: Pixmap::new(width, height)?,
            transform: placement.transform(),
        })
    }

    fn fill(&mut self, path: Option<Path>, c: Rgb, alpha: f32, mask: Option<&Mask>) {
        if alpha <= 0.0 {
            return;
        }
        if let Some(path) = path {
            self.pixmap.fill_path(
                &path,
                &paint(c, alpha),
                FillRule::Winding,
                self.transform,
                mask,
            );
        }
    }

    /// Strokes `path` with width `width` in face units.
    fn stroke(&mut self, path: Option<Path>, c: Rgb, alpha: f32, width: f32) {
        if alpha <= 0.0 {
            return;
        }
        if let Some(path) = path {
            let stroke = Stroke {
                width,
                line_cap: LineCap::Round,
                ..Stroke::default()
            };
            self.pixmap
                .stroke_path(&path, &paint(c, alpha), &stroke, self.transform, None);
        }
    }

    fn mask(&self, path: Option<Path>) -> Option<Mask> {
        let mut mask = Mask::new(self.pixmap.width(), self.pixmap.height())?;
        mask.fill_path(&path?, FillRule::Winding, true, self.transform);
        Some(mask)
    }
}

/// Draws a background gradient and up to `max_shapes` random shapes, in pixels.
pub fn draw_background(pixmap: &mut Pixmap, max_shapes: u32, rng: &mut impl Rng) {
    let (w, h) = (pixmap.width() as f32, pixmap.height() as f32);
    let base: Rgb = [
        rng.random_range(0.15..0.9),
        rng.random_range(0.15..0.9),
        rng.random_range(0.15..0.9),
    ];
    pixmap.fill(color(base, 1.0));
    let second = shade(base, rng.random_range(0.6..1.3));
    let gradient = tiny_skia::LinearGradient::new(
        tiny_skia::Point::from_xy(0.0, 0.0),
        tiny_skia::Point::from_xy(rng.random_range(0.0..w), h),
        vec![
            GradientStop::new(0.0, color(base, 0.0)),
            GradientStop::new(1.0, color(second, 1.0)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    );
    if let (Some(shader), Some(rect)) = (gradient, tiny_skia::Rect::from_xywh(0.0, 0.0, w, h)) {
        let paint = Paint {
            shader,
            anti_alias: true,
            ..Paint::default()
        };
        pixmap.fill_rect(rect, &paint, Transform::identity(), None);
    }

    let count = if max_shapes == 0 {
        0
    } else {
        rng.random_range(0..=max_shapes)
    };
    for _ in 0..count {
        let c: Rgb = [rng.random(), rng.random(), rng.random()];
        let alpha = rng.random_range(0.4..1.0);
        let (x, y) = (rng.random_range(0.0..w), rng.random_range(0.0..h));
        let size = rng.random_range(0.05..0.35) * w;
        let path = match rng.random_range(0..3) {
            0 => tiny_skia::Rect::from_xywh(x, y, size, rng.random_range(0.05..0.35) * h)
                .map(PathBuilder::from_rect),
            1 => PathBuilder::from_circle(x, y, 0.5 * size),
            _ => {
                let mut pb = PathBuilder::new();
                pb.move_to(x, y);
                pb.line_to(
                    x + rng.random_range(-size..size),
                    y + rng.random_range(-size..size),
                );
                pb.finish().and_then(|p| {
                    p.stroke(
                        &Stroke {
                            width: rng.random_range(0.01..0.04) * w,
                            ..Stroke::default()
                        },
                        1.0,
                    )
                })
            }
        };
        if let Some(path) = path {
            pixmap.fill_path(
                &path,
                &paint(c, alpha),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
}

/// Draws hair behind the head, the neck, shoulders, ears and the face with its shading.
pub fn draw_head(canvas: &mut Canvas, id: &Identity, layout: &Layout) {
    let fw = 0.5 * id.face_width;
    let skin = id.skin;

    // Long hair falls behind the head to the shoulders.
    if id.hair_style == HairStyle::Long {
        let back = closed_spline(
            &[
                (0.0, -0.72 * id.face_height),
                (fw + 0.12, -0.45),
                (fw + 0.16, 0.2),
                (fw + 0.2, 0.9),
                (-fw - 0.2, 0.9),
                (-fw - 0.16, 0.2),
                (-fw - 0.12, -0.45),
            ],
            8,
        );
        canvas.fill(polyline(&back, true), id.hair, 1.0, None);
    }

    // Neck and shoulders.
    let chin_y = layout.neutral_chin_y;
    canvas.fill(
        polyline(
            &[
                (-0.19, chin_y - 0.3),
                (0.19, chin_y - 0.3),
                (0.21, 1.3),
                (-0.21, 1.3),
            ],
            true,
        ),
        shade(skin, 0.8),
        1.0,
        None,
    );
    canvas.fill(
        ellipse((0.0, chin_y + 0.72), 1.0, 0.42),
        id.clothing,
        1.0,
        None,
    );

    // Ears.
    for s in 0..2 {
        let sign = side_sign(s);
        canvas.fill(
            ellipse((sign * (fw + 0.015) + 0.04 * layout.yaw, 0.0), 0.05, 0.095),
            shade(skin, 0.9),
            1.0,
            None,
        );
    }

    // Face, with darker edges from a radial gradient clipped to the outline.
    let outline = closed_spline(&layout.outline, 10);
    canvas.fill(polyline(&outline, true), skin, 1.0, None);
    let mask = canvas.mask(polyline(&outline, true));
    let shading = RadialGradient::new(
        tiny_skia::Point::from_xy(0.05 * layout.yaw, 0.0),
        0.0,
        tiny_skia::Point::from_xy(0.05 * layout.yaw, 0.0),
        0.75,
        vec![
            GradientStop::new(0.45, color(shade(skin, 0.7), 0.0)),
            GradientStop::new(1.0, color(shade(skin, 0.7), 0.7)),
        ],
        SpreadMode::Pad,
        Transform::from_scale(1.0, 1.0),
    );
    if let (Some(shader), Some(path)) = (shading, polyline(&outline, true)) {
        let paint = Paint {
            shader,
            anti_alias: true,
            ..Paint::default()
        };
        canvas.pixmap.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            canvas.transform,
            mask.as_ref(),
        );
    }

    // Hair over the crown down to the hairline.
    if id.hair_style != HairStyle::Bald {
        let top = layout.outline[0].1;
        let hl = id.hairline_y;
        let side_y = hl + 0.14;
        let cap = closed_spline(
            &[
                (-fw - 0.035, side_y),
                (-fw - 0.02, -0.42),
                (-0.3, top - 0.02),
                (0.0, top - 0.045),
                (0.3, top - 0.02),
                (fw + 0.02, -0.42),
                (fw + 0.035, side_y),
                (0.33, hl + 0.035),
                (0.0, hl),
                (-0.33, hl + 0.035),
            ],
            8,
        );
        canvas.fill(polyline(&cap, true), id.hair, 1.0, None);
    }
}

/// Wrinkle colour on this skin.
fn crease(id: &Identity) -> Rgb {
    shade(id.skin, 0.55)
}

/// Draws brows and the forehead textures of AU1, AU2 and AU4.
pub fn draw_brows(canvas: &mut Canvas, id: &Identity, layout: &Layout, a: &Activation) {
    let brow_color = shade(id.hair, 0.55);
    let c = crease(id);
    let yaw = layout.yaw;
    let brow_y = layout.neutral_brow_y;

    for s in 0..2 {
        let sign = side_sign(s);
        let brow = layout.brows[s];
        canvas.stroke(
            curve_through(brow.inner, brow.middle, brow.outer),
            brow_color,
            1.0,
            id.brow_thickness,
        );

        // AU1 raises the inner brow and creases the centre of the forehead.
        let au1 = a.side(Au::Au1, s);
        for k in 0..3 {
            let y = brow_y - 0.1 - 0.04 * k as f32;
            canvas.stroke(
                curve_through(
                    (yaw_x(sign * 0.005, yaw), y - 0.012),
                    (yaw_x(sign * 0.08, yaw), y - 0.008),
                    (yaw_x(sign * 0.15, yaw), y + 0.006),
                ),
                c,
                0.45 * au1,
                0.007,
            );
        }

        // AU2 raises the outer brow and creases the lateral forehead.
        let au2 = a.side(Au::Au2, s);
        for k in 0..2 {
            let y = brow_y - 0.1 - 0.045 * k as f32;
            canvas.stroke(
                curve_through(
                    (yaw_x(sign * 0.16, yaw), y + 0.005),
                    (yaw_x(sign * 0.25, yaw), y - 0.018),
                    (yaw_x(sign * 0.34, yaw), y + 0.012),
                ),
                c,
                0.45 * au2,
                0.007,
            );
        }

        // AU4 draws the brows together and creases the glabella vertically.
        let au4 = a.side(Au::Au4, s);
        canvas.stroke(
            curve_through(
                (yaw_x(sign * 0.026, yaw), brow_y - 0.015),
                (yaw_x(sign * 0.021, yaw), brow_y + 0.02),
                (yaw_x(sign * 0.026, yaw), brow_y + 0.055),
            ),
            c,
            0.55 * au4,
            0.008,
        );
    }
}

/// Draws the eyes and the periorbital textures of AU5, AU6 and AU7.
pub fn draw_eyes(canvas: &mut Canvas, id: &Identity, layout: &Layout, a: &Activation) {
    let c = crease(id);
    for s in 0..2 {
        let sign = side_sign(s);
        let eye = layout.eyes[s];
        let au5 = a.side(Au::Au5, s);
        let au6 = a.side(Au::Au6, s);
        let au7 = a.side(Au::Au7, s);
        let (cx, cy) = eye.center;
        let top = cy - 1.33 * eye.upper;
        let bottom = cy + 1.33 * eye.lower;
        let lerp = |t: f32| eye.inner.0 + (eye.outer.0 - eye.inner.0) * t;

        // AU6 lifts the cheek into a bulge below the eye.
        canvas.fill(
            ellipse((cx + sign * 0.02, cy + 0.11), 0.09, 0.045),
            shade(id.skin, 1.12),
            0.35 * au6,
            None,
        );
        canvas.stroke(
            curve_through(
                (lerp(0.05), cy + 0.055 - 0.02 * au6),
                (cx, cy + 0.07 - 0.022 * au6),
                (lerp(0.95), cy + 0.05 - 0.02 * au6),
            ),
            c,
            0.1 + 0.35 * au6,
            0.007,
        );

        // The lid crease fades as AU5 retracts the upper lid.
        canvas.stroke(
            curve_through(
                (lerp(0.05), eye.inner.1 - 0.02),
                (cx, top + 0.012 - 0.022),
                (lerp(1.0), eye.outer.1 - 0.018),
            ),
            c,
            0.35 * (1.0 - au5),
            0.006,
        );

        // The eye opening: sclera, iris and pupil clipped to the lids.
        let mut pb = PathBuilder::new();
        pb.move_to(eye.inner.0, eye.inner.1);
        pb.cubic_to(lerp(0.3), top, lerp(0.7), top, eye.outer.0, eye.outer.1);
        pb.cubic_to(
            lerp(0.7),
            bottom,
            lerp(0.3),
            bottom,
            eye.inner.0,
            eye.inner.1,
        );
        pb.close();
        let opening = pb.finish();
        canvas.fill(opening.clone(), [0.93, 0.92, 0.9], 1.0, None);
        let mask = canvas.mask(opening.clone());
        if let Some(mask) = mask.as_ref() {
            canvas.fill(
                ellipse(eye.iris, eye.iris_radius, eye.iris_radius),
                id.iris,
                1.0,
                Some(mask),
            );
            canvas.fill(
                ellipse(eye.iris, 0.4 * eye.iris_radius, 0.4 * eye.iris_radius),
                [0.03, 0.03, 0.03],
                1.0,
                Some(mask),
            );
        }

        // Lash line on the upper lid, a fainter lower lid.
        let mut pb = PathBuilder::new();
        pb.move_to(eye.inner.0, eye.inner.1);
        pb.cubic_to(lerp(0.3), top, lerp(0.7), top, eye.outer.0, eye.outer.1);
        canvas.stroke(pb.finish(), [0.08, 0.06, 0.05], 0.9, 0.012);
        let mut pb = PathBuilder::new();
        pb.move_to(eye.inner.0, eye.inner.1);
        pb.cubic_to(
            lerp(0.3),
            bottom,
            lerp(0.7),
            bottom,
            eye.outer.0,
            eye.outer.1,
        );
        canvas.stroke(pb.finish(), shade(id.skin, 0.5), 0.5, 0.005);

        // AU7 tenses the lower lid into a ridge.
        canvas.stroke(
            curve_through(
                (lerp(0.1), bottom - 0.3 * (bottom - cy) + 0.016),
                (cx, bottom + 0.014),
                (lerp(0.9), bottom - 0.3 * (bottom - cy) + 0.014),
            ),
            c,
            0.5 * au7,
            0.007,
        );

        // AU6 crow's feet fan out from the outer corner.
        for dy in [-0.022f32, 0.0, 0.022] {
            let start = (eye.outer.0 + sign * 0.018, eye.outer.1 + 0.5 * dy);
            let end = (eye.outer.0 + sign * 0.065, eye.outer.1 + 1.6 * dy);
            canvas.stroke(polyline(&[start, end], false), c, 0.5 * au6, 0.006);
        }
    }
}

/// Draws the nose, the AU9 wrinkles and the upper part of the nasolabial folds.
pub fn draw_nose(canvas: &mut Canvas, id: &Identity, layout: &Layout, a: &Activation) {
    let c = crease(id);
    let yaw = layout.yaw;
    let eye_y = layout.neutral_eye_y;
    let tip = layout.nose_tip;
    let au9 = a.max(Au::Au9);

    // Bridge shadows, tip highlight and the shadow under the tip.
    for s in 0..2 {
        let sign = side_sign(s);
        canvas.stroke(
            polyline(
                &[
                    (yaw_x(sign * 0.035, yaw), eye_y + 0.035),
                    (yaw_x(sign * 0.048, yaw) + 0.03 * yaw, tip.1 - 0.02),
                ],
                false,
            ),
            shade(id.skin, 0.75),
            0.35,
            0.01,
        );
    }
    canvas.fill(
        ellipse((tip.0, tip.1 - 0.012), 0.03, 0.025),
        shade(id.skin, 1.1),
        0.35,
        None,
    );

    for s in 0..2 {
        let sign = side_sign(s);
        let n = layout.nostrils[s];
        let r = layout.nostril_size;
        // Alar wing around the nostril.
        canvas.stroke(
            curve_through(
                (n.0 - sign * 0.005, n.1 - 0.035),
                (n.0 + sign * 0.028, n.1 - 0.005),
                (n.0 - sign * 0.004, n.1 + 0.012),
            ),
            shade(id.skin, 0.6),
            0.6,
            0.008,
        );
        canvas.fill(ellipse(n, r, 0.45 * r), shade(id.skin, 0.3), 0.85, None);

        // AU9 bunny lines on the side of the nose.
        canvas.stroke(
            polyline(
                &[
                    (yaw_x(sign * 0.045, yaw), eye_y + 0.035),
                    (yaw_x(sign * 0.085, yaw), eye_y + 0.075),
                ],
                false,
            ),
            c,
            0.45 * au9,
            0.007,
        );

        // Upper nasolabial fold: always faint, deepened by AU9.
        canvas.stroke(
            polyline(
                &[
                    (n.0 + sign * 0.035, n.1 - 0.01),
                    (yaw_x(sign * 0.095, yaw), layout.neutral_nose_y + 0.06),
                ],
                false,
            ),
            c,
            0.12 + 0.3 * au9,
            0.007,
        );
    }
    canvas.stroke(
        curve_through(
            layout.nostrils[0],
            (tip.0, tip.1 + 0.03),
            layout.nostrils[1],
        ),
        shade(id.skin, 0.65),
        0.35,
        0.008,
    );

    // AU9 transverse wrinkles across the bridge.
    for k in 0..3 {
        let y = eye_y + 0.04 + 0.022 * k as f32;
        canvas.stroke(
            curve_through(
                (yaw_x(-0.04, yaw), y + 0.004),
                (yaw_x(0.0, yaw), y - 0.004),
                (yaw_x(0.04, yaw), y + 0.004),
            ),
            c,
            0.5 * au9,
            0.006,
        );
    }
}

/// Draws lips, the mouth opening, and the mouth and chin textures of AU12 to AU26.
pub fn draw_mouth(canvas: &mut Canvas, id: &Identity, layout: &Layout, a: &Activation) {
    let c = crease(id);
    let yaw = layout.yaw;
    let m = layout.mouth;
    let [left, right] = m.corners;
    let mid = m.center();
    let line_y = mid.1;
    let along = |corner: Vec2, t: f32, y: f32| {
        (
            corner.0 + (mid.0 - corner.0) * t,
            y + (corner.1 - line_y) * (1.0 - t) * 0.6,
        )
    };

    // Lower nasolabial folds run from beside the nose to the mouth corners; AU12 deepens
    // them.
    for s in 0..2 {
        let sign = side_sign(s);
        let corner = m.corners[s];
        let au12 = a.side(Au::Au12, s);
        let au20 = a.side(Au::Au20, s);
        canvas.stroke(
            curve_through(
                (yaw_x(sign * 0.11, yaw), layout.neutral_mouth_y - 0.09),
                (
                    corner.0 + sign * 0.035,
                    0.5 * (layout.neutral_mouth_y - 0.09 + corner.1),
                ),
                (corner.0 + sign * 0.03, corner.1 + 0.02),
            ),
            c,
            0.12 + 0.4 * au12 + 0.15 * au20,
            0.008,
        );
    }

    // Lips: a closed spline around both lips.
    let upper_y = m.upper_outer.1;
    let lower_y = m.lower_outer.1;
    let lips = closed_spline(
        &[
            left,
            along(left, 0.45, upper_y - 0.002),
            (mid.0 - 0.032, upper_y - 0.006),
            (mid.0, upper_y),
            (mid.0 + 0.032, upper_y - 0.006),
            along(right, 0.45, upper_y - 0.002),
            right,
            along(right, 0.5, lower_y - 0.008),
            (mid.0, lower_y),
            along(left, 0.5, lower_y - 0.008),
        ],
        8,
    );
    canvas.fill(polyline(&lips, true), id.lip, 1.0, None);

    // The opening between the lips, with upper teeth.
    let inner_points = [
        left,
        along(left, 0.5, m.upper_inner.1),
        m.upper_inner,
        along(right, 0.5, m.upper_inner.1),
        right,
        along(right, 0.5, m.lower_inner.1),
        m.lower_inner,
        along(left, 0.5, m.lower_inner.1),
    ];
    if m.opening() > 0.003 {
        let inner = polyline(&closed_spline(&inner_points, 8), true);
        canvas.fill(inner.clone(), [0.25, 0.07, 0.09], 1.0, None);
        if let Some(mask) = canvas.mask(inner).as_ref() {
            let teeth = tiny_skia::Rect::from_ltrb(
                mid.0 - 0.1,
                m.upper_inner.1 - 0.01,
                mid.0 + 0.1,
                m.upper_inner.1 + 0.028,
            )
            .map(PathBuilder::from_rect);
            canvas.fill(teeth, [0.93, 0.91, 0.86], 1.0, Some(mask));
        }
    }

    // Lip line between closed lips.
    if m.opening() <= 0.003 {
        canvas.stroke(
            curve_through(left, (mid.0, m.upper_inner.1), right),
            shade(id.lip, 0.45),
            0.8,
            0.008,
        );
    }

    for s in 0..2 {
        let sign = side_sign(s);
        let corner = m.corners[s];
        // AU14 dimples lateral to the corners.
        let au14 = a.side(Au::Au14, s);
        canvas.stroke(
            curve_through(
                (corner.0 + sign * 0.028, corner.1 - 0.022),
                (corner.0 + sign * 0.042, corner.1),
                (corner.0 + sign * 0.028, corner.1 + 0.022),
            ),
            c,
            0.6 * au14,
            0.008,
        );
        // AU15 folds below the depressed corners.
        let au15 = a.side(Au::Au15, s);
        canvas.stroke(
            polyline(
                &[
                    (corner.0 + sign * 0.008, corner.1 + 0.012),
                    (corner.0 + sign * 0.022, corner.1 + 0.06),
                ],
                false,
            ),
            c,
            0.4 * au15,
            0.007,
        );
        // AU20 stretches the skin lateral to the corners.
        let au20 = a.side(Au::Au20, s);
        canvas.stroke(
            polyline(
                &[
                    (corner.0 + sign * 0.015, corner.1),
                    (corner.0 + sign * 0.06, corner.1 + 0.006),
                ],
                false,
            ),
            c,
            0.35 * au20,
            0.006,
        );
    }

    // AU23 tightens the lip borders into a ridge above the upper lip.
    let au23 = a.max(Au::Au23);
    canvas.stroke(
        curve_through(
            along(left, 0.2, upper_y - 0.012),
            (mid.0, upper_y - 0.016),
            along(right, 0.2, upper_y - 0.012),
        ),
        c,
        0.35 * au23,
        0.006,
    );

    // AU17 raises the chin: a deeper mentolabial furrow and a dimpled chin boss.
    let au17 = a.max(Au::Au17);
    canvas.stroke(
        curve_through(
            (mid.0 - 0.07, lower_y + 0.03),
            (mid.0, lower_y + 0.045 - 0.015 * au17),
            (mid.0 + 0.07, lower_y + 0.03),
        ),
        c,
        0.12 + 0.35 * au17,
        0.008,
    );
    let chin = layout.chin;
    for (dx, dy) in [
        (-0.04, -0.09),
        (0.0, -0.1),
        (0.035, -0.085),
        (-0.02, -0.065),
        (0.02, -0.06),
        (0.05, -0.07),
        (-0.05, -0.075),
    ] {
        canvas.fill(
            ellipse((chin.0 + dx, chin.1 + dy), 0.007, 0.006),
            c,
            0.35 * au17,
            None,
        );
    }
}

/// Draws an occluder over `region`: a band of hair or a hat brim, sunglasses, a hand,
/// or a scarf.
pub fn draw_occluder(canvas: &mut Canvas, layout: &Layout, region: FaceRegion, tint: Rgb) {
    let (x0, y0, x1, y1) = layout.region_rect(region);
    match region {
        FaceRegion::EyePeriorbital => {
            for eye in &layout.eyes {
                canvas.fill(
                    ellipse(eye.center, 0.12, 0.08),
                    [0.05, 0.05, 0.07],
                    0.95,
                    None,
                );
            }
            canvas.stroke(
                polyline(&[layout.eyes[0].center, layout.eyes[1].center], false),
                [0.05, 0.05, 0.07],
                1.0,
                0.02,
            );
        }
        FaceRegion::Nose => {
            canvas.fill(
                ellipse(
                    (0.5 * (x0 + x1), 0.5 * (y0 + y1)),
                    0.6 * (x1 - x0),
                    0.6 * (y1 - y0),
                ),
                tint,
                1.0,
                None,
            );
        }
        FaceRegion::ForeheadEyebrow | FaceRegion::MouthChin => {
            let rect = tiny_skia::Rect::from_ltrb(x0 - 0.05, y0, x1 + 0.05, y1)
                .map(PathBuilder::from_rect);
            canvas.fill(rect, tint, 1.0, None);
        }
    }
}
