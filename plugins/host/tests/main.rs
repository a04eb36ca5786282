//! Integration tests of the plugin host, compiled into one test binary. They build the
//! WebAssembly guests and the native reward plugin on first use (see
//! `assay_plugin_host::guest_build`), so they need `rustup target add wasm32-wasip2`.

mod common;
mod native_plugin;
mod sandbox;
mod synthetic_faces;
mod tools;
