//! The operator client: what `openclaw-node devices|nodes`, the demo and the tests use to
//! drive a gateway as an operator (list and approve pairing requests, list, describe and
//! invoke nodes). It connects as a loopback backend client (`client.id` `gateway-client`,
//! mode `backend`) with the shared token or password and no device block, which both the
//! embedded gateway and the real one accept on loopback.
//!
//! One reader task routes responses to their callers by request id (many calls may be in
//! flight) and events to [`OperatorClient::next_event`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::*;
use crate::secret::Secret;

/// How to reach and authenticate to a gateway.
#[derive(Debug, Clone)]
pub struct OperatorOptions {
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// Shared token.
    pub token: Option<Secret>,
    /// Shared password.
    pub password: Option<Secret>,
    /// Scopes to ask for (default: all four operator scopes).
    pub scopes: Vec<String>,
    /// TLS config for `wss://` (`None` = native roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl OperatorOptions {
    /// Options for `url` with no credentials and every operator scope.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            password: None,
            scopes: vec![
                scopes::ADMIN.into(),
                scopes::READ.into(),
                scopes::WRITE.into(),
                scopes::PAIRING.into(),
            ],
            tls: None,
        }
    }
}

/// Why an operator call failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The gateway could not be reached.
    #[error(transparent)]
    Dial(#[from] crate::transport::DialError),
    /// The handshake failed before hello-ok.
    #[error("handshake with the gateway failed: {0}")]
    Handshake(String),
    /// The gateway answered with an error.
    #[error("{0}")]
    Gateway(ErrorShape),
    /// The connection is gone.
    #[error("the connection to the gateway closed")]
    Closed,
    /// No answer in time.
    #[error("no answer from the gateway to {0} in time")]
    Timeout(String),
    /// The answer was not what the method returns.
    #[error("unexpected answer to {method}: {reason}")]
    Decode {
        /// The method.
        method: String,
        /// Why.
        reason: String,
    },
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<ResponseFrame>>>>;

/// A connected operator.
pub struct OperatorClient {
    out: mpsc::Sender<Message>,
    pending: Pending,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<EventFrame>>,
    ids: AtomicU64,
    hello: HelloOk,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
}

impl Drop for OperatorClient {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl OperatorClient {
    /// Connects and completes the handshake.
    pub async fn connect(opts: OperatorOptions) -> Result<OperatorClient, OperatorError> {
        let url = crate::transport::normalize_url(&opts.url)?;
        let ws = crate::transport::dial_with(&url, opts.tls.clone()).await?;
        let (mut sink, mut stream) = ws.split();
        let read_frame = async |stream: &mut futures_util::stream::SplitStream<
            crate::transport::WsStream,
        >|
               -> Result<Frame, OperatorError> {
            loop {
                match stream.next().await {
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(f) = Frame::parse(&t) {
                            return Ok(f);
                        }
                    }
                    Some(Ok(Message::Close(f))) => {
                        return Err(OperatorError::Handshake(format!(
                            "closed by the gateway{}",
                            f.map(|f| format!(" ({}: {})", u16::from(f.code), f.reason))
                                .unwrap_or_default()
                        )));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(OperatorError::Handshake(e.to_string())),
                    None => return Err(OperatorError::Closed),
                }
            }
        };
        let challenge = tokio::time::timeout(CHALLENGE_TIMEOUT, async {
            loop {
                if let Frame::Event(e) = read_frame(&mut stream).await?
                    && e.event == events::CONNECT_CHALLENGE
                {
                    return Ok::<_, OperatorError>(e);
                }
            }
        })
        .await
        .map_err(|_| OperatorError::Timeout("connect.challenge".into()))??;
        let _ = challenge;
        let mut auth = serde_json::Map::new();
        if let Some(t) = &opts.token {
            auth.insert("token".into(), json!(t.expose()));
        }
        if let Some(p) = &opts.password {
            auth.insert("password".into(), json!(p.expose()));
        }
        let mut params = json!({
            "minProtocol": MIN_NODE_PROTOCOL_VERSION,
            "maxProtocol": PROTOCOL_VERSION,
            "client": {"id": "gateway-client", "version": crate::VERSION,
                       "platform": std::env::consts::OS, "mode": "backend",
                       "displayName": "openclaw-node operator"},
            "role": ROLE_OPERATOR,
            "scopes": opts.scopes,
        });
        if !auth.is_empty() {
            params["auth"] = Value::Object(auth);
        }
        sink.send(Message::text(
            Frame::request("connect", methods::CONNECT, params).to_text(),
        ))
        .await
        .map_err(|e| OperatorError::Handshake(e.to_string()))?;
        let response = tokio::time::timeout(REQUEST_TIMEOUT, async {
            loop {
                if let Frame::Res(r) = read_frame(&mut stream).await?
                    && r.id == "connect"
                {
                    return Ok::<_, OperatorError>(r);
                }
            }
        })
        .await
        .map_err(|_| OperatorError::Timeout("connect".into()))??;
        if !response.ok {
            return Err(OperatorError::Gateway(response.error.unwrap_or_else(
                || ErrorShape::new("UNAVAILABLE", "connect refused without a reason"),
            )));
        }
        let hello: HelloOk = serde_json::from_value(response.payload.unwrap_or_default())
            .map_err(|e| OperatorError::Handshake(format!("unreadable hello-ok: {e}")))?;

        let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
        let writer = tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let reader_pending = pending.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                match Frame::parse(&text) {
                    Ok(Frame::Res(r)) => {
                        let waiter = reader_pending
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&r.id);
                        if let Some(w) = waiter {
                            let _ = w.send(r);
                        }
                    }
                    Ok(Frame::Event(e)) => {
                        let _ = ev_tx.send(e);
                    }
                    _ => {}
                }
            }
            reader_pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        });
        Ok(OperatorClient {
            out: out_tx,
            pending,
            events: tokio::sync::Mutex::new(ev_rx),
            ids: AtomicU64::new(1),
            hello,
            reader,
            writer,
        })
    }

    /// The gateway's hello-ok.
    pub fn hello(&self) -> &HelloOk {
        &self.hello
    }

    /// The next event the gateway sent (pairing requests, ticks …); `None` once closed.
    pub async fn next_event(&self) -> Option<EventFrame> {
        self.events.lock().await.recv().await
    }

    /// Calls a method and waits up to `timeout` for its result.
    pub async fn call_with_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, OperatorError> {
        let id = format!("op{}", self.ids.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), tx);
        let frame = Frame::request(id.clone(), method, params);
        if self.out.send(Message::text(frame.to_text())).await.is_err() {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            return Err(OperatorError::Closed);
        }
        let response = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => return Err(OperatorError::Closed),
            Err(_) => {
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                return Err(OperatorError::Timeout(method.to_string()));
            }
        };
        if response.ok {
            Ok(response.payload.unwrap_or(Value::Null))
        } else {
            Err(OperatorError::Gateway(response.error.unwrap_or_else(
                || ErrorShape::new("UNAVAILABLE", "request failed without a reason"),
            )))
        }
    }

    /// Calls a method with the default request timeout.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, OperatorError> {
        self.call_with_timeout(method, params, REQUEST_TIMEOUT)
            .await
    }

    async fn typed<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, OperatorError> {
        let v = self.call(method, params).await?;
        serde_json::from_value(v).map_err(|e| OperatorError::Decode {
            method: method.into(),
            reason: e.to_string(),
        })
    }

    /// `device.pair.list`.
    pub async fn device_pair_list(&self) -> Result<DevicePairList, OperatorError> {
        self.typed(methods::DEVICE_PAIR_LIST, json!({})).await
    }

    /// `device.pair.approve`.
    pub async fn device_pair_approve(&self, request_id: &str) -> Result<Value, OperatorError> {
        self.call(
            methods::DEVICE_PAIR_APPROVE,
            json!({"requestId": request_id}),
        )
        .await
    }

    /// `device.pair.reject`.
    pub async fn device_pair_reject(&self, request_id: &str) -> Result<Value, OperatorError> {
        self.call(
            methods::DEVICE_PAIR_REJECT,
            json!({"requestId": request_id}),
        )
        .await
    }

    /// `device.pair.remove`.
    pub async fn device_pair_remove(&self, device_id: &str) -> Result<Value, OperatorError> {
        self.call(methods::DEVICE_PAIR_REMOVE, json!({"deviceId": device_id}))
            .await
    }

    /// `node.pair.list`.
    pub async fn node_pair_list(&self) -> Result<NodePairList, OperatorError> {
        self.typed(methods::NODE_PAIR_LIST, json!({})).await
    }

    /// `node.pair.approve`.
    pub async fn node_pair_approve(&self, request_id: &str) -> Result<Value, OperatorError> {
        self.call(methods::NODE_PAIR_APPROVE, json!({"requestId": request_id}))
            .await
    }

    /// `node.pair.reject`.
    pub async fn node_pair_reject(&self, request_id: &str) -> Result<Value, OperatorError> {
        self.call(methods::NODE_PAIR_REJECT, json!({"requestId": request_id}))
            .await
    }

    /// `node.list`.
    pub async fn node_list(&self) -> Result<NodeListResult, OperatorError> {
        self.typed(methods::NODE_LIST, json!({})).await
    }

    /// `node.describe`.
    pub async fn node_describe(&self, node_id: &str) -> Result<NodeSummary, OperatorError> {
        self.typed(methods::NODE_DESCRIBE, json!({"nodeId": node_id}))
            .await
    }

    /// `node.invoke`: waits for the node's result (the gateway's budget plus a margin).
    pub async fn node_invoke(
        &self,
        node_id: &str,
        command: &str,
        params: Value,
        timeout_ms: Option<u64>,
    ) -> Result<NodeInvokeResponse, OperatorError> {
        let mut p = json!({
            "nodeId": node_id,
            "command": command,
            "params": params,
            "idempotencyKey": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(ms) = timeout_ms {
            p["timeoutMs"] = json!(ms);
        }
        let budget = Duration::from_millis(timeout_ms.unwrap_or(DEFAULT_INVOKE_TIMEOUT_MS))
            + Duration::from_secs(5);
        let v = self
            .call_with_timeout(methods::NODE_INVOKE, p, budget)
            .await?;
        serde_json::from_value(v).map_err(|e| OperatorError::Decode {
            method: methods::NODE_INVOKE.into(),
            reason: e.to_string(),
        })
    }
}
