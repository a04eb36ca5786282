//! Histograms of oriented gradients (HOG) on a grid of square cells, the features of
//! the face finder (after Dalal and Triggs, CVPR 2005).
//!
//! Each cell of `CELL x CELL` pixels contains `BINS` unsigned orientation bins (0 to 180
//! degrees), so a dark edge on a light ground and a light edge on a dark ground give the
//! same histogram. Each cell is divided by the root-mean-square energy of its 3x3 cell
//! neighbourhood, which removes the local contrast (dim light, light gradients across
//! the face) while keeping the relative strength of edges within it.

use crate::gray::GrayImage;

/// Side of a cell in pixels.
pub const CELL: usize = 4;
/// Orientation bins per cell, over 0 to 180 degrees.
pub const BINS: usize = 9;
/// Energy floor of the normalisation, in squared histogram units (a histogram sums
/// gradient magnitudes of 8-bit levels over a cell), so that nearly flat areas keep
/// small features instead of amplified noise.
const ENERGY_FLOOR: f32 = 1000.0;
/// Maximum of a normalised bin, which limits the weight of one very strong edge.
const CLIP: f32 = 1.0;

/// Normalised cell histograms of a plane, in a grid padded on every side with `pad`
/// cells of zeros. `values` has the shape `(rows, columns, BINS)` with
/// `rows = cells_y + 2 pad` and `columns = cells_x + 2 pad`.
#[derive(Debug, Clone)]
pub struct CellGrid {
    /// Cells across the plane, `floor(width / CELL)`.
    pub cells_x: usize,
    /// Cells down the plane, `floor(height / CELL)`.
    pub cells_y: usize,
    /// Zero cells added on each side.
    pub pad: usize,
    values: Vec<f32>,
}

impl CellGrid {
    /// Computes the normalised histograms of `gray`. Pixels past the last whole cell
    /// are ignored.
    pub fn new(gray: &GrayImage, pad: usize) -> Self {
        let cells_x = gray.width / CELL;
        let cells_y = gray.height / CELL;
        let raw = raw_histograms(gray, cells_x, cells_y);
        let columns = cells_x + 2 * pad;
        let rows = cells_y + 2 * pad;
        let mut values = vec![0.0f32; rows * columns * BINS];

        let energy: Vec<f32> = raw
            .chunks_exact(BINS)
            .map(|h| h.iter().map(|v| v * v).sum())
            .collect();
        for cy in 0..cells_y {
            for cx in 0..cells_x {
                // Mean energy of the 3x3 neighbourhood; cells outside the plane count
                // as empty so that border cells are not over-amplified.
                let mut sum = 0.0;
                for ny in cy.saturating_sub(1)..(cy + 2).min(cells_y) {
                    for nx in cx.saturating_sub(1)..(cx + 2).min(cells_x) {
                        sum += energy[ny * cells_x + nx];
                    }
                }
                let norm = (sum / 9.0 + ENERGY_FLOOR).sqrt();
                let src = &raw[(cy * cells_x + cx) * BINS..][..BINS];
                let dst = &mut values[((cy + pad) * columns + cx + pad) * BINS..][..BINS];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = (s / norm).min(CLIP);
                }
            }
        }
        Self {
            cells_x,
            cells_y,
            pad,
            values,
        }
    }

    /// Columns of the padded grid.
    pub fn columns(&self) -> usize {
        self.cells_x + 2 * self.pad
    }

    /// Rows of the padded grid.
    pub fn rows(&self) -> usize {
        self.cells_y + 2 * self.pad
    }

    /// Appends the features of the `side x side` cell window whose top-left cell is
    /// `(cx, cy)` in padded-grid coordinates, row by row, to `out`.
    ///
    /// # Panics
    /// Panics when the window leaves the padded grid.
    pub fn window(&self, cx: usize, cy: usize, side: usize, out: &mut Vec<f32>) {
        assert!(cx + side <= self.columns(), "window passes the grid's right edge");
        assert!(cy + side <= self.rows(), "window passes the grid's bottom edge");
        let columns = self.columns();
        for row in cy..cy + side {
            out.extend_from_slice(&self.values[(row * columns + cx) * BINS..][..side * BINS]);
        }
    }

    /// Dot product of the `side x side` window at `(cx, cy)` with `weights`, which has
    /// the layout of [`CellGrid::window`] (`side * side * BINS` values).
    pub fn dot_window(&self, cx: usize, cy: usize, side: usize, weights: &[f32]) -> f32 {
        let columns = self.columns();
        let span = side * BINS;
        let mut total = 0.0;
        for (k, row) in (cy..cy + side).enumerate() {
            let cells = &self.values[(row * columns + cx) * BINS..][..span];
            let w = &weights[k * span..][..span];
            total += cells.iter().zip(w).map(|(a, b)| a * b).sum::<f32>();
        }
        total
    }
}

/// Magnitude-weighted orientation histograms, `(cells_y, cells_x, BINS)`, with each
/// pixel's vote split linearly between the two nearest bin centres.
fn raw_histograms(gray: &GrayImage, cells_x: usize, cells_y: usize) -> Vec<f32> {
    let mut raw = vec![0.0f32; cells_x * cells_y * BINS];
    let bin_width = std::f32::consts::PI / BINS as f32;
    let (w, h) = (gray.width, gray.height);
    for y in 0..cells_y * CELL {
        // Central differences, repeating the edge pixels.
        let above = &gray.pixels[y.saturating_sub(1) * w..][..w];
        let row = &gray.pixels[y * w..][..w];
        let below = &gray.pixels[(y + 1).min(h - 1) * w..][..w];
        for x in 0..cells_x * CELL {
            let gx = row[(x + 1).min(w - 1)] - row[x.saturating_sub(1)];
            let gy = below[x] - above[x];
            let magnitude_squared = gx * gx + gy * gy;
            if magnitude_squared == 0.0 {
                continue;
            }
            let magnitude = magnitude_squared.sqrt();
            let angle = unsigned_angle(gx, gy);
            // Bin k is centred on (k + 0.5) * bin_width; angles wrap at 180 degrees.
            let position = angle / bin_width - 0.5;
            let lower = position.floor();
            let fraction = position - lower;
            let first = (lower as isize).rem_euclid(BINS as isize) as usize;
            let second = (first + 1) % BINS;
            let cell = ((y / CELL) * cells_x + x / CELL) * BINS;
            raw[cell + first] += magnitude * (1.0 - fraction);
            raw[cell + second] += magnitude * fraction;
        }
    }
    raw
}

/// Gradient direction folded into `[0, pi]`, from a rational approximation of the
/// arctangent (absolute error below 0.005 radians, a quarter of a degree, against
/// 20-degree bins). It replaces `atan2`, which dominated the cost of the features
/// inside the fuel-metered WebAssembly sandbox.
#[inline]
fn unsigned_angle(gx: f32, gy: f32) -> f32 {
    // Opposite gradients share an unsigned orientation, so turn the vector into the
    // upper half plane.
    let (x, y) = if gy < 0.0 { (-gx, -gy) } else { (gx, gy) };
    let (ax, ay) = (x.abs(), y);
    // atan(t) for t in [0, 1] is about t (pi / 4 + 0.273 (1 - t)).
    let atan = |t: f32| t * (std::f32::consts::FRAC_PI_4 + 0.273 * (1.0 - t));
    let first_quadrant = if ay <= ax {
        atan(ay / ax)
    } else {
        std::f32::consts::FRAC_PI_2 - atan(ax / ay)
    };
    if x < 0.0 {
        std::f32::consts::PI - first_quadrant
    } else {
        first_quadrant
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gray::tests::plane;

    #[test]
    fn vertical_edge_votes_for_horizontal_gradient() {
        // A step along x has a gradient angle of 0, which splits evenly between bin 0
        // (centred at 10 degrees) and bin 8 (centred at 170 degrees).
        let image = plane(8, 8, |x, _| if x < 4 { 0.0 } else { 200.0 });
        let raw = raw_histograms(&image, 2, 2);
        let first_cell = &raw[..BINS];
        // Pixels x = 3 in the first cell see a central difference of 200 on 4 rows.
        assert!((first_cell[0] - 400.0).abs() < 1e-3, "{first_cell:?}");
        assert!((first_cell[8] - 400.0).abs() < 1e-3, "{first_cell:?}");
        assert!(first_cell[1..8].iter().all(|v| *v == 0.0));
    }

    #[test]
    fn unsigned_angle_is_close_to_atan2() {
        for step in 0..720 {
            let theta = (step as f32 + 0.3).to_radians() * 0.5;
            let (gx, gy) = (3.0 * theta.cos(), 3.0 * theta.sin());
            let want = gy.atan2(gx).rem_euclid(std::f32::consts::PI);
            let got = unsigned_angle(gx, gy);
            // Compare on the circle of period pi, where 0 and pi are the same direction.
            let diff = (got - want).rem_euclid(std::f32::consts::PI);
            let error = diff.min(std::f32::consts::PI - diff);
            assert!(error < 0.005, "theta {theta}: got {got}, want {want}");
        }
    }

    #[test]
    fn polarity_does_not_change_histogram() {
        let dark_to_light = plane(8, 8, |x, _| if x < 4 { 0.0 } else { 200.0 });
        let light_to_dark = plane(8, 8, |x, _| if x < 4 { 200.0 } else { 0.0 });
        assert_eq!(raw_histograms(&dark_to_light, 2, 2), raw_histograms(&light_to_dark, 2, 2));
    }

    #[test]
    fn flat_plane_has_zero_features_and_padding() {
        let grid = CellGrid::new(&plane(12, 8, |_, _| 90.0), 1);
        assert_eq!((grid.cells_x, grid.cells_y, grid.columns(), grid.rows()), (3, 2, 5, 4));
        let mut window = Vec::new();
        grid.window(0, 0, 4, &mut window);
        assert_eq!(window.len(), 4 * 4 * BINS);
        assert!(window.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn dot_window_matches_window_features() {
        let grid = CellGrid::new(&plane(16, 16, |x, y| ((x * 7 + y * 13) % 29) as f32 * 5.0), 1);
        let mut features = Vec::new();
        grid.window(1, 0, 3, &mut features);
        let weights: Vec<f32> = (0..features.len()).map(|i| (i % 5) as f32 - 2.0).collect();
        let direct: f32 = features.iter().zip(&weights).map(|(a, b)| a * b).sum();
        assert!((grid.dot_window(1, 0, 3, &weights) - direct).abs() < 1e-4);
    }
}
