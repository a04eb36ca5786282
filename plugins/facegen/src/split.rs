//! Writing a rendered split to disk: one PNG per image under `images/` and one JSON line
//! per image in `labels.jsonl`. Every file is written atomically (temporary file, fsync,
//! rename), so a crash never leaves a truncated image or label file behind.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{FacegenError, Result};
use crate::sample::{FaceSample, FaceTruth};

/// Name of the label file inside a split folder.
pub const LABELS_FILE: &str = "labels.jsonl";
/// Name of the image folder inside a split folder.
pub const IMAGES_DIR: &str = "images";

/// One line of `labels.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LabelRecord {
    /// Image path relative to the split folder (`images/000007.png`).
    pub file: String,
    /// Index of the image in the split.
    pub index: u64,
    pub width: u32,
    pub height: u32,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: u8,
    #[serde(flatten)]
    pub truth: FaceTruth,
}

/// Encodes `sample`'s image as PNG bytes.
///
/// # Errors
/// [`FacegenError::Encode`] when the pixel buffer does not match its size.
pub fn encode_png(sample: &FaceSample) -> Result<Vec<u8>> {
    let image = &sample.image;
    let color = if image.channels == 1 {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    let mut bytes = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut bytes);
    image::ImageEncoder::write_image(encoder, &image.pixels, image.width, image.height, color)
        .map_err(|source| FacegenError::Encode {
            path: PathBuf::from(format!("image {}", sample.index)),
            source,
        })?;
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder is written,
/// synced and renamed over `path`, then the folder is synced.
///
/// # Errors
/// [`FacegenError::Io`] naming the file that failed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));

    let mut file =
        File::create(&temporary).map_err(|e| FacegenError::io("create", &temporary, e))?;
    file.write_all(bytes)
        .map_err(|e| FacegenError::io("write", &temporary, e))?;
    file.sync_all()
        .map_err(|e| FacegenError::io("sync", &temporary, e))?;
    drop(file);
    fs::rename(&temporary, path).map_err(|e| {
        let _ = fs::remove_file(&temporary);
        FacegenError::io("rename into place", path, e)
    })?;
    sync_dir(dir)
}

/// Makes a rename durable by syncing its folder. Windows cannot open folders as files,
/// so there the rename is only as durable as the file system makes it.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FacegenError::io("sync folder", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `samples` to `dir` as `images/NNNNNN.png` and `labels.jsonl` (written last, so
/// a present label file means every image it names is complete). Creates `dir` if needed
/// and returns the path of the label file.
///
/// # Errors
/// [`FacegenError::Io`] or [`FacegenError::Encode`] naming the file that failed.
pub fn write_split(dir: &Path, samples: &[FaceSample]) -> Result<PathBuf> {
    let images = dir.join(IMAGES_DIR);
    fs::create_dir_all(&images).map_err(|e| FacegenError::io("create folder", &images, e))?;

    let mut labels = String::new();
    for sample in samples {
        let file = format!("{IMAGES_DIR}/{:06}.png", sample.index);
        write_atomic(&dir.join(&file), &encode_png(sample)?)?;
        let record = LabelRecord {
            file,
            index: sample.index,
            width: sample.image.width,
            height: sample.image.height,
            channels: sample.image.channels,
            truth: sample.truth.clone(),
        };
        // These plain structs always serialize: serde_json writes non-finite floats as null.
        labels.push_str(&serde_json::to_string(&record).expect("label record serializes"));
        labels.push('\n');
    }

    let labels_path = dir.join(LABELS_FILE);
    write_atomic(&labels_path, labels.as_bytes())?;
    tracing::info!(dir = %dir.display(), count = samples.len(), "wrote face split");
    Ok(labels_path)
}

/// Reads the records of a split written by [`write_split`].
///
/// # Errors
/// [`FacegenError::MissingDataset`] when `dir` has no label file,
/// [`FacegenError::InvalidLabels`] for a line that does not parse.
pub fn read_split(dir: &Path) -> Result<Vec<LabelRecord>> {
    let path = dir.join(LABELS_FILE);
    if !path.is_file() {
        return Err(FacegenError::MissingDataset {
            dataset: "synthetic face split",
            path,
            expected_layout: "labels.jsonl and images/NNNNNN.png, as written by `write_split`",
        });
    }
    let text = fs::read_to_string(&path).map_err(|e| FacegenError::io("read", &path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| FacegenError::InvalidLabels {
                dataset: "synthetic face split",
                path: path.clone(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}
