//! RGB images as the policy and the tools exchange them.

use anyhow::{bail, Result};

/// An RGB image with channel values in `[0, 1]`, stored channel-first: `(3, height, width)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Height in pixels, at least 1.
    pub height: usize,
    /// Width in pixels, at least 1.
    pub width: usize,
    /// `3 * height * width` values in channel-first order (all red, then green, then blue).
    pub pixels: Vec<f32>,
}

impl Image {
    /// Builds an image from channel-first pixels.
    ///
    /// # Errors
    /// Fails when a side is 0 or `pixels.len() != 3 * height * width`.
    pub fn new(height: usize, width: usize, pixels: Vec<f32>) -> Result<Self> {
        if height == 0 || width == 0 {
            bail!("image size {height}x{width} is empty: both sides must be at least 1 pixel");
        }
        if pixels.len() != 3 * height * width {
            bail!(
                "image of {height}x{width} needs {} channel-first values, got {}",
                3 * height * width,
                pixels.len()
            );
        }
        Ok(Self { height, width, pixels })
    }

    /// Builds an image from interleaved 8-bit RGB bytes (`(height, width, 3)`, as PNG decoders
    /// and most tools return them).
    ///
    /// # Errors
    /// Fails when a side is 0 or `rgb.len() != 3 * height * width`.
    pub fn from_rgb8(height: usize, width: usize, rgb: &[u8]) -> Result<Self> {
        if rgb.len() != 3 * height * width {
            bail!("RGB buffer of {height}x{width} needs {} bytes, got {}", 3 * height * width, rgb.len());
        }
        let plane = height * width;
        let mut pixels = vec![0.0; 3 * plane];
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                pixels[c * plane + i] = f32::from(px[c]) / 255.0;
            }
        }
        Self::new(height, width, pixels)
    }

    /// Returns the value of channel `c` at row `y`, column `x`.
    pub fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.pixels[(c * self.height + y) * self.width + x]
    }

    /// Resizes with bilinear interpolation (pixel centres aligned, as in PIL's bilinear
    /// filter without antialiasing) to `(3, height, width)`.
    pub fn resized(&self, height: usize, width: usize) -> Image {
        if height == self.height && width == self.width {
            return self.clone();
        }
        let mut pixels = vec![0.0f32; 3 * height * width];
        let scale_y = self.height as f32 / height as f32;
        let scale_x = self.width as f32 / width as f32;
        for y in 0..height {
            let sy = ((y as f32 + 0.5) * scale_y - 0.5).clamp(0.0, (self.height - 1) as f32);
            let y0 = sy.floor() as usize;
            let y1 = (y0 + 1).min(self.height - 1);
            let fy = sy - y0 as f32;
            for x in 0..width {
                let sx = ((x as f32 + 0.5) * scale_x - 0.5).clamp(0.0, (self.width - 1) as f32);
                let x0 = sx.floor() as usize;
                let x1 = (x0 + 1).min(self.width - 1);
                let fx = sx - x0 as f32;
                for c in 0..3 {
                    let top = self.at(c, y0, x0) * (1.0 - fx) + self.at(c, y0, x1) * fx;
                    let bottom = self.at(c, y1, x0) * (1.0 - fx) + self.at(c, y1, x1) * fx;
                    pixels[(c * height + y) * width + x] = top * (1.0 - fy) + bottom * fy;
                }
            }
        }
        Image { height, width, pixels }
    }

    /// Crops rows `y..y + height` and columns `x..x + width`.
    ///
    /// # Errors
    /// Fails when the box is empty or reaches outside the image.
    pub fn crop(&self, y: usize, x: usize, height: usize, width: usize) -> Result<Image> {
        if height == 0 || width == 0 || y + height > self.height || x + width > self.width {
            bail!(
                "crop box (y {y}, x {x}, {height}x{width}) is empty or outside the {}x{} image",
                self.height,
                self.width
            );
        }
        let mut pixels = Vec::with_capacity(3 * height * width);
        for c in 0..3 {
            for row in y..y + height {
                let start = (c * self.height + row) * self.width + x;
                pixels.extend_from_slice(&self.pixels[start..start + width]);
            }
        }
        Image::new(height, width, pixels)
    }
}
