//! CI-runner mode with the real binary: configured only from the environment, a throwaway
//! identity, a fixed number of invocations, JSON log lines, and nothing left behind.

use std::process::Stdio;

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn an_ephemeral_node_serves_three_calls_exits_zero_and_leaves_nothing() {
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let state = tempfile::tempdir().unwrap();
    let home = state.path().join("home");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args([
            "--log-format",
            "json",
            "run",
            "--ephemeral",
            "--max-invocations",
            "3",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("OPENCLAW_NODE_HOME", &home)
        .env("OPENCLAW_GATEWAY_URL", &gw.url)
        .env("OPENCLAW_GATEWAY_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let node_id = connected_node_with(&op, "system.which").await;
    for _ in 0..3 {
        let reply = op
            .node_invoke(
                &node_id,
                "system.which",
                json!({"bins": ["sh"]}),
                Some(5000),
            )
            .await
            .unwrap();
        assert!(reply.payload["bins"]["sh"].is_string());
    }
    let status = within("the node to exit after three calls", child.wait())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
    assert!(!stderr.contains(TOKEN), "a log line leaks the token");
    // No credentials, identity or socket left behind.
    let leftovers: Vec<_> = std::fs::read_dir(state.path())
        .unwrap()
        .filter_map(Result::ok)
        .flat_map(|e| walk(&e.path()))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

fn walk(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|d| {
                d.filter_map(Result::ok)
                    .flat_map(|e| walk(&e.path()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        vec![path.to_path_buf()]
    }
}

/// `openclaw-node status --json` against a running node in each state, and metrics that
/// move as calls are made.
#[tokio::test]
async fn status_follows_the_session_and_metrics_count_calls() {
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let state = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_openclaw-node");
    let env = [
        ("OPENCLAW_GATEWAY_URL", gw.url.as_str()),
        ("OPENCLAW_GATEWAY_TOKEN", TOKEN),
    ];
    let mut node = tokio::process::Command::new(bin)
        .args([
            "--state-dir",
            state.path().to_str().unwrap(),
            "--credential-store",
            "file",
            "run",
        ])
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let status = |what: &'static str| {
        let dir = state.path().to_path_buf();
        async move {
            let mut args = vec![
                "--state-dir".to_string(),
                dir.display().to_string(),
                "status".into(),
                "--json".into(),
            ];
            if what == "metrics" {
                args.push("--metrics".into());
            }
            let out = tokio::process::Command::new(bin)
                .args(&args)
                .output()
                .await
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&out.stdout).ok()
        }
    };
    let waiting = eventually("status: waiting for approval", || async {
        let s = status("status").await?;
        (s["state"] == "waiting-for-approval").then_some(s)
    })
    .await;
    let request = waiting["requestId"].as_str().unwrap().to_string();
    assert_eq!(waiting["credentialStore"], "file");
    assert_eq!(waiting["path"], "loopback");
    assert!(
        !waiting.to_string().contains(TOKEN),
        "status leaks the token"
    );
    op.device_pair_approve(&request).await.unwrap();
    let ready = eventually("status: ready", || async {
        let s = status("status").await?;
        (s["state"] == "ready").then_some(s)
    })
    .await;
    let node_id = ready["deviceId"].as_str().unwrap().to_string();
    let surface = surface_request(&op, &node_id).await;
    op.node_pair_approve(&surface).await.unwrap();
    eventually("status: surface approved", || async {
        let s = status("status").await?;
        (s["surfaceApprovedThisConnection"] == true).then_some(())
    })
    .await;
    let before = status("metrics").await.unwrap();
    assert_eq!(before["connects"], 1);
    for _ in 0..2 {
        op.node_invoke(
            &node_id,
            "system.which",
            json!({"bins": ["sh"]}),
            Some(5000),
        )
        .await
        .unwrap();
    }
    let after = eventually("metrics to count the calls", || async {
        let m = status("metrics").await?;
        (m["commands"]["system.which"]["calls"] == 2).then_some(m)
    })
    .await;
    assert!(after["bytesIn"].as_u64().unwrap() > before["bytesIn"].as_u64().unwrap());
    // Stop it: SIGTERM → graceful drain → exit 143, socket removed.
    let pid = node.id().unwrap() as i32;
    nix_kill(pid);
    let code = within("the node to exit on SIGTERM", node.wait())
        .await
        .unwrap();
    assert_eq!(code.code(), Some(143));
    assert!(!state.path().join("node.sock").exists());
}

fn nix_kill(pid: i32) {
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
}
