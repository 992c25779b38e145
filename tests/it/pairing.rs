//! Pairing end to end against the embedded gateway with token auth: a setup code's
//! single-use bootstrap token through both approvals, its second use and its expiry, a
//! rejected request, and a revoked device.

use std::time::Duration;

use openclaw_node::protocol::setup_code::parse_setup_code;
use openclaw_node::session::{ApprovalKind, SessionError, SessionState};
use serde_json::json;

use crate::helpers::*;

fn bootstrap_node(url: &str, code: &str) -> TestNode {
    let setup = parse_setup_code(code).unwrap();
    TestNode::builder(url)
        .no_token()
        .options(|o| o.bootstrap_token = Some(setup.bootstrap_token.clone()))
        .start()
}

#[tokio::test]
async fn a_setup_code_pairs_through_both_approvals_once() {
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let code = gw.handle().mint_setup_code(&gw.url);
    let mut node = bootstrap_node(&gw.url, &code);
    node.wait_for("the device request", |s| {
        matches!(
            s,
            SessionState::WaitingForApproval {
                what: ApprovalKind::Device,
                request_id: Some(_)
            }
        )
    })
    .await;
    let id = node.node_id.clone();
    let req = device_request(&op, &id).await;
    op.device_pair_approve(&req).await.unwrap();
    // Resumes by itself: connected, with the command surface still pending.
    node.wait_for("the node to connect", |s| {
        matches!(
            s,
            SessionState::Ready {
                surface_approved: false,
                ..
            }
        )
    })
    .await;
    let req = surface_request(&op, &id).await;
    op.node_pair_approve(&req).await.unwrap();
    node.wait_for("the approval to reach the node", |s| {
        matches!(
            s,
            SessionState::Ready {
                surface_approved: true,
                ..
            }
        )
    })
    .await;
    let reply = op
        .node_invoke(&id, "system.which", json!({"bins": ["sh"]}), Some(5000))
        .await
        .unwrap();
    assert!(reply.payload["bins"]["sh"].is_string());

    // The code was used once: another device cannot use it.
    let other = bootstrap_node(&gw.url, &code);
    let err = other.join().await.unwrap_err();
    assert_eq!(
        openclaw_node::exit::for_session(&err),
        openclaw_node::exit::AUTH,
        "{err}"
    );
    assert!(
        err.to_string().contains("AUTH_BOOTSTRAP_TOKEN_INVALID"),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_setup_code_is_refused() {
    let gw = TestGateway::start().await;
    let code = gw
        .handle()
        .mint_setup_code_for(&gw.url, Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The node's own parser refuses the expired code before dialing …
    assert!(
        parse_setup_code(&code)
            .unwrap_err()
            .to_string()
            .contains("expired")
    );
    // … and the gateway refuses its token too.
    let raw = {
        use base64::Engine as _;
        let doc: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&code)
                .unwrap(),
        )
        .unwrap();
        doc["bootstrapToken"].as_str().unwrap().to_string()
    };
    let node = TestNode::builder(&gw.url)
        .no_token()
        .options(|o| o.bootstrap_token = Some(openclaw_node::secret::Secret::new(raw)))
        .start();
    let err = node.join().await.unwrap_err();
    assert!(
        err.to_string().contains("AUTH_BOOTSTRAP_TOKEN_INVALID"),
        "{err}"
    );
}

#[tokio::test]
async fn a_rejected_request_stops_the_node_with_the_auth_exit_code() {
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let node = TestNode::builder(&gw.url).start();
    let id = node.node_id.clone();
    let req = device_request(&op, &id).await;
    op.device_pair_reject(&req).await.unwrap();
    let err = node.join().await.unwrap_err();
    assert!(matches!(err, SessionError::PairingRejected { .. }), "{err}");
    assert_eq!(
        openclaw_node::exit::for_session(&err),
        openclaw_node::exit::AUTH
    );
}

#[tokio::test]
async fn a_revoked_device_stops_with_the_mismatch_explanation_instead_of_looping() {
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let code = gw.handle().mint_setup_code(&gw.url);
    // Through a proxy that counts the node's dials.
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = bootstrap_node(&proxy.url, &code);
    let id = node.node_id.clone();
    let req = device_request(&op, &id).await;
    op.device_pair_approve(&req).await.unwrap();
    node.wait_ready().await;
    let dials_before = proxy.accepted();
    op.device_pair_remove(&id).await.unwrap();
    let err = node.join().await.unwrap_err();
    assert!(
        matches!(err, SessionError::DeviceTokenRevoked { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("Pair again"), "{err}");
    assert_eq!(
        openclaw_node::exit::for_session(&err),
        openclaw_node::exit::AUTH
    );
    // It stopped at the first refusal of its device token instead of retrying with
    // backoff: one dial after the removal (the reconnect the gateway refused), no more.
    assert_eq!(
        proxy.accepted() - dials_before,
        1,
        "dials after the removal"
    );
}
