//! `assay validate`, `assay schema` and `assay explain` run as a user would run them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/specs")
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `assay` in `dir` and returns its output; the binary must not crash.
fn assay(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "off")
        .output()
        .expect("run assay");
    assert!(output.status.code().is_some(), "assay was killed by a signal: {output:?}");
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn validate_accepts_valid_specs() {
    let output = assay(&fixtures(), &["validate", "valid.yaml", "child.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "valid.yaml: ok (0 stages)\nchild.yaml: ok (0 stages)\n");
}

/// A reader that closes the pipe early (`| head`) ends `assay` quietly. The schema
/// (about 80 KB) is larger than a pipe's buffer, so the writes after `head` exits fail.
#[test]
fn closed_pipe_ends_quietly() {
    let command = format!("'{}' schema | head -c 1 >/dev/null", env!("CARGO_BIN_EXE_assay"));
    let output = Command::new("sh").args(["-c", &command]).current_dir(repository_root()).output().expect("run sh");
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

/// The full-scale recipes name checkpoints, datasets and plugin builds of a GPU machine:
/// `--no-path-check` checks everything else, and a plain `validate` names a missing path.
#[test]
fn full_scale_recipes_validate_without_their_files() {
    let root = repository_root();
    let output = assay(&root, &["validate", "--no-path-check", "experiments/actfer/actfer.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "experiments/actfer/actfer.yaml: ok (11 stages)\n");

    let output = assay(&root, &["validate", "--set", "models.qwen3_vl_4b.path=/nonexistent/qwen", "experiments/actfer/actfer.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("`/nonexistent/qwen` not found"), "{}", stderr(&output));
}

#[test]
fn validate_prints_every_error_and_exits_2() {
    let output = assay(&fixtures(), &["validate", "invalid.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    insta::assert_snapshot!("validate_invalid", stderr(&output));
}

#[test]
fn validate_error_in_base_points_at_base_file() {
    let output = assay(&fixtures(), &["validate", "bad_child.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("bad_base.yaml:6:12: error: unknown value `float16`\n  help: expected one of `f32`, `bf16`, `f16`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn validate_reports_unknown_override_key() {
    let output = assay(&fixtures(), &["validate", "valid.yaml", "--set", "experiment.sede=3", "--set", "experiment.seed=1e-5"]);
    assert_eq!(output.status.code(), Some(2));
    insta::assert_snapshot!("validate_override_errors", stderr(&output));
}

#[test]
fn validate_missing_file_exits_2() {
    let output = assay(&fixtures(), &["validate", "does_not_exist.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).starts_with("does_not_exist.yaml:1:1: error: cannot read spec file"), "{}", stderr(&output));
}

#[test]
fn explain_names_the_file_that_supplied_the_value() {
    let output = assay(&fixtures(), &["explain", "child.yaml", "experiment.seed"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "experiment.seed: 7\n  from base.yaml:3:9\n");

    let output = assay(&fixtures(), &["explain", "child.yaml", "data.faces.params"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    insta::assert_snapshot!("explain_merged_mapping", stdout(&output));
}

#[test]
fn explain_shows_override_and_default() {
    let output = assay(&fixtures(), &["explain", "valid.yaml", "experiment.seed", "--set", "experiment.seed=9"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "experiment.seed: 9\n  from override `--set experiment.seed=9`\n");

    let output = assay(&fixtures(), &["explain", "valid.yaml", "plugins.rewards.accuracy.limits.fuel"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "plugins.rewards.accuracy.limits.fuel: 1000000000\n  default value (not written in any file or override)\n");
}

#[test]
fn explain_unknown_key_suggests_and_exits_2() {
    let output = assay(&fixtures(), &["explain", "valid.yaml", "experiment.sed"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output), "argument `experiment.sed`: error: unknown key in `experiment` `sed`, did you mean `seed`?\n");
}

#[test]
fn schema_check_passes_on_committed_schema() {
    let output = assay(&repository_root(), &["schema", "--check"]);
    assert_eq!(output.status.code(), Some(0), "{}\nrun `assay schema --write` from the repository root", stderr(&output));
}

#[test]
fn schema_check_fails_on_stale_copy() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let stale = dir.path().join("stale.json");
    let generated = stdout(&assay(dir.path(), &["schema"]));
    std::fs::write(&stale, generated.replacen("\"title\"", "\"titel\"", 1)).expect("write");
    let output = assay(dir.path(), &["schema", "--check", "--path", "stale.json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("`stale.json` is stale: line"), "{}", stderr(&output));
    assert!(stderr(&output).contains("run `assay schema --write`"), "{}", stderr(&output));

    let output = assay(dir.path(), &["schema", "--check", "--path", "absent.json"]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn schema_write_matches_printed_schema() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let output = assay(dir.path(), &["schema", "--write", "--path", "out/schema.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_to_string(dir.path().join("out/schema.json")).expect("written");
    assert_eq!(written, stdout(&assay(dir.path(), &["schema"])));
    let json: serde_json::Value = serde_json::from_str(&written).expect("schema is JSON");
    assert_eq!(json["properties"]["experiment"]["$ref"], "#/$defs/ExperimentInfo");
}
