//! AffectNet manually annotated subset.
//!
//! Layout: `Manually_Annotated_file_lists/training.csv` and `validation.csv` (or both at
//! the root), with columns `subDirectory_filePath, face_x, face_y, face_width,
//! face_height, facial_landmarks, expression, valence, arousal`; images under
//! `Manually_Annotated_Images/` (or the root). Expression ids 0 to 7 are neutral, happy,
//! sad, surprise, fear, disgust, anger, contempt, the same order as [`Emotion`]; ids 8
//! to 10 (none, uncertain, no face) are skipped.

use std::path::Path;

use super::{invalid, require, DatasetSplit, LabeledImage};
use crate::emotion::Emotion;
use crate::error::{FacegenError, Result};
use crate::sample::PixelBox;

const DATASET: &str = "AffectNet";
/// Expected files and folders, as printed in the error for a missing path.
pub const LAYOUT: &str = "ROOT/Manually_Annotated_file_lists/{training,validation}.csv (or ROOT/*.csv) and images under ROOT/Manually_Annotated_Images/";

/// Loads the training (`DatasetSplit::Train`) or validation split of AffectNet under
/// `root`. AffectNet's validation set serves as its test set in the literature.
///
/// # Errors
/// [`FacegenError::MissingDataset`] when the CSV is missing or `split` is
/// `DatasetSplit::Test` (AffectNet publishes no labelled test set),
/// [`FacegenError::InvalidLabels`] for a missing column or malformed row.
pub fn load_affectnet(root: &Path, split: DatasetSplit) -> Result<Vec<LabeledImage>> {
    let file = match split {
        DatasetSplit::Train => "training.csv",
        DatasetSplit::Validation => "validation.csv",
        DatasetSplit::Test => {
            return Err(FacegenError::MissingDataset {
                dataset: DATASET,
                path: root.to_path_buf(),
                expected_layout: "no labelled test split: load `validation` instead",
            })
        }
    };
    let listed = root.join("Manually_Annotated_file_lists").join(file);
    let csv_path = if listed.is_file() {
        listed
    } else {
        require(DATASET, root.join(file), LAYOUT)?
    };
    let annotated = root.join("Manually_Annotated_Images");
    let image_root = if annotated.is_dir() {
        annotated
    } else {
        root.to_path_buf()
    };

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
    let path_col = column("subDirectory_filePath")?;
    let box_cols = [
        column("face_x")?,
        column("face_y")?,
        column("face_width")?,
        column("face_height")?,
    ];
    let expression_col = column("expression")?;
    let valence_col = column("valence")?;
    let arousal_col = column("arousal")?;

    let mut records = Vec::new();
    let mut skipped = 0usize;
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| invalid(DATASET, &csv_path, line, e.to_string()))?;
        let field = |c: usize| row.get(c).unwrap_or("");
        let number = |c: usize| {
            let value = field(c).parse::<f32>().ok().filter(|v| v.is_finite());
            value.ok_or_else(|| {
                invalid(
                    DATASET,
                    &csv_path,
                    line,
                    format!(
                        "`{}` in column {} is not a finite number",
                        field(c),
                        headers.get(c).unwrap_or("?")
                    ),
                )
            })
        };
        let expression = number(expression_col)? as i64;
        let Some(emotion) = usize::try_from(expression)
            .ok()
            .and_then(Emotion::from_index)
        else {
            if (8..=10).contains(&expression) {
                skipped += 1;
                continue;
            }
            return Err(invalid(
                DATASET,
                &csv_path,
                line,
                format!("expression {expression} is not 0 to 10"),
            ));
        };
        let [x, y, w, h] = [
            number(box_cols[0])?,
            number(box_cols[1])?,
            number(box_cols[2])?,
            number(box_cols[3])?,
        ];
        let mut record = LabeledImage::new(image_root.join(field(path_col)), split);
        record.emotion = Some(emotion);
        record.face_box = Some(PixelBox {
            x_min: x,
            y_min: y,
            x_max: x + w,
            y_max: y + h,
        });
        // Valence and arousal are -2 when not annotated.
        let affect = |v: f32| (-1.0..=1.0).contains(&v).then_some(v);
        record.valence = affect(number(valence_col)?);
        record.arousal = affect(number(arousal_col)?);
        records.push(record);
    }
    tracing::info!(count = records.len(), skipped, csv = %csv_path.display(), "loaded AffectNet (skipped none/uncertain/no-face)");
    Ok(records)
}
