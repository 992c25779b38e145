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

/// `openclaw-node <args>` as an operator of `url`; stdout, or the failure's stderr.
async fn operator_cli(url: &str, args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args(args)
        .args(["--url", url])
        .env("OPENCLAW_GATEWAY_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    if out.status.success() {
        Ok(text(out.stdout))
    } else {
        Err(text(out.stderr))
    }
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn the_operator_cli_lists_and_calls_a_real_nodes_mcp_tools() {
    let python = crate::mcp::python();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp_server.py");
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        state.path().join("config.toml"),
        format!("[mcp.servers.fx]\ncommand = {python:?}\nargs = [{fixture:?}]\n"),
    )
    .unwrap();
    let mut node = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args(["--state-dir", state.path().to_str().unwrap()])
        .args(["--credential-store", "file", "run"])
        .env("OPENCLAW_GATEWAY_URL", &gw.url)
        .env("OPENCLAW_GATEWAY_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let node_id = connected_node_with(&op, "mcp.tools.call.v1").await;
    eventually("the node's MCP tools on its row", || async {
        let tools = row(&op, &node_id).await["nodePluginTools"].clone();
        (tools.as_array().is_some_and(|t| !t.is_empty())).then_some(())
    })
    .await;

    let listed = operator_cli(&gw.url, &["nodes", "tools", &node_id])
        .await
        .unwrap();
    let echo = listed
        .lines()
        .find(|l| l.starts_with("fx_echo "))
        .unwrap_or_else(|| panic!("no fx_echo line:\n{listed}"));
    assert!(echo.contains(" fx/echo "), "{echo}");
    let as_json = operator_cli(&gw.url, &["nodes", "tools", &node_id, "--json"])
        .await
        .unwrap();
    let tools: Value = serde_json::from_str(&as_json).unwrap();
    assert!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["mcp"] == json!({"server": "fx", "tool": "echo"}))
    );

    let params =
        json!({"server": "fx", "tool": "echo", "arguments": {"text": "via the cli"}}).to_string();
    let called = operator_cli(
        &gw.url,
        &[
            "nodes",
            "invoke",
            &node_id,
            "mcp.tools.call.v1",
            "--params",
            &params,
        ],
    )
    .await
    .unwrap();
    let payload: Value = serde_json::from_str(&called).unwrap();
    assert_eq!(payload["content"][0]["text"], "via the cli", "{payload}");
    // A tool outside the catalog is the node's refusal, passed through.
    let params = json!({"server": "fx", "tool": "nope"}).to_string();
    let refused = operator_cli(
        &gw.url,
        &[
            "nodes",
            "invoke",
            &node_id,
            "mcp.tools.call.v1",
            "--params",
            &params,
        ],
    )
    .await
    .unwrap_err();
    assert!(refused.contains("MCP_TOOL_UNAVAILABLE"), "{refused}");

    // SIGTERM: the node stops its MCP server on the way out.
    let pid = node.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    within("the node to exit", node.wait()).await.unwrap();
    eventually("the node to go offline", || async {
        (row(&op, &node_id).await["connected"] == false).then_some(())
    })
    .await;
    let gone = operator_cli(&gw.url, &["nodes", "tools", &node_id])
        .await
        .unwrap_err();
    assert!(gone.contains("is not connected"), "{gone}");
}
