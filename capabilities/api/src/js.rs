//! How the reference node host, which is JavaScript, reads loosely typed params. The
//! commands whose answers must match it (`system.run`, `system.run.prepare`,
//! `system.which`) decode their params with these rather than with a strict schema: the
//! reference turns `[1, null]` into the argv `["1", "null"]`, ignores a `cwd` that is not
//! a string, and so on, and an agent that worked against it must get the same answers here.

use serde_json::Value;

use crate::CapabilityError;

/// The reference's `decodeParams`: params text that is absent or empty, or is not JSON, is
/// refused with its messages (an `Error`'s text, hence the `Error: ` prefix).
pub fn decode_params_json(params_json: Option<&str>) -> Result<Value, CapabilityError> {
    let raw = params_json.unwrap_or("");
    if raw.is_empty() {
        return Err(CapabilityError::invalid_request(
            "Error: INVALID_REQUEST: paramsJSON required",
        ));
    }
    serde_json::from_str(raw).map_err(|_| {
        CapabilityError::invalid_request("Error: INVALID_REQUEST: paramsJSON malformed JSON")
    })
}

/// Params text decoded as the reference decodes it ([`decode_params_json`]), then read by
/// `P`'s `Deserialize`, which for these commands is lenient and refuses no JSON value.
pub fn decode_params<P: serde::de::DeserializeOwned>(
    params_json: Option<&str>,
) -> Result<P, CapabilityError> {
    let value = decode_params_json(params_json)?;
    serde_json::from_value(value).map_err(|e| CapabilityError::invalid_request(e.to_string()))
}

/// `String(value)`.
pub fn to_string(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_to_string(n),
        Value::String(s) => s.clone(),
        // Array.prototype.join: null items become empty strings.
        Value::Array(items) => items
            .iter()
            .map(|i| {
                if i.is_null() {
                    String::new()
                } else {
                    to_string(i)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

fn number_to_string(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    if f.abs() >= 1e21 || f.abs() < 1e-6 {
        // JavaScript writes exponents with a sign: 1e+300, 1e-7.
        let text = format!("{f:e}");
        return match text.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => text,
        };
    }
    f.to_string()
}

/// The reference's `normalizeOptionalString`: a string, trimmed, when not empty.
pub fn optional_string(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `Object.entries(value)`: an object's members, an array's items and a string's
/// characters under their indexes; nothing for other values.
pub fn entries(value: &Value) -> Vec<(String, Value)> {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        Value::String(s) => s
            .chars()
            .enumerate()
            .map(|(i, c)| (i.to_string(), Value::String(c.to_string())))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_coercion_is_javascripts() {
        let cases = [
            (json!(1), "1"),
            (json!(-7), "-7"),
            (json!(1.5), "1.5"),
            (json!(2.0), "2"),
            (json!(1e300), "1e+300"),
            (json!(null), "null"),
            (json!(true), "true"),
            (json!("x"), "x"),
            (json!([1, null, "a"]), "1,,a"),
            (json!({"a": 1}), "[object Object]"),
        ];
        for (value, want) in cases {
            assert_eq!(to_string(&value), want, "{value}");
        }
    }

    #[test]
    fn params_text_is_required_and_must_be_json() {
        for absent in [None, Some("")] {
            let e = decode_params_json(absent).unwrap_err();
            assert_eq!(e.message, "Error: INVALID_REQUEST: paramsJSON required");
        }
        let e = decode_params_json(Some("{nope")).unwrap_err();
        assert_eq!(
            e.message,
            "Error: INVALID_REQUEST: paramsJSON malformed JSON"
        );
        assert_eq!(decode_params_json(Some("null")).unwrap(), Value::Null);
    }

    #[test]
    fn entries_follow_object_entries() {
        assert_eq!(entries(&json!({"A": "1"})), vec![("A".into(), json!("1"))]);
        assert_eq!(entries(&json!(["x"])), vec![("0".into(), json!("x"))]);
        assert_eq!(entries(&json!("ab")).len(), 2);
        assert!(entries(&json!(5)).is_empty());
        assert_eq!(optional_string(Some(&json!("  a "))), Some("a".into()));
        assert_eq!(optional_string(Some(&json!("  "))), None);
        assert_eq!(optional_string(Some(&json!(5))), None);
    }
}
