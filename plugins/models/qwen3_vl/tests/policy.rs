//! The `assay_train::Policy` implementation.

use assay_qwen3_vl::{LoadOptions, LoraConfig, ParamGroup, Qwen3Vl, TrainableParams};
use assay_train::{Image, Policy, Sequence};
use candle_core::{DType, Device, Tensor};

use crate::fixture::*;

fn test_image() -> Image {
    // 8x16 pixels: a 2x4 patch grid, two merged tokens.
    let pixels: Vec<f32> = (0..3 * 8 * 16).map(|i| (i % 17) as f32 / 17.0).collect();
    Image::new(8, 16, pixels).unwrap()
}

fn load(trainable: TrainableParams) -> (tempfile::TempDir, Qwen3Vl) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let options = LoadOptions { trainable, ..LoadOptions::inference(DType::F32, &Device::Cpu) };
    let model = Qwen3Vl::load(dir.path(), &options).unwrap();
    (dir, model)
}

fn sequence(model: &Qwen3Vl) -> Sequence {
    let image = test_image();
    let count = model.image_token_count(&image);
    assert_eq!(count, 2);
    let mut ids = vec![4, VISION_START];
    ids.extend(std::iter::repeat_n(model.image_token_id(), count));
    ids.extend([VISION_END, 9, 10]);
    Sequence { ids, images: vec![image] }
}

#[test]
fn step_matches_forward() {
    let (_dir, model) = load(TrainableParams::default());
    let sequence = sequence(&model);
    let logits = Policy::forward(&model, std::slice::from_ref(&sequence)).unwrap();
    let mut cache = model.new_cache();
    // The image run is in the first call; the rest comes one token at a time.
    let split = 5;
    let first = model.step(&mut cache, &sequence.ids[..split], &sequence.images).unwrap();
    assert!(max_abs_diff(&first, &logits.get(0).unwrap().get(split - 1).unwrap()) < 1e-4);
    for position in split..sequence.ids.len() {
        let step = model.step(&mut cache, &sequence.ids[position..position + 1], &[]).unwrap();
        let diff = max_abs_diff(&step, &logits.get(0).unwrap().get(position).unwrap());
        assert!(diff < 1e-4, "position {position}: {diff}");
    }
    assert_eq!(cache.len, sequence.ids.len());
}

#[test]
fn named_vars_use_group_prefixes() {
    let trainable = TrainableParams {
        full: vec![ParamGroup::Projector],
        lora: Some(LoraConfig { rank: 2, alpha: 4.0, dropout: 0.0, target_modules: vec!["q_proj".into()] }),
        seed: 0,
    };
    let (_dir, model) = load(trainable);
    let names: Vec<String> = model.named_vars().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"llm.model.language_model.layers.1.self_attn.q_proj.lora_B.weight".to_string()));
    assert!(names.contains(&"projector.model.visual.merger.linear_fc1.weight".to_string()));
    assert!(names.iter().all(|n| n.starts_with("llm.") || n.starts_with("projector.")));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn save_load_and_duplicate_round_trip() {
    let trainable = TrainableParams { full: vec![ParamGroup::LanguageNorm], lora: None, seed: 0 };
    let (_dir, mut model) = load(trainable);
    let sequence = sequence(&model);
    let before = Policy::forward(&model, std::slice::from_ref(&sequence)).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    model.save(file.path()).unwrap();

    let copy = model.duplicate().unwrap();
    let (_, var) = &model.named_vars()[0];
    var.set(&(var.as_tensor() * 3.0).unwrap()).unwrap();
    let changed = Policy::forward(&model, std::slice::from_ref(&sequence)).unwrap();
    assert!(max_abs_diff(&before, &changed) > 1e-4);
    let copy_logits = Policy::forward(&copy, std::slice::from_ref(&sequence)).unwrap();
    assert!(max_abs_diff(&before, &copy_logits) < 1e-6, "duplicate shares weights with the original");

    model.load(file.path()).unwrap();
    let restored = Policy::forward(&model, std::slice::from_ref(&sequence)).unwrap();
    assert!(max_abs_diff(&before, &restored) < 1e-6);
    let _: &Tensor = &restored;
}
