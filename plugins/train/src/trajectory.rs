//! The chat and trajectory format shared by data synthesis, SFT and GRPO.
//!
//! An assistant turn reads `<think>…</think><tool>NAME{JSON}</tool>` or
//! `<think>…</think><answer>…</answer>`. A tool's result comes back as
//! `<obs>TEXT<image></obs>`, which is never trained on. Samples are stored as JSON lines
//! beside their image files (binary PPM, `P6`, 8 bits per channel).

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::image::Image;

/// One piece of a trajectory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case", deny_unknown_fields)]
pub enum Segment {
    /// Text the model writes (trained on in SFT).
    Assistant { text: String },
    /// A tool result: text with `<image>` markers, one per file in `images` (never trained on).
    Observation {
        text: String,
        #[serde(default)]
        images: Vec<String>,
    },
}

/// One training or evaluation example, one JSON line in a samples file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Unique id within its file.
    pub id: String,
    /// User prompt; each `<image>` marks one entry of `images`.
    pub prompt: String,
    /// Image files of the prompt, relative to the samples file.
    #[serde(default)]
    pub images: Vec<String>,
    /// Target trajectory for SFT; empty for prompts used only in GRPO or evaluation.
    #[serde(default)]
    pub target: Vec<Segment>,
    /// Ground-truth answer that rewards compare against.
    #[serde(default)]
    pub answer: Option<String>,
    /// Free-form data for rewards and tools (for example the region that contains the answer).
    #[serde(default)]
    pub metadata: serde_json::Value,
}

/// Request of an assistant turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A well-formed tool call.
    ToolCall { name: String, args: serde_json::Value },
    /// A final answer (text between `<answer>` and `</answer>`).
    Answer(String),
    /// A `<tool>` block that does not parse; the message becomes an error observation.
    Malformed(String),
    /// Neither a tool call nor an answer (the turn ran out of tokens or ended early).
    Nothing,
}

/// Parses the last tool call or answer of an assistant turn, strictly.
///
/// A tool call is `<tool>NAME{…}</tool>` where NAME is `[a-z_][a-z0-9_]*` and `{…}` is one
/// JSON object. Anything else inside `<tool>…</tool>` is [`Action::Malformed`].
pub fn parse_action(turn: &str) -> Action {
    if let Some(start) = turn.rfind("<answer>") {
        let body = &turn[start + "<answer>".len()..];
        return match body.find("</answer>") {
            Some(end) => Action::Answer(body[..end].trim().to_string()),
            None => Action::Nothing,
        };
    }
    let Some(start) = turn.rfind("<tool>") else {
        return Action::Nothing;
    };
    let body = &turn[start + "<tool>".len()..];
    let Some(end) = body.find("</tool>") else {
        return Action::Malformed("tool call has no closing `</tool>`".into());
    };
    parse_tool_call(body[..end].trim())
}

fn parse_tool_call(call: &str) -> Action {
    let name_end = call.find('{').unwrap_or(call.len());
    let name = call[..name_end].trim();
    let valid_name = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Action::Malformed(format!("tool name `{name}` is invalid: use lowercase letters, digits and `_`"));
    }
    if name_end == call.len() {
        return Action::Malformed(format!("tool call `{name}` has no JSON arguments: write `{name}{{}}`"));
    }
    match serde_json::from_str::<serde_json::Value>(&call[name_end..]) {
        Ok(args) if args.is_object() => Action::ToolCall { name: name.to_string(), args },
        Ok(_) => Action::Malformed(format!("arguments of `{name}` are not a JSON object")),
        Err(error) => Action::Malformed(format!("arguments of `{name}` are invalid JSON: {error}")),
    }
}

/// Reads samples from a JSON lines file; blank lines are skipped.
///
/// # Errors
/// Names the file and line of the first invalid sample.
pub fn read_samples(path: &Path) -> Result<Vec<Sample>> {
    let file = std::fs::File::open(path).with_context(|| format!("failed to open samples file {}", path.display()))?;
    let mut samples = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("failed to read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let sample: Sample = serde_json::from_str(&line)
            .with_context(|| format!("invalid sample at {}:{}", path.display(), index + 1))?;
        samples.push(sample);
    }
    Ok(samples)
}

/// Writes samples as JSON lines.
pub fn write_samples(path: &Path, samples: &[Sample]) -> Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("failed to create {}", path.display()))?,
    );
    for sample in samples {
        serde_json::to_writer(&mut out, sample)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Writes an image as binary PPM (`P6`, values rounded to 8 bits).
pub fn write_ppm(path: &Path, image: &Image) -> Result<()> {
    let mut bytes = format!("P6\n{} {}\n255\n", image.width, image.height).into_bytes();
    for y in 0..image.height {
        for x in 0..image.width {
            for c in 0..3 {
                bytes.push((image.at(c, y, x).clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
    }
    std::fs::write(path, bytes).with_context(|| format!("failed to write image {}", path.display()))
}

/// Reads a binary PPM (`P6`, maximum value 255) image.
///
/// # Errors
/// Fails on another format, a truncated file, or comments in the header.
pub fn read_ppm(path: &Path) -> Result<Image> {
    let bytes = std::fs::read(path).with_context(|| format!("failed to read image {}", path.display()))?;
    let mut fields = Vec::new();
    let mut index = 0;
    while fields.len() < 4 {
        while index < bytes.len() && bytes[index].is_ascii_whitespace() {
            index += 1;
        }
        let start = index;
        while index < bytes.len() && !bytes[index].is_ascii_whitespace() {
            index += 1;
        }
        if start == index {
            bail!("{} ends inside its PPM header", path.display());
        }
        fields.push(String::from_utf8_lossy(&bytes[start..index]).into_owned());
    }
    let parse = |s: &str| s.parse::<usize>().with_context(|| format!("invalid PPM header value `{s}` in {}", path.display()));
    if fields[0] != "P6" || parse(&fields[3])? != 255 {
        bail!("{} is not an 8-bit binary PPM (`P6` with maximum 255)", path.display());
    }
    let (width, height) = (parse(&fields[1])?, parse(&fields[2])?);
    let data = bytes.get(index + 1..).unwrap_or_default();
    if data.len() < 3 * width * height {
        bail!("{} is truncated: {} pixel bytes, {width}x{height} needs {}", path.display(), data.len(), 3 * width * height);
    }
    Image::from_rgb8(height, width, &data[..3 * width * height])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tool_call_and_answer() {
        let action = parse_action("<think>look</think><tool>zoom_in{\"region\":\"mouth\"}</tool>");
        assert_eq!(action, Action::ToolCall { name: "zoom_in".into(), args: serde_json::json!({"region": "mouth"}) });
        assert_eq!(parse_action("<answer> red </answer>"), Action::Answer("red".into()));
        assert_eq!(parse_action("<think>hm</think>"), Action::Nothing);
    }

    #[test]
    fn malformed_tool_calls_become_errors() {
        for call in ["<tool>zoom_in{region}</tool>", "<tool>Zoom{}</tool>", "<tool>zoom_in</tool>", "<tool>zoom_in{}", "<tool>zoom_in[1]</tool>"] {
            assert!(matches!(parse_action(call), Action::Malformed(_)), "{call}");
        }
    }

    #[test]
    fn ppm_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let image = Image::from_rgb8(2, 3, &[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 255]).unwrap();
        let path = dir.path().join("a.ppm");
        write_ppm(&path, &image).unwrap();
        assert_eq!(read_ppm(&path).unwrap(), image);
    }
}
