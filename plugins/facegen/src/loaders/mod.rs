//! Loaders for the published layouts of real facial expression datasets. Each returns
//! [`LabeledImage`] records (an image path and its labels) in the label file's order.
//!
//! The loaders check that the label files and image folders exist. They do not check
//! every listed image, because real releases miss a few files: call [`missing_images`]
//! for that.

pub mod affectnet;
pub mod disfa;
pub mod ferplus;
pub mod rafdb;
pub mod sfew;

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action_unit::AuIntensity;
use crate::emotion::Emotion;
use crate::error::{FacegenError, Result};
use crate::sample::{FaceImage, PixelBox};

pub use affectnet::load_affectnet;
pub use disfa::{load_disfa, DisfaLayout};
pub use ferplus::{ferplus_majority, load_ferplus};
pub use rafdb::load_rafdb;
pub use sfew::load_sfew;

/// Dataset partition of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetSplit {
    Train,
    Validation,
    Test,
}

/// One labelled image of a real dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LabeledImage {
    /// Path of the image file.
    pub image_path: PathBuf,
    pub split: DatasetSplit,
    /// Emotion class; `None` for AU-only datasets.
    pub emotion: Option<Emotion>,
    /// Action Units present, with intensity in `0.0..=1.0`; empty where the dataset has no
    /// AU labels.
    pub action_units: Vec<AuIntensity>,
    /// Face box in pixels where the dataset provides one.
    pub face_box: Option<PixelBox>,
    /// Valence in `-1.0..=1.0` (AffectNet only).
    pub valence: Option<f32>,
    /// Arousal in `-1.0..=1.0` (AffectNet only).
    pub arousal: Option<f32>,
    /// Subject id for video datasets (`"SN001"`).
    pub subject: Option<String>,
    /// Frame number within the subject's video, as numbered in the label files.
    pub frame: Option<u64>,
}

impl LabeledImage {
    pub(crate) fn new(image_path: PathBuf, split: DatasetSplit) -> Self {
        Self {
            image_path,
            split,
            emotion: None,
            action_units: Vec::new(),
            face_box: None,
            valence: None,
            arousal: None,
            subject: None,
            frame: None,
        }
    }
}

/// Decodes a dataset image (PNG or JPEG, detected from its content, not its extension)
/// as 8-bit RGB, or grayscale when the file is grayscale.
///
/// # Errors
/// [`FacegenError::Io`] when the file cannot be read, [`FacegenError::Decode`] when it is
/// not a PNG or JPEG image.
pub fn read_face_image(path: &Path) -> Result<FaceImage> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| FacegenError::io("read", path, e))?
        .with_guessed_format()
        .map_err(|e| FacegenError::io("read", path, e))?;
    let decoded = reader.decode().map_err(|source| FacegenError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    let (width, height) = (decoded.width(), decoded.height());
    let face = if decoded.color().has_color() {
        FaceImage { width, height, channels: 3, pixels: decoded.into_rgb8().into_raw() }
    } else {
        FaceImage { width, height, channels: 1, pixels: decoded.into_luma8().into_raw() }
    };
    Ok(face)
}

/// Paths of `records` whose image file does not exist.
pub fn missing_images(records: &[LabeledImage]) -> Vec<PathBuf> {
    records
        .iter()
        .filter(|r| !r.image_path.is_file())
        .map(|r| r.image_path.clone())
        .collect()
}

/// `path` if it exists, else a [`FacegenError::MissingDataset`] naming the layout.
pub(crate) fn require(
    dataset: &'static str,
    path: PathBuf,
    expected_layout: &'static str,
) -> Result<PathBuf> {
    if path.exists() {
        Ok(path)
    } else {
        Err(FacegenError::MissingDataset {
            dataset,
            path,
            expected_layout,
        })
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| FacegenError::io("read", path, e))
}

pub(crate) fn invalid(
    dataset: &'static str,
    path: &Path,
    line: usize,
    message: impl Into<String>,
) -> FacegenError {
    FacegenError::InvalidLabels {
        dataset,
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}
