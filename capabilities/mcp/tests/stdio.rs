//! The MCP capability against a real stdio MCP server (tests/fixtures/mcp_server.py, built
//! with the `mcp` Python package that `scripts/test` installs): the catalog, calls that
//! succeed, fail, hang (timeout and cancel), a tool outside the catalog or excluded by the
//! owner, `list_changed`, the same server over streamable HTTP, a server killed and
//! restarted, the status ops see, secrets never logged, and no child left after shutdown.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{call, capability, catalog_until, ctx, handler};
use openclaw_capability_api::Capability;
use openclaw_capability_mcp::{Catalog, McpCapability, McpSettings, ServerSettings, ServerState};
use serde_json::json;

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

async fn ready(cap: &McpCapability) -> Arc<Catalog> {
    cap.start();
    catalog_until(cap, "the fixture's tools", |c| c.descriptors.len() >= 7).await
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
            "fx_big", "fx_echo", "fx_env", "fx_fail", "fx_grow", "fx_hang", "fx_pid"
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
    catalog_until(cap, "the fixture's tools", |c| c.descriptors.len() >= 6).await;
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
    catalog_until(&cap, "the tools back", |c| c.descriptors.len() == 7).await;
    let out = call(&cap, json!({"server": "fx", "tool": "pid"}), ctx())
        .await
        .unwrap();
    let second: i32 = out["content"][0]["text"].as_str().unwrap().parse().unwrap();
    assert_ne!(second, pid);
    let status = cap.status();
    assert_eq!(status[0].state, ServerState::Up);
    assert!(status[0].restarts >= 1, "{status:?}");
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

#[tokio::test]
async fn without_servers_the_command_is_advertised_and_answers_unavailable() {
    let cap = McpCapability::new(McpSettings::default(), "test");
    assert_eq!(cap.caps(), ["mcp"]);
    assert_eq!(handler(&cap).name(), "mcp.tools.call.v1");
    assert!(handler(&cap).result_as_object());
    assert!(cap.catalog().borrow().ready);
    let err = call(&cap, json!({"server": "fx", "tool": "echo"}), ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "MCP_SERVER_UNAVAILABLE");
    assert_eq!(err.message, "MCP server \"fx\" is unavailable");
    // Params are still checked first, as the reference does once its manager is up.
    let err = call(&cap, json!({"server": "fx"}), ctx())
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Error: INVALID_REQUEST: server and tool required"
    );
    let _ = NEEDS;
}

#[tokio::test]
async fn a_command_denied_by_policy_starts_no_server() {
    let cap = capability(vec![(
        "fx",
        ServerSettings {
            command: Some("/nonexistent/mcp-server".into()),
            ..Default::default()
        },
    )])
    .command_allowed(false);
    cap.start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let catalog = cap.catalog().borrow().clone();
    assert!(catalog.ready && catalog.descriptors.is_empty());
    // Nothing was started: the server was never attempted, so it has no error.
    assert!(
        cap.status().iter().all(|s| s.last_error.is_none()),
        "{:?}",
        cap.status()
    );
    assert_eq!(cap.status()[0].state, ServerState::Disabled);
}

#[tokio::test]
async fn status_names_each_server_and_oauth_servers_are_skipped() {
    let cap = capability(vec![
        (
            "bad",
            ServerSettings {
                command: Some("/nonexistent/mcp-server".into()),
                env: BTreeMap::from([("API_KEY".into(), "hunter2-secret".into())]),
                ..Default::default()
            },
        ),
        (
            "off",
            ServerSettings {
                command: Some("x".into()),
                enabled: Some(false),
                ..Default::default()
            },
        ),
        (
            "remote",
            ServerSettings {
                url: Some("https://mcp.example/x".into()),
                auth: Some("oauth".into()),
                ..Default::default()
            },
        ),
    ]);
    let before = cap.status();
    assert_eq!(
        before.iter().map(|s| s.state).collect::<Vec<_>>(),
        [
            ServerState::Starting,
            ServerState::Disabled,
            ServerState::Disabled
        ]
    );
    cap.start();
    catalog_until(&cap, "startup done", |c| c.ready).await;
    let status = cap.status();
    assert_eq!(status[0].name, "bad");
    assert_eq!(status[0].transport, "stdio");
    assert_eq!(status[0].state, ServerState::Down);
    assert!(
        status[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot start /nonexistent/mcp-server"),
        "{status:?}"
    );
    assert_eq!(status[2].state, ServerState::Disabled);
    assert_eq!(
        status[2].last_error.as_deref(),
        Some("node host MCP server \"remote\" skipped: OAuth is not supported")
    );
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json[1]["state"], "disabled");
    assert!(!json.to_string().contains("hunter2"));
    cap.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn an_excluded_tool_is_never_published_nor_called() {
    let cap = capability(vec![(
        "fx",
        server(|s| s.exclude = vec!["e*".into(), "pid".into()]),
    )]);
    cap.start();
    let catalog = catalog_until(&cap, "the fixture's tools", |c| c.descriptors.len() >= 4).await;
    assert!(!catalog.publishes("fx", "echo") && !catalog.publishes("fx", "env"));
    for tool in ["echo", "env", "pid"] {
        let err = call(&cap, json!({"server": "fx", "tool": tool}), ctx())
            .await
            .unwrap_err();
        assert_eq!(err.code.as_str(), "MCP_TOOL_UNAVAILABLE", "{tool}");
    }
    cap.shutdown().await;
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn list_changed_refreshes_the_catalog() {
    let cap = capability(vec![("fx", server(|_| {}))]);
    ready(&cap).await;
    let out = call(
        &cap,
        json!({"server": "fx", "tool": "grow", "arguments": {"name": "sprout"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["content"][0]["text"], "sprout", "{out}");
    let catalog = catalog_until(&cap, "the new tool", |c| c.publishes("fx", "sprout")).await;
    assert_eq!(catalog.descriptors.len(), 8);
    let out = call(
        &cap,
        json!({"server": "fx", "tool": "sprout", "arguments": {"text": "new"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["content"][0]["text"], "new");
    // Several notifications in a row end in one consistent catalog.
    for name in ["a1", "a2", "a3"] {
        call(
            &cap,
            json!({"server": "fx", "tool": "grow", "arguments": {"name": name}}),
            ctx(),
        )
        .await
        .unwrap();
    }
    catalog_until(&cap, "all three", |c| {
        ["a1", "a2", "a3"].iter().all(|t| c.publishes("fx", t))
    })
    .await;
    assert_eq!(cap.status()[0].tools, 11);
    cap.shutdown().await;
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The fixture serving streamable HTTP; killed on drop.
struct HttpFixture {
    child: std::process::Child,
    url: String,
}

impl HttpFixture {
    fn start() -> Self {
        let port = free_port();
        let child = std::process::Command::new(python())
            .arg(fixture())
            .args(["--http", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let up = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "the HTTP fixture did not listen on {port}");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

impl Drop for HttpFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every log line of the current thread's subscriber, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The process's log at every level, from every test of this binary (a global
/// subscriber: a thread-local one misses lines whose callsites another thread cached).
fn captured_log() -> Captured {
    static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(log.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log
    })
    .clone()
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn a_streamable_http_server_serves_the_catalog_and_never_logs_its_secrets() {
    let log = captured_log();
    let http = HttpFixture::start();
    let remote = ServerSettings {
        url: Some(http.url.clone()),
        transport_alias: Some("streamable-http".into()),
        headers: Some(BTreeMap::from([(
            "X-Api-Key".into(),
            "hdr-s3cret-value".into(),
        )])),
        ..Default::default()
    };
    let local = server(|s| {
        s.env
            .insert("FIXTURE_TOKEN".into(), "env-v4lue-never-logged".into());
    });
    let cap = capability(vec![("web", remote), ("fx", local)]);
    cap.start();
    let catalog = catalog_until(&cap, "both servers' tools", |c| c.descriptors.len() >= 14).await;
    assert!(catalog.publishes("web", "echo") && catalog.publishes("fx", "echo"));
    let out = call(
        &cap,
        json!({"server": "web", "tool": "echo", "arguments": {"text": "over http"}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(out["content"][0]["text"], "over http");
    let out = call(
        &cap,
        json!({"server": "web", "tool": "big", "arguments": {"size": 2 * 1024 * 1024}}),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(
        out["content"][0]["text"].as_str().unwrap().len(),
        1024 * 1024
    );
    call(
        &cap,
        json!({"server": "web", "tool": "grow", "arguments": {"name": "webby"}}),
        ctx(),
    )
    .await
    .unwrap();
    catalog_until(&cap, "the tool added over http", |c| {
        c.publishes("web", "webby")
    })
    .await;
    let status = cap.status();
    assert_eq!(
        (status[1].name.as_str(), status[1].transport.as_str()),
        ("web", "streamable-http")
    );
    // The server goes away: its tools are withdrawn, the stdio sibling's stay.
    drop(http);
    catalog_until(&cap, "web withdrawn", |c| {
        !c.publishes("web", "echo") && c.publishes("fx", "echo")
    })
    .await;
    let probed = McpCapability::probe("fx", &server(|s| s.exclude = vec!["pid".into()]), "test")
        .await
        .unwrap();
    assert!(
        probed.contains(&"echo".to_string()) && !probed.contains(&"pid".to_string()),
        "{probed:?}"
    );
    cap.shutdown().await;
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("node host MCP server connected"),
        "the log was not captured"
    );
    for secret in ["hdr-s3cret-value", "env-v4lue-never-logged"] {
        assert!(!text.contains(secret), "{secret} was logged");
    }
}
