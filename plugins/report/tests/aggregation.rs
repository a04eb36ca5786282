//! Aggregation over seeds and bootstrap intervals against values computed by hand.

use assay_report::spec::Aggregate;
use assay_report::stats::{bootstrap_mean, mean, paired_bootstrap, percentile, sample_std};
use assay_report::{build_table, ReferenceBlock, Spread};

use crate::fixture;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn misspelled_names_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let spec = fixture::table_spec("main");
    assert_eq!(assay_report::build::unknown_names(&spec, &runs).unwrap(), Vec::<String>::new());

    let mut misspelled = spec.clone();
    misspelled.metrics[0].name = "acuracy".into();
    misspelled.rows.values.push("nosuch".into());
    let problems = assay_report::build::unknown_names(&misspelled, &runs).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("metric `acuracy` is in no results"), "{problems:?}");
    assert_eq!(problems[1], "stage `nosuch` is in no results");
}

#[test]
fn mean_and_std_over_three_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let table = build_table(&fixture::table_spec("main"), &ReferenceBlock::new(), &runs).unwrap();

    // grpo accuracy 0.70, 0.72, 0.74: mean 72.0 %, deviations -2, 0, +2 points, so the
    // sample std is sqrt((4 + 0 + 4) / 2) = 2.0 points.
    let grpo = table.rows.iter().find(|r| r.label == "GRPO (ours)").unwrap();
    let accuracy = grpo.cells[0].estimate.unwrap();
    assert!(close(accuracy.value, 72.0), "{accuracy:?}");
    assert!(matches!(accuracy.spread, Spread::Std(s) if close(s, 2.0)), "{accuracy:?}");

    // sft accuracy 0.60, 0.64, 0.65: mean 63.0 %, squares 9 + 1 + 4 = 14, std sqrt(7) = 2.6458.
    let sft = table.rows.iter().find(|r| r.label == "sft").unwrap();
    let accuracy = sft.cells[0].estimate.unwrap();
    assert!(close(accuracy.value, 63.0), "{accuracy:?}");
    assert!(matches!(accuracy.spread, Spread::Std(s) if close(s, 7f64.sqrt())), "{accuracy:?}");
    assert_eq!(sft.cells[0].text().unwrap(), "63.0 ± 2.6");

    // sft ece 0.10, 0.12, 0.14: mean 0.12, std 0.02 (plain format, 3 decimals).
    let ece = sft.cells[1].estimate.unwrap();
    assert!(close(ece.value, 0.12), "{ece:?}");
    assert!(matches!(ece.spread, Spread::Std(s) if close(s, 0.02)), "{ece:?}");

    // One seed has no standard deviation.
    let base = &table.rows[0];
    assert_eq!(base.cells[0].estimate.unwrap().spread, Spread::None);
}

#[test]
fn mean_skips_undefined_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let table = build_table(&fixture::table_spec("subsets"), &ReferenceBlock::new(), &runs).unwrap();
    // grpo auroc on `hard`: 0.60, 0.62, 0.64, so mean 0.62; sft is undefined there.
    let hard = table.rows.iter().find(|r| r.label == "hard").unwrap();
    let grpo = table.columns.iter().position(|c| c == "grpo").unwrap();
    let sft = table.columns.iter().position(|c| c == "sft").unwrap();
    assert!(close(hard.cells[grpo].estimate.unwrap().value, 0.62));
    assert_eq!(hard.cells[sft].estimate, None);
}

#[test]
fn stats_helpers_match_hand_values() {
    assert_eq!(mean(&[]), None);
    assert!(close(mean(&[1.0, 2.0, 6.0]).unwrap(), 3.0));
    assert_eq!(sample_std(&[4.0]), None);
    // Deviations -2, -1, 3 from the mean 3: sqrt(14 / 2).
    assert!(close(sample_std(&[1.0, 2.0, 6.0]).unwrap(), 7f64.sqrt()));
    // NumPy: percentile([1, 2, 3, 4], 25) = 1.75 and percentile(..., 90) = 3.7.
    assert!(close(percentile(&[1.0, 2.0, 3.0, 4.0], 0.25).unwrap(), 1.75));
    assert!(close(percentile(&[1.0, 2.0, 3.0, 4.0], 0.90).unwrap(), 3.7));
    assert_eq!(percentile(&[], 0.5), None);
}

#[test]
fn bootstrap_interval_of_one_in_four() {
    // Resampling [0, 0, 0, 1] gives a mean of k / 4 with k ~ Binomial(4, 1/4):
    // P(k = 0) = 0.316 > 2.5 %, so the lower end is 0; P(k >= 3) = 0.051 > 2.5 % but
    // P(k = 4) = 0.004 < 2.5 %, so the upper end is 0.75.
    let interval = bootstrap_mean(&[0.0, 0.0, 0.0, 1.0], 10_000, 0.95, 7).unwrap();
    assert!(close(interval.estimate, 0.25));
    assert!(close(interval.low, 0.0), "{interval:?}");
    assert!(close(interval.high, 0.75), "{interval:?}");
}

#[test]
fn bootstrap_is_seeded() {
    let values: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
    let a = bootstrap_mean(&values, 500, 0.9, 3).unwrap();
    let b = bootstrap_mean(&values, 500, 0.9, 3).unwrap();
    let c = bootstrap_mean(&values, 500, 0.9, 4).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.low < a.estimate);
    assert!(a.estimate < a.high);
}

#[test]
fn bootstrap_of_constant_is_a_point() {
    let interval = bootstrap_mean(&[0.4; 9], 200, 0.95, 0).unwrap();
    assert!(close(interval.low, 0.4));
    assert!(close(interval.high, 0.4));
}

#[test]
fn paired_bootstrap_differences() {
    // Every pair differs by exactly +1, so every resampled mean difference is 1.
    let interval = paired_bootstrap(&[0.0, 1.0, 2.0], &[1.0, 2.0, 3.0], 100, 0.95, 0).unwrap();
    assert!(close(interval.estimate, 1.0));
    assert!(close(interval.low, 1.0));
    assert!(close(interval.high, 1.0));
    assert_eq!(paired_bootstrap(&[1.0], &[1.0, 2.0], 100, 0.95, 0), None);
}

#[test]
fn bootstrap_table_pools_per_sample_rows() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let mut spec = fixture::table_spec("main");
    spec.metrics.truncate(1);
    spec.metrics[0].per_sample_column = Some("correct".into());
    spec.aggregate = Aggregate::Bootstrap { resamples: 10_000, confidence: 0.95, seed: 0 };
    let table = build_table(&spec, &ReferenceBlock::new(), &runs).unwrap();

    // sft: 1 of 4 samples correct in each of 3 seeds, pooled to 12 samples with mean 0.25.
    // Resampled means are k / 12 with k ~ Binomial(12, 1/4): P(k = 0) = 0.032 > 2.5 %, so the
    // lower end is 0; P(k >= 7) = 0.014 and P(k >= 6) = 0.054 put the upper end at 6 / 12.
    let sft = table.rows.iter().find(|r| r.label == "sft").unwrap();
    let estimate = sft.cells[0].estimate.unwrap();
    assert!(close(estimate.value, 25.0), "{estimate:?}");
    match estimate.spread {
        Spread::Interval { low, high } => {
            assert!(close(low, 0.0), "{estimate:?}");
            assert!(close(high, 50.0), "{estimate:?}");
        }
        other => panic!("expected an interval, got {other:?}"),
    }
    assert_eq!(sft.cells[0].text().unwrap(), "25.0 [0.0, 50.0]");

    // base has results but no predictions, so the bootstrap cell is missing.
    assert_eq!(table.rows[0].cells[0].estimate, None);
}
