//! Reading score tables from CSV, and the errors a person gets for bad files.

use assay_stats::table::{ScoreTable, TableError};

fn read(text: &str) -> Result<ScoreTable, TableError> {
    ScoreTable::from_csv_reader(text.as_bytes(), 1.0)
}

#[test]
fn csv_with_all_columns() {
    let table =
        read("score,harm,category,trajectory,weight\n0.1,0,app,t1,1.5\n0.9, 1 ,os,t2,0.5\n")
            .unwrap();
    assert_eq!(table.scores, vec![0.1, 0.9]);
    assert_eq!(table.harms, vec![0.0, 1.0]);
    assert_eq!(
        table.categories,
        Some(vec!["app".to_string(), "os".to_string()])
    );
    assert_eq!(
        table.trajectories,
        Some(vec!["t1".to_string(), "t2".to_string()])
    );
    assert_eq!(table.weights, Some(vec![1.5, 0.5]));
}

#[test]
fn csv_label_column_stands_in_for_harm() {
    let table = read("id,label,score\na,1,0.4\nb,0,0.6\n").unwrap();
    assert_eq!(table.harms, vec![1.0, 0.0]);
    assert_eq!(table.categories, None);
}

#[test]
fn csv_missing_column_names_found_columns() {
    let error = read("risk,harm\n0.1,0\n").unwrap_err();
    let message = error.to_string();
    assert!(matches!(
        error,
        TableError::MissingColumn {
            missing: "score",
            ..
        }
    ));
    assert!(message.contains("`risk`, `harm`"), "{message}");
}

#[test]
fn csv_missing_harm_column() {
    let error = read("score\n0.1\n").unwrap_err();
    assert!(
        matches!(
            error,
            TableError::MissingColumn {
                missing: "harm",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn csv_nan_score_names_row_and_value() {
    let error = read("score,harm\n0.1,0\nNaN,1\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "row 2: `score` = `NaN` is not a finite number: fix or remove the row"
    );
}

#[test]
fn csv_non_numeric_score() {
    let error = read("score,harm\nhigh,0\n").unwrap_err();
    assert!(
        matches!(
            error,
            TableError::NotANumber {
                row: 1,
                column: "score",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn csv_harm_outside_bound() {
    let error = read("score,harm\n0.1,0\n0.2,1.5\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "row 2: `harm` = 1.5 is outside [0, 1]: fix the value or raise the harm bound `B`"
    );
    let error = read("score,label\n0.1,-1\n").unwrap_err();
    assert!(
        matches!(
            error,
            TableError::HarmOutOfRange {
                row: 1,
                column: "label",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn csv_empty_file_and_header_only() {
    assert!(matches!(read("").unwrap_err(), TableError::Empty));
    assert!(matches!(
        read("score,harm\n").unwrap_err(),
        TableError::Empty
    ));
}

#[test]
fn csv_negative_weight() {
    let error = read("score,harm,weight\n0.1,0,-2\n").unwrap_err();
    assert!(
        matches!(error, TableError::NegativeWeight { row: 1, .. }),
        "{error}"
    );
}

#[test]
fn csv_file_on_disk() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("scores.csv");
    std::fs::write(&path, "score,harm\n0.3,0\n0.7,1\n").unwrap();
    let table = ScoreTable::from_csv_path(&path, 1.0).unwrap();
    assert_eq!(table.len(), 2);
    let error = ScoreTable::from_csv_path(&directory.path().join("missing.csv"), 1.0).unwrap_err();
    assert!(error.to_string().contains("missing.csv"), "{error}");
}

#[test]
fn columns_checked_like_csv() {
    let error =
        ScoreTable::from_columns(vec![0.1, f64::NAN], vec![0.0, 1.0], None, None, None, 1.0)
            .unwrap_err();
    assert!(
        matches!(
            error,
            TableError::NotANumber {
                row: 2,
                column: "score",
                ..
            }
        ),
        "{error}"
    );
    let error =
        ScoreTable::from_columns(vec![0.1], vec![0.0, 1.0], None, None, None, 1.0).unwrap_err();
    assert!(
        matches!(error, TableError::LengthMismatch { column: "harm", .. }),
        "{error}"
    );
    assert!(ScoreTable::from_columns(vec![0.1], vec![2.0], None, None, None, 2.0).is_ok());
}
