//! F1 scores: set, binary, per-class, macro, micro and multi-label (per Action Unit).
//!
//! Every variant uses `F1 = 2 TP / (2 TP + FP + FN)`. The only zero division is
//! `TP = FP = FN = 0`, that is, a class that neither occurs nor is predicted. No true
//! positive with some FP or FN is an F1 of 0, not a zero division. What a zero division
//! scores is the caller's explicit [`ZeroDivision`] choice.

use std::collections::BTreeSet;

use crate::check;
use crate::StatsError;

/// Score given to an F1 of `0 / 0`, that is, `TP = FP = FN = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroDivision {
    /// Score 0.
    Zero,
    /// Score 1 (nothing to find and nothing predicted counts as perfect).
    One,
    /// Leave the class out of the average. Valid only for averages over classes
    /// ([`macro_f1`], [`multilabel_f1`]); other functions reject it.
    Exclude,
}

/// Counts and scores of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassF1<L> {
    pub label: L,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    /// `2 TP / (2 TP + FP + FN)`, or `None` when that is 0 / 0.
    pub f1: Option<f64>,
}

/// Returns `2 TP / (2 TP + FP + FN)`, or `None` when all three counts are 0.
fn f1_from_counts(
    true_positives: usize,
    false_positives: usize,
    false_negatives: usize,
) -> Option<f64> {
    let denominator = 2 * true_positives + false_positives + false_negatives;
    if denominator == 0 {
        return None;
    }
    Some(2.0 * true_positives as f64 / denominator as f64)
}

/// Resolves an undefined F1 under a policy that must give a number.
fn resolve(
    f1: Option<f64>,
    zero_division: ZeroDivision,
    function: &str,
) -> Result<f64, StatsError> {
    match (f1, zero_division) {
        (_, ZeroDivision::Exclude) => Err(StatsError::Unsupported(format!(
            "`ZeroDivision::Exclude` applies only to averages over classes, not to `{function}`: \
             pick `ZeroDivision::Zero` or `ZeroDivision::One`"
        ))),
        (Some(f1), _) => Ok(f1),
        (None, ZeroDivision::Zero) => Ok(0.0),
        (None, ZeroDivision::One) => Ok(1.0),
    }
}

/// Computes the F1 of a predicted set against the expected set (duplicates ignored).
///
/// Both empty scores `zero_division`; exactly one empty scores 0.
///
/// # Errors
/// `zero_division` is [`ZeroDivision::Exclude`].
pub fn set_f1<T: Ord>(
    predicted: &[T],
    expected: &[T],
    zero_division: ZeroDivision,
) -> Result<f64, StatsError> {
    let predicted: BTreeSet<&T> = predicted.iter().collect();
    let expected: BTreeSet<&T> = expected.iter().collect();
    let true_positives = predicted.intersection(&expected).count();
    let false_positives = predicted.len() - true_positives;
    let false_negatives = expected.len() - true_positives;
    resolve(
        f1_from_counts(true_positives, false_positives, false_negatives),
        zero_division,
        "set_f1",
    )
}

/// Computes the F1 of the positive class (`true`) of binary labels.
///
/// # Errors
/// Empty or unequal inputs, or `zero_division` is [`ZeroDivision::Exclude`].
pub fn binary_f1(
    y_true: &[bool],
    y_pred: &[bool],
    zero_division: ZeroDivision,
) -> Result<f64, StatsError> {
    check::non_empty("y_true", y_true)?;
    check::same_length("y_true", y_true, "y_pred", y_pred)?;
    let mut counts = (0, 0, 0);
    for (&truth, &prediction) in y_true.iter().zip(y_pred) {
        match (truth, prediction) {
            (true, true) => counts.0 += 1,
            (false, true) => counts.1 += 1,
            (true, false) => counts.2 += 1,
            (false, false) => {}
        }
    }
    resolve(
        f1_from_counts(counts.0, counts.1, counts.2),
        zero_division,
        "binary_f1",
    )
}

/// Computes one-vs-rest counts and F1 for every class of a multi-class labelling.
///
/// `labels` lists the classes to score, in output order; `None` uses the sorted union
/// of the labels in `y_true` and `y_pred`. A listed class that never occurs gets
/// `f1: None`.
///
/// # Errors
/// Empty or unequal inputs.
pub fn per_class_f1<L: Ord + Clone>(
    y_true: &[L],
    y_pred: &[L],
    labels: Option<&[L]>,
) -> Result<Vec<ClassF1<L>>, StatsError> {
    check::non_empty("y_true", y_true)?;
    check::same_length("y_true", y_true, "y_pred", y_pred)?;
    let labels: Vec<L> = match labels {
        Some(labels) => labels.to_vec(),
        None => y_true
            .iter()
            .chain(y_pred)
            .cloned()
            .collect::<BTreeSet<L>>()
            .into_iter()
            .collect(),
    };
    let scores = labels
        .into_iter()
        .map(|label| {
            let mut true_positives = 0;
            let mut false_positives = 0;
            let mut false_negatives = 0;
            for (truth, prediction) in y_true.iter().zip(y_pred) {
                match (*truth == label, *prediction == label) {
                    (true, true) => true_positives += 1,
                    (false, true) => false_positives += 1,
                    (true, false) => false_negatives += 1,
                    (false, false) => {}
                }
            }
            ClassF1 {
                f1: f1_from_counts(true_positives, false_positives, false_negatives),
                label,
                true_positives,
                false_positives,
                false_negatives,
            }
        })
        .collect();
    Ok(scores)
}

/// Averages per-class F1 values under a zero-division policy.
fn average_f1(
    per_class: impl Iterator<Item = Option<f64>>,
    zero_division: ZeroDivision,
) -> Result<f64, StatsError> {
    let mut sum = 0.0;
    let mut count = 0usize;
    for f1 in per_class {
        let value = match (f1, zero_division) {
            (Some(f1), _) => f1,
            (None, ZeroDivision::Zero) => 0.0,
            (None, ZeroDivision::One) => 1.0,
            (None, ZeroDivision::Exclude) => continue,
        };
        sum += value;
        count += 1;
    }
    if count == 0 {
        return Err(StatsError::Unsupported(
            "macro F1 is undefined: every class is absent from both labels and predictions, \
             so `ZeroDivision::Exclude` left nothing to average"
                .to_string(),
        ));
    }
    Ok(sum / count as f64)
}

/// Computes the unweighted mean of per-class F1 (see [`per_class_f1`] for `labels`).
///
/// A class that neither occurs nor is predicted scores `zero_division`, or is left
/// out of the mean with [`ZeroDivision::Exclude`].
///
/// # Errors
/// Empty or unequal inputs, or every class excluded.
pub fn macro_f1<L: Ord + Clone>(
    y_true: &[L],
    y_pred: &[L],
    labels: Option<&[L]>,
    zero_division: ZeroDivision,
) -> Result<f64, StatsError> {
    let per_class = per_class_f1(y_true, y_pred, labels)?;
    average_f1(per_class.iter().map(|class| class.f1), zero_division)
}

/// Computes F1 from TP, FP and FN summed over the classes in `labels`
/// (see [`per_class_f1`]).
///
/// # Errors
/// Empty or unequal inputs, or `zero_division` is [`ZeroDivision::Exclude`].
pub fn micro_f1<L: Ord + Clone>(
    y_true: &[L],
    y_pred: &[L],
    labels: Option<&[L]>,
    zero_division: ZeroDivision,
) -> Result<f64, StatsError> {
    let per_class = per_class_f1(y_true, y_pred, labels)?;
    let (true_positives, false_positives, false_negatives) =
        per_class.iter().fold((0, 0, 0), |sums, class| {
            (
                sums.0 + class.true_positives,
                sums.1 + class.false_positives,
                sums.2 + class.false_negatives,
            )
        });
    resolve(
        f1_from_counts(true_positives, false_positives, false_negatives),
        zero_division,
        "micro_f1",
    )
}

/// F1 of each label of a multi-label task, and their mean.
#[derive(Debug, Clone, PartialEq)]
pub struct MultilabelF1 {
    /// F1 of each label (column), `None` where it was 0 / 0 and the policy is
    /// [`ZeroDivision::Exclude`].
    pub per_label: Vec<Option<f64>>,
    /// Mean of the per-label F1 values that are present.
    pub mean: f64,
}

/// Computes the F1 of each label of a multi-label task and their mean, such as the F1 of
/// each facial Action Unit over a set of images.
///
/// `y_true[i][j]` is true when item `i` has label `j`; every row has the same length.
///
/// # Errors
/// Empty inputs, rows of different lengths, or every label excluded.
pub fn multilabel_f1(
    y_true: &[Vec<bool>],
    y_pred: &[Vec<bool>],
    zero_division: ZeroDivision,
) -> Result<MultilabelF1, StatsError> {
    check::non_empty("y_true", y_true)?;
    check::same_length("y_true", y_true, "y_pred", y_pred)?;
    let label_count = y_true[0].len();
    for (truth, prediction) in y_true.iter().zip(y_pred) {
        check::same_length("y_true[0]", &y_true[0], "y_true row", truth)?;
        check::same_length("y_true row", truth, "y_pred row", prediction)?;
    }

    let raw: Vec<Option<f64>> = (0..label_count)
        .map(|label| {
            let mut counts = (0, 0, 0);
            for (truth, prediction) in y_true.iter().zip(y_pred) {
                match (truth[label], prediction[label]) {
                    (true, true) => counts.0 += 1,
                    (false, true) => counts.1 += 1,
                    (true, false) => counts.2 += 1,
                    (false, false) => {}
                }
            }
            f1_from_counts(counts.0, counts.1, counts.2)
        })
        .collect();
    let mean = average_f1(raw.iter().copied(), zero_division)?;
    let per_label = raw
        .into_iter()
        .map(|f1| match (f1, zero_division) {
            (Some(f1), _) => Some(f1),
            (None, ZeroDivision::Zero) => Some(0.0),
            (None, ZeroDivision::One) => Some(1.0),
            (None, ZeroDivision::Exclude) => None,
        })
        .collect();
    Ok(MultilabelF1 { per_label, mean })
}
