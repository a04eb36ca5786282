//! An owned 8-bit image and an axis-aligned box.

/// An 8-bit image, row-major with interleaved channels: `pixels` has the shape
/// `(height, width, channels)`, `channels` in 1..=4.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{}x{})", self.width, self.height, self.channels)
    }
}

impl RgbImage {
    /// Wraps pixels after checking the sizes.
    ///
    /// # Errors
    /// Returns a message naming the bad value when a size is 0, `channels` is not in
    /// 1..=4 or the pixel count is wrong.
    pub fn new(width: u32, height: u32, channels: u8, pixels: Vec<u8>) -> Result<Self, String> {
        if width == 0 || height == 0 {
            return Err(format!("image size {width}x{height} is empty"));
        }
        if !(1..=4).contains(&channels) {
            return Err(format!("image has {channels} channels; expected 1 to 4"));
        }
        let expected = width as usize * height as usize * channels as usize;
        if pixels.len() != expected {
            return Err(format!(
                "image {width}x{height}x{channels} needs {expected} bytes, got {}",
                pixels.len()
            ));
        }
        Ok(Self {
            width,
            height,
            channels,
            pixels,
        })
    }

    /// Returns `(r, g, b)` of pixel `(x, y)`; a gray image repeats its one channel.
    #[inline]
    pub fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let c = self.channels as usize;
        let i = (y as usize * self.width as usize + x as usize) * c;
        if c >= 3 {
            [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
        } else {
            let v = self.pixels[i];
            [v, v, v]
        }
    }

    /// Returns the luma (ITU-R BT.601) of every pixel, row-major, in `[0, 255]`.
    pub fn luma(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize);
        for y in 0..self.height {
            for x in 0..self.width {
                let [r, g, b] = self.rgb(x, y);
                out.push(0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32);
            }
        }
        out
    }
}

/// An axis-aligned box in pixel coordinates, `x0 <= x1`, `y0 <= y1`; the box covers
/// `[x0, x1) x [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelBox {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl PixelBox {
    pub fn new(x0: f32, y0: f32, x1: f32, y1: f32) -> Self {
        Self { x0, y0, x1, y1 }
    }

    pub fn width(&self) -> f32 {
        (self.x1 - self.x0).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Returns the part of the box inside `[0, width) x [0, height)`.
    pub fn clip(&self, width: u32, height: u32) -> Self {
        let (w, h) = (width as f32, height as f32);
        Self {
            x0: self.x0.clamp(0.0, w),
            y0: self.y0.clamp(0.0, h),
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
        }
    }

    /// Intersection over union with `other`, in `[0, 1]`; 0 when both are empty.
    pub fn iou(&self, other: &PixelBox) -> f32 {
        let inter = PixelBox::new(
            self.x0.max(other.x0),
            self.y0.max(other.y0),
            self.x1.min(other.x1),
            self.y1.min(other.y1),
        )
        .area();
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_hand_values() {
        let a = PixelBox::new(0.0, 0.0, 2.0, 2.0);
        let b = PixelBox::new(1.0, 0.0, 3.0, 2.0);
        // Intersection 2, union 4 + 4 - 2 = 6.
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(a.iou(&PixelBox::new(5.0, 5.0, 6.0, 6.0)), 0.0);
    }

    #[test]
    fn clip_keeps_inside_part() {
        let b = PixelBox::new(-5.0, 2.0, 20.0, 30.0).clip(10, 8);
        assert_eq!(b, PixelBox::new(0.0, 2.0, 10.0, 8.0));
    }

    #[test]
    fn new_rejects_wrong_length() {
        assert!(RgbImage::new(2, 2, 3, vec![0; 10]).is_err());
    }
}
