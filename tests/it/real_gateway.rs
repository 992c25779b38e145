//! Conformance against the real OpenClaw Gateway (npm `openclaw`, pinned in
//! `../shared/tools/real-gateway`). Runs only with `OPENCLAW_REAL_GATEWAY=1`; `.ci/run`
//! installs the Gateway and sets it. The tests share one real Gateway, so they take a
//! global lock and run one at a time.

use std::path::PathBuf;
use std::process::Command as Process;

use serde_json::Value;
use tokio::sync::Mutex;

use crate::helpers::*;

static REAL: Mutex<()> = Mutex::const_new(());

/// Whether the real-Gateway tests are enabled.
fn enabled() -> bool {
    std::env::var("OPENCLAW_REAL_GATEWAY").is_ok_and(|v| v == "1")
}

/// The `real-gateway` tool.
pub fn tool() -> PathBuf {
    std::env::var_os("OPENCLAW_REAL_GATEWAY_TOOL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/real-gateway")
        })
}

/// Runs the tool; returns stdout, panicking with stderr on failure.
pub async fn real(args: &[&str]) -> String {
    let tool = tool();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || Process::new(&tool).args(&args).output())
        .await
        .unwrap()
        .expect("cannot run the real-gateway tool");
    assert!(
        out.status.success(),
        "real-gateway failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `real-gateway cli ARGS --json` and parses the JSON it prints.
pub async fn real_json(args: &[&str]) -> Value {
    let mut all = vec!["cli"];
    all.extend_from_slice(args);
    all.push("--json");
    let text = real(&all).await;
    let start = text.find(['{', '[']).unwrap_or(0);
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The URL and token printed by `real-gateway env`.
pub async fn real_env() -> (String, String) {
    let text = real(&["env"]).await;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {key}=")))
            .unwrap_or_else(|| panic!("{key} missing from: {text}"))
            .trim()
            .to_string()
    };
    (get("OPENCLAW_GATEWAY_URL"), get("OPENCLAW_GATEWAY_TOKEN"))
}

/// Finds the object describing `node_id` anywhere in a JSON document.
pub fn find_node<'a>(v: &'a Value, node_id: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => {
            if map.get("nodeId").and_then(Value::as_str) == Some(node_id) {
                return Some(v);
            }
            map.values().find_map(|c| find_node(c, node_id))
        }
        Value::Array(items) => items.iter().find_map(|c| find_node(c, node_id)),
        _ => None,
    }
}

fn lists(v: &Value, key: &str, want: &str) -> bool {
    v.get(key)
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|c| c.as_str() == Some(want)))
}

#[tokio::test]
async fn real_gateway_pairs_serves_and_survives_a_restart() {
    if !enabled() {
        eprintln!("skipped: set OPENCLAW_REAL_GATEWAY=1 to run against the real Gateway");
        return;
    }
    let _guard = REAL.lock().await;
    real(&["start"]).await;
    let (url, token) = real_env().await;
    let name = format!("rust-it-{}", std::process::id());
    let mut node = TestNode::start_with(&url, Some(&token), |o| {
        o.display_name = name.clone();
    });
    let id = node.node_id.clone();

    // Both approvals (the device is paired silently on loopback; the command surface
    // needs `nodes approve`).
    let status = eventually(
        "the real Gateway to list our node with system.which",
        || async {
            real(&["approve-all"]).await;
            let status = real_json(&["nodes", "status"]).await;
            let entry = find_node(&status, &id)?.clone();
            lists(&entry, "commands", "system.which").then_some(entry)
        },
    )
    .await;
    assert_eq!(status["displayName"], name.as_str(), "{status}");
    node.wait_ready().await;

    let invoke = |node_ref: String| async move {
        real_json(&[
            "nodes",
            "invoke",
            "--node",
            &node_ref,
            "--command",
            "system.which",
            "--params",
            r#"{"bins":["sh"]}"#,
        ])
        .await
    };
    let reply = invoke(name.clone()).await;
    let sh = reply["payload"]["bins"]["sh"].as_str().unwrap_or_default();
    assert!(sh.ends_with("/sh"), "unexpected reply: {reply}");

    // Restart the real Gateway: the node reconnects by itself and serves again with no
    // re-pairing.
    real(&["stop"]).await;
    node.wait_for("the node to notice the real Gateway stopped", |s| {
        !matches!(s, openclaw_node::session::SessionState::Ready { .. })
    })
    .await;
    real(&["start"]).await;
    node.wait_ready().await;
    let reply = eventually("system.which after the restart", || async {
        let r = invoke(name.clone()).await;
        r["payload"]["bins"]["sh"].as_str().map(|_| r.clone())
    })
    .await;
    assert!(
        reply["payload"]["bins"]["sh"]
            .as_str()
            .unwrap()
            .ends_with("/sh")
    );
    let pending = real_json(&["nodes", "pending"]).await;
    assert!(
        find_node(&pending, &id).is_none(),
        "re-pairing was needed: {pending}"
    );
    node.stop().await.unwrap();
    real(&["stop"]).await;
}
