//! Operating a node with MCP servers: a config holding `[mcp.servers.*] env` or `headers`
//! values that group or others can read is warned about, naming `chmod 600 <path>`, by
//! `doctor` and when `run` starts.

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
