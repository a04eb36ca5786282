//! Conformal risk control threshold on one million calibration items.
//!
//! Run: `cargo bench -p assay-stats --bench calibrate`.

use assay_stats::conformal::crc_threshold;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ITEM_COUNT: usize = 1_000_000;

/// Scores uniform in [0, 1); an item is harmful with probability equal to its score.
fn synthetic_items(graded: bool) -> (Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let scores: Vec<f64> = (0..ITEM_COUNT).map(|_| rng.random::<f64>()).collect();
    let harms = scores
        .iter()
        .map(|&score| {
            let harmful = rng.random::<f64>() < score;
            match (harmful, graded) {
                (false, _) => 0.0,
                (true, false) => 1.0,
                // 53-bit fractions stay within the i128 fixed-point path.
                (true, true) => rng.random::<f64>(),
            }
        })
        .collect();
    (scores, harms)
}

fn bench_crc_threshold(c: &mut Criterion) {
    let (scores, binary_harms) = synthetic_items(false);
    let (_, graded_harms) = synthetic_items(true);
    // Harms spread over 200 binary orders of magnitude need more than 126 bits, which
    // forces the arbitrary-precision path.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let wide_harms: Vec<f64> = graded_harms
        .iter()
        .map(|&harm| harm * 2f64.powi(-rng.random_range(0..200)))
        .collect();
    c.bench_function("crc_threshold 1M binary harms", |b| {
        b.iter(|| crc_threshold(&scores, &binary_harms, 0.1, 1.0).unwrap())
    });
    c.bench_function("crc_threshold 1M graded harms", |b| {
        b.iter(|| crc_threshold(&scores, &graded_harms, 0.1, 1.0).unwrap())
    });
    c.bench_function("crc_threshold 1M wide-range harms", |b| {
        b.iter(|| crc_threshold(&scores, &wide_harms, 0.1, 1.0).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_crc_threshold
}
criterion_main!(benches);
