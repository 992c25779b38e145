//! A real node in-process against the embedded gateway: pairing, invoke, timeouts,
//! reconnects, restarts, refusals.

use openclaw_node::operator::OperatorError;
use openclaw_node::session::{ApprovalKind, SessionError, SessionState};
use serde_json::json;

use crate::helpers::*;

fn gateway_error(e: OperatorError) -> openclaw_node::protocol::ErrorShape {
    match e {
        OperatorError::Gateway(shape) => shape,
        other => panic!("expected a gateway error, got {other:?}"),
    }
}

#[tokio::test]
async fn pairs_with_both_approvals_then_serves_system_which() {
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_for("the node to wait for device approval", |s| {
        matches!(
            s,
            SessionState::WaitingForApproval {
                what: ApprovalKind::Device,
                ..
            }
        )
    })
    .await;
    pair(&gw, &mut node, &op).await;

    let reply = op
        .node_invoke(
            &node.node_id,
            "system.which",
            json!({"bins": ["sh", "no-such-bin"]}),
            Some(5000),
        )
        .await
        .unwrap();
    let sh = reply.payload["bins"]["sh"].as_str().unwrap();
    assert!(sh.ends_with("/sh"), "{reply:?}");
    assert!(reply.payload["bins"].get("no-such-bin").is_none());
    assert_eq!(reply.node_id, node.node_id);
    let listed = op.node_list().await.unwrap();
    let me = listed
        .nodes
        .iter()
        .find(|n| n.node_id == node.node_id)
        .unwrap();
    assert!(me.connected && me.paired);
    assert!(me.commands.contains(&"system.which".to_string()));
}

#[tokio::test]
async fn invoke_timeout_reaches_the_operator_and_cancels_the_call_on_the_node() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    let err = op
        .node_invoke(
            &node.node_id,
            "test.sleep",
            json!({"ms": 60_000}),
            Some(300),
        )
        .await
        .unwrap_err();
    let shape = gateway_error(err);
    // As the real Gateway reports it: UNAVAILABLE carrying the node error TIMEOUT.
    assert_eq!(shape.code, "UNAVAILABLE", "{shape:?}");
    assert_eq!(shape.message, "TIMEOUT: node invoke timed out");
    assert_eq!(
        shape.details.as_ref().unwrap()["nodeError"]["code"],
        "TIMEOUT"
    );
    eventually("the node to cancel the timed-out call", || async {
        (node.test_capability().cancelled_sleeps() == 1).then_some(())
    })
    .await;
    // The node keeps serving.
    let reply = op
        .node_invoke(&node.node_id, "test.echo", json!({"value": 7}), Some(5000))
        .await
        .unwrap();
    assert_eq!(reply.payload["value"], 7);
}

#[tokio::test]
async fn reconnects_after_the_gateway_drops_every_connection() {
    let gw = TestGateway::start_auto_approve().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    gw.handle().drop_all_connections();
    node.wait_for("the node to notice the drop", |s| {
        !matches!(s, SessionState::Ready { .. })
    })
    .await;
    node.wait_ready().await;
    let op = gw.operator().await;
    let reply = op
        .node_invoke(
            &node.node_id,
            "test.echo",
            json!({"value": "again"}),
            Some(5000),
        )
        .await
        .unwrap();
    assert_eq!(reply.payload["value"], "again");
}

#[tokio::test]
async fn pairing_survives_a_gateway_restart_without_reapproval() {
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    pair(&gw, &mut node, &op).await;
    drop(op);
    let addr = gw.handle().local_addr();
    let dir = gw.stop().await;
    node.wait_for("the node to notice the gateway stopped", |s| {
        !matches!(s, SessionState::Ready { .. })
    })
    .await;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let gw = TestGateway::start_on(listener, dir, |_| {}).await;
    node.wait_ready().await;
    let op = gw.operator().await;
    assert!(op.device_pair_list().await.unwrap().pending.is_empty());
    assert!(op.node_pair_list().await.unwrap().pending.is_empty());
    let reply = op
        .node_invoke(&node.node_id, "test.echo", json!({"value": 1}), Some(5000))
        .await
        .unwrap();
    assert_eq!(reply.payload["value"], 1);
}

#[tokio::test]
async fn undeclared_command_is_refused_by_the_gateway() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    let shape = gateway_error(
        op.node_invoke(&node.node_id, "system.nope", json!({}), Some(2000))
            .await
            .unwrap_err(),
    );
    assert_eq!(shape.code, "INVALID_REQUEST");
    assert!(
        shape.message.contains("node command not allowed"),
        "{shape:?}"
    );
}

#[tokio::test]
async fn params_of_the_wrong_type_are_invalid_request_from_the_node() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    let shape = gateway_error(
        op.node_invoke(
            &node.node_id,
            "system.which",
            json!({"bins": 5}),
            Some(2000),
        )
        .await
        .unwrap_err(),
    );
    let node_error = &shape.details.as_ref().unwrap()["nodeError"];
    assert_eq!(node_error["code"], "INVALID_REQUEST", "{shape:?}");
    // The reference node host's words, not the decoder's.
    assert_eq!(
        node_error["message"], "Error: INVALID_REQUEST: bins required",
        "{shape:?}"
    );
    // One bad call does not end the session.
    assert!(matches!(*node.state.borrow(), SessionState::Ready { .. }));
}

#[tokio::test]
async fn invoking_an_offline_node_is_not_connected() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    let id = node.node_id.clone();
    node.stop().await.unwrap();
    let shape = eventually("the gateway to see the node leave", || async {
        match op
            .node_invoke(&id, "test.echo", json!({"value": 1}), Some(2000))
            .await
        {
            Err(OperatorError::Gateway(s)) if s.detail_code() == Some("NOT_CONNECTED") => Some(s),
            _ => None,
        }
    })
    .await;
    assert_eq!(shape.code, "UNAVAILABLE");
}

#[tokio::test]
async fn wrong_shared_token_is_fatal_with_the_auth_exit_code() {
    let gw = TestGateway::start_auto_approve().await;
    let node = TestNode::builder(&gw.url).token("wrong-token").start();
    let err = node.join().await.unwrap_err();
    // The refusal the gateway gave, not any fatal error: a wrong shared token is
    // AUTH_TOKEN_MISMATCH with its advice, and exits with the auth code.
    match &err {
        SessionError::AuthRejected { code, advice, .. } => {
            assert_eq!(code, "AUTH_TOKEN_MISMATCH", "{err}");
            assert!(advice.contains("OPENCLAW_GATEWAY_TOKEN"), "{err}");
        }
        other => panic!("expected AuthRejected, got {other:?}"),
    }
    assert_eq!(
        openclaw_node::exit::for_session(&err),
        openclaw_node::exit::AUTH
    );
    assert!(
        !err.to_string().contains("wrong-token"),
        "the error leaks the token: {err}"
    );
}

#[tokio::test]
async fn graceful_shutdown_returns_shutdown() {
    let gw = TestGateway::start_auto_approve().await;
    let mut node = TestNode::builder(&gw.url).start();
    node.wait_ready().await;
    let exit = node.stop().await.unwrap();
    assert!(matches!(exit, openclaw_node::session::NodeExit::Shutdown));
}
