//! Protocol constants: versions, frame limits, timeouts, method and event names, error and
//! close codes. Values come from spec/protocol.md §1, §3, §10, §11 and were checked against
//! the real Gateway 2026.9.6 where §16 says so.

use std::time::Duration;

/// The protocol version this implementation speaks (gateway constant, spec §1).
pub const PROTOCOL_VERSION: u32 = 4;
/// The oldest protocol a `role: node` + `mode: node` client may still use (N-1 window).
pub const MIN_NODE_PROTOCOL_VERSION: u32 = 3;
/// The oldest protocol accepted from any other client.
pub const MIN_CLIENT_PROTOCOL_VERSION: u32 = 4;
/// Reported to clients as `minimumProbeProtocol` in a protocol mismatch.
pub const MIN_PROBE_PROTOCOL_VERSION: u32 = 3;

/// Default gateway port (WS and HTTP share it).
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;
/// Largest frame a peer may send before hello-ok; bigger closes with 1009.
pub const MAX_PREAUTH_PAYLOAD_BYTES: usize = 64 * 1024;
/// Largest frame after hello-ok unless `policy.maxPayload` says otherwise.
pub const MAX_PAYLOAD_BYTES: usize = 25 * 1024 * 1024;
/// Longest WebSocket close reason: a control frame's payload is at most 125 bytes, two of
/// them the close code (RFC 6455 §5.5). A longer close frame is a protocol error at the
/// peer, which then never sees the code.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;
/// Bytes read from a WebSocket at a time. tungstenite's default (128 KiB) is allocated
/// per connection up front: 1,000 idle nodes cost the gateway ~125 MB for it alone.
/// Larger frames still arrive whole; they just take more reads.
pub const WS_READ_CHUNK_BYTES: usize = 8 * 1024;
/// Buffered-bytes budget per connection advertised in hello-ok.
pub const MAX_BUFFERED_BYTES: usize = 50 * 1024 * 1024;

/// Tick interval the embedded gateway advertises (the real Gateway uses 30 s).
pub const DEFAULT_TICK_INTERVAL_MS: u64 = 30_000;
/// How long a client waits for `connect.challenge` after the socket opens.
pub const CHALLENGE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a client waits for the response to one request (connect included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a dial (TCP + TLS + WebSocket upgrade) may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(15);
/// Allowed difference between `device.signedAt` and the gateway clock.
pub const SIGNATURE_SKEW_MS: i64 = 120_000;
/// `node.invoke` budget when the operator gives no `timeoutMs`.
pub const DEFAULT_INVOKE_TIMEOUT_MS: u64 = 30_000;
/// A pending pairing request expires this long after the device's last retry.
pub const PAIRING_REQUEST_TTL: Duration = Duration::from_secs(5 * 60);
/// A bootstrap (setup-code) token is valid this long and only once.
pub const BOOTSTRAP_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);
/// Largest `chunk` in one `node.invoke.progress`.
pub const MAX_PROGRESS_CHUNK_BYTES: usize = 16 * 1024;
/// How long the embedded gateway waits for a `connect` after sending the challenge.
pub const PREAUTH_TIMEOUT: Duration = Duration::from_secs(15);

/// `client.id` of a node host.
pub const CLIENT_ID_NODE_HOST: &str = "node-host";
/// `client.mode` of a node host.
pub const CLIENT_MODE_NODE: &str = "node";
/// `role` of a node.
pub const ROLE_NODE: &str = "node";
/// `role` of an operator.
pub const ROLE_OPERATOR: &str = "operator";

/// The closed enum of `client.id` values the Gateway accepts (spec §4.1).
pub const CLIENT_IDS: &[&str] = &[
    "webchat-ui",
    "openclaw-control-ui",
    "openclaw-browser-copilot",
    "openclaw-tui",
    "webchat",
    "cli",
    "gateway-client",
    "openclaw-macos",
    "openclaw-linux",
    "openclaw-ios",
    "openclaw-watchos",
    "openclaw-android",
    "node-host",
    "openclaw-worker",
    "test",
    "fingerprint",
    "openclaw-probe",
];

/// The closed enum of `client.mode` values (spec §4.1).
pub const CLIENT_MODES: &[&str] = &[
    "webchat", "cli", "ui", "backend", "node", "worker", "probe", "test",
];

/// Operator scopes (spec §13).
#[allow(
    missing_docs,
    reason = "each name spells its wire value, shown by rustdoc"
)]
pub mod scopes {
    pub const READ: &str = "operator.read";
    pub const WRITE: &str = "operator.write";
    pub const PAIRING: &str = "operator.pairing";
    pub const ADMIN: &str = "operator.admin";
}

/// Method names.
#[allow(
    missing_docs,
    reason = "each name spells its wire value, shown by rustdoc"
)]
pub mod methods {
    pub const CONNECT: &str = "connect";
    pub const NODE_INVOKE_RESULT: &str = "node.invoke.result";
    pub const NODE_INVOKE_PROGRESS: &str = "node.invoke.progress";
    pub const NODE_EVENT: &str = "node.event";
    pub const NODE_PLUGIN_TOOLS_UPDATE: &str = "node.pluginTools.update";
    pub const NODE_SKILLS_UPDATE: &str = "node.skills.update";
    pub const NODE_RUNNER_INVENTORY_UPDATE: &str = "node.runnerInventory.update";
    pub const DEVICE_PAIR_LIST: &str = "device.pair.list";
    pub const DEVICE_PAIR_APPROVE: &str = "device.pair.approve";
    pub const DEVICE_PAIR_REJECT: &str = "device.pair.reject";
    pub const DEVICE_PAIR_REMOVE: &str = "device.pair.remove";
    pub const NODE_PAIR_LIST: &str = "node.pair.list";
    pub const NODE_PAIR_APPROVE: &str = "node.pair.approve";
    pub const NODE_PAIR_REJECT: &str = "node.pair.reject";
    pub const NODE_LIST: &str = "node.list";
    pub const NODE_DESCRIBE: &str = "node.describe";
    pub const NODE_INVOKE: &str = "node.invoke";

    /// The methods a node calls (advertised in a node's hello-ok, refused to others).
    pub const NODE: [&str; 6] = [
        NODE_INVOKE_RESULT,
        NODE_INVOKE_PROGRESS,
        NODE_EVENT,
        NODE_PLUGIN_TOOLS_UPDATE,
        NODE_SKILLS_UPDATE,
        NODE_RUNNER_INVENTORY_UPDATE,
    ];

    /// Every operator method the embedded gateway serves (advertised in hello-ok and
    /// allowed to the operator role).
    pub const OPERATOR: [&str; 10] = [
        DEVICE_PAIR_LIST,
        DEVICE_PAIR_APPROVE,
        DEVICE_PAIR_REJECT,
        DEVICE_PAIR_REMOVE,
        NODE_PAIR_LIST,
        NODE_PAIR_APPROVE,
        NODE_PAIR_REJECT,
        NODE_LIST,
        NODE_DESCRIBE,
        NODE_INVOKE,
    ];
}

/// Event names.
#[allow(
    missing_docs,
    reason = "each name spells its wire value, shown by rustdoc"
)]
pub mod events {
    pub const CONNECT_CHALLENGE: &str = "connect.challenge";
    pub const TICK: &str = "tick";
    pub const SHUTDOWN: &str = "shutdown";
    pub const NODE_INVOKE_REQUEST: &str = "node.invoke.request";
    pub const NODE_INVOKE_CANCEL: &str = "node.invoke.cancel";
    pub const DEVICE_PAIR_REQUESTED: &str = "device.pair.requested";
    pub const DEVICE_PAIR_RESOLVED: &str = "device.pair.resolved";
    pub const NODE_PAIR_REQUESTED: &str = "node.pair.requested";
    pub const NODE_PAIR_RESOLVED: &str = "node.pair.resolved";
}

/// Top-level `error.code` values (spec §3).
#[allow(
    missing_docs,
    reason = "each name spells its wire value, shown by rustdoc"
)]
pub mod error_codes {
    pub const NOT_LINKED: &str = "NOT_LINKED";
    pub const NOT_PAIRED: &str = "NOT_PAIRED";
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    pub const TIMEOUT: &str = "TIMEOUT";
}

/// `error.details.code` values that decide how a client reacts (spec §5.3, §7.2, §11).
#[allow(
    missing_docs,
    reason = "each name spells its wire value, shown by rustdoc"
)]
pub mod detail_codes {
    pub const PROTOCOL_MISMATCH: &str = "PROTOCOL_MISMATCH";
    pub const DEVICE_IDENTITY_REQUIRED: &str = "DEVICE_IDENTITY_REQUIRED";
    pub const DEVICE_AUTH_DEVICE_ID_MISMATCH: &str = "DEVICE_AUTH_DEVICE_ID_MISMATCH";
    pub const DEVICE_AUTH_SIGNATURE_EXPIRED: &str = "DEVICE_AUTH_SIGNATURE_EXPIRED";
    pub const DEVICE_AUTH_NONCE_REQUIRED: &str = "DEVICE_AUTH_NONCE_REQUIRED";
    pub const DEVICE_AUTH_NONCE_MISMATCH: &str = "DEVICE_AUTH_NONCE_MISMATCH";
    pub const DEVICE_AUTH_SIGNATURE_INVALID: &str = "DEVICE_AUTH_SIGNATURE_INVALID";
    pub const DEVICE_AUTH_PUBLIC_KEY_INVALID: &str = "DEVICE_AUTH_PUBLIC_KEY_INVALID";
    pub const AUTH_REQUIRED: &str = "AUTH_REQUIRED";
    pub const AUTH_UNAUTHORIZED: &str = "AUTH_UNAUTHORIZED";
    pub const AUTH_TOKEN_MISSING: &str = "AUTH_TOKEN_MISSING";
    pub const AUTH_TOKEN_MISMATCH: &str = "AUTH_TOKEN_MISMATCH";
    pub const AUTH_PASSWORD_MISSING: &str = "AUTH_PASSWORD_MISSING";
    pub const AUTH_PASSWORD_MISMATCH: &str = "AUTH_PASSWORD_MISMATCH";
    pub const AUTH_BOOTSTRAP_TOKEN_INVALID: &str = "AUTH_BOOTSTRAP_TOKEN_INVALID";
    pub const AUTH_DEVICE_TOKEN_MISMATCH: &str = "AUTH_DEVICE_TOKEN_MISMATCH";
    pub const AUTH_SCOPE_MISMATCH: &str = "AUTH_SCOPE_MISMATCH";
    pub const AUTH_RATE_LIMITED: &str = "AUTH_RATE_LIMITED";
    pub const AUTH_IDENTITY_HEADER_REQUIRED: &str = "AUTH_IDENTITY_HEADER_REQUIRED";
    pub const PAIRING_REQUIRED: &str = "PAIRING_REQUIRED";
    pub const PAIRING_REJECTED: &str = "PAIRING_REJECTED";
    pub const CLIENT_VERSION_MISMATCH: &str = "CLIENT_VERSION_MISMATCH";
    pub const NOT_CONNECTED: &str = "NOT_CONNECTED";
    pub const MISSING_SCOPE: &str = "MISSING_SCOPE";
}

/// WebSocket close codes (spec §11).
pub mod close_codes {
    /// A normal close (the node or gateway is done).
    pub const NORMAL: u16 = 1000;
    /// The protocol versions do not overlap.
    pub const PROTOCOL_MISMATCH: u16 = 1002;
    /// Refused by policy: auth, pairing, a bad first frame.
    pub const POLICY: u16 = 1008;
    /// A frame over the size limit.
    pub const TOO_LARGE: u16 = 1009;
    /// The gateway is restarting; reconnect.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The gateway is still starting (`UNAVAILABLE`); reconnect after `retryAfterMs`.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// Sent by a client: no frame within two tick intervals.
    pub const TICK_TIMEOUT: u16 = 4000;
    /// The shared secret was rotated ("gateway auth changed") or the client invalidated.
    pub const AUTH_CHANGED: u16 = 4001;
}
