//! Writes a contact sheet of the eight emotions (columns) in the four emotion domains
//! plus the AU-only DISFA-like domain (rows), every cell scaled to 128x128.
//!
//! Run: `cargo run -p assay-facegen --example contact_sheet -- [OUTPUT.png] [SEED]`
//! (default `contact_sheet.png`, seed 1).

use assay_facegen::expression::sample_prototype;
use assay_facegen::{render_params, sample_params, Domain, Emotion, FaceImage};
use rand::SeedableRng;

const CELL: u32 = 128;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let output = args
        .next()
        .unwrap_or_else(|| "contact_sheet.png".to_string());
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);

    let domains = [
        Domain::Ferplus,
        Domain::Rafdb,
        Domain::Affectnet,
        Domain::Sfew,
        Domain::Disfa,
    ];
    let columns = Emotion::ALL.len() as u32;
    let mut sheet = image::RgbImage::new(columns * CELL, domains.len() as u32 * CELL);

    for (row, domain) in domains.iter().enumerate() {
        let config = domain.config();
        for (column, emotion) in Emotion::ALL.iter().enumerate() {
            // Force each column's emotion at a clear intensity; the DISFA-like row shows
            // consecutive frames of one subject instead.
            let index = if *domain == Domain::Disfa {
                4 * column as u64
            } else {
                column as u64
            };
            let mut params = sample_params(&config, seed, index)?;
            if *domain != Domain::Disfa {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + column as u64);
                params.activation = sample_prototype(*emotion, 0.9, &mut rng);
                params.emotion = Some(*emotion);
                params.expressed_emotion = Some(*emotion);
            }
            let sample = render_params(&config, &params)?;
            paste(
                &mut sheet,
                &sample.image,
                column as u32 * CELL,
                row as u32 * CELL,
            );
        }
    }
    sheet.save(&output)?;
    eprintln!("wrote {output}");
    Ok(())
}

/// Copies `image` scaled to `CELL` x `CELL` (nearest neighbour) at `(x0, y0)`.
fn paste(sheet: &mut image::RgbImage, image: &FaceImage, x0: u32, y0: u32) {
    for y in 0..CELL {
        for x in 0..CELL {
            let sx = x * image.width / CELL;
            let sy = y * image.height / CELL;
            let pixel = if image.channels == 1 {
                let v = image.get(sx, sy, 0);
                [v, v, v]
            } else {
                [
                    image.get(sx, sy, 0),
                    image.get(sx, sy, 1),
                    image.get(sx, sy, 2),
                ]
            };
            sheet.put_pixel(x0 + x, y0 + y, image::Rgb(pixel));
        }
    }
}
