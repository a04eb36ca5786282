//! Running an experiment: run folders, the stage cache, resume and the manifest.
//!
//! Layout of a run folder:
//! ```text
//! <output root>/<experiment>/<UTC timestamp>-<hash>/
//!   spec.resolved.yaml   the composed spec with overrides applied
//!   manifest.json        versions, git state, seed, host, per-stage status and keys
//!   logs/                reserved for log files
//!   stages/<name>/       finished outputs (published by an atomic rename)
//!   stages/<name>.partial/  work folder of a stage that has not finished (checkpoints)
//!   metrics.parquet      step-level scalars of all stages
//! ```

pub mod atomic;
pub mod cache;
pub mod folder;
pub mod manifest;
pub mod scalars;
pub mod seed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use sha2::{Digest, Sha256};

pub use scalars::ScalarLog;

use crate::plugins::PluginIdentity;
use crate::spec::{self, Diagnostic, LoadedSpec};
use crate::stage::{Registry, StageContext};
use cache::{CacheIndex, KeyMaterial, OutputMarker, OUTPUT_MARKER};
use manifest::{Manifest, RunStatus, StageRecord, StageStatus};

/// Options of `assay run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--set key=value` overrides, applied after composition.
    pub overrides: Vec<String>,
    /// Continue this run folder instead of creating a new one.
    pub resume: Option<PathBuf>,
    /// Stages to run even when a cached output matches their key.
    pub force: Vec<String>,
    /// Print the plan and stop before creating anything.
    pub dry_run: bool,
}

/// Error of a run that did not finish; maps to exit codes 2 and 1.
#[derive(Debug)]
pub enum RunError {
    /// The spec or the options are invalid; nothing ran.
    Invalid(Vec<Diagnostic>),
    /// A stage or the runner failed while executing.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for RunError {
    fn from(error: anyhow::Error) -> Self {
        RunError::Failed(error)
    }
}

/// Result of a finished run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// `None` for a dry run.
    pub run_dir: Option<PathBuf>,
    pub stages: Vec<StageRecord>,
}

/// One stage as planned: checked parameters and cache key material.
struct PlannedStage {
    name: String,
    kind: String,
    inputs: Vec<String>,
    params: spec::Node,
    material: KeyMaterial,
    plugins: Vec<PluginIdentity>,
}

const RESOLVED_SPEC: &str = "spec.resolved.yaml";

/// Runs the experiment in `spec_path` (or resumes `options.resume`) with the stage kinds
/// of `registry`.
pub fn run(spec_path: Option<&Path>, options: &RunOptions, registry: &Registry) -> Result<RunOutcome, RunError> {
    // Load the spec: the given file, or the resolved spec stored in the run to resume.
    let loaded = load_for_run(spec_path, options, registry)?;
    let experiment = &loaded.spec.experiment;

    // Check every stage's parameters and compute the cache keys in order.
    let plan = plan_stages(&loaded, registry)?;
    for name in &options.force {
        if !plan.iter().any(|stage| &stage.name == name) {
            let known: Vec<&str> = plan.iter().map(|stage| stage.name.as_str()).collect();
            return Err(RunError::Invalid(vec![option_error(format!(
                "`--force {name}` names no stage; stages are: {}",
                known.join(", ")
            ))]));
        }
    }

    let experiment_root = experiment.output_root.join(&experiment.name);
    let index = CacheIndex::new(&experiment_root);
    if options.dry_run {
        return Ok(RunOutcome { run_dir: None, stages: dry_run_plan(&plan, &index, options) });
    }

    // Create the run folder (or reopen it), lock it and record the resolved spec.
    let resolved_yaml = loaded.resolved_yaml();
    let run_dir = match &options.resume {
        Some(dir) => dir.clone(),
        None => folder::create_run_dir(&experiment_root, &hex::encode(Sha256::digest(resolved_yaml.as_bytes())))?,
    };
    let _lock = folder::RunLock::acquire(&run_dir)?;
    let mut manifest = open_manifest(&run_dir, &loaded, &plan, spec_path, options.resume.is_some())?;
    if options.resume.is_none() {
        atomic::write_atomic(&run_dir.join(RESOLVED_SPEC), resolved_yaml.as_bytes())?;
        std::fs::create_dir_all(run_dir.join("logs")).context("failed to create logs folder")?;
    }
    manifest.write(&run_dir)?;
    let run_id = manifest.run_id.clone();
    tracing::info!(run_id = %run_id, run_dir = %run_dir.display(), "run started");

    // Execute the stages in order.
    let mut outputs: BTreeMap<String, PathBuf> = BTreeMap::new();
    for stage in &plan {
        let result = execute_stage(stage, &loaded, &run_dir, &run_id, &index, &outputs, options, registry, &mut manifest);
        match result {
            Ok(output) => {
                outputs.insert(stage.name.clone(), output);
            }
            Err(error) => {
                manifest.status = RunStatus::Failed;
                manifest.finished = Some(manifest::now_rfc3339());
                manifest.write(&run_dir)?;
                tracing::error!(run_id = %run_id, stage = %stage.name, "stage failed: {error:#}");
                return Err(RunError::Failed(error.context(format!(
                    "stage `{}` failed; fix the cause and continue with `assay run --resume {}`",
                    stage.name,
                    run_dir.display()
                ))));
            }
        }
    }

    // Collect the step-level scalars and close the manifest.
    metrics::write_run_metrics(&run_dir, &plan.iter().map(|stage| stage.name.clone()).collect::<Vec<_>>())?;
    manifest.status = RunStatus::Succeeded;
    manifest.finished = Some(manifest::now_rfc3339());
    manifest.write(&run_dir)?;
    tracing::info!(run_id = %run_id, "run finished");

    // Render the declared tables; a rendering problem is logged and leaves the run intact.
    if !loaded.spec.reports.is_empty() {
        match render_reports(&loaded, &run_dir) {
            Ok(paths) => tracing::info!(run_id = %run_id, tables = paths.len(), folder = %run_dir.join("reports").display(), "tables written"),
            Err(error) => tracing::error!(run_id = %run_id, "failed to render the tables: {error:#}; rerun `assay report {}`", run_dir.display()),
        }
    }
    Ok(RunOutcome { run_dir: Some(run_dir), stages: manifest.stages })
}

pub mod metrics;

fn load_for_run(spec_path: Option<&Path>, options: &RunOptions, registry: &Registry) -> Result<LoadedSpec, RunError> {
    let Some(run_dir) = &options.resume else {
        let path = spec_path.ok_or_else(|| {
            RunError::Invalid(vec![option_error("no spec given; pass SPEC or `--resume RUN_DIR`".to_string())])
        })?;
        return spec::load(path, &options.overrides, registry).map_err(RunError::Invalid);
    };

    let stored = run_dir.join(RESOLVED_SPEC);
    if !stored.is_file() {
        return Err(RunError::Invalid(vec![option_error(format!(
            "`--resume {}` is not a run folder: {} is missing",
            run_dir.display(),
            RESOLVED_SPEC
        ))]));
    }
    if !options.overrides.is_empty() {
        return Err(RunError::Invalid(vec![option_error(
            "`--set` cannot be combined with `--resume`: a resumed run keeps its spec; start a new run instead"
                .to_string(),
        )]));
    }
    let loaded = spec::load(&stored, &[], registry).map_err(RunError::Invalid)?;

    // A spec given beside --resume must resolve to the stored one, or results would mix.
    if let Some(path) = spec_path {
        let given = spec::load(path, &[], registry).map_err(RunError::Invalid)?;
        if given.resolved_yaml() != loaded.resolved_yaml() {
            return Err(RunError::Invalid(vec![option_error(format!(
                "{} differs from the spec of run {}; resume without SPEC to continue that run, or start a new run",
                path.display(),
                run_dir.display()
            ))]));
        }
    }
    Ok(loaded)
}

/// Fingerprints of the spec's dataset and model paths, which every stage's key includes:
/// a stage may read any of them through a data entry or a model name.
fn spec_files(spec: &spec::Experiment) -> BTreeMap<String, String> {
    let paths = spec.data.values().filter_map(|d| d.path.as_ref()).chain(spec.models.values().filter_map(|m| m.path.as_ref()));
    paths.filter_map(|path| Some((path.display().to_string(), cache::fingerprint(path)?))).collect()
}

/// Adds the fingerprint of every absolute path among the string values of `params` that
/// exists. Relative paths are resolved by the stage at run time and are not covered.
fn param_files(params: &serde_json::Value, files: &mut BTreeMap<String, String>) {
    match params {
        serde_json::Value::String(text) => {
            let path = Path::new(text);
            if path.is_absolute() && !files.contains_key(text) {
                if let Some(print) = cache::fingerprint(path) {
                    files.insert(text.clone(), print);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| param_files(item, files)),
        serde_json::Value::Object(map) => map.values().for_each(|value| param_files(value, files)),
        _ => {}
    }
}

fn plan_stages(loaded: &LoadedSpec, registry: &Registry) -> Result<Vec<PlannedStage>, RunError> {
    let mut plan: Vec<PlannedStage> = Vec::new();
    let shared_files = spec_files(&loaded.spec);
    let mut problems = Vec::new();
    // Identifying a plugin loads its file (a WebAssembly tool is compiled), so each one is
    // identified once per run however many stages use it.
    let mut identities: BTreeMap<(spec::PluginSection, String), Result<PluginIdentity, String>> = BTreeMap::new();
    for stage in &loaded.spec.stages {
        let Some(kind) = registry.get(&stage.kind) else {
            problems.push(Diagnostic::at_node(&stage.params, format!("unknown stage kind `{}`", stage.kind)));
            continue;
        };
        let checked = match kind.check(&stage.params, &loaded.spec) {
            Ok(checked) => checked,
            Err(mut diagnostics) => {
                problems.append(&mut diagnostics);
                continue;
            }
        };
        let inputs = stage
            .inputs
            .iter()
            .filter_map(|input| {
                let key = plan.iter().find(|earlier| &earlier.name == input)?.material.key();
                Some((input.clone(), key))
            })
            .collect();
        let mut plugins = Vec::new();
        for (section, name) in &checked.plugins {
            let identity = identities.entry((*section, name.clone())).or_insert_with(|| {
                crate::plugins::identify(&loaded.spec, *section, name).map_err(|error| format!("{error:#}"))
            });
            match identity {
                Ok(identity) => plugins.push(identity.clone()),
                Err(message) => problems.push(Diagnostic::at_node(&stage.params, message.clone())),
            }
        }
        let mut files = shared_files.clone();
        param_files(&checked.params, &mut files);
        let material = KeyMaterial {
            kind: stage.kind.clone(),
            params: checked.params,
            inputs,
            plugins: plugins.iter().map(PluginIdentity::key).collect(),
            assay_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: seed::stage_seed(loaded.spec.experiment.seed, &stage.name),
            files,
        };
        plan.push(PlannedStage {
            name: stage.name.clone(),
            kind: stage.kind.clone(),
            inputs: stage.inputs.clone(),
            params: stage.params.clone(),
            material,
            plugins,
        });
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(RunError::Invalid(problems))
    }
}

fn dry_run_plan(plan: &[PlannedStage], index: &CacheIndex, options: &RunOptions) -> Vec<StageRecord> {
    plan.iter()
        .map(|stage| {
            let key = stage.material.key();
            let cached = !options.force.contains(&stage.name) && index.lookup(&key).is_some();
            StageRecord {
                name: stage.name.clone(),
                kind: stage.kind.clone(),
                status: if cached { StageStatus::Cached } else { StageStatus::Pending },
                cache_key: key,
                duration_s: None,
                reused_from: None,
                error: None,
            }
        })
        .collect()
}

fn open_manifest(
    run_dir: &Path,
    loaded: &LoadedSpec,
    plan: &[PlannedStage],
    spec_path: Option<&Path>,
    resuming: bool,
) -> anyhow::Result<Manifest> {
    if resuming {
        let mut manifest = Manifest::read(run_dir)?;
        manifest.status = RunStatus::Running;
        manifest.finished = None;
        return Ok(manifest);
    }
    let run_id = run_dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Manifest {
        assay_version: env!("CARGO_PKG_VERSION").to_string(),
        experiment: loaded.spec.experiment.name.clone(),
        run_id,
        git: spec_path.and_then(manifest::git_state),
        spec_dir: spec_path
            .and_then(|path| std::path::absolute(path).ok())
            .and_then(|path| path.parent().map(Path::to_path_buf))
            .unwrap_or_default(),
        plugins: unique_plugins(plan),
        seed: loaded.spec.experiment.seed,
        host: manifest::host_name(),
        started: manifest::now_rfc3339(),
        finished: None,
        status: RunStatus::Running,
        stages: plan
            .iter()
            .map(|stage| StageRecord {
                name: stage.name.clone(),
                kind: stage.kind.clone(),
                status: StageStatus::Pending,
                cache_key: stage.material.key(),
                duration_s: None,
                reused_from: None,
                error: None,
            })
            .collect(),
    })
}

/// Runs, reuses or skips one stage and returns its finished output folder.
#[allow(clippy::too_many_arguments)]
fn execute_stage(
    stage: &PlannedStage,
    loaded: &LoadedSpec,
    run_dir: &Path,
    run_id: &str,
    index: &CacheIndex,
    outputs: &BTreeMap<String, PathBuf>,
    options: &RunOptions,
    registry: &Registry,
    manifest: &mut Manifest,
) -> anyhow::Result<PathBuf> {
    let key = stage.material.key();
    let stages_dir = run_dir.join("stages");
    let output = stages_dir.join(&stage.name);
    let work_dir = stages_dir.join(format!("{}.partial", stage.name));
    let forced = options.force.contains(&stage.name);

    // Skip a stage this run folder already finished with the same key (resume).
    if !forced && marker_key(&output).as_deref() == Some(key.as_str()) {
        tracing::info!(run_id, stage = %stage.name, "stage already finished in this run; skipping");
        return Ok(output);
    }
    if output.exists() {
        // A finished output with another key, or a forced rerun: move it aside, never delete.
        let aside = stages_dir.join(format!("{}.superseded-{}", stage.name, chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")));
        std::fs::rename(&output, &aside).with_context(|| format!("failed to move {} aside", output.display()))?;
    }

    // Reuse a cached output of an earlier run when the key matches.
    if !forced {
        if let Some(cached) = index.lookup(&key) {
            tracing::info!(run_id, stage = %stage.name, from = %cached.display(), "stage reused from cache");
            let staging = stages_dir.join(format!("{}.copying", stage.name));
            let _ = std::fs::remove_dir_all(&staging);
            cache::copy_output(&cached, &staging)?;
            atomic::rename_folder(&staging, &output)?;
            update_record(manifest, &stage.name, StageStatus::Cached, None, Some(cached.display().to_string()), None);
            manifest.write(run_dir)?;
            return Ok(output);
        }
    }
    log_rerun_reason(stage, index, forced, run_id);

    // Run the stage in its work folder, then publish the folder by renaming it.
    let resuming = work_dir.exists();
    std::fs::create_dir_all(&work_dir).with_context(|| format!("failed to create {}", work_dir.display()))?;
    update_record(manifest, &stage.name, StageStatus::Running, None, None, None);
    manifest.write(run_dir)?;

    let started = Instant::now();
    tracing::info!(run_id, stage = %stage.name, kind = %stage.kind, resuming, "stage started");
    let mut context = StageContext {
        name: &stage.name,
        run_dir,
        work_dir: work_dir.clone(),
        inputs: stage.inputs.iter().filter_map(|name| Some((name.clone(), outputs.get(name)?.clone()))).collect(),
        seed: seed::stage_seed(loaded.spec.experiment.seed, &stage.name),
        spec: &loaded.spec,
        resuming,
        spec_dir: manifest.spec_dir.clone(),
        scalars: ScalarLog::open(&work_dir)?,
    };
    let kind = registry.get(&stage.kind).expect("stage kinds were checked while planning");
    let result = kind.run(&stage.params, &mut context);
    drop(context);
    let duration = started.elapsed().as_secs_f64();

    if let Err(error) = result {
        update_record(manifest, &stage.name, StageStatus::Failed, Some(duration), None, Some(format!("{error:#}")));
        manifest.write(run_dir)?;
        return Err(error);
    }

    // Steps replayed after a resume were logged twice; the published log keeps each once.
    scalars::compact(&work_dir)?;
    let marker = OutputMarker { stage: stage.name.clone(), key: key.clone(), material: stage.material.clone() };
    atomic::write_atomic(&work_dir.join(OUTPUT_MARKER), serde_json::to_string_pretty(&marker)?.as_bytes())?;
    atomic::rename_folder(&work_dir, &output)?;
    index.record(&stage.name, &output, &stage.material)?;
    update_record(manifest, &stage.name, StageStatus::Succeeded, Some(duration), None, None);
    manifest.write(run_dir)?;
    tracing::info!(run_id, stage = %stage.name, duration_s = format!("{duration:.2}"), "stage finished");
    Ok(output)
}

fn log_rerun_reason(stage: &PlannedStage, index: &CacheIndex, forced: bool, run_id: &str) {
    if forced {
        tracing::info!(run_id, stage = %stage.name, "stage runs because of --force");
        return;
    }
    match index.latest(&stage.name) {
        None => tracing::info!(run_id, stage = %stage.name, "stage runs: no cached output"),
        Some(previous) => {
            let changes = cache::describe_changes(&previous, &stage.material);
            if changes.is_empty() {
                tracing::info!(run_id, stage = %stage.name, "stage runs: cached output is missing");
            } else {
                tracing::info!(run_id, stage = %stage.name, "stage reruns: {}", changes.join("; "));
            }
        }
    }
}

fn marker_key(output: &Path) -> Option<String> {
    let text = std::fs::read_to_string(output.join(OUTPUT_MARKER)).ok()?;
    Some(serde_json::from_str::<OutputMarker>(&text).ok()?.key)
}

fn update_record(
    manifest: &mut Manifest,
    name: &str,
    status: StageStatus,
    duration_s: Option<f64>,
    reused_from: Option<String>,
    error: Option<String>,
) {
    if let Some(record) = manifest.stage_mut(name) {
        record.status = status;
        record.duration_s = duration_s.or(record.duration_s);
        record.reused_from = reused_from;
        record.error = error;
    }
}

/// Builds an error about command-line options rather than a value in a spec file.
fn option_error(message: String) -> Diagnostic {
    Diagnostic::new(spec::Location::Generated, message)
}

fn unique_plugins(plan: &[PlannedStage]) -> Vec<PluginIdentity> {
    let mut plugins: Vec<PluginIdentity> = Vec::new();
    for identity in plan.iter().flat_map(|stage| stage.plugins.iter()) {
        if !plugins.contains(identity) {
            plugins.push(identity.clone());
        }
    }
    plugins
}

/// Writes every table the spec declares, as Markdown, to `<run>/reports/`.
fn render_reports(loaded: &LoadedSpec, run_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let runs = assay_report::Runs::load(&[run_dir.to_path_buf()]).map_err(|error| anyhow::anyhow!("{error}"))?;
    let tables = assay_report::build_tables(&loaded.spec.reports, &loaded.spec.reference, &runs)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let out_dir = run_dir.join("reports");
    tables
        .iter()
        .map(|table| {
            assay_report::write_table(table, assay_report::Format::Markdown, &out_dir).map_err(|error| anyhow::anyhow!("{error}"))
        })
        .collect()
}
