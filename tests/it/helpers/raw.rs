//! Raw-protocol clients: dial the gateway, read the challenge, and build valid (or
//! deliberately broken) node connect params, for the handshake and hostile tests.

use futures_util::StreamExt as _;
use openclaw_node::identity::{DeviceIdentity, SignaturePayload};
use openclaw_node::protocol::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{TOKEN, within};

/// A dialed WebSocket.
pub(crate) type Ws = openclaw_node::transport::WsStream;

pub(crate) async fn open(url: &str) -> (Ws, ConnectChallenge) {
    let mut ws = openclaw_node::transport::dial(url).await.unwrap();
    let challenge = loop {
        match within("the challenge", ws.next()).await.unwrap().unwrap() {
            Message::Text(t) => {
                if let Frame::Event(e) = Frame::parse(&t).unwrap()
                    && e.event == events::CONNECT_CHALLENGE
                {
                    break serde_json::from_value(e.payload.unwrap()).unwrap();
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    (ws, challenge)
}

/// Valid node connect params for `identity`, signed over `challenge`.
pub(crate) fn node_connect(identity: &DeviceIdentity, challenge: &ConnectChallenge) -> Value {
    node_connect_signed_by(identity, identity, challenge)
}

/// Node connect params that claim `identity` but carry a signature by `signer`.
pub(crate) fn node_connect_signed_by(
    identity: &DeviceIdentity,
    signer: &DeviceIdentity,
    challenge: &ConnectChallenge,
) -> Value {
    let scopes: Vec<String> = vec![];
    let payload = SignaturePayload {
        device_id: &identity.device_id(),
        client_id: CLIENT_ID_NODE_HOST,
        client_mode: CLIENT_MODE_NODE,
        role: ROLE_NODE,
        scopes: &scopes,
        signed_at_ms: challenge.ts,
        token: TOKEN,
        nonce: &challenge.nonce,
        platform: Some("linux"),
        device_family: Some("Linux"),
    }
    .v3();
    json!({
        "minProtocol": 3, "maxProtocol": 4,
        "client": {"id": "node-host", "version": "0.0.0-test", "platform": "linux",
                   "deviceFamily": "Linux", "mode": "node", "displayName": "raw"},
        "role": "node", "scopes": [], "caps": [], "commands": [],
        "auth": {"token": TOKEN},
        "device": {"id": identity.device_id(), "publicKey": identity.public_key(),
                   "signature": signer.sign(&payload), "signedAt": challenge.ts,
                   "nonce": challenge.nonce},
    })
}
