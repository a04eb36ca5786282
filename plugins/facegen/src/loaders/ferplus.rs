//! FERPlus: FER2013 images relabelled by ten annotators each.
//!
//! Layout: `fer2013new.csv` with columns `Usage, Image name, neutral, happiness,
//! surprise, sadness, anger, disgust, fear, contempt, unknown, NF`, and the images in
//! `FER2013Train/`, `FER2013Valid/`, `FER2013Test/` for the usages `Training`,
//! `PublicTest`, `PrivateTest`. Rows with an empty image name have no image and are
//! skipped.

use std::path::Path;

use super::{invalid, require, DatasetSplit, LabeledImage};
use crate::emotion::Emotion;
use crate::error::Result;

const DATASET: &str = "FERPlus";
/// Expected files and folders, as printed in the error for a missing path.
pub const LAYOUT: &str =
    "ROOT/fer2013new.csv and images in ROOT/FER2013Train/, ROOT/FER2013Valid/, ROOT/FER2013Test/";

/// Vote columns in file order; the last two are `unknown` and `NF` (not a face).
const VOTE_COLUMNS: [&str; 10] = [
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
];

/// Computes the majority label from the ten vote counts in file order (`neutral` ...
/// `contempt`, `unknown`, `NF`), as the majority mode of the FERPlus authors' reference
/// reader does (microsoft/FERPlus `src/ferplus.py`). A count of one vote is dropped as an
/// outlier. The top class must then have more than half of the remaining votes, unknown
/// and NF included. Images whose top class is unknown or NF are excluded (`None`).
pub fn ferplus_majority(votes: [f32; 10]) -> Option<Emotion> {
    let votes = votes.map(|v| if v <= 1.0 { 0.0 } else { v });
    let total: f32 = votes.iter().sum();
    let (top, &max) = votes
        .iter()
        .enumerate()
        .fold((0, &f32::NEG_INFINITY), |best, (i, v)| {
            if *v > *best.1 {
                (i, v)
            } else {
                best
            }
        });
    // Votes are finite counts, so `max <= 0.5 * total` is the negation of a majority.
    if max <= 0.5 * total || top >= 8 {
        return None;
    }
    let emotion = match top {
        0 => Emotion::Neutral,
        1 => Emotion::Happiness,
        2 => Emotion::Surprise,
        3 => Emotion::Sadness,
        4 => Emotion::Anger,
        5 => Emotion::Disgust,
        6 => Emotion::Fear,
        _ => Emotion::Contempt,
    };
    Some(emotion)
}

/// Loads every FERPlus image under `root` whose votes give a majority emotion.
///
/// # Errors
/// [`crate::FacegenError::MissingDataset`] when `fer2013new.csv` is missing,
/// [`crate::FacegenError::InvalidLabels`] for a missing column or malformed row.
pub fn load_ferplus(root: &Path) -> Result<Vec<LabeledImage>> {
    let csv_path = require(DATASET, root.join("fer2013new.csv"), LAYOUT)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(&csv_path)
        .map_err(|e| invalid(DATASET, &csv_path, 1, e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| invalid(DATASET, &csv_path, 1, e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| invalid(DATASET, &csv_path, 1, format!("missing column `{name}`")))
    };
    let usage_col = column("Usage")?;
    let name_col = column("Image name")?;
    let vote_cols = VOTE_COLUMNS.map(column);
    let mut cols = [0usize; 10];
    for (slot, c) in cols.iter_mut().zip(vote_cols) {
        *slot = c?;
    }

    let mut records = Vec::new();
    let mut excluded = 0usize;
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| invalid(DATASET, &csv_path, line, e.to_string()))?;
        let name = row.get(name_col).unwrap_or("");
        if name.is_empty() {
            continue;
        }
        let (split, folder) = match row.get(usage_col).unwrap_or("") {
            "Training" => (DatasetSplit::Train, "FER2013Train"),
            "PublicTest" => (DatasetSplit::Validation, "FER2013Valid"),
            "PrivateTest" => (DatasetSplit::Test, "FER2013Test"),
            other => {
                return Err(invalid(
                    DATASET,
                    &csv_path,
                    line,
                    format!("usage `{other}` is not Training, PublicTest or PrivateTest"),
                ))
            }
        };
        let mut votes = [0.0f32; 10];
        for (v, c) in votes.iter_mut().zip(cols) {
            let text = row.get(c).unwrap_or("");
            let count = text
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0);
            *v = count.ok_or_else(|| {
                invalid(
                    DATASET,
                    &csv_path,
                    line,
                    format!(
                        "vote `{text}` in column {} is not a vote count",
                        headers.get(c).unwrap_or("?")
                    ),
                )
            })?;
        }
        let Some(emotion) = ferplus_majority(votes) else {
            excluded += 1;
            continue;
        };
        let mut record = LabeledImage::new(root.join(folder).join(name), split);
        record.emotion = Some(emotion);
        records.push(record);
    }
    tracing::info!(
        count = records.len(),
        excluded,
        "loaded FERPlus (excluded rows without a majority emotion)"
    );
    Ok(records)
}
