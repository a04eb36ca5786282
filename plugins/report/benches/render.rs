//! Rendering every declared table from one million tidy metric rows.
//!
//! Run with `cargo bench -p assay-report --bench render`.

use criterion::{criterion_group, criterion_main, Criterion};

use assay_report::spec::ReportsSpec;
use assay_report::{render_all, results_frame, Format, ReferenceBlock, ResultRow, Runs};

const SEEDS: usize = 10;
const STAGES: usize = 20;
const DATASETS: usize = 50;
const SUBSETS: usize = 10;
const METRICS: usize = 10;

/// 10 seeds x 20 stages x 50 datasets x 10 subsets x 10 metrics = 1,000,000 rows.
fn million_rows() -> Runs {
    let mut rows = Vec::with_capacity(SEEDS * STAGES * DATASETS * SUBSETS * METRICS);
    for seed in 0..SEEDS {
        for stage in 0..STAGES {
            for dataset in 0..DATASETS {
                for subset in 0..SUBSETS {
                    for metric in 0..METRICS {
                        let subset = if subset == 0 { "all".to_owned() } else { format!("subset{subset}") };
                        let value = ((seed * 7 + stage * 13 + dataset * 3 + metric) % 100) as f64 / 100.0;
                        rows.push(ResultRow {
                            run: format!("seed{seed}"),
                            stage: format!("stage{stage}"),
                            dataset: format!("dataset{dataset}"),
                            subset,
                            metric: format!("metric{metric}"),
                            value: Some(value),
                        });
                    }
                }
            }
        }
    }
    Runs::from_results(results_frame(&rows).unwrap())
}

/// Five paper-style tables over different slices of the rows.
fn spec() -> ReportsSpec {
    serde_json::from_value(serde_json::json!({
        "tables": [
            {"name": "main", "metrics": [{"name": "metric0", "format": {"style": "percent"}}, {"name": "metric1", "direction": "lower"}, {"name": "metric2"}],
             "filter": {"dataset": ["dataset0"]}},
            {"name": "datasets", "metrics": [{"name": "metric0", "format": {"style": "percent"}}],
             "rows": {"by": "dataset"}, "columns": {"by": "stage"}},
            {"name": "subsets", "metrics": [{"name": "metric3"}],
             "rows": {"by": "subset"}, "columns": {"by": "stage"}, "filter": {"dataset": ["dataset1"]}},
            {"name": "seeds", "metrics": [{"name": "metric4"}],
             "rows": {"by": "stage"}, "columns": {"by": "run"}, "filter": {"dataset": ["dataset2"]}},
            {"name": "ablation", "metrics": [{"name": "metric5"}, {"name": "metric6"}, {"name": "metric7"}],
             "rows": {"by": "metric"}, "columns": {"by": "stage"}, "filter": {"dataset": ["dataset3"]}, "aggregate": {"method": "mean"}}
        ]
    }))
    .unwrap()
}

fn render(c: &mut Criterion) {
    let runs = million_rows();
    let spec = spec().tables;
    let reference = ReferenceBlock::new();
    let out = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("render_all");
    group.sample_size(10);
    group.bench_function("5 tables from 1M rows, markdown", |b| {
        b.iter(|| render_all(&spec, &reference, &runs, Format::Markdown, out.path()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
