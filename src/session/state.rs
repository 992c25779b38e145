//! What a session is doing and how it ends: the state published on the `watch` channel,
//! the ways a node stops, the session's errors, and the outcome of one connection attempt.

use std::time::Duration;

use crate::credentials::CredentialError;

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
