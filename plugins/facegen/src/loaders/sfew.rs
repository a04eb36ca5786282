//! SFEW 2.0 (Static Facial Expressions in the Wild).
//!
//! Layout: one folder per split (`Train/`, `Val/`) holding one folder per emotion
//! (`Angry`, `Disgust`, `Fear`, `Happy`, `Neutral`, `Sad`, `Surprise`) of image files.

use std::path::Path;

use super::{require, DatasetSplit, LabeledImage};
use crate::emotion::Emotion;
use crate::error::{FacegenError, Result};

const DATASET: &str = "SFEW 2.0";
/// Expected files and folders, as printed in the error for a missing path.
pub const LAYOUT: &str = "SPLIT_DIR/<Emotion>/<image>.png|jpg, with emotion folders Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise";
const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// Loads every image in the emotion folders of `split_dir` (for example `SFEW/Train`),
/// labelled with `split`. Folder names are matched case-insensitively, adjective or noun
/// (`Happy` or `Happiness`); other folders are skipped with a warning. Images are
/// sorted by path.
///
/// # Errors
/// [`FacegenError::MissingDataset`] when `split_dir` is missing or has no emotion folder.
pub fn load_sfew(split_dir: &Path, split: DatasetSplit) -> Result<Vec<LabeledImage>> {
    let split_dir = require(DATASET, split_dir.to_path_buf(), LAYOUT)?;
    let mut folders: Vec<_> = std::fs::read_dir(&split_dir)
        .map_err(|e| FacegenError::io("read folder", &split_dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();

    let mut records = Vec::new();
    let mut emotion_folders = 0;
    for folder in folders {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(emotion) = Emotion::parse_name(&name) else {
            tracing::warn!(folder = %folder.display(), "skipping SFEW folder that names no emotion");
            continue;
        };
        emotion_folders += 1;
        let mut images: Vec<_> = std::fs::read_dir(&folder)
            .map_err(|e| FacegenError::io("read folder", &folder, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .map(|e| {
                        IMAGE_EXTENSIONS
                            .contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
                    })
                    .unwrap_or(false)
            })
            .collect();
        images.sort();
        for path in images {
            let mut record = LabeledImage::new(path, split);
            record.emotion = Some(emotion);
            records.push(record);
        }
    }
    if emotion_folders == 0 {
        return Err(FacegenError::MissingDataset {
            dataset: DATASET,
            path: split_dir,
            expected_layout: LAYOUT,
        });
    }
    tracing::info!(count = records.len(), "loaded SFEW 2.0");
    Ok(records)
}
