//! The ActFER answer block as the policy writes it: `<answer>EMOTION; AU list</answer>`.
//!
//! The list is comma-separated (`AU6, AU12`) or `none`. The word-level tokenizer drops
//! whitespace next to punctuation on decoding, so `happiness;AU6,AU12` parses the same as
//! `happiness; AU6, AU12`. The native reward crate expects a two-line `AUs:`/`Emotion:` block
//! instead; [`Answer::to_reward_block`] converts a parsed answer to that form.

use std::collections::BTreeSet;
use std::fmt;

pub use assay_actfer_reward::EMOTIONS;

/// A parsed answer: one of the eight emotions and a set of Action Unit numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Lowercase emotion, one of [`EMOTIONS`].
    pub emotion: String,
    /// Action Unit numbers, e.g. `{6, 12}` for `AU6, AU12`.
    pub action_units: BTreeSet<u32>,
}

impl Answer {
    /// Builds an answer after checking the emotion name (case-insensitive).
    ///
    /// # Errors
    /// The emotion is not one of [`EMOTIONS`].
    pub fn new(emotion: &str, action_units: impl IntoIterator<Item = u32>) -> Result<Self, String> {
        Ok(Self { emotion: parse_emotion(emotion)?, action_units: action_units.into_iter().collect() })
    }

    /// Writes the block that the native `actfer_accuracy` reward parses.
    pub fn to_reward_block(&self) -> String {
        format!("<answer>\nAUs: {}\nEmotion: {}\n</answer>", self.au_list(), self.emotion)
    }

    /// Returns the Action Units as `AU6, AU12`, or `none` for the empty set.
    pub fn au_list(&self) -> String {
        if self.action_units.is_empty() {
            return "none".to_string();
        }
        self.action_units.iter().map(|au| format!("AU{au}")).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Answer {
    /// Writes the body of an answer block: `happiness; AU6, AU12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.emotion, self.au_list())
    }
}

/// Parses the body of an answer block (the text between `<answer>` and `</answer>`).
///
/// # Errors
/// Returns a message naming the part that is wrong: no `;`, an unknown emotion, or an
/// Action Unit that is not written `AU12` or `12`.
pub fn parse_answer(body: &str) -> Result<Answer, String> {
    let body = body.trim();
    let Some((emotion, units)) = body.split_once(';') else {
        return Err(format!("answer `{body}` has no `;`: write `EMOTION; AU list`, e.g. `happiness; AU6, AU12`"));
    };
    Ok(Answer { emotion: parse_emotion(emotion)?, action_units: parse_action_units(units)? })
}

fn parse_emotion(text: &str) -> Result<String, String> {
    let label = text.trim().to_ascii_lowercase();
    if EMOTIONS.contains(&label.as_str()) {
        Ok(label)
    } else {
        Err(format!("emotion `{}` is not one of {}", text.trim(), EMOTIONS.join(", ")))
    }
}

fn parse_action_units(text: &str) -> Result<BTreeSet<u32>, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Ok(BTreeSet::new());
    }
    text.split(',')
        .map(|item| {
            let item = item.trim();
            let digits = item.strip_prefix("AU").or_else(|| item.strip_prefix("au")).unwrap_or(item);
            digits.parse::<u32>().map_err(|_| format!("action unit `{item}` is not of the form `AU12` or `12`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spaced_answer() {
        let answer = parse_answer(" Happiness; AU6, AU12 ").unwrap();
        assert_eq!(answer.emotion, "happiness");
        assert_eq!(answer.action_units, BTreeSet::from([6, 12]));
    }

    #[test]
    fn parses_decoded_answer_without_spaces() {
        let answer = parse_answer("contempt;AU12,14").unwrap();
        assert_eq!(answer.emotion, "contempt");
        assert_eq!(answer.action_units, BTreeSet::from([12, 14]));
    }

    #[test]
    fn none_is_empty_set() {
        assert!(parse_answer("neutral; none").unwrap().action_units.is_empty());
        assert!(parse_answer("neutral;").unwrap().action_units.is_empty());
    }

    #[test]
    fn rejects_missing_separator() {
        let error = parse_answer("happiness AU6").unwrap_err();
        assert!(error.contains("no `;`"), "{error}");
    }

    #[test]
    fn rejects_unknown_emotion() {
        let error = parse_answer("joy; AU6").unwrap_err();
        assert!(error.contains("`joy`"), "{error}");
    }

    #[test]
    fn rejects_malformed_action_unit() {
        let error = parse_answer("fear; AU1, brow").unwrap_err();
        assert!(error.contains("`brow`"), "{error}");
    }

    #[test]
    fn display_round_trips() {
        let answer = Answer::new("Fear", [1, 2, 4, 5, 20]).unwrap();
        assert_eq!(answer.to_string(), "fear; AU1, AU2, AU4, AU5, AU20");
        assert_eq!(parse_answer(&answer.to_string()).unwrap(), answer);
    }

    #[test]
    fn reward_block_parses_in_native_crate() {
        let answer = Answer::new("disgust", [9, 15]).unwrap();
        let parsed = assay_actfer_reward::parse_answer(&answer.to_reward_block()).unwrap();
        assert_eq!(parsed.emotion, "disgust");
        assert_eq!(parsed.action_units, BTreeSet::from([9, 15]));
    }
}
