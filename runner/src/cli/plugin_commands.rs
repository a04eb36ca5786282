//! `assay plugins list` and `assay plugins check`.

use std::path::Path;

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::plugins::{builtin_plugins, identify};
use crate::spec::PluginSection;
use crate::stage::Registry;

const SECTIONS: [PluginSection; 4] =
    [PluginSection::Tools, PluginSection::Rewards, PluginSection::Metrics, PluginSection::Datasets];

/// Prints the built-in plugins and stage kinds, and the plugins a spec declares after
/// applying `overrides`.
pub fn list(spec: Option<&Path>, overrides: &[String]) -> i32 {
    println!("{:<10} {:<10} {:<22} {:<16} description", "kind", "section", "name", "version");
    for (section, name) in builtin_plugins() {
        println!("{:<10} {:<10} {:<22} {:<16}", "builtin", section, name, env!("CARGO_PKG_VERSION"));
    }
    let registry = Registry::builtin();
    for kind in registry.kinds() {
        let description = registry.get(kind).map(|kind| kind.description()).unwrap_or_default();
        println!("{:<10} {:<10} {:<22} {:<16} {}", "builtin", "stages", kind, env!("CARGO_PKG_VERSION"), description);
    }

    let Some(path) = spec else { return EXIT_OK };
    let loaded = match crate::spec::load(path, overrides, &registry) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprint!("{}", crate::spec::render_diagnostics(&diagnostics));
            return EXIT_INVALID;
        }
    };
    let mut status = EXIT_OK;
    for section in SECTIONS {
        for name in loaded.spec.plugins.section(section).keys() {
            match identify(&loaded.spec, section, name) {
                Ok(identity) => println!(
                    "{:<10} {:<10} {:<22} {:<16} sha256 {}",
                    identity.kind,
                    identity.section,
                    identity.name,
                    identity.version,
                    if identity.sha256.is_empty() { "-" } else { &identity.sha256 }
                ),
                Err(error) => {
                    eprintln!("error: {error:#}");
                    status = EXIT_FAILED;
                }
            }
        }
    }
    status
}

/// Loads one plugin file, validates it and prints its description and schema.
pub fn check(path: &Path) -> i32 {
    if !path.exists() {
        eprintln!("error: plugin file {} not found", path.display());
        return EXIT_INVALID;
    }
    match assay_plugin_host::describe_file(path) {
        Ok(info) => {
            println!("{}", serde_json::to_string_pretty(&info).expect("plugin info is plain JSON"));
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            EXIT_FAILED
        }
    }
}
