//! `face_align`: finds the face from pixels alone, estimates eye and mouth centres,
//! warps the face to the 112x112 template with bilinear sampling, and returns the region
//! boxes of the aligned frame. The finder is `imaging::detect_face`: a HOG window
//! classifier and landmark regressors fitted offline on rendered faces, with a
//! skin-colour proposer for colour photographs.
//!
//! Arguments (JSON): none are needed, so `{}` is valid. The observation text is a JSON
//! object with `face_box` (`[x0, y0, x1, y1]` in input pixels), `landmarks` (input
//! pixels), `landmarks_measured` (`false` when the refined landmarks failed the
//! geometry checks and the coarse first estimate is returned), `size` (112) and `regions` (boxes in the aligned
//! frame). The one image is the aligned face. No face found is a tool error.

use imaging::{align_face, RgbImage, ALIGNED_SIZE};

wit_bindgen::generate!({
    world: "tool",
    path: "../../wit",
});

use exports::assay::tool::guest::{Description, Guest, Image, Observation};

struct FaceAlign;

impl Guest for FaceAlign {
    fn describe() -> Description {
        Description {
            name: "face_align".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            parameters_schema: serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {}
            })
            .to_string(),
        }
    }

    fn invoke(args: String, image: Option<Image>) -> Result<Observation, String> {
        let args: serde_json::Value = serde_json::from_str(if args.trim().is_empty() { "{}" } else { &args })
            .map_err(|e| format!("invalid `face_align` arguments: {e}"))?;
        if args.as_object().is_none_or(|o| !o.is_empty()) {
            return Err(format!("`face_align` takes no arguments; got {args}"));
        }
        let image = image.ok_or("`face_align` needs an input image")?;
        let image = RgbImage::new(image.width, image.height, image.channels, image.pixels)?;
        let aligned = align_face(&image)?;

        let d = &aligned.detection;
        let point = |(x, y): (f32, f32)| [x, y];
        let regions: serde_json::Map<String, serde_json::Value> = aligned
            .regions
            .iter()
            .map(|(name, b)| (name.to_string(), serde_json::json!([b.x0, b.y0, b.x1, b.y1])))
            .collect();
        let text = serde_json::json!({
            "face_box": [d.face_box.x0, d.face_box.y0, d.face_box.x1, d.face_box.y1],
            "landmarks": {
                "left_eye": point(d.landmarks.left_eye),
                "right_eye": point(d.landmarks.right_eye),
                "mouth": point(d.landmarks.mouth),
            },
            "landmarks_measured": d.landmarks_measured,
            "size": ALIGNED_SIZE,
            "regions": regions,
        });
        Ok(Observation {
            text: text.to_string(),
            images: vec![Image {
                width: aligned.image.width,
                height: aligned.image.height,
                channels: aligned.image.channels,
                pixels: aligned.image.pixels,
            }],
        })
    }
}

export!(FaceAlign);
