//! `assay run`, `assay runs` and `assay report` through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn assay(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_assay")).args(args).current_dir(dir).env("RUST_LOG", "info").output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Returns the run folder that `assay run` printed.
fn run_folder(run: &Output) -> String {
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("run folder: ").map(str::to_string))
        .expect("`assay run` prints the run folder")
}

fn scores_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/cora/data/guardian_scores.csv")
}

fn write_spec(dir: &Path) -> PathBuf {
    let spec = format!(
        "experiment: {{name: cli, seed: 3}}\ndata:\n  guardian: {{kind: csv, path: {}}}\nstages:\n  - name: crc\n    kind: calibrate\n    scores_dataset: guardian\n    alpha: 0.1\n    n_splits: 5\n    bootstrap_resamples: 10\n",
        scores_csv().display()
    );
    let path = dir.join("spec.yaml");
    std::fs::write(&path, spec).unwrap();
    path
}

#[test]
fn rerun_log_names_changed_key() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path());

    let first = assay(dir.path(), &["run", "spec.yaml"]);
    assert!(first.status.success(), "{}", text(&first));
    let cached = assay(dir.path(), &["run", "spec.yaml"]);
    assert!(text(&cached).contains("stage reused from cache"), "{}", text(&cached));

    let changed = assay(dir.path(), &["run", "spec.yaml", "--set", "stages.crc.alpha=0.2"]);
    assert!(changed.status.success(), "{}", text(&changed));
    assert!(text(&changed).contains("`alpha` changed from 0.1 to 0.2"), "{}", text(&changed));
}

#[test]
fn runs_lists_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path());
    assert!(assay(dir.path(), &["run", "spec.yaml"]).status.success());

    let listing = assay(dir.path(), &["runs"]);
    assert!(listing.status.success());
    let listing = text(&listing);
    assert!(listing.contains("cli"), "{listing}");
    assert!(listing.contains("succeeded"), "{listing}");
    assert!(listing.contains("1/1 stages"), "{listing}");
}

#[test]
fn exit_codes_invalid_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "experiment: {name: x, seed: 1}\nstages:\n  - name: a\n    kind: calibrate\n    alfa: 0.1\n").unwrap();
    let invalid = assay(dir.path(), &["run", "bad.yaml"]);
    assert_eq!(invalid.status.code(), Some(2), "{}", text(&invalid));
    assert!(text(&invalid).contains("did you mean `alpha`"), "{}", text(&invalid));

    // A score file that passes validation but contains a NaN fails inside the stage.
    std::fs::write(dir.path().join("nan.csv"), "score,harm\n0.1,0\nNaN,1\n").unwrap();
    let spec = "experiment: {name: x, seed: 1}\ndata:\n  s: {kind: csv, path: nan.csv}\nstages:\n  - name: a\n    kind: calibrate\n    scores_dataset: s\n";
    std::fs::write(dir.path().join("fail.yaml"), spec).unwrap();
    let failed = assay(dir.path(), &["run", "fail.yaml"]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(text(&failed).contains("--resume"), "{}", text(&failed));
}

#[test]
fn cora_smoke_tables_match_committed() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let spec = repo.join("experiments/cora/smoke.yaml");
    let run = assay(dir.path(), &["run", spec.to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run));
    let run_dir = run_folder(&run);

    let committed = repo.join("reports/cora-smoke");
    let check = assay(dir.path(), &["report", &run_dir, "--check", "--out", committed.to_str().unwrap()]);
    assert!(check.status.success(), "regenerated tables differ from reports/cora-smoke:\n{}", text(&check));
}

#[test]
fn actfer_smoke_tables_match_committed() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let spec = repo.join("experiments/actfer/smoke.yaml");
    // The spec's tool paths assume the default target folder; CI may put it elsewhere, so
    // build (or find) the guests here and pass their paths.
    let guest = |name: &str| assay_plugin_host::guest_build::guest_path(name).expect("the WebAssembly guests build");
    let tool_paths = [
        format!("plugins.tools.face_align.path={}", guest("face_align").display()),
        format!("plugins.tools.zoom_in.path={}", guest("zoom_in").display()),
    ];
    let run = assay(dir.path(), &["run", spec.to_str().unwrap(), "--set", &tool_paths[0], "--set", &tool_paths[1]]);
    assert!(run.status.success(), "{}", text(&run));
    let run_dir = run_folder(&run);

    let committed = repo.join("reports/actfer-smoke");
    let check = assay(dir.path(), &["report", &run_dir, "--check", "--out", committed.to_str().unwrap()]);
    assert!(check.status.success(), "regenerated tables differ from reports/actfer-smoke:\n{}", text(&check));
}

/// Two runs of one spec, the second reusing every stage from the first: a report over
/// both keeps them apart (a reused stage's results carry the first run's id on disk).
#[test]
fn report_combines_runs_that_reused_cached_stages() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let spec = repo.join("experiments/cora/smoke.yaml");
    let first = assay(dir.path(), &["run", spec.to_str().unwrap()]);
    assert!(first.status.success(), "{}", text(&first));
    let second = assay(dir.path(), &["run", spec.to_str().unwrap()]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(text(&second).contains("cached"), "the second run should reuse the first: {}", text(&second));

    let out = dir.path().join("combined");
    let report = assay(dir.path(), &["report", &run_folder(&first), &run_folder(&second), "--out", out.to_str().unwrap()]);
    assert!(report.status.success(), "{}", text(&report));
}
