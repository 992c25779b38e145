//! The embedded gateway's settings ([`GatewayConfig`], [`GatewayAuth`]) and the bind
//! safety rule; no I/O.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;

/// Default of [`GatewayConfig::request_head_timeout`].
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How clients authenticate.
#[derive(Debug, Clone)]
pub enum GatewayAuth {
    /// No shared secret (loopback only).
    None,
    /// A shared token.
    Token(Secret),
    /// A shared password.
    Password(Secret),
}

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Authentication mode.
    pub auth: GatewayAuth,
    /// Where pairing state is persisted (`None` = memory only).
    pub state_dir: Option<PathBuf>,
    /// Approve device pairing requests at once (demo and tests).
    pub auto_approve_devices: bool,
    /// Approve node command surfaces at once (demo and tests).
    pub auto_approve_commands: bool,
    /// Tick period.
    pub tick_interval: Duration,
    /// `node.invoke` budget when the operator gives none.
    pub invoke_timeout_default: Duration,
    /// How long a client may take to send its HTTP request head (the slowloris guard);
    /// default [`REQUEST_HEAD_TIMEOUT`].
    pub request_head_timeout: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            auth: GatewayAuth::None,
            state_dir: None,
            auto_approve_devices: false,
            auto_approve_commands: false,
            tick_interval: Duration::from_millis(crate::protocol::DEFAULT_TICK_INTERVAL_MS),
            invoke_timeout_default: Duration::from_millis(
                crate::protocol::DEFAULT_INVOKE_TIMEOUT_MS,
            ),
            request_head_timeout: REQUEST_HEAD_TIMEOUT,
        }
    }
}

/// Refuses a non-loopback bind without a shared secret: loopback first, exposure only
/// with explicit authentication.
pub fn check_bind_safety(addr: &SocketAddr, auth: &GatewayAuth) -> Result<(), String> {
    if addr.ip().is_loopback() || !matches!(auth, GatewayAuth::None) {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {addr} without authentication: anyone who can reach that address could pair a node and run commands on it. Bind to 127.0.0.1, or set OPENCLAW_GATEWAY_TOKEN (or OPENCLAW_GATEWAY_PASSWORD)"
    ))
}
