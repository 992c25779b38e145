//! One node's life against one gateway: a loop around one connection attempt
//! (`connection`) with capped, jittered backoff between attempts ([`backoff`]); the
//! capability surface probed at every connect ([`registry`]); and each `node.invoke`
//! served in its own task (`dispatch`).
//!
//! The loop publishes a [`SessionState`] on a `watch` channel (read by `status`, `pair`,
//! the demo and the tests instead of sleeping) and ends only when the caller's shutdown
//! token fires, a one-shot limit is reached, or the gateway refuses the node in a way no
//! retry can fix ([`SessionError`]; `crate::exit::for_session` gives its exit code). It reads
//! no environment: every setting comes in [`NodeOptions`].

pub mod backoff;
mod connection;
mod dispatch;
mod options;
pub mod registry;
mod state;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use backoff::{Backoff, BackoffPolicy};
pub use connection::Probe;
pub use options::NodeOptions;
pub use registry::{Registry, Surface};
pub(crate) use state::AttemptOutcome;
pub use state::{ApprovalKind, NodeExit, SessionError, SessionState};

use crate::credentials::CredentialStore;
use crate::identity::DeviceIdentity;

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
