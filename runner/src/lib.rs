//! Assay: declare an ML experiment in YAML, run its stages, and get the paper's tables.
//!
//! The `assay` binary is a thin layer over this library: [`spec`] loads and validates
//! experiment specs, [`stage`] defines stage kinds, [`stages`] holds the built-in ones.

pub mod actfer;
pub mod cli;
pub mod plugins;
pub mod run;
pub mod spec;
pub mod stage;
pub mod stages;
