//! ActFER (agentic facial expression recognition) pieces that stages plug together: the
//! answer format, the face sources (rendered or real datasets), the rewards, the
//! WebAssembly tool runner and the UC-GRPO hook.

pub mod answer;
pub mod dataset;
pub mod facs;
pub mod policy_folder;
pub mod reward;
pub mod tools;
pub mod utility;

pub use answer::{parse_answer, Answer};
pub use reward::{AccuracyReward, FormatReward};
pub use tools::WasmToolRunner;
pub use utility::{UtilityCalibration, UtilityConfig};
