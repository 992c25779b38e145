//! What a node needs to know to run a session: the gateway, its credentials, what
//! `connect` declares, and the timings and limits of the loop. Built by the composition
//! root (`crate::node`) from a `Config`; the session reads nothing else.

use std::sync::Arc;
use std::time::Duration;

use super::backoff::BackoffPolicy;
use crate::secret::Secret;
use crate::status::Metrics;

/// What a node needs to know to run a session.
#[derive(Clone)]
pub struct NodeOptions {
    /// The gateway URL (also the key under which device tokens are stored).
    pub gateway_url: String,
    /// Dial this instead of `gateway_url` (the local end of an SSH tunnel).
    pub dial_url: Option<String>,
    /// Shared gateway token.
    pub token: Option<Secret>,
    /// Shared gateway password.
    pub password: Option<Secret>,
    /// Single-use setup-code token, for the first connect of `pair`; never stored.
    pub bootstrap_token: Option<Secret>,
    /// `client.displayName`.
    pub display_name: String,
    /// `client.instanceId`.
    pub instance_id: Option<String>,
    /// `client.modelIdentifier`.
    pub model_identifier: Option<String>,
    /// `pathEnv`: the PATH commands run with.
    pub path_env: Option<String>,
    /// Reconnect backoff.
    pub backoff: BackoffPolicy,
    /// How often to retry while the gateway waits for a pairing approval.
    pub pairing_retry_interval: Duration,
    /// How long to wait for `connect.challenge`.
    pub challenge_timeout: Duration,
    /// How long in-flight calls may finish after shutdown is requested.
    pub shutdown_grace: Duration,
    /// Plaintext `ws://` may go to any DNS name (`OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1`,
    /// read by the caller from its environment lookup, `--env-file` included).
    pub allow_insecure_private_ws: bool,
    /// TLS client config for `wss://` (a pinned one, or `None` for native roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Counters for `status --metrics`.
    pub metrics: Arc<Metrics>,
    /// Exit after this many invocations have finished (one-shot CI runners).
    pub max_invocations: Option<u64>,
    /// Exit after this long without an invocation (one-shot CI runners).
    pub exit_after_idle: Option<Duration>,
}

impl NodeOptions {
    /// Options with defaults for everything but the gateway and the name.
    pub fn new(gateway_url: String, display_name: String) -> Self {
        Self {
            gateway_url,
            dial_url: None,
            token: None,
            password: None,
            bootstrap_token: None,
            display_name,
            instance_id: None,
            model_identifier: None,
            path_env: None,
            backoff: BackoffPolicy::default(),
            pairing_retry_interval: Duration::from_secs(10),
            challenge_timeout: crate::protocol::CHALLENGE_TIMEOUT,
            shutdown_grace: Duration::from_secs(5),
            allow_insecure_private_ws: false,
            tls: None,
            metrics: Arc::new(Metrics::default()),
            max_invocations: None,
            exit_after_idle: None,
        }
    }
}
