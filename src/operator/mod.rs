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
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::*;
use crate::secret::Secret;
use crate::transport::handshake::{HandshakeError, HandshakeTimeouts, handshake};

/// `client.id` of the operator client (a loopback backend client).
const OPERATOR_CLIENT_ID: &str = "gateway-client";
/// `client.mode` of the operator client.
const OPERATOR_CLIENT_MODE: &str = "backend";

/// The operator's `connect` params: no device block, the shared credential, the scopes.
fn connect_params(opts: &OperatorOptions) -> ConnectParams {
    let auth = AuthParams {
        token: opts.token.as_ref().map(|t| t.expose().to_string()),
        password: opts.password.as_ref().map(|p| p.expose().to_string()),
        ..Default::default()
    };
    ConnectParams {
        min_protocol: MIN_NODE_PROTOCOL_VERSION,
        max_protocol: PROTOCOL_VERSION,
        client: ClientInfo {
            id: OPERATOR_CLIENT_ID.into(),
            display_name: Some("openclaw-node operator".into()),
            version: crate::VERSION.into(),
            platform: std::env::consts::OS.into(),
            device_family: None,
            model_identifier: None,
            mode: OPERATOR_CLIENT_MODE.into(),
            instance_id: None,
        },
        role: Some(ROLE_OPERATOR.into()),
        scopes: Some(opts.scopes.clone()),
        caps: None,
        commands: None,
        permissions: None,
        path_env: None,
        auth: Some(auth).filter(|a| *a != AuthParams::default()),
        device: None,
        locale: None,
        user_agent: None,
    }
}

/// Method params as the `params` of a request.
fn params<T: Serialize>(value: &T) -> Value {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_value(value).expect("method params serialise")
}

fn request_id_params(request_id: &str) -> RequestIdParams {
    RequestIdParams {
        request_id: request_id.into(),
    }
}

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
    /// The handshake failed before hello-ok (a refused `connect` is [`Self::Gateway`]).
    #[error("handshake with the gateway failed: {0}")]
    Handshake(HandshakeError),
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
        let mut ws = crate::transport::dial_with(&url, opts.tls.clone()).await?;
        let established = handshake(&mut ws, HandshakeTimeouts::default(), |_| {
            connect_params(&opts)
        })
        .await
        .map_err(|e| match e {
            HandshakeError::Refused(shape) => OperatorError::Gateway(shape),
            HandshakeError::Ended => OperatorError::Closed,
            other => OperatorError::Handshake(other),
        })?;
        let hello = established.hello;
        let (mut sink, mut stream) = ws.split();

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
        self.typed(methods::DEVICE_PAIR_LIST, params(&EmptyParams {}))
            .await
    }

    /// `device.pair.approve`.
    pub async fn device_pair_approve(&self, request_id: &str) -> Result<Value, OperatorError> {
        self.call(
            methods::DEVICE_PAIR_APPROVE,
            params(&request_id_params(request_id)),
        )
        .await
    }

    /// `device.pair.reject`.
    pub async fn device_pair_reject(&self, request_id: &str) -> Result<Value, OperatorError> {
        self.call(
            methods::DEVICE_PAIR_REJECT,
            params(&request_id_params(request_id)),
        )
        .await
    }

    /// `device.pair.remove`.
    pub async fn device_pair_remove(&self, device_id: &str) -> Result<Value, OperatorError> {
        self.call(
            methods::DEVICE_PAIR_REMOVE,
            params(&DeviceIdParams {
                device_id: device_id.into(),
            }),
        )
        .await
    }

    /// `node.pair.list`.
    pub async fn node_pair_list(&self) -> Result<NodePairList, OperatorError> {
        self.typed(methods::NODE_PAIR_LIST, params(&EmptyParams {}))
            .await
    }

    /// `node.pair.approve`.
    pub async fn node_pair_approve(&self, request_id: &str) -> Result<Value, OperatorError> {
        self.call(
            methods::NODE_PAIR_APPROVE,
            params(&request_id_params(request_id)),
        )
        .await
    }

    /// `node.pair.reject`.
    pub async fn node_pair_reject(&self, request_id: &str) -> Result<Value, OperatorError> {
        self.call(
            methods::NODE_PAIR_REJECT,
            params(&request_id_params(request_id)),
        )
        .await
    }

    /// `node.list`.
    pub async fn node_list(&self) -> Result<NodeListResult, OperatorError> {
        self.typed(methods::NODE_LIST, params(&EmptyParams {}))
            .await
    }

    /// `node.describe`.
    pub async fn node_describe(&self, node_id: &str) -> Result<NodeSummary, OperatorError> {
        self.typed(
            methods::NODE_DESCRIBE,
            params(&NodeIdParams {
                node_id: node_id.into(),
            }),
        )
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
        let p = self::params(&NodeInvokeParams {
            node_id: node_id.into(),
            command: command.into(),
            params: Some(params),
            timeout_ms,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            session_key: None,
        });
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
