//! The MCP capability against a second implementation: the reference TypeScript SDK's
//! `@modelcontextprotocol/server-everything` (pinned, installed by `scripts/test` into
//! ~/.cache/openclaw-mcp-npm), over stdio and over streamable HTTP: the catalog, calls,
//! a tool outside the catalog, a long call that times out or is cancelled without
//! touching the server process, and an HTTP server that goes away and comes back.

mod common;

use std::time::Duration;

use common::{call, capability, catalog_until, ctx};
use openclaw_capability_api::Capability;
use openclaw_capability_mcp::ServerSettings;
use serde_json::json;

const NEEDS: &str = "needs @modelcontextprotocol/server-everything: scripts/test";

/// The server's `dist/index.js` and the node to run it with; panics with [`NEEDS`].
fn everything() -> (String, String) {
    let home = std::env::var("HOME").unwrap_or_default();
    let js = std::env::var("OPENCLAW_MCP_EVERYTHING").unwrap_or_else(|_| {
        format!("{home}/.cache/openclaw-mcp-npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
    });
    let node = std::env::var("OPENCLAW_MCP_NODE").unwrap_or_else(|_| "node".into());
    assert!(std::path::Path::new(&js).is_file(), "{NEEDS} (no {js})");
    (node, js)
}

fn stdio_server(extra: impl FnOnce(&mut ServerSettings)) -> ServerSettings {
    let (node, js) = everything();
    let mut s = ServerSettings {
        command: Some(node),
        args: vec![js, "stdio".into()],
        ..Default::default()
    };
    extra(&mut s);
    s
}

/// The pids of the stdio servers started from `js` (not the HTTP test's).
fn server_pids(js: &str) -> Vec<i32> {
    let stdio = openclaw_capability_api::process::pids_with_arg("stdio");
    openclaw_capability_api::process::pids_with_arg(js)
        .into_iter()
        .filter(|p| stdio.contains(p))
        .collect()
}

#[tokio::test]
#[ignore = "needs @modelcontextprotocol/server-everything: scripts/test"]
async fn over_stdio_the_catalog_calls_and_a_long_call_leave_the_server_alone() {
    let cap = capability(vec![(
        "every",
        stdio_server(|s| {
            s.exclude = vec!["get-env".into()];
            s.request_timeout_ms = Some(1500);
        }),
    )]);
    cap.start();
    let catalog = catalog_until(&cap, "the server's tools", |c| c.publishes("every", "echo")).await;
    for tool in [
        "get-sum",
        "trigger-long-running-operation",
        "get-structured-content",
    ] {
        assert!(catalog.publishes("every", tool), "{tool}: {catalog:?}");
    }
    assert!(!catalog.publishes("every", "get-env"));
    let echo = catalog
        .descriptors
        .iter()
        .find(|d| d.mcp.tool == "echo")
        .unwrap();
    assert_eq!(echo.name, "every_echo");
    let out = call(
        &cap,
        json!({"server": "every", "tool": "echo", "arguments": {"message": "hi"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(
        out["content"],
        json!([{"type": "text", "text": "Echo: hi"}])
    );
    let out = call(
        &cap,
        json!({"server": "every", "tool": "get-sum", "arguments": {"a": 2, "b": 3}}),
        ctx(),
    )
    .await
    .unwrap();
    assert!(
        out["content"][0]["text"].as_str().unwrap().contains('5'),
        "{out}"
    );
    // Outside the catalog: excluded by the owner, and not on the server at all.
    for tool in ["get-env", "no-such-tool"] {
        let err = call(&cap, json!({"server": "every", "tool": tool}), ctx())
            .await
            .unwrap_err();
        assert_eq!(err.code.as_str(), "MCP_TOOL_UNAVAILABLE", "{tool}");
    }
    let js = everything().1;
    let before = server_pids(&js);
    assert_eq!(before.len(), 1, "{before:?}");
    // A 10 s operation against a 1.5 s request timeout, then one cancelled by the caller.
    let long = json!({"server": "every", "tool": "trigger-long-running-operation",
                      "arguments": {"duration": 10, "steps": 10}});
    let err = call(&cap, long.clone(), ctx()).await.unwrap_err();
    assert_eq!(err.code.as_str(), "MCP_TOOL_TIMEOUT", "{}", err.message);
    let c = ctx();
    let cancel = c.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    assert!(call(&cap, long, c).await.is_err());
    assert_eq!(server_pids(&js), before, "the server process changed");
    let out = call(
        &cap,
        json!({"server": "every", "tool": "echo", "arguments": {"message": "still"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["content"][0]["text"], "Echo: still");
    cap.shutdown().await;
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        server_pids(&js).is_empty()
    });
    assert!(gone, "the server outlived shutdown");
}

/// The server in `streamableHttp` mode on `port`; killed on drop.
struct HttpEverything(std::process::Child);

impl HttpEverything {
    fn start(port: u16) -> Self {
        let (node, js) = everything();
        let child = std::process::Command::new(node)
            .args([js.as_str(), "streamableHttp"])
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let up = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "server-everything did not listen on {port}");
        Self(child)
    }
}

impl Drop for HttpEverything {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
#[ignore = "needs @modelcontextprotocol/server-everything: scripts/test"]
async fn over_streamable_http_calls_work_and_a_server_that_goes_away_comes_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = HttpEverything::start(port);
    let cap = capability(vec![(
        "every",
        ServerSettings {
            url: Some(format!("http://127.0.0.1:{port}/mcp")),
            transport: Some("streamable-http".into()),
            ..Default::default()
        },
    )]);
    cap.start();
    catalog_until(&cap, "the server's tools", |c| c.publishes("every", "echo")).await;
    let out = call(
        &cap,
        json!({"server": "every", "tool": "echo", "arguments": {"message": "web"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["content"][0]["text"], "Echo: web");
    let out = call(&cap, json!({"server": "every", "tool": "get-structured-content", "arguments": {"location": "New York"}}), ctx())
        .await
        .unwrap();
    assert!(out["structuredContent"].is_object(), "{out}");
    let err = call(
        &cap,
        json!({"server": "every", "tool": "no-such-tool"}),
        ctx(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code.as_str(), "MCP_TOOL_UNAVAILABLE");
    drop(http);
    catalog_until(&cap, "the tools withdrawn", |c| c.descriptors.is_empty()).await;
    let err = call(
        &cap,
        json!({"server": "every", "tool": "echo", "arguments": {"message": "x"}}),
        ctx(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code.as_str(), "MCP_SERVER_UNAVAILABLE");
    let _http = HttpEverything::start(port);
    catalog_until(&cap, "the tools back", |c| c.publishes("every", "echo")).await;
    let out = call(
        &cap,
        json!({"server": "every", "tool": "echo", "arguments": {"message": "back"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["content"][0]["text"], "Echo: back");
    assert!(cap.status()[0].restarts >= 1);
    cap.shutdown().await;
}
