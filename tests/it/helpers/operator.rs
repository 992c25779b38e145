//! Operator-side waits and steps: the pending pairing requests of a node, pairing it
//! through both approvals, finding a node started as a process, and "it serves again".

use openclaw_node::operator::OperatorClient;
use serde_json::json;

use super::{TestGateway, TestNode, eventually};

/// Waits for the device pairing request of `device_id` and returns its id.
pub(crate) async fn device_request(op: &OperatorClient, device_id: &str) -> String {
    eventually("the device pairing request", || async {
        op.device_pair_list()
            .await
            .ok()?
            .pending
            .into_iter()
            .find(|p| p.device_id == device_id)
            .map(|p| p.request_id)
    })
    .await
}

/// Waits for the command-surface request of `node_id` and returns its id.
pub(crate) async fn surface_request(op: &OperatorClient, node_id: &str) -> String {
    eventually("the command-surface request", || async {
        op.node_pair_list()
            .await
            .ok()?
            .pending
            .into_iter()
            .find(|p| p.node_id == node_id)
            .map(|p| p.request_id)
    })
    .await
}

/// Whether an operator's call error is one a call may cleanly end with while the node's
/// link is faulty: the node went away, was not there, or did not answer in time.
pub(crate) fn is_clean_call_error(text: &str) -> bool {
    ["UNAVAILABLE", "TIMEOUT", "not connected"]
        .iter()
        .any(|c| text.contains(c))
}

/// The id of the first connected node that declares `command` (for nodes started as
/// processes, whose id the test does not know).
pub(crate) async fn connected_node_with(op: &OperatorClient, command: &str) -> String {
    eventually("the node to connect", || async {
        op.node_list()
            .await
            .ok()?
            .nodes
            .into_iter()
            .find(|n| n.connected && n.commands.iter().any(|c| c == command))
            .map(|n| n.node_id)
    })
    .await
}

/// Waits until `node_id` answers an echo tagged `tag` through the gateway (after a fault,
/// a node may report ready before every path to it is back).
pub(crate) async fn serves_again(op: &OperatorClient, node_id: &str, tag: &str) {
    eventually("the node to serve again", || async {
        let r = op
            .node_invoke(node_id, "test.echo", json!({"value": tag}), Some(2000))
            .await;
        r.ok().filter(|reply| reply.payload["value"] == tag)
    })
    .await;
}

/// Pairs `node` on `gw` through the operator API: approves the device, then the command
/// surface, then waits until the node is ready with its commands.
pub(crate) async fn pair(gw: &TestGateway, node: &mut TestNode, op: &OperatorClient) {
    let id = node.node_id.clone();
    op.device_pair_approve(&device_request(op, &id).await)
        .await
        .unwrap();
    op.node_pair_approve(&surface_request(op, &id).await)
        .await
        .unwrap();
    node.wait_ready().await;
    let _ = gw;
}
