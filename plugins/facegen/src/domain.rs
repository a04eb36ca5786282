//! Domain presets: image size, colour, capture conditions and label distribution of each
//! synthetic source. They mimic the character of FERPlus, RAF-DB, AffectNet, SFEW 2.0 and
//! DISFA, not their content.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::emotion::EmotionWeights;
use crate::error::{FacegenError, Result};

/// A named domain preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// 48x48 grayscale, roughly aligned, mild noise, imbalanced toward neutral and
    /// happiness (FERPlus-like).
    Ferplus,
    /// 100x100 colour, clean and aligned, balanced classes (RAF-DB-like).
    Rafdb,
    /// 128x128 colour, in the wild: varied scale, position, pose, lighting and clutter,
    /// strong class imbalance (AffectNet-like).
    Affectnet,
    /// 96x96 colour, low quality: heavy blur, noise, dim lighting, frequent occlusion
    /// (SFEW-like).
    Sfew,
    /// 96x96 colour frames of frontal subjects in sequences, labelled only with the eight
    /// DISFA Action Units (DISFA-like).
    Disfa,
}

impl Domain {
    /// All presets.
    pub const ALL: [Domain; 5] = [
        Domain::Ferplus,
        Domain::Rafdb,
        Domain::Affectnet,
        Domain::Sfew,
        Domain::Disfa,
    ];

    /// Lowercase name (`"affectnet"`).
    pub fn name(self) -> &'static str {
        match self {
            Domain::Ferplus => "ferplus",
            Domain::Rafdb => "rafdb",
            Domain::Affectnet => "affectnet",
            Domain::Sfew => "sfew",
            Domain::Disfa => "disfa",
        }
    }

    /// Returns the preset's full configuration.
    pub fn config(self) -> DomainConfig {
        match self {
            Domain::Ferplus => DomainConfig {
                width: 48,
                height: 48,
                grayscale: true,
                face_scale: Range::new(0.62, 0.72),
                center_jitter: 0.04,
                max_roll_degrees: 8.0,
                max_yaw_degrees: 12.0,
                max_clutter_shapes: 3,
                blur_sigma: Range::new(0.0, 0.5),
                noise_sigma: Range::new(2.0, 6.0),
                brightness: Range::new(0.8, 1.15),
                max_light_gradient: 0.25,
                expression_intensity: Range::new(0.35, 1.0),
                label_noise_rate: 0.08,
                occlusion_rate: 0.05,
                emotion_weights: EmotionWeights::from_array([
                    3.6, 2.6, 1.2, 1.2, 0.5, 0.3, 0.9, 0.3,
                ]),
                labels: LabelKind::Emotion,
                frames_per_subject: 1,
            },
            Domain::Rafdb => DomainConfig {
                width: 100,
                height: 100,
                grayscale: false,
                face_scale: Range::new(0.58, 0.62),
                center_jitter: 0.01,
                max_roll_degrees: 2.0,
                max_yaw_degrees: 8.0,
                max_clutter_shapes: 2,
                blur_sigma: Range::new(0.0, 0.3),
                noise_sigma: Range::new(0.0, 2.0),
                brightness: Range::new(0.9, 1.1),
                max_light_gradient: 0.1,
                expression_intensity: Range::new(0.4, 1.0),
                label_noise_rate: 0.05,
                occlusion_rate: 0.03,
                emotion_weights: EmotionWeights::uniform(),
                labels: LabelKind::Emotion,
                frames_per_subject: 1,
            },
            Domain::Affectnet => DomainConfig {
                width: 128,
                height: 128,
                grayscale: false,
                face_scale: Range::new(0.34, 0.6),
                center_jitter: 0.15,
                max_roll_degrees: 15.0,
                max_yaw_degrees: 25.0,
                max_clutter_shapes: 10,
                blur_sigma: Range::new(0.0, 1.0),
                noise_sigma: Range::new(0.0, 6.0),
                brightness: Range::new(0.65, 1.25),
                max_light_gradient: 0.45,
                expression_intensity: Range::new(0.25, 1.0),
                label_noise_rate: 0.12,
                occlusion_rate: 0.12,
                // Proportional to the AffectNet manually annotated training counts
                // (neutral 75k, happy 134k, sad 25k, surprise 14k, fear 6.4k, disgust
                // 3.8k, anger 25k, contempt 3.8k, in thousands).
                emotion_weights: EmotionWeights::from_array([
                    75.0, 134.0, 25.0, 14.0, 6.4, 3.8, 25.0, 3.8,
                ]),
                labels: LabelKind::Emotion,
                frames_per_subject: 1,
            },
            Domain::Sfew => DomainConfig {
                width: 96,
                height: 96,
                grayscale: false,
                face_scale: Range::new(0.45, 0.65),
                center_jitter: 0.08,
                max_roll_degrees: 12.0,
                max_yaw_degrees: 25.0,
                max_clutter_shapes: 8,
                blur_sigma: Range::new(0.8, 2.0),
                noise_sigma: Range::new(10.0, 24.0),
                brightness: Range::new(0.45, 1.0),
                max_light_gradient: 0.6,
                expression_intensity: Range::new(0.3, 1.0),
                label_noise_rate: 0.15,
                occlusion_rate: 0.3,
                emotion_weights: EmotionWeights::from_array([
                    1.2, 1.3, 1.0, 0.8, 0.7, 0.5, 1.1, 0.4,
                ]),
                labels: LabelKind::Emotion,
                frames_per_subject: 1,
            },
            Domain::Disfa => DomainConfig {
                width: 96,
                height: 96,
                grayscale: false,
                face_scale: Range::new(0.55, 0.6),
                center_jitter: 0.02,
                max_roll_degrees: 4.0,
                max_yaw_degrees: 6.0,
                max_clutter_shapes: 0,
                blur_sigma: Range::new(0.3, 0.7),
                noise_sigma: Range::new(1.0, 4.0),
                brightness: Range::new(0.85, 1.05),
                max_light_gradient: 0.15,
                expression_intensity: Range::new(1.0, 1.0),
                label_noise_rate: 0.0,
                occlusion_rate: 0.0,
                emotion_weights: EmotionWeights::uniform(),
                labels: LabelKind::ActionUnits,
                frames_per_subject: 64,
            },
        }
    }
}

/// An inclusive range `min..=max` sampled uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: f32,
    pub max: f32,
}

impl Range {
    pub const fn new(min: f32, max: f32) -> Self {
        Self { min, max }
    }
}

/// Label set of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// Emotion class from an EMFACS prototype, with its Action Units.
    Emotion,
    /// Only the eight DISFA Action Units, varying smoothly over frames; no emotion.
    ActionUnits,
}

/// Everything that decides how a domain's images look and are labelled. There are no
/// field defaults of its own: start from a preset (`Domain::Affectnet.config()`) and
/// override fields, for example with [`DomainConfig::with_overrides`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Image width in pixels, 16 to 1024.
    pub width: u32,
    /// Image height in pixels, 16 to 1024.
    pub height: u32,
    /// Whether images have one grayscale channel instead of three RGB channels.
    pub grayscale: bool,
    /// Face width (cheek to cheek) as a fraction of the image width, within
    /// `0.15..=0.75`; the whole face always stays inside the image.
    pub face_scale: Range,
    /// Maximum random shift of the face centre from the image centre, as a fraction of
    /// the image size, in `0.0..=0.4`. A shift is reduced where the face would otherwise
    /// leave the image.
    pub center_jitter: f32,
    /// Maximum in-plane head rotation in degrees, in `0..=30`.
    pub max_roll_degrees: f32,
    /// Maximum out-of-plane head turn in degrees, in `0..=35`.
    pub max_yaw_degrees: f32,
    /// Maximum number of random shapes drawn on the background, at most 64.
    pub max_clutter_shapes: u32,
    /// Standard deviation of the Gaussian blur in pixels, within `0.0..=8.0`; 0 disables it.
    pub blur_sigma: Range,
    /// Standard deviation of additive Gaussian pixel noise in 8-bit levels, within
    /// `0.0..=64.0`.
    pub noise_sigma: Range,
    /// Global brightness multiplier, within `0.1..=2.0`; 1.0 keeps the drawn colours.
    pub brightness: Range,
    /// Maximum strength of a linear light gradient across the image, in `0.0..=1.0`: the
    /// brightness changes by up to this fraction from the image centre to its edge.
    pub max_light_gradient: f32,
    /// Multiplier on prototype Action Unit intensities, within `0.0..=1.0`; low values
    /// give subtle expressions. Ignored for `labels: action_units`.
    pub expression_intensity: Range,
    /// Probability in `0.0..=1.0` that a sample's emotion label is replaced by a different
    /// class drawn uniformly. Ignored for `labels: action_units`.
    pub label_noise_rate: f32,
    /// Probability in `0.0..=1.0` that one face region is hidden by an occluder or by
    /// local heavy noise, so that zooming into it shows nothing useful.
    pub occlusion_rate: f32,
    /// Relative frequency of each emotion class; ignored for `labels: action_units`.
    pub emotion_weights: EmotionWeights,
    /// Label set of the samples.
    pub labels: LabelKind,
    /// Number of consecutive indices that show the same subject, at least 1. Used only
    /// with `labels: action_units`, where the Action Units vary smoothly from frame to
    /// frame as in a video.
    pub frames_per_subject: u32,
}

impl DomainConfig {
    /// Returns a validated copy with the fields named in `overrides` (a JSON object)
    /// replaced. Nested objects such as `noise_sigma` are merged key by key.
    ///
    /// # Errors
    /// [`FacegenError::InvalidConfig`] for an unknown field, a value of the wrong type, or
    /// a value outside its range.
    pub fn with_overrides(&self, overrides: &serde_json::Value) -> Result<DomainConfig> {
        let mut merged = serde_json::to_value(self).expect("DomainConfig serializes to JSON");
        merge(&mut merged, overrides);
        let config: DomainConfig = serde_json::from_value(merged).map_err(|e| {
            invalid(
                "overrides",
                overrides,
                &format!("{e}; see the `DomainConfig` fields"),
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field against its documented range.
    ///
    /// # Errors
    /// [`FacegenError::InvalidConfig`] naming the first invalid field.
    pub fn validate(&self) -> Result<()> {
        check_u32("width", self.width, 16, 1024)?;
        check_u32("height", self.height, 16, 1024)?;
        check_range("face_scale", self.face_scale, 0.15, 0.75)?;
        check_f32("center_jitter", self.center_jitter, 0.0, 0.4)?;
        check_f32("max_roll_degrees", self.max_roll_degrees, 0.0, 30.0)?;
        check_f32("max_yaw_degrees", self.max_yaw_degrees, 0.0, 35.0)?;
        check_u32("max_clutter_shapes", self.max_clutter_shapes, 0, 64)?;
        check_range("blur_sigma", self.blur_sigma, 0.0, 8.0)?;
        check_range("noise_sigma", self.noise_sigma, 0.0, 64.0)?;
        check_range("brightness", self.brightness, 0.1, 2.0)?;
        check_f32("max_light_gradient", self.max_light_gradient, 0.0, 1.0)?;
        check_range("expression_intensity", self.expression_intensity, 0.0, 1.0)?;
        check_f32("label_noise_rate", self.label_noise_rate, 0.0, 1.0)?;
        check_f32("occlusion_rate", self.occlusion_rate, 0.0, 1.0)?;
        check_u32("frames_per_subject", self.frames_per_subject, 1, u32::MAX)?;

        let weights = self.emotion_weights.to_array();
        if self.labels == LabelKind::Emotion {
            if let Some(w) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
                return Err(invalid(
                    "emotion_weights",
                    w,
                    "every weight must be a finite number >= 0",
                ));
            }
            if weights.iter().sum::<f32>() <= 0.0 {
                return Err(invalid(
                    "emotion_weights",
                    format!("{weights:?}"),
                    "at least one weight must be above 0",
                ));
            }
        }
        Ok(())
    }
}

/// Merges `patch` into `base`: objects key by key, anything else replaced.
fn merge(base: &mut serde_json::Value, patch: &serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                merge(
                    base.entry(key.clone()).or_insert(serde_json::Value::Null),
                    value,
                );
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

fn invalid(field: &'static str, value: impl std::fmt::Display, reason: &str) -> FacegenError {
    FacegenError::InvalidConfig {
        field,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn check_u32(field: &'static str, value: u32, min: u32, max: u32) -> Result<()> {
    if value < min || value > max {
        return Err(invalid(field, value, &format!("expected {min} to {max}")));
    }
    Ok(())
}

fn check_f32(field: &'static str, value: f32, min: f32, max: f32) -> Result<()> {
    if !(value >= min && value <= max) {
        return Err(invalid(field, value, &format!("expected {min} to {max}")));
    }
    Ok(())
}

fn check_range(field: &'static str, range: Range, min: f32, max: f32) -> Result<()> {
    let shown = format!("{}..={}", range.min, range.max);
    if !(range.min >= min && range.max <= max) {
        return Err(invalid(
            field,
            shown,
            &format!("expected bounds within {min} to {max}"),
        ));
    }
    if range.min > range.max {
        return Err(invalid(field, shown, "expected `min` <= `max`"));
    }
    Ok(())
}
