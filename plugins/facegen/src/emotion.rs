//! The eight emotion classes shared by FERPlus, AffectNet and the synthetic domains.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Basic emotion class. The order is the class index used in label files and reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Emotion {
    Neutral,
    Happiness,
    Sadness,
    Surprise,
    Fear,
    Disgust,
    Anger,
    Contempt,
}

impl Emotion {
    /// All classes in class-index order.
    pub const ALL: [Emotion; 8] = [
        Emotion::Neutral,
        Emotion::Happiness,
        Emotion::Sadness,
        Emotion::Surprise,
        Emotion::Fear,
        Emotion::Disgust,
        Emotion::Anger,
        Emotion::Contempt,
    ];

    /// Class index in `0..8`.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Class with index `index`, or `None` outside `0..8`.
    pub fn from_index(index: usize) -> Option<Emotion> {
        Self::ALL.get(index).copied()
    }

    /// Lowercase name as written in label files (`"happiness"`).
    pub fn name(self) -> &'static str {
        match self {
            Emotion::Neutral => "neutral",
            Emotion::Happiness => "happiness",
            Emotion::Sadness => "sadness",
            Emotion::Surprise => "surprise",
            Emotion::Fear => "fear",
            Emotion::Disgust => "disgust",
            Emotion::Anger => "anger",
            Emotion::Contempt => "contempt",
        }
    }

    /// Parses a class name, accepting the adjective and noun spellings that datasets use
    /// (`"happy"`, `"Happiness"`, `"angry"`, `"sad"`), case-insensitively.
    pub fn parse_name(name: &str) -> Option<Emotion> {
        let emotion = match name.trim().to_ascii_lowercase().as_str() {
            "neutral" => Emotion::Neutral,
            "happy" | "happiness" | "joy" => Emotion::Happiness,
            "sad" | "sadness" => Emotion::Sadness,
            "surprise" | "surprised" => Emotion::Surprise,
            "fear" | "fearful" | "afraid" => Emotion::Fear,
            "disgust" | "disgusted" => Emotion::Disgust,
            "anger" | "angry" => Emotion::Anger,
            "contempt" | "contemptuous" => Emotion::Contempt,
            _ => return None,
        };
        Some(emotion)
    }
}

impl std::fmt::Display for Emotion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Relative sampling weight of each emotion class. Weights are non-negative and need
/// not sum to one; a weight of 0 removes the class from a domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmotionWeights {
    pub neutral: f32,
    pub happiness: f32,
    pub sadness: f32,
    pub surprise: f32,
    pub fear: f32,
    pub disgust: f32,
    pub anger: f32,
    pub contempt: f32,
}

impl EmotionWeights {
    /// Equal weight for every class.
    pub fn uniform() -> Self {
        Self::from_array([1.0; 8])
    }

    /// Weights in class-index order.
    pub fn from_array(w: [f32; 8]) -> Self {
        Self {
            neutral: w[0],
            happiness: w[1],
            sadness: w[2],
            surprise: w[3],
            fear: w[4],
            disgust: w[5],
            anger: w[6],
            contempt: w[7],
        }
    }

    /// Weights in class-index order.
    pub fn to_array(&self) -> [f32; 8] {
        [
            self.neutral,
            self.happiness,
            self.sadness,
            self.surprise,
            self.fear,
            self.disgust,
            self.anger,
            self.contempt,
        ]
    }
}
