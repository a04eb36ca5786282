//! Group-relative advantages and weighted reward combination for GRPO.

/// Advantages of one group of completions for the same prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupAdvantages {
    /// One advantage per completion, in input order.
    pub advantages: Vec<f64>,
    /// True when every scored reward in the group is equal (or fewer than two were scored),
    /// so the group carries no learning signal and all advantages are exactly 0.
    pub zero_variance: bool,
}

/// Computes group-relative advantages from rewards (`None` = every reward function abstained).
///
/// Abstaining completions are left out of the group mean and standard deviation and get
/// advantage 0. Others get `r - mean`, divided by the Bessel-corrected standard deviation
/// (divide by `n - 1`) when `scale_by_std` is true, as in GRPO; with it false the result
/// is the mean-centred reward of Dr. GRPO. A zero-variance group gives exactly 0 everywhere
/// rather than 0/0.
pub fn group_advantages(rewards: &[Option<f64>], scale_by_std: bool) -> GroupAdvantages {
    let scored: Vec<f64> = rewards.iter().flatten().copied().collect();
    let all_equal = scored.windows(2).all(|pair| pair[0] == pair[1]);
    if scored.len() < 2 || all_equal {
        return GroupAdvantages { advantages: vec![0.0; rewards.len()], zero_variance: true };
    }
    let n = scored.len() as f64;
    let mean = scored.iter().sum::<f64>() / n;
    let std = (scored.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let advantages = rewards
        .iter()
        .map(|reward| match reward {
            Some(r) if scale_by_std => (r - mean) / std,
            Some(r) => r - mean,
            None => 0.0,
        })
        .collect();
    GroupAdvantages { advantages, zero_variance: false }
}

/// Combines the scores of several reward functions into one reward: the weighted sum of
/// the functions that scored, or `None` when all of them abstained.
///
/// `scores[f]` is function `f`'s score and `weights[f]` its weight (same length).
pub fn combine_rewards(scores: &[Option<f64>], weights: &[f64]) -> Option<f64> {
    debug_assert_eq!(scores.len(), weights.len());
    let mut total = None;
    for (score, weight) in scores.iter().zip(weights) {
        if let Some(score) = score {
            *total.get_or_insert(0.0) += weight * score;
        }
    }
    total
}
