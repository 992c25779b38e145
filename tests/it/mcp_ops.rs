//! Operating a node with MCP servers: a config holding `[mcp.servers.*] env` or `headers`
//! values that group or others can read is warned about, naming `chmod 600 <path>`, by
//! `doctor` and when `run` starts; `status`, `--metrics` and `--prometheus` show each
//! server's state and tool count; `doctor` starts each server and lists its tools or names
//! the fix (with the Python fixture server of tests/fixtures/mcp_server.py).

use std::os::unix::fs::PermissionsExt as _;
use std::process::Stdio;

use openclaw_node::cli::doctor::{Args, Verdict, diagnose};
use openclaw_node::cli::{GlobalArgs, LogFormat};
use openclaw_node::credentials::StoreChoice;
use tokio::io::AsyncReadExt as _;

use crate::helpers::*;

const SECRET: &str = "sk-mcp-ops-secret";

/// A state dir whose config.toml (mode `mode`) gives server `fx` an env secret.
fn state_with_mcp_secret(mode: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[mcp.servers.fx]\ncommand = \"/nonexistent/mcp-server\"\nenv = {{ API_KEY = \"{SECRET}\" }}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
    (dir, config)
}

fn global(dir: &std::path::Path) -> GlobalArgs {
    GlobalArgs {
        verbose: 0,
        log_format: LogFormat::Text,
        state_dir: Some(dir.to_path_buf()),
        config: None,
        env_file: None,
        credential_store: StoreChoice::File,
    }
}

#[tokio::test]
async fn doctor_warns_about_mcp_secrets_in_a_readable_config() {
    let (dir, config) = state_with_mcp_secret(0o644);
    let args = Args {
        json: true,
        url: Some("ws://127.0.0.1:9".into()),
    };
    let checks = within("doctor", diagnose(&args, &global(dir.path())))
        .await
        .unwrap();
    let perms = checks.iter().find(|c| c.layer == "permissions").unwrap();
    assert_eq!(perms.verdict, Verdict::Warn, "{perms:?}");
    assert!(perms.detail.contains("[mcp.servers.fx]"), "{perms:?}");
    let want = format!("chmod 600 {}", config.display());
    assert!(
        perms.fix.as_deref().unwrap_or_default().contains(&want),
        "{perms:?}"
    );
    assert!(!format!("{checks:?}").contains(SECRET));

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let checks = within("doctor", diagnose(&args, &global(dir.path())))
        .await
        .unwrap();
    let perms = checks.iter().find(|c| c.layer == "permissions").unwrap();
    assert_eq!(perms.verdict, Verdict::Ok, "{perms:?}");
}

#[tokio::test]
async fn run_warns_at_start_about_mcp_secrets_in_a_readable_config() {
    let (dir, config) = state_with_mcp_secret(0o640);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut node = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args([
            "--state-dir",
            dir.path().to_str().unwrap(),
            "--credential-store",
            "file",
            "run",
        ])
        .env("OPENCLAW_GATEWAY_URL", format!("ws://127.0.0.1:{port}"))
        .env("OPENCLAW_GATEWAY_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = node.stderr.take().unwrap();
    let want = format!("chmod 600 {}", config.display());
    let mut seen = String::new();
    let found = tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stderr.read(&mut buf).await.unwrap();
            if n == 0 {
                return false;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if seen.contains(&want) {
                return true;
            }
        }
    })
    .await
    .unwrap_or(false);
    node.kill().await.unwrap();
    assert!(found, "no {want:?} in the node's log:\n{seen}");
    assert!(!seen.contains(SECRET), "the secret is in the log:\n{seen}");
}

/// A 0600 config with the fixture server `fx` (an env secret) and `bad`, whose command
/// does not exist.
fn state_with_two_servers() -> tempfile::TempDir {
    let python = crate::mcp::python();
    let dir = tempfile::tempdir().unwrap();
    // A copy per test, so its processes are told apart from other tests' by their argv.
    let fixture = dir.path().join("mcp_server.py");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp_server.py"),
        &fixture,
    )
    .unwrap();
    let fixture = fixture.display().to_string();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[mcp.servers.fx]\ncommand = {python:?}\nargs = [{fixture:?}]\nenv = {{ API_KEY = \"{SECRET}\" }}\n\n\
             [mcp.servers.bad]\ncommand = \"no-such-mcp-server-binary\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

async fn status_of(state: &std::path::Path, extra: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args(["--state-dir", state.to_str().unwrap(), "status"])
        .args(extra)
        .output()
        .await
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn status_and_metrics_show_each_mcp_server() {
    let state = state_with_two_servers();
    let gw = TestGateway::start_auto_approve().await;
    let mut node = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args([
            "--state-dir",
            state.path().to_str().unwrap(),
            "--credential-store",
            "file",
            "run",
        ])
        .env("OPENCLAW_GATEWAY_URL", &gw.url)
        .env("OPENCLAW_GATEWAY_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let doc = eventually("status to show fx up", || async {
        let doc: serde_json::Value =
            serde_json::from_str(&status_of(state.path(), &["--json"]).await?).ok()?;
        (doc["mcpServers"][1]["state"] == "up").then_some(doc)
    })
    .await;
    let servers = doc["mcpServers"].as_array().unwrap();
    assert_eq!(servers[0]["name"], "bad");
    assert_ne!(servers[0]["state"], "up");
    assert_eq!(servers[0]["tools"], 0);
    assert_eq!(servers[1]["name"], "fx");
    assert_eq!(servers[1]["transport"], "stdio");
    assert!(servers[1]["tools"].as_u64().unwrap() >= 5, "{doc}");
    assert!(!doc.to_string().contains(SECRET));
    let table = status_of(state.path(), &[]).await.unwrap();
    assert!(
        table.lines().any(|l| l.starts_with("mcp fx: up (stdio), ")),
        "{table}"
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&status_of(state.path(), &["--metrics"]).await.unwrap()).unwrap();
    assert_eq!(metrics["mcpServers"][1]["state"], "up");
    let prom = status_of(state.path(), &["--prometheus"]).await.unwrap();
    for want in [
        "openclaw_node_mcp_server_up{server=\"fx\"} 1",
        "openclaw_node_mcp_server_up{server=\"bad\"} 0",
        "openclaw_node_mcp_server_tools{server=\"bad\"} 0",
        "openclaw_node_mcp_server_restarts_total{server=\"fx\"}",
    ] {
        assert!(prom.contains(want), "no {want:?} in\n{prom}");
    }
    let pid = node.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    within("the node to exit", node.wait()).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the mcp Python package: scripts/test"]
async fn doctor_starts_each_mcp_server_and_lists_its_tools_or_the_fix() {
    let state = state_with_two_servers();
    let args = Args {
        json: true,
        url: Some("ws://127.0.0.1:9".into()),
    };
    let checks = within("doctor", diagnose(&args, &global(state.path())))
        .await
        .unwrap();
    let mcp: Vec<_> = checks.iter().filter(|c| c.layer == "mcp").collect();
    assert_eq!(mcp.len(), 2, "{checks:?}");
    assert_eq!(mcp[0].verdict, Verdict::Fail, "{:?}", mcp[0]);
    assert!(
        mcp[0]
            .detail
            .starts_with("bad: command \"no-such-mcp-server-binary\" not found"),
        "{:?}",
        mcp[0]
    );
    assert!(
        mcp[0]
            .fix
            .as_deref()
            .unwrap()
            .starts_with("check [mcp.servers.bad] command"),
        "{:?}",
        mcp[0]
    );
    assert_eq!(mcp[1].verdict, Verdict::Ok, "{:?}", mcp[1]);
    assert!(
        mcp[1].detail.starts_with("fx: up, ") && mcp[1].detail.contains("echo"),
        "{:?}",
        mcp[1]
    );
    // The probe stopped its server (wait out the child's reaping).
    let fixture = state.path().join("mcp_server.py");
    let fixture = fixture.to_str().unwrap().to_string();
    eventually("the probed server to be gone", || async {
        let left = openclaw_capability_api::process::pids_with_arg(&fixture);
        left.iter()
            .all(|p| !openclaw_capability_api::process::is_live(*p))
            .then_some(())
    })
    .await;
}
