//! Capture degradations applied after drawing: illumination, local corruption, blur,
//! grayscale conversion and noise. Buffers are `(height, width, channels)` floats in
//! 8-bit units (`0.0..=255.0`).

use rand::Rng;

use crate::sample::PixelBox;

/// A float image buffer.
pub struct Buffer {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    /// `height * width * channels` values, shape `(height, width, channels)`.
    pub data: Vec<f32>,
}

impl Buffer {
    /// RGB buffer from an opaque tiny-skia pixmap (premultiplied RGBA, so opaque pixels
    /// carry their colour unchanged).
    pub fn from_pixmap(pixmap: &tiny_skia::Pixmap) -> Buffer {
        let data = pixmap
            .data()
            .chunks_exact(4)
            .flat_map(|px| [f32::from(px[0]), f32::from(px[1]), f32::from(px[2])])
            .collect();
        Buffer {
            width: pixmap.width() as usize,
            height: pixmap.height() as usize,
            channels: 3,
            data,
        }
    }

    /// Rounds to 8-bit values.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.data
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect()
    }
}

/// Multiplies by `brightness` and a linear light gradient of strength `gradient` in
/// direction `angle` (radians): the factor changes by `gradient` from the centre to the
/// edge.
pub fn illuminate(buffer: &mut Buffer, brightness: f32, gradient: f32, angle: f32) {
    let (dy, dx) = angle.sin_cos();
    let (cx, cy) = (0.5 * buffer.width as f32, 0.5 * buffer.height as f32);
    let half = 0.5 * buffer.width.max(buffer.height) as f32;
    for y in 0..buffer.height {
        for x in 0..buffer.width {
            let t = ((x as f32 + 0.5 - cx) * dx + (y as f32 + 0.5 - cy) * dy) / half;
            let factor = (brightness * (1.0 + gradient * t)).max(0.0);
            let base = (y * buffer.width + x) * buffer.channels;
            for v in &mut buffer.data[base..base + buffer.channels] {
                *v *= factor;
            }
        }
    }
}

/// Destroys the detail inside `region`, so that a zoom into it shows almost nothing of
/// the face. The region is pixelated into blocks of a third of its smaller side, each
/// block is pulled 60% toward the region's mean colour, and strong noise is added.
pub fn corrupt_region(buffer: &mut Buffer, region: PixelBox, rng: &mut impl Rng) {
    let x0 = region.x_min.floor().max(0.0) as usize;
    let y0 = region.y_min.floor().max(0.0) as usize;
    let x1 = (region.x_max.ceil() as usize).min(buffer.width);
    let y1 = (region.y_max.ceil() as usize).min(buffer.height);
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let c = buffer.channels;
    let mean_over = |buffer: &Buffer, (xa, ya, xb, yb): (usize, usize, usize, usize)| {
        let mut mean = [0.0f32; 3];
        for y in ya..yb {
            for x in xa..xb {
                for (ch, m) in mean.iter_mut().enumerate().take(c) {
                    *m += buffer.data[(y * buffer.width + x) * c + ch];
                }
            }
        }
        let n = ((yb - ya) * (xb - xa)) as f32;
        mean.map(|m| m / n)
    };
    let region_mean = mean_over(buffer, (x0, y0, x1, y1));
    let block = ((x1 - x0).min(y1 - y0) / 3).max(2);
    for by in (y0..y1).step_by(block) {
        for bx in (x0..x1).step_by(block) {
            let (ey, ex) = ((by + block).min(y1), (bx + block).min(x1));
            let mean = mean_over(buffer, (bx, by, ex, ey));
            for y in by..ey {
                for x in bx..ex {
                    for ch in 0..c {
                        let value = 0.4 * mean[ch] + 0.6 * region_mean[ch];
                        buffer.data[(y * buffer.width + x) * c + ch] = value + 40.0 * gaussian(rng);
                    }
                }
            }
        }
    }
}

/// Separable Gaussian blur with standard deviation `sigma` pixels; edges are clamped.
pub fn blur(buffer: &mut Buffer, sigma: f32) {
    if sigma < 0.05 {
        return;
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let (w, h, c) = (
        buffer.width as isize,
        buffer.height as isize,
        buffer.channels,
    );

    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0; src.len()];
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let mut acc = 0.0;
                    for (k, weight) in kernel.iter().enumerate() {
                        let offset = k as isize - radius;
                        let (sx, sy) = if horizontal {
                            ((x + offset).clamp(0, w - 1), y)
                        } else {
                            (x, (y + offset).clamp(0, h - 1))
                        };
                        acc += weight * src[(sy * w + sx) as usize * c + ch];
                    }
                    out[(y * w + x) as usize * c + ch] = acc;
                }
            }
        }
        out
    };
    let horizontal = pass(&buffer.data, true);
    buffer.data = pass(&horizontal, false);
}

/// Converts RGB to one luma channel (ITU-R BT.601 weights).
pub fn to_grayscale(buffer: &mut Buffer) {
    if buffer.channels == 1 {
        return;
    }
    buffer.data = buffer
        .data
        .chunks_exact(3)
        .map(|px| 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2])
        .collect();
    buffer.channels = 1;
}

/// TODO: low-quality domains have no JPEG blocking or chroma subsampling, which real
/// in-the-wild frames show.
///
/// Adds independent Gaussian noise with standard deviation `sigma` to every value.
pub fn add_noise(buffer: &mut Buffer, sigma: f32, rng: &mut impl Rng) {
    if sigma <= 0.0 {
        return;
    }
    // Each Box-Muller draw yields two independent samples, so values go in pairs.
    for pair in buffer.data.chunks_mut(2) {
        let (a, b) = gaussian_pair(rng);
        pair[0] += sigma * a;
        if let Some(second) = pair.get_mut(1) {
            *second += sigma * b;
        }
    }
}

/// Draws two independent standard normal samples (Box-Muller transform).
pub fn gaussian_pair(rng: &mut impl Rng) -> (f32, f32) {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    let radius = (-2.0 * u1.ln()).sqrt();
    let (sin, cos) = (std::f32::consts::TAU * u2).sin_cos();
    (radius * cos, radius * sin)
}

/// Draws a standard normal sample (Box-Muller transform).
pub fn gaussian(rng: &mut impl Rng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn impulse(size: usize) -> Buffer {
        let mut data = vec![0.0; size * size];
        data[(size / 2) * size + size / 2] = 1.0;
        Buffer {
            width: size,
            height: size,
            channels: 1,
            data,
        }
    }

    #[test]
    fn blur_of_impulse_matches_kernel() {
        // Sigma 1 gives taps exp(-i^2 / 2) for i in -3..=3, which sum to 2.50594; the
        // centre of the blurred impulse is the squared centre tap, (1 / 2.50594)^2.
        let mut buffer = impulse(9);
        blur(&mut buffer, 1.0);
        assert!(
            (buffer.data[4 * 9 + 4] - 0.159_24).abs() < 1e-4,
            "{}",
            buffer.data[40]
        );
        let total: f32 = buffer.data.iter().sum();
        assert!(
            (total - 1.0).abs() < 1e-5,
            "blur changed the total to {total}"
        );
    }

    #[test]
    fn gaussian_pair_has_unit_variance() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let samples: Vec<f32> = (0..20_000)
            .flat_map(|_| {
                let (a, b) = gaussian_pair(&mut rng);
                [a, b]
            })
            .collect();
        let mean = samples.iter().sum::<f32>() / samples.len() as f32;
        let variance =
            samples.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / samples.len() as f32;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.03, "variance {variance}");
    }

    #[test]
    fn grayscale_uses_bt601_weights() {
        let mut buffer = Buffer {
            width: 1,
            height: 1,
            channels: 3,
            data: vec![100.0, 200.0, 50.0],
        };
        to_grayscale(&mut buffer);
        assert_eq!(buffer.channels, 1);
        // 0.299 * 100 + 0.587 * 200 + 0.114 * 50 = 153.0
        assert!((buffer.data[0] - 153.0).abs() < 1e-4);
    }
}
