//! Export back to the Hugging Face layout: merged weights (LoRA folded in) or the base
//! weights plus a PEFT-style adapter.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use candle_core::Tensor;

use crate::model::Qwen3Vl;

/// Files copied unchanged from the source folder so the export loads on its own.
const SIDE_FILES: [&str; 6] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "chat_template.json",
];

impl Qwen3Vl {
    /// Writes `model.safetensors` with every LoRA update folded into its base weight, plus
    /// the config, tokenizer and processor files, to `out_dir`.
    ///
    /// # Errors
    /// When the folder cannot be created or a file cannot be written.
    pub fn export_merged(&self, out_dir: &Path) -> Result<()> {
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for (name, tensor) in &self.params.base {
            tensors.insert(name.clone(), tensor.clone());
        }
        for (module, adapter) in &self.params.adapters {
            let name = format!("{module}.weight");
            let base = self.params.base.get(&name).context("adapter without a base weight")?;
            let delta = (adapter.b.as_tensor().to_dtype(candle_core::DType::F32)?
                .matmul(&adapter.a.as_tensor().to_dtype(candle_core::DType::F32)?)?
                * adapter.scale)?;
            let merged = (base.to_dtype(candle_core::DType::F32)? + delta)?.to_dtype(base.dtype())?;
            tensors.insert(name, merged);
        }
        self.write_folder(out_dir, &tensors)
    }

    /// Writes the base weights (including full fine-tuning updates) as `model.safetensors`
    /// and, when LoRA is on, `adapter_model.safetensors` with `adapter_config.json` in the
    /// PEFT layout (`base_model.model.<module>.lora_A.weight`).
    ///
    /// # Errors
    /// When the folder cannot be created or a file cannot be written.
    pub fn export_unmerged(&self, out_dir: &Path) -> Result<()> {
        let tensors: HashMap<String, Tensor> =
            self.params.base.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.write_folder(out_dir, &tensors)?;
        if self.params.adapters.is_empty() {
            return Ok(());
        }
        let mut adapter_tensors: HashMap<String, Tensor> = HashMap::new();
        let mut targets = Vec::new();
        let mut rank = 0;
        let (mut alpha, mut dropout) = (0.0, 0.0);
        for (module, adapter) in &self.params.adapters {
            adapter_tensors.insert(format!("base_model.model.{module}.lora_A.weight"), adapter.a.as_tensor().clone());
            adapter_tensors.insert(format!("base_model.model.{module}.lora_B.weight"), adapter.b.as_tensor().clone());
            targets.push(module.rsplit('.').next().unwrap_or(module).to_string());
            rank = adapter.a.dim(0)?;
            alpha = adapter.scale * rank as f64;
            dropout = adapter.dropout;
        }
        targets.sort();
        targets.dedup();
        let path = out_dir.join("adapter_model.safetensors");
        candle_core::safetensors::save(&adapter_tensors, &path)
            .with_context(|| format!("failed to write {}", path.display()))?;
        let adapter_config = serde_json::json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "r": rank,
            "lora_alpha": alpha,
            "lora_dropout": dropout,
            "target_modules": targets,
            "bias": "none",
            "base_model_name_or_path": self.folder.display().to_string(),
        });
        let path = out_dir.join("adapter_config.json");
        std::fs::write(&path, serde_json::to_string_pretty(&adapter_config)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
        Ok(())
    }

    fn write_folder(&self, out_dir: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
        std::fs::create_dir_all(out_dir).with_context(|| format!("failed to create {}", out_dir.display()))?;
        let path = out_dir.join("model.safetensors");
        candle_core::safetensors::save(tensors, &path).with_context(|| format!("failed to write {}", path.display()))?;
        for file in SIDE_FILES {
            let source = self.folder.join(file);
            if source.exists() {
                std::fs::copy(&source, out_dir.join(file))
                    .with_context(|| format!("failed to copy {} to {}", source.display(), out_dir.display()))?;
            }
        }
        Ok(())
    }
}
