//! `assay report`: the declared tables and plots of run folders, the regeneration check
//! against committed tables, and `assay report compare`.

use std::path::{Path, PathBuf};

use assay_report::compare::CompareOptions;
use assay_report::plots::render_plots;
use assay_report::spec::PlotsSpec;
use assay_report::{build_tables, check as check_tables, write_table, Format, Runs};

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::stage::Registry;

/// File name of the resolved spec that every run folder stores.
const RESOLVED_SPEC: &str = "spec.resolved.yaml";

/// Renders every table declared in the spec of the first run folder from all `run_dirs`
/// (one run per seed), and the plots beside them.
///
/// `format` is md, csv, tex, html or parquet. Tables go to `out`, by default
/// `<first run>/reports/`. With `check`, nothing is written: the tables are compared with
/// the committed copies in `out`, by default `reports/<experiment name>/`, and any number
/// that moved beyond the table's tolerance is printed. Returns the process exit code.
pub fn report(run_dirs: &[PathBuf], format: &str, out: Option<&Path>, check: bool) -> i32 {
    let format = match format.parse::<Format>() {
        Ok(format) => format,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_INVALID;
        }
    };
    let Some(first_run) = run_dirs.first() else {
        eprintln!("error: no run folder given; pass one or more folders such as `runs/<experiment>/<id>`");
        return EXIT_INVALID;
    };

    // Load the spec the first run was made with.
    let spec_path = first_run.join(RESOLVED_SPEC);
    if !spec_path.is_file() {
        eprintln!("error: `{}` not found: pass a run folder written by `assay run`", spec_path.display());
        return EXIT_INVALID;
    }
    let loaded = match crate::spec::load(&spec_path, &[], &Registry::builtin()) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprintln!("{}", crate::spec::render_diagnostics(&diagnostics));
            return EXIT_INVALID;
        }
    };
    let spec = &loaded.spec;

    // Read the runs' outputs and build the tables.
    let runs = match Runs::load(run_dirs) {
        Ok(runs) => runs,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_INVALID;
        }
    };
    let tables = match build_tables(&spec.reports, &spec.reference, &runs) {
        Ok(tables) => tables,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_INVALID;
        }
    };

    // Compare with the committed tables.
    if check {
        let committed = out.map_or_else(|| Path::new("reports").join(&spec.experiment.name), Path::to_path_buf);
        return match check_tables(&tables, &committed, format) {
            Ok(outcome) if outcome.passed() => {
                println!("{outcome}");
                EXIT_OK
            }
            Ok(outcome) => {
                eprintln!("{outcome}");
                EXIT_FAILED
            }
            Err(error) => {
                eprintln!("error: {error}");
                EXIT_INVALID
            }
        };
    }

    // Write the tables and the plots.
    let out_dir = out.map_or_else(|| first_run.join("reports"), Path::to_path_buf);
    for table in &tables {
        match write_table(table, format, &out_dir) {
            Ok(path) => println!("{}", path.display()),
            Err(error) => {
                eprintln!("error: {error}");
                return EXIT_FAILED;
            }
        }
    }
    match render_plots(&runs, &PlotsSpec::default(), &out_dir) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_FAILED
        }
    }
}

/// Prints the per-metric changes from run `a` to run `b` as a Markdown table, with a
/// paired bootstrap interval of each change where both runs have per-sample rows.
/// Returns the process exit code.
pub fn compare(a: &Path, b: &Path) -> i32 {
    let load = |dir: &Path| Runs::load(&[dir.to_path_buf()]);
    let (runs_a, runs_b) = match (load(a), load(b)) {
        (Ok(runs_a), Ok(runs_b)) => (runs_a, runs_b),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: {error}");
            return EXIT_INVALID;
        }
    };
    match assay_report::compare(&runs_a, &runs_b, &CompareOptions::default()) {
        Ok(comparison) => {
            println!("A: {}\nB: {}\n", a.display(), b.display());
            print!("{}", comparison.to_markdown());
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_INVALID
        }
    }
}
