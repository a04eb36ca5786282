//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::time::Duration;

use assay_plugin_host::guest_build::guest_path;
use assay_plugin_host::{Image, SandboxLimits, WasmTool};

/// Loads guest `name` with `limits`, building the guests first if needed.
pub fn load_guest(name: &str, limits: SandboxLimits) -> WasmTool {
    let path = guest_path(name).unwrap_or_else(|e| panic!("building guest `{name}` failed: {e}"));
    WasmTool::load(&path, limits).unwrap_or_else(|e| panic!("loading `{}` failed: {e}", path.display()))
}

/// Limits small enough that hostile guests fail fast.
pub fn tight_limits() -> SandboxLimits {
    SandboxLimits {
        memory_bytes: 64 << 20,
        fuel: 2_000_000_000,
        timeout: Duration::from_millis(200),
        ..SandboxLimits::default()
    }
}

/// Path of a file in the repository's `tests/data`.
pub fn test_data(name: &str) -> PathBuf {
    assay_plugin_host::guest_build::workspace_root().join("tests/data").join(name)
}

/// Decodes an 8-bit gray, RGB or RGBA PNG.
pub fn load_png(path: &std::path::Path) -> Image {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "test images are 8-bit");
    Image::new(info.width, info.height, info.color_type.samples() as u8, pixels).unwrap()
}

/// Writes an image as PNG (for a person to look at test outputs).
pub fn save_png(image: &Image, path: &std::path::Path) {
    let color = match image.channels {
        1 => png::ColorType::Grayscale,
        3 => png::ColorType::Rgb,
        _ => png::ColorType::Rgba,
    };
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), image.width, image.height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().unwrap().write_image_data(&image.pixels).unwrap();
}

/// Folder for test outputs that should survive the test: `<target>/test-output/<name>`.
pub fn output_dir(name: &str) -> PathBuf {
    let dir = assay_plugin_host::guest_build::target_dir().join("test-output").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
