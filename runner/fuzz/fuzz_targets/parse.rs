//! Feeds arbitrary bytes through the spec parser, the typed deserializer and the YAML
//! writer; any panic is a bug, errors are expected.

#![no_main]

use assay::spec::{from_node, parse_str, to_yaml, Experiment, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let source = Source::Override("fuzz".into());
    if let Ok(node) = parse_str(&text, &source) {
        let _ = from_node::<Experiment>(&node);
        let emitted = to_yaml(&node, true);
        // The writer's output must parse back to the same values.
        let again = parse_str(&emitted, &source).expect("written YAML parses");
        assert_eq!(again.to_json(), node.to_json());
    }
});
