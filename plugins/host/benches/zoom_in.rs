//! `zoom_in` as a sandboxed WebAssembly tool against the same Rust code called natively,
//! and the per-call cost of the sandbox (fresh store, instantiation, one trivial call).
//!
//! Run: `cargo bench -p assay-plugin-host --bench zoom_in` (builds the guests first).

use std::hint::black_box;

use assay_plugin_host::guest_build::guest_path;
use assay_plugin_host::{Image, SandboxLimits, WasmTool};
use criterion::{criterion_group, criterion_main, Criterion};
use imaging::{crop_resize, PixelBox, RgbImage};

/// Builds a 224x224 RGB test pattern.
fn pattern() -> Image {
    let mut pixels = Vec::with_capacity(224 * 224 * 3);
    for y in 0..224u32 {
        for x in 0..224u32 {
            pixels.extend_from_slice(&[x as u8, y as u8, (x ^ y) as u8]);
        }
    }
    Image::new(224, 224, 3, pixels).unwrap()
}

fn load(name: &str) -> WasmTool {
    let path = guest_path(name).expect("building the guests failed");
    WasmTool::load(path, SandboxLimits::default()).expect("loading the guest failed")
}

fn zoom_in(c: &mut Criterion) {
    let image = pattern();
    // Crop the central 160x160 box and resize it back to 224x224.
    let args = r#"{"box": [32, 32, 192, 192], "size": [224, 224]}"#;
    let region = PixelBox::new(32.0, 32.0, 192.0, 192.0);

    let mut group = c.benchmark_group("zoom_in_224");
    group.bench_function("native", |b| {
        b.iter(|| {
            // The wasm path also copies the input into the guest, so the native path
            // builds its owned image from a copy too.
            let input = RgbImage::new(image.width, image.height, image.channels, image.pixels.clone()).unwrap();
            black_box(crop_resize(&input, region, 224, 224).unwrap())
        })
    });
    let tool = load("zoom_in");
    group.bench_function("wasm", |b| b.iter(|| black_box(tool.invoke(args, Some(&image)).unwrap())));
    group.finish();

    // Sandbox overhead: new store, instantiation and a call that does no work.
    let hostile = load("hostile");
    c.bench_function("sandbox_call_overhead", |b| {
        b.iter(|| black_box(hostile.invoke(r#"{"mode": "ok"}"#, None).unwrap()))
    });
}

criterion_group!(benches, zoom_in);
criterion_main!(benches);
