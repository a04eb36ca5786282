//! The ActFER reward cdylib loaded through the native ABI, and the loader's errors.

use assay_plugin_host::guest_build::ensure_native_plugin_built;
use assay_plugin_host::{describe_file, NativeError, NativePlugin, NativeReward, PluginFormat};
use assay_plugin_sdk::{PluginKind, Reward, RewardInput};
use serde_json::json;

fn actfer_library() -> std::path::PathBuf {
    ensure_native_plugin_built("assay-actfer-reward", "assay_actfer_reward")
        .unwrap_or_else(|e| panic!("building the ActFER reward plugin failed: {e}"))
}

#[test]
fn actfer_plugin_loads_with_identity() {
    let path = actfer_library();
    let plugin = NativePlugin::load(&path).unwrap();
    assert_eq!(plugin.kind(), PluginKind::Reward);
    assert_eq!(plugin.name(), "actfer_accuracy");
    assert_eq!(plugin.version(), "0.1.0");
    assert_eq!(plugin.sha256(), assay_plugin_host::sha256_file(&path).unwrap());
    assert_eq!(plugin.sha256().len(), 64);
}

#[test]
fn actfer_reward_scores_through_abi() {
    let plugin = NativePlugin::load(actfer_library()).unwrap();
    let reward = NativeReward::new(
        &plugin,
        &json!({"w_y": 1.0, "w_au": 0.6, "r_wrong": -0.2, "w_format": 0.1}),
    )
    .unwrap();
    let input = |completion: &str| RewardInput {
        prompt: "What is the expression?".to_string(),
        completion: completion.to_string(),
        reference: json!({"emotion": "happiness", "action_units": [6, 12, 25]}),
    };

    // Right emotion, F1 = 2*2/(2+3) = 0.8: 1.0 + 0.6*0.8 + 0.1 = 1.58.
    let right = reward.score(&input("<answer>AUs: AU6, AU12\nEmotion: happiness</answer>")).unwrap();
    assert!((right.reward - 1.58).abs() < 1e-9, "{right:?}");
    // Wrong emotion: -0.2 + 0.5*0.6*0.8 + 0.1 = 0.14.
    let wrong = reward.score(&input("<answer>AUs: AU6, AU12\nEmotion: fear</answer>")).unwrap();
    assert!((wrong.reward - 0.14).abs() < 1e-9, "{wrong:?}");
    assert_eq!(wrong.components["emotion_correct"], 0.0);
}

#[test]
fn actfer_bad_config_is_plugin_error() {
    let plugin = NativePlugin::load(actfer_library()).unwrap();
    let err = plugin.create(&json!({"w_au": -1})).unwrap_err();
    assert!(matches!(err, NativeError::Plugin { .. }), "{err:?}");
    assert!(err.to_string().contains("`w_au` is -1"), "{err}");
}

#[test]
fn actfer_bad_reference_is_plugin_error() {
    let plugin = NativePlugin::load(actfer_library()).unwrap();
    let mut instance = plugin.create(&json!({})).unwrap();
    let err = instance
        .call(&json!({"completion": "x", "reference": {"emotion": "joy", "action_units": []}}), &[], &[])
        .unwrap_err();
    assert!(err.to_string().contains("`joy`"), "{err}");
    // The instance still works after an error.
    let ok = instance
        .call(&json!({"completion": "x", "reference": {"emotion": "fear", "action_units": []}}), &[], &[])
        .unwrap();
    assert_eq!(ok["components"]["format"], json!(0.0));
}

#[test]
fn describe_file_reports_native_schema() {
    let info = describe_file(&actfer_library()).unwrap();
    assert_eq!(info.format, PluginFormat::Native);
    assert_eq!(info.kind, "reward");
    assert_eq!(info.name, "actfer_accuracy");
    assert_eq!(info.schema["properties"]["w_au"]["minimum"], json!(0));
}

#[test]
fn missing_file_is_not_found() {
    let err = NativePlugin::load("/nonexistent/libplugin.so").unwrap_err();
    assert!(matches!(err, NativeError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/libplugin.so"), "{err}");
}

#[test]
fn text_file_is_not_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libfake.so");
    std::fs::write(&path, "not a shared library").unwrap();
    let err = NativePlugin::load(&path).unwrap_err();
    assert!(matches!(err, NativeError::NotALibrary { .. }), "{err:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn library_without_entry_is_missing_symbol() {
    // The C math library is present on every glibc system and exports no plugin entry.
    let candidates = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
        "/usr/lib64/libm.so.6",
        "/lib64/libm.so.6",
    ];
    let path = candidates
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.is_file())
        .expect("no libm.so.6 in the usual places");
    let err = NativePlugin::load(path).unwrap_err();
    assert!(matches!(err, NativeError::MissingSymbol { .. }), "{err:?}");
    assert!(err.to_string().contains("assay_plugin_entry"), "{err}");
}
