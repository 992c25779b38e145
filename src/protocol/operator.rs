//! Operator methods (spec §13) that the embedded gateway serves and the operator CLI calls:
//! device pairing, node command-surface pairing, the node registry and `node.invoke`.
//! Params are closed objects (the gateway refuses unknown keys); results are read leniently.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{requestId}` — params of the approve/reject methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestIdParams {
    /// The pending request to decide.
    pub request_id: String,
}

/// `{nodeId}` — params of `node.describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeIdParams {
    /// The node (device id).
    pub node_id: String,
}

/// `node.invoke` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeInvokeParams {
    /// Target node (hex device id).
    pub node_id: String,
    /// Command to run.
    pub command: String,
    /// Command params (forwarded to the node as `paramsJSON`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// Budget in ms (default 30 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Required by the gateway; forwarded to the node.
    pub idempotency_key: String,
    /// Agent session, when an agent is the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
}

/// `node.invoke` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeResponse {
    /// Always true on a success response.
    pub ok: bool,
    /// The node that answered.
    pub node_id: String,
    /// The command it ran.
    pub command: String,
    /// The node's result, parsed.
    #[serde(default)]
    pub payload: Value,
    /// The node's result as text, or null.
    #[serde(default, rename = "payloadJSON")]
    pub payload_json: Option<String>,
}

/// One entry of `node.list` (and the body of `node.describe`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSummary {
    /// Routing id (the device id).
    pub node_id: String,
    /// Human name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `linux`, `macos` …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Node software version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `Linux`, `Mac` …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    /// Hardware model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    /// Peer address as the gateway saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    /// Declared capability groups.
    pub caps: Vec<String>,
    /// Effective (approved and declared) commands.
    pub commands: Vec<String>,
    /// The node's agent tools as the gateway normalised them (parity §2.5); on live rows
    /// only, absent when the node is offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_plugin_tools: Option<Vec<Value>>,
    /// The node's PATH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_env: Option<String>,
    /// Permission grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, bool>>,
    /// When the current session started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_at_ms: Option<u64>,
    /// Whether the device is paired.
    pub paired: bool,
    /// Whether a session is open now.
    pub connected: bool,
}

/// `node.list` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeListResult {
    /// Gateway clock.
    pub ts: u64,
    /// Connected nodes first.
    pub nodes: Vec<NodeSummary>,
}

/// A pending device pairing request (also the `device.pair.requested` payload).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PendingDevice {
    /// Request id to approve or reject.
    pub request_id: String,
    /// The device asking.
    pub device_id: String,
    /// Its public key (base64url).
    pub public_key: String,
    /// Its display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Its platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Its device family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    /// Its client id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Its client mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    /// The role requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Scopes requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Peer address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    /// Whether it will be approved without an operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    /// When it was (last) requested, ms.
    pub ts: u64,
}

/// A paired device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PairedDevice {
    /// Device id.
    pub device_id: String,
    /// Public key (base64url).
    pub public_key: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Device family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    /// Approved roles.
    pub roles: Vec<String>,
    /// Approved scopes.
    pub scopes: Vec<String>,
    /// When approved, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_at_ms: Option<u64>,
}

/// `device.pair.list` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DevicePairList {
    /// Waiting for a decision.
    pub pending: Vec<PendingDevice>,
    /// Already approved.
    pub paired: Vec<PairedDevice>,
}

/// A pending node command-surface request (also the `node.pair.requested` payload).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PendingNode {
    /// Request id to approve or reject.
    pub request_id: String,
    /// The node asking.
    pub node_id: String,
    /// Its display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Its platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its device family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    /// Declared caps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    /// Declared commands awaiting approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    /// Peer address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    /// Whether approval is a formality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    /// When requested, ms.
    pub ts: u64,
}

/// A node with an approved command surface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PairedNode {
    /// Node id.
    pub node_id: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Approved commands.
    pub commands: Vec<String>,
    /// When approved, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_at_ms: Option<u64>,
}

/// `node.pair.list` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodePairList {
    /// Waiting for a decision.
    pub pending: Vec<PendingNode>,
    /// Approved surfaces.
    pub paired: Vec<PairedNode>,
}
