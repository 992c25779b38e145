//! The embedded gateway keeps what a node publishes (parity §2.3–§2.5): a raw node client
//! sends `node.pluginTools.update`, `node.skills.update` and `node.runnerInventory.update`
//! and gets the real Gateway's answers; the effective tools show as `nodePluginTools` on
//! the node's live row, follow surface approval, and go when the node disconnects.

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_node::identity::DeviceIdentity;
use openclaw_node::protocol::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// A raw node connection that declared `commands`, past hello-ok.
async fn raw_node(url: &str, commands: &[&str]) -> (Ws, String) {
    let (mut ws, challenge) = open(url).await;
    let identity = DeviceIdentity::generate();
    let mut params = node_connect(&identity, &challenge);
    params["commands"] = json!(commands);
    let r = request(&mut ws, "c1", methods::CONNECT, params).await;
    assert!(r.ok, "{r:?}");
    (ws, identity.device_id())
}

/// Sends one request and reads frames until its response.
async fn request(ws: &mut Ws, id: &str, method: &str, params: Value) -> ResponseFrame {
    ws.send(Message::text(Frame::request(id, method, params).to_text()))
        .await
        .unwrap();
    loop {
        let Some(Ok(Message::Text(t))) = within(method, ws.next()).await else {
            panic!("the connection ended before the {method} response")
        };
        if let Ok(Frame::Res(r)) = Frame::parse(&t)
            && r.id == id
        {
            return r;
        }
    }
}

fn error_text(r: &ResponseFrame) -> (String, String) {
    let e = r
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("not an error: {r:?}"));
    (e.code.clone(), e.message.clone())
}

fn mcp_tool(name: &str) -> Value {
    json!({"pluginId": "node-mcp", "name": name, "description": format!("{name} tool"),
           "command": "mcp.tools.call.v1", "mcp": {"server": "fx", "tool": name}})
}

async fn row(op: &openclaw_node::operator::OperatorClient, node_id: &str) -> Value {
    op.call("node.describe", json!({"nodeId": node_id}))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_gateway_keeps_a_nodes_plugin_tools_until_it_disconnects() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let (mut ws, node_id) = raw_node(&gw.url, &["mcp.tools.call.v1", "system.which"]).await;
    assert_eq!(row(&op, &node_id).await["nodePluginTools"], json!([]));

    let declared = json!({"tools": [
        mcp_tool("echo"),
        // Names a command the node did not declare: dropped.
        {"pluginId": "p", "name": "other", "description": "d", "command": "x.run"},
    ]});
    let r = request(&mut ws, "t1", "node.pluginTools.update", declared).await;
    assert!(r.ok, "{r:?}");
    let mut effective = mcp_tool("echo");
    effective["parameters"] =
        json!({"type": "object", "properties": {}, "additionalProperties": true});
    assert_eq!(
        r.payload.unwrap(),
        json!({"nodeId": node_id, "tools": [effective.clone()]})
    );
    assert_eq!(
        row(&op, &node_id).await["nodePluginTools"],
        json!([effective.clone()])
    );
    let list = op.call("node.list", json!({})).await.unwrap();
    assert_eq!(list["nodes"][0]["nodePluginTools"], json!([effective]));

    // Closed schema, with the real Gateway's message; the stored list stays.
    let mut extra = mcp_tool("echo");
    extra["extra"] = json!(1);
    let r = request(
        &mut ws,
        "t2",
        "node.pluginTools.update",
        json!({"tools": [extra]}),
    )
    .await;
    assert_eq!(
        error_text(&r),
        (
            "INVALID_REQUEST".into(),
            "invalid node.pluginTools.update params: at /tools/0: unexpected property 'extra'"
                .into()
        )
    );
    assert_eq!(
        row(&op, &node_id).await["nodePluginTools"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let skill = json!({"name": "deploy", "description": " Deploys. ", "content": "---\nname: deploy\n---\n"});
    let r = request(
        &mut ws,
        "s1",
        "node.skills.update",
        json!({"skills": [skill]}),
    )
    .await;
    assert!(r.ok, "{r:?}");
    let skills = r.payload.unwrap()["skills"].clone();
    assert_eq!(skills[0]["description"], "Deploys.");
    let r = request(
        &mut ws,
        "s2",
        "node.skills.update",
        json!({"skills": [{"name": "x"}]}),
    )
    .await;
    assert_eq!(
        error_text(&r).1,
        "invalid node.skills.update params: at /skills/0: must have required property 'description'"
    );

    let v6 = json!({"protocolFeatures": ["node-worker-supervisor-v6"], "workerHost": {"enabled": false}});
    let r = request(&mut ws, "r1", "node.runnerInventory.update", v6).await;
    assert_eq!(r.payload, Some(json!({"nodeId": node_id})), "{r:?}");
    let r = request(
        &mut ws,
        "r2",
        "node.runnerInventory.update",
        json!({"workerHost": {}}),
    )
    .await;
    assert_eq!(
        error_text(&r),
        (
            "INVALID_REQUEST".into(),
            "invalid node runner inventory".into()
        )
    );

    drop(ws);
    let offline = eventually("the node to go offline", || async {
        let r = row(&op, &node_id).await;
        (r["connected"] == false).then_some(r)
    })
    .await;
    assert!(offline.get("nodePluginTools").is_none(), "{offline}");
}

#[tokio::test]
async fn plugin_tools_become_effective_when_the_surface_is_approved() {
    let gw = TestGateway::start_with(|c| c.auto_approve_devices = true).await;
    let op = gw.operator().await;
    let (mut ws, node_id) = raw_node(&gw.url, &["mcp.tools.call.v1"]).await;
    let request_id = surface_request(&op, &node_id).await;

    // Accepted before approval, with nothing effective yet (parity §2.2).
    let r = request(
        &mut ws,
        "t1",
        "node.pluginTools.update",
        json!({"tools": [mcp_tool("echo")]}),
    )
    .await;
    assert_eq!(
        r.payload,
        Some(json!({"nodeId": node_id, "tools": []})),
        "{r:?}"
    );
    let v6 = json!({"protocolFeatures": ["node-worker-supervisor-v6"], "workerHost": {"enabled": false}});
    let r = request(&mut ws, "r1", "node.runnerInventory.update", v6.clone()).await;
    assert_eq!(
        error_text(&r),
        (
            "UNAVAILABLE".into(),
            format!(
                "node capability surface is awaiting operator approval; run `openclaw nodes approve {request_id}` (see `openclaw nodes pending`), then this node retries automatically"
            )
        )
    );

    op.node_pair_approve(&request_id).await.unwrap();
    let tools = row(&op, &node_id).await["nodePluginTools"].clone();
    assert_eq!(
        tools[0]["name"], "echo",
        "recomputed without a resend: {tools}"
    );
    let r = request(&mut ws, "r2", "node.runnerInventory.update", v6).await;
    assert_eq!(r.payload, Some(json!({"nodeId": node_id})), "{r:?}");
}
