//! Built-in stage kinds, one per file.

use crate::stage::Registry;

pub mod calibrate;
pub mod evaluate;
pub mod grpo;
pub mod policy_io;
pub mod sft;
pub mod stage_policy;
pub mod synthesize;
pub mod training_plots;

/// Registers every stage kind that ships with Assay.
pub fn register_builtin(registry: &mut Registry) {
    registry
        .register::<calibrate::CalibrateStage>()
        .register::<synthesize::Synthesize>()
        .register::<evaluate::Evaluate>()
        .register::<sft::SftStage>()
        .register::<grpo::GrpoStage>()
        .register::<training_plots::TrainingPlots>();
}
