//! Drives a plugin exported by `export_plugin!` through its C table, in process, to check
//! the ABI glue: JSON round trips, buffers with shapes, errors and caught panics.

use assay_plugin_sdk::abi::{
    AbiBufferF32, AbiBufferU8, AbiCallInput, AbiInstance, AbiOwnedStr, AbiStatus, AbiStr,
    PluginTable, ABI_MAJOR, ABI_MINOR,
};
use assay_plugin_sdk::{export_plugin, CallInput, NativePlugin, PluginError, PluginKind};
use serde_json::{json, Value};

/// Sums the `f32` buffers and counts bytes, scaled by the configured factor.
struct Summer {
    scale: f64,
}

impl NativePlugin for Summer {
    const KIND: PluginKind = PluginKind::Metric;
    const NAME: &'static str = "summer";
    const VERSION: &'static str = "0.2.0";

    fn describe() -> Value {
        json!({"schema": {"type": "object", "properties": {"scale": {"type": "number"}}}})
    }

    fn create(config: Value) -> Result<Self, PluginError> {
        let scale = config.get("scale").and_then(Value::as_f64).unwrap_or(1.0);
        if scale <= 0.0 {
            return Err(PluginError::InvalidInput(format!(
                "`scale` is {scale}; it must be positive"
            )));
        }
        Ok(Self { scale })
    }

    fn call(&mut self, input: CallInput<'_>) -> Result<Value, PluginError> {
        match input.json.get("mode").and_then(Value::as_str) {
            Some("panic") => panic!("summer was asked to panic"),
            Some("fail") => return Err(PluginError::Failed("summer failed on purpose".into())),
            _ => {}
        }
        let float_sum: f64 = input
            .floats
            .iter()
            .flat_map(|t| t.data().iter())
            .map(|&v| v as f64)
            .sum();
        let byte_count: usize = input.bytes.iter().map(|t| t.data().len()).sum();
        let shapes: Vec<Vec<usize>> = input.floats.iter().map(|t| t.shape().to_vec()).collect();
        Ok(json!({"sum": float_sum * self.scale, "bytes": byte_count, "shapes": shapes}))
    }
}

export_plugin!(Summer);

extern "C" {
    fn assay_plugin_entry() -> *const PluginTable;
}

fn table() -> &'static PluginTable {
    unsafe { &*assay_plugin_entry() }
}

fn take_string(table: &PluginTable, owned: AbiOwnedStr) -> String {
    let text = unsafe {
        AbiStr {
            ptr: owned.ptr,
            len: owned.len,
        }
        .as_str()
        .unwrap()
        .to_string()
    };
    unsafe { (table.free)(owned) };
    text
}

fn last_error(table: &PluginTable) -> String {
    unsafe { (table.last_error)().as_str().unwrap().to_string() }
}

fn create(table: &PluginTable, config: &str) -> Result<AbiInstance, String> {
    let mut instance: AbiInstance = std::ptr::null_mut();
    let status = unsafe { (table.create)(AbiStr::from_str(config), &mut instance) };
    match status {
        AbiStatus::Ok => Ok(instance),
        _ => Err(last_error(table)),
    }
}

fn call(table: &PluginTable, instance: AbiInstance, input: &AbiCallInput) -> (AbiStatus, String) {
    let mut out = AbiOwnedStr::empty();
    let status = unsafe { (table.call)(instance, input, &mut out) };
    if status == AbiStatus::Ok {
        (status, take_string(table, out))
    } else {
        (status, last_error(table))
    }
}

fn json_only(text: &str) -> AbiCallInput {
    AbiCallInput {
        json: AbiStr::from_str(text),
        bytes: std::ptr::null(),
        bytes_len: 0,
        floats: std::ptr::null(),
        floats_len: 0,
    }
}

#[test]
fn table_header_matches_sdk() {
    let table = table();
    assert_eq!(table.abi_major, ABI_MAJOR);
    assert_eq!(table.abi_minor, ABI_MINOR);
    assert_eq!(table.struct_size, std::mem::size_of::<PluginTable>());
    unsafe {
        assert_eq!(table.kind.as_str().unwrap(), "metric");
        assert_eq!(table.name.as_str().unwrap(), "summer");
        assert_eq!(table.version.as_str().unwrap(), "0.2.0");
    }
}

#[test]
fn describe_returns_schema_json() {
    let table = table();
    let mut out = AbiOwnedStr::empty();
    assert_eq!(unsafe { (table.describe)(&mut out) }, AbiStatus::Ok);
    let value: Value = serde_json::from_str(&take_string(table, out)).unwrap();
    assert_eq!(value["schema"]["properties"]["scale"]["type"], "number");
}

#[test]
fn call_reads_buffers_and_shapes() {
    let table = table();
    let instance = create(table, r#"{"scale": 2.0}"#).unwrap();
    let floats = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let float_shape = [2usize, 3];
    let bytes = [7u8; 12];
    let byte_shape = [2usize, 2, 3];
    let float_buffers = [AbiBufferF32 {
        data: floats.as_ptr(),
        len: floats.len(),
        shape: float_shape.as_ptr(),
        ndim: float_shape.len(),
    }];
    let byte_buffers = [AbiBufferU8 {
        data: bytes.as_ptr(),
        len: bytes.len(),
        shape: byte_shape.as_ptr(),
        ndim: byte_shape.len(),
    }];
    let input = AbiCallInput {
        json: AbiStr::from_str("{}"),
        bytes: byte_buffers.as_ptr(),
        bytes_len: 1,
        floats: float_buffers.as_ptr(),
        floats_len: 1,
    };
    let (status, text) = call(table, instance, &input);
    assert_eq!(status, AbiStatus::Ok, "{text}");
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["sum"], json!(42.0));
    assert_eq!(value["bytes"], json!(12));
    assert_eq!(value["shapes"], json!([[2, 3]]));
    unsafe { (table.destroy)(instance) };
}

#[test]
fn call_rejects_shape_mismatch() {
    let table = table();
    let instance = create(table, "{}").unwrap();
    let floats = [1.0f32; 5];
    let shape = [2usize, 3];
    let buffers = [AbiBufferF32 {
        data: floats.as_ptr(),
        len: floats.len(),
        shape: shape.as_ptr(),
        ndim: 2,
    }];
    let input = AbiCallInput {
        floats: buffers.as_ptr(),
        floats_len: 1,
        ..json_only("{}")
    };
    let (status, message) = call(table, instance, &input);
    assert_eq!(status, AbiStatus::Error);
    assert!(message.contains("holds 6 elements"), "{message}");
    unsafe { (table.destroy)(instance) };
}

#[test]
fn create_reports_invalid_config() {
    let message = create(table(), r#"{"scale": -1}"#).unwrap_err();
    assert!(message.contains("`scale` is -1"), "{message}");
    let message = create(table(), "{not json").unwrap_err();
    assert!(message.contains("not valid JSON"), "{message}");
}

#[test]
fn plugin_error_becomes_error_status() {
    let table = table();
    let instance = create(table, "{}").unwrap();
    let (status, message) = call(table, instance, &json_only(r#"{"mode": "fail"}"#));
    assert_eq!(status, AbiStatus::Error);
    assert_eq!(message, "summer failed on purpose");
    unsafe { (table.destroy)(instance) };
}

#[test]
fn panic_becomes_panic_status() {
    let table = table();
    let instance = create(table, "{}").unwrap();
    let (status, message) = call(table, instance, &json_only(r#"{"mode": "panic"}"#));
    assert_eq!(status, AbiStatus::Panic);
    assert_eq!(message, "summer was asked to panic");

    // The instance still works after a caught panic.
    let (status, text) = call(table, instance, &json_only("{}"));
    assert_eq!(status, AbiStatus::Ok, "{text}");
    unsafe { (table.destroy)(instance) };
}
