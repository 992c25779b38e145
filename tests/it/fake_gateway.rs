//! The node against a scripted fake gateway (a raw WebSocket server in the test): what
//! the node sends at connect, and how it handles frames a real gateway would not route
//! to it (unknown commands, invokes for another node, a silent link).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_capability_device::{DeviceCapability, DeviceConfig};
use openclaw_node::credentials::{CredentialStore, FileStore};
use openclaw_node::identity::{SignaturePayload, normalize_public_key, verify};
use openclaw_node::protocol::*;
use openclaw_node::session::SessionState;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

pub(crate) type ServerWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The device capability (its commands off) publishing host stats every `interval`.
fn host_stats_every(interval: Duration) -> DeviceCapability {
    DeviceCapability::new(DeviceConfig {
        enabled: false,
        state_dir: std::env::temp_dir(),
        app_version: "it".into(),
    })
    .with_host_stats(interval)
}

/// Accepts one node connection, completes the handshake with `tick_ms`, and returns the
/// socket and the node's connect params.
pub(crate) async fn accept_node(listener: &TcpListener, tick_ms: u64) -> (ServerWs, ConnectParams) {
    let (tcp, _) = within("the node to dial", listener.accept()).await.unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    let nonce = "fake-nonce-1";
    let ts = openclaw_node::now_ms();
    ws.send(Message::text(
        Frame::event(
            "connect.challenge",
            json!({"nonce": nonce, "ts": ts, "capabilities": ["x"]}),
        )
        .to_text(),
    ))
    .await
    .unwrap();
    let (id, params) = loop {
        let Some(Ok(Message::Text(t))) = within("connect", ws.next()).await else {
            panic!("no connect")
        };
        // The node must send a frame the gateway's strict validator accepts.
        if let Frame::Req(r) = Frame::parse_strict(&t).unwrap() {
            assert_eq!(r.method, "connect");
            let params: ConnectParams = serde_json::from_value(r.params.unwrap()).unwrap();
            break (r.id, params);
        }
    };
    let hello = json!({
        "type": "hello-ok", "protocol": 4,
        "server": {"version": "fake", "connId": "c-fake"},
        "features": {"methods": [], "events": []},
        "snapshot": {},
        "auth": {"role": "node", "scopes": [], "deviceToken": "fake-device-token", "issuedAtMs": ts},
        "policy": {"maxPayload": 26214400, "maxBufferedBytes": 52428800, "tickIntervalMs": tick_ms},
    });
    ws.send(Message::text(Frame::ok(id, hello).to_text()))
        .await
        .unwrap();
    (ws, params)
}

/// Reads frames until a `node.invoke.result` request arrives.
async fn next_result(ws: &mut ServerWs) -> Value {
    loop {
        let Some(Ok(Message::Text(t))) = within("a result", ws.next()).await else {
            panic!("connection ended")
        };
        if let Frame::Req(r) = Frame::parse(&t).unwrap()
            && r.method == "node.invoke.result"
        {
            return r.params.unwrap();
        }
    }
}

fn invoke(node_id: &str, id: &str, command: &str, params: Value) -> String {
    Frame::event(
        "node.invoke.request",
        json!({"id": id, "nodeId": node_id, "command": command, "paramsJSON": params.to_string(), "timeoutMs": 5000}),
    )
    .to_text()
}

#[tokio::test]
async fn connect_is_a_signed_closed_node_hello() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url).start();
    let (_ws, p) = accept_node(&listener, 30_000).await;
    assert_eq!((p.min_protocol, p.max_protocol), (3, 4));
    assert_eq!(p.client.id, "node-host");
    assert_eq!(p.client.mode, "node");
    assert_eq!(p.client.platform, "linux");
    assert_eq!(p.client.device_family.as_deref(), Some("Linux"));
    assert_eq!(p.role.as_deref(), Some("node"));
    assert_eq!(p.scopes.as_deref(), Some(&[][..]));
    let commands = p.commands.clone().unwrap();
    assert!(
        commands.contains(&"system.which".to_string()),
        "{commands:?}"
    );
    assert!(p.caps.clone().unwrap().contains(&"system".to_string()));
    assert_eq!(p.auth.as_ref().unwrap().token.as_deref(), Some(TOKEN));
    let device = p.device.clone().unwrap();
    assert_eq!(device.id, node.node_id);
    assert_eq!(device.nonce, "fake-nonce-1");
    let key = normalize_public_key(&device.public_key).unwrap();
    let payload = SignaturePayload {
        device_id: &device.id,
        client_id: "node-host",
        client_mode: "node",
        role: "node",
        scopes: &[],
        signed_at_ms: device.signed_at,
        token: TOKEN,
        nonce: &device.nonce,
        platform: Some("linux"),
        device_family: Some("Linux"),
    };
    assert!(
        verify(&key, &payload.v3(), &device.signature),
        "v3 signature does not verify"
    );
    node.wait_ready().await;
}

#[tokio::test]
async fn unknown_commands_are_unavailable_and_foreign_invokes_ignored() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url).start();
    let (mut ws, _) = accept_node(&listener, 30_000).await;
    node.wait_ready().await;
    let other = "f".repeat(64);
    ws.send(Message::text(invoke(
        &other,
        "for-someone-else",
        "test.echo",
        json!({"value": 1}),
    )))
    .await
    .unwrap();
    ws.send(Message::text(invoke(
        &node.node_id,
        "i1",
        "no.such.command",
        json!({}),
    )))
    .await
    .unwrap();
    let r = next_result(&mut ws).await;
    assert_eq!(r["id"], "i1", "the foreign invoke was answered: {r}");
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    assert_eq!(r["error"]["message"], "command not supported");
    assert!(
        r.get("payloadJSON").is_none(),
        "absent fields must be omitted: {r}"
    );
    // Still serving.
    ws.send(Message::text(invoke(
        &node.node_id,
        "i2",
        "test.echo",
        json!({"value": 2}),
    )))
    .await
    .unwrap();
    let r = next_result(&mut ws).await;
    assert_eq!(r["ok"], true);
    let payload: Value = serde_json::from_str(r["payloadJSON"].as_str().unwrap()).unwrap();
    assert_eq!(payload["value"], 2);
}

#[tokio::test]
async fn a_cancelled_call_sends_no_result() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url).start();
    let (mut ws, _) = accept_node(&listener, 30_000).await;
    node.wait_ready().await;
    ws.send(Message::text(invoke(
        &node.node_id,
        "slow",
        "test.sleep",
        json!({"ms": 60_000}),
    )))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    ws.send(Message::text(
        Frame::event(
            "node.invoke.cancel",
            json!({"invokeId": "slow", "nodeId": node.node_id}),
        )
        .to_text(),
    ))
    .await
    .unwrap();
    ws.send(Message::text(invoke(
        &node.node_id,
        "after",
        "test.echo",
        json!({"value": 3}),
    )))
    .await
    .unwrap();
    let r = next_result(&mut ws).await;
    assert_eq!(r["id"], "after", "the cancelled call sent a result: {r}");
}

#[tokio::test]
async fn a_silent_gateway_is_detected_by_the_tick_watchdog() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url).start();
    // Tick 1 s and then silence: the node gives up after 2 s and dials again.
    let (_silent, _) = accept_node(&listener, 1_000).await;
    node.wait_ready().await;
    node.wait_for("the watchdog to fire", |s| matches!(s, SessionState::BackingOff { last_error, .. } if last_error.contains("tick timeout")))
        .await;
    let (_again, _) = accept_node(&listener, 30_000).await;
    node.wait_ready().await;
}

#[tokio::test]
async fn the_device_token_from_hello_is_kept_and_presented_next_time() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url).no_token().start();
    let (ws, first) = accept_node(&listener, 30_000).await;
    assert!(
        first.auth.is_none(),
        "no credential to present yet: {:?}",
        first.auth
    );
    node.wait_ready().await;
    drop(ws);
    let (_ws, second) = accept_node(&listener, 30_000).await;
    let auth = second.auth.unwrap();
    assert_eq!(auth.device_token.as_deref(), Some("fake-device-token"));
    assert_eq!(auth.token.as_deref(), Some("fake-device-token"));
}

#[tokio::test]
async fn host_stats_arrive_on_connect_and_on_the_interval_and_a_refusal_breaks_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url)
        .state(dir, store)
        .caps(vec![
            Arc::new(TestCapability::default()),
            Arc::new(host_stats_every(Duration::from_millis(300))),
        ])
        .start();
    let (mut ws, _) = accept_node(&listener, 30_000).await;
    node.wait_ready().await;
    let mut samples = Vec::new();
    while samples.len() < 2 {
        let Some(Ok(Message::Text(t))) = within("host stats", ws.next()).await else {
            panic!("connection ended")
        };
        let Frame::Req(r) = Frame::parse(&t).unwrap() else {
            continue;
        };
        if r.method != "node.event" {
            continue;
        }
        let params = r.params.unwrap();
        assert_eq!(params["event"], "node.host.stats");
        let stats: Value = serde_json::from_str(params["payloadJSON"].as_str().unwrap()).unwrap();
        assert!(stats["cpuCount"].as_u64().unwrap() >= 1);
        assert!(
            stats["memoryFreeBytes"].as_u64().unwrap()
                <= stats["memoryTotalBytes"].as_u64().unwrap()
        );
        assert!(
            stats["diskAvailableBytes"].as_u64().unwrap()
                <= stats["diskTotalBytes"].as_u64().unwrap()
        );
        // Refuse it, as a gateway that does not know the event would.
        ws.send(Message::text(
            Frame::err(
                r.id,
                ErrorShape::new("INVALID_REQUEST", "unsupported event"),
            )
            .to_text(),
        ))
        .await
        .unwrap();
        samples.push(stats);
    }
    // The session is unharmed and still serves.
    ws.send(Message::text(invoke(
        &node.node_id,
        "e1",
        "test.echo",
        json!({"value": "still here"}),
    )))
    .await
    .unwrap();
    let r = next_result(&mut ws).await;
    assert_eq!(r["ok"], true);
    assert!(matches!(*node.state.borrow(), SessionState::Ready { .. }));
}
