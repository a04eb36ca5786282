//! Regeneration check against committed tables, and run comparison.

use assay_report::compare::CompareOptions;
use assay_report::{build_table, check, compare, render_markdown, Format, PredictionsWriter, ReferenceBlock, ResultsWriter, Runs};

use crate::fixture;

#[test]
fn check_passes_on_identical_tables() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let table = build_table(&fixture::table_spec("main"), &fixture::reference(), &runs).unwrap();
    let committed = dir.path().join("reports/demo");
    assay_report::write_table(&table, Format::Markdown, &committed).unwrap();
    let outcome = check(&[table], &committed, Format::Markdown).unwrap();
    assert!(outcome.passed(), "{outcome}");
    assert_eq!(outcome.checked.len(), 1);
}

#[test]
fn check_reports_moved_number() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let table = build_table(&fixture::table_spec("main"), &fixture::reference(), &runs).unwrap();
    let committed = dir.path().join("reports/demo");
    std::fs::create_dir_all(&committed).unwrap();
    let edited = render_markdown(&table).replace("**72.0 ± 2.0**", "**71.8 ± 2.0**");
    std::fs::write(committed.join("main.md"), edited).unwrap();

    let outcome = check(std::slice::from_ref(&table), &committed, Format::Markdown).unwrap();
    assert!(!outcome.passed());
    assert_eq!(outcome.mismatches.len(), 1);
    let mismatch = &outcome.mismatches[0];
    assert_eq!(mismatch.line, 7);
    assert_eq!(mismatch.reason, "71.8 became 72.0 (change +0.2) (tolerance 0)");
    let report = outcome.to_string();
    assert!(report.contains("main.md:7: 71.8 became 72.0"), "{report}");
    assert!(report.contains("  committed:   | GRPO (ours) | **71.8 ± 2.0**"), "{report}");

    // A tolerance of 0.25 display units accepts the change.
    let mut tolerant = table.clone();
    tolerant.tolerance = 0.25;
    assert!(check(&[tolerant], &committed, Format::Markdown).unwrap().passed());
}

#[test]
fn check_reports_missing_committed_table() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let table = build_table(&fixture::table_spec("main"), &ReferenceBlock::new(), &runs).unwrap();
    let outcome = check(&[table.clone()], dir.path(), Format::Csv).unwrap();
    assert_eq!(outcome.mismatches[0].reason, "no committed copy of table `main`");
    assert!(check(&[table], dir.path(), Format::Parquet).is_err());
}

fn write_run(root: &std::path::Path, name: &str, correct: &[f64]) -> std::path::PathBuf {
    let run_dir = root.join(name);
    let stage_dir = run_dir.join("stages/eval");
    let mut results = ResultsWriter::new(name, "eval");
    results.record("mathvista", "accuracy", correct.iter().sum::<f64>() / correct.len() as f64);
    results.record("mathvista", "latency_ms", 10.0);
    results.write(&stage_dir).unwrap();
    let mut predictions = PredictionsWriter::new(name, "eval");
    for (i, c) in correct.iter().enumerate() {
        predictions.push("mathvista", &format!("q{i}"), &[("correct", *c)]).unwrap();
    }
    predictions.write(&stage_dir).unwrap();
    run_dir
}

#[test]
fn compare_flags_change_beyond_noise() {
    let dir = tempfile::tempdir().unwrap();
    let a = Runs::load(&[write_run(dir.path(), "a", &[0.0; 40])]).unwrap();
    let b = Runs::load(&[write_run(dir.path(), "b", &[1.0; 40])]).unwrap();
    let comparison = compare(&a, &b, &CompareOptions::default()).unwrap();
    let accuracy = comparison.changes.iter().find(|c| c.metric == "accuracy").unwrap();
    assert_eq!(accuracy.change, Some(1.0));
    assert_eq!(accuracy.pairs, 40);
    assert_eq!(accuracy.exceeds_noise(), Some(true));
    // No per-sample column for latency, so no noise estimate.
    let latency = comparison.changes.iter().find(|c| c.metric == "latency_ms").unwrap();
    assert_eq!(latency.change, Some(0.0));
    assert_eq!(latency.exceeds_noise(), None);
    insta::assert_snapshot!(comparison.to_markdown());
}

#[test]
fn compare_small_change_within_noise() {
    let dir = tempfile::tempdir().unwrap();
    // B fixes one sample and breaks another out of 10: mean change 0.
    let base: Vec<f64> = (0..10).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect();
    let mut changed = base.clone();
    changed.swap(0, 1);
    let a = Runs::load(&[write_run(dir.path(), "a", &base)]).unwrap();
    let b = Runs::load(&[write_run(dir.path(), "b", &changed)]).unwrap();
    let comparison = compare(&a, &b, &CompareOptions::default()).unwrap();
    let accuracy = comparison.changes.iter().find(|c| c.metric == "accuracy").unwrap();
    assert_eq!(accuracy.change, Some(0.0));
    assert_eq!(accuracy.exceeds_noise(), Some(false));
}

#[test]
fn load_rejects_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let error = Runs::load(&[dir.path().to_owned()]).unwrap_err().to_string();
    assert!(error.contains("no `stages/*/results.parquet` found"), "{error}");
    let error = Runs::load(&[dir.path().join("absent")]).unwrap_err().to_string();
    assert!(error.contains("not found"), "{error}");
}
