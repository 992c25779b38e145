//! One connection attempt: dial, run the shared client handshake
//! ([`crate::transport::handshake`]), classify a refusal, then serve the connection as a
//! [`Connection`] — one method per inbound message — until the socket ends, the tick
//! watchdog fires, a one-shot limit is reached or shutdown is requested. Also the `doctor`
//! probe: the same handshake, nothing served.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_capability_api::{BackgroundContext, EventSink, RequestSink};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dispatch::{
    Dispatcher, Outbound, PendingRequests, RequestIds, answer_request, forward_events,
    forward_requests,
};
use super::options::NodeOptions;
use super::registry::{Registry, Surface};
use super::state::{AttemptOutcome, NodeExit, SessionError, SessionState};
use crate::credentials::{CredentialStore, StoredToken, TokenKey};
use crate::identity::{DeviceIdentity, SignaturePayload};
use crate::protocol::*;
use crate::transport::handshake::{
    self, Established, HandshakeError, HandshakeTimeouts, send_close,
};

/// How often the serve loop checks the one-shot limits (never less often than a tick).
const LIMIT_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// The shortest tick interval honoured: spec §10 checks at `max(tickIntervalMs, 1000)`.
const MIN_TICK_INTERVAL: Duration = Duration::from_secs(1);
/// Silence for this many tick intervals means the link is dead (spec §10).
const TICKS_OF_SILENCE: u32 = 2;
/// How long cancelled calls get to return after the connection's cancel token fired.
const CANCELLED_CALLS_DRAIN: Duration = Duration::from_secs(5);
/// How long the writer gets to send the last frames and the close.
const WRITER_DRAIN: Duration = Duration::from_secs(2);
/// Frames queued for the writer before senders wait (backpressure on calls).
const OUTBOUND_QUEUE: usize = 256;

type WsSink = futures_util::stream::SplitSink<crate::transport::WsStream, Message>;
type WsStream = futures_util::stream::SplitStream<crate::transport::WsStream>;

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
    pub(super) fn new(
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

    pub(super) fn has_shared_credential(&self) -> bool {
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

    pub(super) async fn clear_stored_token(&self) -> Result<(), SessionError> {
        self.blocking(|s, k| s.clear_token(k)).await?;
        Ok(())
    }

    /// Chooses what goes in `connect.auth` (spec §7.3).
    pub(super) fn select_auth(&self, stored: Option<&StoredToken>) -> AuthParams {
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
    pub(super) fn connect_params(
        &self,
        challenge: &ConnectChallenge,
        auth: AuthParams,
        surface: &Surface,
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

fn retry(reason: impl Into<String>) -> AttemptOutcome {
    AttemptOutcome::Retry {
        reason: reason.into(),
        lived: Duration::ZERO,
        retry_after: None,
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

/// What a failed handshake means for the loop.
fn handshake_outcome(error: HandshakeError) -> AttemptOutcome {
    match error {
        HandshakeError::Refused(shape) => classify(&shape),
        HandshakeError::DeviceTokenRejected { message, .. } => {
            AttemptOutcome::DeviceTokenRejected { message }
        }
        other => retry(other.to_string()),
    }
}

impl Context {
    /// The handshake timeouts of this node.
    fn timeouts(&self) -> HandshakeTimeouts {
        HandshakeTimeouts {
            challenge: self.opts.challenge_timeout,
            response: REQUEST_TIMEOUT,
        }
    }

    /// Stores a device token from hello-ok when it differs from the stored one.
    async fn keep_device_token(&self, hello: &HelloOk, stored: Option<&StoredToken>) {
        let Some(token) = hello.auth.device_token.clone() else {
            return;
        };
        if stored.map(|s| &s.token) == Some(&token) {
            return;
        }
        let fresh = StoredToken {
            token,
            scopes: hello.auth.scopes.clone(),
            issued_at_ms: hello.auth.issued_at_ms,
        };
        if let Err(e) = self.blocking(move |s, k| s.save_token(k, &fresh)).await {
            tracing::warn!(error = %e, "could not store the device token; the node will need the shared token to reconnect");
        }
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
    let mut ws = tokio::select! {
        r = dial => match r {
            Ok(ws) => ws,
            Err(e) => return retry(e.to_string()),
        },
        _ = shutdown.cancelled() => return AttemptOutcome::Shutdown,
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
    let established = {
        let ctx = &*ctx;
        let handshake = handshake::handshake(&mut ws, ctx.timeouts(), |challenge| {
            ctx.connect_params(challenge, auth, &surface)
        });
        tokio::select! {
            r = handshake => r,
            _ = shutdown.cancelled() => return AttemptOutcome::Shutdown,
        }
    };
    let Established { hello, .. } = match established {
        Ok(e) => e,
        Err(e) => return handshake_outcome(e),
    };
    if used_bootstrap {
        ctx.bootstrap_used = true;
    }
    ctx.keep_device_token(&hello, stored.as_ref()).await;
    ctx.opts.metrics.connected();
    let tick = Duration::from_millis(hello.policy.tick_interval_ms).max(MIN_TICK_INTERVAL);
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
    let (sink, stream) = ws.split();
    Connection::open(ctx, sink, surface, tick, state)
        .serve(stream, shutdown)
        .await
}

/// Why the serve loop stopped.
enum Ending {
    Shutdown,
    Finished(NodeExit),
    TokenRejected(String),
    Retry(String),
}

/// One served connection: what the serve loop and its per-message handlers share.
struct Connection<'a> {
    /// What stays the same across attempts (options, counters, identity).
    ctx: &'a Context,
    /// Where the session state is published (`surface_approved`).
    state: &'a watch::Sender<SessionState>,
    /// Runs the calls of this connection.
    dispatcher: Dispatcher,
    /// Frames for the writer task.
    out: mpsc::Sender<Outbound>,
    /// The writer task; ends when every sender is gone or after a close.
    writer: JoinHandle<Result<(), String>>,
    /// Forwards capability events as `node.event`s.
    events_task: JoinHandle<()>,
    /// Forwards capability requests (publications) as request frames.
    requests_task: JoinHandle<()>,
    /// Those requests still waiting for their response.
    pending: PendingRequests,
    /// Fired when the connection ends: stops the calls and the background tasks. Not a
    /// child of the shutdown token: on shutdown, calls get the grace period first.
    conn_cancel: CancellationToken,
    /// Notified when the gateway approves the command surface, one per background task.
    surface_approved: Vec<Arc<Notify>>,
    /// The gateway's tick interval.
    tick: Duration,
    /// This node's id (the device id): invokes for another node are ignored.
    node_id: Arc<str>,
    /// Whether new invokes are taken (false once the invocation limit is in sight).
    accepting: bool,
    /// When the last frame came in (the watchdog's reference).
    last_inbound: Instant,
    /// When hello-ok came.
    connected_at: Instant,
}

impl<'a> Connection<'a> {
    /// Starts the writer, the event forwarder and the capabilities' background tasks.
    fn open(
        ctx: &'a Context,
        sink: WsSink,
        surface: Arc<Surface>,
        tick: Duration,
        state: &'a watch::Sender<SessionState>,
    ) -> Self {
        let metrics = ctx.opts.metrics.clone();
        let (out, out_rx) = mpsc::channel::<Outbound>(OUTBOUND_QUEUE);
        let writer = tokio::spawn(write_frames(sink, out_rx, metrics.clone()));
        let conn_cancel = CancellationToken::new();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let events_task = tokio::spawn(forward_events(events_rx, out.clone(), ctx.ids.clone()));
        let events = EventSink::new(events_tx);
        let pending = PendingRequests::default();
        let (requests_tx, requests_rx) = mpsc::unbounded_channel();
        let requests_task = tokio::spawn(forward_requests(
            requests_rx,
            out.clone(),
            ctx.ids.clone(),
            pending.clone(),
        ));
        let requests = RequestSink::new(requests_tx);
        let mut surface_approved = Vec::new();
        for task in ctx.registry.background(|| {
            let notify = Arc::new(Notify::new());
            surface_approved.push(notify.clone());
            BackgroundContext {
                events: events.clone(),
                requests: requests.clone(),
                stop: conn_cancel.child_token(),
                surface_approved: notify,
            }
        }) {
            tokio::spawn(task);
        }
        let dispatcher = Dispatcher {
            out: out.clone(),
            surface,
            calls: Arc::new(Mutex::new(HashMap::new())),
            conn_cancel: conn_cancel.clone(),
            tracker: TaskTracker::new(),
            ids: ctx.ids.clone(),
            metrics,
            events,
            finished: ctx.finished.clone(),
            last_activity: ctx.last_activity.clone(),
        };
        let now = Instant::now();
        Self {
            ctx,
            state,
            dispatcher,
            out,
            writer,
            events_task,
            requests_task,
            pending,
            conn_cancel,
            surface_approved,
            tick,
            node_id: Arc::from(ctx.identity.device_id()),
            accepting: true,
            last_inbound: now,
            connected_at: now,
        }
    }

    /// The loop: inbound frames, the watchdog, the limit checks and shutdown.
    async fn serve(mut self, mut stream: WsStream, shutdown: &CancellationToken) -> AttemptOutcome {
        let mut check = tokio::time::interval(LIMIT_CHECK_INTERVAL.min(self.tick));
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let silence = self.tick * TICKS_OF_SILENCE;
        let ending = loop {
            tokio::select! {
                msg = stream.next() => {
                    if let Some(ending) = self.on_message(msg) {
                        break ending;
                    }
                }
                // A deadline after the last frame in, so a dead link is noticed at most
                // two ticks after it died (not at the next poll after that).
                _ = tokio::time::sleep_until(self.last_inbound + silence) => {
                    break self.on_silence().await;
                }
                _ = check.tick() => {
                    if let Some(ending) = self.check_limits() {
                        break ending;
                    }
                }
                _ = shutdown.cancelled() => break Ending::Shutdown,
            }
        };
        self.close(ending).await
    }

    /// One inbound WebSocket message; `Some` when the connection is over.
    fn on_message(
        &mut self,
        msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Option<Ending> {
        let msg = match msg {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Some(Ending::Retry(format!("connection error: {e}"))),
            None => return Some(Ending::Retry("the gateway closed the connection".into())),
        };
        self.last_inbound = Instant::now();
        match msg {
            Message::Text(text) => {
                self.ctx.opts.metrics.frame_in(text.len());
                match GatewayToNode::parse(&text) {
                    Ok(m) => self.on_gateway_message(m),
                    Err(MessageError::Payload { name, reason }) => {
                        tracing::warn!(%name, %reason, "ignoring a malformed message from the gateway");
                    }
                    Err(e) => tracing::debug!(error = %e, "ignoring an unreadable frame"),
                }
                None
            }
            Message::Close(frame) => Some(match handshake::closed(frame.as_ref()) {
                HandshakeError::DeviceTokenRejected { message, .. } => {
                    Ending::TokenRejected(message)
                }
                other => Ending::Retry(other.to_string()),
            }),
            _ => None,
        }
    }

    /// One decoded message from the gateway.
    fn on_gateway_message(&mut self, message: GatewayToNode) {
        match message {
            GatewayToNode::InvokeRequest(req) => self.on_invoke_request(req),
            GatewayToNode::InvokeCancel(c) => self.on_invoke_cancel(&c),
            GatewayToNode::Tick { .. } => self.on_tick(),
            GatewayToNode::PairResolved(r) => self.on_pair_resolved(&r),
            GatewayToNode::Shutdown(s) => self.on_shutdown(&s),
            GatewayToNode::Response(r) => self.on_response(&r),
            GatewayToNode::Challenge(_) | GatewayToNode::Other(_) => {}
        }
    }

    /// `node.invoke.request`: start the call unless it is for another node or the
    /// invocation limit is in sight.
    fn on_invoke_request(&mut self, req: NodeInvokeRequest) {
        let received = Instant::now();
        if req.node_id != *self.node_id {
            tracing::warn!(target_node = %req.node_id, "ignoring an invoke addressed to another node");
            return;
        }
        if !self.accepting {
            tracing::info!(id = %req.id, "not taking new calls (invocation limit reached)");
            return;
        }
        self.dispatcher.spawn(req, received);
    }

    /// `node.invoke.cancel`: stop the call; it sends no result.
    fn on_invoke_cancel(&self, cancel: &NodeInvokeCancel) {
        if self.dispatcher.cancel(&cancel.invoke_id) {
            tracing::info!(id = %cancel.invoke_id, "call cancelled by the gateway");
        }
    }

    /// `tick`: the link is alive (any frame resets the watchdog; this feeds `status`).
    fn on_tick(&self) {
        self.ctx
            .opts
            .metrics
            .tick(crate::now_ms(), self.tick.as_millis() as u64);
    }

    /// `node.pair.resolved` for this node: mark the surface approved and let the
    /// background tasks publish again.
    fn on_pair_resolved(&self, resolved: &PairResolved) {
        if resolved.node_id.as_deref() != Some(&*self.node_id) {
            return;
        }
        if resolved.decision != "approved" {
            tracing::warn!(request_id = %resolved.request_id, decision = %resolved.decision, "the gateway did not approve this node's command surface");
            return;
        }
        tracing::info!(request_id = %resolved.request_id, "the gateway approved this node's command surface");
        self.state.send_modify(|s| {
            if let SessionState::Ready {
                surface_approved, ..
            } = s
            {
                *surface_approved = true;
            }
        });
        for notify in &self.surface_approved {
            notify.notify_one();
        }
    }

    /// `shutdown`: the gateway says why it stops; its close follows.
    fn on_shutdown(&self, shutdown: &ShutdownEvent) {
        let reason = Some(shutdown.reason.as_str())
            .filter(|r| !r.is_empty())
            .unwrap_or("unspecified");
        tracing::info!(%reason, "the gateway is shutting down");
    }

    /// The answer to one of our requests: a capability's request gets it; otherwise only
    /// refusals are worth a line.
    fn on_response(&self, response: &ResponseFrame) {
        if answer_request(&self.pending, response) {
            return;
        }
        if !response.ok {
            tracing::debug!(id = %response.id, error = ?response.error, "the gateway refused a node request");
        }
    }

    /// No frame for two tick intervals: close 4000 and reconnect.
    async fn on_silence(&self) -> Ending {
        tracing::warn!(silent_for = ?self.last_inbound.elapsed(), "no traffic from the gateway for two tick intervals; reconnecting");
        let _ = self
            .out
            .send(Outbound::Close(
                close_codes::TICK_TIMEOUT,
                "tick timeout".into(),
            ))
            .await;
        Ending::Retry("tick timeout".into())
    }

    /// The one-shot limits (`max_invocations`, `exit_after_idle`).
    fn check_limits(&mut self) -> Option<Ending> {
        let opts = &self.ctx.opts;
        let finished = self.ctx.finished.load(Ordering::SeqCst);
        let in_flight = self.dispatcher.in_flight();
        if let Some(max) = opts.max_invocations {
            if finished >= max {
                return Some(Ending::Finished(NodeExit::MaxInvocations));
            }
            if finished + in_flight as u64 >= max {
                self.accepting = false;
            }
        }
        if let Some(idle) = opts.exit_after_idle
            && in_flight == 0
            && self
                .ctx
                .last_activity
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed()
                >= idle
        {
            return Some(Ending::Finished(NodeExit::Idle));
        }
        None
    }

    /// Ends the connection: on a graceful ending the calls get the shutdown grace, then
    /// everything is cancelled, the writer drained and the socket closed.
    async fn close(self, ending: Ending) -> AttemptOutcome {
        let graceful = matches!(ending, Ending::Shutdown | Ending::Finished(_));
        let tracker = self.dispatcher.tracker.clone();
        if graceful {
            tracker.close();
            if tokio::time::timeout(self.ctx.opts.shutdown_grace, tracker.wait())
                .await
                .is_err()
            {
                tracing::warn!(
                    in_flight = self.dispatcher.in_flight(),
                    "calls still running after the shutdown grace period; cancelling them"
                );
            }
        }
        self.conn_cancel.cancel();
        tracker.close();
        let _ = tokio::time::timeout(CANCELLED_CALLS_DRAIN, tracker.wait()).await;
        if graceful {
            let _ = self
                .out
                .send(Outbound::Close(
                    close_codes::NORMAL,
                    "node shutting down".into(),
                ))
                .await;
        }
        let lived = self.connected_at.elapsed();
        drop(self.dispatcher);
        drop(self.out);
        self.events_task.abort();
        self.requests_task.abort();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        match tokio::time::timeout(WRITER_DRAIN, self.writer).await {
            Ok(Ok(Err(e))) => tracing::debug!(error = %e, "writer ended with an error"),
            Err(_) => tracing::debug!("writer did not finish in time"),
            _ => {}
        }
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
}

/// The writer task: sends queued frames until every sender is gone or a close is sent.
async fn write_frames(
    mut sink: WsSink,
    mut frames: mpsc::Receiver<Outbound>,
    metrics: Arc<crate::status::Metrics>,
) -> Result<(), String> {
    while let Some(out) = frames.recv().await {
        let result = match out {
            Outbound::Text(text) => {
                metrics.frame_out(text.len());
                sink.send(Message::text(text)).await
            }
            Outbound::Close(code, reason) => {
                let r = send_close(&mut sink, code, &reason).await;
                let _ = sink.flush().await;
                return r.map_err(|e| e.to_string());
            }
        };
        result.map_err(|e| e.to_string())?;
    }
    let _ = sink.close().await;
    Ok(())
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
    let mut ws = match crate::transport::dial_with(&ctx.dial, ctx.opts.tls.clone()).await {
        Ok(ws) => ws,
        Err(e) => {
            p.dial_error = Some(e.to_string());
            return p;
        }
    };
    let stored = ctx.blocking(|s, k| s.load_token(k)).await.ok().flatten();
    let auth = ctx.select_auth(stored.as_ref());
    let surface = ctx.registry.surface();
    let mut skew = None;
    let result = handshake::handshake(&mut ws, ctx.timeouts(), |challenge| {
        skew = Some(challenge.ts as i64 - crate::now_ms() as i64);
        ctx.connect_params(challenge, auth, &surface)
    })
    .await;
    p.clock_skew_ms = skew;
    match result {
        Ok(established) => p.accepted = Some(established.hello),
        Err(HandshakeError::Refused(shape)) => p.refused = Some(shape),
        Err(HandshakeError::DeviceTokenRejected {
            error: Some(shape), ..
        }) => p.refused = Some(shape),
        Err(e) => p.other_error = Some(e.to_string()),
    }
    let _ = send_close(&mut ws, close_codes::NORMAL, "doctor probe").await;
    p
}

#[cfg(test)]
mod tests {
    //! The node's handshake over `tokio::io::duplex` against the embedded gateway's
    //! admission code (`gateway::validate_connect`): no network, no gateway task.

    use super::*;
    use crate::credentials::MemoryStore;
    use crate::policy::CommandPolicy;
    use tokio::io::DuplexStream;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::Role;

    type Ws = WebSocketStream<DuplexStream>;

    async fn pair_of_sockets() -> (Ws, Ws) {
        let (node, gateway) = tokio::io::duplex(256 * 1024);
        (
            WebSocketStream::from_raw_socket(node, Role::Client, None).await,
            WebSocketStream::from_raw_socket(gateway, Role::Server, None).await,
        )
    }

    fn context(challenge_timeout: Duration) -> Context {
        let mut opts = NodeOptions::new("ws://127.0.0.1:1".into(), "duplex-node".into());
        opts.token = Some(crate::secret::Secret::new("shared-token"));
        opts.challenge_timeout = challenge_timeout;
        let registry = Arc::new(Registry::new(Vec::new(), &CommandPolicy::default()));
        let dial = url::Url::parse(&opts.gateway_url).unwrap();
        Context::new(
            opts,
            DeviceIdentity::generate(),
            Arc::new(MemoryStore::new()),
            registry,
            dial,
        )
    }

    fn hello() -> HelloOk {
        HelloOk {
            kind: "hello-ok".into(),
            protocol: PROTOCOL_VERSION,
            server: ServerInfo {
                version: "duplex".into(),
                conn_id: "c-1".into(),
            },
            features: Features::default(),
            snapshot: serde_json::Value::Null,
            auth: HelloAuth {
                method: Some("token".into()),
                role: ROLE_NODE.into(),
                scopes: Vec::new(),
                device_token: Some("dt".into()),
                issued_at_ms: Some(1),
            },
            policy: Policy {
                max_payload: MAX_PAYLOAD_BYTES,
                max_buffered_bytes: MAX_BUFFERED_BYTES,
                tick_interval_ms: DEFAULT_TICK_INTERVAL_MS,
            },
        }
    }

    /// The gateway side: a challenge, then the admission checks on the first frame, then
    /// `answer` (hello-ok or a refusal) for an admitted connect.
    async fn gateway(
        mut ws: Ws,
        answer: impl FnOnce(&str) -> Frame,
    ) -> Result<crate::gateway::ValidConnect, String> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let challenge = GatewayToNode::Challenge(ConnectChallenge {
            nonce: nonce.clone(),
            ts: crate::now_ms(),
        });
        ws.send(Message::text(challenge.to_text())).await.unwrap();
        let Some(Ok(Message::Text(first))) = ws.next().await else {
            return Err("no connect".into());
        };
        let valid = crate::gateway::validate_connect(&first, &nonce, crate::now_ms())
            .map_err(|r| format!("refused: {r:?}"))?;
        ws.send(Message::text(answer(&valid.request_id).to_text()))
            .await
            .unwrap();
        Ok(valid)
    }

    async fn node_handshake(ctx: &Context, ws: &mut Ws) -> Result<Established, HandshakeError> {
        let auth = ctx.select_auth(None);
        let surface = ctx.registry.surface();
        handshake::handshake(ws, ctx.timeouts(), |c| {
            ctx.connect_params(c, auth, &surface)
        })
        .await
    }

    #[tokio::test]
    async fn the_node_connect_passes_the_gateway_admission_and_reads_hello_ok() {
        let ctx = context(CHALLENGE_TIMEOUT);
        let (mut node, gw) = pair_of_sockets().await;
        let hello_frame = |id: &str| Frame::ok(id, serde_json::to_value(hello()).unwrap());
        let (established, valid) =
            tokio::join!(node_handshake(&ctx, &mut node), gateway(gw, hello_frame));
        let valid = valid.unwrap();
        let established = established.unwrap();
        assert_eq!(valid.role, ROLE_NODE);
        assert_eq!(valid.params.client.id, CLIENT_ID_NODE_HOST);
        assert_eq!(
            valid.params.device.as_ref().map(|d| d.id.clone()),
            Some(ctx.identity.device_id())
        );
        assert_eq!(
            valid.params.auth.and_then(|a| a.token).as_deref(),
            Some("shared-token")
        );
        assert_eq!(established.hello, hello());
    }

    #[tokio::test]
    async fn refusals_are_typed() {
        let ctx = context(CHALLENGE_TIMEOUT);
        let refuse = |detail: &'static str| {
            move |id: &str| {
                Frame::err(
                    id,
                    ErrorShape::new(error_codes::INVALID_REQUEST, "refused")
                        .with(ErrorDetails::code(detail)),
                )
            }
        };
        let (mut node, gw) = pair_of_sockets().await;
        let (r, _) = tokio::join!(
            node_handshake(&ctx, &mut node),
            gateway(gw, refuse(detail_codes::AUTH_DEVICE_TOKEN_MISMATCH))
        );
        assert!(
            matches!(&r, Err(HandshakeError::DeviceTokenRejected { error: Some(e), .. })
                if e.detail_code() == Some(detail_codes::AUTH_DEVICE_TOKEN_MISMATCH)),
            "{r:?}"
        );
        let (mut node, gw) = pair_of_sockets().await;
        let (r, _) = tokio::join!(
            node_handshake(&ctx, &mut node),
            gateway(gw, refuse(detail_codes::PAIRING_REQUIRED))
        );
        let Err(HandshakeError::Refused(shape)) = r else {
            panic!("{r:?}")
        };
        assert!(matches!(classify(&shape), AttemptOutcome::Pending { .. }));
    }

    #[tokio::test]
    async fn a_silent_gateway_is_a_challenge_timeout_and_a_close_is_typed() {
        let ctx = context(Duration::from_millis(100));
        let (mut node, _gw) = pair_of_sockets().await;
        let r = node_handshake(&ctx, &mut node).await;
        assert!(
            matches!(
                r,
                Err(HandshakeError::Timeout {
                    stage: handshake::Stage::Challenge,
                    ..
                })
            ),
            "{r:?}"
        );
        let (mut node, mut gw) = pair_of_sockets().await;
        let close = async {
            send_close(
                &mut gw,
                close_codes::POLICY,
                "unauthorized: device token mismatch",
            )
            .await
            .unwrap();
            gw
        };
        let (r, _gw) = tokio::join!(node_handshake(&ctx, &mut node), close);
        assert!(
            matches!(&r, Err(HandshakeError::DeviceTokenRejected { error: None, message })
                if message.contains("1008")),
            "{r:?}"
        );
    }
}
