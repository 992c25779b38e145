//! A node hosting a real MCP server (tests/fixtures/mcp_server.py, the `mcp` Python
//! package from `scripts/test`) against a scripted fake gateway: what `node.pluginTools.update`
//! carries (and that a transient refusal is retried), `mcp.tools.call.v1` over the wire,
//! and no MCP child left once the node stops.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_capability_mcp::{McpCapability, McpSettings, ServerSettings};
use openclaw_node::credentials::{CredentialStore, FileStore};
use openclaw_node::protocol::*;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::fake_gateway::accept_node;
use crate::helpers::*;

/// The Python that has the `mcp` package; fails with what provides it when there is none.
pub(crate) fn python() -> String {
    let python = std::env::var("OPENCLAW_MCP_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/openclaw-mcp-venv/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let ok = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "needs the mcp Python package: scripts/test ({python} cannot import mcp)"
    );
    python
}

/// The fixture server's script.
pub(crate) fn fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mcp_server.py")
        .display()
        .to_string()
}

fn mcp_capability() -> McpCapability {
    let server = ServerSettings {
        command: Some(python()),
        args: vec![fixture()],
        exclude: vec!["pid".into()],
        ..Default::default()
    };
    McpCapability::new(
        McpSettings {
            servers: BTreeMap::from([("fx".to_string(), server)]),
        },
        "it",
    )
}

/// Reads frames until a request for `method`; returns its id and params.
async fn next_request(ws: &mut crate::fake_gateway::ServerWs, method: &str) -> (String, Value) {
    loop {
        let Some(Ok(Message::Text(t))) = within(method, ws.next()).await else {
            panic!("connection ended")
        };
        if let Frame::Req(r) = Frame::parse(&t).unwrap()
            && r.method == method
        {
            return (r.id, r.params.unwrap_or(Value::Null));
        }
    }
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn the_node_publishes_its_mcp_tools_and_serves_calls_to_them() {
    let cap = mcp_capability();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url)
        .state(dir, store)
        .caps(vec![Arc::new(cap)])
        .start();
    let (mut ws, connect) = accept_node(&listener, 30_000).await;
    assert!(
        connect
            .commands
            .unwrap_or_default()
            .iter()
            .any(|c| c == "mcp.tools.call.v1")
    );
    assert!(connect.caps.unwrap_or_default().iter().any(|c| c == "mcp"));
    node.wait_ready().await;
    // The first publication is refused as transient: it must come again.
    let (id, _) = next_request(&mut ws, "node.pluginTools.update").await;
    ws.send(Message::text(
        Frame::err(id, ErrorShape::new("UNAVAILABLE", "try later")).to_text(),
    ))
    .await
    .unwrap();
    let tools = loop {
        let (id, params) = next_request(&mut ws, "node.pluginTools.update").await;
        ws.send(Message::text(
            Frame::ok(id, json!({"nodeId": node.node_id, "tools": []})).to_text(),
        ))
        .await
        .unwrap();
        let tools = params["tools"].as_array().unwrap().clone();
        if !tools.is_empty() {
            break tools;
        }
    };
    let names: Vec<_> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "fx_big", "fx_echo", "fx_env", "fx_fail", "fx_grow", "fx_hang"
        ]
    );
    assert_eq!(tools[1]["pluginId"], "node-mcp");
    assert_eq!(tools[1]["command"], "mcp.tools.call.v1");
    assert_eq!(tools[1]["mcp"], json!({"server": "fx", "tool": "echo"}));

    let invoke = |id: &str, params: Value| {
        Frame::event(
            "node.invoke.request",
            json!({"id": id, "nodeId": node.node_id, "command": "mcp.tools.call.v1",
                   "paramsJSON": params.to_string(), "timeoutMs": 10000}),
        )
        .to_text()
    };
    ws.send(Message::text(invoke(
        "c1",
        json!({"server": "fx", "tool": "echo", "arguments": {"text": "over the wire"}}),
    )))
    .await
    .unwrap();
    let (_, r) = next_request(&mut ws, "node.invoke.result").await;
    assert_eq!(r["ok"], true, "{r}");
    // The reference answers this command with a `payload` object, not `payloadJSON`.
    assert!(r.get("payloadJSON").is_none(), "{r}");
    assert_eq!(r["payload"]["content"][0]["text"], "over the wire");
    // `pid` is on the server but not in the catalog.
    ws.send(Message::text(invoke(
        "c2",
        json!({"server": "fx", "tool": "pid"}),
    )))
    .await
    .unwrap();
    let (_, r) = next_request(&mut ws, "node.invoke.result").await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "MCP_TOOL_UNAVAILABLE");

    // This node's servers only (children of this process): other tests run the same
    // fixture at the same time, under node binaries of their own.
    let me = std::process::id() as i32;
    let fixture_pids = || {
        openclaw_capability_api::process::pids_with_arg(&fixture())
            .into_iter()
            .filter(|p| openclaw_capability_api::process::info(*p).is_some_and(|i| i.ppid == me))
            .collect::<Vec<_>>()
    };
    let before = fixture_pids();
    assert!(!before.is_empty(), "the fixture server is not running");
    node.stop().await.unwrap();
    let left: Vec<_> = before
        .into_iter()
        .filter(|p| openclaw_capability_api::process::is_live(*p))
        .collect();
    assert!(left.is_empty(), "MCP servers outlived the node: {left:?}");
}

#[tokio::test]
async fn without_servers_the_node_advertises_mcp_and_publishes_an_empty_catalog() {
    let cap = McpCapability::new(McpSettings::default(), "it");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let mut node = TestNode::builder(&url)
        .state(dir, store)
        .caps(vec![Arc::new(cap)])
        .start();
    let (mut ws, connect) = accept_node(&listener, 30_000).await;
    assert_eq!(connect.commands.unwrap_or_default(), ["mcp.tools.call.v1"]);
    assert_eq!(connect.caps.unwrap_or_default(), ["mcp"]);
    node.wait_ready().await;
    let (id, params) = next_request(&mut ws, "node.pluginTools.update").await;
    assert_eq!(params, json!({"tools": []}));
    ws.send(Message::text(
        Frame::ok(id, json!({"nodeId": node.node_id, "tools": []})).to_text(),
    ))
    .await
    .unwrap();
    ws.send(Message::text(
        Frame::event(
            "node.invoke.request",
            json!({"id": "c1", "nodeId": node.node_id, "command": "mcp.tools.call.v1",
                   "paramsJSON": json!({"server": "fx", "tool": "echo"}).to_string(),
                   "timeoutMs": 10000}),
        )
        .to_text(),
    ))
    .await
    .unwrap();
    let (_, r) = next_request(&mut ws, "node.invoke.result").await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "MCP_SERVER_UNAVAILABLE");
    assert_eq!(r["error"]["message"], "MCP server \"fx\" is unavailable");
    node.stop().await.unwrap();
}

#[test]
fn the_command_policy_withholds_mcp_and_nothing_else_advertises_it() {
    let surface = |config_text: &str| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, config_text).unwrap();
        let overrides = openclaw_node::config::Overrides {
            config_file: Some(file),
            state_dir: Some(dir.path().to_path_buf()),
            url: Some("ws://127.0.0.1:1".into()),
            ..Default::default()
        };
        let config = openclaw_node::config::Config::load(&overrides, &|_| None).unwrap();
        openclaw_node::node::build_registry(&config).surface()
    };
    let open = surface("");
    assert!(open.commands.iter().any(|c| c == "mcp.tools.call.v1"));
    assert!(open.caps.iter().any(|c| c == "mcp"));
    let denied =
        surface("[commands]\ndeny = [\"mcp.*\"]\n[mcp.servers.fx]\ncommand = \"/nonexistent\"\n");
    assert!(
        !denied.commands.iter().any(|c| c.starts_with("mcp.")),
        "{:?}",
        denied.commands
    );
    assert!(!denied.caps.iter().any(|c| c == "mcp"), "{:?}", denied.caps);
    assert!(denied.denied.contains("mcp.tools.call.v1"));
}
