//! The client side of the handshake (spec §4, §6), shared by the node's session, its
//! `doctor` probe and the operator client: wait for `connect.challenge`, send the
//! `connect` the caller builds from it, read `hello-ok` or the refusal. Every way it can
//! fail is a [`HandshakeError`] variant the caller branches on; nothing here matches on
//! message text except [`close_rejects_device_token`], the one wire signal that is text.
//!
//! Generic over the socket (any `Stream + Sink` of WebSocket messages), so it is tested
//! over `tokio::io::duplex` against the embedded gateway's admission code, with no network.

use std::time::Duration;

use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::protocol::*;

/// The request id of `connect` (one per connection, so a constant).
pub const CONNECT_REQUEST_ID: &str = "connect";

/// The text by which a gateway says it refused a device token when it closes instead of
/// answering (spec §8: "close 1008 whose reason contains `device token mismatch`").
pub const DEVICE_TOKEN_MISMATCH_TEXT: &str = "device token mismatch";

/// Whether a close reason says the gateway refused the device token (spec §8).
pub fn close_rejects_device_token(reason: &str) -> bool {
    reason.contains(DEVICE_TOKEN_MISMATCH_TEXT)
}

/// How long each stage may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeTimeouts {
    /// From the open socket to `connect.challenge`.
    pub challenge: Duration,
    /// From `connect` sent to its response.
    pub response: Duration,
}

impl Default for HandshakeTimeouts {
    fn default() -> Self {
        Self {
            challenge: CHALLENGE_TIMEOUT,
            response: REQUEST_TIMEOUT,
        }
    }
}

/// A stage of the handshake (where a timeout or an I/O error happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for `connect.challenge`.
    Challenge,
    /// Sending `connect`.
    Connect,
    /// Waiting for the answer to `connect`.
    Response,
}

/// Why a handshake did not end in hello-ok.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HandshakeError {
    /// The gateway answered `connect` with an error (pairing, credentials, protocol …).
    #[error("the gateway refused the connection: {0}")]
    Refused(ErrorShape),
    /// The gateway refused the device token (`AUTH_DEVICE_TOKEN_MISMATCH`, or a close whose
    /// reason says so): the stored token is stale.
    #[error("the gateway refused the device token: {message}")]
    DeviceTokenRejected {
        /// The gateway's message or close reason.
        message: String,
        /// The refusal, when the gateway answered rather than closed.
        error: Option<ErrorShape>,
    },
    /// The gateway closed the socket (with a close frame, or without one: `code: None`).
    #[error("{}", closed_text(*code, reason))]
    Closed {
        /// The close code, when a close frame came.
        code: Option<u16>,
        /// The close reason (may be empty).
        reason: String,
    },
    /// The socket ended with no close frame.
    #[error("the gateway closed the connection")]
    Ended,
    /// A stage took longer than its timeout.
    #[error("{}", timeout_text(*stage, *after))]
    Timeout {
        /// The stage.
        stage: Stage,
        /// Its timeout.
        after: Duration,
    },
    /// The challenge had an empty nonce (the socket is closed 1008).
    #[error("the gateway's challenge had no nonce")]
    NoNonce,
    /// `connect` succeeded but its payload is not a hello-ok.
    #[error("unreadable hello-ok: {0}")]
    BadHello(String),
    /// The socket failed.
    #[error("{}", io_text(*stage, reason))]
    Io {
        /// The stage.
        stage: Stage,
        /// The transport's error.
        reason: String,
    },
}

fn closed_text(code: Option<u16>, reason: &str) -> String {
    match code {
        Some(c) if !reason.is_empty() => format!("closed by the gateway ({c}: {reason})"),
        Some(c) => format!("closed by the gateway ({c})"),
        None => "closed by the gateway".into(),
    }
}

fn timeout_text(stage: Stage, after: Duration) -> String {
    match stage {
        Stage::Challenge => format!("no connect.challenge within {}s", after.as_secs()),
        Stage::Connect | Stage::Response => {
            format!("no answer to connect within {}s", after.as_secs())
        }
    }
}

fn io_text(stage: Stage, reason: &str) -> String {
    match stage {
        Stage::Connect => format!("could not send connect: {reason}"),
        Stage::Challenge | Stage::Response => format!("connection error: {reason}"),
    }
}

/// What a completed handshake established.
#[derive(Debug, Clone, PartialEq)]
pub struct Established {
    /// The challenge the connect answered (its `ts` is the gateway clock).
    pub challenge: ConnectChallenge,
    /// The gateway's hello-ok.
    pub hello: HelloOk,
}

/// A close frame as [`HandshakeError`] sees it.
pub fn closed(frame: Option<&CloseFrame>) -> HandshakeError {
    let Some(f) = frame else {
        return HandshakeError::Closed {
            code: None,
            reason: String::new(),
        };
    };
    let error = HandshakeError::Closed {
        code: Some(u16::from(f.code)),
        reason: f.reason.to_string(),
    };
    if close_rejects_device_token(&f.reason) {
        return HandshakeError::DeviceTokenRejected {
            message: error.to_string(),
            error: None,
        };
    }
    error
}

/// Sends a close frame with `code` and `reason`.
pub async fn send_close<S>(ws: &mut S, code: u16, reason: &str) -> Result<(), WsError>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_string().into(),
    })))
    .await
}

/// Reads messages until `pick` takes one, the socket closes or fails.
async fn read_until<S, T>(
    ws: &mut S,
    stage: Stage,
    mut pick: impl FnMut(GatewayToNode) -> Option<T>,
) -> Result<T, HandshakeError>
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(text)) => match GatewayToNode::parse(&text) {
                Ok(m) => {
                    if let Some(v) = pick(m) {
                        return Ok(v);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "ignoring an unreadable frame"),
            },
            Ok(Message::Close(frame)) => return Err(closed(frame.as_ref())),
            Ok(_) => {}
            Err(e) => {
                return Err(HandshakeError::Io {
                    stage,
                    reason: e.to_string(),
                });
            }
        }
    }
    Err(HandshakeError::Ended)
}

/// Runs the handshake on an open socket: waits for the challenge, sends
/// `connect(challenge)`, and reads the answer. On a missing nonce or a challenge timeout
/// it closes the socket 1008 first, as the reference client does (spec §4).
pub async fn handshake<S>(
    ws: &mut S,
    timeouts: HandshakeTimeouts,
    connect: impl FnOnce(&ConnectChallenge) -> ConnectParams,
) -> Result<Established, HandshakeError>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    let challenge = tokio::time::timeout(
        timeouts.challenge,
        read_until(ws, Stage::Challenge, |m| match m {
            GatewayToNode::Challenge(c) => Some(c),
            _ => None,
        }),
    )
    .await;
    let challenge = match challenge {
        Ok(Ok(c)) if !c.nonce.is_empty() => c,
        Ok(Ok(_)) => {
            let _ = send_close(ws, close_codes::POLICY, "connect challenge missing nonce").await;
            return Err(HandshakeError::NoNonce);
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            let _ = send_close(ws, close_codes::POLICY, "connect challenge timeout").await;
            return Err(HandshakeError::Timeout {
                stage: Stage::Challenge,
                after: timeouts.challenge,
            });
        }
    };
    let request = NodeToGateway::Connect {
        id: CONNECT_REQUEST_ID.into(),
        params: Box::new(connect(&challenge)),
    };
    ws.send(Message::text(request.to_text()))
        .await
        .map_err(|e| HandshakeError::Io {
            stage: Stage::Connect,
            reason: e.to_string(),
        })?;
    let response = tokio::time::timeout(
        timeouts.response,
        read_until(ws, Stage::Response, |m| match m {
            GatewayToNode::Response(r) if r.id == CONNECT_REQUEST_ID => Some(r),
            _ => None,
        }),
    )
    .await
    .map_err(|_| HandshakeError::Timeout {
        stage: Stage::Response,
        after: timeouts.response,
    })??;
    if !response.ok {
        let error = response.error.unwrap_or_else(|| {
            ErrorShape::new(error_codes::UNAVAILABLE, "connect refused without a reason")
        });
        if error.detail_code() == Some(detail_codes::AUTH_DEVICE_TOKEN_MISMATCH) {
            return Err(HandshakeError::DeviceTokenRejected {
                message: error.message.clone(),
                error: Some(error),
            });
        }
        return Err(HandshakeError::Refused(error));
    }
    let payload = response
        .payload
        .ok_or_else(|| HandshakeError::BadHello("hello-ok without a payload".into()))?;
    let hello =
        serde_json::from_value(payload).map_err(|e| HandshakeError::BadHello(e.to_string()))?;
    Ok(Established { challenge, hello })
}
