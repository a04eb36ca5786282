//! ActFER accuracy reward as a native plugin (a cdylib loaded by the Assay host).
//!
//! The policy ends its answer with a block such as
//!
//! ```text
//! <answer>
//! AUs: AU6, AU12, AU25
//! Emotion: happiness
//! </answer>
//! ```
//!
//! or, as Assay's policies write it, `<answer>happiness; AU6, AU12, AU25</answer>`,
//! and the reward is ActFER's accuracy reward (Agentic Facial Expression Recognition via
//! Active Tool-Augmented Visual Reasoning, arXiv 2025):
//!
//! - `R_acc = w_y + w_au * F1_AU` when the predicted emotion equals the reference, and
//! - `R_acc = r_wrong + 0.5 * w_au * F1_AU` when it does not,
//!
//! where `F1_AU = 2 |A_pred ∩ A_ref| / (|A_pred| + |A_ref|)` over Action Unit sets. A
//! format reward `w_format` is added when the answer block parses; an answer that does
//! not parse scores `r_wrong` for accuracy and 0 for format.

mod answer;
mod reward;

pub use answer::{parse_answer, Answer, EMOTIONS};
pub use reward::{au_f1, ActferAccuracy, ActferConfig};

assay_plugin_sdk::export_plugin!(ActferAccuracy);
