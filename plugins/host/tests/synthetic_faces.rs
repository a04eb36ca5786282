//! `face_align` on the synthetic faces of `assay-facegen`, against the generator's
//! ground truth, per domain preset.

use assay_facegen::{render, Domain};
use assay_plugin_host::{Image, SandboxLimits};
use serde_json::Value;

use crate::common::load_guest;

/// Images rendered per domain; five domains make a few hundred calls.
const PER_DOMAIN: u64 = 60;
const SEED: u64 = 20_240_611;

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
        let sample = render(&config, SEED, index).unwrap();
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

/// Minimum detection rate per domain, set a little below the rates measured with
/// `SEED` so that a regression fails.
///
/// NOTE: the skin-colour detector is weak on these renders (stylised faces, magenta or
/// skin-like backgrounds, heavy blur in `sfew`), so these floors are low by design.
const DETECTION_FLOORS: [(&str, f64); 5] = [
    ("ferplus", 0.6),
    ("rafdb", 0.25),
    ("affectnet", 0.2),
    ("sfew", 0.0),
    ("disfa", 0.2),
];

#[test]
fn face_align_on_synthetic_domains() {
    let tool = load_guest("face_align", SandboxLimits::default());
    let scores: Vec<DomainScore> = Domain::ALL.iter().map(|&d| score_domain(&tool, d)).collect();
    for s in &scores {
        eprintln!(
            "{:<10} images {:>3}  detection rate {:.3}  landmark NME {:.3}",
            s.domain, s.images, s.detection_rate, s.landmark_nme
        );
    }
    for s in &scores {
        let floor = DETECTION_FLOORS.iter().find(|(d, _)| *d == s.domain).unwrap().1;
        assert!(
            s.detection_rate >= floor,
            "{}: detection rate {:.3} is below {floor}",
            s.domain,
            s.detection_rate
        );
        if s.detection_rate > 0.0 {
            assert!(s.landmark_nme <= 0.6, "{}: landmark NME {:.3} is above 0.6", s.domain, s.landmark_nme);
        }
    }
}

#[test]
#[ignore = "diagnostic: scores the native build of the detector, faster than the wasm tool"]
fn native_detector_on_synthetic_domains() {
    for domain in Domain::ALL {
        let (mut detected, mut nme) = (0usize, 0.0f64);
        for index in 0..PER_DOMAIN {
            let sample = render(&domain.config(), SEED, index).unwrap();
            let rgb = imaging::RgbImage::new(sample.image.width, sample.image.height, sample.image.channels, sample.image.pixels.clone()).unwrap();
            let Ok(found) = imaging::detect_face(&rgb) else { continue };
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
