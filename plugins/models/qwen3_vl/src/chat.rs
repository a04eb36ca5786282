//! Qwen ChatML prompts with tool calls.
//!
//! The Jinja chat template in `tokenizer_config.json` is not executed: this module renders
//! the same ChatML layout in Rust (`<|im_start|>role\n…<|im_end|>\n`, tool signatures in
//! the system turn, `<tool_call>{json}</tool_call>` in assistant turns and
//! `<tool_response>` in user turns). A Jinja engine would be a further dependency for a
//! template that every Qwen3 and Qwen3-VL checkpoint shares; [`check_chat_template`]
//! rejects templates that are not ChatML.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Placeholder for one image before expansion to its token count.
pub const IMAGE_PLACEHOLDER: &str = "<|vision_start|><|image_pad|><|vision_end|>";

/// Speaker of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// Part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Content {
    Text(String),
    /// An image, rendered as [`IMAGE_PLACEHOLDER`].
    Image,
}

/// A function call emitted by the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: String,
    pub arguments: serde_json::Value,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: Vec<Content>,
    /// Calls made by an assistant message; empty for other roles.
    pub tool_calls: Vec<ToolCall>,
}

impl ChatMessage {
    /// Creates a message with text only.
    pub fn text(role: Role, text: &str) -> Self {
        ChatMessage { role, content: vec![Content::Text(text.to_string())], tool_calls: Vec::new() }
    }

    fn rendered_content(&self) -> String {
        self.content
            .iter()
            .map(|c| match c {
                Content::Text(text) => text.as_str(),
                Content::Image => IMAGE_PLACEHOLDER,
            })
            .collect()
    }
}

/// Renders `messages` as a Qwen ChatML prompt. `tools` are JSON function signatures
/// (`{"type": "function", "function": {...}}`); with `add_generation_prompt` the prompt ends
/// with an open assistant turn.
pub fn render_chat(messages: &[ChatMessage], tools: &[serde_json::Value], add_generation_prompt: bool) -> String {
    let mut out = String::new();
    let (system, rest) = match messages.first() {
        Some(first) if first.role == Role::System => (Some(first.rendered_content()), &messages[1..]),
        _ => (None, messages),
    };
    if !tools.is_empty() {
        out.push_str("<|im_start|>system\n");
        if let Some(system) = &system {
            out.push_str(system);
            out.push_str("\n\n");
        }
        out.push_str("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n");
        out.push_str("You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        for tool in tools {
            out.push('\n');
            out.push_str(&tool.to_string());
        }
        out.push_str("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n");
    } else if let Some(system) = &system {
        out.push_str(&format!("<|im_start|>system\n{system}<|im_end|>\n"));
    }
    for (index, message) in rest.iter().enumerate() {
        match message.role {
            Role::System | Role::User => {
                let role = if message.role == Role::System { "system" } else { "user" };
                out.push_str(&format!("<|im_start|>{role}\n{}<|im_end|>\n", message.rendered_content()));
            }
            Role::Assistant => {
                let content = message.rendered_content();
                out.push_str("<|im_start|>assistant\n");
                out.push_str(&content);
                for (call_index, call) in message.tool_calls.iter().enumerate() {
                    if call_index > 0 || !content.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(&format_tool_call(call));
                }
                out.push_str("<|im_end|>\n");
            }
            Role::Tool => {
                // Consecutive tool results share one user turn.
                let first = index == 0 || rest[index - 1].role != Role::Tool;
                let last = index + 1 == rest.len() || rest[index + 1].role != Role::Tool;
                if first {
                    out.push_str("<|im_start|>user");
                }
                out.push_str(&format!("\n<tool_response>\n{}\n</tool_response>", message.rendered_content()));
                if last {
                    out.push_str("<|im_end|>\n");
                }
            }
        }
    }
    if add_generation_prompt {
        out.push_str("<|im_start|>assistant\n");
    }
    out
}

/// Formats a call as `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`.
pub fn format_tool_call(call: &ToolCall) -> String {
    let body = serde_json::json!({"name": call.name, "arguments": call.arguments});
    format!("<tool_call>\n{body}\n</tool_call>")
}

/// Extracts every `<tool_call>{json}</tool_call>` from generated text.
///
/// # Errors
/// When a block is not closed, is not JSON, or lacks `name`.
pub fn parse_tool_calls(text: &str) -> Result<Vec<ToolCall>> {
    let mut calls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<tool_call>") {
        let after = &rest[start + "<tool_call>".len()..];
        let end = after.find("</tool_call>").context("a `<tool_call>` block is not closed by `</tool_call>`")?;
        let body = after[..end].trim();
        let value: serde_json::Value =
            serde_json::from_str(body).with_context(|| format!("tool call is not valid JSON: {body}"))?;
        let name = value
            .get("name")
            .and_then(|n| n.as_str())
            .with_context(|| format!("tool call has no string `name`: {body}"))?;
        let arguments = value.get("arguments").cloned().unwrap_or(serde_json::json!({}));
        calls.push(ToolCall { name: name.to_string(), arguments });
        rest = &after[end + "</tool_call>".len()..];
    }
    Ok(calls)
}

/// Checks that the `chat_template` of a `tokenizer_config.json` body is Qwen ChatML, the
/// only layout [`render_chat`] produces.
///
/// # Errors
/// When the template is present but does not use `<|im_start|>` turns.
pub fn check_chat_template(tokenizer_config: &str) -> Result<()> {
    let value: serde_json::Value = serde_json::from_str(tokenizer_config).context("`tokenizer_config.json` is not valid JSON")?;
    match value.get("chat_template").and_then(|t| t.as_str()) {
        Some(template) if !template.contains("<|im_start|>") => {
            bail!("the chat template is not Qwen ChatML (no `<|im_start|>`): this plugin renders ChatML only")
        }
        _ => Ok(()),
    }
}
