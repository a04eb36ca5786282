//! The canonical aligned face and its named regions.

use crate::PixelBox;

/// Side of the aligned face crop, in pixels.
pub const ALIGNED_SIZE: u32 = 112;

/// Template positions in the 112x112 aligned frame: the eye centres and mouth centre of
/// the widely used 112x112 five-point ArcFace template (eyes at about (38.3, 51.7) and
/// (73.5, 51.5), mouth corners at about (41.5, 92.4) and (70.7, 92.2)).
pub const TEMPLATE_LEFT_EYE: (f32, f32) = (38.29, 51.70);
pub const TEMPLATE_RIGHT_EYE: (f32, f32) = (73.53, 51.50);
pub const TEMPLATE_MOUTH: (f32, f32) = (56.14, 92.28);

/// Region names accepted by `zoom_in` and returned by `face_align`.
pub const REGION_NAMES: [&str; 4] = ["forehead-eyebrow", "eye-periorbital", "nose", "mouth-chin"];

/// Returns the box of a named region in the 112x112 aligned frame, or `None` for an
/// unknown name. The boxes overlap on purpose (brows belong to both upper regions).
pub fn region_box(name: &str) -> Option<PixelBox> {
    let (x0, y0, x1, y1) = match name {
        "forehead-eyebrow" => (14.0, 4.0, 98.0, 46.0),
        "eye-periorbital" => (14.0, 36.0, 98.0, 66.0),
        "nose" => (36.0, 46.0, 76.0, 84.0),
        "mouth-chin" => (26.0, 76.0, 86.0, 112.0),
        _ => return None,
    };
    Some(PixelBox::new(x0, y0, x1, y1))
}
