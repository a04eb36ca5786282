//! The checkpoint's `tokenizer.json`, read with the `tokenizers` crate, and the expansion
//! of image placeholders to the number of tokens each image occupies.

use std::path::Path;

use anyhow::{anyhow, Context, Result};

/// A Hugging Face tokenizer.
#[derive(Clone)]
pub struct QwenTokenizer {
    inner: tokenizers::Tokenizer,
}

impl QwenTokenizer {
    /// Reads `tokenizer.json`.
    ///
    /// # Errors
    /// When the file is missing or uses a component the build lacks.
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| anyhow!("failed to read tokenizer {}: {e}", path.display()))?;
        Ok(QwenTokenizer { inner })
    }

    /// Encodes text; special tokens such as `<|im_start|>` written in the text become
    /// their ids, and no BOS/EOS is added (Qwen adds none).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode(text, false).map_err(|e| anyhow!("failed to tokenize text: {e}"))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Decodes ids, keeping special tokens when `skip_special_tokens` is false.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner.decode(ids, skip_special_tokens).map_err(|e| anyhow!("failed to decode ids: {e}"))
    }

    /// Id of a token string, e.g. `<|image_pad|>`.
    pub fn token_id(&self, token: &str) -> Result<u32> {
        self.inner.token_to_id(token).with_context(|| format!("token `{token}` is not in the vocabulary"))
    }
}

/// Repeats the `k`-th `image_token_id` of `ids` `counts[k]` times.
///
/// # Errors
/// When the number of placeholders differs from `counts.len()`.
pub fn expand_image_placeholders(ids: &[u32], image_token_id: u32, counts: &[usize]) -> Result<Vec<u32>> {
    let found = ids.iter().filter(|&&id| id == image_token_id).count();
    if found != counts.len() {
        anyhow::bail!("the prompt has {found} image placeholders but {} images were given", counts.len());
    }
    let mut out = Vec::with_capacity(ids.len() + counts.iter().sum::<usize>());
    let mut next = counts.iter();
    for &id in ids {
        if id == image_token_id {
            let count = *next.next().expect("counted above");
            out.extend(std::iter::repeat_n(id, count));
        } else {
            out.push(id);
        }
    }
    Ok(out)
}
