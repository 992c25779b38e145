//! The bodies the embedded gateway answers with and the operator client sends, beyond the
//! method params in [`super::operator`]: acknowledgements of node requests, pairing
//! decisions, and the `details` object of an error ([`ErrorDetails`]). Plain serde data,
//! so neither end writes these shapes by hand.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::frames::ErrorShape;
use super::node::InvokeError;
use super::operator::{NodeSummary, PendingDevice};

/// `{}` — the params of the list methods (a closed, empty object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyParams {}

/// `{deviceId}` — params of `device.pair.remove`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceIdParams {
    /// The device to forget.
    pub device_id: String,
}

/// The answer to `node.invoke.result` and `node.invoke.progress`: `{ok: true}`, plus
/// `ignored: true` when the result was for an invoke the gateway no longer waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ack {
    /// Always true.
    pub ok: bool,
    /// The result arrived after its invoke ended (timed out or cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<bool>,
}

impl Ack {
    /// `{ok: true}`.
    pub fn ok() -> Self {
        Self {
            ok: true,
            ignored: None,
        }
    }

    /// `{ok: true, ignored: true}`.
    pub fn ignored() -> Self {
        Self {
            ok: true,
            ignored: Some(true),
        }
    }
}

/// The answer to `node.event`: `{ok, event, handled}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeEventAck {
    /// Always true.
    pub ok: bool,
    /// The event name that was received.
    pub event: String,
    /// Whether the gateway acted on it.
    pub handled: bool,
}

/// The result of `device.pair.approve` / `device.pair.reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicePairDecision {
    /// The decided request.
    pub request_id: String,
    /// `approved` or `rejected`.
    pub decision: String,
    /// The request as it was pending.
    pub device: PendingDevice,
}

/// The result of `node.pair.approve` / `node.pair.reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePairDecision {
    /// The decided request.
    pub request_id: String,
    /// The node whose command surface it was.
    pub node_id: String,
    /// `approved` or `rejected`.
    pub decision: String,
    /// The commands the request covered.
    #[serde(default)]
    pub commands: Option<Vec<String>>,
}

/// The result of `device.pair.remove`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRemoved {
    /// The removed device.
    pub device_id: String,
    /// When, in ms.
    pub removed_at_ms: u64,
}

/// The result of `node.describe`: the node's summary plus the gateway clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeDescribeResult {
    /// The node.
    #[serde(flatten)]
    pub node: NodeSummary,
    /// Gateway clock in ms.
    pub ts: u64,
}

/// The `details` object of an [`ErrorShape`]. Every field is optional; each error carries
/// the ones spec §5.3, §7.2, §8 and §13 list for it, and [`ErrorShape::detail_code`]
/// reads `code` back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// The precise reason (`detail_codes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A short machine reason (`device-signature`, `not-paired`, `not-allowed` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Credential failures: which check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_reason: Option<String>,
    /// Credential failures: whether a stored device token could get in instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_retry_with_device_token: Option<bool>,
    /// Credential failures: what the client should do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended_next_step: Option<String>,
    /// Pairing: the request to approve (or the rejected one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Pairing: what an operator should do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation_hint: Option<String>,
    /// Pairing: the device in question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Pairing: the role asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_role: Option<String>,
    /// Protocol mismatch: the client's range and what the gateway speaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_min_protocol: Option<u32>,
    /// Protocol mismatch: the client's highest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_max_protocol: Option<u32>,
    /// Protocol mismatch: the gateway's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_protocol: Option<u32>,
    /// Protocol mismatch: the oldest version a probe may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_probe_protocol: Option<u32>,
    /// Scope failures: the missing scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_scope: Option<String>,
    /// Scope failures: the scopes that would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scopes: Option<Vec<String>>,
    /// `node.invoke` refusals: the command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `node.invoke` failures: the node's own error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_error: Option<InvokeError>,
    /// `node.invoke` failures: whether the node received the command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_command_dispatched: Option<bool>,
}

impl ErrorDetails {
    /// Details with just `code`.
    pub fn code(code: &str) -> Self {
        Self {
            code: Some(code.to_string()),
            ..Self::default()
        }
    }
}

impl ErrorShape {
    /// The same error with typed `details`.
    pub fn with(self, details: ErrorDetails) -> Self {
        // Plain data with string keys: serialising cannot fail.
        self.with_details(serde_json::to_value(details).unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_details_omit_absent_fields_and_read_back() {
        let e = ErrorShape::new("NOT_PAIRED", "pairing required").with(ErrorDetails {
            request_id: Some("r-1".into()),
            ..ErrorDetails::code("PAIRING_REQUIRED")
        });
        assert_eq!(
            e.details,
            Some(json!({"code": "PAIRING_REQUIRED", "requestId": "r-1"}))
        );
        assert_eq!(e.detail_code(), Some("PAIRING_REQUIRED"));
        assert_eq!(e.detail_str("requestId"), Some("r-1"));
    }

    #[test]
    fn acks_and_describe_have_the_wire_shape() {
        assert_eq!(
            serde_json::to_value(Ack::ok()).unwrap(),
            json!({"ok": true})
        );
        assert_eq!(
            serde_json::to_value(Ack::ignored()).unwrap(),
            json!({"ok": true, "ignored": true})
        );
        let d = NodeDescribeResult {
            node: NodeSummary {
                node_id: "n".into(),
                ..Default::default()
            },
            ts: 5,
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(
            (v["nodeId"].as_str(), v["ts"].as_u64()),
            (Some("n"), Some(5))
        );
        assert_eq!(serde_json::from_value::<NodeDescribeResult>(v).unwrap(), d);
        assert_eq!(serde_json::to_value(EmptyParams {}).unwrap(), json!({}));
    }
}
