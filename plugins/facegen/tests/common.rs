//! Helpers shared by the tests.

use assay_facegen::{Domain, DomainConfig, FaceImage, PixelBox, Range};

/// RAF-DB-like config without noise, blur, clutter, occlusion or pose, so that pixel
/// differences come only from what a test changes.
pub fn clean_config() -> DomainConfig {
    let mut config = Domain::Rafdb.config();
    config.blur_sigma = Range::new(0.0, 0.0);
    config.noise_sigma = Range::new(0.0, 0.0);
    config.occlusion_rate = 0.0;
    config.max_roll_degrees = 0.0;
    config.max_yaw_degrees = 0.0;
    config.max_light_gradient = 0.0;
    config.brightness = Range::new(1.0, 1.0);
    config.width = 160;
    config.height = 160;
    config
}

/// Absolute luma difference per pixel, shape `(height, width)`.
pub fn luma_diff(a: &FaceImage, b: &FaceImage) -> Vec<f32> {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let mut out = Vec::with_capacity((a.width * a.height) as usize);
    for y in 0..a.height {
        for x in 0..a.width {
            out.push((a.luma(x, y) - b.luma(x, y)).abs());
        }
    }
    out
}

/// Sum of `diff` over pixels whose centre lies inside `region`.
pub fn sum_inside(diff: &[f32], width: u32, region: &PixelBox) -> f32 {
    diff.iter()
        .enumerate()
        .filter(|(i, _)| {
            let x = (*i as u32 % width) as f32 + 0.5;
            let y = (*i as u32 / width) as f32 + 0.5;
            x >= region.x_min && x <= region.x_max && y >= region.y_min && y <= region.y_max
        })
        .map(|(_, d)| d)
        .sum()
}

/// Luma image downscaled by `factor` with a box filter, shape `(height / factor, width /
/// factor)`.
pub fn downscale_luma(image: &FaceImage, factor: u32) -> Vec<f32> {
    let (w, h) = (image.width / factor, image.height / factor);
    let mut out = Vec::with_capacity((w * h) as usize);
    for by in 0..h {
        for bx in 0..w {
            let mut sum = 0.0;
            for y in 0..factor {
                for x in 0..factor {
                    sum += image.luma(bx * factor + x, by * factor + y);
                }
            }
            out.push(sum / (factor * factor) as f32);
        }
    }
    out
}
