//! Hostile guests against the sandbox: every failure is a typed error, and the next call
//! on the same tool works.

use std::sync::OnceLock;
use std::time::Duration;

use assay_plugin_host::guest_build::guest_path;
use assay_plugin_host::{SandboxLimits, ToolCallError, WasmLoadError, WasmTool};

use crate::common::{load_guest, tight_limits};

fn hostile() -> &'static WasmTool {
    static TOOL: OnceLock<WasmTool> = OnceLock::new();
    // A generous deadline: these calls end on their own, and a busy machine must not
    // turn them into timeouts.
    TOOL.get_or_init(|| {
        load_guest(
            "hostile",
            SandboxLimits {
                timeout: Duration::from_secs(60),
                ..tight_limits()
            },
        )
    })
}

fn call(tool: &WasmTool, mode: &str) -> Result<String, ToolCallError> {
    tool.invoke(&format!(r#"{{"mode": "{mode}"}}"#), None).map(|o| o.text)
}

/// The follow-up call every hostile test makes: a trapped or killed call must leave
/// the tool usable.
fn assert_next_call_works(tool: &WasmTool) {
    assert_eq!(call(tool, "ok").unwrap(), "ok");
}

#[test]
fn infinite_loop_is_timed_out() {
    // Fuel high enough that only the wall-clock deadline can stop the loop.
    let tool = load_guest(
        "hostile",
        SandboxLimits {
            fuel: u64::MAX / 2,
            timeout: Duration::from_millis(100),
            ..tight_limits()
        },
    );
    let err = call(&tool, "loop").unwrap_err();
    assert_eq!(err, ToolCallError::TimedOut { timeout_ms: 100 });
    assert_next_call_works(&tool);
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    // A deadline long enough that only fuel can stop the loop.
    let tool = load_guest(
        "hostile",
        SandboxLimits {
            fuel: 50_000_000,
            timeout: Duration::from_secs(600),
            ..tight_limits()
        },
    );
    let err = call(&tool, "loop").unwrap_err();
    assert_eq!(err, ToolCallError::OutOfFuel { fuel: 50_000_000 });
    assert_next_call_works(&tool);
}

#[test]
fn memory_bomb_stops_at_cap() {
    // A long deadline so that only the memory cap can stop the guest, even on a busy
    // machine where filling 64 MiB is slow.
    let tool = load_guest(
        "hostile",
        SandboxLimits {
            timeout: Duration::from_secs(600),
            ..tight_limits()
        },
    );
    let err = call(&tool, "memory_bomb").unwrap_err();
    assert_eq!(err, ToolCallError::OutOfMemory { limit_bytes: 64 << 20 });
    assert_next_call_works(&tool);
}

#[test]
fn reading_etc_passwd_fails() {
    let tool = hostile();
    let err = call(tool, "read_file").unwrap_err();
    let ToolCallError::ToolError(message) = &err else {
        panic!("expected a tool error, got {err:?}");
    };
    assert!(message.starts_with("read /etc/passwd failed"), "{message}");
    assert!(!message.contains("root:"), "{message}");
    assert_next_call_works(tool);
}

#[test]
fn opening_socket_fails() {
    let tool = hostile();
    let err = call(tool, "socket").unwrap_err();
    let ToolCallError::ToolError(message) = &err else {
        panic!("expected a tool error, got {err:?}");
    };
    assert!(message.contains("connect failed"), "{message}");
    assert!(message.contains("bind failed"), "{message}");
    assert_next_call_works(tool);
}

#[test]
fn granted_folder_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    std::fs::write(&input, "granted contents").unwrap();
    let tool = load_guest(
        "hostile",
        SandboxLimits {
            read_only_dir: Some(dir.path().to_path_buf()),
            timeout: Duration::from_secs(60),
            ..tight_limits()
        },
    );

    assert_eq!(call(&tool, "read_data").unwrap(), "granted contents");

    // Each attempt to change the folder fails inside the guest and leaves the host
    // folder as it was.
    for (mode, prefix) in [
        ("create_data", "create /data/created.txt failed"),
        ("write_data", "write /data/input.txt failed"),
        ("delete_data", "delete /data/input.txt failed"),
        ("mkdir_data", "mkdir /data/made failed"),
    ] {
        let err = call(&tool, mode).unwrap_err();
        let ToolCallError::ToolError(message) = &err else {
            panic!("{mode}: expected a tool error, got {err:?}");
        };
        assert!(message.starts_with(prefix), "{mode}: {message}");
    }
    assert!(!dir.path().join("created.txt").exists(), "the guest created a file");
    assert!(!dir.path().join("made").exists(), "the guest created a folder");
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "granted contents");

    // The grant opens nothing outside the folder.
    for (mode, prefix) in [
        ("read_file", "read /etc/passwd failed"),
        ("escape_data", "read /data/../../etc/passwd failed"),
    ] {
        let err = call(&tool, mode).unwrap_err();
        let ToolCallError::ToolError(message) = &err else {
            panic!("{mode}: expected a tool error, got {err:?}");
        };
        assert!(message.starts_with(prefix), "{mode}: {message}");
        assert!(!message.contains("root:"), "{mode}: {message}");
    }
    assert_next_call_works(&tool);
}

#[test]
fn no_folder_without_grant() {
    let err = call(hostile(), "read_data").unwrap_err();
    let ToolCallError::ToolError(message) = &err else {
        panic!("expected a tool error, got {err:?}");
    };
    assert!(message.starts_with("read /data/input.txt failed"), "{message}");
}

#[test]
fn each_call_starts_with_fresh_memory() {
    let tool = hostile();
    for _ in 0..3 {
        assert_eq!(call(tool, "count_calls").unwrap(), "earlier calls: 0");
    }
}

#[test]
fn environment_is_empty() {
    assert_eq!(call(hostile(), "env").unwrap(), "env: ");
}

#[test]
fn panic_is_trapped_with_message() {
    let tool = hostile();
    let err = call(tool, "panic").unwrap_err();
    let ToolCallError::Trapped { stderr_tail, .. } = &err else {
        panic!("expected a trap, got {err:?}");
    };
    assert!(stderr_tail.contains("hostile guest panicked on purpose"), "{stderr_tail}");
    assert_next_call_works(tool);
}

#[test]
fn wrong_wit_version_is_rejected() {
    let path = guest_path("wrong_version").unwrap();
    let err = WasmTool::load(&path, SandboxLimits::default()).unwrap_err();
    let WasmLoadError::WrongInterfaceVersion { found, expected, .. } = &err else {
        panic!("expected a version error, got {err:?}");
    };
    assert_eq!(found, "assay:tool/guest@2.0.0");
    assert_eq!(expected, "assay:tool/guest@1.0.0");
    // The hostile tool, loaded separately, is unaffected.
    assert_next_call_works(hostile());
}

#[test]
fn core_module_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core.wasm");
    // The smallest valid core module: magic number and version 1.
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    let err = WasmTool::load(&path, SandboxLimits::default()).unwrap_err();
    assert!(matches!(err, WasmLoadError::NotAComponent { .. }), "{err:?}");
}

#[test]
fn invalid_limits_are_rejected() {
    let path = guest_path("hostile").unwrap();
    let limits = SandboxLimits {
        max_concurrent_calls: 0,
        ..SandboxLimits::default()
    };
    let err = WasmTool::load(&path, limits).unwrap_err();
    assert!(err.to_string().contains("`max_concurrent_calls` is 0"), "{err}");
}
