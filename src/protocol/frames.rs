//! The three envelopes (spec §3): a request (`req`), its response (`res`) and an event
//! (`event`), plus the error shape carried by a failed response.
//!
//! [`Frame::parse`] is lenient (what a node uses on a gateway's frames);
//! [`Frame::parse_strict`] rejects unknown envelope keys and empty ids, as the real
//! Gateway does with a client's frames.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One WebSocket text frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Frame {
    /// A request; answered by exactly one [`ResponseFrame`] with the same id.
    #[serde(rename = "req")]
    Req(RequestFrame),
    /// The answer to a request.
    #[serde(rename = "res")]
    Res(ResponseFrame),
    /// A one-way message (broadcast or targeted).
    #[serde(rename = "event")]
    Event(EventFrame),
}

/// `{type:"req", id, method, params?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestFrame {
    /// Caller-chosen id, echoed by the response.
    pub id: String,
    /// Method name, e.g. `connect`, `node.invoke.result`.
    pub method: String,
    /// Method parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// `{type:"res", id, ok, payload?, error?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseFrame {
    /// The id of the request this answers.
    pub id: String,
    /// Whether the request succeeded.
    pub ok: bool,
    /// The result when `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// The failure when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorShape>,
}

/// `{type:"event", event, payload?, seq?, stateVersion?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFrame {
    /// Event name, e.g. `tick`, `node.invoke.request`.
    pub event: String,
    /// Event body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Per-connection broadcast sequence; absent on targeted events. Gaps are tolerated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Presence/health versions on state events; ignored by nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<Value>,
}

/// The error of a failed response: `{code, message, details?, retryable?, retryAfterMs?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorShape {
    /// Coarse class: `INVALID_REQUEST`, `NOT_PAIRED`, `UNAVAILABLE`, … (see `error_codes`).
    pub code: String,
    /// Human text; never branched on.
    pub message: String,
    /// Machine details; `details.code` is the precise reason (see `detail_codes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Whether retrying the same request may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// How long to wait before a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorShape {
    /// An error with a code and a message and nothing else.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            details: None,
            retryable: None,
            retry_after_ms: None,
        }
    }

    /// The same error with `details` set.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `details.code`, the precise reason, when present.
    pub fn detail_code(&self) -> Option<&str> {
        self.details.as_ref()?.get("code")?.as_str()
    }

    /// A string field of `details`, when present.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.details.as_ref()?.get(key)?.as_str()
    }
}

impl std::fmt::Display for ErrorShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.detail_code() {
            Some(detail) => write!(f, "{} ({}): {}", self.code, detail, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

/// Why a frame could not be parsed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON at all.
    #[error("frame is not valid JSON: {0}")]
    Json(String),
    /// JSON, but not an object with a known `type`.
    #[error("frame is not a protocol frame: {0}")]
    Shape(String),
    /// A key the closed envelope does not allow.
    #[error("unexpected property '{0}' in {1} frame")]
    UnknownKey(String, &'static str),
    /// A required string was empty.
    #[error("{0} must be a non-empty string")]
    Empty(&'static str),
}

const REQ_KEYS: &[&str] = &["type", "id", "method", "params"];
const RES_KEYS: &[&str] = &["type", "id", "ok", "payload", "error"];
const EVENT_KEYS: &[&str] = &["type", "event", "payload", "seq", "stateVersion"];

impl Frame {
    /// Parses a frame, tolerating unknown keys (node side).
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        serde_json::from_str(text).map_err(|e| classify(text, e))
    }

    /// Parses a frame and rejects unknown envelope keys and empty ids (gateway side).
    pub fn parse_strict(text: &str) -> Result<Frame, FrameError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))?;
        let Value::Object(map) = &value else {
            return Err(FrameError::Shape("not a JSON object".into()));
        };
        let (allowed, kind): (&[&str], &'static str) = match map.get("type").and_then(Value::as_str)
        {
            Some("req") => (REQ_KEYS, "req"),
            Some("res") => (RES_KEYS, "res"),
            Some("event") => (EVENT_KEYS, "event"),
            _ => return Err(FrameError::Shape("missing or unknown \"type\"".into())),
        };
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(FrameError::UnknownKey(key.clone(), kind));
        }
        let frame: Frame =
            serde_json::from_value(value).map_err(|e| FrameError::Shape(e.to_string()))?;
        match &frame {
            Frame::Req(r) if r.id.is_empty() => return Err(FrameError::Empty("id")),
            Frame::Req(r) if r.method.is_empty() => return Err(FrameError::Empty("method")),
            Frame::Res(r) if r.id.is_empty() => return Err(FrameError::Empty("id")),
            Frame::Event(e) if e.event.is_empty() => return Err(FrameError::Empty("event")),
            _ => {}
        }
        Ok(frame)
    }

    /// Serialises the frame as the text of one WebSocket message.
    pub fn to_text(&self) -> String {
        // Serialising these plain data types cannot fail: every map key is a string.
        serde_json::to_string(self).expect("frame serialisation is infallible")
    }

    /// A request frame.
    pub fn request(id: impl Into<String>, method: impl Into<String>, params: Value) -> Frame {
        Frame::Req(RequestFrame {
            id: id.into(),
            method: method.into(),
            params: Some(params),
        })
    }

    /// A successful response.
    pub fn ok(id: impl Into<String>, payload: Value) -> Frame {
        Frame::Res(ResponseFrame {
            id: id.into(),
            ok: true,
            payload: Some(payload),
            error: None,
        })
    }

    /// A failed response.
    pub fn err(id: impl Into<String>, error: ErrorShape) -> Frame {
        Frame::Res(ResponseFrame {
            id: id.into(),
            ok: false,
            payload: None,
            error: Some(error),
        })
    }

    /// An event.
    pub fn event(event: impl Into<String>, payload: Value) -> Frame {
        Frame::Event(EventFrame {
            event: event.into(),
            payload: Some(payload),
            seq: None,
            state_version: None,
        })
    }
}

fn classify(text: &str, e: serde_json::Error) -> FrameError {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        FrameError::Json(e.to_string())
    } else {
        FrameError::Shape(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_round_trips() {
        let f = Frame::request("1", "connect", json!({"a": 1}));
        let text = f.to_text();
        assert_eq!(
            text,
            r#"{"type":"req","id":"1","method":"connect","params":{"a":1}}"#
        );
        assert_eq!(Frame::parse(&text).unwrap(), f);
        assert_eq!(Frame::parse_strict(&text).unwrap(), f);
    }

    #[test]
    fn response_omits_absent_fields() {
        let f = Frame::err("9", ErrorShape::new("UNAVAILABLE", "nope"));
        assert_eq!(
            f.to_text(),
            r#"{"type":"res","id":"9","ok":false,"error":{"code":"UNAVAILABLE","message":"nope"}}"#
        );
    }

    #[test]
    fn lenient_parse_tolerates_unknown_keys() {
        let text = r#"{"type":"event","event":"tick","payload":{"ts":5},"seq":3,"extra":true}"#;
        let Frame::Event(e) = Frame::parse(text).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(e.event, "tick");
        assert_eq!(e.seq, Some(3));
    }

    #[test]
    fn strict_parse_rejects_unknown_keys_and_empty_ids() {
        let text = r#"{"type":"req","id":"1","method":"x","bogus":1}"#;
        assert_eq!(
            Frame::parse_strict(text),
            Err(FrameError::UnknownKey("bogus".into(), "req"))
        );
        let text = r#"{"type":"req","id":"","method":"x"}"#;
        assert_eq!(Frame::parse_strict(text), Err(FrameError::Empty("id")));
    }

    #[test]
    fn garbage_is_classified() {
        assert!(matches!(Frame::parse("not json"), Err(FrameError::Json(_))));
        assert!(matches!(Frame::parse("[1,2]"), Err(FrameError::Shape(_))));
        assert!(matches!(
            Frame::parse(r#"{"type":"weird"}"#),
            Err(FrameError::Shape(_))
        ));
        assert!(matches!(
            Frame::parse_strict(r#"{"type":"res","id":"1"}"#),
            Err(FrameError::Shape(_))
        ));
    }

    #[test]
    fn error_detail_code_is_read() {
        let e = ErrorShape::new("NOT_PAIRED", "pairing required")
            .with_details(json!({"code": "PAIRING_REQUIRED", "requestId": "r-1"}));
        assert_eq!(e.detail_code(), Some("PAIRING_REQUIRED"));
        assert_eq!(e.detail_str("requestId"), Some("r-1"));
        assert_eq!(
            e.to_string(),
            "NOT_PAIRED (PAIRING_REQUIRED): pairing required"
        );
    }
}
