//! Trajectory markup in Qwen's chat layout: the [`TextCodec`] that lets the SFT and GRPO
//! loops train a Qwen3-VL or Qwen3 checkpoint.
//!
//! | markup                   | Qwen text                                                        |
//! |--------------------------|------------------------------------------------------------------|
//! | prompt `p`               | `<|im_start|>user\n` p `<|im_end|>\n<|im_start|>assistant\n`      |
//! | `<image>`                | `<|vision_start|><|image_pad|><|vision_end|>`                      |
//! | `<tool>name{args}</tool>`| `<tool_call>\n{"name": "name", "arguments": {args}}\n</tool_call>` |
//! | `<obs>` … `</obs>`       | end of the assistant turn, a user turn with `<tool_response>\n` … `\n</tool_response>`, and a new assistant turn |
//! | `<eos>`, end of answer   | `<|im_end|>`                                                      |
//!
//! `<think>` and `</think>` are Qwen3 tokens already; `<answer>…</answer>` stays text.
//! Decoding reverses every row, so a generated `<tool_call>` reaches the tool parser as
//! `<tool>name{args}</tool>`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use assay_train::{TextCodec, TurnEnds};
use serde_json::Value;

use crate::chat::IMAGE_PLACEHOLDER;
use crate::tokenizer::QwenTokenizer;

const IM_START: &str = "<|im_start|>";
const IM_END: &str = "<|im_end|>";
const IMAGE_PAD: &str = "<|image_pad|>";
const VISION_START: &str = "<|vision_start|>";
const VISION_END: &str = "<|vision_end|>";
const TOOL_CALL_OPEN: &str = "<tool_call>";
const TOOL_CALL_CLOSE: &str = "</tool_call>";
const OBS_OPEN: &str = "<|im_end|>\n<|im_start|>user\n<tool_response>\n";
const OBS_CLOSE: &str = "\n</tool_response><|im_end|>\n<|im_start|>assistant\n";

/// A Qwen tokenizer speaking trajectory markup.
#[derive(Clone)]
pub struct QwenCodec {
    tokenizer: QwenTokenizer,
    image_id: u32,
    ends: TurnEnds,
}

impl QwenCodec {
    /// Reads `tokenizer.json` (and checks `tokenizer_config.json`'s chat template, when
    /// present) from a checkpoint folder.
    ///
    /// # Errors
    /// A file is missing or invalid, or a token of the chat layout is not in the vocabulary.
    pub fn from_folder(folder: &Path) -> Result<Self> {
        let path = folder.join("tokenizer.json");
        if !path.is_file() {
            bail!("{} not found: a Qwen checkpoint folder contains its tokenizer as `tokenizer.json`", path.display());
        }
        let config_path = folder.join("tokenizer_config.json");
        if config_path.is_file() {
            let text = std::fs::read_to_string(&config_path).with_context(|| format!("failed to read {}", config_path.display()))?;
            crate::chat::check_chat_template(&text).with_context(|| format!("in {}", config_path.display()))?;
        }
        Self::new(QwenTokenizer::from_file(&path)?).with_context(|| format!("tokenizer {}", path.display()))
    }

    /// Wraps a tokenizer.
    ///
    /// # Errors
    /// A token of the chat layout is not in the vocabulary.
    pub fn new(tokenizer: QwenTokenizer) -> Result<Self> {
        for token in [IM_START, VISION_START, VISION_END, "<tool_response>", "</tool_response>", "<think>", "</think>"] {
            tokenizer.token_id(token)?;
        }
        let ends = TurnEnds { eos: tokenizer.token_id(IM_END)?, answer_close: None, tool_close: tokenizer.token_id(TOOL_CALL_CLOSE)? };
        tokenizer.token_id(TOOL_CALL_OPEN)?;
        let image_id = tokenizer.token_id(IMAGE_PAD)?;
        Ok(QwenCodec { tokenizer, image_id, ends })
    }
}

impl TextCodec for QwenCodec {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(&to_chat_text(text))
    }

    fn decode(&self, ids: &[u32]) -> String {
        match self.tokenizer.decode(ids, false) {
            Ok(text) => from_chat_text(&text),
            Err(error) => {
                tracing::warn!(%error, "ids do not decode");
                "<undecodable>".into()
            }
        }
    }

    fn image_id(&self) -> u32 {
        self.image_id
    }

    fn turn_ends(&self) -> TurnEnds {
        self.ends
    }

    fn frame_prompt(&self, prompt: &str) -> String {
        format!("{IM_START}user\n{prompt}{IM_END}\n{IM_START}assistant\n")
    }

    fn end_of_turn(&self) -> &str {
        IM_END
    }
}

/// Rewrites trajectory markup as Qwen chat text (see the module table).
pub fn to_chat_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("<tool>") {
            // A call runs to `</tool>`; an unclosed one keeps its raw body.
            match after.find("</tool>") {
                Some(end) => {
                    out.push_str(&tool_call_text(&after[..end]));
                    rest = &after[end + "</tool>".len()..];
                }
                None => {
                    out.push_str(TOOL_CALL_OPEN);
                    rest = after;
                }
            }
            continue;
        }
        let replacements: [(&str, &str); 5] =
            [("<image>", IMAGE_PLACEHOLDER), ("<obs>", OBS_OPEN), ("</obs>", OBS_CLOSE), ("<eos>", IM_END), ("</tool>", TOOL_CALL_CLOSE)];
        match replacements.iter().find(|(markup, _)| rest.starts_with(markup)) {
            Some((markup, chat)) => {
                out.push_str(chat);
                rest = &rest[markup.len()..];
            }
            None => {
                out.push('<');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Rewrites the call body `name{args}` as Qwen's JSON tool call. A body that is not a name
/// followed by a JSON object (or nothing) is kept as it is, so the parser later reports
/// it as malformed.
fn tool_call_text(body: &str) -> String {
    let body = body.trim();
    let split = body.find(|c: char| c == '{' || c.is_whitespace()).unwrap_or(body.len());
    let (name, args) = (&body[..split], body[split..].trim());
    let args: Option<Value> = if args.is_empty() { Some(Value::Object(Default::default())) } else { serde_json::from_str(args).ok() };
    match args {
        Some(args @ Value::Object(_)) if !name.is_empty() => {
            // Qwen's order: `name` first, then `arguments`.
            let name = Value::String(name.to_string());
            format!("{TOOL_CALL_OPEN}\n{{\"name\": {name}, \"arguments\": {args}}}\n{TOOL_CALL_CLOSE}")
        }
        _ => format!("{TOOL_CALL_OPEN}{body}{TOOL_CALL_CLOSE}"),
    }
}

/// Rewrites decoded Qwen chat text as trajectory markup (the inverse of [`to_chat_text`]).
pub fn from_chat_text(text: &str) -> String {
    // Whole images first: a run of image pads between the vision markers is one `<image>`.
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(VISION_START) {
        out.push_str(&rest[..start]);
        let after = &rest[start + VISION_START.len()..];
        let pads = after.len() - after.trim_start_matches(IMAGE_PAD).len();
        match after[pads..].strip_prefix(VISION_END) {
            Some(tail) => {
                out.push_str("<image>");
                rest = tail;
            }
            None => {
                out.push_str(VISION_START);
                rest = after;
            }
        }
    }
    out.push_str(rest);

    let out = out.replace(OBS_OPEN, "<obs>").replace(OBS_CLOSE, "</obs>");
    let out = out.replace("<tool_response>", "<obs>").replace("</tool_response>", "</obs>").replace(IM_END, "<eos>");
    tool_calls_to_markup(&out)
}

/// Rewrites each `<tool_call>{json}</tool_call>` as `<tool>name{args}</tool>`; a body that
/// is not a JSON call keeps its text between `<tool>` tags.
fn tool_calls_to_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(TOOL_CALL_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + TOOL_CALL_OPEN.len()..];
        let (body, tail, closed) = match after.find(TOOL_CALL_CLOSE) {
            Some(end) => (&after[..end], &after[end + TOOL_CALL_CLOSE.len()..], true),
            None => (after, "", false),
        };
        let parsed: Option<Value> = serde_json::from_str(body.trim()).ok();
        let call = parsed.as_ref().and_then(|v| Some((v.get("name")?.as_str()?, v.get("arguments").cloned().unwrap_or(Value::Null))));
        out.push_str("<tool>");
        match call {
            Some((name, Value::Object(args))) => {
                out.push_str(name);
                out.push_str(&Value::Object(args).to_string());
            }
            Some((name, Value::Null)) => {
                out.push_str(name);
                out.push_str("{}");
            }
            _ => out.push_str(body.trim()),
        }
        if closed {
            out.push_str("</tool>");
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_round_trips_through_chat_text() {
        let markup = "<image>Classify.<think>AU12 shows.</think><tool>zoom_in{\"region\":\"mouth-chin\"}</tool>\
                      <obs>region mouth-chin<image></obs><think>Happy.</think><answer>happiness; AU6, AU12</answer><eos>";
        let chat = to_chat_text(markup);
        assert!(chat.contains("<tool_call>\n{\"name\": \"zoom_in\", \"arguments\": {\"region\":\"mouth-chin\"}}\n</tool_call>"), "{chat}");
        assert!(chat.contains("<|im_end|>\n<|im_start|>user\n<tool_response>\nregion mouth-chin"), "{chat}");
        assert!(chat.ends_with("</answer><|im_end|>"), "{chat}");
        assert_eq!(from_chat_text(&chat), markup);
    }

    #[test]
    fn image_runs_collapse_to_one_marker() {
        let chat = format!("a{VISION_START}{}{VISION_END}b", IMAGE_PAD.repeat(5));
        assert_eq!(from_chat_text(&chat), "a<image>b");
    }

    #[test]
    fn calls_without_arguments_and_malformed_calls() {
        assert_eq!(from_chat_text(&to_chat_text("<tool>face_align{}</tool>")), "<tool>face_align{}</tool>");
        assert_eq!(from_chat_text(&to_chat_text("<tool>face_align</tool>")), "<tool>face_align{}</tool>");
        // Not a name with a JSON object: kept verbatim for the parser to reject.
        assert_eq!(to_chat_text("<tool>zoom_in{oops</tool>"), "<tool_call>zoom_in{oops</tool_call>");
        assert_eq!(from_chat_text("<tool_call>zoom_in{oops</tool_call>"), "<tool>zoom_in{oops</tool>");
        // An unfinished generated call keeps its text and gets no closing tag.
        assert_eq!(from_chat_text("<tool_call>\n{\"name\": \"zo"), "<tool>{\"name\": \"zo");
    }

    #[test]
    fn stray_angle_brackets_stay() {
        assert_eq!(to_chat_text("a < b <c>"), "a < b <c>");
        assert_eq!(from_chat_text("a < b <c>"), "a < b <c>");
    }
}
