//! `browser.proxy` end to end: a real node on the embedded gateway drives a real headless
//! Chromium against a small site served on 127.0.0.1. Needs a Chromium-based browser on
//! PATH (`.ci/run` installs Debian's `chromium`).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use openclaw_capability_api::Capability;
use openclaw_capability_browser::{BrowserCapability, BrowserSettings, launch};
use openclaw_node::credentials::{CredentialStore, FileStore};
use openclaw_node::operator::{OperatorClient, OperatorError};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const INDEX: &str = r#"<!doctype html><html><head><title>Test site</title></head><body>
<h1>Browser test site</h1>
<form id="f" onsubmit="event.preventDefault(); document.getElementById('out').textContent = 'Hello, ' + document.getElementById('name').value + '!';">
<label for="name">Name</label><input id="name" type="text">
<label for="color">Color</label><select id="color"><option value="r">Red</option><option value="g">Green</option></select>
<button type="submit">Greet</button>
</form>
<p id="out"></p>
<button onclick="document.getElementById('dlg').textContent = confirm('Proceed?') ? 'confirmed' : 'dismissed'">Ask</button>
<p id="dlg"></p>
<a href="/next">Next page</a>
<a href="/report.txt" download="report.txt">Get report</a>
<label for="up">Upload</label><input id="up" type="file" onchange="document.getElementById('picked').textContent = 'picked ' + this.files[0].name">
<p id="picked"></p>
<script>console.log('site ready'); setTimeout(() => { throw new Error('late failure'); }, 0);</script>
</body></html>"#;

/// Serves the test site on 127.0.0.1:0 until the test ends.
pub(crate) async fn serve_site() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (ctype, extra, body): (&str, &str, String) = match path.as_str() {
                    "/" => ("text/html", "", INDEX.to_string()),
                    "/next" => (
                        "text/html",
                        "",
                        "<!doctype html><title>Next</title><h1>Next page</h1>".into(),
                    ),
                    "/report.txt" => (
                        "text/plain",
                        "Content-Disposition: attachment; filename=\"report.txt\"\r\n",
                        "report body\n".into(),
                    ),
                    "/big" => {
                        let items: String = (0..1000)
                            .map(|i| format!("<li><button>Item {i}</button></li>"))
                            .collect();
                        (
                            "text/html",
                            "",
                            format!("<!doctype html><title>Big</title><ul>{items}</ul>"),
                        )
                    }
                    _ => ("text/plain", "", "not found".into()),
                };
                let status = if body == "not found" {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

fn require_browser() {
    if launch::detect(None, std::env::var("PATH").ok().as_deref()).is_err() {
        panic!(
            "these tests need a Chromium-based browser on PATH: run scripts/test, which installs chromium"
        );
    }
}

struct Rig {
    _gw: TestGateway,
    op: OperatorClient,
    node: TestNode,
    cap: BrowserCapability,
    site: String,
    _data: tempfile::TempDir,
}

async fn rig(settings: BrowserSettings) -> Rig {
    require_browser();
    let site = serve_site().await;
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let data = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k != "DISPLAY" && k != "WAYLAND_DISPLAY")
        .collect();
    let cap = BrowserCapability::with_env(settings, data.path(), env);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
    let caps: Vec<Arc<dyn Capability>> = vec![Arc::new(cap.clone())];
    let mut node = TestNode::builder(&gw.url)
        .state(dir, store)
        .caps(caps)
        .start();
    pair(&gw, &mut node, &op).await;
    Rig {
        _gw: gw,
        op,
        node,
        cap,
        site,
        _data: data,
    }
}

fn lab_settings() -> BrowserSettings {
    BrowserSettings {
        allow_private_network: true,
        headless: Some(true),
        allow_profiles: vec!["openclaw".into()],
        ..Default::default()
    }
}

impl Rig {
    async fn call(&self, command: &str, params: Value) -> Result<Value, OperatorError> {
        self.op
            .node_invoke(&self.node.node_id, command, params, Some(60_000))
            .await
            .map(|r| r.payload)
    }

    async fn proxy(&self, method: &str, path: &str, body: Value) -> Value {
        let params = if method == "GET" {
            json!({"method": method, "path": path, "query": body, "timeoutMs": 45_000})
        } else {
            json!({"method": method, "path": path, "body": body, "timeoutMs": 45_000})
        };
        match self.call("browser.proxy", params).await {
            Ok(v) => v,
            Err(e) => panic!("browser.proxy {method} {path} failed: {e:?}"),
        }
    }

    async fn proxy_err(&self, method: &str, path: &str, body: Value) -> String {
        let params = json!({"method": method, "path": path, "body": body, "query": if method == "GET" { body.clone() } else { json!({}) }, "timeoutMs": 45_000});
        match self.call("browser.proxy", params).await {
            Ok(v) => panic!("expected {method} {path} to fail, got {v}"),
            Err(OperatorError::Gateway(shape)) => shape.message,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    fn user_data_dir(&self) -> std::path::PathBuf {
        self.cap
            .service()
            .profile("openclaw")
            .ok()
            .unwrap()
            .user_data_dir()
    }
}

/// The ref of the first line with this role and name in a snapshot.
fn ref_of(snapshot: &Value, role: &str, name: &str) -> String {
    let refs = snapshot["result"]["refs"].as_object().unwrap();
    refs.iter()
        .find(|(_, v)| v["role"] == role && v["name"] == name)
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| panic!("no {role} {name:?} in {}", snapshot["result"]["snapshot"]))
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn file_bytes(result: &Value) -> Vec<u8> {
    let b64 = result["files"][0]["base64"]
        .as_str()
        .unwrap_or_else(|| panic!("no file in {result}"));
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test"]
async fn an_agent_session_drives_a_real_chromium_through_the_gateway() {
    let r = rig(lab_settings()).await;
    let listed = r.op.node_list().await.unwrap();
    let me = listed
        .nodes
        .iter()
        .find(|n| n.node_id == r.node.node_id)
        .unwrap();
    assert!(
        me.commands.contains(&"browser.proxy".to_string()),
        "{:?}",
        me.commands
    );

    // Status never launches.
    let status = r.proxy("GET", "/", json!({})).await;
    assert_eq!(status["result"]["running"], false);
    assert_eq!(status["result"]["headless"], true);

    // Open the site in a new tab, snapshot it.
    let opened = r
        .proxy(
            "POST",
            "/tabs/open",
            json!({"url": format!("{}/", r.site), "label": "site"}),
        )
        .await;
    let target = opened["result"]["targetId"].as_str().unwrap().to_string();
    assert_eq!(opened["result"]["url"], format!("{}/", r.site));
    assert_eq!(opened["result"]["suggestedTargetId"], "site");
    assert_eq!(opened["result"]["resolvedProfile"], "openclaw");
    let status = r.proxy("GET", "/", json!({})).await;
    assert_eq!(status["result"]["running"], true);
    assert!(status["result"]["pid"].as_u64().unwrap() > 0);

    let snap = r
        .proxy("GET", "/snapshot", json!({"targetId": "site"}))
        .await;
    let text = snap["result"]["snapshot"].as_str().unwrap();
    assert!(text.contains("heading \"Browser test site\""), "{text}");
    assert_eq!(snap["result"]["targetId"], target);
    assert!(snap["result"]["stats"]["refs"].as_u64().unwrap() >= 5);
    let name = ref_of(&snap, "textbox", "Name");
    let greet = ref_of(&snap, "button", "Greet");

    // Type, click, read the result in a new snapshot.
    r.proxy(
        "POST",
        "/act",
        json!({"kind": "type", "ref": name, "text": "Ada"}),
    )
    .await;
    let combo = ref_of(&snap, "combobox", "Color");
    r.proxy(
        "POST",
        "/act",
        json!({"kind": "select", "ref": combo, "values": ["Green"]}),
    )
    .await;
    let clicked = r
        .proxy("POST", "/act", json!({"kind": "click", "ref": greet}))
        .await;
    assert_eq!(clicked["result"]["ok"], true);
    let after = r.proxy("GET", "/snapshot", json!({})).await;
    let text = after["result"]["snapshot"].as_str().unwrap();
    assert!(text.contains("Hello, Ada!"), "{text}");
    let value = r
        .proxy(
            "POST",
            "/act",
            json!({"kind": "evaluate", "fn": "() => document.getElementById('color').value"}),
        )
        .await;
    assert_eq!(value["result"]["result"], "g");

    // A screenshot is a real PNG of the viewport; a PDF is a PDF.
    let shot = r.proxy("POST", "/screenshot", json!({})).await;
    let png = file_bytes(&shot);
    assert_eq!(png_size(&png), (1280, 720), "viewport screenshot size");
    assert_eq!(shot["files"][0]["mimeType"], "image/png");
    let element = r.proxy("POST", "/screenshot", json!({"ref": greet})).await;
    let (w, h) = png_size(&file_bytes(&element));
    assert!(w < 200 && h < 100, "element screenshot {w}x{h}");
    let pdf = r.proxy("POST", "/pdf", json!({})).await;
    assert!(file_bytes(&pdf).starts_with(b"%PDF-"));

    // A dialog with nobody armed blocks the action; answering it unblocks the page.
    let snap = r.proxy("GET", "/snapshot", json!({})).await;
    let ask = ref_of(&snap, "button", "Ask");
    let blocked = r
        .proxy("POST", "/act", json!({"kind": "click", "ref": ask}))
        .await;
    assert_eq!(blocked["result"]["blockedByDialog"], true, "{blocked}");
    let pending = &blocked["result"]["browserState"]["dialogs"]["pending"][0];
    assert_eq!(pending["type"], "confirm");
    assert_eq!(pending["message"], "Proceed?");
    r.proxy(
        "POST",
        "/hooks/dialog",
        json!({"accept": false, "dialogId": pending["id"]}),
    )
    .await;
    let text = r.proxy("GET", "/text", json!({})).await;
    assert!(
        text["result"]["text"]
            .as_str()
            .unwrap()
            .contains("dismissed"),
        "{text}"
    );
    // Armed first, the dialog is accepted as it opens.
    r.proxy("POST", "/hooks/dialog", json!({"accept": true}))
        .await;
    let done = r
        .proxy("POST", "/act", json!({"kind": "click", "ref": ask}))
        .await;
    assert!(done["result"].get("blockedByDialog").is_none(), "{done}");
    let text = r.proxy("GET", "/text", json!({})).await;
    assert!(
        text["result"]["text"]
            .as_str()
            .unwrap()
            .contains("confirmed"),
        "{text}"
    );
    let dialogs = r.proxy("GET", "/dialogs", json!({})).await;
    assert_eq!(
        dialogs["result"]["browserState"]["dialogs"]["recent"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Download a file into the profile's downloads directory; it comes back in files[].
    let report = ref_of(&snap, "link", "Get report");
    let dl = r
        .proxy(
            "POST",
            "/download",
            json!({"ref": report, "path": "report.txt", "timeoutMs": 20000}),
        )
        .await;
    assert_eq!(dl["result"]["download"]["suggestedFilename"], "report.txt");
    assert!(
        dl["result"]["download"]["path"]
            .as_str()
            .unwrap()
            .ends_with("downloads/report.txt")
    );
    assert_eq!(file_bytes(&dl), b"report body\n");

    // Upload through browser.proxy.upload.v1 into the file input.
    let upload_ref = ref_of(&snap, "button", "Upload");
    let up = r
        .call(
            "browser.proxy.upload.v1",
            json!({"method": "POST", "path": "/hooks/file-chooser", "body": {"inputRef": upload_ref},
                   "upload": {"envelope": "browser-upload-v1", "files": [{"name": "notes.txt", "contentBase64": "bm90ZXM="}]}}),
        )
        .await
        .unwrap();
    assert_eq!(up["result"]["ok"], true);
    let picked = r
        .proxy(
            "POST",
            "/act",
            json!({"kind": "wait", "text": "picked notes.txt", "timeoutMs": 5000}),
        )
        .await;
    assert_eq!(picked["result"]["ok"], true);

    // Debug reads saw the page's console and its uncaught error.
    let console = r.proxy("GET", "/console", json!({})).await;
    assert!(
        console["result"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == "site ready"),
        "{console}"
    );
    let errors = r.proxy("GET", "/errors", json!({})).await;
    assert!(
        errors["result"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().unwrap_or("").contains("late failure")),
        "{errors}"
    );

    // Navigation, then a link click in a batch that reports the navigation.
    let nav = r
        .proxy("POST", "/navigate", json!({"url": format!("{}/", r.site)}))
        .await;
    assert_eq!(nav["result"]["url"], format!("{}/", r.site));
    // The network buffer saw that load, with its resource type and status.
    let requests = r.proxy("GET", "/requests", json!({})).await;
    assert!(
        requests["result"]["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["url"] == format!("{}/", r.site)
                && q["method"] == "GET"
                && q["resourceType"] == "Document"
                && q["status"] == 200
                && q["ok"] == true),
        "{requests}"
    );
    let snap = r
        .proxy("GET", "/snapshot", json!({"mode": "efficient"}))
        .await;
    let next = ref_of(&snap, "link", "Next page");
    let batch = r.proxy("POST", "/act", json!({"kind": "batch", "actions": [{"kind": "click", "ref": next}, {"kind": "press", "key": "End"}]})).await;
    assert_eq!(batch["result"]["results"][0]["navigated"], true, "{batch}");
    assert_eq!(batch["result"]["aborted"]["reason"], "navigation");

    // Stop: the browser's whole process tree is gone.
    let tabs = r.proxy("GET", "/tabs", json!({})).await;
    assert!(!tabs["result"]["tabs"].as_array().unwrap().is_empty());
    assert!(!launch::processes_using(&r.user_data_dir()).is_empty());
    let stopped = r.proxy("POST", "/stop", json!({})).await;
    assert_eq!(stopped["result"]["stopped"], true);
    assert!(
        launch::processes_using(&r.user_data_dir()).is_empty(),
        "browser processes left after /stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test"]
async fn bad_requests_get_clear_errors_and_leave_no_browser_behind() {
    let r = rig(lab_settings()).await;
    let opened = r
        .proxy("POST", "/tabs/open", json!({"url": format!("{}/", r.site)}))
        .await;
    let target = opened["result"]["targetId"].as_str().unwrap().to_string();

    // An unknown ref.
    let e = r
        .proxy_err("POST", "/act", json!({"kind": "click", "ref": "e999"}))
        .await;
    assert!(
        e.contains("Unknown ref \"e999\". Run a new snapshot"),
        "{e}"
    );
    // Refused schemes never reach the browser.
    let e = r
        .proxy_err("POST", "/navigate", json!({"url": "file:///etc/passwd"}))
        .await;
    assert!(
        e.contains("Navigation blocked: unsupported protocol \"file:\""),
        "{e}"
    );
    let e = r
        .proxy_err("POST", "/tabs/open", json!({"url": "chrome://settings"}))
        .await;
    assert!(e.contains("unsupported protocol \"chrome:\""), "{e}");
    // A profile outside the allowlist, and routes that mutate profiles.
    let e = r
        .proxy_err("GET", "/tabs", json!({"profile": "work"}))
        .await;
    assert!(e.contains("browser profile not allowed"), "{e}");
    let e = r
        .proxy_err("POST", "/profiles/create", json!({"name": "x"}))
        .await;
    assert!(
        e.contains("cannot mutate persistent browser profiles"),
        "{e}"
    );
    // A wait that cannot succeed times out with the condition named.
    let e = r
        .proxy_err(
            "POST",
            "/act",
            json!({"kind": "wait", "text": "never shows up", "timeoutMs": 700}),
        )
        .await;
    assert!(
        e.contains("wait for text \"never shows up\" timed out"),
        "{e}"
    );
    // The proxy's own deadline.
    let slow = r
        .call(
            "browser.proxy",
            json!({"method": "POST", "path": "/act", "timeoutMs": 400,
            "body": {"kind": "evaluate", "fn": "() => new Promise(r => setTimeout(r, 5000))"}}),
        )
        .await
        .unwrap_err();
    let OperatorError::Gateway(shape) = slow else {
        panic!("{slow:?}")
    };
    assert!(
        shape
            .message
            .contains("browser proxy timed out for POST /act after 400ms"),
        "{}",
        shape.message
    );
    // The structured envelope carries status and code.
    let env = r
        .call(
            "browser.proxy",
            json!({"method": "POST", "path": "/act", "body": {}, "errorEnvelope": "browser-v1"}),
        )
        .await
        .unwrap();
    assert_eq!(
        env["error"],
        json!({"status": 400, "body": {"error": "kind is required", "code": "ACT_KIND_REQUIRED"}})
    );
    // A closed tab.
    r.proxy("DELETE", &format!("/tabs/{target}"), json!({}))
        .await;
    let e = r
        .proxy_err("GET", "/snapshot", json!({"targetId": target}))
        .await;
    assert!(e.contains("tab not found"), "{e}");
    // The node still serves after all of that.
    let ok = r.proxy("GET", "/snapshot", json!({})).await;
    assert_eq!(ok["result"]["ok"], true);

    // Stopping the node stops its browser.
    let dir = r.user_data_dir();
    assert!(!launch::processes_using(&dir).is_empty());
    let Rig { node, cap, .. } = r;
    node.stop().await.unwrap();
    assert!(
        launch::processes_using(&dir).is_empty(),
        "browser processes left after node shutdown"
    );
    drop(cap);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test"]
async fn the_strict_default_policy_refuses_private_destinations() {
    let r = rig(BrowserSettings {
        headless: Some(true),
        ..Default::default()
    })
    .await;
    let e = r
        .proxy_err("POST", "/tabs/open", json!({"url": format!("{}/", r.site)}))
        .await;
    assert!(e.contains("browser navigation blocked by policy"), "{e}");
    let status = r.proxy("GET", "/", json!({})).await;
    assert_eq!(
        status["result"]["running"], false,
        "a refused URL must not launch the browser"
    );
}

/// A node killed with SIGKILL (no chance to clean up) takes its browser with it: the
/// browser was started with a parent-death signal, and its helpers follow their parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test"]
async fn a_killed_node_takes_its_browser_with_it() {
    require_browser();
    let site = serve_site().await;
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        state.path().join("config.toml"),
        "[browser]\nheadless = true\nallow_private_network = true\n",
    )
    .unwrap();
    let mut node = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-node"))
        .args([
            "--state-dir",
            state.path().to_str().unwrap(),
            "--credential-store",
            "file",
            "run",
        ])
        .envs([
            ("OPENCLAW_GATEWAY_URL", gw.url.as_str()),
            ("OPENCLAW_GATEWAY_TOKEN", TOKEN),
        ])
        .env_remove("DISPLAY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let node_id = eventually("the node to serve browser.proxy", || async {
        op.node_list()
            .await
            .ok()?
            .nodes
            .into_iter()
            .find(|n| n.connected && n.commands.iter().any(|c| c == "browser.proxy"))
            .map(|n| n.node_id)
    })
    .await;
    op.node_invoke(
        &node_id,
        "browser.proxy",
        json!({"method": "POST", "path": "/tabs/open", "body": {"url": format!("{site}/")}, "timeoutMs": 45_000}),
        Some(60_000),
    )
    .await
    .unwrap();
    let user_data = state.path().join("browser/openclaw/user-data");
    assert!(
        !launch::processes_using(&user_data).is_empty(),
        "the browser should be running"
    );
    node.start_kill().unwrap();
    node.wait().await.unwrap();
    eventually("the browser to exit after its node was killed", || async {
        launch::processes_using(&user_data).is_empty().then_some(())
    })
    .await;
}
