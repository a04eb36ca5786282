//! Table building and rendering from fixture Parquet files.

use assay_report::spec::{ReportsSpec, TableSpec};
use assay_report::{
    build_table, build_tables, render_all, render_csv, render_html, render_latex, render_markdown, CellKind, Format, ReferenceBlock,
    Runs,
};

use crate::fixture;

fn main_table() -> assay_report::Table {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    build_table(&fixture::table_spec("main"), &fixture::reference(), &runs).unwrap()
}

#[test]
fn main_table_markdown() {
    insta::assert_snapshot!(render_markdown(&main_table()));
}

#[test]
fn main_table_latex() {
    insta::assert_snapshot!(render_latex(&main_table()));
}

#[test]
fn main_table_csv() {
    insta::assert_snapshot!(render_csv(&main_table()));
}

#[test]
fn main_table_html() {
    insta::assert_snapshot!(render_html(&main_table()));
}

#[test]
fn subset_table_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let table = build_table(&fixture::table_spec("subsets"), &ReferenceBlock::new(), &runs).unwrap();
    insta::assert_snapshot!(render_markdown(&table));
}

#[test]
fn missing_values_print_as_dash() {
    let table = main_table();
    let base = &table.rows[0];
    assert_eq!(base.label, "base");
    let ece = table.columns.iter().position(|c| c == "ECE").unwrap();
    assert_eq!(base.cells[ece].estimate, None);
    let markdown = render_markdown(&table);
    let base_line = markdown.lines().find(|l| l.starts_with("| base")).unwrap();
    assert_eq!(base_line, "| base | 50.0 | – | – | – | – | – |");
    assert!(render_csv(&table).contains("base,50.0,-,-,-,-,-"));
    assert!(render_latex(&table).contains("base & 50.0 & -- & -- & -- & -- & -- \\\\"));
}

#[test]
fn best_value_per_column_is_bold() {
    let table = main_table();
    let bold: Vec<(String, String)> = table
        .rows
        .iter()
        .flat_map(|row| row.cells.iter().zip(&table.columns).filter(|(c, _)| c.bold).map(|(_, h)| (row.label.clone(), h.clone())))
        .collect();
    // Highest accuracy and lowest ECE (direction `lower`) both belong to GRPO.
    assert_eq!(bold, vec![("GRPO (ours)".to_owned(), "accuracy (%)".to_owned()), ("GRPO (ours)".to_owned(), "ECE".to_owned())]);
}

#[test]
fn bold_ties_on_printed_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = assay_report::ResultsWriter::new("r", "a");
    writer.record("d", "accuracy", 0.7001);
    writer.write(&dir.path().join("run/stages/a")).unwrap();
    let mut writer = assay_report::ResultsWriter::new("r", "b");
    writer.record("d", "accuracy", 0.7004);
    writer.write(&dir.path().join("run/stages/b")).unwrap();
    let runs = Runs::load(&[dir.path().join("run")]).unwrap();
    let mut spec = fixture::table_spec("main");
    spec.metrics.truncate(1);
    spec.rows.values.clear();
    spec.filter.dataset.clear();
    let table = build_table(&spec, &ReferenceBlock::new(), &runs).unwrap();
    // Both print as 70.0, so both are bold.
    assert!(table.rows.iter().all(|r| r.cells[0].bold));
}

#[test]
fn reference_columns_and_difference() {
    let table = main_table();
    assert_eq!(table.columns, ["accuracy (%)", "accuracy (%) (paper)", "Δ accuracy (%)", "ECE", "ECE (paper)", "Δ ECE"]);
    let grpo = table.rows.iter().find(|r| r.label == "GRPO (ours)").unwrap();
    assert_eq!(grpo.cells[1].kind, CellKind::Published);
    assert_eq!(grpo.cells[1].text().unwrap(), "70.0");
    assert_eq!(grpo.cells[2].kind, CellKind::Difference);
    assert_eq!(grpo.cells[2].text().unwrap(), "+2.0");
    assert_eq!(grpo.cells[5].text().unwrap(), "+0.005");
    // The `sft` reference is keyed by the column label; 63.0 - 65.0.
    let sft = table.rows.iter().find(|r| r.label == "sft").unwrap();
    assert_eq!(sft.cells[2].text().unwrap(), "-2.0");
    assert_eq!(sft.cells[4].estimate, None);
}

#[test]
fn reference_none_drops_columns() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let mut spec = fixture::table_spec("main");
    spec.reference = assay_report::spec::ReferenceColumns::None;
    let table = build_table(&spec, &fixture::reference(), &runs).unwrap();
    assert_eq!(table.columns, ["accuracy (%)", "ECE"]);
}

#[test]
fn two_values_per_run_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let mut spec = fixture::table_spec("main");
    // Without the dataset filter, each run has accuracy on two datasets in one cell.
    spec.filter.dataset.clear();
    let error = build_table(&spec, &ReferenceBlock::new(), &runs).unwrap_err().to_string();
    assert!(error.contains("row `base`, column `accuracy`"), "{error}");
    assert!(error.contains("base/chartqa/all, base/mathvista/all"), "{error}");
    assert!(error.contains("add a `filter`"), "{error}");
}

#[test]
fn spec_rejects_unknown_field() {
    let error = serde_json::from_value::<TableSpec>(serde_json::json!({
        "name": "t", "metrics": [{"name": "accuracy"}], "bold": true
    }))
    .unwrap_err()
    .to_string();
    assert!(error.contains("unknown field `bold`"), "{error}");
}

#[test]
fn spec_validation_messages() {
    let mut spec = fixture::table_spec("main");
    spec.columns.by = assay_report::spec::Dimension::Stage;
    assert!(spec.validate().unwrap_err().contains("both rows and columns"));

    let mut spec = fixture::table_spec("main");
    spec.columns.by = assay_report::spec::Dimension::Dataset;
    assert!(spec.validate().unwrap_err().contains("neither `rows` nor `columns` is by `metric`"));

    let mut spec = fixture::table_spec("main");
    spec.columns.values = vec!["accuracy".into(), "f1".into()];
    assert!(spec.validate().unwrap_err().contains("axis value `f1` is not in `metrics`"));

    let mut spec = fixture::table_spec("main");
    spec.name = "main table".into();
    assert!(spec.validate().unwrap_err().contains("invalid table name `main table`"));

    let mut reports = ReportsSpec { tables: vec![fixture::table_spec("main"), fixture::table_spec("main")], ..Default::default() };
    assert!(reports.validate().unwrap_err().contains("two tables are named `main`"));
    reports.tables.pop();
    assert_eq!(reports.validate(), Ok(()));
}

#[test]
fn schema_documents_defaults() {
    let schema = serde_json::to_string(&schemars::schema_for!(ReportsSpec)).unwrap();
    assert!(schema.contains("Default: `mean_std`"));
    assert!(schema.contains("\"additionalProperties\":false"));
}

#[test]
fn render_all_writes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let out = dir.path().join("reports");
    for format in Format::ALL {
        let written = render_all(&fixture::reports_spec().tables, &fixture::reference(), &runs, format, &out).unwrap();
        let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, [format!("main.{}", format.extension()), format!("subsets.{}", format.extension())]);
        assert!(written.iter().all(|p| std::fs::metadata(p).unwrap().len() > 0));
    }
    use polars::prelude::{ParquetReader, SerReader};
    let frame = ParquetReader::new(std::fs::File::open(out.join("main.parquet")).unwrap()).finish().unwrap();
    // Three rows times six columns, one Parquet row per cell.
    assert_eq!(frame.height(), 3 * 6);
    let texts: Vec<Option<&str>> = frame.column("text").unwrap().str().unwrap().iter().take(6).collect();
    assert_eq!(texts, [Some("50.0"), None, None, None, None, None]);
}

#[test]
fn format_parses_cli_names() {
    assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
    assert_eq!("tex".parse::<Format>().unwrap(), Format::Latex);
    let error = "xlsx".parse::<Format>().unwrap_err().to_string();
    assert_eq!(error, "unknown report format `xlsx`: use md, csv, tex, html or parquet");
}

#[test]
fn build_tables_keeps_spec_order() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let tables = build_tables(&fixture::reports_spec().tables, &fixture::reference(), &runs).unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["main", "subsets"]);
}

#[test]
fn bold_best_none_marks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let mut spec = fixture::table_spec("main");
    spec.bold_best = assay_report::spec::BoldBest::None;
    let table = build_table(&spec, &ReferenceBlock::new(), &runs).unwrap();
    assert!(table.rows.iter().flat_map(|r| &r.cells).all(|c| !c.bold));
}
