//! `zoom_in`: crops a named face region or a pixel box and resizes it.
//!
//! Arguments (JSON): exactly one of `region` (a name from `imaging::REGION_NAMES`,
//! whose box is defined in the 112x112 aligned frame and scaled to the input image, so
//! the input should be `face_align`'s output) or `box` (`[x0, y0, x1, y1]` in input
//! pixels); optional `size` (`[width, height]`, default `[224, 224]`, each 1..=4096).
//! A box reaching outside the image is clipped; an empty one is a tool error.

use imaging::{crop_resize, region_box, PixelBox, RgbImage, ALIGNED_SIZE, REGION_NAMES};
use serde::Deserialize;

wit_bindgen::generate!({
    world: "tool",
    path: "../../wit",
});

use exports::assay::tool::guest::{Description, Guest, Image, Observation};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    region: Option<String>,
    #[serde(rename = "box")]
    pixel_box: Option<[f32; 4]>,
    #[serde(default = "default_size")]
    size: [u32; 2],
}

fn default_size() -> [u32; 2] {
    [224, 224]
}

fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "region": {"enum": REGION_NAMES, "description": "named region of an aligned face"},
            "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                    "description": "[x0, y0, x1, y1] in input pixels"},
            "size": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 4096},
                     "minItems": 2, "maxItems": 2, "default": [224, 224]}
        },
        "oneOf": [{"required": ["region"]}, {"required": ["box"]}]
    })
}

fn target_box(args: &Args, image: &RgbImage) -> Result<PixelBox, String> {
    match (&args.region, &args.pixel_box) {
        (Some(name), None) => {
            let b = region_box(name).ok_or_else(|| {
                format!("unknown region `{name}`; expected one of {}", REGION_NAMES.join(", "))
            })?;
            let sx = image.width as f32 / ALIGNED_SIZE as f32;
            let sy = image.height as f32 / ALIGNED_SIZE as f32;
            Ok(PixelBox::new(b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy))
        }
        (None, Some([x0, y0, x1, y1])) => {
            if [x0, y0, x1, y1].iter().any(|v| !v.is_finite()) {
                return Err("`box` holds a value that is not a finite number".to_string());
            }
            Ok(PixelBox::new(*x0, *y0, *x1, *y1))
        }
        (Some(_), Some(_)) => Err("give either `region` or `box`, not both".to_string()),
        (None, None) => Err("missing `region` or `box`".to_string()),
    }
}

struct ZoomIn;

impl Guest for ZoomIn {
    fn describe() -> Description {
        Description {
            name: "zoom_in".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            parameters_schema: schema().to_string(),
        }
    }

    fn invoke(args: String, image: Option<Image>) -> Result<Observation, String> {
        let args: Args =
            serde_json::from_str(&args).map_err(|e| format!("invalid `zoom_in` arguments: {e}"))?;
        let image = image.ok_or("`zoom_in` needs an input image")?;
        let image = RgbImage::new(image.width, image.height, image.channels, image.pixels)?;
        let region = target_box(&args, &image)?;
        let [width, height] = args.size;
        let zoomed = crop_resize(&image, region, width, height)?;
        let clipped = region.clip(image.width, image.height);
        Ok(Observation {
            text: serde_json::json!({
                "box": [clipped.x0, clipped.y0, clipped.x1, clipped.y1],
                "size": [width, height],
            })
            .to_string(),
            images: vec![Image {
                width: zoomed.width,
                height: zoomed.height,
                channels: zoomed.channels,
                pixels: zoomed.pixels,
            }],
        })
    }
}

export!(ZoomIn);
