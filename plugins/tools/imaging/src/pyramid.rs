//! The scale pyramid the face finder scans: the image's luma resized so that a face of
//! each searched size fills the fixed detection window, with HOG cells per level.

use crate::gray::GrayImage;
use crate::hog::{CellGrid, CELL};
use crate::PixelBox;

/// Side of the detection window in cells.
pub const WINDOW_CELLS: usize = 10;
/// Side of the detection window in level pixels.
pub const WINDOW_PIXELS: usize = WINDOW_CELLS * CELL;
/// Window side divided by the face box side: the face box (forehead to chin, cheek to
/// cheek) fills the middle 80% of the window, and the rest shows the face outline.
pub const WINDOW_PER_FACE: f32 = 1.25;
/// Zero cells around each level's grid, so windows may reach 2 cells (20% of their
/// side) past the image border, as a face touching the border needs.
pub const PAD_CELLS: usize = 2;
/// Ratio between the window sides of neighbouring levels (2^(1/5)).
pub const LEVEL_STEP: f32 = 1.148_698_4;
/// Smallest searched window side as a fraction of the shorter image side, which is a
/// face box of 16% of that side.
pub const MIN_WINDOW_FRACTION: f32 = 0.2;
/// Smallest searched window side in input pixels; smaller faces hold too few pixels
/// for eyes and mouth to show.
pub const MIN_WINDOW_SIDE: f32 = 24.0;
/// Largest searched window side as a fraction of the shorter image side, for faces
/// that fill the whole image.
pub const MAX_WINDOW_FRACTION: f32 = 1.3;

/// One pyramid level: the smoothed, resized luma and its cells.
#[derive(Debug, Clone)]
pub struct Level {
    /// Level pixels per input pixel along x.
    pub scale_x: f32,
    /// Level pixels per input pixel along y.
    pub scale_y: f32,
    pub gray: GrayImage,
    pub cells: CellGrid,
}

impl Level {
    /// Builds the level of `gray` whose pixels are `scale` times the input's.
    pub fn new(gray: &GrayImage, scale: f32) -> Self {
        Self::from_source(gray, (gray.width, gray.height), scale)
    }

    /// Builds the level whose pixels are `scale` times those of an input of
    /// `input_size` (width, height), resampling `source`, which is that input or a
    /// downscaled copy of it.
    fn from_source(source: &GrayImage, input_size: (usize, usize), scale: f32) -> Self {
        let width = ((input_size.0 as f32 * scale).round() as usize).max(1);
        let height = ((input_size.1 as f32 * scale).round() as usize).max(1);
        let resized = source.resize(width, height).smooth();
        let cells = CellGrid::new(&resized, PAD_CELLS);
        Self {
            scale_x: width as f32 / input_size.0 as f32,
            scale_y: height as f32 / input_size.1 as f32,
            gray: resized,
            cells,
        }
    }

    /// Number of window positions along x and y (top-left cells in the padded grid).
    pub fn positions(&self) -> (usize, usize) {
        (
            (self.cells.columns() + 1).saturating_sub(WINDOW_CELLS),
            (self.cells.rows() + 1).saturating_sub(WINDOW_CELLS),
        )
    }

    /// Box in input pixels of the window whose top-left padded cell is `(cx, cy)`.
    pub fn window_box(&self, cx: usize, cy: usize) -> PixelBox {
        let x0 = (cx as f32 - PAD_CELLS as f32) * CELL as f32 / self.scale_x;
        let y0 = (cy as f32 - PAD_CELLS as f32) * CELL as f32 / self.scale_y;
        PixelBox::new(
            x0,
            y0,
            x0 + WINDOW_PIXELS as f32 / self.scale_x,
            y0 + WINDOW_PIXELS as f32 / self.scale_y,
        )
    }

    /// Input-to-level scale averaged over both axes.
    pub fn scale(&self) -> f32 {
        0.5 * (self.scale_x + self.scale_y)
    }
}

/// All levels of an image, largest window (smallest level) first.
#[derive(Debug, Clone)]
pub struct Pyramid {
    pub levels: Vec<Level>,
}

impl Pyramid {
    /// Builds the levels for window sides from `MAX_WINDOW_FRACTION` of the shorter
    /// side down to the larger of `MIN_WINDOW_FRACTION` of it and `MIN_WINDOW_SIDE`.
    pub fn new(gray: &GrayImage) -> Self {
        let shorter = gray.width.min(gray.height) as f32;
        let largest = MAX_WINDOW_FRACTION * shorter;
        let smallest = (MIN_WINDOW_FRACTION * shorter).max(MIN_WINDOW_SIDE).min(largest);
        let input_size = (gray.width, gray.height);

        // The tent filter's cost grows with the source size, so when even the largest
        // level is under half the input's size (large photographs), resample the input
        // once to that level's size and build every level from the copy.
        let largest_scale = WINDOW_PIXELS as f32 / smallest;
        let downscaled;
        let source = if largest_scale < 0.5 {
            let width = ((gray.width as f32 * largest_scale).round() as usize).max(1);
            let height = ((gray.height as f32 * largest_scale).round() as usize).max(1);
            downscaled = gray.resize(width, height);
            &downscaled
        } else {
            gray
        };
        let mut levels = Vec::new();
        let mut side = largest;
        while side >= smallest * 0.999 {
            levels.push(Level::from_source(source, input_size, WINDOW_PIXELS as f32 / side));
            side /= LEVEL_STEP;
        }
        Self { levels }
    }

    /// Index of the level whose scale is closest to `scale` (level pixels per input
    /// pixel) on a log scale.
    pub fn nearest_level(&self, scale: f32) -> usize {
        let target = scale.max(1e-6).ln();
        (0..self.levels.len())
            .min_by(|&a, &b| {
                let da = (self.levels[a].scale().ln() - target).abs();
                let db = (self.levels[b].scale().ln() - target).abs();
                da.total_cmp(&db)
            })
            .unwrap_or(0)
    }
}

/// Returns the square window, in input pixels, that a face box would fill: centred on
/// the box, with side `WINDOW_PER_FACE * sqrt(width * height)`.
pub fn window_for_face(face_box: &PixelBox) -> PixelBox {
    let side = WINDOW_PER_FACE * (face_box.width() * face_box.height()).sqrt();
    let (cx, cy) = (0.5 * (face_box.x0 + face_box.x1), 0.5 * (face_box.y0 + face_box.y1));
    PixelBox::new(cx - 0.5 * side, cy - 0.5 * side, cx + 0.5 * side, cy + 0.5 * side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_span_the_window_sizes() {
        let gray = GrayImage {
            width: 100,
            height: 80,
            pixels: vec![0.0; 8000],
        };
        let pyramid = Pyramid::new(&gray);
        // Window sides 104 (1.3 x 80) down to 24 at ratio 2^(1/5): 104 / 24 = 4.33 is
        // 2^2.11, so 11 levels (sides 104 ... 104 / 2^2 = 26).
        assert_eq!(pyramid.levels.len(), 11);
        let first = &pyramid.levels[0];
        let side = first.window_box(PAD_CELLS, PAD_CELLS).width();
        assert!((side - 104.0).abs() < 2.0, "{side}");
        let last = pyramid.levels.last().unwrap();
        assert!((last.window_box(0, 0).width() - 26.0).abs() < 1.0);
    }

    #[test]
    fn window_box_starts_at_padding() {
        let gray = GrayImage {
            width: 40,
            height: 40,
            pixels: vec![0.0; 1600],
        };
        let level = Level::new(&gray, 1.0);
        let b = level.window_box(PAD_CELLS, PAD_CELLS);
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (0.0, 0.0, 40.0, 40.0));
        assert_eq!(level.positions(), (5, 5));
    }

    #[test]
    fn window_for_face_is_centred_and_larger() {
        let w = window_for_face(&PixelBox::new(10.0, 20.0, 30.0, 40.0));
        assert_eq!((w.x0, w.y0, w.x1, w.y1), (7.5, 17.5, 32.5, 42.5));
    }
}
