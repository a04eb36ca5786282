//! Derivation of per-stage seeds from the experiment seed.

use sha2::{Digest, Sha256};

/// Derives the seed of one stage from the experiment seed and the stage name, so that
/// adding or reordering stages does not change the randomness of the others.
pub fn stage_seed(experiment_seed: u64, stage_name: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(experiment_seed.to_le_bytes());
    hasher.update(stage_name.as_bytes());
    let digest = hasher.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_seed_depends_on_both_inputs() {
        assert_eq!(stage_seed(7, "sft"), stage_seed(7, "sft"));
        assert_ne!(stage_seed(7, "sft"), stage_seed(8, "sft"));
        assert_ne!(stage_seed(7, "sft"), stage_seed(7, "grpo"));
    }
}
