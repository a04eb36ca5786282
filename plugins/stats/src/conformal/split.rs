//! Seeded calibration/test splits that keep each trajectory on one side.
//!
//! Steps of one agent trajectory are not exchangeable with each other, so an item's
//! whole trajectory goes to calibration or to test, never to both.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::check;
use crate::StatsError;

/// Item indices of a calibration/test split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Calibration item indices, ascending.
    pub calibration: Vec<usize>,
    /// Test item indices, ascending.
    pub test: Vec<usize>,
}

/// Splits items by trajectory: a seeded shuffle of the distinct trajectories, of which
/// `round(calibration_fraction * count)` go to calibration and the rest to test.
///
/// `trajectories[i]` is item `i`'s trajectory id; `calibration_fraction` lies in
/// `(0, 1)`. The same inputs and `seed` give the same split.
///
/// # Errors
/// Empty input, or a fraction outside `(0, 1)`.
pub fn trajectory_split<T: Ord>(
    trajectories: &[T],
    calibration_fraction: f64,
    seed: u64,
) -> Result<Split, StatsError> {
    check::non_empty("trajectories", trajectories)?;
    if !(calibration_fraction > 0.0 && calibration_fraction < 1.0) {
        return Err(StatsError::InvalidParameter {
            name: "calibration_fraction",
            value: calibration_fraction,
            expected: "a fraction strictly between 0 and 1",
        });
    }

    // Number the distinct trajectories in sorted order so the shuffle does not depend
    // on the order of items.
    let mut ids: BTreeMap<&T, usize> = BTreeMap::new();
    for trajectory in trajectories {
        ids.entry(trajectory).or_insert(0);
    }
    for (index, id) in ids.values_mut().enumerate() {
        *id = index;
    }

    let mut shuffled: Vec<usize> = (0..ids.len()).collect();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let calibration_count = (calibration_fraction * ids.len() as f64).round() as usize;
    let mut in_calibration = vec![false; ids.len()];
    for &id in &shuffled[..calibration_count] {
        in_calibration[id] = true;
    }

    let mut split = Split {
        calibration: Vec::new(),
        test: Vec::new(),
    };
    for (item, trajectory) in trajectories.iter().enumerate() {
        if in_calibration[ids[trajectory]] {
            split.calibration.push(item);
        } else {
            split.test.push(item);
        }
    }
    Ok(split)
}

/// Splits `item_count` items at random, each item its own trajectory.
///
/// # Errors
/// As for [`trajectory_split`].
pub fn random_split(
    item_count: usize,
    calibration_fraction: f64,
    seed: u64,
) -> Result<Split, StatsError> {
    let items: Vec<usize> = (0..item_count).collect();
    trajectory_split(&items, calibration_fraction, seed)
}
