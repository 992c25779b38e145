//! Hostile peers: the embedded gateway keeps serving while idle sockets, a slowloris
//! client and garbage frames hang around; the node keeps serving while a gateway sends it
//! garbage.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_node::protocol::*;
use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

#[tokio::test]
async fn idle_sockets_and_a_slowloris_do_not_stop_the_gateway() {
    let gw = TestGateway::start_auto_approve().await;
    let addr = gw.handle().local_addr();
    // 300 connections that never speak, and one that sends its request head a byte at a
    // time.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let slow_task = tokio::spawn(async move {
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\n" {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // Meanwhile a real node pairs and serves.
    let op = gw.operator().await;
    let mut node = TestNode::start(&gw.url);
    node.wait_ready().await;
    let reply = op
        .node_invoke(&node.node_id, "test.echo", json!({"value": 1}), Some(5000))
        .await
        .unwrap();
    assert_eq!(reply.payload["value"], 1);
    slow_task.abort();
    drop(idle);
}

#[tokio::test]
async fn garbage_after_hello_is_ignored_by_the_gateway() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let mut node = TestNode::start(&gw.url);
    node.wait_ready().await;
    // A raw operator socket that sends garbage after a valid hello.
    let mut ws = openclaw_node::transport::dial(&gw.url).await.unwrap();
    let _challenge = within("challenge", ws.next()).await;
    let connect = Frame::request(
        "c",
        "connect",
        json!({"minProtocol": 4, "maxProtocol": 4,
               "client": {"id": "gateway-client", "version": "t", "platform": "linux", "mode": "backend"},
               "role": "operator", "scopes": ["operator.admin"], "auth": {"token": TOKEN}}),
    );
    ws.send(Message::text(connect.to_text())).await.unwrap();
    let _hello = within("hello", ws.next()).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for frame in [
        "not json".to_string(),
        "[1,2,3]".into(),
        "{\"type\":\"req\"}".into(),
        deep,
        format!(
            "{{\"type\":\"req\",\"id\":\"x\",\"method\":\"node.list\",\"params\":{{\"pad\":\"{}\"}}}}",
            "a".repeat(1_000_000)
        ),
    ] {
        ws.send(Message::text(frame)).await.unwrap();
    }
    ws.send(Message::binary(vec![0u8; 1024])).await.unwrap();
    ws.send(Message::text(
        Frame::request("ok", "node.list", json!({})).to_text(),
    ))
    .await
    .unwrap();
    // The connection survives and answers the valid request.
    let answer = within("an answer to node.list", async {
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await
                && let Ok(Frame::Res(r)) = Frame::parse(&t)
                && r.id == "ok"
            {
                return r;
            }
        }
    })
    .await;
    assert!(answer.ok);
    // And everyone else is unaffected.
    let reply = op
        .node_invoke(&node.node_id, "test.echo", json!({"value": 2}), Some(5000))
        .await
        .unwrap();
    assert_eq!(reply.payload["value"], 2);
}

#[tokio::test]
async fn a_gateway_sending_garbage_does_not_stop_the_node() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::start(&url);
    let (tcp, _) = within("dial", listener.accept()).await.unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    let ts = openclaw_node::now_ms();
    ws.send(Message::text(
        Frame::event("connect.challenge", json!({"nonce": "n", "ts": ts})).to_text(),
    ))
    .await
    .unwrap();
    let _connect = within("connect", ws.next()).await;
    let hello = json!({"type": "hello-ok", "protocol": 4, "server": {"version": "x", "connId": "c"},
        "features": {}, "snapshot": {}, "auth": {"role": "node", "scopes": []},
        "policy": {"maxPayload": 26214400, "maxBufferedBytes": 52428800, "tickIntervalMs": 30000}});
    ws.send(Message::text(Frame::ok("connect", hello).to_text()))
        .await
        .unwrap();
    node.wait_ready().await;
    for frame in [
        "garbage",
        "{}",
        "{\"type\":\"event\",\"event\":\"node.invoke.request\",\"payload\":{\"id\":5}}",
        "{\"type\":\"event\",\"event\":\"node.invoke.request\",\"payload\":{\"id\":\"x\",\"nodeId\":\"other\",\"command\":\"test.echo\"}}",
        "{\"type\":\"res\",\"id\":\"unknown\",\"ok\":true}",
    ] {
        ws.send(Message::text(frame)).await.unwrap();
    }
    ws.send(Message::binary(vec![1u8; 64])).await.unwrap();
    let req = json!({"id": "good", "nodeId": node.node_id, "command": "test.echo", "paramsJSON": "{\"value\":3}"});
    ws.send(Message::text(
        Frame::event("node.invoke.request", req).to_text(),
    ))
    .await
    .unwrap();
    let result = within("the result of the valid invoke", async {
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await
                && let Ok(Frame::Req(r)) = Frame::parse(&t)
                && r.method == "node.invoke.result"
            {
                return r.params.unwrap();
            }
        }
    })
    .await;
    assert_eq!(result["id"], "good");
    assert_eq!(result["ok"], true);
    assert!(matches!(
        *node.state.borrow(),
        openclaw_node::session::SessionState::Ready { .. }
    ));
}
