//! Conformance against the real OpenClaw Gateway (npm `openclaw`, pinned and installed by
//! the project's `scripts/real-gateway`). Ignored in a plain `cargo test`; `scripts/test`
//! installs the Gateway and runs them with `--include-ignored`. The tests share one real
//! Gateway, so they take a global lock and run one at a time.

use std::path::PathBuf;
use std::process::Command as Process;

use serde_json::Value;
use tokio::sync::Mutex;

use crate::helpers::*;

pub(crate) static REAL: Mutex<()> = Mutex::const_new(());

/// How long a real-Gateway step may take (its CLI needs seconds per call).
const REAL_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The `real-gateway` tool: the project's own, unless `OPENCLAW_REAL_GATEWAY_TOOL` names
/// another.
pub(crate) fn tool() -> PathBuf {
    std::env::var_os("OPENCLAW_REAL_GATEWAY_TOOL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/real-gateway"))
}

fn tool_name() -> String {
    tool().display().to_string()
}

/// Runs the tool; returns stdout, panicking with stderr on failure.
pub(crate) async fn real(args: &[&str]) -> String {
    let tool = tool();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || Process::new(&tool).args(&args).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run scripts/test", tool_name()));
    assert!(
        out.status.success(),
        "real-gateway failed (scripts/test installs the pinned Gateway): {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the tool; returns (success, stdout + stderr) without panicking.
pub(crate) async fn real_try(args: &[&str]) -> (bool, String) {
    let tool = tool();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || Process::new(&tool).args(&args).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run scripts/test", tool_name()));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The first JSON object in a text (CLI output can carry log lines around it).
pub(crate) fn first_json(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let mut de = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    de.next()?.ok()
}

/// Runs `real-gateway cli ARGS --json` and parses the JSON it prints.
pub(crate) async fn real_json(args: &[&str]) -> Value {
    let mut all = vec!["cli"];
    all.extend_from_slice(args);
    all.push("--json");
    let text = real(&all).await;
    let start = text.find(['{', '[']).unwrap_or(0);
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Where the tool keeps the Gateway, the reference node host and their homes
/// (`OPENCLAW_REAL_HOME`, default `~/.cache/openclaw-real`).
pub(crate) fn real_home() -> PathBuf {
    std::env::var_os("OPENCLAW_REAL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/openclaw-real")
        })
}

/// The URL and token printed by `real-gateway env`.
pub(crate) async fn real_env() -> (String, String) {
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
pub(crate) fn find_node<'a>(v: &'a Value, node_id: &str) -> Option<&'a Value> {
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
#[ignore = "needs the real Gateway: scripts/test"]
async fn real_gateway_pairs_serves_and_survives_a_restart() {
    let _guard = REAL.lock().await;
    real(&["start"]).await;
    let (url, token) = real_env().await;
    let name = format!("rust-it-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn openclaw_node::credentials::CredentialStore> =
        std::sync::Arc::new(openclaw_node::credentials::FileStore::in_state_dir(
            dir.path(),
        ));
    let system = openclaw_capability_system::SystemCapability::new(
        openclaw_capability_system::run::RunConfig::new(
            openclaw_capability_system::node_path(),
            dir.path().to_path_buf(),
        ),
    );
    let device = openclaw_capability_device::DeviceCapability::new(
        openclaw_capability_device::DeviceConfig {
            enabled: false,
            state_dir: std::env::temp_dir(),
            app_version: "it".into(),
        },
    )
    .with_host_stats(openclaw_capability_device::HOST_STATS_INTERVAL);
    let caps: Vec<std::sync::Arc<dyn openclaw_capability_api::Capability>> = vec![
        std::sync::Arc::new(system),
        std::sync::Arc::new(TestCapability::default()),
        std::sync::Arc::new(device),
    ];
    let mut node = TestNode::builder(&url)
        .token(&token)
        .state(dir, store)
        .options(|o| {
            o.display_name = name.clone();
            o.path_env = Some(openclaw_capability_system::node_path());
        })
        .caps(caps)
        .start();
    let id = node.node_id.clone();

    // Both approvals (the device is paired silently on loopback; the command surface
    // needs `nodes approve`).
    let status = eventually_for(
        REAL_WAIT,
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
    // Connect metadata and host stats (issue 10): the Gateway keeps our pathEnv and accepts
    // the node.host.stats event published after connect.
    let described = eventually_for(REAL_WAIT, "hostStats in nodes describe", || async {
        let d = real_json(&["nodes", "describe", "--node", &id]).await;
        d.get("hostStats")
            .filter(|h| h.is_object())
            .map(|_| d.clone())
    })
    .await;
    assert_eq!(
        described["pathEnv"],
        openclaw_capability_system::node_path().as_str(),
        "{described}"
    );
    let stats = &described["hostStats"];
    assert!(stats["cpuCount"].as_u64().unwrap() >= 1, "{stats}");
    assert!(
        stats["memoryFreeBytes"].as_u64() <= stats["memoryTotalBytes"].as_u64(),
        "{stats}"
    );

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
    let reply = eventually_for(REAL_WAIT, "system.which after the restart", || async {
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

/// `openclaw qr` run as the Gateway itself (its HOME): the bootstrap token is recorded in
/// the state of whoever mints it, so a code minted by the operator CLI's separate state is
/// unknown to the Gateway.
async fn gateway_qr(url: &str) -> Value {
    let text = real(&["gateway-cli", "qr", "--json", "--url", url]).await;
    first_json(&text).unwrap_or_else(|| panic!("openclaw qr printed no JSON: {text}"))
}

/// `node.invoke` of `system.run` through the real Gateway (operator RPC with the node id):
/// the payload on success, or the error object.
async fn gateway_system_run(node_id: &str, params: Value) -> Value {
    let call = serde_json::json!({
        "nodeId": node_id,
        "command": "system.run",
        "params": params,
        "idempotencyKey": uuid::Uuid::new_v4().to_string(),
    });
    let (_, out) = real_try(&[
        "cli",
        "gateway",
        "call",
        "node.invoke",
        "--json",
        "--timeout",
        "30000",
        "--params",
        &call.to_string(),
    ])
    .await;
    let v = first_json(&out).unwrap_or_else(|| panic!("no JSON from gateway call: {out}"));
    if let Some(p) = v.get("payload") {
        return p.clone();
    }
    v.get("error").cloned().unwrap_or(v)
}

#[tokio::test]
#[ignore = "needs the real Gateway: scripts/test"]
async fn real_gateway_system_run_matches_the_reference_node_host() {
    let _guard = REAL.lock().await;
    real(&["start"]).await;
    real(&["ts-node", "start"]).await;
    let (url, token) = real_env().await;
    let name = format!("rust-run-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn openclaw_node::credentials::CredentialStore> =
        std::sync::Arc::new(openclaw_node::credentials::FileStore::in_state_dir(
            dir.path(),
        ));
    // The reference node's default policy is security=full; compare like with like.
    let mut node = TestNode::builder(&url)
        .token(&token)
        .state(dir, store)
        .options(|o| o.display_name = name.clone())
        .exec_full()
        .start();
    let ours = node.node_id.clone();
    let theirs = eventually_for(
        REAL_WAIT,
        "both nodes to be approved for system.run",
        || async {
            real(&["approve-all"]).await;
            let status = real_json(&["nodes", "status"]).await;
            let me = find_node(&status, &ours)?;
            if !lists(me, "commands", "system.run") || me["connected"] != true {
                return None;
            }
            let ts = status
                .get("nodes")
                .and_then(Value::as_array)?
                .iter()
                .find(|n| {
                    n["displayName"] == "ts-node"
                        && n["connected"] == true
                        && lists(n, "commands", "system.run")
                })?;
            ts["nodeId"].as_str().map(str::to_string)
        },
    )
    .await;
    node.wait_ready().await;

    let cases = [
        serde_json::json!({"command": ["echo", "hi"]}),
        serde_json::json!({"command": ["sh", "-c", "echo err >&2; exit 3"]}),
        serde_json::json!({"command": ["sleep", "5"], "timeoutMs": 1000}),
        serde_json::json!({"command": ["true"], "env": {"LD_PRELOAD": "/tmp/x.so"}}),
    ];
    for case in cases {
        let reference = gateway_system_run(&theirs, case.clone()).await;
        let mine = gateway_system_run(&ours, case.clone()).await;
        eprintln!("{case}\n  reference: {reference}\n  ours:      {mine}");
        // Every key of the reference result is in ours with the same value (ours adds
        // durationMs); errors match in code and message.
        let obj = reference
            .as_object()
            .unwrap_or_else(|| panic!("{case}: {reference}"));
        for (k, v) in obj {
            if k == "details" || k == "type" {
                continue;
            }
            assert_eq!(
                mine.get(k),
                Some(v),
                "{case}: key {k}: reference {reference}, ours {mine}"
            );
        }
    }
    node.stop().await.unwrap();
    real(&["ts-node", "stop"]).await;
    real(&["stop"]).await;
}

#[tokio::test]
#[ignore = "needs the real Gateway: scripts/test"]
async fn real_gateway_setup_code_pairs_and_a_revoked_device_stops_the_node() {
    let _guard = REAL.lock().await;
    real(&["start"]).await;
    let (url, _token) = real_env().await;
    let qr = gateway_qr(&url).await;
    let code = qr["setupCode"]
        .as_str()
        .unwrap_or_else(|| panic!("no setupCode: {qr}"));
    let setup = openclaw_node::protocol::setup_code::parse_setup_code(code).unwrap();
    assert_eq!(setup.url, url);
    let name = format!("rust-pair-{}", std::process::id());
    // Only the setup code: no shared token.
    let mut node = TestNode::builder(&setup.url)
        .no_token()
        .options(|o| {
            o.display_name = name.clone();
            o.bootstrap_token = Some(setup.bootstrap_token.clone());
        })
        .start();
    let id = node.node_id.clone();
    eventually_for(
        REAL_WAIT,
        "the real Gateway to approve and list our node",
        || async {
            real(&["approve-all"]).await;
            let status = real_json(&["nodes", "status"]).await;
            let entry = find_node(&status, &id)?.clone();
            (lists(&entry, "commands", "system.which") && entry["connected"] == true).then_some(())
        },
    )
    .await;
    node.wait_ready().await;
    let reply = real_json(&[
        "nodes",
        "invoke",
        "--node",
        &name,
        "--command",
        "system.which",
        "--params",
        r#"{"bins":["sh"]}"#,
    ])
    .await;
    assert!(
        reply["payload"]["bins"]["sh"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/sh"),
        "{reply}"
    );
    // Revoke: the node must stop with the explanation instead of looping.
    real(&["cli", "devices", "remove", &id]).await;
    let err = node.join().await.unwrap_err();
    assert!(
        matches!(
            err,
            openclaw_node::session::SessionError::DeviceTokenRevoked { .. }
        ),
        "{err}"
    );
    assert_eq!(
        openclaw_node::exit::for_session(&err),
        openclaw_node::exit::AUTH
    );
    real(&["stop"]).await;
}

/// `browser.proxy` through the real Gateway on a node, as the operator CLI calls it.
#[cfg(feature = "browser")]
async fn gateway_browser(node_id: &str, params: Value) -> Value {
    gateway_call(node_id, "browser.proxy", params).await
}

/// `command` through the real Gateway on a node; the payload, or a panic with the error.
#[cfg(any(feature = "browser", feature = "screen"))]
async fn gateway_call(node_id: &str, command: &str, params: Value) -> Value {
    let call = serde_json::json!({
        "nodeId": node_id,
        "command": command,
        "params": params,
        "idempotencyKey": uuid::Uuid::new_v4().to_string(),
    });
    let (_, out) = real_try(&[
        "cli",
        "gateway",
        "call",
        "node.invoke",
        "--json",
        "--timeout",
        "60000",
        "--params",
        &call.to_string(),
    ])
    .await;
    let v = first_json(&out).unwrap_or_else(|| panic!("no JSON from gateway call: {out}"));
    match v.get("payload") {
        Some(p) => p.clone(),
        None => panic!("{command} {params} failed: {v}"),
    }
}

/// Every key of `reference` (recursively through objects) is present in `ours`.
#[cfg(feature = "browser")]
fn same_keys(what: &str, reference: &Value, ours: &Value, skip: &[&str]) {
    if let (Some(r), Some(o)) = (reference.as_object(), ours.as_object()) {
        for (k, v) in r {
            if skip.contains(&k.as_str()) {
                continue;
            }
            let mine = o.get(k).unwrap_or_else(|| {
                panic!("{what}: key {k} missing\n reference: {reference}\n ours: {ours}")
            });
            if v.is_object() && !k.starts_with("refs") {
                same_keys(&format!("{what}.{k}"), v, mine, skip);
            }
        }
    }
}

#[cfg(feature = "browser")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Gateway: scripts/test"]
async fn real_gateway_browser_proxy_matches_the_reference_node_host() {
    let _guard = REAL.lock().await;
    // The reference node host reads its browser settings from its own HOME: as root it
    // needs noSandbox, and our test site is on loopback.
    let ts_conf = real_home().join("home-ts-node/.openclaw/openclaw.json");
    std::fs::create_dir_all(ts_conf.parent().unwrap()).unwrap();
    std::fs::write(
        &ts_conf,
        r#"{"browser": {"noSandbox": true, "headless": true, "ssrfPolicy": {"dangerouslyAllowPrivateNetwork": true}}}"#,
    )
    .unwrap();
    real(&["start"]).await;
    real(&["ts-node", "stop"]).await;
    real(&["ts-node", "start"]).await;
    let (url, token) = real_env().await;
    let site = crate::browser::serve_site().await;
    let name = format!("rust-browser-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn openclaw_node::credentials::CredentialStore> =
        std::sync::Arc::new(openclaw_node::credentials::FileStore::in_state_dir(
            dir.path(),
        ));
    let cap = openclaw_capability_browser::BrowserCapability::new(
        openclaw_capability_browser::BrowserSettings {
            headless: Some(true),
            allow_private_network: true,
            ..Default::default()
        },
        data.path(),
    );
    let caps: Vec<std::sync::Arc<dyn openclaw_capability_api::Capability>> =
        vec![std::sync::Arc::new(cap)];
    let mut node = TestNode::builder(&url)
        .token(&token)
        .state(dir, store)
        .options(|o| o.display_name = name.clone())
        .caps(caps)
        .start();
    let ours = node.node_id.clone();
    let theirs = eventually_for(
        REAL_WAIT,
        "both nodes to be approved for browser.proxy",
        || async {
            real(&["approve-all"]).await;
            let status = real_json(&["nodes", "status"]).await;
            let me = find_node(&status, &ours)?;
            if !lists(me, "commands", "browser.proxy") || me["connected"] != true {
                return None;
            }
            let ts = status
                .get("nodes")
                .and_then(Value::as_array)?
                .iter()
                .find(|n| {
                    n["displayName"] == "ts-node"
                        && n["connected"] == true
                        && lists(n, "commands", "browser.proxy")
                })?;
            ts["nodeId"].as_str().map(str::to_string)
        },
    )
    .await;
    node.wait_ready().await;

    let page = format!("{site}/");
    let steps = [
        serde_json::json!({"path": "/"}),
        serde_json::json!({"path": "/tabs/open", "method": "POST", "body": {"url": page}}),
        serde_json::json!({"path": "/tabs"}),
        serde_json::json!({"path": "/snapshot"}),
    ];
    let mut snapshots = Vec::new();
    for step in steps {
        let reference = gateway_browser(&theirs, step.clone()).await;
        let mine = gateway_browser(&ours, step.clone()).await;
        eprintln!("{step}\n  reference: {reference}\n  ours:      {mine}");
        // `ownership` is the reference's optional tab-cleanup fingerprint.
        same_keys(&step.to_string(), &reference, &mine, &["ownership"]);
        if let (Some(r), Some(o)) = (
            reference["result"]["tabs"].as_array(),
            mine["result"]["tabs"].as_array(),
        ) {
            same_keys("tab", &r[0], &o[0], &[]);
            assert_eq!(r.len(), o.len(), "tab count: reference {r:?}, ours {o:?}");
        }
        if step["path"] == "/snapshot" {
            snapshots.push((reference, mine));
        }
    }
    // The elements an agent acts on are the same, with the same roles and names.
    let (reference, mine) = &snapshots[0];
    let actionable = |v: &Value| -> std::collections::BTreeSet<(String, String)> {
        v["result"]["refs"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| {
                ["button", "link", "textbox", "combobox"]
                    .contains(&r["role"].as_str().unwrap_or(""))
            })
            .map(|r| {
                (
                    r["role"].as_str().unwrap().to_string(),
                    r["name"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let (theirs_set, ours_set) = (actionable(reference), actionable(mine));
    assert!(
        theirs_set.is_subset(&ours_set),
        "reference {theirs_set:?}, ours {ours_set:?}"
    );

    gateway_browser(
        &theirs,
        serde_json::json!({"path": "/stop", "method": "POST"}),
    )
    .await;
    gateway_browser(
        &ours,
        serde_json::json!({"path": "/stop", "method": "POST"}),
    )
    .await;
    node.stop().await.unwrap();
    real(&["ts-node", "stop"]).await;
    real(&["stop"]).await;
}

/// The real Gateway relays `screen.snapshot` from our node and shows the grant in the
/// node's `permissions` (on a private Xvfb).
#[cfg(feature = "screen")]
#[tokio::test]
#[ignore = "needs the real Gateway and Xvfb: scripts/test"]
async fn real_gateway_relays_screen_snapshot() {
    let xvfb = Xvfb::start();
    let _guard = REAL.lock().await;
    real(&["start"]).await;
    let (url, token) = real_env().await;
    let name = format!("rust-screen-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn openclaw_node::credentials::CredentialStore> =
        std::sync::Arc::new(openclaw_node::credentials::FileStore::in_state_dir(
            dir.path(),
        ));
    let caps: Vec<std::sync::Arc<dyn openclaw_capability_api::Capability>> =
        vec![std::sync::Arc::new(
            openclaw_capability_screen::ScreenCapability::with_env(
                openclaw_capability_screen::ScreenSettings::default(),
                &xvfb.env(),
            ),
        )];
    let mut node = TestNode::builder(&url)
        .token(&token)
        .state(dir, store)
        .options(|o| o.display_name = name.clone())
        .caps(caps)
        .start();
    let ours = node.node_id.clone();
    let listed = eventually_for(
        REAL_WAIT,
        "our node to be approved for screen.snapshot",
        || async {
            real(&["approve-all"]).await;
            let status = real_json(&["nodes", "status"]).await;
            let me = find_node(&status, &ours)?.clone();
            (lists(&me, "commands", "screen.snapshot") && me["connected"] == true).then_some(me)
        },
    )
    .await;
    assert_eq!(listed["permissions"]["screenRecording"], true, "{listed}");
    assert!(lists(&listed, "caps", "screen"), "{listed}");
    node.wait_ready().await;
    let shot = gateway_call(
        &ours,
        "screen.snapshot",
        serde_json::json!({"maxWidth": 64}),
    )
    .await;
    assert_eq!(shot["format"], "png");
    assert_eq!(shot["width"], 64);
    assert!(
        shot["image"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    node.stop().await.unwrap();
    real(&["stop"]).await;
}

/// A capability whose background task's gateway requests are recorded with their answers
/// (method, params, answer), to see what the real Gateway said to a publisher.
struct Recorded {
    inner: std::sync::Arc<dyn openclaw_capability_api::Capability>,
    answers: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
}

impl openclaw_capability_api::Capability for Recorded {
    fn caps(&self) -> Vec<&'static str> {
        self.inner.caps()
    }
    fn handlers(&self) -> Vec<std::sync::Arc<dyn openclaw_capability_api::Handler>> {
        self.inner.handlers()
    }
    fn background(
        &self,
        mut ctx: openclaw_capability_api::BackgroundContext,
    ) -> Option<openclaw_capability_api::BoxFuture<()>> {
        let upstream = ctx.requests.clone();
        let (tx, mut rx) =
            tokio::sync::mpsc::unbounded_channel::<openclaw_capability_api::GatewayRequest>();
        ctx.requests = openclaw_capability_api::RequestSink::new(tx);
        let answers = self.answers.clone();
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                let answer = upstream.request(&r.method, r.params.clone()).await;
                let shown = match &answer {
                    Ok(v) => serde_json::json!({"ok": v}),
                    Err(e) => serde_json::json!({"error": e.to_string()}),
                };
                answers.lock().unwrap().push((r.method.clone(), shown));
                let _ = r.reply.send(answer);
            }
        });
        self.inner.background(ctx)
    }
}

#[tokio::test]
#[ignore = "needs the real Gateway: scripts/test"]
async fn real_gateway_accepts_node_skills_and_runs_in_a_skill_directory() {
    let _guard = REAL.lock().await;
    real(&["start"]).await;
    let (url, token) = real_env().await;
    let name = format!("rust-skills-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let skills_dir = dir.path().join("skills");
    let skill_md =
        "---\nname: real-skill\ndescription: A skill served by the Rust node\n---\n# Real skill\n";
    std::fs::create_dir_all(skills_dir.join("real-skill")).unwrap();
    std::fs::write(skills_dir.join("real-skill/SKILL.md"), skill_md).unwrap();
    let store: std::sync::Arc<dyn openclaw_node::credentials::CredentialStore> =
        std::sync::Arc::new(openclaw_node::credentials::FileStore::in_state_dir(
            dir.path(),
        ));
    let node_id = openclaw_node::credentials::load_or_create_identity(store.as_ref())
        .unwrap()
        .device_id();
    let mut run = openclaw_capability_system::run::RunConfig::new(
        openclaw_capability_system::node_path(),
        dir.path().to_path_buf(),
    );
    run.security = openclaw_capability_system::approvals::Security::Full;
    run.cwd_locators = openclaw_node::node::skill_locators(skills_dir.clone(), node_id.clone());
    let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let skills = Recorded {
        inner: std::sync::Arc::new(openclaw_capability_skills::SkillsCapability::new(
            &skills_dir,
            true,
        )),
        answers: answers.clone(),
    };
    let caps: Vec<std::sync::Arc<dyn openclaw_capability_api::Capability>> = vec![
        std::sync::Arc::new(openclaw_capability_system::SystemCapability::new(run)),
        std::sync::Arc::new(skills),
    ];
    let mut node = TestNode::builder(&url)
        .token(&token)
        .state(dir, store)
        .options(|o| o.display_name = name.clone())
        .caps(caps)
        .start();
    assert_eq!(node.node_id, node_id);
    node.wait_ready().await;
    // Accepted before any approval (parity §2.4), with the Gateway's normalised list.
    let accepted = eventually_for(REAL_WAIT, "the answer to node.skills.update", || async {
        answers
            .lock()
            .unwrap()
            .iter()
            .find(|(m, _)| m == "node.skills.update")
            .map(|(_, a)| a.clone())
    })
    .await;
    eprintln!("node.skills.update answer: {accepted}");
    assert_eq!(accepted["ok"]["nodeId"], node_id.as_str(), "{accepted}");
    let listed = &accepted["ok"]["skills"];
    assert_eq!(listed[0]["name"], "real-skill", "{accepted}");

    eventually_for(REAL_WAIT, "our node approved for system.run", || async {
        real(&["approve-all"]).await;
        let status = real_json(&["nodes", "status"]).await;
        let me = find_node(&status, &node_id)?;
        (lists(me, "commands", "system.run") && me["connected"] == true).then_some(())
    })
    .await;
    let described = real_json(&["nodes", "describe", "--node", &node_id]).await;
    eprintln!(
        "without node.runnerInventory.update: sessionHost={} workerSlots={} issues={}",
        described["sessionHost"], described["workerSlots"], described["issues"]
    );

    let locator = format!("node://{node_id}/skills/real-skill");
    let reply = eventually_for(REAL_WAIT, "system.run in the skill directory", || async {
        let r = gateway_system_run(
            &node_id,
            serde_json::json!({"command": ["pwd"], "cwd": locator}),
        )
        .await;
        r.get("stdout").map(|_| r.clone())
    })
    .await;
    let real_dir = std::fs::canonicalize(skills_dir.join("real-skill")).unwrap();
    assert_eq!(
        reply["stdout"].as_str().unwrap().trim(),
        real_dir.display().to_string(),
        "{reply}"
    );
    let refused = gateway_system_run(
        &node_id,
        serde_json::json!({"command": ["pwd"], "cwd": format!("node://{node_id}/skills/absent")}),
    )
    .await;
    eprintln!("missing skill: {refused}");
    assert!(
        refused
            .to_string()
            .contains("node skill cwd locator is unavailable"),
        "{refused}"
    );
    node.stop().await.unwrap();
    real(&["stop"]).await;
}
