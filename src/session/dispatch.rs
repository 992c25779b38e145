//! Serving `node.invoke.request`s: each call runs in its own task with a deadline, a
//! cancel token (fired by `node.invoke.cancel`, the deadline, a disconnect or shutdown), a
//! progress sink and an event sink, and ends with exactly one `node.invoke.result` unless
//! the gateway cancelled it. This is the one place that translates between the wire and
//! the capability API, so the capabilities' own requests (node events, publications that
//! answer) are framed here too.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use openclaw_capability_api::{
    CallContext, CapabilityError, ErrorCode, EventSink, NodeEvent, ProgressSink,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::registry::Surface;
use crate::protocol::{
    InvokeError, MAX_PROGRESS_CHUNK_BYTES, NodeEventParams, NodeInvokeProgress, NodeInvokeRequest,
    NodeInvokeResult, ResponseFrame, methods,
};
use crate::status::{FailureKind, Metrics};

/// How long a call may keep running after its deadline fired its cancel token, so that
/// it can clean up (kill its process tree) before it is dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(3);

/// A frame for the connection's writer task.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// One text frame.
    Text(String),
    /// Close the socket with this code and reason.
    Close(u16, String),
}

/// `{type:"req", id, method, params}` written without building a `Value` first.
#[derive(Serialize)]
struct OutRequest<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    method: &'a str,
    params: &'a T,
}

/// Numbers the requests a node sends.
#[derive(Debug, Default)]
pub(crate) struct RequestIds(AtomicU64);

impl RequestIds {
    pub(crate) fn next(&self) -> String {
        format!("n{}", self.0.fetch_add(1, Ordering::Relaxed))
    }
}

/// Serialises a request frame.
pub(crate) fn request_text<T: Serialize>(ids: &RequestIds, method: &str, params: &T) -> String {
    request_text_with_id(&ids.next(), method, params)
}

/// Serialises a request frame with a given id.
fn request_text_with_id<T: Serialize>(id: &str, method: &str, params: &T) -> String {
    serde_json::to_string(&OutRequest {
        kind: "req",
        id,
        method,
        params,
    })
    .expect("request serialisation is infallible")
}

/// The capability requests of one connection still waiting for their response, by
/// request id. Dropping the map (the connection ended) fails them all as `UNAVAILABLE`.
pub(crate) type PendingRequests = Arc<
    Mutex<
        HashMap<
            String,
            tokio::sync::oneshot::Sender<
                Result<serde_json::Value, openclaw_capability_api::GatewayError>,
            >,
        >,
    >,
>;

/// Sends capability requests ([`openclaw_capability_api::RequestSink`]) as request frames,
/// keeping each reply channel in `pending` until [`answer_request`] routes its response.
pub(crate) async fn forward_requests(
    mut rx: mpsc::UnboundedReceiver<openclaw_capability_api::GatewayRequest>,
    out: mpsc::Sender<Outbound>,
    ids: Arc<RequestIds>,
    pending: PendingRequests,
) {
    while let Some(req) = rx.recv().await {
        let id = ids.next();
        let text = request_text_with_id(&id, &req.method, &req.params);
        pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, req.reply);
        if out.send(Outbound::Text(text)).await.is_err() {
            return;
        }
    }
}

/// Hands a response to the capability request it answers; false when it answers none.
pub(crate) fn answer_request(pending: &PendingRequests, response: &ResponseFrame) -> bool {
    let Some(reply) = pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&response.id)
    else {
        return false;
    };
    let result = if response.ok {
        Ok(response.payload.clone().unwrap_or(serde_json::Value::Null))
    } else {
        let error = response.error.clone();
        Err(openclaw_capability_api::GatewayError {
            code: error
                .as_ref()
                .map_or_else(|| "UNAVAILABLE".into(), |e| e.code.clone()),
            message: error.map(|e| e.message).unwrap_or_default(),
        })
    };
    let _ = reply.send(result);
    true
}

/// Splits `chunk` into pieces of at most `max` bytes on character boundaries.
pub(crate) fn split_chunk(chunk: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = chunk;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

/// How a call came out before its result is sent.
enum Run {
    /// The handler ran (or the command is unknown).
    Done(Result<String, CapabilityError>),
    /// The node-local command policy refused it (counted as a policy failure).
    RefusedByLocalPolicy(CapabilityError),
}

/// Everything a call task needs from its connection.
#[derive(Clone)]
pub(crate) struct Dispatcher {
    pub out: mpsc::Sender<Outbound>,
    pub surface: Arc<Surface>,
    pub calls: Arc<Mutex<HashMap<String, CancellationToken>>>,
    pub conn_cancel: CancellationToken,
    pub tracker: TaskTracker,
    pub ids: Arc<RequestIds>,
    pub metrics: Arc<Metrics>,
    pub events: EventSink,
    pub finished: Arc<AtomicU64>,
    pub last_activity: Arc<Mutex<Instant>>,
}

impl Dispatcher {
    /// Cancels an in-flight call on the gateway's request; no result is sent for it.
    pub(super) fn cancel(&self, invoke_id: &str) -> bool {
        let token = self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(invoke_id);
        match token {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Number of calls running now.
    pub(super) fn in_flight(&self) -> usize {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Starts serving one request in its own task. A request whose id is already running
    /// is dropped: the gateway keys results by id, so a replayed request must not run the
    /// command a second time, and the first call's one result answers it.
    pub(super) fn spawn(&self, req: NodeInvokeRequest, received: Instant) {
        let cancel = self.conn_cancel.child_token();
        {
            let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
            if calls.contains_key(&req.id) {
                tracing::warn!(id = %req.id, command = %req.command, "ignoring a duplicate of a running invoke");
                return;
            }
            calls.insert(req.id.clone(), cancel.clone());
        }
        *self.last_activity.lock().unwrap_or_else(|p| p.into_inner()) = received;
        let this = self.clone();
        // Attached to the future, so every line the call logs (here and in the
        // capability, across every await) carries its id and command.
        let span = tracing::info_span!("call", id = %req.id, command = %req.command);
        self.tracker
            .spawn(async move { this.serve(req, cancel, received).await }.instrument(span));
    }

    async fn serve(&self, req: NodeInvokeRequest, cancel: CancellationToken, received: Instant) {
        let started = Instant::now();
        tracing::debug!("call started");
        let (outcome, refused_locally) = match self.run(&req, cancel.clone()).await {
            Run::Done(outcome) => (outcome, false),
            Run::RefusedByLocalPolicy(e) => (Err(e), true),
        };
        let exec = started.elapsed();
        // Still registered = not cancelled by the gateway; a cancelled call sends nothing.
        let still_ours = self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&req.id)
            .is_some();
        let failure = match &outcome {
            Ok(_) => None,
            Err(_) if refused_locally => Some(FailureKind::Policy),
            Err(e) if e.code == ErrorCode::Timeout => Some(FailureKind::Timeout),
            Err(e) if e.code.is_denial() => Some(FailureKind::Policy),
            Err(_) => Some(FailureKind::Execution),
        };
        tracing::debug!(
            ok = outcome.is_ok(),
            exec_ms = exec.as_millis() as u64,
            "call finished"
        );
        self.metrics.call(
            &req.command,
            started.saturating_duration_since(received),
            exec,
            if still_ours {
                failure
            } else {
                Some(FailureKind::Network)
            },
        );
        if still_ours {
            let as_object = self
                .surface
                .handlers
                .get(&req.command)
                .is_some_and(|h| h.result_as_object());
            let result = invoke_result(&req, outcome, as_object);
            let text = request_text(&self.ids, methods::NODE_INVOKE_RESULT, &result);
            if self.out.send(Outbound::Text(text)).await.is_err() {
                tracing::debug!(id = %req.id, "connection closed before the result could be sent");
            }
        } else {
            tracing::debug!(id = %req.id, "call cancelled by the gateway; no result sent");
        }
        *self.last_activity.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.finished.fetch_add(1, Ordering::SeqCst);
    }

    async fn run(&self, req: &NodeInvokeRequest, cancel: CancellationToken) -> Run {
        let Some(handler) = self.surface.handlers.get(&req.command).cloned() else {
            if self.surface.denied.contains(&req.command) {
                tracing::info!(target: "audit", command = %req.command, id = %req.id, "refused: not allowed by the node-local command policy");
                return Run::RefusedByLocalPolicy(CapabilityError::unavailable(format!(
                    "command disabled by this node's local policy: {}",
                    req.command
                )));
            }
            return Run::Done(Err(CapabilityError::unavailable("command not supported")));
        };
        Run::Done(self.call(handler, req, cancel).await)
    }

    /// Runs the handler under the call's deadline, forwarding its progress.
    async fn call(
        &self,
        handler: Arc<dyn openclaw_capability_api::Handler>,
        req: &NodeInvokeRequest,
        cancel: CancellationToken,
    ) -> Result<String, CapabilityError> {
        let deadline = req
            .timeout_ms
            .filter(|ms| *ms > 0)
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let (progress_tx, progress_rx) = mpsc::channel::<String>(8);
        let forwarder = tokio::spawn(
            forward_progress(
                progress_rx,
                self.out.clone(),
                self.ids.clone(),
                req.id.clone(),
                req.node_id.clone(),
            )
            .in_current_span(),
        );
        let ctx = CallContext {
            invoke_id: req.id.clone(),
            deadline,
            cancel: cancel.clone(),
            progress: ProgressSink::new(progress_tx),
            events: self.events.clone(),
        };
        let call = AssertUnwindSafe(handler.call(req.params_json.clone(), ctx)).catch_unwind();
        tokio::pin!(call);
        let finished = match deadline {
            None => Some(call.as_mut().await),
            Some(at) => tokio::select! {
                r = call.as_mut() => Some(r),
                _ = tokio::time::sleep_until(at) => None,
            },
        };
        let result = match finished {
            Some(r) => r,
            None => {
                cancel.cancel();
                // Let the command clean up (kill its children) before it is dropped.
                let _ = tokio::time::timeout(CANCEL_GRACE, call.as_mut()).await;
                Ok(Err(CapabilityError::timeout(format!(
                    "node invoke timed out after {}ms",
                    req.timeout_ms.unwrap_or_default()
                ))))
            }
        };
        let _ = forwarder.await;
        match result {
            Ok(r) => r,
            Err(_) => {
                tracing::error!(command = %req.command, "a command handler panicked");
                Err(CapabilityError::unavailable("node invocation failed"))
            }
        }
    }
}

async fn forward_progress(
    mut rx: mpsc::Receiver<String>,
    out: mpsc::Sender<Outbound>,
    ids: Arc<RequestIds>,
    invoke_id: String,
    node_id: String,
) {
    let mut seq = 0u64;
    while let Some(chunk) = rx.recv().await {
        for piece in split_chunk(&chunk, MAX_PROGRESS_CHUNK_BYTES) {
            let params = NodeInvokeProgress {
                invoke_id: invoke_id.clone(),
                node_id: node_id.clone(),
                seq,
                chunk: piece.to_string(),
            };
            seq += 1;
            let text = request_text(&ids, methods::NODE_INVOKE_PROGRESS, &params);
            if out.send(Outbound::Text(text)).await.is_err() {
                return;
            }
        }
    }
}

/// The `node.invoke.result` of a call: the result as `payloadJSON` text, or as a
/// `payload` object when the handler asks for it (`mcp.tools.call.v1`, parity §1), or the
/// error.
fn invoke_result(
    req: &NodeInvokeRequest,
    outcome: Result<String, CapabilityError>,
    as_object: bool,
) -> NodeInvokeResult {
    let (ok, payload, payload_json, error) = match outcome {
        Ok(text) if as_object => match serde_json::from_str(&text) {
            Ok(value) => (true, Some(value), None, None),
            Err(_) => (true, None, Some(text), None),
        },
        Ok(text) => (true, None, Some(text), None),
        Err(e) => (
            false,
            None,
            None,
            Some(InvokeError {
                code: Some(e.code.as_str().to_string()),
                message: Some(e.message),
                details: e.details,
            }),
        ),
    };
    NodeInvokeResult {
        id: req.id.clone(),
        node_id: req.node_id.clone(),
        ok,
        payload,
        payload_json,
        error,
    }
}

/// Forwards capability events as `node.event` requests until the sender side is gone.
pub(crate) async fn forward_events(
    mut rx: mpsc::UnboundedReceiver<NodeEvent>,
    out: mpsc::Sender<Outbound>,
    ids: Arc<RequestIds>,
) {
    while let Some(ev) = rx.recv().await {
        let params = NodeEventParams {
            event: ev.event,
            payload: None,
            payload_json: Some(ev.payload.to_string()),
        };
        let text = request_text(&ids, methods::NODE_EVENT, &params);
        if out.send(Outbound::Text(text)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_on_char_boundaries() {
        assert_eq!(split_chunk("", 4), vec![""]);
        assert_eq!(split_chunk("abcdefgh", 4), vec!["abcd", "efgh"]);
        assert_eq!(split_chunk("abcdefghi", 4), vec!["abcd", "efgh", "i"]);
        let s = "ééééé"; // 2 bytes each
        let pieces = split_chunk(s, 3);
        assert!(pieces.iter().all(|p| p.len() <= 3));
        assert_eq!(pieces.concat(), s);
    }

    #[test]
    fn request_frames_are_well_formed() {
        let ids = RequestIds::default();
        let text = request_text(
            &ids,
            "node.invoke.result",
            &NodeInvokeResult {
                id: "i".into(),
                node_id: "n".into(),
                ok: true,
                payload: None,
                payload_json: Some("{}".into()),
                error: None,
            },
        );
        assert_eq!(
            text,
            r#"{"type":"req","id":"n0","method":"node.invoke.result","params":{"id":"i","nodeId":"n","ok":true,"payloadJSON":"{}"}}"#
        );
        assert_eq!(ids.next(), "n1");
    }

    #[test]
    fn results_go_as_payload_json_or_as_a_payload_object() {
        let req: NodeInvokeRequest = serde_json::from_value(serde_json::json!({
            "id": "i", "nodeId": "n", "command": "mcp.tools.call.v1"
        }))
        .unwrap();
        let frame = |outcome, as_object| {
            request_text_with_id(
                "r",
                methods::NODE_INVOKE_RESULT,
                &invoke_result(&req, outcome, as_object),
            )
        };
        assert_eq!(
            frame(Ok(r#"{"content":[]}"#.into()), true),
            r#"{"type":"req","id":"r","method":"node.invoke.result","params":{"id":"i","nodeId":"n","ok":true,"payload":{"content":[]}}}"#
        );
        assert_eq!(
            frame(Ok(r#"{"a":1}"#.into()), false),
            r#"{"type":"req","id":"r","method":"node.invoke.result","params":{"id":"i","nodeId":"n","ok":true,"payloadJSON":"{\"a\":1}"}}"#
        );
        let err = CapabilityError::unavailable("down");
        assert_eq!(
            frame(Err(err), true),
            r#"{"type":"req","id":"r","method":"node.invoke.result","params":{"id":"i","nodeId":"n","ok":false,"error":{"code":"UNAVAILABLE","message":"down"}}}"#
        );
    }
}

#[cfg(test)]
mod span_tests {
    //! Every line a call logs — the dispatcher's and the capability's own — carries the
    //! call's id and command (issue 16: the span used to be entered and dropped).

    use super::*;
    use openclaw_capability_api::{Command, erase};

    /// Logs from inside the command, after an await.
    struct Chatty;

    impl Command for Chatty {
        type Params = serde_json::Value;
        type Output = serde_json::Value;
        fn name(&self) -> &'static str {
            "test.chatty"
        }
        async fn run(
            &self,
            p: serde_json::Value,
            _: CallContext,
        ) -> Result<serde_json::Value, CapabilityError> {
            tokio::task::yield_now().await;
            tracing::debug!("inside the command");
            Ok(p)
        }
    }

    #[tokio::test]
    async fn every_debug_line_of_a_call_carries_its_id_and_command() {
        let (logs, _guard) = crate::test_log::CapturedLog::start();
        let (out, mut sent) = mpsc::channel(8);
        let mut surface = Surface::default();
        surface.handlers.insert("test.chatty".into(), erase(Chatty));
        let dispatcher = Dispatcher {
            out,
            surface: Arc::new(surface),
            calls: Arc::new(Mutex::new(HashMap::new())),
            conn_cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            ids: Arc::new(RequestIds::default()),
            metrics: Arc::new(Metrics::default()),
            events: EventSink::disabled(),
            finished: Arc::new(AtomicU64::new(0)),
            last_activity: Arc::new(Mutex::new(Instant::now())),
        };
        dispatcher.spawn(
            NodeInvokeRequest {
                id: "call-7".into(),
                node_id: "n".into(),
                command: "test.chatty".into(),
                params_json: Some("{}".into()),
                timeout_ms: Some(5_000),
                idempotency_key: None,
            },
            Instant::now(),
        );
        let Some(Outbound::Text(result)) = sent.recv().await else {
            panic!("no result sent")
        };
        assert!(result.contains(r#""ok":true"#), "{result}");
        dispatcher.tracker.close();
        dispatcher.tracker.wait().await;
        let text = logs.text();
        for message in ["call started", "inside the command", "call finished"] {
            let line = text
                .lines()
                .find(|l| l.contains(message))
                .unwrap_or_else(|| panic!("no {message:?} line in:\n{text}"));
            assert!(
                line.contains("DEBUG")
                    && line.contains("id=call-7")
                    && line.contains("command=test.chatty"),
                "{line}"
            );
        }
    }
}
