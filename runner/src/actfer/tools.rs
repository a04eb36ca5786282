//! Adapts sandboxed WebAssembly tools to `assay_train::rollout::ToolRunner`.
//!
//! A rollout passes the prompt image to every tool call, but the `zoom_in` regions are boxes
//! of the 112x112 aligned frame. So the runner keeps the aligned face of the last
//! `face_align` call and gives it to later region zooms on the same prompt image. Without
//! an earlier alignment the region is cut from the prompt image.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use assay_plugin_host::WasmTool;
use assay_train::rollout::{Observation, ToolRunner};
use assay_train::Image;

/// Name of the alignment tool whose output later zooms reuse.
pub const ALIGN_TOOL: &str = "face_align";

/// Tool runner over loaded WebAssembly tools.
pub struct WasmToolRunner {
    tools: BTreeMap<String, WasmTool>,
    /// Fingerprint of the last aligned input image and the aligned face.
    aligned: Option<(u64, Image)>,
    /// Number of calls per tool name, successful or not.
    calls: BTreeMap<String, u64>,
}

impl WasmToolRunner {
    /// Builds a runner over tools by name.
    pub fn new(tools: BTreeMap<String, WasmTool>) -> Self {
        Self { tools, aligned: None, calls: BTreeMap::new() }
    }

    /// Number of calls of each tool so far.
    pub fn calls(&self) -> &BTreeMap<String, u64> {
        &self.calls
    }

    /// Calls a tool and returns its raw observation, without rewriting the text.
    ///
    /// # Errors
    /// A message for the model: unknown tool or the tool's own error.
    pub fn invoke(&mut self, name: &str, args: &serde_json::Value, image: Option<&Image>) -> Result<assay_plugin_host::Observation, String> {
        *self.calls.entry(name.to_string()).or_default() += 1;
        let Some(tool) = self.tools.get(name) else {
            let known: Vec<&str> = self.tools.keys().map(String::as_str).collect();
            return Err(format!("unknown tool `{name}`; available tools: {}", known.join(", ")));
        };
        let fingerprint = image.map(fingerprint);
        let input = match (&self.aligned, fingerprint) {
            (Some((seen, aligned)), Some(current)) if name != ALIGN_TOOL && *seen == current && args.get("region").is_some() => {
                Some(aligned.clone())
            }
            _ => image.cloned(),
        };
        let host_image = input.as_ref().map(to_host_image);
        let observation = tool.invoke(&args.to_string(), host_image.as_ref()).map_err(|error| error.to_string())?;
        if name == ALIGN_TOOL {
            if let (Some(current), Some(first)) = (fingerprint, observation.images.first()) {
                self.aligned = Some((current, from_host_image(first)?));
            }
        }
        Ok(observation)
    }
}

impl ToolRunner for WasmToolRunner {
    /// Runs the tool; numbers in its JSON text are rounded to integers so that the
    /// observation stays within a word-level vocabulary.
    fn call(&mut self, name: &str, args: &serde_json::Value, image: Option<&Image>) -> Result<Observation, String> {
        let observation = self.invoke(name, args, image)?;
        let images = observation.images.iter().map(from_host_image).collect::<Result<Vec<_>, _>>()?;
        Ok(Observation { text: round_json_numbers(&observation.text), images })
    }
}

/// Rewrites every number of a JSON text as the nearest integer; other text is unchanged.
pub fn round_json_numbers(text: &str) -> String {
    fn round(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Number(number) => {
                if let Some(float) = number.as_f64() {
                    *value = serde_json::Value::from(float.round() as i64);
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(round),
            serde_json::Value::Object(map) => map.values_mut().for_each(round),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut value) => {
            round(&mut value);
            value.to_string()
        }
        Err(_) => text.to_string(),
    }
}

/// Converts a channel-first `[0, 1]` image to interleaved 8-bit RGB.
pub fn to_host_image(image: &Image) -> assay_plugin_host::Image {
    let mut pixels = Vec::with_capacity(3 * image.height * image.width);
    for y in 0..image.height {
        for x in 0..image.width {
            for c in 0..3 {
                pixels.push((image.at(c, y, x).clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
    }
    assay_plugin_host::Image { width: image.width as u32, height: image.height as u32, channels: 3, pixels }
}

/// Converts an 8-bit tool image (gray, RGB or RGBA) to a channel-first RGB image.
///
/// # Errors
/// The image's sizes do not match its pixel count.
pub fn from_host_image(image: &assay_plugin_host::Image) -> Result<Image, String> {
    image.validate()?;
    let channels = image.channels as usize;
    let rgb: Vec<u8> = image
        .pixels
        .chunks_exact(channels)
        .flat_map(|px| if channels == 1 { [px[0]; 3] } else { [px[0], px[1], px[2]] })
        .collect();
    Image::from_rgb8(image.height as usize, image.width as usize, &rgb).map_err(|error| error.to_string())
}

fn fingerprint(image: &Image) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (image.height, image.width).hash(&mut hasher);
    for value in &image.pixels {
        value.to_bits().hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_nested_numbers() {
        let text = r#"{"box":[1.4,2.6],"size":112,"ok":true,"name":"x"}"#;
        assert_eq!(round_json_numbers(text), r#"{"box":[1,3],"name":"x","ok":true,"size":112}"#);
    }

    #[test]
    fn leaves_plain_text() {
        assert_eq!(round_json_numbers("no face 1.5"), "no face 1.5");
    }

    #[test]
    fn image_conversion_round_trips() {
        let image = Image::from_rgb8(1, 2, &[0, 128, 255, 10, 20, 30]).unwrap();
        let host = to_host_image(&image);
        assert_eq!(host.pixels, vec![0, 128, 255, 10, 20, 30]);
        assert_eq!(from_host_image(&host).unwrap(), image);
    }

    #[test]
    fn gray_image_becomes_rgb() {
        let gray = assay_plugin_host::Image { width: 2, height: 1, channels: 1, pixels: vec![0, 255] };
        let image = from_host_image(&gray).unwrap();
        assert_eq!(image.at(1, 0, 1), 1.0);
        assert_eq!(image.at(2, 0, 0), 0.0);
    }
}
