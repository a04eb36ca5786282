//! Writing a split to disk and reading it back.

use assay_facegen::{generate, read_split, write_split, Domain};

#[test]
fn split_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for domain in [Domain::Ferplus, Domain::Affectnet] {
        let out = dir.path().join(domain.name());
        let samples = generate(&domain.config(), 3, 5).unwrap();
        let labels = write_split(&out, &samples).unwrap();
        assert_eq!(labels, out.join("labels.jsonl"));

        let records = read_split(&out).unwrap();
        assert_eq!(records.len(), 5);
        for (record, sample) in records.iter().zip(&samples) {
            assert_eq!(record.truth, sample.truth);
            assert_eq!(record.file, format!("images/{:06}.png", sample.index));
            let decoded = image::open(out.join(&record.file)).unwrap();
            assert_eq!(
                (decoded.width(), decoded.height()),
                (sample.image.width, sample.image.height)
            );
            let bytes = if sample.image.channels == 1 {
                decoded.to_luma8().into_raw()
            } else {
                decoded.to_rgb8().into_raw()
            };
            assert_eq!(
                bytes, sample.image.pixels,
                "PNG pixels differ for {}",
                record.file
            );
        }

        // No temporary file is left behind.
        let leftovers: Vec<_> = walk(&out)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn read_split_reports_missing_labels() {
    let dir = tempfile::tempdir().unwrap();
    let error = read_split(dir.path()).unwrap_err().to_string();
    assert!(error.contains("labels.jsonl"), "{error}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
