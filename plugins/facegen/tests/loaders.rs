//! Dataset loaders on tiny fixtures written to a temporary folder.

use std::fs;
use std::path::Path;

use assay_facegen::loaders::{
    ferplus_majority, load_affectnet, load_disfa, load_ferplus, load_rafdb, load_sfew,
    missing_images, read_face_image, DatasetSplit, DisfaLayout,
};
use assay_facegen::expression::prototype_action_units;
use assay_facegen::{ActionUnit, Emotion, FacegenError};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn rafdb_fixture_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("EmoLabel/list_patition_label.txt"),
        "train_00001.jpg 5\ntrain_00002.jpg 4\ntest_0001.jpg 1\n\ntest_0002.jpg 7\n",
    );
    write(&root.join("Image/aligned/train_00001_aligned.jpg"), "x");

    let records = load_rafdb(root).unwrap();
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].emotion, Some(Emotion::Sadness));
    assert_eq!(records[1].emotion, Some(Emotion::Happiness));
    assert_eq!(records[2].emotion, Some(Emotion::Surprise));
    assert_eq!(records[3].emotion, Some(Emotion::Neutral));
    assert_eq!(records[0].split, DatasetSplit::Train);
    assert_eq!(records[2].split, DatasetSplit::Test);
    assert_eq!(
        records[0].image_path,
        root.join("Image/aligned/train_00001_aligned.jpg")
    );
    assert_eq!(missing_images(&records).len(), 3);
}

#[test]
fn rafdb_rejects_bad_label() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("EmoLabel/list_patition_label.txt"),
        "train_00001.jpg 9\n",
    );
    fs::create_dir_all(dir.path().join("Image/aligned")).unwrap();
    let error = load_rafdb(dir.path()).unwrap_err().to_string();
    assert!(error.contains("line 1"), "{error}");
    assert!(error.contains("`9` is not 1 to 7"), "{error}");
}

#[test]
fn missing_roots_name_dataset_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let errors = [
        load_rafdb(&missing).unwrap_err(),
        load_affectnet(&missing, DatasetSplit::Train).unwrap_err(),
        load_ferplus(&missing).unwrap_err(),
        load_sfew(&missing, DatasetSplit::Train).unwrap_err(),
        load_disfa(&DisfaLayout::new(&missing, &missing)).unwrap_err(),
    ];
    let expected = [
        ("RAF-DB", "list_patition_label.txt"),
        ("AffectNet", "training,validation"),
        ("FERPlus", "fer2013new.csv"),
        ("SFEW 2.0", "Angry, Disgust"),
        ("DISFA", "SNxxx_auN.txt"),
    ];
    for (error, (dataset, layout)) in errors.iter().zip(expected) {
        assert!(
            matches!(error, FacegenError::MissingDataset { .. }),
            "{error}"
        );
        let text = error.to_string();
        assert!(text.starts_with(dataset), "{text}");
        assert!(text.contains(layout), "{text}");
        assert!(text.contains("nowhere"), "{text}");
    }
}

#[test]
fn affectnet_fixture_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("Manually_Annotated_file_lists/training.csv"),
        "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n\
         689/a.jpg,10,20,100,110,1.0;2.0;3.0,1,0.5,-0.25\n\
         689/b.jpg,0,0,50,50,,8,-2,-2\n\
         12/c.png,5,6,70,80,,7,-0.1,0.3\n\
         12/d.png,5,6,70,80,,10,-2,-2\n",
    );
    fs::create_dir_all(root.join("Manually_Annotated_Images")).unwrap();

    let records = load_affectnet(root, DatasetSplit::Train).unwrap();
    assert_eq!(records.len(), 2, "ids 8 and 10 are skipped");
    assert_eq!(records[0].emotion, Some(Emotion::Happiness));
    assert_eq!(
        records[0].image_path,
        root.join("Manually_Annotated_Images/689/a.jpg")
    );
    let face = records[0].face_box.unwrap();
    assert_eq!(
        (face.x_min, face.y_min, face.x_max, face.y_max),
        (10.0, 20.0, 110.0, 130.0)
    );
    assert_eq!(records[0].valence, Some(0.5));
    assert_eq!(records[0].arousal, Some(-0.25));
    assert_eq!(records[1].emotion, Some(Emotion::Contempt));

    let missing_validation = load_affectnet(root, DatasetSplit::Validation)
        .unwrap_err()
        .to_string();
    assert!(
        missing_validation.contains("validation.csv"),
        "{missing_validation}"
    );
}

#[test]
fn affectnet_reports_missing_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("validation.csv"),
        "subDirectory_filePath,expression\na.jpg,1\n",
    );
    let error = load_affectnet(dir.path(), DatasetSplit::Validation)
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing column `face_x`"), "{error}");
}

#[test]
fn ferplus_majority_matches_reference_rule() {
    // Vote vectors in file order: neutral, happiness, surprise, sadness, anger, disgust,
    // fear, contempt, unknown, NF. Expected labels worked out by hand from the rule.
    let cases: [([f32; 10], Option<Emotion>); 9] = [
        // Single votes dropped: 4 of the remaining 9 is no majority.
        ([4., 0., 0., 1., 3., 2., 0., 0., 0., 0.], None),
        // 6 of the remaining 8 after dropping single votes.
        (
            [6., 0., 1., 1., 0., 0., 0., 0., 2., 0.],
            Some(Emotion::Neutral),
        ),
        (
            [2., 0., 0., 8., 0., 0., 0., 0., 0., 0.],
            Some(Emotion::Sadness),
        ),
        (
            [0., 10., 0., 0., 0., 0., 0., 0., 0., 0.],
            Some(Emotion::Happiness),
        ),
        (
            [0., 0., 6., 0., 0., 0., 4., 0., 0., 0.],
            Some(Emotion::Surprise),
        ),
        // A tie at half is not a majority.
        ([4., 0., 0., 4., 1., 0., 0., 0., 1., 0.], None),
        // Unknown and not-a-face majorities are excluded.
        ([0., 0., 0., 0., 0., 0., 0., 0., 7., 3.], None),
        ([0., 0., 0., 0., 0., 0., 0., 2., 0., 8.], None),
        (
            [1., 0., 0., 0., 0., 0., 0., 3., 0., 0.],
            Some(Emotion::Contempt),
        ),
    ];
    for (votes, expected) in cases {
        assert_eq!(ferplus_majority(votes), expected, "votes {votes:?}");
    }
}

#[test]
fn ferplus_fixture_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("fer2013new.csv"),
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n\
         Training,fer0000000.png,4,0,0,1,3,2,0,0,0,0\n\
         Training,fer0000001.png,6,0,1,1,0,0,0,0,2,0\n\
         Training,,0,0,0,0,0,0,0,0,0,10\n\
         PublicTest,fer0028710.png,0,0,0,0,9,1,0,0,0,0\n\
         PrivateTest,fer0032221.png,0,0,0,0,0,0,10,0,0,0\n",
    );
    let records = load_ferplus(root).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].emotion, Some(Emotion::Neutral));
    assert_eq!(
        records[0].image_path,
        root.join("FER2013Train/fer0000001.png")
    );
    assert_eq!(records[1].emotion, Some(Emotion::Anger));
    assert_eq!(records[1].split, DatasetSplit::Validation);
    assert_eq!(
        records[1].image_path,
        root.join("FER2013Valid/fer0028710.png")
    );
    assert_eq!(records[2].emotion, Some(Emotion::Fear));
    assert_eq!(records[2].split, DatasetSplit::Test);
}

#[test]
fn ferplus_rejects_bad_vote() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("fer2013new.csv"),
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n\
         Training,fer0000000.png,4,0,0,NaN,3,2,0,0,0,0\n",
    );
    let error = load_ferplus(dir.path()).unwrap_err().to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(
        error.contains("`NaN` in column sadness is not a vote count"),
        "{error}"
    );
}

#[test]
fn sfew_fixture_loads() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("Train");
    write(&train.join("Happy/b.png"), "x");
    write(&train.join("Happy/a.jpg"), "x");
    write(&train.join("Happy/notes.txt"), "x");
    write(&train.join("Angry/c.png"), "x");
    write(&train.join("Extras/d.png"), "x");

    let records = load_sfew(&train, DatasetSplit::Train).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].emotion, Some(Emotion::Anger));
    assert_eq!(records[1].emotion, Some(Emotion::Happiness));
    assert_eq!(records[1].image_path, train.join("Happy/a.jpg"));
    assert_eq!(records[2].image_path, train.join("Happy/b.png"));
    assert!(missing_images(&records).is_empty());

    let empty = dir.path().join("Val");
    fs::create_dir_all(empty.join("Extras")).unwrap();
    let error = load_sfew(&empty, DatasetSplit::Validation).unwrap_err();
    assert!(
        matches!(error, FacegenError::MissingDataset { .. }),
        "{error}"
    );
}

#[test]
fn disfa_fixture_loads() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("ActionUnit_Labels");
    write(&labels.join("SN001/SN001_au1.txt"), "1,0\n2,2\n3,5\n");
    write(&labels.join("SN001/SN001_au12.txt"), "1,1\n2,3\n3,0\n");
    write(&labels.join("SN002/SN002_au26.txt"), "1,4\n");

    let mut layout = DisfaLayout::new(&labels, dir.path().join("frames"));
    layout.frame_digits = 5;
    let records = load_disfa(&layout).unwrap();
    assert_eq!(records.len(), 4);

    // Frame 1 of SN001: AU1 at 0 and AU12 at 1 are both below the threshold of 2.
    assert_eq!(records[0].subject.as_deref(), Some("SN001"));
    assert_eq!(records[0].frame, Some(1));
    assert!(records[0].action_units.is_empty());
    assert_eq!(
        records[0].image_path,
        dir.path().join("frames/SN001/00001.png")
    );

    // Frame 2: AU1 at 2 and AU12 at 3 are present, intensities divided by 5.
    let frame2: Vec<_> = records[1]
        .action_units
        .iter()
        .map(|a| (a.au, a.intensity))
        .collect();
    assert_eq!(
        frame2,
        vec![(ActionUnit::Au1, 0.4), (ActionUnit::Au12, 0.6)]
    );
    assert_eq!(records[2].action_units.len(), 1);
    assert_eq!(records[3].subject.as_deref(), Some("SN002"));
    assert_eq!(records[3].action_units[0].au, ActionUnit::Au26);
    assert_eq!(records[3].emotion, None);
}

#[test]
fn disfa_rejects_out_of_range_intensity() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("SN003/SN003_au4.txt"), "1,0\n2,7\n");
    let error = load_disfa(&DisfaLayout::new(dir.path(), dir.path()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(error.contains("intensity 7 is not 0 to 5"), "{error}");
}

#[test]
fn dataset_images_decode_by_content() {
    let dir = tempfile::tempdir().unwrap();
    // A 4x2 RGB gradient, stored as JPEG and as PNG under a `.jpg` name, as some
    // releases misname their files.
    let (width, height) = (4u32, 2u32);
    let pixels: Vec<u8> = (0..width * height * 3).map(|i| (i * 10) as u8).collect();
    let jpeg_path = dir.path().join("face.jpg");
    image::save_buffer(&jpeg_path, &pixels, width, height, image::ExtendedColorType::Rgb8).unwrap();
    let png_path = dir.path().join("misnamed.jpg");
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &pixels,
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    fs::write(&png_path, png).unwrap();

    let jpeg = read_face_image(&jpeg_path).unwrap();
    assert_eq!((jpeg.width, jpeg.height, jpeg.channels), (4, 2, 3));
    assert_eq!(jpeg.pixels.len(), 24);
    let png = read_face_image(&png_path).unwrap();
    assert_eq!(png.pixels, pixels, "PNG is lossless");

    let gray_path = dir.path().join("gray.png");
    image::save_buffer(&gray_path, &[0u8, 255], 2, 1, image::ExtendedColorType::L8).unwrap();
    let gray = read_face_image(&gray_path).unwrap();
    assert_eq!((gray.channels, gray.pixels.clone()), (1, vec![0, 255]));

    let text_path = dir.path().join("notes.jpg");
    fs::write(&text_path, "not an image").unwrap();
    let error = read_face_image(&text_path).unwrap_err().to_string();
    assert!(error.contains("notes.jpg"), "{error}");
    assert!(error.contains("PNG or JPEG"), "{error}");
}

#[test]
fn prototype_units_are_the_core_combinations() {
    let numbers = |emotion| -> Vec<u8> {
        prototype_action_units(emotion).iter().map(|a| a.au.number()).collect()
    };
    assert_eq!(numbers(Emotion::Happiness), vec![6, 12]);
    assert_eq!(numbers(Emotion::Sadness), vec![1, 4, 15]);
    assert_eq!(numbers(Emotion::Surprise), vec![1, 2, 5, 26]);
    assert_eq!(numbers(Emotion::Contempt), vec![12, 14]);
    assert!(numbers(Emotion::Neutral).is_empty());
}
