//! Crop-and-resize with bilinear sampling.

use crate::{PixelBox, RgbImage};

/// Samples channel values at the real-valued position `(x, y)` (pixel centres at
/// integer coordinates) with bilinear weights, clamping to the edge outside the image.
/// Writes `image.channels` values to `out`.
#[inline]
pub fn sample_bilinear(image: &RgbImage, x: f32, y: f32, out: &mut [u8]) {
    let c = image.channels as usize;
    let max_x = image.width as f32 - 1.0;
    let max_y = image.height as f32 - 1.0;
    let x = x.clamp(0.0, max_x);
    let y = y.clamp(0.0, max_y);
    let x0 = x.floor() as usize;
    let y0 = y.floor() as usize;
    let x1 = (x0 + 1).min(image.width as usize - 1);
    let y1 = (y0 + 1).min(image.height as usize - 1);
    let fx = x - x0 as f32;
    let fy = y - y0 as f32;
    let row = image.width as usize * c;
    let p = &image.pixels;
    for k in 0..c {
        let top = p[y0 * row + x0 * c + k] as f32 * (1.0 - fx) + p[y0 * row + x1 * c + k] as f32 * fx;
        let bottom =
            p[y1 * row + x0 * c + k] as f32 * (1.0 - fx) + p[y1 * row + x1 * c + k] as f32 * fx;
        out[k] = (top * (1.0 - fy) + bottom * fy + 0.5) as u8;
    }
}

/// Precomputed source index pair and weight of the second one, per output coordinate.
fn axis_taps(start: f32, extent: f32, out_len: u32, src_len: u32) -> Vec<(usize, usize, f32)> {
    let scale = extent / out_len as f32;
    let max = src_len as f32 - 1.0;
    (0..out_len)
        .map(|o| {
            // Pixel centres: output centre `o + 0.5` maps into the box, minus 0.5 to get
            // back to integer-centred source coordinates.
            let s = (start + (o as f32 + 0.5) * scale - 0.5).clamp(0.0, max);
            let i0 = s.floor() as usize;
            let i1 = (i0 + 1).min(src_len as usize - 1);
            (i0, i1, s - i0 as f32)
        })
        .collect()
}

/// Crops `region` out of `image` and resizes it to `out_width x out_height` with
/// bilinear sampling. A box reaching outside the image is clipped to it first.
///
/// # Errors
/// Returns a message when the clipped box is empty (less than one pixel wide or high),
/// or an output size is 0 or above 4096.
pub fn crop_resize(
    image: &RgbImage,
    region: PixelBox,
    out_width: u32,
    out_height: u32,
) -> Result<RgbImage, String> {
    if out_width == 0 || out_height == 0 || out_width > 4096 || out_height > 4096 {
        return Err(format!(
            "output size {out_width}x{out_height} is invalid; width and height must be in 1..=4096"
        ));
    }
    let clipped = region.clip(image.width, image.height);
    if clipped.width() < 1.0 || clipped.height() < 1.0 {
        return Err(format!(
            "box [{}, {}, {}, {}] is empty inside the {}x{} image after clipping",
            region.x0, region.y0, region.x1, region.y1, image.width, image.height
        ));
    }

    let c = image.channels as usize;
    let xs = axis_taps(clipped.x0, clipped.width(), out_width, image.width);
    let ys = axis_taps(clipped.y0, clipped.height(), out_height, image.height);
    let row = image.width as usize * c;
    let p = &image.pixels;
    let mut out = Vec::with_capacity(out_width as usize * out_height as usize * c);
    for &(y0, y1, fy) in &ys {
        let (r0, r1) = (y0 * row, y1 * row);
        for &(x0, x1, fx) in &xs {
            for k in 0..c {
                let a = p[r0 + x0 * c + k] as f32;
                let b = p[r0 + x1 * c + k] as f32;
                let d = p[r1 + x0 * c + k] as f32;
                let e = p[r1 + x1 * c + k] as f32;
                let top = a + (b - a) * fx;
                let bottom = d + (e - d) * fx;
                out.push((top + (bottom - top) * fy + 0.5) as u8);
            }
        }
    }
    RgbImage::new(out_width, out_height, image.channels, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> RgbImage {
        let mut pixels = Vec::new();
        for y in 0..height {
            for x in 0..width {
                pixels.extend_from_slice(&[x as u8, y as u8, 7]);
            }
        }
        RgbImage::new(width, height, 3, pixels).unwrap()
    }

    #[test]
    fn identity_crop_copies_pixels() {
        let image = gradient(8, 6);
        let out = crop_resize(&image, PixelBox::new(0.0, 0.0, 8.0, 6.0), 8, 6).unwrap();
        assert_eq!(out, image);
    }

    #[test]
    fn crop_takes_the_box() {
        let image = gradient(10, 10);
        let out = crop_resize(&image, PixelBox::new(2.0, 3.0, 5.0, 7.0), 3, 4).unwrap();
        assert_eq!(out.rgb(0, 0), [2, 3, 7]);
        assert_eq!(out.rgb(2, 3), [4, 6, 7]);
    }

    #[test]
    fn upscale_interpolates_linearly() {
        // Two pixels 0 and 100 upscaled to 4: centres at -0.25, 0.25, 0.75, 1.25 in
        // source coordinates, clamped to [0, 1]: 0, 25, 75, 100.
        let image = RgbImage::new(2, 1, 1, vec![0, 100]).unwrap();
        let out = crop_resize(&image, PixelBox::new(0.0, 0.0, 2.0, 1.0), 4, 1).unwrap();
        assert_eq!(out.pixels, vec![0, 25, 75, 100]);
    }

    #[test]
    fn out_of_range_box_is_clipped() {
        let image = gradient(10, 10);
        let clipped = crop_resize(&image, PixelBox::new(-20.0, 5.0, 4.0, 40.0), 4, 5).unwrap();
        let inside = crop_resize(&image, PixelBox::new(0.0, 5.0, 4.0, 10.0), 4, 5).unwrap();
        assert_eq!(clipped, inside);
    }

    #[test]
    fn empty_box_is_error() {
        let image = gradient(10, 10);
        let err = crop_resize(&image, PixelBox::new(20.0, 20.0, 30.0, 30.0), 4, 4).unwrap_err();
        assert!(err.contains("empty"), "{err}");
        assert!(crop_resize(&image, PixelBox::new(3.0, 3.0, 3.0, 8.0), 4, 4).is_err());
    }

    #[test]
    fn zero_output_size_is_error() {
        let image = gradient(4, 4);
        assert!(crop_resize(&image, PixelBox::new(0.0, 0.0, 4.0, 4.0), 0, 4).is_err());
    }

    #[test]
    fn sample_bilinear_midpoint() {
        let image = RgbImage::new(2, 2, 1, vec![0, 100, 100, 200]).unwrap();
        let mut out = [0u8];
        sample_bilinear(&image, 0.5, 0.5, &mut out);
        assert_eq!(out[0], 100);
    }
}
