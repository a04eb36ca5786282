//! Optimizer, schedule and gradient accumulation.

use assay_train::optim::{schedule_factor, GradAccumulator, GroupOverride, GroupedAdamW, OptimizerConfig};
use assay_train::sft::sft_batch_gradient;
use assay_train::Policy;
use candle_core::{DType, Device, Tensor, Var};

use super::common::{self, tokenizer, tiny_model};

#[test]
fn accumulation_independent_of_split() {
    let tokenizer = tokenizer();
    let policy = tiny_model(&tokenizer, DType::F64, 31);
    let tasks = common::tasks(4, 32);
    let mut examples = common::sft_examples(&policy, &tokenizer, &tasks);
    // Different lengths per example, so token weighting matters.
    examples[1].token_mask.iter_mut().rev().take(3).for_each(|m| *m = 0.0);
    let refs: Vec<_> = examples.iter().collect();
    let vars = policy.named_vars();
    let mut reference = None;
    for micro in [4, 3, 1] {
        let mut grads = GradAccumulator::default();
        let (loss, _) = sft_batch_gradient(&policy, &refs, micro, &vars, &mut grads).unwrap();
        let flat: Vec<f64> = vars
            .iter()
            .flat_map(|(name, _)| grads.get(name).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap())
            .collect();
        match &reference {
            None => reference = Some((loss, flat)),
            Some((loss_all, flat_all)) => {
                assert!((loss - loss_all).abs() < 1e-12, "micro-batch {micro}: loss {loss} vs {loss_all}");
                for (a, b) in flat.iter().zip(flat_all) {
                    assert!((a - b).abs() < 1e-10, "micro-batch {micro}: gradient {a} vs {b}");
                }
            }
        }
    }
}

#[test]
fn schedule_warms_up_then_decays() {
    assert_eq!(schedule_factor(0, 10, 2, 0.0), 0.5);
    assert_eq!(schedule_factor(1, 10, 2, 0.0), 1.0);
    assert_eq!(schedule_factor(2, 10, 2, 0.0), 1.0);
    assert!((schedule_factor(6, 10, 2, 0.0) - 0.5).abs() < 1e-12, "halfway through the cosine");
    assert!((schedule_factor(10, 10, 2, 0.1) - 0.1).abs() < 1e-12, "ends at the floor");
}

/// One AdamW step with a known gradient, against the update written out by hand.
#[test]
fn adamw_step_matches_hand_computation() {
    let var = Var::new(&[1.0f64, -2.0], &Device::Cpu).unwrap();
    let config = OptimizerConfig { learning_rate: 0.1, weight_decay: 0.5, max_grad_norm: None, ..OptimizerConfig::default() };
    let mut optimizer = GroupedAdamW::new(vec![("llm.w".into(), var.clone())], &config).unwrap();
    let loss = (var.as_tensor() * &Tensor::new(&[3.0f64, 4.0], &Device::Cpu).unwrap()).unwrap().sum_all().unwrap();
    let mut grads = GradAccumulator::default();
    grads.add(&optimizer.trainable(), &loss.backward().unwrap()).unwrap();
    optimizer.update(&grads, 1.0).unwrap();
    // After one step m̂ = g and v̂ = g², so the step is lr · g / (|g| + eps) = ±lr.
    let expected = [1.0 * (1.0 - 0.05) - 0.1 * 3.0 / (3.0 + 1e-8), -2.0 * (1.0 - 0.05) - 0.1 * 4.0 / (4.0 + 1e-8)];
    let got: Vec<f64> = var.as_tensor().to_vec1().unwrap();
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() < 1e-12, "{g} vs {e}");
    }
}

#[test]
fn clipping_and_frozen_groups() {
    let frozen = Var::new(&[1.0f64], &Device::Cpu).unwrap();
    let trained = Var::new(&[3.0f64, 4.0], &Device::Cpu).unwrap();
    let mut config = OptimizerConfig { learning_rate: 0.0, max_grad_norm: Some(1.0), ..OptimizerConfig::default() };
    config.groups.insert("vision".into(), GroupOverride { frozen: true, ..GroupOverride::default() });
    let vars = vec![("vision.w".to_string(), frozen.clone()), ("llm.w".to_string(), trained.clone())];
    let mut optimizer = GroupedAdamW::new(vars, &config).unwrap();
    assert_eq!(optimizer.trainable().len(), 1);
    let loss = (trained.as_tensor().sqr().unwrap().sum_all().unwrap() * 0.5).unwrap();
    let mut grads = GradAccumulator::default();
    grads.add(&optimizer.trainable(), &loss.backward().unwrap()).unwrap();
    let stats = optimizer.update(&grads, 1.0).unwrap();
    assert!((stats.grad_norm - 5.0).abs() < 1e-12, "norm of (3, 4) before clipping");
    // The first moment is (1 - beta1) times the clipped gradient (0.6, 0.8).
    let m: Vec<f64> = optimizer.params()[0].m.to_vec1().unwrap();
    assert!((m[0] - 0.1 * 0.6).abs() < 1e-6, "{m:?}");
    assert!((m[1] - 0.1 * 0.8).abs() < 1e-6, "{m:?}");
    assert_eq!(frozen.as_tensor().to_vec1::<f64>().unwrap(), vec![1.0]);

    let mut bad = OptimizerConfig::default();
    bad.groups.insert("decoder".into(), GroupOverride::default());
    let error = GroupedAdamW::new(vec![("llm.w".into(), trained)], &bad).err().unwrap().to_string();
    assert!(error.contains("`decoder`"), "{error}");
}
