//! Parsing of the `<answer>` block that ends an ActFER completion.

use std::collections::BTreeSet;

/// The eight emotion labels of ActFER, lowercase.
pub const EMOTIONS: [&str; 8] = [
    "neutral",
    "happiness",
    "sadness",
    "surprise",
    "fear",
    "disgust",
    "anger",
    "contempt",
];

/// The structured prediction in an answer block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Predicted Action Unit numbers, e.g. `{6, 12}` for `AU6, AU12`.
    pub action_units: BTreeSet<u32>,
    /// Predicted emotion, one of [`EMOTIONS`].
    pub emotion: String,
}

/// Parses the last `<answer>...</answer>` block of `completion`.
///
/// The block is written in one of two forms:
/// - two lines, one `Emotion:` line naming one of [`EMOTIONS`] (case-insensitive) and one
///   `AUs:` line with comma-separated units written `AU12` or `12`, in either order;
/// - one line `EMOTION; AU list`, e.g. `happiness; AU6, AU12`, the form Assay's policies
///   write. A body without `:` is read in this form.
///
/// `none` or an empty list is the empty set of units. Nothing but whitespace may follow the
/// closing tag.
///
/// # Errors
/// Returns a message that says which part of the format is wrong.
pub fn parse_answer(completion: &str) -> Result<Answer, String> {
    let trimmed = completion.trim_end();
    let Some(body_end) = trimmed.strip_suffix("</answer>") else {
        return Err("the completion does not end with `</answer>`".to_string());
    };
    let Some(start) = body_end.rfind("<answer>") else {
        return Err("no `<answer>` opens the final answer block".to_string());
    };
    let body = &body_end[start + "<answer>".len()..];
    if !body.contains(':') {
        return parse_one_line(body);
    }

    let mut emotion = None;
    let mut action_units = None;
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("answer line `{line}` has no `key: value` form"));
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "emotion" => {
                if emotion.is_some() {
                    return Err("the answer has more than one `Emotion:` line".to_string());
                }
                emotion = Some(parse_emotion(value)?);
            }
            "aus" | "action units" => {
                if action_units.is_some() {
                    return Err("the answer has more than one `AUs:` line".to_string());
                }
                action_units = Some(parse_action_units(value)?);
            }
            other => return Err(format!("unknown answer field `{other}`")),
        }
    }

    Ok(Answer {
        emotion: emotion.ok_or("the answer has no `Emotion:` line")?,
        action_units: action_units.ok_or("the answer has no `AUs:` line")?,
    })
}

/// Parses the one-line form `EMOTION; AU list`.
fn parse_one_line(body: &str) -> Result<Answer, String> {
    let body = body.trim();
    let Some((emotion, units)) = body.split_once(';') else {
        return Err(format!(
            "answer `{body}` has neither `Emotion:`/`AUs:` lines nor the form `EMOTION; AU list`"
        ));
    };
    Ok(Answer {
        emotion: parse_emotion(emotion)?,
        action_units: parse_action_units(units)?,
    })
}

fn parse_emotion(value: &str) -> Result<String, String> {
    let label = value.trim().trim_end_matches('.').to_ascii_lowercase();
    if EMOTIONS.contains(&label.as_str()) {
        Ok(label)
    } else {
        Err(format!(
            "emotion `{}` is not one of {}",
            value.trim(),
            EMOTIONS.join(", ")
        ))
    }
}

/// Parses `AU6, AU12` or `6, 12`; `none` or an empty value is the empty set.
fn parse_action_units(value: &str) -> Result<BTreeSet<u32>, String> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("none") {
        return Ok(BTreeSet::new());
    }
    value
        .split(',')
        .map(|item| {
            let item = item.trim();
            let digits = item
                .strip_prefix("AU")
                .or_else(|| item.strip_prefix("au"))
                .unwrap_or(item);
            digits
                .parse::<u32>()
                .map_err(|_| format!("action unit `{item}` is not of the form `AU12` or `12`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_well_formed_answer() {
        let answer = parse_answer(
            "<think>cheeks raised</think>\n<answer>\nAUs: AU6, AU12, 25\nEmotion: Happiness\n</answer>\n",
        )
        .unwrap();
        assert_eq!(answer.emotion, "happiness");
        assert_eq!(answer.action_units, BTreeSet::from([6, 12, 25]));
    }

    #[test]
    fn parses_one_line_answer() {
        let answer = parse_answer("<tool>zoom_in{}</tool> <answer>Fear; AU1, AU2, 4</answer>").unwrap();
        assert_eq!(answer.emotion, "fear");
        assert_eq!(answer.action_units, BTreeSet::from([1, 2, 4]));
    }

    #[test]
    fn parses_decoded_one_line_answer() {
        // The word-level tokenizer decodes without spaces around punctuation.
        let answer = parse_answer("<answer>contempt;AU12,AU14</answer>").unwrap();
        assert_eq!(answer.emotion, "contempt");
        assert_eq!(answer.action_units, BTreeSet::from([12, 14]));
        assert!(parse_answer("<answer>neutral;none</answer>").unwrap().action_units.is_empty());
    }

    #[test]
    fn rejects_one_line_without_separator() {
        let err = parse_answer("<answer>happiness AU6</answer>").unwrap_err();
        assert!(err.contains("`EMOTION; AU list`"), "{err}");
        let err = parse_answer("<answer>joy; AU6</answer>").unwrap_err();
        assert!(err.contains("`joy`"), "{err}");
    }

    #[test]
    fn uses_last_answer_block() {
        let answer =
            parse_answer("<answer>AUs: 1\nEmotion: fear</answer> then <answer>AUs: none\nEmotion: neutral</answer>")
                .unwrap();
        assert_eq!(answer.emotion, "neutral");
        assert!(answer.action_units.is_empty());
    }

    #[test]
    fn rejects_text_after_answer() {
        let err = parse_answer("<answer>AUs: 1\nEmotion: fear</answer> trailing").unwrap_err();
        assert!(err.contains("does not end"), "{err}");
    }

    #[test]
    fn rejects_unknown_emotion() {
        let err = parse_answer("<answer>AUs: 1\nEmotion: joy</answer>").unwrap_err();
        assert!(err.contains("`joy`"), "{err}");
    }

    #[test]
    fn rejects_missing_action_units() {
        let err = parse_answer("<answer>Emotion: fear</answer>").unwrap_err();
        assert!(err.contains("no `AUs:`"), "{err}");
    }

    #[test]
    fn rejects_malformed_action_unit() {
        let err = parse_answer("<answer>AUs: AU6, brow\nEmotion: fear</answer>").unwrap_err();
        assert!(err.contains("`brow`"), "{err}");
    }
}
