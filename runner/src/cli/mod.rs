//! Command-line interface: argument parsing and dispatch. The work lives in the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub mod calibrate;
mod plugin_commands;
mod report;
mod run_commands;
mod spec_commands;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code when a run or command failed while executing.
pub const EXIT_FAILED: i32 = 1;
/// Exit code when the input (spec, flags, files) is invalid.
pub const EXIT_INVALID: i32 = 2;

#[derive(Parser, Debug)]
#[command(name = "assay", version, about = "Declare ML experiments in YAML, run them, and regenerate the paper's tables")]
pub struct Cli {
    /// More log output (repeat for more); `RUST_LOG` overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an experiment: validate the spec, run its stages in order, write the run folder.
    Run {
        /// Spec file (YAML). Optional with `--resume`, which uses the run's stored spec.
        spec: Option<PathBuf>,
        /// Override a value, e.g. `--set stages.grpo.group_size=8` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Continue an interrupted run folder from its last finished stage and checkpoint.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
        /// Rerun this stage even when a cached output matches (repeatable).
        #[arg(long, value_name = "STAGE")]
        force: Vec<String>,
        /// Print which stages would run or be reused, and create nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List or check plugins. Native plugins run with the host's privileges.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Calibrate a score file: conformal risk control threshold or confidence metrics.
    Calibrate(calibrate::CalibrateArgs),
    /// Render the declared tables and plots of run folders, check them against the
    /// committed tables, or compare two runs (`assay report compare A B`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Report {
        #[command(subcommand)]
        action: Option<ReportAction>,
        /// Run folders (`runs/<experiment>/<id>`), one per seed; the first one's spec
        /// declares the tables.
        #[arg(required = true, value_name = "RUN_DIR")]
        run_dirs: Vec<PathBuf>,
        /// Table format.
        #[arg(long, default_value = "md", value_parser = ["md", "csv", "tex", "html", "parquet"])]
        format: String,
        /// Output folder; with `--check`, the folder of committed tables. Default:
        /// `<first run>/reports`, or `reports/<experiment name>` with `--check`.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write nothing; exit 1 when a regenerated number differs from the committed
        /// table beyond the table's tolerance.
        #[arg(long)]
        check: bool,
    },
    /// List the runs under an output root with their status.
    Runs {
        /// Output root to scan (the `experiment.output_root` of your specs).
        #[arg(default_value = "runs")]
        root: PathBuf,
    },
    /// Validate one or more specs and print every error found.
    Validate {
        /// Spec files (YAML).
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        /// Override a value, e.g. `--set stages.grpo.group_size=8` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Do not require the data, model and plugin paths to exist: checks a recipe
        /// written for another machine (e.g. a GPU server's checkpoints and datasets).
        #[arg(long)]
        no_path_check: bool,
    },
    /// Print the JSON Schema of experiment specs, or check the committed copy.
    Schema {
        /// Fail (exit 1) when `schemas/experiment.schema.json` differs from the generated schema.
        #[arg(long)]
        check: bool,
        /// Path of the committed schema.
        #[arg(long, default_value = "schemas/experiment.schema.json")]
        path: PathBuf,
        /// Write the generated schema to `--path`.
        #[arg(long, conflicts_with = "check")]
        write: bool,
    },
    /// Print a resolved value and the file:line:column or override that supplied it.
    Explain {
        spec: PathBuf,
        /// Dotted key, e.g. `stages.grpo.group_size`.
        key: String,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
}

/// Subcommands of `assay report`.
#[derive(Subcommand, Debug)]
pub enum ReportAction {
    /// Print the per-metric change from run A to run B, with a paired bootstrap
    /// interval where both runs have per-sample predictions.
    Compare {
        /// Baseline run folder.
        a: PathBuf,
        /// Changed run folder.
        b: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// Show built-in plugins and stage kinds, and the plugins a spec declares.
    List {
        /// Spec whose `plugins:` section to load and identify.
        spec: Option<PathBuf>,
        /// Override a value of SPEC, e.g. `--set plugins.tools.zoom_in.path=zoom_in.wasm`
        /// (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", requires = "spec")]
        overrides: Vec<String>,
    },
    /// Load a native library or WebAssembly component, validate it and print its schema.
    Check {
        /// Plugin file (`.wasm` for tools, a shared library for native plugins).
        path: PathBuf,
    },
}

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match cli.command {
        Command::Run { spec, overrides, resume, force, dry_run } => {
            let options = crate::run::RunOptions { overrides, resume, force, dry_run };
            run_commands::run(spec.as_deref(), &options)
        }
        Command::Runs { root } => run_commands::runs(&root),
        Command::Calibrate(args) => calibrate::calibrate(&args),
        Command::Report { action: Some(ReportAction::Compare { a, b }), .. } => report::compare(&a, &b),
        Command::Report { action: None, run_dirs, format, out, check } => {
            report::report(&run_dirs, &format, out.as_deref(), check)
        }
        Command::Plugins { command: PluginsCommand::List { spec, overrides } } => plugin_commands::list(spec.as_deref(), &overrides),
        Command::Plugins { command: PluginsCommand::Check { path } } => plugin_commands::check(&path),
        Command::Validate { specs, overrides, no_path_check } => spec_commands::validate(&specs, &overrides, no_path_check),
        Command::Schema { check, path, write } => spec_commands::schema(check, write, &path),
        Command::Explain { spec, key, overrides } => spec_commands::explain(&spec, &key, &overrides),
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;

    let default = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
