//! A node with skills against a scripted fake gateway: `node.skills.update` after hello-ok
//! (retried after a transient refusal), none when skills are off, and `system.run` with a
//! `node://<node id>/skills/<name>` cwd running in the skill's directory.

use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use openclaw_capability_api::Capability;
use openclaw_capability_skills::SkillsCapability;
use openclaw_capability_system::run::RunConfig;
use openclaw_node::credentials::{CredentialStore, FileStore, load_or_create_identity};
use openclaw_node::protocol::*;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::fake_gateway::{ServerWs, accept_node};
use crate::helpers::*;

const SKILL_MD: &str = "---\nname: deploy\ndescription: Ship the build\n---\n# Deploy\n";

/// Frames the node sends, until a request for `method`: its id and params, and the
/// methods of the requests before it.
async fn next_request(ws: &mut ServerWs, method: &str) -> (String, Value, Vec<String>) {
    let mut before = Vec::new();
    loop {
        let Some(Ok(Message::Text(t))) = within(method, ws.next()).await else {
            panic!("connection ended")
        };
        if let Frame::Req(r) = Frame::parse(&t).unwrap() {
            if r.method == method {
                return (r.id, r.params.unwrap_or(Value::Null), before);
            }
            before.push(r.method);
        }
    }
}

/// A node (state dir with one skill, `deploy`) serving `system` (any command, the skill
/// locators resolved) and skills (`enabled` or not), and its fake gateway.
async fn node_with_a_skill(enabled: bool) -> (TestNode, ServerWs, std::path::PathBuf) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let skills_dir = dir.path().join("skills");
    std::fs::create_dir_all(skills_dir.join("deploy")).unwrap();
    std::fs::write(skills_dir.join("deploy/SKILL.md"), SKILL_MD).unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
    let node_id = load_or_create_identity(store.as_ref()).unwrap().device_id();
    let mut run = RunConfig::new(
        openclaw_capability_system::node_path(),
        dir.path().to_path_buf(),
    );
    run.security = openclaw_capability_system::approvals::Security::Full;
    run.cwd_locators = openclaw_node::node::skill_locators(skills_dir.clone(), node_id);
    let caps: Vec<Arc<dyn Capability>> = vec![
        Arc::new(openclaw_capability_system::SystemCapability::new(run)),
        Arc::new(SkillsCapability::new(&skills_dir, enabled)),
    ];
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let node = TestNode::builder(&url).state(dir, store).caps(caps).start();
    let (ws, _) = accept_node(&listener, 30_000).await;
    (node, ws, skills_dir)
}

async fn system_run(
    ws: &mut ServerWs,
    node_id: &str,
    id: &str,
    params: Value,
) -> (Value, Vec<String>) {
    ws.send(Message::text(
        Frame::event(
            "node.invoke.request",
            json!({"id": id, "nodeId": node_id, "command": "system.run",
                   "paramsJSON": params.to_string(), "timeoutMs": 10000}),
        )
        .to_text(),
    ))
    .await
    .unwrap();
    let (_, r, before) = next_request(ws, "node.invoke.result").await;
    (r, before)
}

#[tokio::test]
async fn the_node_publishes_its_skills_and_runs_in_a_skill_directory() {
    let (mut node, mut ws, skills_dir) = node_with_a_skill(true).await;
    node.wait_ready().await;
    // A transient refusal: the same params come again.
    let (id, first, _) = next_request(&mut ws, "node.skills.update").await;
    ws.send(Message::text(
        Frame::err(id, ErrorShape::new("UNAVAILABLE", "try later")).to_text(),
    ))
    .await
    .unwrap();
    let (id, again, _) = next_request(&mut ws, "node.skills.update").await;
    assert_eq!(first, again);
    assert_eq!(
        again,
        json!({"skills": [{"name": "deploy", "description": "Ship the build", "content": SKILL_MD}]})
    );
    ws.send(Message::text(
        Frame::ok(
            id,
            json!({"nodeId": node.node_id, "skills": again["skills"]}),
        )
        .to_text(),
    ))
    .await
    .unwrap();

    let locator = format!("node://{}/skills/deploy", node.node_id);
    let (r, _) = system_run(
        &mut ws,
        &node.node_id,
        "r1",
        json!({"command": ["pwd"], "cwd": locator}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    let payload: Value = serde_json::from_str(r["payloadJSON"].as_str().unwrap()).unwrap();
    let real = std::fs::canonicalize(skills_dir.join("deploy")).unwrap();
    assert_eq!(
        payload["stdout"].as_str().unwrap().trim(),
        real.display().to_string()
    );

    let (r, _) = system_run(
        &mut ws,
        &node.node_id,
        "r2",
        json!({"command": ["pwd"], "cwd": "node://another-node/skills/deploy"}),
    )
    .await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    assert_eq!(
        r["error"]["message"],
        "Error: INVALID_REQUEST: node skill cwd locator is invalid for this node"
    );
    let missing = format!("node://{}/skills/absent", node.node_id);
    let (r, before) = system_run(
        &mut ws,
        &node.node_id,
        "r3",
        json!({"command": ["pwd"], "cwd": missing}),
    )
    .await;
    assert_eq!(
        r["error"]["message"],
        "Error: INVALID_REQUEST: node skill cwd locator is unavailable"
    );
    assert!(
        !before.iter().any(|m| m == "node.skills.update"),
        "published twice: {before:?}"
    );
    node.stop().await.unwrap();
}

#[tokio::test]
async fn a_node_with_skills_off_publishes_none() {
    let (mut node, mut ws, _) = node_with_a_skill(false).await;
    node.wait_ready().await;
    let (r, before) = system_run(&mut ws, &node.node_id, "r1", json!({"command": ["true"]})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        !before.iter().any(|m| m == "node.skills.update"),
        "{before:?}"
    );
    node.stop().await.unwrap();
}
