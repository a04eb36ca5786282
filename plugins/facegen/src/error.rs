//! Errors returned by the renderer, the split writer and the dataset loaders.

use std::path::PathBuf;

/// Errors of this crate. Messages name the value that failed and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum FacegenError {
    /// A domain configuration field is outside its valid range.
    #[error("invalid domain config: `{field}` is {value}, {reason}")]
    InvalidConfig {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// A dataset folder or file does not exist where the published layout puts it.
    #[error("{dataset} not found at {}: expected layout: {expected_layout}", path.display())]
    MissingDataset {
        dataset: &'static str,
        path: PathBuf,
        expected_layout: &'static str,
    },
    /// A label file could not be parsed.
    #[error("{dataset}: invalid label file {} at line {line}: {message}", path.display())]
    InvalidLabels {
        dataset: &'static str,
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A dataset image could not be decoded.
    #[error("failed to decode image {}: {source}; expected a PNG or JPEG file", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    /// Encoding an image as PNG failed.
    #[error("failed to encode {} as PNG: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
}

impl FacegenError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, FacegenError>;
