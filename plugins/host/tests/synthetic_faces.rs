//! `face_align` on the synthetic faces of `assay-facegen`, against the generator's
//! ground truth, per domain preset; and the ignored test that refits the face finder's
//! model on faces rendered with another seed.

use assay_facegen::{render, Domain, FaceSample};
use assay_plugin_host::{Image, SandboxLimits};
use serde_json::Value;

use crate::common::load_guest;

/// Images rendered per domain; five domains make 500 calls.
const PER_DOMAIN: u64 = 100;
/// Seed of the measured images. The model is fitted on `TRAINING_SEED`, so these
/// images are unseen.
const SEED: u64 = 20_240_611;
/// Seed of the faces `regenerate_face_model` fits the model on.
const TRAINING_SEED: u64 = 9_100_001;
/// Training faces per domain (each is also used mirrored).
const TRAINING_PER_DOMAIN: u64 = 250;

/// Generator index of the `n`-th image of `domain`. The DISFA-like preset shows one
/// subject for 64 consecutive indices, so it steps 7 indices at a time to cover about
/// 11 subjects in 100 images.
fn sample_index(domain: Domain, n: u64) -> u64 {
    match domain {
        Domain::Disfa => 7 * n,
        _ => n,
    }
}

/// Detection rate and landmark error of one domain.
#[derive(Debug)]
struct DomainScore {
    domain: &'static str,
    images: usize,
    /// Fraction of images where the tool found a face whose box overlaps the true box
    /// with IoU >= 0.5.
    detection_rate: f64,
    /// Mean over detected faces of the eye and mouth centre errors divided by the true
    /// inter-ocular distance (normalised mean error).
    landmark_nme: f64,
}

fn point(value: &Value) -> (f64, f64) {
    (value[0].as_f64().unwrap(), value[1].as_f64().unwrap())
}

fn score_domain(tool: &assay_plugin_host::WasmTool, domain: Domain) -> DomainScore {
    let config = domain.config();
    let mut detected = 0usize;
    let mut nme_sum = 0.0;
    for index in 0..PER_DOMAIN {
        let sample = render(&config, SEED, sample_index(domain, index)).unwrap();
        let image = Image::new(
            sample.image.width,
            sample.image.height,
            sample.image.channels,
            sample.image.pixels.clone(),
        )
        .unwrap();
        let Ok(observation) = tool.invoke("{}", Some(&image)) else {
            continue;
        };
        let text: Value = serde_json::from_str(&observation.text).unwrap();
        let b = &text["face_box"];
        let found = assay_facegen::PixelBox {
            x_min: b[0].as_f64().unwrap() as f32,
            y_min: b[1].as_f64().unwrap() as f32,
            x_max: b[2].as_f64().unwrap() as f32,
            y_max: b[3].as_f64().unwrap() as f32,
        };
        if found.iou(&sample.truth.face_box) < 0.5 {
            continue;
        }
        detected += 1;

        let truth = &sample.truth.landmarks;
        let pairs = [
            (point(&text["landmarks"]["left_eye"]), truth.left_eye),
            (point(&text["landmarks"]["right_eye"]), truth.right_eye),
            (point(&text["landmarks"]["mouth"]), truth.mouth_center),
        ];
        let inter_ocular = ((truth.right_eye.x - truth.left_eye.x) as f64)
            .hypot((truth.right_eye.y - truth.left_eye.y) as f64);
        let error: f64 = pairs
            .iter()
            .map(|((x, y), t)| (x - t.x as f64).hypot(y - t.y as f64))
            .sum::<f64>()
            / pairs.len() as f64;
        nme_sum += error / inter_ocular;
    }
    DomainScore {
        domain: domain.name(),
        images: PER_DOMAIN as usize,
        detection_rate: detected as f64 / PER_DOMAIN as f64,
        landmark_nme: if detected > 0 { nme_sum / detected as f64 } else { f64::NAN },
    }
}

/// Minimum detection rate and maximum landmark NME per domain, set a little below (and
/// above) the values measured with `SEED`: detection 1.00, 1.00, 0.99, 0.94, 1.00 and
/// NME 0.030, 0.024, 0.029, 0.088, 0.022 in the order below.
///
/// NOTE: `sfew` images (blur sigma 0.8-2, noise sigma 10-24, dim light, 30% occlusion)
/// are the hardest. Its misses are faces whose mouth, nose or eyes lie under an occluder
/// or a corrupted patch, or faces in near-black light, where the best window lands on
/// a small face-like part of the image.
const FLOORS: [(&str, f64, f64); 5] = [
    ("ferplus", 0.97, 0.05),
    ("rafdb", 0.97, 0.05),
    ("affectnet", 0.95, 0.05),
    ("sfew", 0.88, 0.12),
    ("disfa", 0.97, 0.05),
];

/// The default per-call fuel of a spec's tool (`limits.fuel` in the experiment YAML),
/// lower than the host's own default, so the test also shows that a call fits in it.
const SPEC_DEFAULT_FUEL: u64 = 1_000_000_000;

#[test]
fn face_align_on_synthetic_domains() {
    let limits = SandboxLimits {
        fuel: SPEC_DEFAULT_FUEL,
        ..SandboxLimits::default()
    };
    let tool = load_guest("face_align", limits);
    let scores: Vec<DomainScore> = Domain::ALL.iter().map(|&d| score_domain(&tool, d)).collect();
    for s in &scores {
        eprintln!(
            "{:<10} images {:>3}  detection rate {:.3}  landmark NME {:.3}",
            s.domain, s.images, s.detection_rate, s.landmark_nme
        );
    }
    for s in &scores {
        let (_, floor, max_nme) = *FLOORS.iter().find(|(d, _, _)| *d == s.domain).unwrap();
        assert!(
            s.detection_rate >= floor,
            "{}: detection rate {:.3} is below {floor}",
            s.domain,
            s.detection_rate
        );
        assert!(
            s.landmark_nme <= max_nme,
            "{}: landmark NME {:.3} is above {max_nme}",
            s.domain,
            s.landmark_nme
        );
    }
}

fn to_rgb(sample: &FaceSample) -> imaging::RgbImage {
    let i = &sample.image;
    imaging::RgbImage::new(i.width, i.height, i.channels, i.pixels.clone()).unwrap()
}

#[test]
#[ignore = "diagnostic: scores the native build of the detector, faster than the wasm tool"]
fn native_detector_on_synthetic_domains() {
    for domain in Domain::ALL {
        let (mut detected, mut nme) = (0usize, 0.0f64);
        for index in 0..PER_DOMAIN {
            let sample = render(&domain.config(), SEED, sample_index(domain, index)).unwrap();
            let Ok(found) = imaging::detect_face(&to_rgb(&sample)) else { continue };
            let b = found.face_box;
            let found_box = assay_facegen::PixelBox { x_min: b.x0, y_min: b.y0, x_max: b.x1, y_max: b.y1 };
            if found_box.iou(&sample.truth.face_box) < 0.5 {
                continue;
            }
            detected += 1;
            let t = &sample.truth.landmarks;
            let iod = ((t.right_eye.x - t.left_eye.x) as f64).hypot((t.right_eye.y - t.left_eye.y) as f64);
            let l = found.landmarks;
            let e = [(l.left_eye, t.left_eye), (l.right_eye, t.right_eye), (l.mouth, t.mouth_center)]
                .iter()
                .map(|((x, y), p)| ((x - p.x) as f64).hypot((y - p.y) as f64))
                .sum::<f64>() / 3.0;
            nme += e / iod;
        }
        eprintln!("native {:<10} detection {:.3} NME {:.3}", domain.name(), detected as f64 / PER_DOMAIN as f64, nme / detected.max(1) as f64);
    }
}

/// Generator index of the `n`-th training image: every 13th frame for the DISFA-like
/// preset, so that 250 images cover about 50 subjects.
fn training_index(domain: Domain, n: u64) -> u64 {
    match domain {
        Domain::Disfa => 13 * n,
        _ => n,
    }
}

/// Refits the face finder on `TRAINING_PER_DOMAIN` faces per domain rendered with
/// `TRAINING_SEED` (plus their mirror images) and overwrites the model embedded in the
/// `imaging` crate. Run it with the image code optimised, which takes a few minutes:
///
/// ```text
/// cargo test -p assay-plugin-host --test main \
///     --config 'profile.dev.package.imaging.opt-level=3' \
///     regenerate_face_model -- --ignored --nocapture
/// ```
#[test]
#[ignore = "regenerates plugins/tools/imaging/src/face_model.bin; minutes of CPU"]
fn regenerate_face_model() {
    let mut faces = Vec::new();
    for domain in Domain::ALL {
        for n in 0..TRAINING_PER_DOMAIN {
            let sample = render(&domain.config(), TRAINING_SEED, training_index(domain, n)).unwrap();
            let t = &sample.truth.landmarks;
            let b = sample.truth.face_box;
            let face = imaging::face_train::TrainingFace {
                image: to_rgb(&sample),
                shape: [t.left_eye.x, t.left_eye.y, t.right_eye.x, t.right_eye.y, t.mouth_center.x, t.mouth_center.y],
                face_box: imaging::PixelBox::new(b.x_min, b.y_min, b.x_max, b.y_max),
            };
            faces.push(face.mirrored());
            faces.push(face);
        }
    }
    let options = imaging::face_train::TrainingOptions::default();
    let model = imaging::face_train::train_face_model(&faces, &options, &mut |line| eprintln!("{line}")).unwrap();
    let path = assay_plugin_host::guest_build::workspace_root().join("plugins/tools/imaging/src/face_model.bin");
    std::fs::write(&path, model.to_bytes()).unwrap();
    eprintln!("wrote {}", path.display());
}

#[test]
fn face_align_photo_within_spec_fuel() {
    // The 512x512 photograph is the costliest input in the tests (about 470 million
    // fuel units when measured, against about 250 million for a 128x128 render).
    let tool = load_guest(
        "face_align",
        SandboxLimits {
            fuel: SPEC_DEFAULT_FUEL,
            ..SandboxLimits::default()
        },
    );
    let photo = crate::common::load_png(&crate::common::test_data("astronaut.png"));
    if let Err(e) = tool.invoke("{}", Some(&photo)) {
        panic!("face_align on the astronaut photograph failed within {SPEC_DEFAULT_FUEL} fuel: {e}");
    }
}
