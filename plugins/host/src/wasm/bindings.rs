//! Host bindings generated from `plugins/wit/tool.wit`.

wasmtime::component::bindgen!({
    path: "../wit/tool.wit",
    world: "tool",
});

pub use exports::assay::tool::guest::Image;
