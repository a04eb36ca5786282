//! The `zoom_in` and `face_align` tools as the engine calls them.

use std::sync::OnceLock;

use assay_plugin_host::{describe_file, Image, PluginFormat, SandboxLimits, ToolCallError, WasmTool};
use serde_json::Value;

use crate::common::{load_guest, load_png, output_dir, save_png, test_data};

fn zoom_in() -> &'static WasmTool {
    static TOOL: OnceLock<WasmTool> = OnceLock::new();
    TOOL.get_or_init(|| load_guest("zoom_in", SandboxLimits::default()))
}

fn face_align() -> &'static WasmTool {
    static TOOL: OnceLock<WasmTool> = OnceLock::new();
    TOOL.get_or_init(|| load_guest("face_align", SandboxLimits::default()))
}

/// Builds an RGB image whose pixel (x, y) is (x, y, 7), to check where crops come from.
fn coordinate_image(width: u32, height: u32) -> Image {
    let mut pixels = Vec::new();
    for y in 0..height {
        for x in 0..width {
            pixels.extend_from_slice(&[x as u8, y as u8, 7]);
        }
    }
    Image::new(width, height, 3, pixels).unwrap()
}

#[test]
fn zoom_in_describes_itself() {
    let description = zoom_in().describe();
    assert_eq!(description.name, "zoom_in");
    assert_eq!(description.version, "0.1.0");
    assert!(description.parameters_schema["properties"]["region"]["enum"].is_array());
}

#[test]
fn zoom_in_crops_box() {
    let image = coordinate_image(100, 100);
    let observation = zoom_in()
        .invoke(r#"{"box": [10, 20, 30, 60], "size": [20, 40]}"#, Some(&image))
        .unwrap();
    let zoomed = &observation.images[0];
    assert_eq!((zoomed.width, zoomed.height), (20, 40));
    // Same scale: pixel (0, 0) is source (10, 20); pixel (19, 39) is source (29, 59).
    assert_eq!(zoomed.pixel(0, 0), &[10, 20, 7]);
    assert_eq!(zoomed.pixel(19, 39), &[29, 59, 7]);
}

#[test]
fn zoom_in_clips_out_of_range_box() {
    let image = coordinate_image(50, 50);
    let observation = zoom_in()
        .invoke(r#"{"box": [-40, 30, 20, 500], "size": [20, 20]}"#, Some(&image))
        .unwrap();
    let text: Value = serde_json::from_str(&observation.text).unwrap();
    assert_eq!(text["box"], serde_json::json!([0.0, 30.0, 20.0, 50.0]));
}

#[test]
fn zoom_in_empty_box_is_tool_error() {
    let image = coordinate_image(50, 50);
    let err = zoom_in()
        .invoke(r#"{"box": [60, 60, 80, 80]}"#, Some(&image))
        .unwrap_err();
    assert!(matches!(&err, ToolCallError::ToolError(m) if m.contains("empty")), "{err:?}");
}

#[test]
fn zoom_in_named_region_scales_to_image() {
    // On a 224x224 image the 112-frame "nose" box (36, 46)-(76, 84) doubles.
    let image = coordinate_image(224, 224);
    let observation = zoom_in().invoke(r#"{"region": "nose"}"#, Some(&image)).unwrap();
    let text: Value = serde_json::from_str(&observation.text).unwrap();
    assert_eq!(text["box"], serde_json::json!([72.0, 92.0, 152.0, 168.0]));
    assert_eq!(observation.images[0].width, 224);
}

#[test]
fn zoom_in_rejects_unknown_region_and_missing_image() {
    let image = coordinate_image(10, 10);
    let err = zoom_in().invoke(r#"{"region": "ear"}"#, Some(&image)).unwrap_err();
    assert!(matches!(&err, ToolCallError::ToolError(m) if m.contains("unknown region `ear`")), "{err:?}");
    let err = zoom_in().invoke(r#"{"region": "nose"}"#, None).unwrap_err();
    assert!(matches!(&err, ToolCallError::ToolError(m) if m.contains("needs an input image")), "{err:?}");
}

#[test]
fn face_align_finds_astronaut_face() {
    let image = load_png(&test_data("astronaut.png"));
    let observation = face_align().invoke("{}", Some(&image)).unwrap();
    let text: Value = serde_json::from_str(&observation.text).unwrap();

    // The reference box from the photo's source note: x 170-280, y 70-190.
    let b: Vec<f64> = text["face_box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let inter = (b[2].min(280.0) - b[0].max(170.0)).max(0.0) * (b[3].min(190.0) - b[1].max(70.0)).max(0.0);
    let union = (b[2] - b[0]) * (b[3] - b[1]) + 110.0 * 120.0 - inter;
    let iou = inter / union;
    assert!(iou >= 0.5, "face box {b:?} has IoU {iou:.3} with the reference box");

    let aligned = &observation.images[0];
    assert_eq!((aligned.width, aligned.height, aligned.channels), (112, 112, 3));
    assert_eq!(text["regions"].as_object().unwrap().len(), 4);
    let path = output_dir("face_align").join("astronaut_aligned.png");
    save_png(aligned, &path);
    eprintln!("aligned crop saved to {}", path.display());
}

#[test]
fn face_align_without_face_is_tool_error() {
    let sky = Image::new(64, 64, 3, [40u8, 90, 200].repeat(64 * 64)).unwrap();
    let err = face_align().invoke("{}", Some(&sky)).unwrap_err();
    assert!(matches!(&err, ToolCallError::ToolError(m) if m.starts_with("no face found")), "{err:?}");
}

#[test]
fn aligned_face_zooms_into_mouth() {
    let image = load_png(&test_data("astronaut.png"));
    let aligned = face_align().invoke("{}", Some(&image)).unwrap().images.remove(0);
    let mouth = zoom_in()
        .invoke(r#"{"region": "mouth-chin", "size": [96, 64]}"#, Some(&aligned))
        .unwrap();
    assert_eq!((mouth.images[0].width, mouth.images[0].height), (96, 64));
    save_png(&mouth.images[0], &output_dir("face_align").join("astronaut_mouth_chin.png"));
}

#[test]
fn describe_file_reports_wasm_tool() {
    let path = assay_plugin_host::guest_build::guest_path("face_align").unwrap();
    let info = describe_file(&path).unwrap();
    assert_eq!(info.format, PluginFormat::Wasm);
    assert_eq!(info.kind, "tool");
    assert_eq!(info.name, "face_align");
    assert_eq!(info.sha256, assay_plugin_host::sha256_file(&path).unwrap());
}
