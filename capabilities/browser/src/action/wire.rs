//! The `/act` payloads as they arrive: one struct per kind with every field optional and
//! read leniently like the reference (numbers as decimal strings, booleans as `"true"`,
//! refs as numbers), so serde itself never refuses a payload. Owns the wire field names;
//! the checks on the values are in `checks.rs`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A number, or a decimal string; anything else (or non-finite) is absent.
fn num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite()))
}

/// A string, or a number as text (refs may be numbers); anything else is absent.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A string; anything else is absent.
fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// `true`, `"true"|"1"|"yes"`, a non-zero number; anything else is false.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(truthy(&Value::deserialize(d)?))
}

/// As [`flag`], for fields whose absence means something else.
fn some_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Some(truthy(&Value::deserialize(d)?)))
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.as_str(), "true" | "1" | "yes"),
        Value::Number(n) => n.as_f64() != Some(0.0),
        _ => false,
    }
}

/// A list; anything else is absent.
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Value>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => Some(a),
        _ => None,
    })
}

/// The strings of a list (others skipped); anything else is an empty list.
fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => a
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Click {
    #[serde(rename = "ref", default, deserialize_with = "text")]
    pub(super) r#ref: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(super) selector: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub(super) double_click: bool,
    #[serde(default)]
    pub(super) button: Option<Value>,
    #[serde(default, deserialize_with = "strings")]
    pub(super) modifiers: Vec<String>,
    #[serde(default, deserialize_with = "num")]
    pub(super) delay_ms: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ClickCoords {
    #[serde(default, deserialize_with = "num")]
    pub(super) x: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) y: Option<f64>,
    #[serde(default, deserialize_with = "flag")]
    pub(super) double_click: bool,
    #[serde(default)]
    pub(super) button: Option<Value>,
    #[serde(default, deserialize_with = "num")]
    pub(super) delay_ms: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DragCoords {
    #[serde(default, deserialize_with = "num")]
    pub(super) x: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) y: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) end_x: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) end_y: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Type {
    #[serde(rename = "ref", default, deserialize_with = "text")]
    pub(super) r#ref: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(super) selector: Option<String>,
    #[serde(default, deserialize_with = "string")]
    pub(super) text: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub(super) submit: bool,
    #[serde(default, deserialize_with = "flag")]
    pub(super) slowly: bool,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Press {
    #[serde(default, deserialize_with = "string")]
    pub(super) key: Option<String>,
    #[serde(default, deserialize_with = "num")]
    pub(super) delay_ms: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

/// `hover` and `scrollIntoView`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pointed {
    #[serde(rename = "ref", default, deserialize_with = "text")]
    pub(super) r#ref: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(super) selector: Option<String>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Drag {
    #[serde(default, deserialize_with = "text")]
    pub(super) start_ref: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(super) start_selector: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(super) end_ref: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(super) end_selector: Option<String>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Select {
    #[serde(rename = "ref", default, deserialize_with = "text")]
    pub(super) r#ref: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(super) selector: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub(super) values: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Fill {
    #[serde(default, deserialize_with = "list")]
    pub(super) fields: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Resize {
    #[serde(default, deserialize_with = "num")]
    pub(super) width: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) height: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

/// Raw values: any non-null value counts as a given condition.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Wait {
    #[serde(default)]
    pub(super) time_ms: Option<Value>,
    #[serde(default)]
    pub(super) text: Option<Value>,
    #[serde(default)]
    pub(super) text_gone: Option<Value>,
    #[serde(default)]
    pub(super) selector: Option<Value>,
    #[serde(default)]
    pub(super) url: Option<Value>,
    #[serde(default)]
    pub(super) load_state: Option<Value>,
    #[serde(default, rename = "fn")]
    pub(super) function: Option<Value>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Evaluate {
    #[serde(default, rename = "fn", deserialize_with = "string")]
    pub(super) function: Option<String>,
    #[serde(rename = "ref", default, deserialize_with = "text")]
    pub(super) r#ref: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(super) selector: Option<String>,
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Close {
    #[serde(default, deserialize_with = "num")]
    pub(super) timeout_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Batch {
    #[serde(default, deserialize_with = "list")]
    pub(super) actions: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "some_flag")]
    pub(super) stop_on_error: Option<bool>,
}
