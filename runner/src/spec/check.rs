//! Range and reference checks that stage kinds call from `StageRunner::validate`.
//!
//! Each returns `None` when the value is valid, or a diagnostic that names the key
//! (relative to the stage entry, e.g. `generation.temperature`); the loader turns the
//! key into the file:line:column of the value.

use std::fmt::Display;

use super::diagnostic::Diagnostic;
use super::experiment::{Experiment, PluginSection};
use super::suggest;

/// Checks `value > 0`, e.g. a learning rate.
pub fn positive(key: &str, value: f64) -> Option<Diagnostic> {
    (value.is_nan() || value <= 0.0).then(|| {
        Diagnostic::for_key(key, format!("`{key}` must be greater than 0, found {value}"))
    })
}

/// Checks `value >= min`, e.g. a group size of at least 2.
pub fn at_least<T: PartialOrd + Display>(key: &str, value: T, min: T) -> Option<Diagnostic> {
    (value < min).then(|| Diagnostic::for_key(key, format!("`{key}` must be at least {min}, found {value}")))
}

/// Checks `min <= value <= max`.
pub fn in_range<T: PartialOrd + Display>(key: &str, value: T, min: T, max: T) -> Option<Diagnostic> {
    // Written with negation so that NaN fails the check.
    (!(value >= min && value <= max))
        .then(|| Diagnostic::for_key(key, format!("`{key}` must be between {min} and {max}, found {value}")))
}

/// Checks `0 < value < 1`, e.g. a miscoverage level alpha.
pub fn open_unit_interval(key: &str, value: f64) -> Option<Diagnostic> {
    (!(value > 0.0 && value < 1.0))
        .then(|| Diagnostic::for_key(key, format!("`{key}` must be strictly between 0 and 1, found {value}")))
}

/// Checks that the plugin `name` exists in `plugins.<section>`. The diagnostic
/// suggests the nearest defined name.
pub fn plugin(spec: &Experiment, section: PluginSection, key: &str, name: &str) -> Option<Diagnostic> {
    let defined = spec.plugins.section(section);
    if defined.contains_key(name) {
        return None;
    }
    let names: Vec<&str> = defined.keys().map(String::as_str).collect();
    let (message, help) = suggest::unknown_name(&format!("{} plugin", section.key().trim_end_matches('s')), name, &names);
    let help = help.unwrap_or_else(|| format!("define it under `plugins.{}.{name}`", section.key()));
    Some(Diagnostic::for_key(key, message).with_help(help))
}

/// Checks that the dataset `name` exists under `data`.
pub fn dataset(spec: &Experiment, key: &str, name: &str) -> Option<Diagnostic> {
    named(spec.data.keys(), "dataset", "data", key, name)
}

/// Checks that the model `name` exists under `models`.
pub fn model(spec: &Experiment, key: &str, name: &str) -> Option<Diagnostic> {
    named(spec.models.keys(), "model", "models", key, name)
}

fn named<'a>(defined: impl Iterator<Item = &'a String>, what: &str, section: &str, key: &str, name: &str) -> Option<Diagnostic> {
    let names: Vec<&str> = defined.map(String::as_str).collect();
    if names.contains(&name) {
        return None;
    }
    let (message, help) = suggest::unknown_name(what, name, &names);
    Some(Diagnostic::for_key(key, message).with_help(help.unwrap_or_else(|| format!("define it under `{section}.{name}`"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_rejects_zero_and_nan() {
        assert!(positive("lr", 0.0).is_some());
        assert!(positive("lr", f64::NAN).is_some());
        assert!(positive("lr", 1e-5).is_none());
    }

    #[test]
    fn open_unit_interval_excludes_ends() {
        assert!(open_unit_interval("alpha", 0.0).is_some());
        assert!(open_unit_interval("alpha", 1.0).is_some());
        assert!(open_unit_interval("alpha", 0.1).is_none());
    }

    #[test]
    fn at_least_and_in_range_bounds() {
        assert!(at_least("group_size", 1u32, 2).is_some());
        assert!(at_least("group_size", 2u32, 2).is_none());
        assert!(in_range("temperature", 2.5, 0.0, 2.0).is_some());
        assert!(in_range("temperature", f64::NAN, 0.0, 2.0).is_some());
        assert_eq!(in_range("top_p", 1.0, 0.0, 1.0), None);
    }

    #[test]
    fn diagnostic_names_the_key() {
        let diagnostic = positive("lr", -1.0).unwrap();
        assert_eq!(diagnostic.key.as_deref(), Some("lr"));
        assert_eq!(diagnostic.message, "`lr` must be greater than 0, found -1");
    }
}
