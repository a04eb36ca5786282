//! Gradients, LoRA export and the frozen reference.

use assay_qwen3_vl::image_processing::ImagePatches;
use assay_qwen3_vl::ops::log_softmax_last_dim;
use assay_qwen3_vl::{LoadOptions, LoraConfig, Padding, ParamGroup, Pass, Qwen3Vl, TrainableParams};
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::fixture::*;

/// Builds a prompt with one 4x4-patch image (4 placeholder tokens) and its patches.
pub fn image_prompt() -> (Vec<u32>, Vec<ImagePatches>) {
    let mut prompt = vec![5, 6, VISION_START];
    prompt.extend([IMAGE_TOKEN; 4]);
    prompt.extend([VISION_END, 7, 8, 9, 10]);
    let patches = ImagePatches { values: random_patches(16, 3), grid: [1, 4, 4], patch_width: 96 };
    (prompt, vec![patches])
}

fn options(dtype: DType, trainable: TrainableParams) -> LoadOptions {
    LoadOptions { trainable, ..LoadOptions::inference(dtype, &Device::Cpu) }
}

fn lora(rank: usize, targets: &[&str]) -> LoraConfig {
    LoraConfig { rank, alpha: 2.0 * rank as f64, dropout: 0.0, target_modules: targets.iter().map(|s| s.to_string()).collect() }
}

/// Mean next-token negative log-likelihood of the prompt.
fn loss(model: &Qwen3Vl, prompt: &[u32], images: &[ImagePatches], pass: &Pass) -> Tensor {
    let logits = model.forward(&[prompt.to_vec()], &[images.to_vec()], Padding::Right, None, pass).unwrap();
    let len = prompt.len();
    let log_probs = log_softmax_last_dim(&logits.narrow(1, 0, len - 1).unwrap()).unwrap();
    let targets = Tensor::new(&prompt[1..], &Device::Cpu).unwrap().reshape((1, len - 1, 1)).unwrap();
    log_probs.gather(&targets, 2).unwrap().mean_all().unwrap().neg().unwrap()
}

/// Sets every LoRA `B` to small random values so that `A` receives gradients too.
fn randomise_lora_b(model: &Qwen3Vl, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for param in &model.parameters().trainable {
        if param.name.ends_with("lora_B.weight") {
            let values: Vec<f32> = (0..param.var.elem_count()).map(|_| rng.random_range(-0.1f32..0.1)).collect();
            let tensor = Tensor::from_vec(values, param.var.shape(), &Device::Cpu).unwrap();
            param.var.set(&tensor.to_dtype(param.var.dtype()).unwrap()).unwrap();
        }
    }
}

#[test]
fn every_trainable_parameter_gets_gradient() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let (prompt, images) = image_prompt();
    let all_groups = vec![
        ParamGroup::Embeddings,
        ParamGroup::LanguageLinear,
        ParamGroup::LanguageNorm,
        ParamGroup::LmHead,
        ParamGroup::Projector,
        ParamGroup::Vision,
    ];
    let setups = [
        TrainableParams { full: all_groups, lora: None, seed: 0 },
        TrainableParams {
            full: vec![ParamGroup::Projector],
            lora: Some(lora(4, &["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "qkv"])),
            seed: 1,
        },
    ];
    for trainable in setups {
        let model = Qwen3Vl::load(dir.path(), &options(DType::F32, trainable.clone())).unwrap();
        randomise_lora_b(&model, 5);
        let vars = model.parameters().vars();
        assert!(!vars.is_empty());
        let grads = loss(&model, &prompt, &images, &Pass::eval()).backward().unwrap();
        for param in &model.parameters().trainable {
            let grad = grads.get(param.var.as_tensor());
            let norm = grad.map(|g| g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap()).unwrap_or(0.0);
            assert!(norm > 0.0, "{} ({:?}) received no gradient with {:?}", param.name, param.group, trainable.full);
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let (prompt, images) = image_prompt();
    let trainable = TrainableParams {
        full: vec![ParamGroup::Projector, ParamGroup::LanguageNorm, ParamGroup::Vision],
        lora: Some(lora(2, &["q_proj", "v_proj", "down_proj"])),
        seed: 2,
    };
    let model = Qwen3Vl::load(dir.path(), &options(DType::F64, trainable)).unwrap();
    randomise_lora_b(&model, 9);
    let grads = loss(&model, &prompt, &images, &Pass::eval()).backward().unwrap();
    let eval_loss = |model: &Qwen3Vl| loss(model, &prompt, &images, &Pass::eval()).to_scalar::<f64>().unwrap();

    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut checked = 0;
    for param in &model.parameters().trainable {
        // Two elements per tensor keep the test fast while covering every kind of weight.
        let grad = grads.get(param.var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let original = param.var.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        for _ in 0..2 {
            let index = rng.random_range(0..original.len());
            let step = 1e-5;
            let perturbed = |delta: f64| {
                let mut values = original.clone();
                values[index] += delta;
                let tensor = Tensor::from_vec(values, param.var.shape(), &Device::Cpu).unwrap();
                param.var.set(&tensor).unwrap();
                eval_loss(&model)
            };
            let numeric = (perturbed(step) - perturbed(-step)) / (2.0 * step);
            param.var.set(&Tensor::from_vec(original.clone(), param.var.shape(), &Device::Cpu).unwrap()).unwrap();
            let analytic = grad[index];
            let tolerance = 1e-6 + 1e-4 * numeric.abs().max(analytic.abs());
            assert!(
                (numeric - analytic).abs() < tolerance,
                "{}[{index}]: analytic {analytic:e}, finite difference {numeric:e}",
                param.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} elements checked");
}

#[test]
fn lora_merged_export_matches_unmerged_forward() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let (prompt, images) = image_prompt();
    let trainable = TrainableParams {
        full: vec![ParamGroup::Projector],
        lora: Some(lora(4, &["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "linear_fc1"])),
        seed: 3,
    };
    let model = Qwen3Vl::load(dir.path(), &options(DType::F32, trainable)).unwrap();
    randomise_lora_b(&model, 6);
    // Change a fully trained projector weight too, so the export must carry it.
    let projector = model.parameters().trainable.iter().find(|p| p.group == ParamGroup::Projector).unwrap();
    projector.var.set(&(projector.var.as_tensor() * 1.5).unwrap()).unwrap();
    let rows = [prompt.clone()];
    let image_lists = [images.clone()];
    let unmerged = model.forward(&rows, &image_lists, Padding::Right, None, &Pass::eval()).unwrap();

    let out = tempfile::tempdir().unwrap();
    model.export_merged(out.path()).unwrap();
    let merged = Qwen3Vl::load(out.path(), &LoadOptions::inference(DType::F32, &Device::Cpu)).unwrap();
    let merged_logits = merged.forward(&rows, &image_lists, Padding::Right, None, &Pass::eval()).unwrap();
    let diff = max_abs_diff(&unmerged, &merged_logits);
    assert!(diff < 1e-4, "merged export differs by {diff}");

    let unmerged_dir = tempfile::tempdir().unwrap();
    model.export_unmerged(unmerged_dir.path()).unwrap();
    let adapter = candle_core::safetensors::load(unmerged_dir.path().join("adapter_model.safetensors"), &Device::Cpu).unwrap();
    let a = &adapter["base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight"];
    assert_eq!(a.dims(), &[4, 64]);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(unmerged_dir.path().join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["r"], 4);
    assert_eq!(config["lora_alpha"], 8.0);
}

#[test]
fn reference_pass_equals_frozen_base() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let (prompt, images) = image_prompt();
    let trainable = TrainableParams { full: vec![], lora: Some(lora(4, &["q_proj", "v_proj"])), seed: 3 };
    let model = Qwen3Vl::load(dir.path(), &options(DType::F32, trainable)).unwrap();
    randomise_lora_b(&model, 8);
    let rows = [prompt.clone()];
    let image_lists = [images.clone()];
    let adapted = model.forward(&rows, &image_lists, Padding::Right, None, &Pass::eval()).unwrap();
    let reference = model.forward(&rows, &image_lists, Padding::Right, None, &Pass::reference()).unwrap();
    let base = Qwen3Vl::load(dir.path(), &LoadOptions::inference(DType::F32, &Device::Cpu)).unwrap();
    let base_logits = base.forward(&rows, &image_lists, Padding::Right, None, &Pass::eval()).unwrap();
    assert!(max_abs_diff(&reference, &base_logits) < 1e-6);
    assert!(max_abs_diff(&adapted, &base_logits) > 1e-3, "the adapters should change the logits");
}

#[test]
fn frozen_base_view_shares_weights_and_stays_frozen() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let (prompt, _) = image_prompt();
    let trainable = TrainableParams { full: vec![], lora: Some(lora(4, &["q_proj", "v_proj"])), seed: 3 };
    let model = Qwen3Vl::load(dir.path(), &options(DType::F32, trainable)).unwrap();
    let view = model.frozen_base().unwrap();
    let batch = [assay_train::Sequence { ids: prompt.iter().copied().filter(|&id| id < VISION_START - 2).collect(), images: Vec::new() }];
    let before = assay_train::Policy::forward(&view, &batch).unwrap();

    // Training moves only the adapters, which the view leaves out.
    randomise_lora_b(&model, 8);
    let after = assay_train::Policy::forward(&view, &batch).unwrap();
    let adapted = assay_train::Policy::forward(&model, &batch).unwrap();
    assert_eq!(max_abs_diff(&before, &after), 0.0);
    assert!(max_abs_diff(&adapted, &after) > 1e-3, "the adapters should change the policy's logits");

    // With a group trained in full the base moves too, so no view is offered.
    let full = TrainableParams { full: vec![ParamGroup::Projector], lora: None, seed: 0 };
    let model = Qwen3Vl::load(dir.path(), &options(DType::F32, full)).unwrap();
    assert!(model.frozen_base().is_err());
}

#[test]
fn lora_dropout_changes_training_pass_only() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let (prompt, images) = image_prompt();
    let mut config = lora(4, &["q_proj"]);
    config.dropout = 0.5;
    let trainable = TrainableParams { full: vec![], lora: Some(config), seed: 3 };
    let model = Qwen3Vl::load(dir.path(), &options(DType::F32, trainable)).unwrap();
    randomise_lora_b(&model, 8);
    let rows = [prompt.clone()];
    let image_lists = [images.clone()];
    let eval = model.forward(&rows, &image_lists, Padding::Right, None, &Pass::eval()).unwrap();
    let train = model
        .forward(&rows, &image_lists, Padding::Right, None, &Pass::train(ChaCha8Rng::seed_from_u64(1)))
        .unwrap();
    let train_again = model
        .forward(&rows, &image_lists, Padding::Right, None, &Pass::train(ChaCha8Rng::seed_from_u64(1)))
        .unwrap();
    assert!(max_abs_diff(&eval, &train) > 1e-4);
    assert_eq!(max_abs_diff(&train, &train_again), 0.0);
}

#[test]
fn sgd_step_lowers_loss() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let (prompt, images) = image_prompt();
    let trainable = TrainableParams {
        full: vec![ParamGroup::Projector],
        lora: Some(lora(4, &["q_proj", "v_proj", "gate_proj"])),
        seed: 0,
    };
    let model = Qwen3Vl::load(dir.path(), &options(DType::F32, trainable)).unwrap();
    let vars: Vec<Var> = model.parameters().vars();
    let mut optimizer = candle_nn::SGD::new(vars, 0.05).unwrap();
    use candle_nn::Optimizer;
    let before = loss(&model, &prompt, &images, &Pass::eval()).to_scalar::<f32>().unwrap();
    for _ in 0..3 {
        optimizer.backward_step(&loss(&model, &prompt, &images, &Pass::eval())).unwrap();
    }
    let after = loss(&model, &prompt, &images, &Pass::eval()).to_scalar::<f32>().unwrap();
    assert!(after < before, "loss {before} -> {after}");
}
