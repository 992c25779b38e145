//! The handshake (spec §4, §6): the gateway's `connect.challenge`, the client's `connect`
//! params (a closed object: unknown keys are refused by the gateway, so we never send any),
//! and the `hello-ok` payload (read leniently: newer gateways add fields).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `connect.challenge` event payload: `{nonce, ts}` (real gateways add `capabilities`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectChallenge {
    /// Opaque nonce the device signature must cover.
    pub nonce: String,
    /// Gateway clock in ms since the epoch.
    pub ts: u64,
}

/// `connect` request params (closed object, spec §4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectParams {
    /// Lowest protocol version the client speaks.
    pub min_protocol: u32,
    /// Highest protocol version the client speaks.
    pub max_protocol: u32,
    /// Who is connecting.
    pub client: ClientInfo,
    /// `node` or `operator` (the gateway defaults to `operator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Operator scopes; nodes send `[]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Capability groups the node claims (`system`, `browser`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    /// Commands the node claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    /// Permission grants (`screenRecording: true`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, bool>>,
    /// The PATH the node runs commands with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_env: Option<String>,
    /// Credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthParams>,
    /// Signed device identity; required for nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceProof>,
    /// BCP 47 locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Free-form user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// `connect.params.client` (closed object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientInfo {
    /// One of `CLIENT_IDS`; nodes use `node-host`.
    pub id: String,
    /// Human name shown by `nodes list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Client software version.
    pub version: String,
    /// `linux`, `macos`, `windows` or `unknown`.
    pub platform: String,
    /// `Linux`, `Mac`, `Windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    /// Hardware model where the OS tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    /// One of `CLIENT_MODES`; nodes use `node`.
    pub mode: String,
    /// Local instance id (not the routing id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// `connect.params.auth` (closed object). Every field is a secret.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthParams {
    /// Shared gateway token (or a device token, see spec §7.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Single-use setup-code token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_token: Option<String>,
    /// The device token issued in an earlier hello-ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    /// Shared gateway password; never signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Used by approval runtimes; nodes never send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_runtime_token: Option<String>,
    /// Used by agent runtimes; nodes never send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_identity_token: Option<String>,
}

impl AuthParams {
    /// The credential the device signature covers: the first present of `token`,
    /// `deviceToken`, `bootstrapToken` (spec §5.2); empty when none.
    pub fn signed_token(&self) -> &str {
        self.token
            .as_deref()
            .or(self.device_token.as_deref())
            .or(self.bootstrap_token.as_deref())
            .unwrap_or("")
    }
}

impl std::fmt::Debug for AuthParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("AuthParams")
            .field("token", &mask(&self.token))
            .field("bootstrap_token", &mask(&self.bootstrap_token))
            .field("device_token", &mask(&self.device_token))
            .field("password", &mask(&self.password))
            .finish_non_exhaustive()
    }
}

/// `connect.params.device` (closed object): the signed proof of the device key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceProof {
    /// Lowercase hex SHA-256 of the raw public key.
    pub id: String,
    /// Raw 32-byte Ed25519 public key, base64url without padding.
    pub public_key: String,
    /// Ed25519 signature over the v3 (or v2) payload, base64url without padding.
    pub signature: String,
    /// The signing time in ms, as written in the payload.
    pub signed_at: u64,
    /// The challenge nonce.
    pub nonce: String,
}

/// `hello-ok` payload (read leniently; spec §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloOk {
    /// Always `hello-ok`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The gateway's protocol version.
    pub protocol: u32,
    /// Gateway version and this connection's id.
    pub server: ServerInfo,
    /// Methods and events the gateway offers.
    #[serde(default)]
    pub features: Features,
    /// Presence/health snapshot; nodes ignore it.
    #[serde(default)]
    pub snapshot: serde_json::Value,
    /// What the connection was authenticated as, plus a device token to keep.
    pub auth: HelloAuth,
    /// Frame limits and tick interval.
    pub policy: Policy,
}

/// `hello-ok.server`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// Gateway version string.
    pub version: String,
    /// Connection id (useful in logs).
    pub conn_id: String,
}

/// `hello-ok.features`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    /// Methods this connection may call.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Events this connection may receive.
    #[serde(default)]
    pub events: Vec<String>,
    /// Extra capability flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
}

/// `hello-ok.auth`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloAuth {
    /// `token`, `password`, `device-token`, `bootstrap-token`, `none` …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The granted role.
    pub role: String,
    /// The granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The reusable credential for (gateway, device, role); a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    /// When the device token was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at_ms: Option<u64>,
}

impl std::fmt::Debug for HelloAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelloAuth")
            .field("method", &self.method)
            .field("role", &self.role)
            .field("scopes", &self.scopes)
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| "[redacted]"),
            )
            .field("issued_at_ms", &self.issued_at_ms)
            .finish()
    }
}

/// `hello-ok.policy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Largest frame the gateway accepts from us.
    pub max_payload: usize,
    /// Outbound buffer budget.
    pub max_buffered_bytes: usize,
    /// Tick period; silence for twice this means the link is dead.
    pub tick_interval_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connect_params_are_closed() {
        let v = json!({
            "minProtocol": 3, "maxProtocol": 4,
            "client": {"id": "node-host", "version": "0.1.0", "platform": "linux", "mode": "node"},
            "bogus": 1
        });
        let err = serde_json::from_value::<ConnectParams>(v).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn connect_params_omit_absent_fields() {
        let p = ConnectParams {
            min_protocol: 3,
            max_protocol: 4,
            client: ClientInfo {
                id: "node-host".into(),
                display_name: None,
                version: "0.1.0".into(),
                platform: "linux".into(),
                device_family: Some("Linux".into()),
                model_identifier: None,
                mode: "node".into(),
                instance_id: None,
            },
            role: Some("node".into()),
            scopes: Some(vec![]),
            caps: None,
            commands: None,
            permissions: None,
            path_env: None,
            auth: Some(AuthParams {
                token: Some("t".into()),
                ..Default::default()
            }),
            device: None,
            locale: None,
            user_agent: None,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            json!({"minProtocol":3,"maxProtocol":4,
                   "client":{"id":"node-host","version":"0.1.0","platform":"linux",
                             "deviceFamily":"Linux","mode":"node"},
                   "role":"node","scopes":[],"auth":{"token":"t"}})
        );
    }

    #[test]
    fn signed_token_precedence() {
        let mut a = AuthParams {
            bootstrap_token: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(a.signed_token(), "b");
        a.device_token = Some("d".into());
        assert_eq!(a.signed_token(), "d");
        a.token = Some("t".into());
        assert_eq!(a.signed_token(), "t");
        a.password = Some("p".into());
        assert_eq!(a.signed_token(), "t");
        assert_eq!(AuthParams::default().signed_token(), "");
    }

    #[test]
    fn auth_debug_masks_secrets() {
        let a = AuthParams {
            token: Some("super-secret".into()),
            ..Default::default()
        };
        assert!(!format!("{a:?}").contains("super-secret"));
    }

    #[test]
    fn hello_ok_tolerates_unknown_fields() {
        let v = json!({"type":"hello-ok","protocol":4,
            "server":{"version":"2026.9.6","connId":"c1","extra":1},
            "features":{"methods":[],"events":[]},
            "snapshot":{},
            "auth":{"method":"token","role":"node","scopes":[],"deviceToken":"dt","issuedAtMs":1},
            "policy":{"maxPayload":26214400,"maxBufferedBytes":52428800,"tickIntervalMs":30000,"attachments":{}},
            "pluginSurfaceUrls":{}});
        let h: HelloOk = serde_json::from_value(v).unwrap();
        assert_eq!(h.policy.tick_interval_ms, 30000);
        assert_eq!(h.auth.device_token.as_deref(), Some("dt"));
    }
}
