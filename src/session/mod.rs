//! One node's life against one gateway: a loop around one connection attempt
//! ([`connection`]) with capped, jittered backoff between attempts ([`backoff`]); the
//! capability surface probed at every connect ([`registry`]); and each `node.invoke`
//! served in its own task ([`dispatch`]).
//!
//! The loop publishes a [`SessionState`] on a `watch` channel (read by `status`, `pair`,
//! the demo and the tests instead of sleeping) and ends only when the caller's shutdown
//! token fires, a one-shot limit is reached, or the gateway refuses the node in a way no
//! retry can fix ([`SessionError`]; `crate::exit::for_session` gives its exit code). It reads
//! no environment: every setting comes in [`NodeOptions`].

pub mod backoff;
mod connection;
mod dispatch;
pub mod registry;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use backoff::{Backoff, BackoffPolicy};
pub use connection::Probe;
pub use registry::{Registry, Surface};

use crate::credentials::{CredentialError, CredentialStore};
use crate::identity::DeviceIdentity;
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

/// Which approval the gateway waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalKind {
    /// Device pairing (may this device connect?).
    Device,
    /// The node's command surface (which declared commands may be invoked?).
    Commands,
}

/// Where the session is, published on a `watch` channel.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionState {
    /// Not started yet.
    Starting,
    /// Dialing or handshaking.
    Connecting {
        /// 1-based attempt number since start.
        attempt: u32,
    },
    /// The gateway holds a pairing request for this node.
    WaitingForApproval {
        /// The request to approve, when the gateway said.
        request_id: Option<String>,
        /// Which approval.
        what: ApprovalKind,
    },
    /// Connected and serving.
    Ready {
        /// The gateway's connection id.
        conn_id: String,
        /// The commands declared on this connection.
        commands: Vec<String>,
        /// Whether the gateway told us the command surface is approved on this connection
        /// (`node.pair.resolved`); `false` also when it was approved before and said
        /// nothing.
        surface_approved: bool,
    },
    /// Waiting before the next attempt.
    BackingOff {
        /// Attempts so far.
        attempt: u32,
        /// Delay before the next one.
        retry_in: Duration,
        /// Why the last one ended.
        last_error: String,
    },
    /// Finished.
    Stopped,
}

impl SessionState {
    /// A short name for `status`.
    pub fn name(&self) -> &'static str {
        match self {
            SessionState::Starting => "starting",
            SessionState::Connecting { .. } => "connecting",
            SessionState::WaitingForApproval { .. } => "waiting-for-approval",
            SessionState::Ready { .. } => "ready",
            SessionState::BackingOff { .. } => "backing-off",
            SessionState::Stopped => "stopped",
        }
    }
}

/// How a session ended normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeExit {
    /// The shutdown token fired.
    Shutdown,
    /// `max_invocations` were served.
    MaxInvocations,
    /// `exit_after_idle` passed without an invocation.
    Idle,
}

/// A failure no retry can fix; the node exits.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The gateway refused our credentials.
    #[error("the gateway refused this node's credentials ({code}): {message}. {advice}")]
    AuthRejected {
        /// `details.code`.
        code: String,
        /// The gateway's message.
        message: String,
        /// What to do about it.
        advice: String,
    },
    /// The device token was revoked (or the device removed) and nothing else can get in.
    #[error(
        "the gateway no longer accepts this device's token: the device was removed or its token revoked ({message}). Pair again: set OPENCLAW_GATEWAY_TOKEN (or run `openclaw-node pair`) and approve the new request on the gateway"
    )]
    DeviceTokenRevoked {
        /// The gateway's message.
        message: String,
    },
    /// An operator rejected the pairing request.
    #[error(
        "the gateway rejected this node's pairing request{}; ask the gateway operator, then run again to create a new request",
        request_id.as_deref().map(|r| format!(" {r}")).unwrap_or_default()
    )]
    PairingRejected {
        /// The rejected request.
        request_id: Option<String>,
    },
    /// The configuration cannot work (bad URL, plaintext to a public host).
    #[error("{0}")]
    Config(String),
    /// The credential store cannot be read or written.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

impl SessionError {
    /// Always true: `run_node` returns an error only when retrying cannot help.
    pub fn is_fatal(&self) -> bool {
        true
    }
}

/// What one connection attempt came to.
#[derive(Debug)]
pub(crate) enum AttemptOutcome {
    /// The shutdown token fired.
    Shutdown,
    /// A one-shot limit was reached.
    Finished(NodeExit),
    /// The connection ended or never came up; try again after backoff.
    Retry {
        /// Why.
        reason: String,
        /// How long the connection was up (zero if it never was).
        lived: Duration,
        /// The gateway asked us to wait at least this long.
        retry_after: Option<Duration>,
    },
    /// The gateway waits for an approval.
    Pending {
        /// The request id, if given.
        request_id: Option<String>,
    },
    /// The stored device token was refused.
    DeviceTokenRejected {
        /// The gateway's message.
        message: String,
    },
    /// Stop for good.
    Fatal(SessionError),
}

/// One diagnostic handshake with the gateway (for `doctor`): nothing is served and no
/// token is stored.
pub async fn probe(
    opts: NodeOptions,
    identity: DeviceIdentity,
    store: Arc<dyn CredentialStore>,
    registry: Arc<Registry>,
) -> Result<Probe, SessionError> {
    let dial =
        crate::transport::normalize_url(opts.dial_url.as_deref().unwrap_or(&opts.gateway_url))
            .map_err(|e| SessionError::Config(e.to_string()))?;
    let ctx = connection::Context::new(opts, identity, store, registry, dial);
    Ok(connection::probe(&ctx).await)
}

/// Runs the node until `shutdown` fires, a one-shot limit is reached, or a fatal error.
pub async fn run_node(
    opts: NodeOptions,
    identity: DeviceIdentity,
    store: Arc<dyn CredentialStore>,
    registry: Arc<Registry>,
    state: watch::Sender<SessionState>,
    shutdown: CancellationToken,
) -> Result<NodeExit, SessionError> {
    let dial =
        crate::transport::normalize_url(opts.dial_url.as_deref().unwrap_or(&opts.gateway_url))
            .map_err(|e| SessionError::Config(e.to_string()))?;
    crate::transport::path::check_plaintext(&dial, opts.allow_insecure_private_ws)
        .map_err(|e| SessionError::Config(e.to_string()))?;
    let mut ctx = connection::Context::new(opts, identity, store, registry, dial);
    let mut backoff = Backoff::new(ctx.opts.backoff.clone());
    let mut attempt: u32 = 0;
    let mut token_retry_used = false;
    let mut announced_request: Option<String> = None;
    let result = loop {
        if shutdown.is_cancelled() {
            break Ok(NodeExit::Shutdown);
        }
        attempt += 1;
        state.send_replace(SessionState::Connecting { attempt });
        let outcome = connection::try_session(&mut ctx, attempt, &state, &shutdown).await;
        let (wait, next_state) = match outcome {
            AttemptOutcome::Shutdown => break Ok(NodeExit::Shutdown),
            AttemptOutcome::Finished(exit) => break Ok(exit),
            AttemptOutcome::Fatal(e) => break Err(e),
            AttemptOutcome::DeviceTokenRejected { message } => {
                if let Err(e) = ctx.clear_stored_token().await {
                    break Err(e);
                }
                if ctx.has_shared_credential() && !token_retry_used {
                    token_retry_used = true;
                    tracing::warn!(
                        "the gateway refused the stored device token; retrying once with the shared credential"
                    );
                    continue;
                }
                break Err(SessionError::DeviceTokenRevoked { message });
            }
            AttemptOutcome::Pending { request_id } => {
                if announced_request != request_id || announced_request.is_none() {
                    let id = request_id
                        .as_deref()
                        .unwrap_or("<see the gateway's pending list>");
                    tracing::warn!(
                        request_id = id,
                        "waiting for the gateway to approve this device: run `openclaw devices approve {id}` on the gateway (embedded gateway: `openclaw-node devices approve {id}`); retrying every {}s",
                        ctx.opts.pairing_retry_interval.as_secs_f64()
                    );
                    announced_request = request_id.clone();
                }
                (
                    ctx.opts.pairing_retry_interval,
                    SessionState::WaitingForApproval {
                        request_id,
                        what: ApprovalKind::Device,
                    },
                )
            }
            AttemptOutcome::Retry {
                reason,
                lived,
                retry_after,
            } => {
                if lived > Duration::ZERO {
                    token_retry_used = false;
                }
                backoff.connection_lasted(lived);
                let delay = backoff.next_delay().max(retry_after.unwrap_or_default());
                tracing::warn!(attempt, retry_in = ?delay, %reason, "gateway connection lost; reconnecting");
                (
                    delay,
                    SessionState::BackingOff {
                        attempt,
                        retry_in: delay,
                        last_error: reason,
                    },
                )
            }
        };
        state.send_replace(next_state);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => break Ok(NodeExit::Shutdown),
        }
    };
    ctx.registry.shutdown().await;
    state.send_replace(SessionState::Stopped);
    result
}
