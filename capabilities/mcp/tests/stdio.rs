//! The MCP capability against a real stdio MCP server (tests/fixtures/mcp_server.py, built
//! with the `mcp` Python package that `scripts/test` installs): the catalog, calls that
//! succeed, fail, hang (timeout and cancel), a tool outside the catalog, a server killed
//! and restarted, and no child left after shutdown.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openclaw_capability_api::{CallContext, Capability, Handler};
use openclaw_capability_mcp::{Catalog, McpCapability, McpSettings, ServerSettings};
use serde_json::{Value, json};

const NEEDS: &str = "needs the mcp Python package: scripts/test";

/// The Python that has the `mcp` package: `$OPENCLAW_MCP_PYTHON`, else the venv
/// `scripts/test` makes. Panics with [`NEEDS`] when there is none.
fn python() -> String {
    let python = std::env::var("OPENCLAW_MCP_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/openclaw-mcp-venv/bin/python")
    });
    let ok = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{NEEDS} ({python} cannot import mcp)");
    python
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mcp_server.py")
}

fn server(extra: impl FnOnce(&mut ServerSettings)) -> ServerSettings {
    let mut s = ServerSettings {
        command: Some(python()),
        args: vec![fixture().display().to_string()],
        env: BTreeMap::from([("FIXTURE_SECRET".into(), "s3cret".into())]),
        ..Default::default()
    };
    extra(&mut s);
    s
}

fn capability(servers: Vec<(&str, ServerSettings)>) -> McpCapability {
    let settings = McpSettings {
        servers: servers
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect(),
    };
    settings.validate().unwrap();
    McpCapability::new(settings, "test")
}

/// Waits until the catalog satisfies `ok`.
async fn catalog_until(
    cap: &McpCapability,
    what: &str,
    ok: impl Fn(&Catalog) -> bool,
) -> Arc<Catalog> {
    let mut rx = cap.catalog();
    let wait = async {
        loop {
            let now = rx.borrow_and_update().clone();
            if ok(&now) {
                return now;
            }
            rx.changed().await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn handler(cap: &McpCapability) -> Arc<dyn Handler> {
    cap.handlers()
        .into_iter()
        .next()
        .expect("mcp.tools.call.v1")
}

async fn call(
    cap: &McpCapability,
    params: Value,
    ctx: CallContext,
) -> Result<Value, openclaw_capability_api::CapabilityError> {
    handler(cap)
        .call(Some(params.to_string()), ctx)
        .await
        .map(|text| serde_json::from_str(&text).unwrap())
}

fn ctx() -> CallContext {
    CallContext::detached("t")
}

async fn ready(cap: &McpCapability) -> Arc<Catalog> {
    cap.start();
    catalog_until(cap, "the fixture's tools", |c| c.descriptors.len() >= 6).await
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn the_catalog_publishes_the_fixture_tools_and_calls_succeed() {
    let cap = capability(vec![(
        "fx",
        server(|s| s.exclude = vec!["nothing*".into()]),
    )]);
    assert_eq!(cap.caps(), ["mcp"]);
    let catalog = ready(&cap).await;
    let names: Vec<_> = catalog
        .descriptors
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "fx_big", "fx_echo", "fx_env", "fx_fail", "fx_hang", "fx_pid"
        ]
    );
    let echo = serde_json::to_value(&catalog.descriptors[1]).unwrap();
    assert_eq!(echo["pluginId"], "node-mcp");
    assert_eq!(echo["command"], "mcp.tools.call.v1");
    assert_eq!(echo["mcp"], json!({"server": "fx", "tool": "echo"}));
    assert_eq!(echo["parameters"]["properties"]["text"]["type"], "string");

    let out = call(
        &cap,
        json!({"server": "fx", "tool": "echo", "arguments": {"text": "hi"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["content"], json!([{"type": "text", "text": "hi"}]));
    assert!(out.get("isError").is_none(), "{out}");
    // Its own env reaches the server; the node's gateway token does not.
    let out = call(
        &cap,
        json!({"server": "fx", "tool": "env", "arguments": {"name": "FIXTURE_SECRET"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["content"][0]["text"], "s3cret");
    cap.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn a_tool_error_is_a_result_and_unknown_tools_are_refused() {
    let cap = capability(vec![("fx", server(|s| s.exclude = vec!["pid".into()]))]);
    ready_without_pid(&cap).await;
    let out = call(
        &cap,
        json!({"server": "fx", "tool": "fail", "arguments": {"reason": "nope"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["isError"], true, "{out}");
    assert!(
        out["content"][0]["text"].as_str().unwrap().contains("fail"),
        "{out}"
    );
    // `pid` exists on the server but is filtered out of the catalog: not callable.
    let err = call(&cap, json!({"server": "fx", "tool": "pid"}), ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "MCP_TOOL_UNAVAILABLE");
    assert_eq!(
        err.message,
        "MCP tool \"pid\" is unavailable on server \"fx\""
    );
    let err = call(&cap, json!({"server": "other", "tool": "echo"}), ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "MCP_SERVER_UNAVAILABLE");
    assert_eq!(err.message, "MCP server \"other\" is unavailable");
    let err = call(&cap, json!({"server": "fx"}), ctx())
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Error: INVALID_REQUEST: server and tool required"
    );
    cap.shutdown().await;
}

async fn ready_without_pid(cap: &McpCapability) {
    cap.start();
    catalog_until(cap, "the fixture's tools", |c| c.descriptors.len() >= 5).await;
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn a_hanging_tool_times_out_or_is_cancelled_and_the_server_survives() {
    let cap = capability(vec![("fx", server(|s| s.request_timeout_ms = Some(500)))]);
    ready(&cap).await;
    let err = call(&cap, json!({"server": "fx", "tool": "hang"}), ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "MCP_TOOL_TIMEOUT");
    assert!(
        err.message
            .starts_with("MCP error -32001: Request timed out"),
        "{}",
        err.message
    );

    let cap2 = capability(vec![("fx", server(|_| {}))]);
    ready(&cap2).await;
    let c = ctx();
    let cancel = c.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = std::time::Instant::now();
    assert!(
        call(&cap2, json!({"server": "fx", "tool": "hang"}), c)
            .await
            .is_err()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Both servers still answer.
    for cap in [&cap, &cap2] {
        let out = call(
            cap,
            json!({"server": "fx", "tool": "echo", "arguments": {"text": "alive"}}),
            ctx(),
        )
        .await
        .unwrap();
        assert_eq!(out["content"][0]["text"], "alive");
    }
    cap.shutdown().await;
    cap2.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn a_killed_server_is_withdrawn_restarted_and_none_is_left_after_shutdown() {
    let cap = capability(vec![("fx", server(|_| {}))]);
    ready(&cap).await;
    let out = call(&cap, json!({"server": "fx", "tool": "pid"}), ctx())
        .await
        .unwrap();
    let pid: i32 = out["content"][0]["text"].as_str().unwrap().parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    catalog_until(&cap, "the tools withdrawn", |c| c.descriptors.is_empty()).await;
    let err = call(
        &cap,
        json!({"server": "fx", "tool": "echo", "arguments": {"text": "x"}}),
        ctx(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code.as_str(), "MCP_SERVER_UNAVAILABLE");
    catalog_until(&cap, "the tools back", |c| c.descriptors.len() == 6).await;
    let out = call(&cap, json!({"server": "fx", "tool": "pid"}), ctx())
        .await
        .unwrap();
    let second: i32 = out["content"][0]["text"].as_str().unwrap().parse().unwrap();
    assert_ne!(second, pid);
    cap.shutdown().await;
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        !openclaw_capability_api::process::is_live(second)
    });
    assert!(gone, "the MCP server {second} outlived the node");
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn a_big_result_is_bounded() {
    let cap = capability(vec![("fx", server(|_| {}))]);
    ready(&cap).await;
    let out = call(
        &cap,
        json!({"server": "fx", "tool": "big", "arguments": {"size": 2 * 1024 * 1024}}),
        ctx(),
    )
    .await
    .unwrap();
    let text = out["content"][0]["text"].as_str().unwrap();
    assert_eq!(text.len(), 1024 * 1024);
    assert!(text.ends_with("\n[truncated: MCP text content exceeded 1 MB]"));
    cap.shutdown().await;
}

#[test]
fn without_servers_nothing_is_advertised() {
    let cap = McpCapability::new(McpSettings::default(), "test");
    assert!(cap.caps().is_empty() && cap.handlers().is_empty());
    let _ = NEEDS;
}
