//! The face finder on a real photograph: the NASA astronaut portrait in the main
//! repository's `tests/data` (face roughly x 170-280, y 70-190).

use imaging::{align_face, PixelBox, RgbImage};

fn load_png(path: &std::path::Path) -> RgbImage {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    buffer.truncate(info.buffer_size());
    let channels = info.color_type.samples() as u8;
    RgbImage::new(info.width, info.height, channels, buffer).unwrap()
}

#[test]
fn astronaut_face_overlaps_reference_box() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/data/astronaut.png");
    let image = load_png(&path);
    let aligned = align_face(&image).unwrap();
    let found = &aligned.detection;
    let reference = PixelBox::new(170.0, 70.0, 280.0, 190.0);
    let iou = found.face_box.iou(&reference);
    assert!(iou >= 0.5, "face box {:?} has IoU {iou} with the reference", found.face_box);

    // Eye and mouth centres read by hand from the photograph: (202, 100), (247, 102),
    // (224, 144). The detector is coarse, so the bound is a third of the 45 px eye distance.
    assert!(found.landmarks_measured);
    for (got, want) in [
        (found.landmarks.left_eye, (202.0, 100.0)),
        (found.landmarks.right_eye, (247.0, 102.0)),
        (found.landmarks.mouth, (224.0, 144.0)),
    ] {
        let error = (got.0 - want.0).hypot(got.1 - want.1);
        assert!(error <= 15.0, "landmark {got:?} is {error:.1} px from {want:?}");
    }
}

