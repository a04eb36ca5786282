//! Text to token ids and back, as the training loops see it.
//!
//! Samples, SFT targets and rollouts are written in the trajectory markup of
//! [`crate::trajectory`]: `<image>`, `<think>…</think>`, `<tool>name{json}</tool>`,
//! `<obs>…</obs>` and `<answer>…</answer>`. A [`TextCodec`] maps that markup onto a
//! model's own vocabulary and chat layout, so one SFT and GRPO loop trains both the
//! word-level [`Tokenizer`] of the built-in policy and a checkpoint's tokenizer (e.g.
//! Qwen ChatML, where an observation becomes a `<tool_response>` in a user turn).

use anyhow::Result;

use crate::tokenizer::Tokenizer;

/// Ids that end an assistant turn while a rollout is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnEnds {
    /// End of the assistant's turn: the rollout stops, and an answer in the turn counts.
    pub eos: u32,
    /// A single id that closes an answer, when the vocabulary has one; the rollout stops
    /// on it as on `eos`.
    pub answer_close: Option<u32>,
    /// Closes a tool call: the tool runs and its observation is appended.
    pub tool_close: u32,
}

/// Encoding and decoding of trajectory markup for one model's vocabulary.
///
/// Contract: `decode(encode(text))` gives back the markup of `text` (spacing may differ
/// where the vocabulary does not keep it), so that [`crate::trajectory::parse_action`]
/// reads what the model generated.
pub trait TextCodec {
    /// Token ids of `text`; each `<image>` becomes one [`TextCodec::image_id`], which
    /// [`crate::rollout::expand_image_tokens`] widens to the image's placeholder run.
    ///
    /// # Errors
    /// The text cannot be tokenized.
    fn encode(&self, text: &str) -> Result<Vec<u32>>;

    /// Text of `ids` in trajectory markup. Ids outside the vocabulary decode to a marker
    /// rather than failing, because a sampled completion may contain any id.
    fn decode(&self, ids: &[u32]) -> String;

    /// Id of one `<image>` marker.
    fn image_id(&self) -> u32;

    /// Ids that end a generated turn.
    fn turn_ends(&self) -> TurnEnds;

    /// Returns the text that stands for a sample's prompt: the prompt itself, or a chat
    /// template's user turn followed by the opening of the assistant turn.
    fn frame_prompt(&self, prompt: &str) -> String {
        prompt.to_string()
    }

    /// Returns the text appended after a target's final assistant segment, and trained, so
    /// that the model learns to end its turn. Empty when the markup already ends it.
    fn end_of_turn(&self) -> &str {
        ""
    }
}

impl TextCodec for Tokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(Tokenizer::encode(self, text))
    }

    fn decode(&self, ids: &[u32]) -> String {
        Tokenizer::decode(self, ids)
    }

    fn image_id(&self) -> u32 {
        self.special().image
    }

    fn turn_ends(&self) -> TurnEnds {
        let special = self.special();
        TurnEnds { eos: special.eos, answer_close: Some(special.answer_close), tool_close: special.tool_close }
    }
}
