//! Built-in stage kinds, one per file.

use crate::stage::Registry;

/// Registers every stage kind that ships with Assay.
pub fn register_builtin(_registry: &mut Registry) {}
