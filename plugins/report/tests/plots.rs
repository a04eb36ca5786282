//! Plots exist, have the expected size and are not blank.

use assay_report::plots::{plot_reliability_diagram, reliability_bins, render_plots, risk_coverage, PLOT_SIZE};
use assay_report::spec::PlotsSpec;

use crate::fixture;

/// Asserts a file is a PNG of the plot size whose compressed size shows drawn content.
fn assert_png_drawn(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    // The IHDR chunk stores width and height as big-endian u32 at bytes 16..24.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), PLOT_SIZE);
    // A blank white PNG of this size compresses to well under 5 KB.
    assert!(bytes.len() > 10_000, "{} has only {} bytes", path.display(), bytes.len());
}

fn assert_svg_drawn(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("<svg"), "{}", path.display());
    assert!(text.contains("<polyline") || text.contains("<rect"), "{}", path.display());
    assert!(text.contains("<text"), "{} has no text", path.display());
}

#[test]
fn render_plots_writes_all_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let out = dir.path().join("plots");
    let written = render_plots(&runs, &PlotsSpec::default(), &out).unwrap();
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.contains(&"training_seed0.png".to_owned()), "{names:?}");
    assert!(names.contains(&"reliability_seed1_grpo_mathvista.svg".to_owned()), "{names:?}");
    assert!(names.contains(&"risk_coverage_seed2_sft_mathvista.png".to_owned()), "{names:?}");
    // Training curves for 3 seeds, and 2 calibration plots for each of 2 stages and 3 seeds,
    // each as PNG and SVG.
    assert_eq!(written.len(), 2 * (3 + 2 * 2 * 3));
    for path in &written {
        match path.extension().unwrap().to_str().unwrap() {
            "png" => assert_png_drawn(path),
            "svg" => assert_svg_drawn(path),
            other => panic!("unexpected extension {other}"),
        }
    }
}

#[test]
fn plots_disabled_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture::load(dir.path());
    let spec = PlotsSpec { enabled: false, ..PlotsSpec::default() };
    assert!(render_plots(&runs, &spec, &dir.path().join("plots")).unwrap().is_empty());
}

#[test]
fn reliability_diagram_file() {
    let dir = tempfile::tempdir().unwrap();
    let confidence = [0.95, 0.92, 0.85, 0.81, 0.72, 0.65, 0.55, 0.45, 0.35, 0.15];
    let correct = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
    let written = plot_reliability_diagram(&confidence, &correct, 10, "reliability", &dir.path().join("r")).unwrap();
    assert_png_drawn(&written[0]);
    assert_svg_drawn(&written[1]);
}

#[test]
fn reliability_bins_by_hand() {
    let confidence = [0.3, 0.7, 1.0, 0.0, 0.34];
    let correct = [1.0, 0.0, 1.0, 0.0, 0.0];
    let bins = reliability_bins(&confidence, &correct, 10);
    assert_eq!(bins.len(), 10);
    // 0.3 and 0.34 land in bin 3 despite 0.3 * 10 rounding; 1.0 in the last bin; 0 in the first.
    assert_eq!(bins[3].count, 2);
    assert!((bins[3].confidence.unwrap() - 0.32).abs() < 1e-12);
    assert_eq!(bins[3].accuracy, Some(0.5));
    assert_eq!(bins[7].count, 1);
    assert_eq!(bins[9].count, 1);
    assert_eq!(bins[0].count, 1);
    assert_eq!(bins[5].accuracy, None);
}

#[test]
fn risk_coverage_by_hand() {
    // Sorted by confidence: correct, wrong, correct, wrong.
    let curve = risk_coverage(&[0.9, 0.2, 0.8, 0.5], &[1.0, 0.0, 0.0, 1.0]);
    assert_eq!(curve, vec![(0.25, 0.0), (0.5, 0.5), (0.75, 1.0 / 3.0), (1.0, 0.5)]);
}

#[test]
fn risk_coverage_ties_give_one_point() {
    // The two samples at 0.9 enter together: one right, one wrong.
    let curve = risk_coverage(&[0.9, 0.9, 0.5], &[1.0, 0.0, 1.0]);
    assert_eq!(curve, vec![(2.0 / 3.0, 0.5), (1.0, 1.0 / 3.0)]);
}
