//! Identity: the face shape, colours and hair that stay fixed for one subject.

use rand::Rng;

/// An RGB colour with components in `0.0..=1.0`.
pub type Rgb = [f32; 3];

/// Hair style, drawn behind and over the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HairStyle {
    /// No hair drawn; the scalp shows skin.
    Bald,
    /// Short hair ending at a high hairline.
    Short,
    /// Long hair falling behind the head to the shoulders.
    Long,
    /// Hair with a fringe that hides the upper forehead.
    Fringe,
}

/// Everything about a face that does not depend on the expression. Lengths are in face
/// units: 1.0 is the width of an average face from cheek to cheek.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Face width multiplier, `0.9..1.08`.
    pub face_width: f32,
    /// Face height multiplier, `0.92..1.1`.
    pub face_height: f32,
    /// Chin half-width in face units, `0.08..0.17`.
    pub chin_width: f32,
    /// Horizontal distance of each eye centre from the midline, `0.18..0.215`.
    pub eye_spacing: f32,
    /// Eye size multiplier, `0.85..1.15`.
    pub eye_size: f32,
    /// Vertical position of the eye centres, `-0.08..-0.04`.
    pub eye_y: f32,
    /// Brow height above the eye centre, `0.13..0.17`.
    pub brow_gap: f32,
    /// Brow thickness in face units, `0.022..0.04`.
    pub brow_thickness: f32,
    /// Nose width multiplier, `0.85..1.2`.
    pub nose_width: f32,
    /// Vertical position of the nose tip, `0.11..0.15`.
    pub nose_y: f32,
    /// Mouth half-width in face units, `0.11..0.145`.
    pub mouth_width: f32,
    /// Vertical position of the lip line, `0.32..0.36`.
    pub mouth_y: f32,
    /// Lip thickness multiplier, `0.75..1.3`.
    pub lip_fullness: f32,
    pub skin: Rgb,
    pub lip: Rgb,
    pub iris: Rgb,
    pub hair: Rgb,
    pub hair_style: HairStyle,
    /// Hairline height; lower values leave a higher forehead.
    pub hairline_y: f32,
    pub clothing: Rgb,
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

impl Identity {
    /// Samples an identity.
    pub fn sample(rng: &mut impl Rng) -> Self {
        // Skin tones span light to dark along a warm axis with a small hue jitter.
        let light = [0.98, 0.86, 0.76];
        let dark = [0.36, 0.23, 0.16];
        let mut skin = mix(light, dark, rng.random_range(0.0..1.0f32).powf(1.2));
        for c in skin.iter_mut() {
            *c = (*c + rng.random_range(-0.03..0.03)).clamp(0.0, 1.0);
        }
        let lip = mix(skin, [0.62, 0.22, 0.24], rng.random_range(0.45..0.65));

        let irises = [
            [0.30, 0.18, 0.08],
            [0.18, 0.10, 0.05],
            [0.25, 0.40, 0.55],
            [0.28, 0.38, 0.22],
        ];
        let iris = irises[rng.random_range(0..irises.len())];

        let hairs = [
            [0.08, 0.06, 0.05],
            [0.25, 0.15, 0.08],
            [0.45, 0.30, 0.15],
            [0.75, 0.60, 0.35],
            [0.55, 0.55, 0.55],
            [0.45, 0.18, 0.08],
        ];
        let hair = hairs[rng.random_range(0..hairs.len())];
        let hair_style = match rng.random_range(0..10) {
            0 => HairStyle::Bald,
            1..=4 => HairStyle::Short,
            5..=7 => HairStyle::Long,
            _ => HairStyle::Fringe,
        };
        let hairline_y = match hair_style {
            HairStyle::Fringe => rng.random_range(-0.42..-0.38),
            _ => rng.random_range(-0.52..-0.46),
        };
        let clothing = [
            rng.random_range(0.05..0.9),
            rng.random_range(0.05..0.9),
            rng.random_range(0.05..0.9),
        ];

        Self {
            face_width: rng.random_range(0.9..1.08),
            face_height: rng.random_range(0.92..1.1),
            chin_width: rng.random_range(0.08..0.17),
            eye_spacing: rng.random_range(0.18..0.215),
            eye_size: rng.random_range(0.85..1.15),
            eye_y: rng.random_range(-0.08..-0.04),
            brow_gap: rng.random_range(0.13..0.17),
            brow_thickness: rng.random_range(0.022..0.04),
            nose_width: rng.random_range(0.85..1.2),
            nose_y: rng.random_range(0.11..0.15),
            mouth_width: rng.random_range(0.11..0.145),
            mouth_y: rng.random_range(0.32..0.36),
            lip_fullness: rng.random_range(0.75..1.3),
            skin,
            lip,
            iris,
            hair,
            hair_style,
            hairline_y,
            clothing,
        }
    }
}
