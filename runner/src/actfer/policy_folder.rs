//! The folder in which a training stage leaves its policy for later stages.
//!
//! Layout under a stage's output folder: `policy/model.safetensors` (weights written by
//! `Policy::save`), `policy/tokenizer.json` and `policy/tiny_vlm.json` (the model sizes).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use assay_train::{Policy, TinyVlm, TinyVlmConfig, TokenLayout, Tokenizer};
use candle_core::{DType, Device};

/// Folder name of the policy inside a stage's output folder.
pub const POLICY_DIR: &str = "policy";
const WEIGHTS_FILE: &str = "model.safetensors";
const TOKENIZER_FILE: &str = "tokenizer.json";
const CONFIG_FILE: &str = "tiny_vlm.json";

/// Writes a policy folder under `stage_dir` and returns its path.
///
/// # Errors
/// A file cannot be written.
pub fn save_policy_folder(stage_dir: &Path, policy: &TinyVlm, tokenizer: &Tokenizer) -> Result<PathBuf> {
    let dir = stage_dir.join(POLICY_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    policy.save(&dir.join(WEIGHTS_FILE))?;
    tokenizer.save(&dir.join(TOKENIZER_FILE))?;
    let config = serde_json::to_string_pretty(policy.config())?;
    std::fs::write(dir.join(CONFIG_FILE), config).with_context(|| format!("failed to write {}", dir.join(CONFIG_FILE).display()))?;
    Ok(dir)
}

/// Loads the policy folder of a stage's output folder onto the CPU in f32.
///
/// Qwen policies have their own layout (a Hugging Face folder); see
/// [`crate::stages::stage_policy`].
///
/// # Errors
/// The folder or one of its files is missing or invalid; the message names the file and
/// the stage kinds that write it.
pub fn load_policy_folder(stage_dir: &Path) -> Result<(TinyVlm, Tokenizer)> {
    let dir = stage_dir.join(POLICY_DIR);
    let missing = |file: &str| {
        format!(
            "policy file {} is missing: the input stage must write `{POLICY_DIR}/{{{WEIGHTS_FILE}, {TOKENIZER_FILE}, {CONFIG_FILE}}}`, \
             as the `sft` and `grpo` stages do",
            dir.join(file).display()
        )
    };
    let tokenizer = Tokenizer::load(&dir.join(TOKENIZER_FILE)).with_context(|| missing(TOKENIZER_FILE))?;
    let config_text = std::fs::read_to_string(dir.join(CONFIG_FILE)).with_context(|| missing(CONFIG_FILE))?;
    let config: TinyVlmConfig =
        serde_json::from_str(&config_text).with_context(|| format!("invalid model sizes in {}", dir.join(CONFIG_FILE).display()))?;
    let layout = TokenLayout { vocab_size: tokenizer.vocab_size(), image_token_id: tokenizer.special().image };
    let mut policy = TinyVlm::new(&config, layout, 0, DType::F32, &Device::Cpu)?;
    let weights = dir.join(WEIGHTS_FILE);
    anyhow::ensure!(weights.is_file(), missing(WEIGHTS_FILE));
    policy.load(&weights).with_context(|| format!("failed to load policy weights from {}", weights.display()))?;
    Ok((policy, tokenizer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_train::Sequence;

    #[test]
    fn round_trip_keeps_logits() {
        let dir = tempfile::tempdir().unwrap();
        let tokenizer = Tokenizer::from_corpus(["a red square"]);
        let config = TinyVlmConfig { hidden_size: 16, num_heads: 2, intermediate_size: 16, vision_hidden_size: 8, vision_intermediate_size: 8, ..TinyVlmConfig::default() };
        let layout = TokenLayout { vocab_size: tokenizer.vocab_size(), image_token_id: tokenizer.special().image };
        let policy = TinyVlm::new(&config, layout, 3, DType::F32, &Device::Cpu).unwrap();
        save_policy_folder(dir.path(), &policy, &tokenizer).unwrap();

        let (loaded, loaded_tokenizer) = load_policy_folder(dir.path()).unwrap();
        assert_eq!(loaded_tokenizer, tokenizer);
        let batch = [Sequence { ids: tokenizer.encode("a red square"), images: Vec::new() }];
        let expected: Vec<f32> = policy.forward(&batch).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let actual: Vec<f32> = loaded.forward(&batch).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(expected, actual);
    }

    #[test]
    fn missing_folder_names_layout() {
        let dir = tempfile::tempdir().unwrap();
        let error = format!("{:#}", load_policy_folder(dir.path()).err().unwrap());
        assert!(error.contains("tokenizer.json"), "{error}");
        assert!(error.contains("sft"), "{error}");
    }
}
