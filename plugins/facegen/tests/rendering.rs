//! Rendering: determinism, presets, geometry of the ground truth, label statistics.

use assay_facegen::expression::sample_prototype;
use assay_facegen::{
    generate, render, render_params, sample_params, ActionUnit, Domain, DomainConfig, Emotion,
    FacegenError, LabelKind, Side,
};
use rand::SeedableRng;

use crate::common::clean_config;

#[test]
fn render_is_deterministic_by_seed() {
    for domain in Domain::ALL {
        let config = domain.config();
        let a = render(&config, 42, 3).unwrap();
        let b = render(&config, 42, 3).unwrap();
        assert_eq!(a, b, "{domain:?} differs between two renders");
    }
}

#[test]
fn render_differs_across_seed_and_index() {
    let config = Domain::Affectnet.config();
    let base = render(&config, 1, 0).unwrap();
    assert_ne!(base.image, render(&config, 1, 1).unwrap().image);
    assert_ne!(base.image, render(&config, 2, 0).unwrap().image);
}

#[test]
fn generate_matches_render() {
    let config = Domain::Ferplus.config();
    let samples = generate(&config, 9, 4).unwrap();
    assert_eq!(samples.len(), 4);
    for (i, sample) in samples.iter().enumerate() {
        assert_eq!(sample.index, i as u64);
        assert_eq!(*sample, render(&config, 9, i as u64).unwrap());
    }
}

#[test]
fn presets_have_stated_sizes() {
    let cases = [
        (Domain::Ferplus, 48, 48, 1),
        (Domain::Rafdb, 100, 100, 3),
        (Domain::Affectnet, 128, 128, 3),
        (Domain::Sfew, 96, 96, 3),
        (Domain::Disfa, 96, 96, 3),
    ];
    for (domain, width, height, channels) in cases {
        let image = render(&domain.config(), 5, 0).unwrap().image;
        assert_eq!(
            (image.width, image.height, image.channels),
            (width, height, channels),
            "{domain:?}"
        );
        assert_eq!(
            image.pixels.len(),
            (width * height * u32::from(channels)) as usize
        );
    }
}

#[test]
fn truth_geometry_is_consistent() {
    for domain in Domain::ALL {
        let config = domain.config();
        for index in 0..40 {
            let params = sample_params(&config, 11, index).unwrap();
            let truth = assay_facegen::truth_of(&config, &params);
            let face = truth.face_box;
            let (w, h) = (config.width as f32, config.height as f32);
            assert!(face.x_min >= 0.0, "{domain:?} #{index}: {face:?}");
            assert!(face.y_min >= 0.0, "{domain:?} #{index}: {face:?}");
            assert!(face.x_max <= w, "{domain:?} #{index}: {face:?}");
            assert!(face.y_max <= h, "{domain:?} #{index}: {face:?}");
            assert!(
                face.width() > 0.2 * w,
                "{domain:?} #{index}: face box {face:?} is too small"
            );
            for point in truth.landmarks.points() {
                assert!(
                    face.contains(point),
                    "{domain:?} #{index}: {point:?} outside {face:?}"
                );
            }
            let l = truth.landmarks;
            assert!(
                l.left_eye.x < l.right_eye.x,
                "{domain:?} #{index}: eyes swapped"
            );
            assert!(
                l.mouth_left.x < l.mouth_right.x,
                "{domain:?} #{index}: mouth corners swapped"
            );
            assert!(
                l.left_eye.y < l.nose_tip.y,
                "{domain:?} #{index}: eye below nose"
            );
            assert!(
                l.nose_tip.y < l.mouth_center.y,
                "{domain:?} #{index}: nose below mouth"
            );
            // Each landmark lies in the region box that should contain it.
            assert!(truth.regions.eye_periorbital.contains(l.left_eye));
            assert!(truth.regions.eye_periorbital.contains(l.right_eye));
            assert!(truth.regions.nose.contains(l.nose_tip));
            assert!(truth.regions.mouth_chin.contains(l.mouth_center));
            assert!(truth.regions.forehead_eyebrow.y_min < truth.regions.mouth_chin.y_min);
        }
    }
}

#[test]
fn contempt_prototype_is_unilateral() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for _ in 0..20 {
        let activation = sample_prototype(Emotion::Contempt, 1.0, &mut rng);
        let labels = activation.to_labels();
        assert!(labels
            .iter()
            .any(|a| a.au == ActionUnit::Au12 || a.au == ActionUnit::Au14));
        for label in labels {
            assert_ne!(label.side, Side::Both, "{label:?} is bilateral");
        }
    }
}

#[test]
fn contempt_face_is_asymmetric() {
    let config = clean_config();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let mut params = sample_params(&config, 1, 0).unwrap();

    // Mouth corners lie at different heights for contempt, at the same for happiness.
    params.activation = sample_prototype(Emotion::Contempt, 1.0, &mut rng);
    let contempt = render_params(&config, &params).unwrap().truth.landmarks;
    params.activation = sample_prototype(Emotion::Happiness, 1.0, &mut rng);
    let happiness = render_params(&config, &params).unwrap().truth.landmarks;

    let contempt_tilt = (contempt.mouth_left.y - contempt.mouth_right.y).abs();
    let happiness_tilt = (happiness.mouth_left.y - happiness.mouth_right.y).abs();
    assert!(
        contempt_tilt > 2.0,
        "contempt corners differ by only {contempt_tilt} px"
    );
    assert!(
        happiness_tilt < 0.5,
        "happiness corners differ by {happiness_tilt} px"
    );
}

#[test]
fn label_noise_follows_rate() {
    let mut config = Domain::Rafdb.config();
    config.label_noise_rate = 0.5;
    let flipped = (0..400)
        .filter(|&i| {
            let p = sample_params(&config, 4, i).unwrap();
            p.emotion != p.expressed_emotion
        })
        .count();
    assert!(
        (150..=250).contains(&flipped),
        "{flipped} of 400 labels flipped at rate 0.5"
    );

    config.label_noise_rate = 0.0;
    for i in 0..100 {
        let p = sample_params(&config, 4, i).unwrap();
        assert_eq!(p.emotion, p.expressed_emotion);
    }
}

#[test]
fn affectnet_preset_is_imbalanced() {
    let config = Domain::Affectnet.config();
    let mut counts = [0usize; 8];
    for i in 0..2000 {
        let p = sample_params(&config, 6, i).unwrap();
        counts[p.expressed_emotion.unwrap().index()] += 1;
    }
    let happiness = counts[Emotion::Happiness.index()];
    assert_eq!(counts.iter().max(), Some(&happiness), "counts {counts:?}");
    // Expected contempt share is 3.8 / 287 = 1.3%.
    assert!(counts[Emotion::Contempt.index()] < 60, "counts {counts:?}");
    assert!(counts[Emotion::Contempt.index()] > 0, "counts {counts:?}");
}

#[test]
fn disfa_frames_share_subject_and_move_smoothly() {
    let config = Domain::Disfa.config();
    assert_eq!(config.labels, LabelKind::ActionUnits);
    let frames: Vec<_> = (0..config.frames_per_subject as u64)
        .map(|i| sample_params(&config, 2, i).unwrap())
        .collect();
    for pair in frames.windows(2) {
        assert_eq!(pair[0].identity, pair[1].identity);
        assert_eq!(pair[0].background_seed, pair[1].background_seed);
        for au in ActionUnit::ALL {
            let step = (pair[0].activation.max(au) - pair[1].activation.max(au)).abs();
            // The fastest wave has a 16-frame period, so one frame moves at most 2*pi/16.
            assert!(step <= 0.4, "{au} jumps by {step}");
        }
    }
    let next_subject = sample_params(&config, 2, u64::from(config.frames_per_subject)).unwrap();
    assert_ne!(next_subject.identity, frames[0].identity);

    for i in 0..200 {
        let truth = render(&config, 2, i).map(|s| s.truth);
        let truth = truth.unwrap();
        assert_eq!(truth.emotion, None);
        assert_eq!(
            truth.sequence.unwrap().frame,
            i % u64::from(config.frames_per_subject)
        );
        for label in &truth.action_units {
            assert!(
                ActionUnit::DISFA.contains(&label.au),
                "{} is not a DISFA AU",
                label.au
            );
        }
        if i > 60 {
            break;
        }
    }
}

#[test]
fn invalid_config_names_the_field() {
    let mut config = Domain::Rafdb.config();
    config.width = 8;
    let error = render(&config, 0, 0).unwrap_err();
    assert!(
        matches!(error, FacegenError::InvalidConfig { field: "width", .. }),
        "{error}"
    );
    assert!(error.to_string().contains("16 to 1024"), "{error}");

    let mut config = Domain::Rafdb.config();
    config.emotion_weights = assay_facegen::EmotionWeights::from_array([0.0; 8]);
    let error = render(&config, 0, 0).unwrap_err();
    assert!(error.to_string().contains("emotion_weights"), "{error}");

    let mut config = Domain::Rafdb.config();
    config.blur_sigma = assay_facegen::Range::new(2.0, 1.0);
    let error = render(&config, 0, 0).unwrap_err();
    assert!(error.to_string().contains("`min` <= `max`"), "{error}");
}

#[test]
fn domain_config_round_trips_through_json() {
    for domain in Domain::ALL {
        let config = domain.config();
        let json = serde_json::to_string(&config).unwrap();
        let back: DomainConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
    }
    let schema = serde_json::to_string(&schemars::schema_for!(DomainConfig)).unwrap();
    assert!(schema.contains("Probability in `0.0..=1.0` that a sample's emotion label"));
}

#[test]
fn overrides_replace_named_fields() {
    let preset = Domain::Affectnet.config();
    let config = preset
        .with_overrides(
            &serde_json::json!({"width": 64, "noise_sigma": {"max": 2.0}, "label_noise_rate": 0.0}),
        )
        .unwrap();
    assert_eq!(config.width, 64);
    assert_eq!(
        config.noise_sigma,
        assay_facegen::Range::new(preset.noise_sigma.min, 2.0)
    );
    assert_eq!(config.label_noise_rate, 0.0);
    assert_eq!(config.height, preset.height);

    let typo = preset
        .with_overrides(&serde_json::json!({"widht": 64}))
        .unwrap_err()
        .to_string();
    assert!(typo.contains("unknown field `widht`"), "{typo}");
    let out_of_range = preset
        .with_overrides(&serde_json::json!({"label_noise_rate": 2.0}))
        .unwrap_err()
        .to_string();
    assert!(out_of_range.contains("label_noise_rate"), "{out_of_range}");
}

#[test]
fn prototypes_use_their_emfacs_aus() {
    use ActionUnit::*;
    // Required and optional AUs of each prototype, from the EMFACS-style table in
    // `expression.rs`.
    let table: [(Emotion, &[ActionUnit], &[ActionUnit]); 7] = [
        (Emotion::Happiness, &[Au6, Au12], &[Au25]),
        (Emotion::Sadness, &[Au1, Au4, Au15], &[Au17]),
        (Emotion::Surprise, &[Au1, Au2, Au5, Au26], &[Au25]),
        (
            Emotion::Fear,
            &[Au1, Au2, Au4, Au5, Au7, Au20, Au25],
            &[Au26],
        ),
        (Emotion::Disgust, &[Au9, Au15, Au17], &[Au4, Au25]),
        (Emotion::Anger, &[Au4, Au5, Au7, Au23], &[Au17]),
        (Emotion::Contempt, &[Au12, Au14], &[]),
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    for (emotion, required, optional) in table {
        let mut counts = std::collections::HashMap::new();
        let mut intensities = Vec::new();
        for _ in 0..200 {
            let activation = sample_prototype(emotion, 1.0, &mut rng);
            for label in activation.to_labels() {
                assert!(
                    required.contains(&label.au) || optional.contains(&label.au),
                    "{emotion}: unexpected {}",
                    label.au
                );
                *counts.entry(label.au).or_insert(0) += 1;
            }
            intensities.push(activation.max(required[0]));
        }
        for au in required {
            let count = counts.get(au).copied().unwrap_or(0);
            assert!(
                count >= 180,
                "{emotion}: required {au} present in only {count} of 200"
            );
        }
        for au in optional {
            let count = counts.get(au).copied().unwrap_or(0);
            assert!(
                (50..=130).contains(&count),
                "{emotion}: optional {au} present in {count} of 200"
            );
        }
        // Intensities vary from sample to sample.
        let spread = intensities.iter().cloned().fold(0.0, f32::max)
            - intensities
                .iter()
                .cloned()
                .filter(|v| *v > 0.0)
                .fold(1.0, f32::min);
        assert!(spread > 0.1, "{emotion}: intensity spread only {spread}");
    }
}
