//! A single-channel `f32` image plane with antialiased resizing, smoothing and
//! bilinear sampling, for the face finder's feature pyramid.

use crate::RgbImage;

/// A row-major `f32` plane of shape `(height, width)`, values in the 8-bit range
/// `[0, 255]` for luma.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
}

impl GrayImage {
    /// Converts an image to its luma (ITU-R BT.601); a one- or two-channel image keeps
    /// its first channel.
    pub fn from_rgb(image: &RgbImage) -> Self {
        Self {
            width: image.width as usize,
            height: image.height as usize,
            pixels: image.luma(),
        }
    }

    /// Samples the plane at the real-valued position `(x, y)` with bilinear weights.
    /// Pixel centres sit at integer coordinates; positions outside the plane take the
    /// nearest edge value.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.width - 1) as f32);
        let y = y.clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let row = |y: usize| {
            let p = &self.pixels[y * self.width..];
            p[x0] * (1.0 - fx) + p[x1] * fx
        };
        row(y0) * (1.0 - fy) + row(y1) * fy
    }

    /// Resizes to `width x height` with a triangle (tent) filter whose support widens
    /// with the downscale factor, so downscaling averages every source pixel instead of
    /// aliasing, and upscaling is plain bilinear interpolation.
    ///
    /// # Panics
    /// Panics when `width` or `height` is 0.
    pub fn resize(&self, width: usize, height: usize) -> Self {
        assert!(width > 0, "resize target width is 0");
        assert!(height > 0, "resize target height is 0");
        let x_taps = tent_taps(self.width, width);
        let y_taps = tent_taps(self.height, height);

        // Horizontal pass into a (source height, target width) plane, then vertical.
        let mut horizontal = vec![0.0f32; self.height * width];
        for y in 0..self.height {
            let src = &self.pixels[y * self.width..(y + 1) * self.width];
            for (x, taps) in x_taps.iter().enumerate() {
                horizontal[y * width + x] = taps.apply(|i| src[i]);
            }
        }
        let mut pixels = vec![0.0f32; width * height];
        for (y, taps) in y_taps.iter().enumerate() {
            for x in 0..width {
                pixels[y * width + x] = taps.apply(|i| horizontal[i * width + x]);
            }
        }
        Self {
            width,
            height,
            pixels,
        }
    }

    /// Smooths with the separable binomial kernel `[1, 2, 1] / 4` (close to a Gaussian
    /// of sigma 0.7 pixels), repeating edge pixels.
    pub fn smooth(&self) -> Self {
        let (w, h) = (self.width, self.height);
        let mut horizontal = vec![0.0f32; self.pixels.len()];
        for y in 0..h {
            let row = &self.pixels[y * w..(y + 1) * w];
            let out = &mut horizontal[y * w..(y + 1) * w];
            for x in 0..w {
                let left = row[x.saturating_sub(1)];
                let right = row[(x + 1).min(w - 1)];
                out[x] = 0.25 * left + 0.5 * row[x] + 0.25 * right;
            }
        }
        let mut pixels = vec![0.0f32; self.pixels.len()];
        for y in 0..h {
            let above = &horizontal[y.saturating_sub(1) * w..][..w];
            let centre = &horizontal[y * w..][..w];
            let below = &horizontal[(y + 1).min(h - 1) * w..][..w];
            let out = &mut pixels[y * w..(y + 1) * w];
            for x in 0..w {
                out[x] = 0.25 * above[x] + 0.5 * centre[x] + 0.25 * below[x];
            }
        }
        Self {
            width: w,
            height: h,
            pixels,
        }
    }
}

/// Source indices and normalised weights that make one target pixel.
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

impl Taps {
    #[inline]
    fn apply(&self, value: impl Fn(usize) -> f32) -> f32 {
        self.weights
            .iter()
            .enumerate()
            .map(|(k, w)| w * value(self.start + k))
            .sum()
    }
}

/// Tent-filter taps mapping `source` pixels onto `target` pixels along one axis.
fn tent_taps(source: usize, target: usize) -> Vec<Taps> {
    let scale = source as f32 / target as f32;
    // The filter is one source pixel wide when upscaling and one target pixel wide
    // (in source units) when downscaling.
    let support = scale.max(1.0);
    (0..target)
        .map(|t| {
            let centre = (t as f32 + 0.5) * scale;
            let first = ((centre - support).floor().max(0.0)) as usize;
            let last = ((centre + support).ceil() as usize).min(source);
            let mut weights: Vec<f32> = (first..last)
                .map(|i| (1.0 - ((i as f32 + 0.5 - centre) / support).abs()).max(0.0))
                .collect();
            let total: f32 = weights.iter().sum();
            if total > 0.0 {
                weights.iter_mut().for_each(|w| *w /= total);
            } else {
                // Unreachable for positive sizes; keep the nearest pixel as a guard.
                weights = vec![1.0];
                return Taps {
                    start: (centre as usize).min(source - 1),
                    weights,
                };
            }
            Taps {
                start: first,
                weights,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a `width` x `height` image whose pixel at `(x, y)` is `f(x, y)`.
    pub(crate) fn plane(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> GrayImage {
        let pixels = (0..width * height).map(|i| f(i % width, i / width)).collect();
        GrayImage {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn halving_removes_alternating_columns() {
        // Columns alternate 0 and 100. Halving uses a tent 2 source pixels wide on each
        // side: weights 1/8, 3/8, 3/8, 1/8 on the four nearest columns, so every
        // interior target pixel is 50. Border pixels lose the taps outside the image.
        let image = plane(12, 4, |x, _| if x % 2 == 0 { 0.0 } else { 100.0 });
        let half = image.resize(6, 2);
        for y in 0..2 {
            for x in 1..5 {
                let v = half.pixels[y * 6 + x];
                assert!((v - 50.0).abs() < 1e-3, "({x}, {y}): {v}");
            }
        }
    }

    #[test]
    fn resize_keeps_a_linear_ramp_in_the_interior() {
        // A ramp v = 10 x resized 2x up: target pixel t has centre (t + 0.5) / 2 - 0.5
        // in source pixel units, so its value is 10 times that.
        let image = plane(8, 1, |x, _| 10.0 * x as f32);
        let up = image.resize(16, 1);
        for t in 2..14 {
            let want = 10.0 * ((t as f32 + 0.5) / 2.0 - 0.5);
            assert!((up.pixels[t] - want).abs() < 1e-3, "t={t}: {} vs {want}", up.pixels[t]);
        }
    }

    #[test]
    fn sample_interpolates_between_centres() {
        let image = plane(2, 2, |x, y| (x + 2 * y) as f32);
        assert!((image.sample(0.5, 0.5) - 1.5).abs() < 1e-6);
        assert!((image.sample(-3.0, 0.0) - 0.0).abs() < 1e-6);
    }

    #[test]
    fn smooth_keeps_constant_and_spreads_impulse() {
        let constant = plane(5, 5, |_, _| 7.0).smooth();
        assert!(constant.pixels.iter().all(|v| (v - 7.0).abs() < 1e-5));
        let impulse = plane(5, 5, |x, y| if (x, y) == (2, 2) { 16.0 } else { 0.0 }).smooth();
        // The 2-D kernel is the outer product of [1, 2, 1] / 4 with itself.
        assert!((impulse.pixels[2 * 5 + 2] - 4.0).abs() < 1e-5);
        assert!((impulse.pixels[2 * 5 + 1] - 2.0).abs() < 1e-5);
        assert!((impulse.pixels[5 + 1] - 1.0).abs() < 1e-5);
    }
}
