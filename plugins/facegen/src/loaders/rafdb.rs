//! RAF-DB basic emotion subset.
//!
//! Layout: `EmoLabel/list_patition_label.txt` (the release's spelling) with lines
//! `train_00001.jpg 5`, and aligned faces in `Image/aligned/train_00001_aligned.jpg`.
//! Labels 1 to 7 are surprise, fear, disgust, happiness, sadness, anger, neutral; the
//! file name prefix gives the split.

use std::path::Path;

use super::{invalid, read_text, require, DatasetSplit, LabeledImage};
use crate::emotion::Emotion;
use crate::error::Result;

const DATASET: &str = "RAF-DB";
/// Expected files and folders, as printed in the error for a missing path.
pub const LAYOUT: &str =
    "ROOT/EmoLabel/list_patition_label.txt and ROOT/Image/aligned/<name>_aligned.jpg";

/// RAF-DB basic label (1 to 7) as an emotion.
pub fn rafdb_emotion(label: u8) -> Option<Emotion> {
    let emotion = match label {
        1 => Emotion::Surprise,
        2 => Emotion::Fear,
        3 => Emotion::Disgust,
        4 => Emotion::Happiness,
        5 => Emotion::Sadness,
        6 => Emotion::Anger,
        7 => Emotion::Neutral,
        _ => return None,
    };
    Some(emotion)
}

/// Loads every labelled image of RAF-DB basic under `root`.
///
/// # Errors
/// [`crate::FacegenError::MissingDataset`] when the label file or image folder is missing,
/// [`crate::FacegenError::InvalidLabels`] for a malformed line.
pub fn load_rafdb(root: &Path) -> Result<Vec<LabeledImage>> {
    let labels = require(
        DATASET,
        root.join("EmoLabel/list_patition_label.txt"),
        LAYOUT,
    )?;
    let images = require(DATASET, root.join("Image/aligned"), LAYOUT)?;

    let text = read_text(&labels)?;
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(label)) = (fields.next(), fields.next()) else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(invalid(
                DATASET,
                &labels,
                i + 1,
                format!("expected `<image> <label>`, found `{line}`"),
            ));
        };
        let emotion = label
            .parse::<u8>()
            .ok()
            .and_then(rafdb_emotion)
            .ok_or_else(|| {
                invalid(
                    DATASET,
                    &labels,
                    i + 1,
                    format!("label `{label}` is not 1 to 7"),
                )
            })?;
        let split = if name.starts_with("train") {
            DatasetSplit::Train
        } else if name.starts_with("test") {
            DatasetSplit::Test
        } else {
            return Err(invalid(
                DATASET,
                &labels,
                i + 1,
                format!("image `{name}` starts with neither `train` nor `test`"),
            ));
        };
        let (stem, extension) = name.rsplit_once('.').unwrap_or((name, "jpg"));
        let mut record =
            LabeledImage::new(images.join(format!("{stem}_aligned.{extension}")), split);
        record.emotion = Some(emotion);
        records.push(record);
    }
    tracing::info!(count = records.len(), root = %root.display(), "loaded RAF-DB");
    Ok(records)
}
