//! `assay run` and `assay runs`.

use std::path::Path;

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::run::folder::RunLock;
use crate::run::manifest::{Manifest, RunStatus};
use crate::run::{self, RunError, RunOptions};
use crate::stage::Registry;

pub fn run(spec: Option<&Path>, options: &RunOptions) -> i32 {
    let registry = Registry::builtin();
    match run::run(spec, options, &registry) {
        Ok(outcome) => {
            print_stages(&outcome.stages);
            match outcome.run_dir {
                Some(dir) => println!("run folder: {}", dir.display()),
                None => println!("dry run: nothing was created"),
            }
            EXIT_OK
        }
        Err(RunError::Invalid(diagnostics)) => {
            eprintln!("{}", crate::spec::render_diagnostics(&diagnostics));
            EXIT_INVALID
        }
        Err(RunError::Failed(error)) => {
            eprintln!("error: {error:#}");
            EXIT_FAILED
        }
    }
}

fn print_stages(stages: &[crate::run::manifest::StageRecord]) {
    for stage in stages {
        let duration = stage.duration_s.map(|seconds| format!("{seconds:.1} s")).unwrap_or_default();
        println!("{:<24} {:<12} {:<10} {}", stage.name, stage.kind, format!("{:?}", stage.status).to_lowercase(), duration);
    }
}

/// Lists `<root>/<experiment>/<run>/manifest.json` files, oldest first.
pub fn runs(root: &Path) -> i32 {
    let Ok(experiments) = std::fs::read_dir(root) else {
        eprintln!("error: output root {} not found; pass the folder your specs write runs to", root.display());
        return EXIT_INVALID;
    };
    let mut rows = Vec::new();
    for experiment in experiments.flatten().filter(|entry| entry.path().is_dir()) {
        let Ok(run_dirs) = std::fs::read_dir(experiment.path()) else { continue };
        for run_dir in run_dirs.flatten() {
            if let Ok(manifest) = Manifest::read(&run_dir.path()) {
                let done = manifest.stages.iter().filter(|stage| stage.status.is_finished()).count();
                // A run marked running whose lock is free was killed: nobody works in it.
                let status = match manifest.status {
                    RunStatus::Running if RunLock::acquire(&run_dir.path()).is_ok() => "interrupted".to_string(),
                    other => format!("{other:?}").to_lowercase(),
                };
                rows.push((
                    manifest.started.clone(),
                    format!(
                        "{:<20} {:<28} {:<10} {}/{} stages  {}",
                        manifest.experiment,
                        manifest.run_id,
                        status,
                        done,
                        manifest.stages.len(),
                        run_dir.path().display()
                    ),
                ));
            }
        }
    }
    rows.sort();
    for (_, row) in rows {
        println!("{row}");
    }
    EXIT_OK
}
