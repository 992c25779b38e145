//! One connection attempt: dial, wait for `connect.challenge`, send a signed `connect`,
//! read `hello-ok` (or classify the refusal), then serve until the socket ends, the tick
//! watchdog fires, a one-shot limit is reached or shutdown is requested.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_capability_api::EventSink;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dispatch::{Dispatcher, Outbound, RequestIds, forward_events, request_text};
use super::{AttemptOutcome, NodeExit, NodeOptions, Registry, SessionError, SessionState};
use crate::credentials::{CredentialStore, StoredToken, TokenKey};
use crate::identity::{DeviceIdentity, SignaturePayload};
use crate::protocol::*;

/// What stays the same across attempts.
pub(crate) struct Context {
    pub opts: NodeOptions,
    identity: DeviceIdentity,
    store: Arc<dyn CredentialStore>,
    pub(crate) registry: Arc<Registry>,
    dial: url::Url,
    token_key: TokenKey,
    finished: Arc<AtomicU64>,
    last_activity: Arc<Mutex<Instant>>,
    ids: Arc<RequestIds>,
    bootstrap_used: bool,
}

/// The `platform` / `deviceFamily` pair of this OS (stable across connects: a change
/// triggers a metadata re-approval on the gateway).
pub(crate) fn platform() -> (&'static str, &'static str) {
    if cfg!(target_os = "macos") {
        ("macos", "Mac")
    } else if cfg!(target_os = "linux") {
        ("linux", "Linux")
    } else if cfg!(target_os = "windows") {
        ("windows", "Windows")
    } else {
        ("unknown", "Unknown")
    }
}

/// The key device tokens for this gateway are stored under: its origin.
pub(crate) fn gateway_origin(url: &str) -> String {
    crate::transport::normalize_url(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

impl Context {
    pub fn new(
        opts: NodeOptions,
        identity: DeviceIdentity,
        store: Arc<dyn CredentialStore>,
        registry: Arc<Registry>,
        dial: url::Url,
    ) -> Self {
        let token_key = TokenKey {
            gateway: gateway_origin(&opts.gateway_url),
            device_id: identity.device_id(),
            role: ROLE_NODE.into(),
        };
        Self {
            opts,
            identity,
            store,
            registry,
            dial,
            token_key,
            finished: Arc::new(AtomicU64::new(0)),
            last_activity: Arc::new(Mutex::new(Instant::now())),
            ids: Arc::new(RequestIds::default()),
            bootstrap_used: false,
        }
    }

    pub fn has_shared_credential(&self) -> bool {
        self.opts.token.is_some() || self.opts.password.is_some()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn CredentialStore, &TokenKey) -> T + Send + 'static,
    ) -> T {
        let store = self.store.clone();
        let key = self.token_key.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref(), &key))
            .await
            .expect("credential store task panicked")
    }

    pub async fn clear_stored_token(&self) -> Result<(), SessionError> {
        self.blocking(|s, k| s.clear_token(k)).await?;
        Ok(())
    }

    /// Chooses what goes in `connect.auth` (spec §7.3).
    pub fn select_auth(&self, stored: Option<&StoredToken>) -> AuthParams {
        let mut auth = AuthParams {
            password: self.opts.password.as_ref().map(|p| p.expose().to_string()),
            ..Default::default()
        };
        match (&self.opts.token, stored) {
            (Some(shared), Some(device)) => {
                auth.token = Some(shared.expose().to_string());
                auth.device_token = Some(device.token.clone());
            }
            (Some(shared), None) => auth.token = Some(shared.expose().to_string()),
            (None, Some(device)) => {
                auth.token = Some(device.token.clone());
                auth.device_token = Some(device.token.clone());
            }
            (None, None) => {}
        }
        if auth.token.is_none()
            && auth.password.is_none()
            && !self.bootstrap_used
            && let Some(boot) = &self.opts.bootstrap_token
        {
            auth.bootstrap_token = Some(boot.expose().to_string());
        }
        auth
    }

    /// Builds the signed `connect` params for a challenge.
    pub fn connect_params(
        &self,
        challenge: &ConnectChallenge,
        auth: AuthParams,
        surface: &super::Surface,
    ) -> ConnectParams {
        let (platform, family) = platform();
        let device_id = self.identity.device_id();
        let scopes: Vec<String> = Vec::new();
        let payload = SignaturePayload {
            device_id: &device_id,
            client_id: CLIENT_ID_NODE_HOST,
            client_mode: CLIENT_MODE_NODE,
            role: ROLE_NODE,
            scopes: &scopes,
            signed_at_ms: challenge.ts,
            token: auth.signed_token(),
            nonce: &challenge.nonce,
            platform: Some(platform),
            device_family: Some(family),
        }
        .v3();
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        ConnectParams {
            min_protocol: MIN_NODE_PROTOCOL_VERSION,
            max_protocol: PROTOCOL_VERSION,
            client: ClientInfo {
                id: CLIENT_ID_NODE_HOST.into(),
                display_name: Some(self.opts.display_name.clone()).filter(|s| !s.is_empty()),
                version: crate::VERSION.into(),
                platform: platform.into(),
                device_family: Some(family.into()),
                model_identifier: nonempty(&self.opts.model_identifier),
                mode: CLIENT_MODE_NODE.into(),
                instance_id: nonempty(&self.opts.instance_id),
            },
            role: Some(ROLE_NODE.into()),
            scopes: Some(scopes.clone()),
            caps: Some(surface.caps.clone()),
            commands: Some(surface.commands.clone()),
            permissions: (!surface.permissions.is_empty()).then(|| surface.permissions.clone()),
            path_env: nonempty(&self.opts.path_env),
            auth: Some(auth).filter(|a| *a != AuthParams::default()),
            device: Some(DeviceProof {
                id: device_id,
                public_key: self.identity.public_key(),
                signature: self.identity.sign(&payload),
                signed_at: challenge.ts,
                nonce: challenge.nonce.clone(),
            }),
            locale: None,
            user_agent: None,
        }
    }
}

type WsStream = futures_util::stream::SplitStream<crate::transport::WsStream>;

fn retry(reason: impl Into<String>) -> AttemptOutcome {
    AttemptOutcome::Retry {
        reason: reason.into(),
        lived: Duration::ZERO,
        retry_after: None,
    }
}

/// Reads text frames until `pick` returns something, the socket ends or errors.
async fn read_until<T>(
    stream: &mut WsStream,
    mut pick: impl FnMut(Frame) -> Option<T>,
) -> Result<T, String> {
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(Message::Text(text)) => match Frame::parse(&text) {
                Ok(frame) => {
                    if let Some(v) = pick(frame) {
                        return Ok(v);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "ignoring an unreadable frame"),
            },
            Ok(Message::Close(frame)) => return Err(close_reason(frame.as_ref())),
            Ok(_) => {}
            Err(e) => return Err(format!("connection error: {e}")),
        }
    }
    Err("the gateway closed the connection".into())
}

fn close_reason(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(f) if !f.reason.is_empty() => {
            format!(
                "closed by the gateway ({}: {})",
                u16::from(f.code),
                f.reason
            )
        }
        Some(f) => format!("closed by the gateway ({})", u16::from(f.code)),
        None => "closed by the gateway".into(),
    }
}

/// Turns a refused `connect` into what the loop should do (spec §7, §8, §11).
fn classify(error: &ErrorShape) -> AttemptOutcome {
    use detail_codes::*;
    let code = error.detail_code().unwrap_or_default();
    let message = error.message.clone();
    let fatal = |advice: &str| {
        AttemptOutcome::Fatal(SessionError::AuthRejected {
            code: code.to_string(),
            message: message.clone(),
            advice: advice.to_string(),
        })
    };
    match code {
        PAIRING_REQUIRED => AttemptOutcome::Pending {
            request_id: error.detail_str("requestId").map(str::to_string),
        },
        PAIRING_REJECTED => AttemptOutcome::Fatal(SessionError::PairingRejected {
            request_id: error.detail_str("requestId").map(str::to_string),
        }),
        AUTH_DEVICE_TOKEN_MISMATCH => AttemptOutcome::DeviceTokenRejected { message },
        AUTH_TOKEN_MISSING => fatal("Set OPENCLAW_GATEWAY_TOKEN to the gateway's shared token."),
        AUTH_TOKEN_MISMATCH => {
            fatal("Check OPENCLAW_GATEWAY_TOKEN: it does not match the gateway's token.")
        }
        AUTH_PASSWORD_MISSING => fatal("Set OPENCLAW_GATEWAY_PASSWORD."),
        AUTH_PASSWORD_MISMATCH => fatal("Check OPENCLAW_GATEWAY_PASSWORD."),
        AUTH_BOOTSTRAP_TOKEN_INVALID => fatal(
            "The setup code is invalid, expired or already used; ask the gateway for a new one.",
        ),
        AUTH_IDENTITY_HEADER_REQUIRED => fatal(
            "The gateway expects an identity header from a trusted proxy; connect through it.",
        ),
        CLIENT_VERSION_MISMATCH => {
            fatal("Upgrade openclaw-node to a version this gateway accepts.")
        }
        AUTH_SCOPE_MISMATCH => fatal("The device token does not cover this role; pair again."),
        PROTOCOL_MISMATCH => {
            tracing::error!(
                message = %error.message,
                details = ?error.details,
                "the gateway speaks a protocol this node does not; upgrade one of them"
            );
            retry(format!("protocol mismatch: {message}"))
        }
        _ => AttemptOutcome::Retry {
            reason: format!("the gateway refused the connection: {error}"),
            lived: Duration::ZERO,
            retry_after: error.retry_after_ms.map(Duration::from_millis),
        },
    }
}

/// One attempt.
pub(crate) async fn try_session(
    ctx: &mut Context,
    attempt: u32,
    state: &watch::Sender<SessionState>,
    shutdown: &CancellationToken,
) -> AttemptOutcome {
    let dial = crate::transport::dial_with(&ctx.dial, ctx.opts.tls.clone());
    let ws = tokio::select! {
        r = dial => match r {
            Ok(ws) => ws,
            Err(e) => return retry(e.to_string()),
        },
        _ = shutdown.cancelled() => return AttemptOutcome::Shutdown,
    };
    let (mut sink, mut stream) = ws.split();

    let challenge = tokio::select! {
        r = tokio::time::timeout(ctx.opts.challenge_timeout, read_until(&mut stream, |f| match f {
            Frame::Event(e) if e.event == events::CONNECT_CHALLENGE => {
                e.payload.and_then(|p| serde_json::from_value::<ConnectChallenge>(p).ok())
            }
            _ => None,
        })) => r,
        _ = shutdown.cancelled() => return AttemptOutcome::Shutdown,
    };
    let challenge = match challenge {
        Ok(Ok(c)) if !c.nonce.is_empty() => c,
        Ok(Ok(_)) => {
            let _ = close(
                &mut sink,
                close_codes::POLICY,
                "connect challenge missing nonce",
            )
            .await;
            return retry("the gateway's challenge had no nonce");
        }
        Ok(Err(reason)) => return retry(reason),
        Err(_) => {
            let _ = close(&mut sink, close_codes::POLICY, "connect challenge timeout").await;
            return retry(format!(
                "no connect.challenge within {}s",
                ctx.opts.challenge_timeout.as_secs()
            ));
        }
    };

    let stored = match ctx.blocking(|s, k| s.load_token(k)).await {
        Ok(t) => t,
        Err(e) => return AttemptOutcome::Fatal(e.into()),
    };
    let auth = ctx.select_auth(stored.as_ref());
    let used_bootstrap = auth.bootstrap_token.is_some();
    let surface = Arc::new(ctx.registry.surface());
    for (cap, reason) in &surface.unavailable {
        tracing::debug!(cap, reason, "capability not available here");
    }
    let params = ctx.connect_params(&challenge, auth, &surface);
    let connect = Frame::request(
        "connect",
        methods::CONNECT,
        serde_json::to_value(&params).expect("connect params serialise"),
    );
    if let Err(e) = sink.send(Message::text(connect.to_text())).await {
        return retry(format!("could not send connect: {e}"));
    }
    let response = tokio::select! {
        r = tokio::time::timeout(REQUEST_TIMEOUT, read_until(&mut stream, |f| match f {
            Frame::Res(r) if r.id == "connect" => Some(r),
            _ => None,
        })) => r,
        _ = shutdown.cancelled() => return AttemptOutcome::Shutdown,
    };
    let response = match response {
        Ok(Ok(r)) => r,
        Ok(Err(reason)) => {
            if reason.contains("device token mismatch") {
                return AttemptOutcome::DeviceTokenRejected { message: reason };
            }
            return retry(reason);
        }
        Err(_) => return retry("no answer to connect within 30s"),
    };
    if !response.ok {
        let error = response
            .error
            .unwrap_or_else(|| ErrorShape::new("UNAVAILABLE", "connect refused without a reason"));
        return classify(&error);
    }
    let hello: HelloOk = match response.payload.map(serde_json::from_value) {
        Some(Ok(h)) => h,
        Some(Err(e)) => return retry(format!("unreadable hello-ok: {e}")),
        None => return retry("hello-ok without a payload"),
    };
    if used_bootstrap {
        ctx.bootstrap_used = true;
    }
    if let Some(token) = hello.auth.device_token.clone() {
        let fresh = StoredToken {
            token,
            scopes: hello.auth.scopes.clone(),
            issued_at_ms: hello.auth.issued_at_ms,
        };
        if stored.as_ref().map(|s| &s.token) != Some(&fresh.token) {
            let saved = ctx.blocking(move |s, k| s.save_token(k, &fresh)).await;
            if let Err(e) = saved {
                tracing::warn!(error = %e, "could not store the device token; the node will need the shared token to reconnect");
            }
        }
    }
    ctx.opts.metrics.connected();
    let tick = Duration::from_millis(hello.policy.tick_interval_ms.max(1000));
    ctx.opts
        .metrics
        .tick(crate::now_ms(), tick.as_millis() as u64);
    tracing::info!(
        gateway = %ctx.opts.gateway_url,
        conn_id = %hello.server.conn_id,
        server_version = %hello.server.version,
        attempt,
        commands = surface.commands.len(),
        "connected; serving"
    );
    state.send_replace(SessionState::Ready {
        conn_id: hello.server.conn_id.clone(),
        commands: surface.commands.clone(),
        surface_approved: false,
    });
    serve(ctx, sink, stream, surface, tick, state, shutdown).await
}

async fn close(
    sink: &mut futures_util::stream::SplitSink<crate::transport::WsStream, Message>,
    code: u16,
    reason: &str,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    sink.send(Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_string().into(),
    })))
    .await
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    ctx: &mut Context,
    mut sink: futures_util::stream::SplitSink<crate::transport::WsStream, Message>,
    mut stream: WsStream,
    surface: Arc<super::Surface>,
    tick: Duration,
    state: &watch::Sender<SessionState>,
    shutdown: &CancellationToken,
) -> AttemptOutcome {
    let connected_at = Instant::now();
    let metrics = ctx.opts.metrics.clone();
    let (out_tx, mut out_rx) = mpsc::channel::<Outbound>(256);
    let writer_metrics = metrics.clone();
    let writer = tokio::spawn(async move {
        while let Some(out) = out_rx.recv().await {
            let result = match out {
                Outbound::Text(text) => {
                    writer_metrics.frame_out(text.len());
                    sink.send(Message::text(text)).await
                }
                Outbound::Close(code, reason) => {
                    let r = close(&mut sink, code, &reason).await;
                    let _ = sink.flush().await;
                    return r.map_err(|e| e.to_string());
                }
            };
            if let Err(e) = result {
                return Err(e.to_string());
            }
        }
        let _ = sink.close().await;
        Ok(())
    });
    // Not a child of `shutdown`: on shutdown, calls get the grace period below before
    // this token cancels them.
    let conn_cancel = CancellationToken::new();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let events_task = tokio::spawn(forward_events(events_rx, out_tx.clone(), ctx.ids.clone()));
    let node_id: Arc<str> = Arc::from(ctx.identity.device_id());
    let dispatcher = Dispatcher {
        out: out_tx.clone(),
        surface: surface.clone(),
        calls: Arc::new(Mutex::new(HashMap::new())),
        conn_cancel: conn_cancel.clone(),
        tracker: TaskTracker::new(),
        ids: ctx.ids.clone(),
        metrics: metrics.clone(),
        events: EventSink::new(events_tx),
        finished: ctx.finished.clone(),
        last_activity: ctx.last_activity.clone(),
    };
    // Published after connect, every interval, and again when the command surface is
    // approved (the real Gateway refuses node events from a node still waiting for that
    // approval).
    let stats_now = Arc::new(tokio::sync::Notify::new());
    if let Some(dir) = ctx.opts.host_stats_dir.clone() {
        tokio::spawn(publish_host_stats(
            dir,
            ctx.opts.host_stats_interval,
            out_tx.clone(),
            ctx.ids.clone(),
            conn_cancel.clone(),
            stats_now.clone(),
        ));
    }
    let mut last_inbound = Instant::now();
    let mut check = tokio::time::interval(Duration::from_millis(250).min(tick));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut accepting = true;

    let ending = loop {
        tokio::select! {
            msg = stream.next() => {
                let msg = match msg {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => break Ending::Retry(format!("connection error: {e}")),
                    None => break Ending::Retry("the gateway closed the connection".into()),
                };
                last_inbound = Instant::now();
                match msg {
                    Message::Text(text) => {
                        metrics.frame_in(text.len());
                        let frame = match Frame::parse(&text) {
                            Ok(f) => f,
                            Err(e) => {
                                tracing::debug!(error = %e, "ignoring an unreadable frame");
                                continue;
                            }
                        };
                        handle_frame(frame, &dispatcher, &node_id, accepting, state, &metrics, tick, &stats_now);
                    }
                    Message::Close(frame) => {
                        let reason = close_reason(frame.as_ref());
                        if reason.contains("device token mismatch") {
                            break Ending::TokenRejected(reason);
                        }
                        break Ending::Retry(reason);
                    }
                    _ => {}
                }
            }
            // The watchdog: a deadline two ticks after the last frame in, so a dead link is
            // noticed at most two ticks after it died (not at the next poll after that).
            _ = tokio::time::sleep_until(last_inbound + tick * 2) => {
                tracing::warn!(silent_for = ?last_inbound.elapsed(), "no traffic from the gateway for two tick intervals; reconnecting");
                let _ = out_tx.send(Outbound::Close(close_codes::TICK_TIMEOUT, "tick timeout".into())).await;
                break Ending::Retry("tick timeout".into());
            }
            _ = check.tick() => {
                if let Some(max) = ctx.opts.max_invocations
                    && ctx.finished.load(Ordering::SeqCst) >= max
                {
                    break Ending::Finished(NodeExit::MaxInvocations);
                }
                if let Some(max) = ctx.opts.max_invocations
                    && (ctx.finished.load(Ordering::SeqCst) + dispatcher.in_flight() as u64) >= max
                {
                    accepting = false;
                }
                if let Some(idle) = ctx.opts.exit_after_idle
                    && dispatcher.in_flight() == 0
                    && ctx.last_activity.lock().unwrap_or_else(|p| p.into_inner()).elapsed() >= idle
                {
                    break Ending::Finished(NodeExit::Idle);
                }
            }
            _ = shutdown.cancelled() => break Ending::Shutdown,
        }
    };

    let graceful = matches!(ending, Ending::Shutdown | Ending::Finished(_));
    if graceful {
        dispatcher.tracker.close();
        if tokio::time::timeout(ctx.opts.shutdown_grace, dispatcher.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = dispatcher.in_flight(),
                "calls still running after the shutdown grace period; cancelling them"
            );
        }
    }
    conn_cancel.cancel();
    dispatcher.tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), dispatcher.tracker.wait()).await;
    if graceful {
        let _ = out_tx
            .send(Outbound::Close(
                close_codes::NORMAL,
                "node shutting down".into(),
            ))
            .await;
    }
    drop(dispatcher);
    drop(out_tx);
    events_task.abort();
    match tokio::time::timeout(Duration::from_secs(2), writer).await {
        Ok(Ok(Err(e))) => tracing::debug!(error = %e, "writer ended with an error"),
        Err(_) => tracing::debug!("writer did not finish in time"),
        _ => {}
    }
    let lived = connected_at.elapsed();
    match ending {
        Ending::Shutdown => AttemptOutcome::Shutdown,
        Ending::Finished(exit) => AttemptOutcome::Finished(exit),
        Ending::TokenRejected(message) => AttemptOutcome::DeviceTokenRejected { message },
        Ending::Retry(reason) => AttemptOutcome::Retry {
            reason,
            lived,
            retry_after: None,
        },
    }
}

enum Ending {
    Shutdown,
    Finished(NodeExit),
    TokenRejected(String),
    Retry(String),
}

#[allow(clippy::too_many_arguments)]
fn handle_frame(
    frame: Frame,
    dispatcher: &Dispatcher,
    node_id: &str,
    accepting: bool,
    state: &watch::Sender<SessionState>,
    metrics: &crate::status::Metrics,
    tick: Duration,
    stats_now: &tokio::sync::Notify,
) {
    match frame {
        Frame::Event(e) => match e.event.as_str() {
            events::NODE_INVOKE_REQUEST => {
                let received = Instant::now();
                let Some(req) = e
                    .payload
                    .and_then(|p| serde_json::from_value::<NodeInvokeRequest>(p).ok())
                else {
                    tracing::warn!("ignoring a malformed node.invoke.request");
                    return;
                };
                if req.node_id != node_id {
                    tracing::warn!(target_node = %req.node_id, "ignoring an invoke addressed to another node");
                    return;
                }
                if !accepting {
                    tracing::info!(id = %req.id, "not taking new calls (invocation limit reached)");
                    return;
                }
                dispatcher.spawn(req, received);
            }
            events::NODE_INVOKE_CANCEL => {
                if let Some(c) = e
                    .payload
                    .and_then(|p| serde_json::from_value::<NodeInvokeCancel>(p).ok())
                    && dispatcher.cancel(&c.invoke_id)
                {
                    tracing::info!(id = %c.invoke_id, "call cancelled by the gateway");
                }
            }
            events::TICK => metrics.tick(crate::now_ms(), tick.as_millis() as u64),
            events::NODE_PAIR_RESOLVED => {
                let Some(r) = e
                    .payload
                    .and_then(|p| serde_json::from_value::<PairResolved>(p).ok())
                else {
                    return;
                };
                if r.node_id.as_deref() != Some(node_id) {
                    return;
                }
                if r.decision == "approved" {
                    tracing::info!(request_id = %r.request_id, "the gateway approved this node's command surface");
                    state.send_modify(|s| {
                        if let SessionState::Ready {
                            surface_approved, ..
                        } = s
                        {
                            *surface_approved = true;
                        }
                    });
                    stats_now.notify_one();
                } else {
                    tracing::warn!(request_id = %r.request_id, decision = %r.decision, "the gateway did not approve this node's command surface");
                }
            }
            events::SHUTDOWN => {
                let reason = e
                    .payload
                    .as_ref()
                    .and_then(|p| p.get("reason"))
                    .and_then(|r| r.as_str())
                    .unwrap_or("unspecified")
                    .to_string();
                tracing::info!(%reason, "the gateway is shutting down");
            }
            _ => {}
        },
        Frame::Res(r) if !r.ok => {
            tracing::debug!(id = %r.id, error = ?r.error, "the gateway refused a node request");
        }
        _ => {}
    }
}

async fn publish_host_stats(
    dir: std::path::PathBuf,
    interval: Duration,
    out: mpsc::Sender<Outbound>,
    ids: Arc<RequestIds>,
    stop: CancellationToken,
    now: Arc<tokio::sync::Notify>,
) {
    let mut warned = false;
    loop {
        let d = dir.clone();
        let sample =
            tokio::task::spawn_blocking(move || openclaw_capability_device::sample_host_stats(&d))
                .await;
        match sample {
            Ok(Ok(stats)) => {
                let params = NodeEventParams {
                    event: openclaw_capability_device::HOST_STATS_EVENT.into(),
                    payload: None,
                    payload_json: serde_json::to_string(&stats).ok(),
                };
                let text = request_text(&ids, methods::NODE_EVENT, &params);
                if out.send(Outbound::Text(text)).await.is_err() {
                    return;
                }
            }
            Ok(Err(e)) if !warned => {
                warned = true;
                tracing::warn!(error = %e, "cannot sample host stats; not publishing them");
            }
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = now.notified() => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// What one diagnostic handshake found (for `doctor`).
#[derive(Debug)]
pub struct Probe {
    /// The dial failed: why.
    pub dial_error: Option<String>,
    /// Gateway clock minus ours, from the challenge (ms).
    pub clock_skew_ms: Option<i64>,
    /// The gateway accepted the connect: its version and our granted role.
    pub accepted: Option<HelloOk>,
    /// The gateway refused the connect.
    pub refused: Option<ErrorShape>,
    /// Something else went wrong after the dial.
    pub other_error: Option<String>,
}

/// Dials, answers the challenge with a signed connect, reads the answer, and closes:
/// one handshake, nothing served, no token stored.
pub(crate) async fn probe(ctx: &Context) -> Probe {
    let mut p = Probe {
        dial_error: None,
        clock_skew_ms: None,
        accepted: None,
        refused: None,
        other_error: None,
    };
    let ws = match crate::transport::dial_with(&ctx.dial, ctx.opts.tls.clone()).await {
        Ok(ws) => ws,
        Err(e) => {
            p.dial_error = Some(e.to_string());
            return p;
        }
    };
    let (mut sink, mut stream) = ws.split();
    let challenge = tokio::time::timeout(
        ctx.opts.challenge_timeout,
        read_until(&mut stream, |f| match f {
            Frame::Event(e) if e.event == events::CONNECT_CHALLENGE => e
                .payload
                .and_then(|p| serde_json::from_value::<ConnectChallenge>(p).ok()),
            _ => None,
        }),
    )
    .await;
    let challenge = match challenge {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            p.other_error = Some(e);
            return p;
        }
        Err(_) => {
            p.other_error = Some("no connect.challenge in time".into());
            return p;
        }
    };
    p.clock_skew_ms = Some(challenge.ts as i64 - crate::now_ms() as i64);
    let stored = ctx.blocking(|s, k| s.load_token(k)).await.ok().flatten();
    let auth = ctx.select_auth(stored.as_ref());
    let surface = ctx.registry.surface();
    let params = ctx.connect_params(&challenge, auth, &surface);
    let connect = Frame::request(
        "connect",
        methods::CONNECT,
        serde_json::to_value(&params).expect("connect params serialise"),
    );
    if let Err(e) = sink.send(Message::text(connect.to_text())).await {
        p.other_error = Some(e.to_string());
        return p;
    }
    let response = tokio::time::timeout(
        REQUEST_TIMEOUT,
        read_until(&mut stream, |f| match f {
            Frame::Res(r) if r.id == "connect" => Some(r),
            _ => None,
        }),
    )
    .await;
    match response {
        Ok(Ok(r)) if r.ok => {
            p.accepted = r.payload.and_then(|v| serde_json::from_value(v).ok());
        }
        Ok(Ok(r)) => p.refused = r.error,
        Ok(Err(e)) => p.other_error = Some(e),
        Err(_) => p.other_error = Some("no answer to connect in time".into()),
    }
    let _ = close(&mut sink, close_codes::NORMAL, "doctor probe").await;
    p
}
