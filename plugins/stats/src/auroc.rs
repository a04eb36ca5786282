//! Area under the ROC curve of a score against binary labels.

use crate::check;
use crate::StatsError;

/// Computes the AUROC of `scores` for separating `labels == true` from `labels == false`.
///
/// This is the Mann-Whitney statistic: the probability that a random positive scores
/// above a random negative, with tied pairs counting one half (through average ranks).
/// Returns `Ok(None)` and logs a warning when only one class is present, because the
/// area is undefined there. Callers report it as missing, never as 0 or 0.5.
///
/// # Errors
/// Empty or unequal inputs, or a NaN or infinite score.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Result<Option<f64>, StatsError> {
    check::non_empty("scores", scores)?;
    check::same_length("scores", scores, "labels", labels)?;
    check::finite("scores", scores)?;

    let positives = labels.iter().filter(|&&label| label).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        tracing::warn!(
            positives,
            negatives,
            "AUROC is undefined with a single class; reporting it as missing"
        );
        return Ok(None);
    }

    // Rank the scores (1-based), giving each run of ties the mean of its ranks.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start + 1 ..= end have mean (start + 1 + end) / 2.
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        positive_rank_sum += average_rank * tied_positives as f64;
        start = end;
    }

    let positives = positives as f64;
    let negatives = negatives as f64;
    let u_statistic = positive_rank_sum - positives * (positives + 1.0) / 2.0;
    Ok(Some(u_statistic / (positives * negatives)))
}
