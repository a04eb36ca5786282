//! Command-line interface: argument parsing and dispatch. The work lives in the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    },
    /// Print the JSON Schema of experiment specs, or check the committed copy.
    Schema {
        /// Fail (exit 1) when `schemas/experiment.schema.json` differs from the generated schema.
        #[arg(long)]
        check: bool,
        /// Where the committed schema lives.
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
        Command::Validate { specs, overrides } => spec_commands::validate(&specs, &overrides),
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
        .with_target(false)
        .try_init();
}
