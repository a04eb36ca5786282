//! Trajectory markup through the tiny byte-level Qwen tokenizer and into SFT examples.

use assay_qwen3_vl::tiny::{write_tiny_qwen3_vl, TinyCheckpoint};
use assay_qwen3_vl::{LoadOptions, QwenCodec, Qwen3Vl};
use assay_train::sft::encode_sft_example;
use assay_train::trajectory::{Sample, Segment};
use assay_train::{Image, Policy, TextCodec};
use candle_core::{DType, Device};

fn checkpoint() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path(), &TinyCheckpoint::byte_level(3)).unwrap();
    dir
}

#[test]
fn markup_survives_encode_and_decode() {
    let dir = checkpoint();
    let codec = QwenCodec::from_folder(dir.path()).unwrap();
    let markup = "<think>AU12 is visible.</think><tool>zoom_in{\"region\":\"mouth-chin\"}</tool>";
    let ids = codec.encode(markup).unwrap();
    assert_eq!(codec.decode(&ids), markup);
    // The call closes with the single `</tool_call>` id on which generation stops.
    assert_eq!(*ids.last().unwrap(), codec.turn_ends().tool_close);
    // Bytes are tokens 0..256, so plain ASCII text costs one id per byte.
    assert_eq!(codec.encode("hello").unwrap().len(), 5);
}

#[test]
fn sft_example_trains_only_assistant_text() {
    let dir = checkpoint();
    let codec = QwenCodec::from_folder(dir.path()).unwrap();
    let policy = Qwen3Vl::load(dir.path(), &LoadOptions::inference(DType::F32, &Device::Cpu)).unwrap();
    assert_eq!(policy.image_token_id(), codec.image_id());
    let sample = Sample {
        id: "s".into(),
        prompt: "<image>Which emotion?".into(),
        images: vec!["face.ppm".into()],
        target: vec![
            Segment::Assistant { text: "<tool>face_align{}</tool>".into() },
            Segment::Observation { text: "aligned".into(), images: Vec::new() },
            Segment::Assistant { text: "<answer>happiness</answer>".into() },
        ],
        answer: Some("happiness".into()),
        metadata: Default::default(),
    };
    let image = Image::new(16, 16, vec![0.5; 16 * 16 * 3]).unwrap();
    let example = encode_sft_example(&policy, &codec, &sample, std::slice::from_ref(&image)).unwrap();
    let ids = &example.sequence.ids;
    let image_tokens = ids.iter().filter(|&&id| id == codec.image_id()).count();
    assert_eq!(image_tokens, policy.image_token_count(&image));

    // Trained ids decode to exactly the assistant segments and the closing `<|im_end|>`.
    let trained: Vec<u32> = ids.iter().zip(&example.token_mask).filter(|(_, &m)| m == 1.0).map(|(&id, _)| id).collect();
    assert_eq!(codec.decode(&trained), "<tool>face_align{}</tool><answer>happiness</answer><eos>");
    // The prompt is a ChatML user turn that opens the assistant turn.
    let text = codec.decode(ids);
    assert!(text.starts_with("<|im_start|>user\n<image>Which emotion?<eos>\n<|im_start|>assistant\n"), "{text}");
    assert!(text.contains("</tool><obs>aligned</obs><answer>"), "{text}");
}
