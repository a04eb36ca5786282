//! Run folders, stage ordering, the stage cache and resume, with small stage kinds that
//! exist only in these tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use assay::run::manifest::{Manifest, RunStatus, StageStatus};
use assay::run::{self, RunError, RunOptions};
use assay::stage::{Registry, StageContext, StageRunner};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Counts `steps` steps, adding a seeded increment each step; checkpoints after every step.
struct Count;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CountParams {
    steps: u64,
    #[serde(default)]
    scale: f64,
    /// Pause per step in milliseconds, so a test can kill the process mid-stage.
    #[serde(default)]
    sleep_ms: u64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Checkpoint {
    step: u64,
    total: f64,
}

impl StageRunner for Count {
    type Params = CountParams;
    const KIND: &'static str = "test_count";
    const DESCRIPTION: &'static str = "test stage: seeded running sum with a checkpoint per step";

    fn run(params: &CountParams, ctx: &mut StageContext) -> anyhow::Result<()> {
        let checkpoint_path = ctx.work_dir.join("checkpoint.json");
        let mut state = match fs::read_to_string(&checkpoint_path) {
            Ok(text) if ctx.resuming => serde_json::from_str(&text)?,
            _ => Checkpoint { step: 0, total: 0.0 },
        };
        let upstream: f64 = ctx
            .inputs
            .values()
            .map(|dir| fs::read_to_string(dir.join("total.txt")).unwrap().trim().parse::<f64>().unwrap())
            .sum();

        while state.step < params.steps {
            state.step += 1;
            // A deterministic function of the seed and the step replaces training.
            let increment = ((ctx.seed % 1000) as f64 / 1000.0 + state.step as f64) * params.scale;
            state.total += increment;
            append_line(&ctx.work_dir.join("executed_steps.txt"), &state.step.to_string());
            ctx.scalars.log(state.step, "total", state.total)?;
            assay::run::atomic::write_atomic(&checkpoint_path, serde_json::to_string(&state)?.as_bytes())?;
            std::thread::sleep(Duration::from_millis(params.sleep_ms));
        }
        fs::write(ctx.work_dir.join("total.txt"), format!("{}", state.total + upstream))?;
        Ok(())
    }
}

/// Fails when `fail` is true, to exercise failure handling.
struct Fail;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FailParams {
    fail: bool,
}

impl StageRunner for Fail {
    type Params = FailParams;
    const KIND: &'static str = "test_fail";
    const DESCRIPTION: &'static str = "test stage: fails on request";

    fn run(params: &FailParams, ctx: &mut StageContext) -> anyhow::Result<()> {
        fs::write(ctx.work_dir.join("attempted"), b"1")?;
        if params.fail {
            anyhow::bail!("requested failure");
        }
        fs::write(ctx.work_dir.join("total.txt"), "0")?;
        Ok(())
    }
}

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry.register::<Count>().register::<Fail>();
    registry
}

fn append_line(path: &Path, line: &str) {
    use std::io::Write;
    let mut file = fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    writeln!(file, "{line}").unwrap();
}

fn write_spec(dir: &Path, body: &str) -> PathBuf {
    let output_root = dir.join("runs");
    let text = format!(
        "experiment:\n  name: demo\n  seed: 7\n  output_root: {}\n{body}",
        output_root.display()
    );
    let path = dir.join("spec.yaml");
    fs::write(&path, text).unwrap();
    path
}

const TWO_STAGES: &str = "stages:
  - name: first
    kind: test_count
    steps: 3
    scale: 1.0
  - name: second
    kind: test_count
    inputs: [first]
    steps: 2
    scale: 0.5
";

fn total(run_dir: &Path, stage: &str) -> f64 {
    fs::read_to_string(run_dir.join("stages").join(stage).join("total.txt")).unwrap().trim().parse().unwrap()
}

fn statuses(run_dir: &Path) -> Vec<(String, StageStatus)> {
    Manifest::read(run_dir).unwrap().stages.into_iter().map(|stage| (stage.name, stage.status)).collect()
}

#[test]
fn run_writes_folder_layout_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);

    let outcome = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap();
    let run_dir = outcome.run_dir.unwrap();

    assert!(run_dir.starts_with(dir.path().join("runs").join("demo")));
    assert!(run_dir.join("spec.resolved.yaml").is_file());
    assert!(run_dir.join("metrics.parquet").is_file());
    assert!(run_dir.join("logs").is_dir());
    let manifest = Manifest::read(&run_dir).unwrap();
    assert_eq!(manifest.status, RunStatus::Succeeded);
    assert_eq!(manifest.seed, 7);
    assert!(manifest.finished.is_some());
    assert_eq!(statuses(&run_dir), vec![("first".into(), StageStatus::Succeeded), ("second".into(), StageStatus::Succeeded)]);
    // The second stage reads the first one's output, so order and inputs were respected.
    assert!(total(&run_dir, "second") > total(&run_dir, "first"));
}

#[test]
fn same_spec_and_seed_give_identical_outputs() {
    let first_dir = tempfile::tempdir().unwrap();
    let second_dir = tempfile::tempdir().unwrap();
    let first = run::run(Some(&write_spec(first_dir.path(), TWO_STAGES)), &RunOptions::default(), &registry()).unwrap();
    let second = run::run(Some(&write_spec(second_dir.path(), TWO_STAGES)), &RunOptions::default(), &registry()).unwrap();

    assert_eq!(total(&first.run_dir.unwrap(), "second"), total(&second.run_dir.unwrap(), "second"));
}

#[test]
fn unchanged_stages_are_reused_from_cache() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);
    let first = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();
    let second = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();

    assert_ne!(first, second);
    assert_eq!(statuses(&second), vec![("first".into(), StageStatus::Cached), ("second".into(), StageStatus::Cached)]);
    assert_eq!(total(&first, "second"), total(&second, "second"));
}

#[test]
fn changed_parameter_reruns_stage_and_downstream() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);
    run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap();

    let options = RunOptions { overrides: vec!["stages.first.steps=4".into()], ..RunOptions::default() };
    let rerun = run::run(Some(&spec), &options, &registry()).unwrap().run_dir.unwrap();

    assert_eq!(statuses(&rerun), vec![("first".into(), StageStatus::Succeeded), ("second".into(), StageStatus::Succeeded)]);
}

#[test]
fn changed_seed_or_data_file_reruns_stages() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("scores.csv");
    fs::write(&data, "id,score\n1,0.5\n").unwrap();
    let body = format!("data:\n  scores:\n    kind: csv\n    path: {}\n{TWO_STAGES}", data.display());
    let spec = write_spec(dir.path(), &body);
    run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap();

    // Another experiment seed gives every stage another seed.
    let options = RunOptions { overrides: vec!["experiment.seed=8".into()], ..RunOptions::default() };
    let reseeded = run::run(Some(&spec), &options, &registry()).unwrap().run_dir.unwrap();
    assert!(statuses(&reseeded).iter().all(|(_, status)| *status == StageStatus::Succeeded), "{:?}", statuses(&reseeded));

    // Editing a data file invalidates the stages; an unchanged rerun is cached again.
    let cached = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();
    assert!(statuses(&cached).iter().all(|(_, status)| *status == StageStatus::Cached));
    fs::write(&data, "id,score\n1,0.9\n").unwrap();
    let edited = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();
    assert!(statuses(&edited).iter().all(|(_, status)| *status == StageStatus::Succeeded), "{:?}", statuses(&edited));
}

#[test]
fn changed_downstream_parameter_keeps_upstream_cached() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);
    run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap();

    let options = RunOptions { overrides: vec!["stages.second.scale=0.25".into()], ..RunOptions::default() };
    let rerun = run::run(Some(&spec), &options, &registry()).unwrap().run_dir.unwrap();

    assert_eq!(statuses(&rerun), vec![("first".into(), StageStatus::Cached), ("second".into(), StageStatus::Succeeded)]);
}

#[test]
fn removed_parameter_reruns_stage() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);
    run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap();

    // `scale` falls back to its default (0.0) once removed, so the stage must rerun.
    let spec = write_spec(dir.path(), &TWO_STAGES.replacen("    scale: 1.0\n", "", 1));
    let rerun = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();

    assert_eq!(statuses(&rerun)[0], ("first".into(), StageStatus::Succeeded));
}

#[test]
fn force_reruns_a_cached_stage() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);
    run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap();

    let options = RunOptions { force: vec!["second".into()], ..RunOptions::default() };
    let rerun = run::run(Some(&spec), &options, &registry()).unwrap().run_dir.unwrap();

    assert_eq!(statuses(&rerun), vec![("first".into(), StageStatus::Cached), ("second".into(), StageStatus::Succeeded)]);
}

#[test]
fn force_of_unknown_stage_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);
    let options = RunOptions { force: vec!["thrid".into()], ..RunOptions::default() };

    match run::run(Some(&spec), &options, &registry()) {
        Err(RunError::Invalid(diagnostics)) => assert!(format!("{diagnostics:?}").contains("thrid")),
        other => panic!("expected an invalid-input error, got {other:?}"),
    }
}

#[test]
fn dry_run_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);
    let outcome = run::run(Some(&spec), &RunOptions { dry_run: true, ..RunOptions::default() }, &registry()).unwrap();

    assert!(outcome.run_dir.is_none());
    assert_eq!(outcome.stages.len(), 2);
    assert!(!dir.path().join("runs").exists());
}

#[test]
fn failed_stage_keeps_its_work() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "stages:\n  - name: first\n    kind: test_count\n    steps: 2\n    scale: 1.0\n  - name: flaky\n    kind: test_fail\n    fail: true\n",
    );
    let error = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap_err();
    let RunError::Failed(error) = error else { panic!("expected a failed run") };
    assert!(format!("{error:#}").contains("requested failure"));

    let run_dir = fs::read_dir(dir.path().join("runs/demo")).unwrap().flatten().map(|entry| entry.path()).find(|path| !path.ends_with(".cache")).unwrap();
    let manifest = Manifest::read(&run_dir).unwrap();
    assert_eq!(manifest.status, RunStatus::Failed);
    assert_eq!(manifest.stages[1].status, StageStatus::Failed);
    assert!(run_dir.join("stages/flaky.partial/attempted").exists(), "the failed stage's work must be kept");
    assert!(!run_dir.join("stages/flaky").exists(), "a failed stage must not look finished");
}

#[test]
fn concurrent_runs_never_share_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), TWO_STAGES);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let spec = spec.clone();
            std::thread::spawn(move || run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap())
        })
        .collect();
    let mut dirs: Vec<PathBuf> = handles.into_iter().map(|handle| handle.join().unwrap()).collect();
    dirs.sort();
    dirs.dedup();

    assert_eq!(dirs.len(), 4);
    for run_dir in &dirs {
        assert_eq!(Manifest::read(run_dir).unwrap().status, RunStatus::Succeeded);
    }
}

/// Runs the spec named by `ASSAY_TEST_CHILD_SPEC` when started as a child process by
/// `killed_run_resumes_from_checkpoint`; does nothing in a normal test run.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var("ASSAY_TEST_CHILD_SPEC") else { return };
    run::run(Some(Path::new(&spec)), &RunOptions::default(), &registry()).unwrap();
}

#[test]
fn killed_run_resumes_from_checkpoint() {
    const SLOW: &str = "stages:\n  - name: slow\n    kind: test_count\n    steps: 40\n    scale: 1.0\n    sleep_ms: 25\n";
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), SLOW);

    // Start the run in a child process and kill it once a few checkpoints exist.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "run_folder::child_process_entry", "--nocapture", "--test-threads=1"])
        .env("ASSAY_TEST_CHILD_SPEC", &spec)
        .spawn()
        .unwrap();
    let experiment_root = dir.path().join("runs/demo");
    let deadline = Instant::now() + Duration::from_secs(120);
    let run_dir = loop {
        let found = fs::read_dir(&experiment_root)
            .ok()
            .and_then(|entries| entries.flatten().map(|entry| entry.path()).find(|path| path.join("stages/slow.partial/checkpoint.json").exists()));
        if let Some(run_dir) = found {
            let text = fs::read_to_string(run_dir.join("stages/slow.partial/checkpoint.json")).unwrap_or_default();
            if serde_json::from_str::<Checkpoint>(&text).map(|checkpoint| checkpoint.step >= 3).unwrap_or(false) {
                break run_dir;
            }
        }
        assert!(Instant::now() < deadline, "the child run never reached step 3");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();

    let interrupted = Manifest::read(&run_dir).unwrap();
    assert_eq!(interrupted.status, RunStatus::Running, "a killed run has no end time");
    let killed_at: Checkpoint = serde_json::from_str(&fs::read_to_string(run_dir.join("stages/slow.partial/checkpoint.json")).unwrap()).unwrap();
    assert!(killed_at.step < 40, "the run was killed before it finished");

    // Resume in this process and compare with an uninterrupted run of the same spec.
    let options = RunOptions { resume: Some(run_dir.clone()), ..RunOptions::default() };
    run::run(None, &options, &registry()).unwrap();
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = run::run(Some(&write_spec(reference_dir.path(), SLOW)), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();

    assert_eq!(Manifest::read(&run_dir).unwrap().status, RunStatus::Succeeded);
    assert_eq!(total(&run_dir, "slow"), total(&reference, "slow"));
    let executed = fs::read_to_string(run_dir.join("stages/slow/executed_steps.txt")).unwrap();
    let executed: Vec<u64> = executed.lines().map(|line| line.parse().unwrap()).collect();
    // Steps up to the last checkpoint ran once; at most the step in flight ran twice.
    assert!(executed.len() <= 41, "resume must continue from the checkpoint, not restart: {executed:?}");
    assert_eq!(*executed.last().unwrap(), 40);
}

#[test]
fn resume_rejects_non_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions { resume: Some(dir.path().to_path_buf()), ..RunOptions::default() };
    match run::run(None, &options, &registry()) {
        Err(RunError::Invalid(diagnostics)) => assert!(format!("{diagnostics:?}").contains("not a run folder")),
        other => panic!("expected an invalid-input error, got {other:?}"),
    }
}
