//! What a node receives and sends after hello-ok (spec §9, §10): invoke requests, results,
//! progress and cancel; `node.event`; `tick`; `shutdown`; `node.pair.resolved`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `node.invoke.request` event payload, normalised.
///
/// Gateways send the params as JSON text in `paramsJSON`; older ones send `null` and some
/// peers send a `params` object. All three end up in [`NodeInvokeRequest::params_json`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeRequest {
    /// Invoke id; echoed in the result.
    pub id: String,
    /// The node this is for; echoed in the result.
    pub node_id: String,
    /// Command name, e.g. `system.which`.
    pub command: String,
    /// The params as JSON text, if any.
    #[serde(rename = "paramsJSON", skip_serializing_if = "Option::is_none")]
    pub params_json: Option<String>,
    /// Invoke-level deadline in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The operator's idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInvokeRequest {
    id: String,
    node_id: String,
    command: String,
    #[serde(default, rename = "paramsJSON")]
    params_json: Option<Value>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

impl<'de> Deserialize<'de> for NodeInvokeRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawInvokeRequest::deserialize(d)?;
        let params_json = match (raw.params_json, raw.params) {
            (Some(Value::String(s)), _) => Some(s),
            (Some(Value::Null) | None, Some(Value::Null) | None) => None,
            (Some(Value::Null) | None, Some(obj)) => Some(obj.to_string()),
            (Some(other), _) => {
                return Err(serde::de::Error::custom(format!(
                    "paramsJSON must be a string, got {}",
                    json_kind(&other)
                )));
            }
        };
        Ok(NodeInvokeRequest {
            id: raw.id,
            node_id: raw.node_id,
            command: raw.command,
            params_json,
            timeout_ms: raw.timeout_ms,
            idempotency_key: raw.idempotency_key,
        })
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `node.invoke.result` request params (closed object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeInvokeResult {
    /// The invoke id.
    pub id: String,
    /// The node id from the request.
    pub node_id: String,
    /// Whether the command succeeded.
    pub ok: bool,
    /// The result as a JSON value (the node prefers `payloadJSON`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// The result as JSON text.
    #[serde(
        default,
        rename = "payloadJSON",
        skip_serializing_if = "Option::is_none"
    )]
    pub payload_json: Option<String>,
    /// The failure when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<InvokeError>,
}

/// `node.invoke.result.error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvokeError {
    /// `UNAVAILABLE`, `INVALID_REQUEST`, `TIMEOUT` …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human text, often `TOKEN: detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Machine details (permission descriptors and the like).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// `node.invoke.progress` request params: one output chunk (≤ 16 KiB); empty = liveness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeInvokeProgress {
    /// The invoke id.
    pub invoke_id: String,
    /// The node id.
    pub node_id: String,
    /// 0-based chunk number.
    pub seq: u64,
    /// UTF-8 text.
    pub chunk: String,
}

/// `node.invoke.cancel` event payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeCancel {
    /// The invoke to stop.
    pub invoke_id: String,
    /// The node id.
    #[serde(default)]
    pub node_id: Option<String>,
}

/// `node.event` request params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeEventParams {
    /// Event name: `exec.finished`, `exec.denied`, `node.host.stats` …
    pub event: String,
    /// Body as a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Body as JSON text (preferred by the gateway when present).
    #[serde(
        default,
        rename = "payloadJSON",
        skip_serializing_if = "Option::is_none"
    )]
    pub payload_json: Option<String>,
}

/// `node.pluginTools.update` params (closed `{tools}`): the node's whole catalog of agent
/// tools, each descriptor a closed object the gateway validates (parity §2.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePluginToolsUpdate {
    /// The descriptors (`pluginId`, `name`, `description`, `parameters?`, `command?`, `mcp?`).
    pub tools: Vec<Value>,
}

/// `tick` event payload (closed `{ts}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickEvent {
    /// Gateway clock in ms.
    pub ts: u64,
}

/// `shutdown` event payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShutdownEvent {
    /// Why the gateway is stopping (empty when it did not say).
    #[serde(default)]
    pub reason: String,
    /// When it expects to be back, if it knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_expected_ms: Option<u64>,
}

/// `node.pair.resolved` / `device.pair.resolved` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairResolved {
    /// The request that was decided.
    pub request_id: String,
    /// Node id (node pairing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// Device id (device pairing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// `approved`, `rejected` or `expired`.
    pub decision: String,
    /// When, in ms.
    pub ts: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<NodeInvokeRequest, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn invoke_request_accepts_every_params_form() {
        let base = json!({"id":"1","nodeId":"n","command":"system.which"});
        let mut with_text = base.clone();
        with_text["paramsJSON"] = json!("{\"bins\":[\"sh\"]}");
        assert_eq!(
            parse(with_text).unwrap().params_json.as_deref(),
            Some("{\"bins\":[\"sh\"]}")
        );
        let mut with_null = base.clone();
        with_null["paramsJSON"] = Value::Null;
        assert_eq!(parse(with_null).unwrap().params_json, None);
        let mut with_object = base.clone();
        with_object["params"] = json!({"bins": ["sh"]});
        assert_eq!(
            parse(with_object).unwrap().params_json.as_deref(),
            Some("{\"bins\":[\"sh\"]}")
        );
        assert_eq!(parse(base).unwrap().params_json, None);
    }

    #[test]
    fn invoke_request_rejects_non_string_params_json_and_missing_ids() {
        let v = json!({"id":"1","nodeId":"n","command":"x","paramsJSON":5});
        assert!(parse(v).unwrap_err().to_string().contains("paramsJSON"));
        assert!(parse(json!({"id":"1","command":"x"})).is_err());
    }

    #[test]
    fn invoke_result_serialises_payload_json_name() {
        let r = NodeInvokeResult {
            id: "1".into(),
            node_id: "n".into(),
            ok: true,
            payload: None,
            payload_json: Some("{}".into()),
            error: None,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"id":"1","nodeId":"n","ok":true,"payloadJSON":"{}"})
        );
    }
}
