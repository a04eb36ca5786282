//! Image preprocessing as the Qwen2-VL/Qwen3-VL image processor does it: resize so both
//! sides are multiples of `patch_size * merge_size` within a pixel budget, rescale to
//! `[0, 1]`, normalise with the mean and standard deviation from `preprocessor_config.json`,
//! repeat the frame `temporal_patch_size` times and cut it into flattened patches.

use std::path::Path;

use anyhow::{bail, Context, Result};
use assay_train::Image;
use serde::Deserialize;

/// Settings from `preprocessor_config.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ImageProcessorConfig {
    /// Side of a square patch in pixels (16 for Qwen3-VL).
    pub patch_size: usize,
    /// Frames per temporal patch; a still image is repeated this many times. Default 2.
    #[serde(default = "default_temporal")]
    pub temporal_patch_size: usize,
    /// Side of the patch block merged into one language token. Default 2.
    #[serde(default = "default_merge", alias = "spatial_merge_size")]
    pub merge_size: usize,
    /// Per-channel RGB mean of the normalisation, on the `[0, 1]` scale.
    pub image_mean: [f32; 3],
    /// Per-channel RGB standard deviation of the normalisation.
    pub image_std: [f32; 3],
    /// Smallest resized area in pixels.
    #[serde(default)]
    pub min_pixels: Option<usize>,
    /// Largest resized area in pixels.
    #[serde(default)]
    pub max_pixels: Option<usize>,
    /// Newer layout of the area limits: `shortest_edge` is the minimum area and
    /// `longest_edge` the maximum (these are areas despite the names).
    #[serde(default)]
    pub size: Option<AreaLimits>,
}

/// The `size` field of newer processor configs.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct AreaLimits {
    pub shortest_edge: usize,
    pub longest_edge: usize,
}

fn default_temporal() -> usize {
    2
}
fn default_merge() -> usize {
    2
}

/// A preprocessed image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePatches {
    /// Row-major `(patches, channels * temporal_patch_size * patch_size^2)` values.
    pub values: Vec<f32>,
    /// `[t, h, w]` in patches.
    pub grid: [usize; 3],
    /// Values per patch.
    pub patch_width: usize,
}

impl ImagePatches {
    /// Number of language tokens the image occupies after merging.
    pub fn token_count(&self, merge_size: usize) -> usize {
        self.grid[0] * self.grid[1] * self.grid[2] / (merge_size * merge_size)
    }
}

impl ImageProcessorConfig {
    /// Reads `preprocessor_config.json`.
    ///
    /// # Errors
    /// When the file is missing or lacks `patch_size`, `image_mean` or `image_std`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read image processor config {}", path.display()))?;
        let config: Self = serde_json::from_str(&text)
            .with_context(|| format!("invalid image processor config {}", path.display()))?;
        if config.patch_size == 0 || config.merge_size == 0 || config.temporal_patch_size == 0 {
            bail!("`patch_size`, `merge_size` and `temporal_patch_size` must be positive in {}", path.display());
        }
        Ok(config)
    }

    /// `(min_pixels, max_pixels)`, with the Qwen2-VL defaults of `56 * 56` and
    /// `28 * 28 * 1280` when the config gives neither layout.
    pub fn area_limits(&self) -> (usize, usize) {
        let (default_min, default_max) = (56 * 56, 28 * 28 * 1280);
        match self.size {
            Some(size) => (size.shortest_edge, size.longest_edge),
            None => (self.min_pixels.unwrap_or(default_min), self.max_pixels.unwrap_or(default_max)),
        }
    }

    /// Returns the resized `(height, width)`: each side rounded to a multiple of
    /// `factor = patch_size * merge_size`, then scaled by a common factor into the area
    /// limits, keeping the aspect ratio as closely as the rounding allows.
    ///
    /// # Errors
    /// When a side is shorter than `factor` or the aspect ratio exceeds 200.
    pub fn smart_resize(&self, height: usize, width: usize) -> Result<(usize, usize)> {
        let factor = self.patch_size * self.merge_size;
        let (min_pixels, max_pixels) = self.area_limits();
        if height < factor || width < factor {
            bail!("image of {height}x{width} is smaller than the {factor}x{factor} minimum: upscale it first");
        }
        if height.max(width) as f64 / height.min(width) as f64 > 200.0 {
            bail!("image of {height}x{width} has an aspect ratio above 200: crop it first");
        }
        let (h, w) = (height as f64, width as f64);
        let f = factor as f64;
        // Round half to even like Python's `round`, so the sizes match the reference exactly.
        let mut h_bar = ((h / f).round_ties_even() * f).max(f);
        let mut w_bar = ((w / f).round_ties_even() * f).max(f);
        if h_bar * w_bar > max_pixels as f64 {
            let beta = (h * w / max_pixels as f64).sqrt();
            h_bar = ((h / beta / f).floor() * f).max(f);
            w_bar = ((w / beta / f).floor() * f).max(f);
        } else if h_bar * w_bar < min_pixels as f64 {
            let beta = (min_pixels as f64 / (h * w)).sqrt();
            h_bar = (h * beta / f).ceil() * f;
            w_bar = (w * beta / f).ceil() * f;
        }
        Ok((h_bar as usize, w_bar as usize))
    }

    /// Resizes, normalises and patchifies `image`.
    ///
    /// Patches are emitted frame by frame, then by `merge x merge` block in row-major
    /// order, then by patch inside the block; each patch is flattened as
    /// `(channel, frame, row, col)`, the layout the vision tower's 3-D convolution expects.
    ///
    /// # Errors
    /// See [`ImageProcessorConfig::smart_resize`].
    pub fn preprocess(&self, image: &Image) -> Result<ImagePatches> {
        let (height, width) = self.smart_resize(image.height, image.width)?;
        // NOTE: bilinear resampling; the Transformers processor uses bicubic, so resized
        // pixels can differ slightly when the size changes.
        let resized = image.resized(height, width);
        let (p, m, frames) = (self.patch_size, self.merge_size, self.temporal_patch_size);
        let (grid_h, grid_w) = (height / p, width / p);
        let patch_width = 3 * frames * p * p;
        let mut values = Vec::with_capacity(grid_h * grid_w * patch_width);
        for block_row in 0..grid_h / m {
            for block_col in 0..grid_w / m {
                for inner_row in 0..m {
                    for inner_col in 0..m {
                        let top = (block_row * m + inner_row) * p;
                        let left = (block_col * m + inner_col) * p;
                        for c in 0..3 {
                            // Every frame of a still image is the same picture.
                            for _ in 0..frames {
                                for y in 0..p {
                                    for x in 0..p {
                                        let value = resized.at(c, top + y, left + x);
                                        values.push((value - self.image_mean[c]) / self.image_std[c]);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(ImagePatches { values, grid: [1, grid_h, grid_w], patch_width })
    }
}
