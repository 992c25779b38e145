//! One gateway connection: the challenge, the `connect` checks in the order of spec §13.1
//! (frame limits, closed params, protocol range, device proof, credentials, pairing), the
//! hello-ok, then frames until the peer leaves, the gateway stops, or a test drops every
//! connection. Each connection is its own task; its errors never reach the accept loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

use super::config::GatewayAuth;
use super::http::Prefixed;
use super::registry::{self, ConnEntry, Out, Session, Shared};
use crate::identity::{self, SignaturePayload};
use crate::protocol::*;
use crate::secret::constant_time_eq;

type Ws = WebSocketStream<Prefixed<TcpStream>>;

/// How long a refused peer gets to answer our close frame before the socket is dropped.
const REFUSAL_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the closing handshake of a served connection may take.
const SINK_CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// Frames queued for one connection before senders see it as busy.
const OUTBOUND_QUEUE: usize = 1024;

/// `reason` cut to [`MAX_CLOSE_REASON_BYTES`] on a character boundary.
fn close_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_CLOSE_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

async fn close(ws: &mut Ws, code: u16, reason: &str) {
    let _ = ws
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: close_reason(reason).to_string().into(),
        })))
        .await;
    let _ = tokio::time::timeout(REFUSAL_CLOSE_TIMEOUT, ws.close(None)).await;
}

async fn refuse(ws: &mut Ws, id: &str, error: ErrorShape, code: u16, reason: &str) {
    let _ = ws
        .send(Message::text(Frame::err(id, error).to_text()))
        .await;
    close(ws, code, reason).await;
}

fn detail_error(code: &str, message: &str, detail: &str, reason: &str) -> ErrorShape {
    ErrorShape::new(code, message).with(ErrorDetails {
        reason: Some(reason.into()),
        ..ErrorDetails::code(detail)
    })
}

/// Runs one upgraded connection to its end (inside the caller's `gw_conn{peer}` span).
pub(crate) async fn run(shared: Arc<Shared>, io: Prefixed<TcpStream>, peer: SocketAddr) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_PAYLOAD_BYTES))
        .max_frame_size(Some(MAX_PAYLOAD_BYTES))
        .read_buffer_size(crate::protocol::consts::WS_READ_CHUNK_BYTES);
    let mut ws = match tokio_tungstenite::accept_async_with_config(io, Some(config)).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(error = %e, "websocket upgrade failed");
            return;
        }
    };
    let (out_tx, out_rx) = mpsc::channel::<Out>(OUTBOUND_QUEUE);
    let Some(session) = handshake(&shared, &mut ws, peer, &out_tx).await else {
        return;
    };
    serve(shared, ws, session, out_tx, out_rx).await;
}

/// The handshake; `None` when the connection was refused (the socket is closed).
async fn handshake(
    shared: &Arc<Shared>,
    ws: &mut Ws,
    peer: SocketAddr,
    out: &mpsc::Sender<Out>,
) -> Option<Session> {
    let nonce = uuid::Uuid::new_v4().to_string();
    let ts = crate::now_ms();
    let challenge = GatewayToNode::Challenge(ConnectChallenge {
        nonce: nonce.clone(),
        ts,
    });
    ws.send(Message::text(challenge.to_text())).await.ok()?;

    let first = tokio::time::timeout(PREAUTH_TIMEOUT, ws.next()).await;
    let text = match first {
        Err(_) => {
            close(ws, close_codes::POLICY, "handshake timeout").await;
            return None;
        }
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(Message::Binary(_)))) => {
            close(ws, close_codes::NORMAL, "").await;
            return None;
        }
        Ok(Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_)))) => {
            close(ws, close_codes::TOO_LARGE, "preauth payload too large").await;
            return None;
        }
        _ => return None,
    };
    let ValidConnect {
        request_id,
        params,
        role,
    } = match validate_connect(&text, &nonce, crate::now_ms()) {
        Ok(valid) => valid,
        Err(refusal) => {
            if refusal.reason == DEVICE_AUTH_FAILED {
                let detail = refusal.response.as_ref().and_then(|(_, e)| e.detail_code());
                tracing::info!(reason = ?detail, "refused a device proof");
            }
            match refusal.response {
                Some((id, error)) => refuse(ws, &id, error, refusal.code, &refusal.reason).await,
                None => close(ws, refusal.code, &refusal.reason).await,
            }
            return None;
        }
    };
    let auth = params.auth.clone().unwrap_or_default();
    // Credentials (spec §7.2).
    let device_id = params.device.as_ref().map(|d| d.id.clone());
    let method = match authenticate(shared, &auth, device_id.as_deref(), &role) {
        Ok(m) => m,
        Err(e) => {
            let reason = e.message.clone();
            refuse(ws, &request_id, e, close_codes::POLICY, &reason).await;
            return None;
        }
    };
    if method == "bootstrap-token"
        && let (Some(token), Some(id)) = (&auth.bootstrap_token, &device_id)
    {
        shared
            .lock()
            .bootstrap
            .entry(token.clone())
            .and_modify(|b| b.bound_device = Some(id.clone()));
    }
    let conn_id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let scopes = if role == ROLE_NODE {
        Vec::new()
    } else {
        params.scopes.clone().unwrap_or_default()
    };
    // Pairing (nodes only in this minimal gateway).
    let mut device_token = None;
    let mut issued_at = None;
    if role == ROLE_NODE {
        let device = params.device.as_ref().expect("checked above");
        match super::methods::admit_device(shared, device, &params, peer) {
            Ok((token, at)) => {
                device_token = Some(token);
                issued_at = Some(at);
            }
            Err(e) => {
                let reason = match e.detail_str("requestId") {
                    Some(id) => {
                        format!("pairing required: device is not approved yet (requestId: {id})")
                    }
                    None => e.message.clone(),
                };
                refuse(ws, &request_id, e, close_codes::POLICY, &reason).await;
                return None;
            }
        }
        if let (Some(token), true) = (&auth.bootstrap_token, method == "bootstrap-token") {
            shared.lock().bootstrap.remove(token);
        }
    }
    let hello = hello_ok(
        shared,
        &role,
        method,
        &scopes,
        conn_id,
        device_token,
        issued_at,
    );
    let session = Session {
        conn_id,
        role,
        scopes,
        device_id,
    };
    // Registered before hello-ok goes out: a node that has its hello reports itself ready,
    // and an invoke sent to it at once must find it (it waits in `out` until `serve`).
    if session.role == ROLE_NODE {
        registry::register_node(shared, &session, &params, peer, out.clone());
    }
    let hello = serde_json::to_value(&hello).expect("hello-ok serialises");
    if ws
        .send(Message::text(Frame::ok(request_id, hello).to_text()))
        .await
        .is_err()
    {
        registry::disconnect(shared, &session);
        return None;
    }
    tracing::info!(conn_id, role = %session.role, device = session.device_id.as_deref().unwrap_or("-"), "client connected");
    Some(session)
}

/// The hello-ok for an admitted connection: the methods and events of its role, this
/// gateway's limits and tick interval, and (for a node) its device token.
fn hello_ok(
    shared: &Shared,
    role: &str,
    method: &str,
    scopes: &[String],
    conn_id: u64,
    device_token: Option<String>,
    issued_at: Option<u64>,
) -> HelloOk {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let methods = if role == ROLE_NODE {
        names(&methods::NODE)
    } else {
        names(&methods::OPERATOR)
    };
    HelloOk {
        kind: "hello-ok".into(),
        protocol: PROTOCOL_VERSION,
        server: ServerInfo {
            version: format!("openclaw-node-embedded/{}", crate::VERSION),
            conn_id: format!("c-{conn_id}"),
        },
        features: Features {
            methods,
            events: names(&[
                events::TICK,
                events::SHUTDOWN,
                events::NODE_INVOKE_REQUEST,
                events::NODE_INVOKE_CANCEL,
                events::NODE_PAIR_RESOLVED,
                events::DEVICE_PAIR_REQUESTED,
                events::DEVICE_PAIR_RESOLVED,
                events::NODE_PAIR_REQUESTED,
            ]),
            capabilities: Some(Vec::new()),
        },
        snapshot: serde_json::to_value(Snapshot {
            presence: Vec::new(),
            health: serde_json::Map::new(),
            state_version: StateVersion {
                presence: 0,
                health: 0,
            },
            uptime_ms: shared.started.elapsed().as_millis() as u64,
        })
        .expect("the snapshot serialises"),
        auth: HelloAuth {
            method: Some(method.into()),
            role: role.into(),
            scopes: scopes.to_vec(),
            device_token,
            issued_at_ms: issued_at,
        },
        policy: Policy {
            max_payload: MAX_PAYLOAD_BYTES,
            max_buffered_bytes: MAX_BUFFERED_BYTES,
            tick_interval_ms: shared.config.tick_interval.as_millis() as u64,
        },
    }
}

/// The embedded gateway's (empty) `hello-ok.snapshot`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    presence: Vec<Value>,
    health: serde_json::Map<String, Value>,
    state_version: StateVersion,
    uptime_ms: u64,
}

/// `hello-ok.snapshot.stateVersion`.
#[derive(serde::Serialize)]
struct StateVersion {
    presence: u64,
    health: u64,
}

/// A first frame that passed every `connect` check needing no gateway state (spec §13.1 up
/// to and including the device proof); credentials and pairing come next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidConnect {
    /// The request id, echoed by hello-ok or by a later refusal.
    pub request_id: String,
    /// The params: closed, client and protocol range checked, device proof verified.
    pub params: ConnectParams,
    /// The role (`node` or `operator`; absent means `operator`).
    pub role: String,
}

/// How a first frame is refused: an error response when it was a request, then a close.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    /// The request id and the error to answer with; `None` when the frame was not a
    /// request (nothing is sent before the close).
    pub response: Option<(String, ErrorShape)>,
    /// The WebSocket close code.
    pub code: u16,
    /// The close reason, at most [`MAX_CLOSE_REASON_BYTES`]: some echo what the peer sent
    /// (an unknown envelope key), which the `connect` fuzz target found could be longer.
    pub reason: String,
}

impl Refusal {
    fn close(code: u16, reason: &str) -> Box<Self> {
        Box::new(Self {
            response: None,
            code,
            reason: close_reason(reason).to_string(),
        })
    }

    fn answer(id: &str, error: ErrorShape, code: u16, reason: &str) -> Box<Self> {
        Box::new(Self {
            response: Some((id.to_string(), error)),
            code,
            reason: close_reason(reason).to_string(),
        })
    }
}

/// The close reason of a refused device proof.
const DEVICE_AUTH_FAILED: &str = "device auth failed";

/// Checks a client's first frame against the challenge `nonce` at `now_ms`: size, strict
/// envelope, `connect` method, closed params, client id and mode, protocol range, role,
/// device required for nodes, then the device proof. Pure: no I/O, no shared state, so
/// the fuzz target `connect` calls it as the gateway does.
pub(crate) fn validate_connect(
    text: &str,
    nonce: &str,
    now_ms: u64,
) -> Result<ValidConnect, Box<Refusal>> {
    if text.len() > MAX_PREAUTH_PAYLOAD_BYTES {
        return Err(Refusal::close(
            close_codes::TOO_LARGE,
            "preauth payload too large",
        ));
    }
    let frame = match Frame::parse_strict(text) {
        Ok(f) => f,
        Err(FrameError::Json(_)) => return Err(Refusal::close(close_codes::NORMAL, "")),
        Err(e) => {
            return Err(Refusal::close(
                close_codes::POLICY,
                &format!("invalid handshake: {e}"),
            ));
        }
    };
    let Frame::Req(req) = frame else {
        return Err(Refusal::close(
            close_codes::POLICY,
            "invalid handshake: expected a request",
        ));
    };
    let id = req.id.as_str();
    let invalid = |m: String| ErrorShape::new(error_codes::INVALID_REQUEST, m);
    if req.method != methods::CONNECT {
        return Err(Refusal::answer(
            id,
            invalid("invalid handshake: first request must be connect".into()),
            close_codes::POLICY,
            "invalid handshake",
        ));
    }
    let params: ConnectParams = match serde_json::from_value(req.params.unwrap_or(Value::Null)) {
        Ok(p) => p,
        Err(e) => {
            return Err(Refusal::answer(
                id,
                invalid(format!("invalid connect params: {e}")),
                close_codes::POLICY,
                "invalid connect params",
            ));
        }
    };
    if !CLIENT_IDS.contains(&params.client.id.as_str())
        || !CLIENT_MODES.contains(&params.client.mode.as_str())
        || params.client.version.is_empty()
        || params.client.platform.is_empty()
    {
        return Err(Refusal::answer(
            id,
            invalid("invalid connect params: at /client: unknown client id or mode".into()),
            close_codes::POLICY,
            "invalid connect params",
        ));
    }
    let role = params.role.clone().unwrap_or_else(|| ROLE_OPERATOR.into());
    let is_node_client = role == ROLE_NODE && params.client.mode == CLIENT_MODE_NODE;
    let min_ok = if is_node_client {
        MIN_NODE_PROTOCOL_VERSION
    } else {
        PROTOCOL_VERSION
    };
    let speaks = |v: u32| params.min_protocol <= v && v <= params.max_protocol;
    if !(speaks(PROTOCOL_VERSION) || (min_ok < PROTOCOL_VERSION && speaks(min_ok))) {
        let e =
            ErrorShape::new(error_codes::INVALID_REQUEST, "protocol mismatch").with(ErrorDetails {
                client_min_protocol: Some(params.min_protocol),
                client_max_protocol: Some(params.max_protocol),
                expected_protocol: Some(PROTOCOL_VERSION),
                minimum_probe_protocol: Some(MIN_PROBE_PROTOCOL_VERSION),
                ..ErrorDetails::code(detail_codes::PROTOCOL_MISMATCH)
            });
        return Err(Refusal::answer(
            id,
            e,
            close_codes::PROTOCOL_MISMATCH,
            "protocol mismatch",
        ));
    }
    if role != ROLE_NODE && role != ROLE_OPERATOR {
        return Err(Refusal::answer(
            id,
            invalid(format!("invalid role: {role}")),
            close_codes::POLICY,
            "invalid role",
        ));
    }
    if role == ROLE_NODE && params.device.is_none() {
        let e = ErrorShape::new(error_codes::NOT_PAIRED, "device identity required")
            .with(ErrorDetails::code(detail_codes::DEVICE_IDENTITY_REQUIRED));
        return Err(Refusal::answer(
            id,
            e,
            close_codes::POLICY,
            "device identity required",
        ));
    }
    // Device proof (spec §5.3).
    if let Some(device) = &params.device {
        let auth = params.auth.clone().unwrap_or_default();
        if let Some(e) = check_device(device, &params, &role, nonce, &auth, now_ms) {
            return Err(Refusal::answer(
                id,
                e,
                close_codes::POLICY,
                DEVICE_AUTH_FAILED,
            ));
        }
    }
    Ok(ValidConnect {
        request_id: req.id,
        params,
        role,
    })
}

/// Checks a device proof in the order of spec §5.3; `Some(error)` when it fails.
fn check_device(
    device: &DeviceProof,
    params: &ConnectParams,
    role: &str,
    nonce: &str,
    auth: &AuthParams,
    now_ms: u64,
) -> Option<ErrorShape> {
    use detail_codes::*;
    let bad = |message: &str, code: &str, reason: &str| {
        Some(detail_error(
            error_codes::INVALID_REQUEST,
            message,
            code,
            reason,
        ))
    };
    let Some(key) = identity::normalize_public_key(&device.public_key) else {
        return bad(
            "device public key invalid",
            DEVICE_AUTH_PUBLIC_KEY_INVALID,
            "device-public-key",
        );
    };
    if identity::device_id_for(&key) != device.id {
        return bad(
            "device identity mismatch",
            DEVICE_AUTH_DEVICE_ID_MISMATCH,
            "device-id-mismatch",
        );
    }
    // In u64: a signedAt at or past 2^63 overflowed the i64 difference.
    if now_ms.abs_diff(device.signed_at) > SIGNATURE_SKEW_MS.unsigned_abs() {
        return bad(
            "device signature expired",
            DEVICE_AUTH_SIGNATURE_EXPIRED,
            "device-signature-stale",
        );
    }
    if device.nonce.trim().is_empty() {
        return bad(
            "device nonce required",
            DEVICE_AUTH_NONCE_REQUIRED,
            "device-nonce-missing",
        );
    }
    if device.nonce != nonce {
        return bad(
            "device nonce mismatch",
            DEVICE_AUTH_NONCE_MISMATCH,
            "device-nonce-mismatch",
        );
    }
    let scopes = params.scopes.clone().unwrap_or_default();
    let payload = SignaturePayload {
        device_id: &device.id,
        client_id: &params.client.id,
        client_mode: &params.client.mode,
        role,
        scopes: &scopes,
        signed_at_ms: device.signed_at,
        token: auth.signed_token(),
        nonce: &device.nonce,
        platform: Some(&params.client.platform),
        device_family: params.client.device_family.as_deref(),
    };
    if identity::verify(&key, &payload.v3(), &device.signature)
        || identity::verify(&key, &payload.v2(), &device.signature)
    {
        return None;
    }
    bad(
        "device signature invalid",
        DEVICE_AUTH_SIGNATURE_INVALID,
        "device-signature",
    )
}

fn auth_error(
    message: &str,
    code: &str,
    reason: &str,
    retry_device: bool,
    next: &str,
) -> ErrorShape {
    ErrorShape::new(error_codes::INVALID_REQUEST, message).with(ErrorDetails {
        auth_reason: Some(reason.into()),
        can_retry_with_device_token: Some(retry_device),
        recommended_next_step: Some(next.into()),
        ..ErrorDetails::code(code)
    })
}

/// The credential cascade; returns the auth method on success.
fn authenticate(
    shared: &Shared,
    auth: &AuthParams,
    device_id: Option<&str>,
    role: &str,
) -> Result<&'static str, ErrorShape> {
    use detail_codes::*;
    let (shared_ok, shared_given, what) = match &shared.config.auth {
        GatewayAuth::None => (true, true, "none"),
        GatewayAuth::Token(t) => (
            auth.token
                .as_deref()
                .is_some_and(|g| constant_time_eq(g, t.expose())),
            auth.token.is_some(),
            "token",
        ),
        GatewayAuth::Password(p) => (
            auth.password
                .as_deref()
                .is_some_and(|g| constant_time_eq(g, p.expose())),
            auth.password.is_some(),
            "password",
        ),
    };
    if shared_ok {
        return Ok(what);
    }
    let inner = shared.lock();
    let stored = device_id
        .and_then(|id| inner.persisted.devices.get(id))
        .and_then(|d| d.tokens.get(role))
        .map(|t| t.token.clone());
    let candidate = auth.device_token.as_deref().or(auth.token.as_deref());
    if let (Some(c), Some(s)) = (candidate, stored.as_deref())
        && constant_time_eq(c, s)
    {
        return Ok("device-token");
    }
    if let Some(boot) = auth.bootstrap_token.as_deref()
        && let Some(b) = inner.bootstrap.get(boot)
        && b.expires_at > std::time::Instant::now()
        && b.bound_device
            .as_deref()
            .is_none_or(|d| Some(d) == device_id)
        && device_id.is_some()
    {
        return Ok("bootstrap-token");
    }
    if auth.bootstrap_token.is_some() && auth.token.is_none() && auth.password.is_none() {
        return Err(auth_error(
            "unauthorized: bootstrap token invalid or expired",
            AUTH_BOOTSTRAP_TOKEN_INVALID,
            "bootstrap_token_invalid",
            false,
            "update_auth_credentials",
        ));
    }
    if auth.device_token.is_some() {
        return Err(auth_error(
            "unauthorized: device token mismatch (rotate/reissue device token)",
            AUTH_DEVICE_TOKEN_MISMATCH,
            "device_token_mismatch",
            false,
            "update_auth_credentials",
        ));
    }
    let can_retry = stored.is_some();
    match (&shared.config.auth, shared_given) {
        (GatewayAuth::Token(_), false) => Err(auth_error(
            "unauthorized: gateway token missing (provide gateway auth token)",
            AUTH_TOKEN_MISSING,
            "token_missing",
            can_retry,
            "update_auth_configuration",
        )),
        (GatewayAuth::Token(_), true) => Err(auth_error(
            "unauthorized: gateway token mismatch (provide gateway auth token)",
            AUTH_TOKEN_MISMATCH,
            "token_mismatch",
            can_retry,
            if can_retry {
                "retry_with_device_token"
            } else {
                "update_auth_credentials"
            },
        )),
        (GatewayAuth::Password(_), false) => Err(auth_error(
            "unauthorized: gateway password missing (provide gateway auth password)",
            AUTH_PASSWORD_MISSING,
            "password_missing",
            can_retry,
            "update_auth_configuration",
        )),
        _ => Err(auth_error(
            "unauthorized: gateway password mismatch (provide gateway auth password)",
            AUTH_PASSWORD_MISMATCH,
            "password_mismatch",
            can_retry,
            "update_auth_credentials",
        )),
    }
}

/// The post-handshake loop.
async fn serve(
    shared: Arc<Shared>,
    ws: Ws,
    session: Session,
    out_tx: mpsc::Sender<Out>,
    mut out_rx: mpsc::Receiver<Out>,
) {
    shared.lock().conns.insert(
        session.conn_id,
        ConnEntry {
            role: session.role.clone(),
            device_id: session.device_id.clone(),
            out: out_tx.clone(),
        },
    );
    let (mut sink, mut stream) = ws.split();
    let drop_token = shared
        .drop_token
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut tick = tokio::time::interval(shared.config.tick_interval);
    tick.tick().await;
    let mut seq: u64 = 0;
    let session = Arc::new(session);
    loop {
        tokio::select! {
            msg = stream.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                        let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::from(close_codes::TOO_LARGE), reason: "payload too large".into() }))).await;
                        break;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                match Frame::parse_strict(&text) {
                    Ok(Frame::Req(req)) => {
                        super::methods::handle_request(&shared, &session, req, &out_tx);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "ignoring an invalid frame"),
                }
            }
            out = out_rx.recv() => {
                let Some(out) = out else { break };
                let result = match out {
                    Out::Text(t) => sink.send(Message::text(t)).await,
                    Out::Close(code, reason) => {
                        let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.into() }))).await;
                        break;
                    }
                };
                if result.is_err() {
                    break;
                }
            }
            _ = tick.tick() => {
                let ev = GatewayToNode::Tick { tick: TickEvent { ts: crate::now_ms() }, seq: Some(seq) };
                seq += 1;
                if sink.send(Message::text(ev.to_text())).await.is_err() {
                    break;
                }
            }
            _ = drop_token.cancelled() => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::from(close_codes::SERVICE_RESTART), reason: "connections dropped".into() }))).await;
                break;
            }
            _ = shared.shutdown.cancelled() => {
                let ev = GatewayToNode::Shutdown(ShutdownEvent { reason: "gateway stopping".into(), restart_expected_ms: None });
                let _ = sink.send(Message::text(ev.to_text())).await;
                let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::from(close_codes::SERVICE_RESTART), reason: "service restart".into() }))).await;
                break;
            }
        }
    }
    let _ = tokio::time::timeout(SINK_CLOSE_TIMEOUT, sink.close()).await;
    registry::disconnect(&shared, &session);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Spec §14: the RFC 8032 test key, vector A (v3, shared token) over this nonce and time.
    const NONCE: &str = "3f2b6c1e-7a4d-4e2b-9c1a-0d5e8f7a6b21";
    const SIGNED_AT: u64 = 1_737_264_000_000;
    const SIG_A: &str =
        "IcMSwvc5KHYDY_TjyvNxv_smbFiQ2TG1kn0do8ucfqDfG_cDZD8sti6GgBjuRXzEeBya2OHdEC1SpwqlLZZUAA";

    fn connect(signed_at: u64) -> String {
        Frame::request(
            "c1",
            methods::CONNECT,
            json!({
                "minProtocol": 3, "maxProtocol": 4,
                "client": {"id": "node-host", "version": "0.1.0", "platform": "linux",
                           "deviceFamily": "Linux", "mode": "node"},
                "role": "node", "scopes": [], "auth": {"token": "shared-token-123"},
                "device": {"id": "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9",
                           "publicKey": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                           "signature": SIG_A, "signedAt": signed_at, "nonce": NONCE},
            }),
        )
        .to_text()
    }

    fn detail(r: &Refusal) -> Option<&str> {
        r.response.as_ref()?.1.detail_code()
    }

    #[test]
    fn the_spec_vector_is_accepted_and_checked_against_nonce_and_clock() {
        let v = validate_connect(&connect(SIGNED_AT), NONCE, SIGNED_AT + 1_000).unwrap();
        assert_eq!((v.request_id.as_str(), v.role.as_str()), ("c1", ROLE_NODE));
        let r = validate_connect(&connect(SIGNED_AT), "another", SIGNED_AT).unwrap_err();
        assert_eq!(detail(&r), Some(detail_codes::DEVICE_AUTH_NONCE_MISMATCH));
        assert_eq!(
            (r.code, r.reason.as_str()),
            (close_codes::POLICY, DEVICE_AUTH_FAILED)
        );
        let late = SIGNED_AT + SIGNATURE_SKEW_MS.unsigned_abs() + 1;
        let r = validate_connect(&connect(SIGNED_AT), NONCE, late).unwrap_err();
        assert_eq!(
            detail(&r),
            Some(detail_codes::DEVICE_AUTH_SIGNATURE_EXPIRED)
        );
    }

    #[test]
    fn a_signed_at_past_2_pow_63_is_stale_not_an_overflow() {
        // Found reading check_device; kept as fuzz/regressions/connect_signed/.
        for signed_at in [1 << 63, u64::MAX] {
            let r = validate_connect(&connect(signed_at), NONCE, SIGNED_AT).unwrap_err();
            assert_eq!(
                detail(&r),
                Some(detail_codes::DEVICE_AUTH_SIGNATURE_EXPIRED)
            );
        }
    }

    #[test]
    fn a_close_reason_that_echoes_the_peer_fits_a_close_frame() {
        // Found by the `connect` fuzz target: an unknown key is echoed in the reason.
        for key in ["e".repeat(200), "é".repeat(100)] {
            let text = format!(r#"{{"type":"req","id":"1","method":"connect","{key}":1}}"#);
            let r = validate_connect(&text, NONCE, SIGNED_AT).unwrap_err();
            assert_eq!(r.code, close_codes::POLICY);
            assert!(
                r.reason
                    .starts_with("invalid handshake: unexpected property")
            );
            assert!(
                r.reason.len() <= MAX_CLOSE_REASON_BYTES,
                "{}",
                r.reason.len()
            );
        }
    }
}
