//! Run folders with hand-chosen values, written through the public writers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assay_report::spec::{ReportsSpec, TableSpec};
use assay_report::{write_metrics, MetricPoint, PredictionsWriter, ReferenceBlock, ResultsWriter, Runs};

/// Accuracy of each stage per seed on `mathvista` (fractions).
pub const ACCURACY: [(&str, &[f64]); 3] = [("base", &[0.50]), ("grpo", &[0.70, 0.72, 0.74]), ("sft", &[0.60, 0.64, 0.65])];
/// Expected calibration error per seed; `base` has none, so its cells are missing.
pub const ECE: [(&str, &[f64]); 2] = [("grpo", &[0.05, 0.07, 0.06]), ("sft", &[0.10, 0.12, 0.14])];

/// Writes three seeds (`seed0`..`seed2`) under `root/runs/demo/` and returns their folders.
pub fn write_runs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for seed in 0..3 {
        let run = format!("seed{seed}");
        let run_dir = root.join("runs/demo").join(&run);
        for stage in ["base", "grpo", "sft"] {
            let mut results = ResultsWriter::new(&run, stage);
            if let Some(value) = series(&ACCURACY, stage, seed) {
                results.record("mathvista", "accuracy", value);
                // A second dataset makes the default filter matter.
                results.record("chartqa", "accuracy", value - 0.1);
            }
            if let Some(value) = series(&ECE, stage, seed) {
                results.record("mathvista", "ece", value);
            }
            // AUROC per subset; it is undefined for `sft` on `hard` (one class only).
            if stage != "base" {
                results.record_subset("mathvista", "easy", "auroc", Some(0.80 + 0.01 * seed as f64));
                let hard = (stage == "grpo").then_some(0.60 + 0.02 * seed as f64);
                results.record_subset("mathvista", "hard", "auroc", hard);
            }
            if results.rows().is_empty() {
                continue;
            }
            let stage_dir = run_dir.join("stages").join(stage);
            results.write(&stage_dir).unwrap();

            // Per-sample rows: sample i is correct when i < correct_count.
            if stage != "base" {
                let correct_count = if stage == "grpo" { 3 } else { 1 };
                let mut predictions = PredictionsWriter::new(&run, stage);
                for i in 0..4 {
                    let correct = if i < correct_count { 1.0 } else { 0.0 };
                    let confidence = 0.3 + 0.2 * i as f64;
                    predictions.push("mathvista", &format!("q{i}"), &[("correct", correct), ("confidence", confidence)]).unwrap();
                }
                predictions.write(&stage_dir).unwrap();
            }
        }
        let points: Vec<MetricPoint> = (0..20)
            .flat_map(|step| {
                let t = step as f64;
                [
                    MetricPoint { stage: "grpo".into(), step, name: "reward".into(), value: 1.0 - (-t / 5.0).exp() },
                    MetricPoint { stage: "grpo".into(), step, name: "kl".into(), value: 0.01 * t },
                    MetricPoint { stage: "grpo".into(), step, name: "entropy".into(), value: 2.0 - 0.05 * t },
                ]
            })
            .collect();
        write_metrics(&run_dir.join("metrics.parquet"), &points).unwrap();
        dirs.push(run_dir);
    }
    dirs
}

fn series(table: &[(&str, &[f64])], stage: &str, seed: usize) -> Option<f64> {
    table.iter().find(|(s, _)| *s == stage).and_then(|(_, values)| values.get(seed).copied())
}

/// Loads the three fixture seeds.
pub fn load(root: &Path) -> Runs {
    Runs::load(&write_runs(root)).unwrap()
}

/// The `reports:` section used by the snapshot tests, as a user would write it.
pub fn reports_spec() -> ReportsSpec {
    serde_json::from_value(serde_json::json!({
        "tables": [
            {
                "name": "main",
                "title": "Accuracy and calibration on MathVista",
                "metrics": [
                    {"name": "accuracy", "format": {"style": "percent"}},
                    {"name": "ece", "label": "ECE", "direction": "lower"}
                ],
                "rows": {"by": "stage", "values": ["base", "sft", "grpo"], "labels": {"grpo": "GRPO (ours)"}, "title": "Method"},
                "filter": {"dataset": ["mathvista"]}
            },
            {
                "name": "subsets",
                "title": "AUROC by subset",
                "metrics": [{"name": "auroc", "format": {"decimals": 2}}],
                "rows": {"by": "subset"},
                "columns": {"by": "stage"},
                "aggregate": {"method": "mean"},
                "bold_best": "row"
            }
        ]
    }))
    .unwrap()
}

/// Published numbers for table `main`, in display units.
pub fn reference() -> ReferenceBlock {
    let mut rows = BTreeMap::new();
    rows.insert("grpo".to_owned(), BTreeMap::from([("accuracy".to_owned(), 70.0), ("ece".to_owned(), 0.055)]));
    // Matched by label rather than key.
    rows.insert("sft".to_owned(), BTreeMap::from([("accuracy (%)".to_owned(), 65.0)]));
    BTreeMap::from([("main".to_owned(), rows)])
}

/// The spec of one table by name.
pub fn table_spec(name: &str) -> TableSpec {
    reports_spec().tables.into_iter().find(|t| t.name == name).unwrap()
}
