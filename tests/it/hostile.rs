//! Hostile peers: the embedded gateway keeps serving while idle sockets, a slowloris
//! client and garbage frames hang around; the node keeps serving while a gateway sends it
//! garbage.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_node::protocol::*;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// A raw operator socket past its hello-ok.
async fn operator_socket(url: &str) -> Ws {
    let mut ws = openclaw_node::transport::dial(url).await.unwrap();
    let _challenge = within("challenge", ws.next()).await;
    let connect = Frame::request(
        "c",
        "connect",
        json!({"minProtocol": 4, "maxProtocol": 4,
               "client": {"id": "gateway-client", "version": "t", "platform": "linux", "mode": "backend"},
               "role": "operator", "scopes": ["operator.admin"], "auth": {"token": TOKEN}}),
    );
    ws.send(Message::text(connect.to_text())).await.unwrap();
    let hello = within("hello", ws.next()).await;
    assert!(matches!(hello, Some(Ok(Message::Text(_)))), "{hello:?}");
    ws
}

/// Sends `frames`, then a sentinel `node.list` with id "end", and returns every response
/// received before the sentinel's, by id (the gateway answers these methods in order).
async fn responses_to(ws: &mut Ws, frames: &[String]) -> Vec<ResponseFrame> {
    for f in frames {
        ws.send(Message::text(f.clone())).await.unwrap();
    }
    ws.send(Message::text(
        Frame::request("end", "node.list", json!({})).to_text(),
    ))
    .await
    .unwrap();
    let mut got = Vec::new();
    within("the sentinel's answer", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(Frame::Res(r)) = Frame::parse(&t) {
                        if r.id == "end" {
                            assert!(r.ok, "{r:?}");
                            return;
                        }
                        got.push(r);
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        }
    })
    .await;
    got
}

fn error_of<'a>(got: &'a [ResponseFrame], id: &str) -> &'a ErrorShape {
    let mine: Vec<_> = got.iter().filter(|r| r.id == id).collect();
    assert_eq!(mine.len(), 1, "answers to {id}: {mine:?}");
    assert!(!mine[0].ok, "{id} succeeded: {:?}", mine[0]);
    mine[0].error.as_ref().unwrap()
}

/// The request-head deadline of the slowloris test: short, so the test is quick, and long
/// enough that the node pairs and serves while the slowloris still hangs on.
const HEAD_DEADLINE: Duration = Duration::from_millis(1500);

/// 1,000 connections that never speak and a slowloris that sends its request head a byte
/// at a time: a node still pairs and serves meanwhile, and the gateway closes the
/// slowloris when its head deadline passes (it does not wait for it forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_and_a_slowloris_do_not_stop_the_gateway() {
    let gw = TestGateway::start_with(|c| {
        c.auto_approve_devices = true;
        c.auto_approve_commands = true;
        c.request_head_timeout = HEAD_DEADLINE;
    })
    .await;
    let addr = gw.handle().local_addr();
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let slowloris = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
            .iter()
            .chain(std::iter::repeat(&b'a'));
        for b in head {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            let mut probe = [0u8; 1];
            // A read of 0 bytes (or an error) means the gateway hung up.
            match tokio::time::timeout(Duration::from_millis(200), slow.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                _ => {}
            }
        }
        started.elapsed()
    });
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    let reply = op
        .node_invoke(&node.node_id, "test.echo", json!({"value": 1}), Some(5000))
        .await
        .unwrap();
    assert_eq!(reply.payload["value"], 1);
    let lasted = within("the slowloris to be cut off", slowloris)
        .await
        .unwrap();
    // Cut off at the deadline, give or take a probe interval (200 ms) and scheduling.
    assert!(
        lasted >= HEAD_DEADLINE - Duration::from_millis(100)
            && lasted < HEAD_DEADLINE + Duration::from_secs(3),
        "the slowloris lasted {lasted:?} (head deadline {HEAD_DEADLINE:?})"
    );
    drop(idle);
}

#[tokio::test]
async fn garbage_after_hello_is_ignored_by_the_gateway() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    // A raw operator socket that sends garbage after a valid hello.
    let mut ws = operator_socket(&gw.url).await;
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
    let mut node = TestNode::builder(&url).start();
    let mut ws = fake_hello(&listener).await;
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

/// Well-formed frames with hostile content, as an operator: each gets its own precise
/// error; frames without an id get none (there is nothing to answer); the same
/// connection then answers normally.
#[tokio::test]
async fn hostile_operator_requests_get_precise_errors_on_a_live_connection() {
    let gw = TestGateway::start_auto_approve().await;
    let mut ws = operator_socket(&gw.url).await;
    let frames: Vec<String> = vec![
        // No answer possible: not objects, or no usable id.
        "42".into(),
        "null".into(),
        "\"req\"".into(),
        r#"{"type":"req","id":7,"method":"node.list"}"#.into(),
        r#"{"type":"req","method":"node.list"}"#.into(),
        // Answerable, each with its reason.
        r#"{"type":"req","id":"unknown","method":"no.such.method","params":{}}"#.into(),
        r#"{"type":"req","id":"types","method":"node.invoke","params":{"nodeId":5,"command":[]}}"#
            .into(),
        r#"{"type":"req","id":"role","method":"node.invoke.result","params":{}}"#.into(),
        format!(
            r#"{{"type":"req","id":"huge","method":"node.pair.approve","params":{{"requestId":"{}"}}}}"#,
            "r".repeat(2_000_000)
        ),
        // The same id twice: two independent answers.
        r#"{"type":"req","id":"dup","method":"node.list","params":{}}"#.into(),
        r#"{"type":"req","id":"dup","method":"node.list","params":{}}"#.into(),
    ];
    let got = responses_to(&mut ws, &frames).await;
    let unknown = error_of(&got, "unknown");
    assert_eq!(unknown.code, "INVALID_REQUEST");
    assert_eq!(unknown.message, "unknown method: no.such.method");
    let types = error_of(&got, "types");
    assert_eq!(types.code, "INVALID_REQUEST");
    assert!(
        types.message.starts_with("invalid node.invoke params"),
        "{types:?}"
    );
    let role = error_of(&got, "role");
    assert_eq!(role.message, "unauthorized role: operator");
    let huge = error_of(&got, "huge");
    assert_eq!(huge.code, "INVALID_REQUEST");
    assert!(huge.message.len() < 1000, "the error echoes the input");
    let dups: Vec<_> = got.iter().filter(|r| r.id == "dup").collect();
    assert_eq!(dups.len(), 2);
    assert!(dups.iter().all(|r| r.ok));
    // Nothing else was answered: the five unanswerable frames produced no response.
    assert_eq!(got.len(), 6, "{got:?}");
}

/// As a node: results for invokes that do not exist, or that claim another node, and
/// oversized progress chunks are refused or ignored precisely; an operator method is
/// refused for the node role.
#[tokio::test]
async fn hostile_node_frames_get_precise_answers() {
    let gw = TestGateway::start_auto_approve().await;
    let (mut ws, challenge) = open(&gw.url).await;
    let identity = openclaw_node::identity::DeviceIdentity::generate();
    let node_id = identity.device_id();
    ws.send(Message::text(
        Frame::request("c1", "connect", node_connect(&identity, &challenge)).to_text(),
    ))
    .await
    .unwrap();
    let hello = within("hello", ws.next()).await;
    assert!(matches!(hello, Some(Ok(Message::Text(ref t))) if t.contains("hello-ok")));
    let result = |id: &str, invoke: &str, node: &str| {
        Frame::request(
            id,
            "node.invoke.result",
            json!({"id": invoke, "nodeId": node, "ok": true, "payloadJSON": "{}"}),
        )
        .to_text()
    };
    let frames = vec![
        result("unknown", "no-such-invoke", &node_id),
        result("other", "no-such-invoke", "someone-else"),
        Frame::request(
            "chunk",
            "node.invoke.progress",
            json!({"invokeId": "x", "nodeId": node_id, "seq": 1, "chunk": "c".repeat(1 << 20)}),
        )
        .to_text(),
        Frame::request("typed", "node.invoke.result", json!({"id": 1, "ok": "yes"})).to_text(),
    ];
    // The sentinel is an operator method: as a node it is refused, which is an answer too.
    for f in &frames {
        ws.send(Message::text(f.clone())).await.unwrap();
    }
    ws.send(Message::text(
        Frame::request("end", "node.list", json!({})).to_text(),
    ))
    .await
    .unwrap();
    let mut got = std::collections::HashMap::new();
    within("five answers", async {
        while got.len() < 5 {
            if let Some(Ok(Message::Text(t))) = ws.next().await
                && let Ok(Frame::Res(r)) = Frame::parse(&t)
            {
                got.insert(r.id.clone(), r);
            }
        }
    })
    .await;
    assert_eq!(
        got["unknown"].payload,
        Some(json!({"ok": true, "ignored": true}))
    );
    assert_eq!(
        got["other"].error.as_ref().unwrap().message,
        "nodeId mismatch"
    );
    assert_eq!(
        got["chunk"].error.as_ref().unwrap().message,
        "chunk too large"
    );
    let typed = got["typed"].error.as_ref().unwrap();
    assert_eq!(typed.code, "INVALID_REQUEST");
    assert_eq!(
        got["end"].error.as_ref().unwrap().message,
        "unauthorized role: node"
    );
}

/// A frame over the post-auth limit closes that connection with 1009; everyone else is
/// unaffected.
#[tokio::test]
async fn a_frame_over_the_payload_limit_closes_1009_and_the_gateway_keeps_serving() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    let mut ws = operator_socket(&gw.url).await;
    let huge = format!(
        r#"{{"type":"req","id":"x","method":"node.list","params":{{"pad":"{}"}}}}"#,
        "a".repeat(MAX_PAYLOAD_BYTES)
    );
    let _ = ws.send(Message::text(huge)).await;
    let close = within("the close", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    })
    .await;
    assert_eq!(close, Some(close_codes::TOO_LARGE));
    let reply = op
        .node_invoke(&node.node_id, "test.echo", json!({"value": 9}), Some(5000))
        .await
        .unwrap();
    assert_eq!(reply.payload["value"], 9);
}

/// A fake gateway on `listener` that has just sent hello-ok to the node that dialled it.
async fn fake_hello(
    listener: &TcpListener,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
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
    ws
}

/// A gateway (broken or hostile) that sends the same invoke twice while the first runs:
/// the command runs once and exactly one result goes back for that id.
#[tokio::test]
async fn a_duplicated_invoke_runs_once_and_is_answered_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let mut node = TestNode::builder(&url).exec_full().start();
    let mut ws = fake_hello(&listener).await;
    node.wait_ready().await;
    let script = format!("echo ran >> '{}'; sleep 1", ran.display());
    let params = json!({"command": ["sh", "-c", script]}).to_string();
    let req =
        json!({"id": "dup", "nodeId": node.node_id, "command": "system.run", "paramsJSON": params});
    for _ in 0..2 {
        ws.send(Message::text(
            Frame::event("node.invoke.request", req.clone()).to_text(),
        ))
        .await
        .unwrap();
    }
    let mut results = Vec::new();
    // Collect results until well after the command's one second.
    let _ = tokio::time::timeout(Duration::from_secs(4), async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg
                && let Ok(Frame::Req(r)) = Frame::parse(&t)
                && r.method == "node.invoke.result"
            {
                results.push(r.params.unwrap());
            }
        }
    })
    .await;
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["id"], "dup");
    assert_eq!(results[0]["ok"], true);
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "ran\n");
}

/// A frame over the payload limit from the gateway: the node drops that connection (it
/// cannot trust the stream after it) and dials again.
#[tokio::test]
async fn an_oversized_frame_from_the_gateway_makes_the_node_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url).start();
    let mut ws = fake_hello(&listener).await;
    node.wait_ready().await;
    let huge = format!(
        r#"{{"type":"event","event":"tick","payload":{{"pad":"{}"}}}}"#,
        "a".repeat(MAX_PAYLOAD_BYTES)
    );
    let _ = ws.send(Message::text(huge)).await;
    // The node dials again and completes a new handshake.
    let _again = fake_hello(&listener).await;
    node.wait_ready().await;
}
