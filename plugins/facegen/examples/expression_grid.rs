//! Writes the eight emotion prototypes at full intensity for one identity of the
//! RAF-DB-like domain, every cell scaled to 256x256, to inspect expressions closely.
//!
//! Run: `cargo run -p assay-facegen --example expression_grid -- [OUTPUT.png] [SEED] [INDEX]`

use assay_facegen::expression::sample_prototype;
use assay_facegen::{render_params, sample_params, Domain, Emotion};
use rand::SeedableRng;

const CELL: u32 = 256;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let output = args
        .next()
        .unwrap_or_else(|| "expression_grid.png".to_string());
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let index: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);

    let mut config = Domain::Rafdb.config();
    config.noise_sigma = assay_facegen::Range::new(0.0, 0.0);
    config.blur_sigma = assay_facegen::Range::new(0.0, 0.0);
    let mut sheet = image::RgbImage::new(4 * CELL, 2 * CELL);
    for (i, emotion) in Emotion::ALL.iter().enumerate() {
        let mut params = sample_params(&config, seed, index)?;
        params.occlusion = None;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        params.activation = sample_prototype(*emotion, 1.0, &mut rng);
        let sample = render_params(&config, &params)?;
        let (x0, y0) = ((i as u32 % 4) * CELL, (i as u32 / 4) * CELL);
        for y in 0..CELL {
            for x in 0..CELL {
                let sx = x * sample.image.width / CELL;
                let sy = y * sample.image.height / CELL;
                let px = [0, 1, 2].map(|c| sample.image.get(sx, sy, c));
                sheet.put_pixel(x0 + x, y0 + y, image::Rgb(px));
            }
        }
    }
    sheet.save(&output)?;
    eprintln!("wrote {output}");
    Ok(())
}
