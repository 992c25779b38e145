//! The secrets audit (issue #9, part 5): every command path of the real binary runs at
//! `RUST_LOG=trace`, and no shared token, password, device token, bootstrap token, setup
//! code or device private key may appear in what it leaves behind: stdout and stderr of
//! every process, operator-visible results and errors, `status` and `doctor` output,
//! `/proc/<pid>/cmdline` of the gateway, the node and its children, `/proc/<pid>/environ`
//! of the children `system.run` starts, and every file under the test's root (state dirs,
//! config, `HOME`, `TMPDIR`) except the stores that exist to hold a given secret.
//!
//! Each secret is searched in the forms a leak would take: as written, hex (tungstenite's
//! frame dumps), base64 and base64url; the device key also as the 64-byte key pair, the
//! PKCS#8 document and a Rust byte-array `Debug`. Positive controls find each secret where
//! it belongs (the credential store, the gateway state, the node's own environment), which
//! proves the needles and the readers are right. A structural check also flags any JSON
//! `…token`/`password` field with a value, which covers secrets the test cannot know (the
//! demo's throwaway device token).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use openclaw_node::operator::{OperatorClient, OperatorOptions};
use openclaw_node::secret::Secret;
use serde_json::{Value, json};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_openclaw-node");

/// A distinctive random value for a secret, e.g. `audit-shared-3f9c…`.
fn distinctive(what: &str) -> String {
    format!("audit-{what}-{}", uuid::Uuid::new_v4().simple())
}

/// A secret to search for: its forms, and the files allowed to hold it.
struct Needle {
    what: String,
    forms: Vec<(&'static str, String)>,
    allowed_in: Vec<PathBuf>,
}

impl Needle {
    /// A string secret (tokens, passwords, codes) as written, in hex and in base64.
    fn text(what: &str, value: &str) -> Self {
        let b = value.as_bytes();
        Needle {
            what: what.to_string(),
            forms: vec![
                ("raw", value.to_string()),
                ("hex", hex::encode(b)),
                ("HEX", hex::encode_upper(b)),
                ("base64", STANDARD_NO_PAD.encode(b)),
                ("base64url", URL_SAFE_NO_PAD.encode(b)),
            ],
            allowed_in: Vec::new(),
        }
    }

    /// The Ed25519 seed in every form it could be printed or stored in.
    fn private_key(seed: &[u8; 32]) -> Self {
        let public = ed25519_dalek::SigningKey::from_bytes(seed)
            .verifying_key()
            .to_bytes();
        let pair = [&seed[..], &public[..]].concat();
        let pkcs8 = [
            &hex::decode("302e020100300506032b657004220420").unwrap()[..],
            &seed[..],
        ]
        .concat();
        Needle {
            what: "device private key".into(),
            forms: vec![
                ("hex", hex::encode(seed)),
                ("HEX", hex::encode_upper(seed)),
                ("base64", STANDARD_NO_PAD.encode(seed)),
                ("base64 padded", STANDARD.encode(seed)),
                ("base64url", URL_SAFE_NO_PAD.encode(seed)),
                ("base64url padded", URL_SAFE.encode(seed)),
                ("byte array", format!("{seed:?}")),
                ("key pair hex", hex::encode(&pair)),
                ("key pair base64", STANDARD_NO_PAD.encode(&pair)),
                ("key pair base64url", URL_SAFE_NO_PAD.encode(&pair)),
                ("pkcs8 base64", STANDARD_NO_PAD.encode(&pkcs8)),
                ("pkcs8 hex", hex::encode(&pkcs8)),
            ],
            allowed_in: Vec::new(),
        }
    }

    fn allowed_in(mut self, path: impl Into<PathBuf>) -> Self {
        self.allowed_in.push(path.into());
        self
    }

    /// Whether `text` holds the secret in any form.
    fn found_in(&self, text: &str) -> Option<&'static str> {
        self.forms
            .iter()
            .find(|(_, f)| text.contains(f.as_str()))
            .map(|(kind, _)| *kind)
    }
}

/// JSON fields that carry a secret: a value after one of these is a leak unless it is
/// `[redacted]`. Both plain and Debug-escaped quoting, and the hex of the plain form.
fn structural_leaks(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for field in ["token\"", "Token\"", "password\""] {
        keys.push(format!("{field}:\""));
        keys.push(format!("{}:\\\"", field.replace('"', "\\\"")));
    }
    let mut hits = Vec::new();
    for key in &keys {
        for (at, _) in text.match_indices(key.as_str()) {
            let value = &text[at + key.len()..];
            let value: String = value.chars().take(24).collect();
            if !value.starts_with("[redacted]") && !value.starts_with('"') {
                hits.push(format!("a {key}… field with a value: {value}…"));
            }
        }
    }
    for field in [
        "deviceToken\":\"",
        "bootstrapToken\":\"",
        "\"token\":\"",
        "password\":\"",
    ] {
        if text.contains(&hex::encode(field)) {
            hits.push(format!("the hex of {field}… (a frame dump)"));
        }
    }
    hits
}

/// Everything gathered: named blobs (process arguments, child environments) besides the
/// files under the lab's root.
#[derive(Default)]
struct Evidence {
    blobs: Vec<(String, Vec<u8>)>,
}

impl Evidence {
    fn add(&mut self, label: impl Into<String>, bytes: Vec<u8>) {
        self.blobs.push((label.into(), bytes));
    }

    /// `/proc/<pid>/cmdline` of a live process (its arguments, NUL-separated).
    fn cmdline(&mut self, label: &str, pid: u32) {
        let bytes = std::fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap_or_else(|e| panic!("cannot read the arguments of {label} ({pid}): {e}"));
        assert!(!bytes.is_empty(), "{label} ({pid}) has no arguments: gone?");
        self.add(format!("/proc/{pid}/cmdline of {label}"), bytes);
    }

    /// `/proc/<pid>/environ` of a live process.
    fn environ(&mut self, label: &str, pid: u32) {
        let bytes = std::fs::read(format!("/proc/{pid}/environ"))
            .unwrap_or_else(|e| panic!("cannot read the environment of {label} ({pid}): {e}"));
        assert!(
            !bytes.is_empty(),
            "{label} ({pid}) has an empty environment"
        );
        self.add(format!("/proc/{pid}/environ of {label}"), bytes);
    }

    /// Every leak in the blobs and in the files under `root`.
    fn findings(&self, root: &Path, needles: &[Needle]) -> Vec<String> {
        let mut leaks = Vec::new();
        let mut check = |label: &str, path: Option<&Path>, bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            let allowed = |n: &Needle| path.is_some_and(|p| n.allowed_in.iter().any(|a| a == p));
            for n in needles.iter().filter(|n| !allowed(n)) {
                if let Some(kind) = n.found_in(&text) {
                    leaks.push(format!("{} ({kind}) in {label}", n.what));
                }
            }
            if !needles.iter().any(allowed) {
                for hit in structural_leaks(&text) {
                    leaks.push(format!("{hit} in {label}"));
                }
            }
        };
        for (label, bytes) in &self.blobs {
            check(label, None, bytes);
        }
        for file in walk(root) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            check(&file.display().to_string(), Some(&file), &bytes);
        }
        leaks
    }

    /// Fails the test with every leak found in the blobs and in the files under `root`.
    fn assert_clean(&self, root: &Path, needles: &[Needle]) {
        let files = walk(root);
        assert!(files.len() > 10, "too few files to audit: {files:?}");
        let leaks = self.findings(root, needles);
        assert!(
            leaks.is_empty(),
            "secrets leaked ({} findings):\n  {}",
            leaks.len(),
            leaks.join("\n  ")
        );
    }
}

/// Every regular file under `dir` (sockets and the like are skipped).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(walk(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}

/// Direct children of `pid` whose command name is `comm`.
fn children_named(pid: u32, comm: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        if &stat[open + 1..close] == comm && ppid == Some(pid.to_string().as_str()) {
            out.push(child);
        }
    }
    out
}

/// A scratch world for the real binary: `HOME`, `TMPDIR` and the XDG dirs inside one temp
/// root, a clean environment, trace logging, and every output kept under `logs/`.
struct Lab {
    root: tempfile::TempDir,
    runs: AtomicUsize,
}

/// A process the lab started, with where its output goes.
struct Spawned {
    child: tokio::process::Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Spawned {
    fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// SIGTERM, then its exit status.
    async fn terminate(&mut self, what: &str) -> std::process::ExitStatus {
        std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        within(what, self.child.wait()).await.unwrap()
    }
}

impl Lab {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        for dir in [
            "home/.config",
            "home/.local/share",
            "home/.cache",
            "tmp",
            "logs",
        ] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        Lab {
            root,
            runs: AtomicUsize::new(0),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn command(
        &self,
        label: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (tokio::process::Command, PathBuf, PathBuf) {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let stdout = self.path(&format!("logs/{n:02}-{label}.out"));
        let stderr = self.path(&format!("logs/{n:02}-{label}.err"));
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "USER",
                std::env::var("USER").unwrap_or_else(|_| "audit".into()),
            )
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("home/.config"))
            .env("XDG_DATA_HOME", self.path("home/.local/share"))
            .env("XDG_CACHE_HOME", self.path("home/.cache"))
            .env("TMPDIR", self.path("tmp"))
            .env("RUST_LOG", "trace")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .kill_on_drop(true);
        (cmd, stdout, stderr)
    }

    /// Runs a one-shot command to completion; its output is also kept under `logs/`.
    async fn run(&self, label: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let (mut cmd, stdout, stderr) = self.command(label, args, env);
        let status = within(label, cmd.status()).await.unwrap();
        Output {
            status,
            stdout: std::fs::read(stdout).unwrap(),
            stderr: std::fs::read(stderr).unwrap(),
        }
    }

    /// Starts a long-running command.
    fn spawn(&self, label: &str, args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let (mut cmd, stdout, stderr) = self.command(label, args, env);
        Spawned {
            child: cmd.spawn().unwrap(),
            stdout,
            stderr,
        }
    }

    /// Starts `openclaw-node gateway` and waits for the URL it prints.
    async fn gateway(
        &self,
        label: &str,
        state: &Path,
        port: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Spawned, String) {
        let port = port.to_string();
        let mut args = vec![
            "--state-dir",
            state.to_str().unwrap(),
            "gateway",
            "--port",
            &port,
        ];
        args.extend_from_slice(extra);
        let gw = self.spawn(label, &args, env);
        let url = eventually("the gateway to print its URL", || async {
            let text = std::fs::read_to_string(&gw.stderr).ok()?;
            let at = text.find("embedded gateway on ws://")?;
            let rest = &text[at + "embedded gateway on ".len()..];
            Some(rest.split_whitespace().next()?.to_string())
        })
        .await;
        (gw, url)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The error in a trace-level stderr (the `openclaw-node: …` line), else its last lines.
fn tail(bytes: &[u8]) -> String {
    let text = text(bytes);
    let lines: Vec<&str> = text.lines().collect();
    match lines.iter().rev().find(|l| l.starts_with("openclaw-node:")) {
        Some(error) => error.to_string(),
        None => lines[lines.len().saturating_sub(4)..].join("\n"),
    }
}

/// `status --json` of the node in `state`, if it answers.
async fn status_json(lab: &Lab, state: &str) -> Option<Value> {
    let out = lab
        .run(
            "status-json",
            &["--state-dir", state, "status", "--json"],
            &[],
        )
        .await;
    serde_json::from_slice(&out.stdout).ok()
}

async fn operator(url: &str, token: Option<&str>, password: Option<&str>) -> OperatorClient {
    let mut opts = OperatorOptions::new(url);
    opts.token = token.map(Secret::new);
    opts.password = password.map(Secret::new);
    within("an operator to connect", OperatorClient::connect(opts))
        .await
        .unwrap()
}

/// Waits until `node_id` is connected with its command surface approved.
async fn wait_connected(op: &OperatorClient, node_id: &str) {
    eventually("the node to be connected with its commands", || async {
        op.node_list()
            .await
            .ok()?
            .nodes
            .into_iter()
            .find(|n| {
                n.node_id == node_id && n.connected && n.commands.iter().any(|c| c == "system.run")
            })
            .map(|_| ())
    })
    .await;
}

/// Token auth, a setup code, and a node's whole life: `pair` (code on stdin), `devices` and
/// `nodes` as an operator, `approvals`, `run`, every kind of `system.run` outcome, the
/// approvals commands, an unknown command and bad params, `status` in every form while
/// connected and while backing off, `doctor`, `identity`, a gateway restart, wrong tokens
/// (operator, node, doctor, pair), SIGTERM and `reset`.
#[tokio::test]
async fn a_paired_node_at_trace_level_leaks_no_token_code_or_key() {
    let lab = Lab::new();
    let shared = distinctive("shared-token");
    let wrong = distinctive("wrong-token");
    let socket_token = distinctive("approvals-socket-token");
    let gw_state = lab.path("gateway");
    let node = lab.path("node");
    let state = node.to_str().unwrap();
    let tok = [("OPENCLAW_GATEWAY_TOKEN", shared.as_str())];
    let mut evidence = Evidence::default();

    // The gateway, with a setup code on stdout.
    let (mut gw, url) = lab
        .gateway(
            "gateway",
            &gw_state,
            0,
            &["--setup-code", "--tick-seconds", "2"],
            &tok,
        )
        .await;
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let code = eventually("the setup code", || async {
        let out = std::fs::read_to_string(&gw.stdout).ok()?;
        let (line, _) = out.split_once('\n')?;
        Some(line.trim().to_string())
    })
    .await;
    let setup = openclaw_node::protocol::setup_code::parse_setup_code(&code).unwrap();
    let bootstrap = setup.bootstrap_token.expose().to_string();
    evidence.cmdline("the gateway", gw.pid());
    let op = operator(&url, Some(&shared), None).await;

    // An approvals file with a socket token (the macOS app's; must never be read back).
    std::fs::create_dir_all(&node).unwrap();
    std::fs::write(
        node.join("exec-approvals.json"),
        json!({"version": 1, "socket": {"path": "/nonexistent/sock", "token": socket_token}})
            .to_string(),
    )
    .unwrap();
    for bin in ["printenv", "false", "sleep"] {
        let out = lab
            .run(
                "approvals-allow",
                &["--state-dir", state, "approvals", "allow", bin],
                &[],
            )
            .await;
        assert!(
            out.status.success(),
            "approvals allow {bin}: {}",
            tail(&out.stderr)
        );
    }
    let socket = Needle::text("approvals socket token", &socket_token)
        .allowed_in(node.join("exec-approvals.json"));
    let approvals = std::fs::read_to_string(node.join("exec-approvals.json")).unwrap();
    assert!(socket.found_in(&approvals).is_some(), "{approvals}");

    // pair, with the code on stdin so that it is not in the process list.
    let (mut cmd, pair_out, pair_err) = lab.command(
        "pair",
        &[
            "--state-dir",
            state,
            "--credential-store",
            "file",
            "pair",
            "-",
            "--json",
            "--timeout",
            "60s",
        ],
        &[],
    );
    let mut pair = cmd.stdin(Stdio::piped()).spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = pair.stdin.take().unwrap();
        stdin
            .write_all(format!("{code}\n").as_bytes())
            .await
            .unwrap();
    }
    let request = eventually("the device pairing request", || async {
        op.device_pair_list()
            .await
            .ok()?
            .pending
            .first()
            .map(|p| p.request_id.clone())
    })
    .await;
    assert!(
        pair.try_wait().unwrap().is_none(),
        "pair exited: {}",
        tail(&std::fs::read(&pair_err).unwrap())
    );
    evidence.cmdline("pair", pair.id().unwrap());
    evidence.environ("pair", pair.id().unwrap());
    for args in [
        &["devices", "list"][..],
        &["devices", "list", "--json"],
        &["nodes", "pending"],
    ] {
        let out = lab
            .run("operator", &[args, &["--url", &url]].concat(), &tok)
            .await;
        assert!(out.status.success(), "{args:?}: {}", tail(&out.stderr));
    }
    let out = lab
        .run(
            "devices-approve",
            &["devices", "approve", &request, "--url", &url],
            &tok,
        )
        .await;
    assert!(
        out.status.success(),
        "devices approve: {}",
        tail(&out.stderr)
    );
    let surface = eventually("the command-surface request", || async {
        op.node_pair_list()
            .await
            .ok()?
            .pending
            .first()
            .map(|p| p.request_id.clone())
    })
    .await;
    let out = lab
        .run(
            "nodes-approve",
            &["nodes", "approve", &surface, "--url", &url, "--json"],
            &tok,
        )
        .await;
    assert!(out.status.success(), "nodes approve: {}", tail(&out.stderr));
    let paired = within("pair to finish", pair.wait()).await.unwrap();
    assert!(
        paired.success(),
        "pair failed: {}",
        std::fs::read_to_string(&pair_err).unwrap()
    );
    let paired: Value = serde_json::from_slice(&std::fs::read(&pair_out).unwrap()).unwrap();
    let node_id = paired["nodeId"].as_str().unwrap().to_string();

    // What the store holds: the device key and the device token.
    let store_path = node.join("credentials.json");
    let store_text = std::fs::read_to_string(&store_path).unwrap();
    let store: Value = serde_json::from_str(&store_text).unwrap();
    let seed: [u8; 32] = hex::decode(store["deviceSeedHex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let device_token = store["tokens"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .expect("pair stored a device token")["token"]
        .as_str()
        .unwrap()
        .to_string();

    // run, with the shared token in its environment as a service would have it.
    let mut run = lab.spawn(
        "run",
        &["--state-dir", state, "--credential-store", "file", "run"],
        &tok,
    );
    wait_connected(&op, &node_id).await;
    evidence.cmdline("the node", run.pid());
    let node_environ = std::fs::read(format!("/proc/{}/environ", run.pid())).unwrap();

    // Invocations through the `nodes invoke` subcommand, every outcome.
    let invoke = |label: &'static str, command: &'static str, params: Value| {
        let (lab, url, node_id, tok) = (&lab, &url, &node_id, &tok);
        async move {
            let params = params.to_string();
            lab.run(
                label,
                &[
                    "nodes", "invoke", node_id, command, "--params", &params, "--url", url,
                    "--json",
                ],
                tok,
            )
            .await
        }
    };
    let ok = |out: &Output, what: &str| {
        assert!(out.status.success(), "{what}: {}", tail(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    ok(
        &invoke("which", "system.which", json!({"bins": ["sh", "printenv"]})).await,
        "system.which",
    );
    let got = ok(
        &invoke("approvals-get", "system.execApprovals.get", json!({})).await,
        "execApprovals.get",
    );
    let hash = got["payload"]["hash"].as_str().unwrap().to_string();
    let file = got["payload"]["file"].clone();
    ok(
        &invoke(
            "approvals-set",
            "system.execApprovals.set",
            json!({"file": file, "baseHash": hash}),
        )
        .await,
        "execApprovals.set",
    );
    let env_run = ok(
        &invoke("run-env", "system.run", json!({"command": ["printenv"]})).await,
        "system.run env",
    );
    assert!(
        env_run["payload"]["stdout"]
            .as_str()
            .unwrap()
            .contains("OPENCLAW_SHELL=exec"),
        "the child's environment is in the result: {env_run}"
    );
    ok(
        &invoke(
            "run-env-pty",
            "system.run",
            json!({"command": ["printenv"], "pty": true}),
        )
        .await,
        "system.run env on a pty",
    );
    ok(
        &invoke(
            "prepare",
            "system.run.prepare",
            json!({"command": ["printenv"]}),
        )
        .await,
        "system.run.prepare",
    );
    let failed = ok(
        &invoke("run-false", "system.run", json!({"command": ["false"]})).await,
        "system.run false",
    );
    assert_eq!(failed["payload"]["exitCode"], 1, "{failed}");
    for (label, command, params) in [
        ("run-denied", "system.run", json!({"command": ["id"]})),
        ("unknown", "nope.nothing", json!({})),
        ("bad-params", "system.which", json!({"bins": 5})),
    ] {
        let out = invoke(label, command, params).await;
        assert!(
            !out.status.success(),
            "{label} should fail: {}",
            text(&out.stdout)
        );
    }
    // A command that outlives its timeout: read the child's arguments and environment
    // while it runs.
    let sleeper = tokio::spawn({
        let (bin_env, node_id, url) = (
            tok.map(|(k, v)| (k.to_string(), v.to_string())),
            node_id.clone(),
            url.clone(),
        );
        let (mut cmd, stdout, _) = lab.command(
            "run-timeout",
            &[
                "nodes",
                "invoke",
                &node_id,
                "system.run",
                "--params",
                &json!({"command": ["sleep", "30"], "timeoutMs": 3000}).to_string(),
                "--url",
                &url,
                "--json",
            ],
            &[],
        );
        cmd.envs(bin_env);
        async move {
            let status = cmd.status().await.unwrap();
            (status, std::fs::read(stdout).unwrap())
        }
    });
    let child = eventually("the sleep child of the node", || async {
        children_named(run.pid(), "sleep").first().copied()
    })
    .await;
    evidence.cmdline("the system.run child", child);
    let child_env = std::fs::read(format!("/proc/{child}/environ")).unwrap();
    assert!(
        text(&child_env).contains("OPENCLAW_SHELL=exec"),
        "not the environment system.run builds"
    );
    evidence.add(
        format!("/proc/{child}/environ of the system.run child"),
        child_env,
    );
    evidence.cmdline("the node while it runs a command", run.pid());
    let (status, stdout) = within("the timed-out call", sleeper).await.unwrap();
    assert!(status.success());
    let timed_out: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(timed_out["payload"]["timedOut"], true, "{timed_out}");

    // status in every form, doctor, identity, approvals, the operator's views.
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["status", "--metrics"],
        &["status", "--prometheus"],
        &["identity"],
        &["approvals"],
        &["approvals", "--json"],
    ] {
        let out = lab
            .run("local", &[&["--state-dir", state], args].concat(), &[])
            .await;
        assert!(out.status.success(), "{args:?}: {}", tail(&out.stderr));
    }
    for args in [
        &["nodes", "list"][..],
        &["nodes", "list", "--json"],
        &["nodes", "describe", &node_id],
    ] {
        let out = lab
            .run("operator", &[args, &["--url", &url]].concat(), &tok)
            .await;
        assert!(out.status.success(), "{args:?}: {}", tail(&out.stderr));
    }
    for args in [&["doctor"][..], &["doctor", "--json"]] {
        lab.run("doctor", &[&["--state-dir", state], args].concat(), &tok)
            .await;
    }

    // Wrong tokens: the operator, doctor, a fresh node and pair are refused without the
    // token being echoed.
    let bad = [("OPENCLAW_GATEWAY_TOKEN", wrong.as_str())];
    let out = lab
        .run(
            "devices-wrong-token",
            &["devices", "list", "--url", &url],
            &bad,
        )
        .await;
    assert!(!out.status.success());
    lab.run(
        "doctor-wrong-token",
        &["--state-dir", state, "doctor", "--json"],
        &bad,
    )
    .await;
    let fresh = lab.path("fresh");
    let fresh = fresh.to_str().unwrap();
    let out = lab
        .run(
            "run-wrong-token",
            &[
                "--state-dir",
                fresh,
                "--credential-store",
                "file",
                "run",
                "--url",
                &url,
            ],
            &bad,
        )
        .await;
    assert_eq!(out.status.code(), Some(78), "{}", tail(&out.stderr));
    let out = lab
        .run(
            "pair-wrong-token",
            &[
                "--state-dir",
                fresh,
                "--credential-store",
                "file",
                "pair",
                "--url",
                &url,
                "--timeout",
                "10s",
            ],
            &bad,
        )
        .await;
    assert!(!out.status.success());

    // The gateway goes away: status while backing off; it comes back on the same port and
    // state, and the node reconnects by itself.
    drop(op);
    gw.terminate("the gateway to stop").await;
    eventually("status: backing off", || async {
        let s = status_json(&lab, state).await?;
        (s["state"] == "backing-off").then_some(())
    })
    .await;
    lab.run("status-backing-off", &["--state-dir", state, "status"], &[])
        .await;
    let (mut gw2, url2) = lab
        .gateway("gateway-again", &gw_state, port, &[], &tok)
        .await;
    assert_eq!(url2, url);
    evidence.cmdline("the restarted gateway", gw2.pid());
    let op = operator(&url, Some(&shared), None).await;
    wait_connected(&op, &node_id).await;
    ok(
        &invoke("which-again", "system.which", json!({"bins": ["sh"]})).await,
        "system.which after the restart",
    );

    // SIGTERM drains the node (exit 143); `reset` comes after the positive controls.
    assert_eq!(run.terminate("the node to stop").await.code(), Some(143));
    drop(op);
    gw2.terminate("the gateway to stop").await;

    // Positive controls: each needle is found where it belongs, so a leak would be too.
    let store_text_now = std::fs::read_to_string(&store_path).unwrap();
    let key = Needle::private_key(&seed).allowed_in(&store_path);
    assert_eq!(key.found_in(&store_text_now), Some("hex"));
    let device = Needle::text("device token", &device_token)
        .allowed_in(&store_path)
        .allowed_in(gw_state.join("gateway").join("gateway-state.json"));
    assert!(device.found_in(&store_text_now).is_some());
    assert!(
        device
            .found_in(
                &std::fs::read_to_string(gw_state.join("gateway/gateway-state.json")).unwrap()
            )
            .is_some()
    );
    let shared_needle = Needle::text("shared token", &shared);
    assert!(
        shared_needle.found_in(&text(&node_environ)).is_some(),
        "the node's environment holds the shared token"
    );
    // The gateway prints the setup code on stdout by design (`--setup-code`).
    let code_needle = Needle::text("setup code", &code).allowed_in(&gw.stdout);
    assert!(
        code_needle
            .found_in(&std::fs::read_to_string(&gw.stdout).unwrap())
            .is_some()
    );
    // RUST_LOG=trace took effect: below the default `info` (the WebSocket crates stop at
    // `debug`, and the node itself has little to say at `trace`).
    for log in [&gw.stderr, &run.stderr] {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(
            text.contains("DEBUG"),
            "{} is not at trace level",
            log.display()
        );
    }

    let out = lab
        .run("reset", &["--state-dir", state, "reset", "--yes"], &[])
        .await;
    assert!(out.status.success(), "reset: {}", tail(&out.stderr));

    let needles = vec![
        shared_needle,
        Needle::text("wrong token", &wrong),
        Needle::text("bootstrap token", &bootstrap).allowed_in(&gw.stdout),
        code_needle,
        device,
        key,
        socket,
    ];
    evidence.assert_clean(lab.root.path(), &needles);
}

/// Password auth and the paths where a secret sits next to something printed: a JSON-log
/// ephemeral node, wrong passwords, a gateway URL with credentials in it, a config file
/// holding a token (valid and broken), the service files, and the demo.
#[tokio::test]
async fn passwords_urls_config_files_and_service_units_leak_nothing() {
    let lab = Lab::new();
    let password = distinctive("password");
    let wrong = distinctive("wrong-password");
    let url_password = distinctive("url-password");
    let config_token = distinctive("config-token");
    let service_token = distinctive("service-token");
    let pw = [("OPENCLAW_GATEWAY_PASSWORD", password.as_str())];
    let mut evidence = Evidence::default();
    let mut needles = Vec::new();

    let (mut gw, url) = lab
        .gateway("gateway", &lab.path("gateway"), 0, &["--auto-approve"], &pw)
        .await;
    evidence.cmdline("the gateway", gw.pid());
    let op = operator(&url, None, Some(&password)).await;

    // An ephemeral node with JSON logs serves two calls and exits.
    let eph = lab.path("ephemeral");
    let mut node = lab.spawn(
        "run-ephemeral",
        &[
            "--log-format",
            "json",
            "--state-dir",
            eph.to_str().unwrap(),
            "run",
            "--url",
            &url,
            "--ephemeral",
            "--max-invocations",
            "2",
        ],
        &pw,
    );
    let node_id = eventually("the ephemeral node to connect", || async {
        op.node_list()
            .await
            .ok()?
            .nodes
            .into_iter()
            .find(|n| n.connected && n.commands.iter().any(|c| c == "system.which"))
            .map(|n| n.node_id)
    })
    .await;
    evidence.cmdline("the ephemeral node", node.pid());
    let positive = Needle::text("password", &password);
    let node_environ = std::fs::read(format!("/proc/{}/environ", node.pid())).unwrap();
    assert!(
        positive.found_in(&text(&node_environ)).is_some(),
        "the node's environment holds the password"
    );
    for label in ["which-1", "which-2"] {
        let out = lab
            .run(
                label,
                &[
                    "nodes",
                    "invoke",
                    &node_id,
                    "system.which",
                    "--params",
                    r#"{"bins":["sh"]}"#,
                    "--url",
                    &url,
                ],
                &pw,
            )
            .await;
        assert!(out.status.success(), "{label}: {}", tail(&out.stderr));
    }
    let status = within("the ephemeral node to exit", node.child.wait())
        .await
        .unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&node.stderr).unwrap()
    );

    // Wrong passwords.
    let bad = [("OPENCLAW_GATEWAY_PASSWORD", wrong.as_str())];
    let out = lab
        .run(
            "nodes-wrong-password",
            &["nodes", "list", "--url", &url],
            &bad,
        )
        .await;
    assert!(!out.status.success());
    let out = lab
        .run(
            "run-wrong-password",
            &[
                "--state-dir",
                eph.to_str().unwrap(),
                "run",
                "--url",
                &url,
                "--ephemeral",
            ],
            &bad,
        )
        .await;
    assert_eq!(out.status.code(), Some(78), "{}", tail(&out.stderr));

    // A URL with credentials in it: refused or used, never printed.
    let with_creds = url.replace("ws://", &format!("ws://alice:{url_password}@"));
    let creds_dir = lab.path("url-creds");
    let creds_state = creds_dir.to_str().unwrap();
    let in_env = [("OPENCLAW_GATEWAY_URL", with_creds.as_str())];
    for (label, args) in [
        (
            "run-url-creds",
            &["--state-dir", creds_state, "run", "--ephemeral"][..],
        ),
        (
            "status-url-creds",
            &["--state-dir", creds_state, "status", "--json"],
        ),
        (
            "doctor-url-creds",
            &["--state-dir", creds_state, "doctor", "--json"],
        ),
        (
            "pair-url-creds",
            &[
                "--state-dir",
                creds_state,
                "--credential-store",
                "file",
                "pair",
                "--timeout",
                "3s",
            ],
        ),
        ("nodes-url-creds", &["nodes", "list"]),
        ("nodes-url-flag", &["nodes", "list", "--url", &with_creds]),
    ] {
        let (mut cmd, _, _) = lab.command(label, args, &in_env);
        let mut child = cmd.spawn().unwrap();
        // A node that accepted the URL would run on; it has shown what it logs by then.
        if tokio::time::timeout(std::time::Duration::from_secs(5), child.wait())
            .await
            .is_err()
        {
            evidence.cmdline(label, child.id().unwrap());
            child.kill().await.unwrap();
        }
    }
    needles.push(Needle::text("password in the gateway URL", &url_password));

    // A config file with the token: shown nowhere, not even when the file is broken.
    let cfg = lab.path("configured");
    std::fs::create_dir_all(&cfg).unwrap();
    let cfg_state = cfg.to_str().unwrap();
    let config = cfg.join("config.toml");
    for (label, contents) in [
        (
            "config-valid",
            format!(
                "[gateway]\nurl = \"{url}\"\ntoken = \"{config_token}\"\npassword = \"{config_token}\"\n"
            ),
        ),
        (
            "config-broken",
            format!("[gateway]\ntoken = \"{config_token}\" oops\n"),
        ),
        (
            "config-wrong-type",
            format!("[gateway]\ntoken = [\"{config_token}\"]\n"),
        ),
    ] {
        std::fs::write(&config, contents).unwrap();
        for args in [
            &["status"][..],
            &["status", "--json"],
            &["doctor", "--json"],
            &["approvals"],
        ] {
            lab.run(label, &[&["--state-dir", cfg_state], args].concat(), &[])
                .await;
        }
        let (mut cmd, _, _) = lab.command(
            label,
            &[
                "--state-dir",
                cfg_state,
                "--credential-store",
                "file",
                "run",
            ],
            &[],
        );
        let mut child = cmd.spawn().unwrap();
        if tokio::time::timeout(std::time::Duration::from_secs(3), child.wait())
            .await
            .is_err()
        {
            child.kill().await.unwrap();
        }
    }
    needles.push(Needle::text("token in the config file", &config_token).allowed_in(&config));

    // The service: a dry run shows no secret; a real install (where no systemd can act on
    // it) puts it only in the 0600 environment file, never in the unit.
    let svc = [
        ("OPENCLAW_GATEWAY_TOKEN", service_token.as_str()),
        ("OPENCLAW_GATEWAY_URL", url.as_str()),
    ];
    let svc_state = lab.path("service");
    for args in [
        &["install", "--dry-run"][..],
        &["install", "--dry-run", "--json"],
    ] {
        let out = lab
            .run(
                "install-dry-run",
                &[&["--state-dir", svc_state.to_str().unwrap()], args].concat(),
                &svc,
            )
            .await;
        assert!(out.status.success(), "{args:?}: {}", tail(&out.stderr));
    }
    let mut service_needle = Needle::text("token of the service", &service_token);
    if !Path::new("/run/systemd/system").exists() {
        let out = lab
            .run(
                "install",
                &[
                    "--state-dir",
                    svc_state.to_str().unwrap(),
                    "install",
                    "--json",
                ],
                &svc,
            )
            .await;
        assert!(out.status.success(), "install: {}", tail(&out.stderr));
        let env_file = lab.path("home/.config/openclaw-node/service.env");
        let written = std::fs::read_to_string(&env_file).unwrap();
        assert!(
            service_needle.found_in(&written).is_some(),
            "the token went to the environment file"
        );
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        service_needle = service_needle.allowed_in(&env_file);
        let units = walk(&lab.path("home/.config/systemd"));
        assert!(!units.is_empty(), "no unit written");
        for unit in units {
            evidence.add(unit.display().to_string(), std::fs::read(&unit).unwrap());
        }
        // Read it back through `--env-file`, as the unit does.
        let env_file_arg = env_file.to_str().unwrap();
        lab.run(
            "status-env-file",
            &[
                "--env-file",
                env_file_arg,
                "--state-dir",
                svc_state.to_str().unwrap(),
                "status",
            ],
            &[],
        )
        .await;
        let out = lab.run("uninstall", &["uninstall", "--json"], &[]).await;
        assert!(out.status.success(), "uninstall: {}", tail(&out.stderr));
    }
    needles.push(service_needle);

    // The demo's own device token is unknown here; the structural check covers it.
    let out = lab.run("demo", &["demo", "--once"], &[]).await;
    assert!(out.status.success(), "demo: {}", tail(&out.stderr));
    assert!(text(&out.stderr).contains("DEBUG"));

    drop(op);
    gw.terminate("the gateway to stop").await;
    needles.push(positive);
    needles.push(Needle::text("wrong password", &wrong));
    evidence.assert_clean(lab.root.path(), &needles);
}

/// The audit's own control: planted leaks in every form are found, and a secret in the
/// store that exists to hold it is not.
#[test]
fn the_audit_finds_planted_leaks_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let token = distinctive("token");
    let seed = [7u8; 32];
    let store = dir.path().join("credentials.json");
    std::fs::write(
        &store,
        format!(
            "{{\"token\":\"{token}\",\"seed\":\"{}\"}}",
            hex::encode(seed)
        ),
    )
    .unwrap();
    let frame = format!(
        "payload: 0x{}",
        hex::encode(format!("{{\"deviceToken\":\"{token}\"}}"))
    );
    std::fs::write(dir.path().join("frame.log"), frame).unwrap();
    std::fs::write(
        dir.path().join("key.log"),
        format!("key {}", STANDARD.encode(seed)),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.json"),
        r#"{"password":"whatever-it-is"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("fine.json"),
        r#"{"token":"[redacted]","password":""}"#,
    )
    .unwrap();
    let mut evidence = Evidence::default();
    evidence.add(
        "an environment",
        format!("A=1\0OPENCLAW_GATEWAY_TOKEN={token}\0").into_bytes(),
    );
    let needles = [
        Needle::text("token", &token).allowed_in(&store),
        Needle::private_key(&seed).allowed_in(&store),
    ];
    let mut found = evidence.findings(dir.path(), &needles);
    found.sort();
    let found = found.join("\n");
    for expected in [
        "token (raw) in an environment",
        "token (hex) in",
        "the hex of deviceToken",
        "device private key (base64) in",
        "a password\":\"… field with a value: whatever-it-is",
    ] {
        assert!(
            found.contains(expected),
            "missing {expected:?} in:\n{found}"
        );
    }
    assert!(!found.contains("credentials.json"), "{found}");
    assert!(!found.contains("fine.json"), "{found}");
}
