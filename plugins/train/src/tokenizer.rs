//! A word-level tokenizer stored in the Hugging Face `tokenizer.json` format.
//!
//! The file layout follows the `tokenizers` library: `added_tokens` (the special tokens,
//! matched literally before anything else), a `Whitespace` pre-tokenizer (runs of word
//! characters `\w+` or of punctuation `[^\w\s]+`) and a `WordLevel` model with an unknown
//! token. Other model types (BPE, Unigram) are rejected with an error naming the type.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Special tokens every experiment vocabulary starts with, in id order.
pub const SPECIAL_TOKENS: [&str; 12] = [
    "<pad>", "<eos>", "<unk>", "<image>", "<think>", "</think>", "<tool>", "</tool>", "<obs>", "</obs>", "<answer>",
    "</answer>",
];

/// Ids of the special tokens that the trajectory format and the training loops use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialIds {
    pub pad: u32,
    pub eos: u32,
    pub unk: u32,
    pub image: u32,
    pub think_open: u32,
    pub think_close: u32,
    pub tool_open: u32,
    pub tool_close: u32,
    pub obs_open: u32,
    pub obs_close: u32,
    pub answer_open: u32,
    pub answer_close: u32,
}

/// A word-level tokenizer: see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenizer {
    vocab: HashMap<String, u32>,
    tokens: Vec<String>,
    /// Added tokens, longest first so that the literal match is greedy.
    added: Vec<(String, u32)>,
    unk: u32,
    special: SpecialIds,
}

#[derive(Clone, Copy, PartialEq)]
enum CharClass {
    Word,
    Space,
    Punct,
}

fn char_class(c: char) -> CharClass {
    if c.is_alphanumeric() || c == '_' {
        CharClass::Word
    } else if c.is_whitespace() {
        CharClass::Space
    } else {
        CharClass::Punct
    }
}

/// Splits text like the `Whitespace` pre-tokenizer of `tokenizers` (`\w+|[^\w\s]+`).
pub fn pre_tokenize(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start: Option<(usize, CharClass)> = None;
    for (index, c) in text.char_indices() {
        let class = char_class(c);
        match start {
            Some((_, current)) if current == class => {}
            Some((begin, current)) => {
                if current != CharClass::Space {
                    pieces.push(&text[begin..index]);
                }
                start = Some((index, class));
            }
            None => start = Some((index, class)),
        }
    }
    if let Some((begin, class)) = start {
        if class != CharClass::Space {
            pieces.push(&text[begin..]);
        }
    }
    pieces
}

impl Tokenizer {
    /// Builds a vocabulary from the special tokens followed by every distinct word of
    /// `texts` (after pre-tokenization, special tokens removed), in sorted order.
    pub fn from_corpus<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let specials: Vec<(String, u32)> = SPECIAL_TOKENS.iter().map(|t| (t.to_string(), 0)).collect();
        let mut words: Vec<String> = Vec::new();
        for text in texts {
            for (segment, is_special) in split_specials(text, &specials) {
                if !is_special {
                    words.extend(pre_tokenize(segment).into_iter().map(str::to_string));
                }
            }
        }
        words.sort();
        words.dedup();
        let tokens: Vec<String> = SPECIAL_TOKENS.iter().map(|t| t.to_string()).chain(words).collect();
        Self::from_tokens(tokens).expect("the special tokens are always present")
    }

    /// Builds a tokenizer whose token `i` is `tokens[i]`; the first entries need not be the
    /// special tokens, but all of [`SPECIAL_TOKENS`] must be present.
    fn from_tokens(tokens: Vec<String>) -> Result<Self> {
        let vocab: HashMap<String, u32> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        if vocab.len() != tokens.len() {
            bail!("the vocabulary lists a token twice: every token needs its own id");
        }
        let id = |name: &str| -> Result<u32> {
            vocab.get(name).copied().with_context(|| format!("special token `{name}` is missing from the vocabulary"))
        };
        let special = SpecialIds {
            pad: id("<pad>")?,
            eos: id("<eos>")?,
            unk: id("<unk>")?,
            image: id("<image>")?,
            think_open: id("<think>")?,
            think_close: id("</think>")?,
            tool_open: id("<tool>")?,
            tool_close: id("</tool>")?,
            obs_open: id("<obs>")?,
            obs_close: id("</obs>")?,
            answer_open: id("<answer>")?,
            answer_close: id("</answer>")?,
        };
        let mut added: Vec<(String, u32)> = SPECIAL_TOKENS.iter().map(|t| (t.to_string(), vocab[*t])).collect();
        added.sort_by_key(|(token, _)| std::cmp::Reverse(token.len()));
        Ok(Self { unk: special.unk, vocab, tokens, added, special })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    pub fn special(&self) -> SpecialIds {
        self.special
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Encodes text: special tokens literally, then words; unknown words become `<unk>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for (segment, is_special) in split_specials(text, &self.added) {
            if is_special {
                ids.push(self.vocab[segment]);
            } else {
                ids.extend(pre_tokenize(segment).into_iter().map(|w| self.vocab.get(w).copied().unwrap_or(self.unk)));
            }
        }
        ids
    }

    /// Decodes ids to text. Two neighbouring word tokens are joined by one space and all
    /// other neighbours without one, so `zoom_in{"region":"mouth"}` and `a red square`
    /// survive a round trip (spaces around punctuation do not). Unknown ids decode to `<unk>`.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut text = String::new();
        let mut previous_word = false;
        for &id in ids {
            let token = self.token(id).unwrap_or("<unk>");
            let is_special = self.added.iter().any(|(t, _)| t == token);
            let is_word = !is_special && token.chars().all(|c| char_class(c) == CharClass::Word);
            if previous_word && is_word {
                text.push(' ');
            }
            text.push_str(token);
            previous_word = is_word;
        }
        text
    }

    /// Serialises to the `tokenizer.json` layout of the `tokenizers` library.
    pub fn to_json(&self) -> Value {
        let added: Vec<Value> = SPECIAL_TOKENS
            .iter()
            .map(|t| {
                json!({"id": self.vocab[*t], "content": t, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": true})
            })
            .collect();
        let vocab: serde_json::Map<String, Value> =
            self.tokens.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
        json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null,
            "decoder": null,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
        })
    }

    /// Reads a `tokenizer.json` with a `WordLevel` model.
    ///
    /// # Errors
    /// Fails on invalid JSON, another model type, ids that are not `0..n`, or a missing
    /// special token.
    pub fn from_json(value: &Value) -> Result<Self> {
        let model = value.get("model").context("`tokenizer.json` has no `model` object")?;
        let kind = model.get("type").and_then(Value::as_str).unwrap_or("<missing>");
        if kind != "WordLevel" {
            bail!("tokenizer model type `{kind}` is not supported: only `WordLevel` is");
        }
        let vocab = model.get("vocab").and_then(Value::as_object).context("`model.vocab` is missing or not an object")?;
        let mut tokens = vec![None; vocab.len()];
        for (token, id) in vocab {
            let id = id.as_u64().with_context(|| format!("id of token `{token}` is not a non-negative integer"))? as usize;
            let slot = tokens
                .get_mut(id)
                .with_context(|| format!("token `{token}` has id {id}, outside 0..{}", vocab.len()))?;
            *slot = Some(token.clone());
        }
        let tokens: Vec<String> = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.with_context(|| format!("no token has id {i}: ids must be 0..n without gaps")))
            .collect::<Result<_>>()?;
        Self::from_tokens(tokens)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())?;
        std::fs::write(path, text).with_context(|| format!("failed to write tokenizer to {}", path.display()))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
        let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
        Self::from_json(&value).with_context(|| format!("invalid tokenizer in {}", path.display()))
    }
}

/// Splits `text` into segments that are an added token (`true`) or plain text (`false`).
fn split_specials<'a>(text: &'a str, added: &[(String, u32)]) -> Vec<(&'a str, bool)> {
    let mut segments = Vec::new();
    let mut plain_start = 0;
    let mut index = 0;
    while index < text.len() {
        let rest = &text[index..];
        if let Some((token, _)) = added.iter().find(|(t, _)| rest.starts_with(t.as_str())) {
            if plain_start < index {
                segments.push((&text[plain_start..index], false));
            }
            segments.push((&text[index..index + token.len()], true));
            index += token.len();
            plain_start = index;
        } else {
            index += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    if plain_start < text.len() {
        segments.push((&text[plain_start..], false));
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_tokenize_matches_whitespace_rule() {
        assert_eq!(pre_tokenize("zoom_in{\"region\":\"mouth\"} a  b."), vec!["zoom_in", "{\"", "region", "\":\"", "mouth", "\"}", "a", "b", "."]);
    }

    #[test]
    fn round_trip_through_json() {
        let tokenizer = Tokenizer::from_corpus(["<think>a red square</think><tool>zoom_in{\"region\":\"mouth\"}</tool>"]);
        let text = "<think>a red square</think><tool>zoom_in{\"region\":\"mouth\"}</tool>";
        let ids = tokenizer.encode(text);
        assert_eq!(tokenizer.decode(&ids), text);
        let reloaded = Tokenizer::from_json(&tokenizer.to_json()).unwrap();
        assert_eq!(reloaded, tokenizer);
        assert_eq!(tokenizer.encode("blue"), vec![tokenizer.special().unk]);
    }

    #[test]
    fn rejects_bpe_model() {
        let error = Tokenizer::from_json(&json!({"model": {"type": "BPE"}})).unwrap_err();
        assert!(error.to_string().contains("`BPE`"), "{error}");
    }
}
