//! Integration tests that run the real `assay` binary. All modules compile into one
//! test binary to keep link time low.

mod actfer;
mod run_folder;
mod spec_cli;
mod cli_run;
mod qwen_policy;
mod training_stages;
mod native_reward;
