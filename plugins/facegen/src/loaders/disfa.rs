//! DISFA AU intensity labels.
//!
//! Layout: `ActionUnit_Labels/SN001/SN001_au1.txt` (one file per subject and AU) with
//! lines `frame,intensity`, intensity 0 to 5. DISFA ships videos, not frames, so the
//! frame images' names come from a template (see [`DisfaLayout`]). An AU counts as
//! present when its intensity is at least 2, the usual DISFA detection protocol.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{invalid, read_text, require, DatasetSplit, LabeledImage};
use crate::action_unit::{ActionUnit, AuIntensity, Side};
use crate::error::{FacegenError, Result};

const DATASET: &str = "DISFA";
/// Expected files and folders, as printed in the error for a missing path.
pub const LAYOUT: &str = "LABELS_DIR/SNxxx/SNxxx_auN.txt with lines `frame,intensity` (0 to 5)";

/// Lowest DISFA intensity (0 to 5 scale) at which an AU counts as present.
pub const PRESENT_INTENSITY: f32 = 2.0;

/// Locations of the DISFA label files and of the frames extracted from its videos.
#[derive(Debug, Clone)]
pub struct DisfaLayout {
    /// The `ActionUnit_Labels` folder, holding one folder per subject.
    pub labels_dir: PathBuf,
    /// Folder of extracted frames.
    pub frames_dir: PathBuf,
    /// Frame path relative to `frames_dir`: `{subject}` becomes the subject id and
    /// `{frame}` the frame number, zero-padded to `frame_digits`. Default
    /// `{subject}/{frame}.png`.
    pub frame_template: String,
    /// Zero-padding width of `{frame}`; default 0 (no padding).
    pub frame_digits: usize,
}

impl DisfaLayout {
    /// Layout with the default template `{subject}/{frame}.png`.
    pub fn new(labels_dir: impl Into<PathBuf>, frames_dir: impl Into<PathBuf>) -> Self {
        Self {
            labels_dir: labels_dir.into(),
            frames_dir: frames_dir.into(),
            frame_template: "{subject}/{frame}.png".to_string(),
            frame_digits: 0,
        }
    }

    fn frame_path(&self, subject: &str, frame: u64) -> PathBuf {
        let frame = format!("{frame:0width$}", width = self.frame_digits);
        self.frames_dir.join(
            self.frame_template
                .replace("{subject}", subject)
                .replace("{frame}", &frame),
        )
    }
}

/// Parses `SN001_au12.txt` into its AU number.
fn au_number(file_name: &str, subject: &str) -> Option<u8> {
    let rest = file_name.strip_prefix(subject)?.strip_prefix("_au")?;
    rest.strip_suffix(".txt")?.parse().ok()
}

/// Loads one record per labelled frame of every subject, sorted by subject and frame.
/// Each record lists the AUs present (intensity at least 2) with intensity divided by 5.
/// All records are `DatasetSplit::Test`: DISFA is used for zero-shot evaluation.
///
/// # Errors
/// [`FacegenError::MissingDataset`] when `labels_dir` is missing or contains no `SNxxx`
/// folder, [`FacegenError::InvalidLabels`] for a malformed line.
pub fn load_disfa(layout: &DisfaLayout) -> Result<Vec<LabeledImage>> {
    let labels_dir = require(DATASET, layout.labels_dir.clone(), LAYOUT)?;
    let mut subjects: Vec<String> = std::fs::read_dir(&labels_dir)
        .map_err(|e| FacegenError::io("read folder", &labels_dir, e))?
        .filter_map(|entry| entry.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("SN"))
        .collect();
    subjects.sort();
    if subjects.is_empty() {
        return Err(FacegenError::MissingDataset {
            dataset: DATASET,
            path: labels_dir,
            expected_layout: LAYOUT,
        });
    }

    let mut records = Vec::new();
    for subject in &subjects {
        let folder = labels_dir.join(subject);
        // frame -> AU labels present in that frame
        let mut frames: BTreeMap<u64, Vec<AuIntensity>> = BTreeMap::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map_err(|e| FacegenError::io("read folder", &folder, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(number) = au_number(&name, subject) else {
                continue;
            };
            let Some(au) = ActionUnit::from_number(number) else {
                tracing::warn!(file = %file.display(), "skipping DISFA AU that the label set does not include");
                continue;
            };
            read_au_file(&file, au, &mut frames)?;
        }
        for (frame, mut aus) in frames {
            aus.sort_by_key(|a| a.au);
            let mut record =
                LabeledImage::new(layout.frame_path(subject, frame), DatasetSplit::Test);
            record.action_units = aus;
            record.subject = Some(subject.clone());
            record.frame = Some(frame);
            records.push(record);
        }
    }
    tracing::info!(
        count = records.len(),
        subjects = subjects.len(),
        "loaded DISFA"
    );
    Ok(records)
}

/// Adds the frames of one `SNxxx_auN.txt` file to `frames`; every listed frame gets an
/// entry, present AUs are pushed to it.
fn read_au_file(
    path: &Path,
    au: ActionUnit,
    frames: &mut BTreeMap<u64, Vec<AuIntensity>>,
) -> Result<()> {
    let text = read_text(path)?;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed = line.split_once(',').and_then(|(frame, intensity)| {
            Some((
                frame.trim().parse::<u64>().ok()?,
                intensity.trim().parse::<f32>().ok()?,
            ))
        });
        let Some((frame, intensity)) = parsed else {
            return Err(invalid(
                DATASET,
                path,
                i + 1,
                format!("expected `frame,intensity`, found `{line}`"),
            ));
        };
        if !(0.0..=5.0).contains(&intensity) {
            return Err(invalid(
                DATASET,
                path,
                i + 1,
                format!("intensity {intensity} is not 0 to 5"),
            ));
        }
        let entry = frames.entry(frame).or_default();
        if intensity >= PRESENT_INTENSITY {
            entry.push(AuIntensity {
                au,
                intensity: intensity / 5.0,
                side: Side::Both,
            });
        }
    }
    Ok(())
}
