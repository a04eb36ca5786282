//! Typing of plain scalars by the YAML 1.2 core schema.
//!
//! YAML 1.1 readings (`yes`/`no`/`on`/`off` as bools, `0123` as octal, `1_000` as an
//! integer, sexagesimal `1:30`) are deliberately absent.

/// The core-schema type of a plain scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    String,
}

/// True for the core-schema null forms: empty, `~`, `null`, `Null`, `NULL`.
pub fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// Types a plain scalar: null, bool, int (decimal, `0o` octal, `0x` hex), float, or
/// else string.
pub fn resolve(text: &str) -> Resolved {
    if is_null(text) {
        return Resolved::Null;
    }
    match text {
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        _ => {}
    }
    if let Some(value) = parse_int(text) {
        return Resolved::Int(value);
    }
    if let Some(value) = parse_float(text) {
        return Resolved::Float(value);
    }
    Resolved::String
}

/// Parses an integer in core-schema syntax: `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`.
pub fn parse_int(text: &str) -> Option<i128> {
    if let Some(octal) = text.strip_prefix("0o") {
        return nonempty_digits(octal, 8).then(|| i128::from_str_radix(octal, 8).ok()).flatten();
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return nonempty_digits(hex, 16).then(|| i128::from_str_radix(hex, 16).ok()).flatten();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !nonempty_digits(digits, 10) {
        return None;
    }
    text.parse::<i128>().ok()
}

fn nonempty_digits(text: &str, radix: u32) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_digit(radix))
}

/// Parses a float in core-schema syntax:
/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf` or `.nan` (any
/// of the three capitalisations). Integers match too, so `parse_int` goes first.
pub fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    if !is_decimal_number(unsigned) {
        return None;
    }
    text.parse::<f64>().ok()
}

fn is_decimal_number(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let whole_ok = whole.chars().all(|c| c.is_ascii_digit());
    let fraction_ok = fraction.is_none_or(|f| f.chars().all(|c| c.is_ascii_digit()));
    let has_digits = !whole.is_empty() || fraction.is_some_and(|f| !f.is_empty());
    let exponent_ok = exponent.is_none_or(|e| nonempty_digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    whole_ok && fraction_ok && has_digits && exponent_ok
}

/// True when a plain scalar reads as a float that is not also an integer, such as
/// `3.10` or `1e-5`. A string field rejects these because the author may have meant a
/// number, and YAML tools would turn `3.10` into 3.1.
pub fn is_float_not_int(text: &str) -> bool {
    parse_int(text).is_none() && parse_float(text).is_some()
}

/// Formats a float so that it reads back as the same float (and as a float, not an int).
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        return ".nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { ".inf".to_string() } else { "-.inf".to_string() };
    }
    let text = format!("{value:?}");
    if text.contains(['.', 'e', 'E']) {
        text
    } else {
        format!("{text}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scientific_notation_is_float() {
        assert_eq!(resolve("1e-5"), Resolved::Float(1e-5));
        assert_eq!(resolve("3e-5"), Resolved::Float(3e-5));
        assert_eq!(resolve("1.0e-4"), Resolved::Float(1.0e-4));
        assert_eq!(resolve("-2E+3"), Resolved::Float(-2000.0));
    }

    #[test]
    fn yaml_1_1_forms_are_strings() {
        for text in ["no", "on", "yes", "off", "y", "1_1_1", "1:30", "0b101"] {
            assert_eq!(resolve(text), Resolved::String, "{text}");
        }
    }

    #[test]
    fn leading_zero_is_decimal_int() {
        assert_eq!(resolve("0123"), Resolved::Int(123));
    }

    #[test]
    fn core_schema_ints_and_specials() {
        assert_eq!(resolve("0o17"), Resolved::Int(15));
        assert_eq!(resolve("0x1F"), Resolved::Int(31));
        assert_eq!(resolve("-7"), Resolved::Int(-7));
        assert_eq!(resolve(".inf"), Resolved::Float(f64::INFINITY));
        assert_eq!(resolve("-.inf"), Resolved::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve(".nan"), Resolved::Float(v) if v.is_nan()));
        assert_eq!(resolve("~"), Resolved::Null);
        assert_eq!(resolve("True"), Resolved::Bool(true));
    }

    #[test]
    fn malformed_numbers_are_strings() {
        for text in [".", "1e", "e5", "1.2.3", "+", "-", "0x", "0o8", "1e+"] {
            assert_eq!(resolve(text), Resolved::String, "{text}");
        }
    }

    #[test]
    fn float_text_detection() {
        assert!(is_float_not_int("3.10"));
        assert!(is_float_not_int("1e-5"));
        assert!(!is_float_not_int("0123"));
        assert!(!is_float_not_int("no"));
    }

    #[test]
    fn format_float_round_trips() {
        for value in [1e-5, 3.0, 0.1, -2.5e300] {
            assert_eq!(parse_float(&format_float(value)), Some(value));
        }
        assert_eq!(format_float(3.0), "3.0");
    }
}
