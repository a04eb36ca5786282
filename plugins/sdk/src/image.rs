//! Owned 8-bit images as they cross between the engine, tools and plugins.

use serde::{Deserialize, Serialize};

/// An 8-bit image stored row by row, channels interleaved: `pixels` has the shape
/// `(height, width, channels)` and length `width * height * channels`.
///
/// `channels` is 1 (gray), 3 (RGB) or 4 (RGBA).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Width in pixels, at least 1.
    pub width: u32,
    /// Height in pixels, at least 1.
    pub height: u32,
    /// Samples per pixel: 1, 3 or 4.
    pub channels: u8,
    /// Samples in row-major `(height, width, channels)` order.
    pub pixels: Vec<u8>,
}

impl Image {
    /// Builds an image after checking that the sizes agree.
    ///
    /// # Errors
    /// Returns a message naming the bad value when `width` or `height` is 0, `channels`
    /// is not 1, 3 or 4, or `pixels.len() != width * height * channels`.
    pub fn new(width: u32, height: u32, channels: u8, pixels: Vec<u8>) -> Result<Self, String> {
        let image = Self {
            width,
            height,
            channels,
            pixels,
        };
        image.validate()?;
        Ok(image)
    }

    /// Checks the invariants that [`Image::new`] enforces, for images built field by field.
    ///
    /// # Errors
    /// Returns a message naming the bad value and the expected one.
    pub fn validate(&self) -> Result<(), String> {
        if self.width == 0 || self.height == 0 {
            return Err(format!(
                "image size {}x{} is empty; width and height must be at least 1",
                self.width, self.height
            ));
        }
        if !matches!(self.channels, 1 | 3 | 4) {
            return Err(format!(
                "image has {} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA)",
                self.channels
            ));
        }
        let expected = self.width as usize * self.height as usize * self.channels as usize;
        if self.pixels.len() != expected {
            return Err(format!(
                "image {}x{}x{} needs {expected} bytes of pixels, got {}",
                self.width,
                self.height,
                self.channels,
                self.pixels.len()
            ));
        }
        Ok(())
    }

    /// Returns the samples of pixel `(x, y)`, `channels` bytes long.
    ///
    /// # Panics
    /// Panics when `x >= width` or `y >= height`.
    pub fn pixel(&self, x: u32, y: u32) -> &[u8] {
        assert!(x < self.width && y < self.height, "pixel ({x}, {y}) is outside the image");
        let c = self.channels as usize;
        let start = (y as usize * self.width as usize + x as usize) * c;
        &self.pixels[start..start + c]
    }
}

// Pixels are omitted so that logs and test failures stay readable.
impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("channels", &self.channels)
            .field("pixels_len", &self.pixels.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_wrong_pixel_count() {
        let err = Image::new(2, 2, 3, vec![0; 11]).unwrap_err();
        assert!(err.contains("needs 12 bytes"), "{err}");
    }

    #[test]
    fn new_rejects_two_channels() {
        let err = Image::new(1, 1, 2, vec![0; 2]).unwrap_err();
        assert!(err.contains("2 channels"), "{err}");
    }

    #[test]
    fn new_rejects_empty_size() {
        assert!(Image::new(0, 3, 1, vec![]).is_err());
    }

    #[test]
    fn pixel_reads_row_major() {
        let image = Image::new(2, 2, 1, vec![1, 2, 3, 4]).unwrap();
        assert_eq!(image.pixel(1, 0), &[2]);
        assert_eq!(image.pixel(0, 1), &[3]);
    }
}
