//! FACS Action Units rendered by the generator, the face regions they act on, and their
//! labels.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A FACS Action Unit. Serialized as its FACS number (`12` for AU12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionUnit {
    /// AU1 inner brow raiser.
    Au1,
    /// AU2 outer brow raiser.
    Au2,
    /// AU4 brow lowerer.
    Au4,
    /// AU5 upper lid raiser.
    Au5,
    /// AU6 cheek raiser.
    Au6,
    /// AU7 lid tightener.
    Au7,
    /// AU9 nose wrinkler.
    Au9,
    /// AU12 lip corner puller.
    Au12,
    /// AU14 dimpler.
    Au14,
    /// AU15 lip corner depressor.
    Au15,
    /// AU17 chin raiser.
    Au17,
    /// AU20 lip stretcher.
    Au20,
    /// AU23 lip tightener.
    Au23,
    /// AU25 lips part.
    Au25,
    /// AU26 jaw drop.
    Au26,
}

impl ActionUnit {
    /// Every Action Unit the renderer draws, in FACS-number order.
    pub const ALL: [ActionUnit; 15] = [
        ActionUnit::Au1,
        ActionUnit::Au2,
        ActionUnit::Au4,
        ActionUnit::Au5,
        ActionUnit::Au6,
        ActionUnit::Au7,
        ActionUnit::Au9,
        ActionUnit::Au12,
        ActionUnit::Au14,
        ActionUnit::Au15,
        ActionUnit::Au17,
        ActionUnit::Au20,
        ActionUnit::Au23,
        ActionUnit::Au25,
        ActionUnit::Au26,
    ];

    /// The eight Action Units that DISFA annotates and that zero-shot AU detection is
    /// scored on.
    pub const DISFA: [ActionUnit; 8] = [
        ActionUnit::Au1,
        ActionUnit::Au2,
        ActionUnit::Au4,
        ActionUnit::Au6,
        ActionUnit::Au9,
        ActionUnit::Au12,
        ActionUnit::Au25,
        ActionUnit::Au26,
    ];

    /// FACS number (`12` for AU12).
    pub fn number(self) -> u8 {
        match self {
            ActionUnit::Au1 => 1,
            ActionUnit::Au2 => 2,
            ActionUnit::Au4 => 4,
            ActionUnit::Au5 => 5,
            ActionUnit::Au6 => 6,
            ActionUnit::Au7 => 7,
            ActionUnit::Au9 => 9,
            ActionUnit::Au12 => 12,
            ActionUnit::Au14 => 14,
            ActionUnit::Au15 => 15,
            ActionUnit::Au17 => 17,
            ActionUnit::Au20 => 20,
            ActionUnit::Au23 => 23,
            ActionUnit::Au25 => 25,
            ActionUnit::Au26 => 26,
        }
    }

    /// Action Unit with FACS number `number`, or `None` for one the renderer does not draw.
    pub fn from_number(number: u8) -> Option<ActionUnit> {
        Self::ALL.into_iter().find(|au| au.number() == number)
    }

    /// FACS name ("lip corner puller").
    pub fn facs_name(self) -> &'static str {
        match self {
            ActionUnit::Au1 => "inner brow raiser",
            ActionUnit::Au2 => "outer brow raiser",
            ActionUnit::Au4 => "brow lowerer",
            ActionUnit::Au5 => "upper lid raiser",
            ActionUnit::Au6 => "cheek raiser",
            ActionUnit::Au7 => "lid tightener",
            ActionUnit::Au9 => "nose wrinkler",
            ActionUnit::Au12 => "lip corner puller",
            ActionUnit::Au14 => "dimpler",
            ActionUnit::Au15 => "lip corner depressor",
            ActionUnit::Au17 => "chin raiser",
            ActionUnit::Au20 => "lip stretcher",
            ActionUnit::Au23 => "lip tightener",
            ActionUnit::Au25 => "lips part",
            ActionUnit::Au26 => "jaw drop",
        }
    }

    /// Returns the face region in which the renderer draws this Action Unit's changes.
    pub fn region(self) -> FaceRegion {
        match self {
            ActionUnit::Au1 | ActionUnit::Au2 | ActionUnit::Au4 => FaceRegion::ForeheadEyebrow,
            ActionUnit::Au5 | ActionUnit::Au6 | ActionUnit::Au7 => FaceRegion::EyePeriorbital,
            ActionUnit::Au9 => FaceRegion::Nose,
            _ => FaceRegion::MouthChin,
        }
    }
}

impl std::fmt::Display for ActionUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AU{}", self.number())
    }
}

impl Serialize for ActionUnit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.number())
    }
}

impl<'de> Deserialize<'de> for ActionUnit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = u8::deserialize(deserializer)?;
        ActionUnit::from_number(number).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unsupported action unit {number}: expected one of 1, 2, 4, 5, 6, 7, 9, 12, 14, 15, 17, 20, 23, 25, 26"
            ))
        })
    }
}

impl JsonSchema for ActionUnit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ActionUnit".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "FACS Action Unit number",
            "type": "integer",
            "enum": [1, 2, 4, 5, 6, 7, 9, 12, 14, 15, 17, 20, 23, 25, 26]
        })
    }
}

/// One of the four face regions that the zoom tool inspects.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FaceRegion {
    /// Forehead and eyebrows (AU1, AU2, AU4).
    ForeheadEyebrow,
    /// Eyes, lids and the skin around them down to the upper cheek (AU5, AU6, AU7).
    EyePeriorbital,
    /// Nose bridge, tip and nostrils (AU9).
    Nose,
    /// Lips, mouth corners and chin (AU12 to AU26).
    MouthChin,
}

impl FaceRegion {
    /// All regions, top to bottom.
    pub const ALL: [FaceRegion; 4] = [
        FaceRegion::ForeheadEyebrow,
        FaceRegion::EyePeriorbital,
        FaceRegion::Nose,
        FaceRegion::MouthChin,
    ];

    /// Snake-case name as written in label files.
    pub fn name(self) -> &'static str {
        match self {
            FaceRegion::ForeheadEyebrow => "forehead_eyebrow",
            FaceRegion::EyePeriorbital => "eye_periorbital",
            FaceRegion::Nose => "nose",
            FaceRegion::MouthChin => "mouth_chin",
        }
    }
}

/// Side of the face on which an Action Unit acts, as seen in the image (not from the
/// subject's point of view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Both sides (bilateral).
    #[default]
    Both,
    /// Only the half of the face on the image's left.
    ImageLeft,
    /// Only the half of the face on the image's right.
    ImageRight,
}

/// An active Action Unit and its intensity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuIntensity {
    /// The Action Unit.
    pub au: ActionUnit,
    /// Intensity in `0.0..=1.0`: 0.2 is a trace (FACS A), 1.0 the maximum (FACS E).
    pub intensity: f32,
    /// Side it acts on; `both` unless unilateral.
    #[serde(default)]
    pub side: Side,
}
