//! Faults in the node's own process and disk, with the real binary where the process is
//! the point: SIGTERM while a command runs, a detached daemon holding a command's output
//! past its deadline, a full disk while credentials are written, a
//! read-only state directory. The disk cases mount a small tmpfs, so they need root (as
//! in CI); elsewhere they say so and skip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use openclaw_node::credentials::{CredentialStore, FileStore, StoredToken, TokenKey};
use serde_json::json;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_openclaw-node");

/// `openclaw-node run` on `state` with the file store and `security = "full"`; its
/// stderr goes to `log`.
fn spawn_node(gw_url: &str, state: &Path, config: &Path, log: &Path) -> tokio::process::Child {
    tokio::process::Command::new(BIN)
        .args(["--state-dir", state.to_str().unwrap()])
        .args(["--credential-store", "file", "run"])
        .args(["--config", config.to_str().unwrap()])
        .env("OPENCLAW_GATEWAY_URL", gw_url)
        .env("OPENCLAW_GATEWAY_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn full_exec_config(dir: &Path) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, "[exec]\nsecurity = \"full\"\n").unwrap();
    path
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGTERM while two `system.run`s are in flight: the one that ends within the node's
/// grace period (5 s) finishes and is reported; the one that does not is killed with its
/// whole process tree; the node exits 143 (stopped by SIGTERM) and leaves nothing running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_short_calls_and_kills_long_ones() {
    let gw = TestGateway::start_auto_approve().await;
    let op = Arc::new(gw.operator().await);
    let dir = tempfile::tempdir().unwrap();
    let config = full_exec_config(dir.path());
    let log = dir.path().join("node.log");
    let state = dir.path().join("state");
    let mut node = spawn_node(&gw.url, &state, &config, &log);
    let node_id = connected_node_with(&op, "system.run").await;
    let marker = format!("40.{}", std::process::id());
    let run = |script: String| {
        let (op, node_id) = (op.clone(), node_id.clone());
        tokio::spawn(async move {
            op.node_invoke(
                &node_id,
                "system.run",
                json!({"command": ["sh", "-c", script], "timeoutMs": 60000}),
                Some(60000),
            )
            .await
        })
    };
    let long = run(format!("sleep {marker} & sleep {marker}; : {marker}"));
    let short = run(format!("sleep 2; echo drained; : {marker}"));
    eventually("both commands and their children to start", || async {
        (processes_with(&marker).len() >= 4).then_some(())
    })
    .await;
    sigterm(&node);
    let status = within("the node to exit", node.wait()).await.unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(143), "log:\n{log_text}");
    let left = processes_with(&marker);
    assert!(
        left.is_empty(),
        "left running after the node exited: {left:?}"
    );
    let short = within("the short call to end", short).await.unwrap();
    let reply = short.unwrap_or_else(|e| panic!("the short call was not drained: {e:?}"));
    assert_eq!(reply.payload["success"], true, "{reply:?}");
    assert_eq!(reply.payload["stdout"], "drained\n");
    // The long call ends once: killed (a result that says so) or cut off with the link.
    match within("the long call to end", long).await.unwrap() {
        Ok(reply) => assert_eq!(reply.payload["success"], false, "{reply:?}"),
        Err(e) => assert!(format!("{e:?}").contains("UNAVAILABLE"), "{e:?}"),
    }
    assert!(log_text.contains("cancelling them"), "{log_text}");
}

/// A small tmpfs mounted for one test; unmounted (lazily) when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one; panics saying why when this machine cannot (only root can mount).
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "this test mounts a small tmpfs, which needs root: run scripts/test as root (CI does)"
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount_read_only(&self) {
        let ok = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Fills the filesystem until a write fails with ENOSPC.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        loop {
            match f.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        let _ = f.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The disk fills up under the credential store: a write fails with a clear error, the
/// old credentials stay intact and readable, no temporary file is left behind, and a node
/// whose fresh device token cannot be saved keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root to mount a tmpfs: scripts/test as root"]
async fn a_full_disk_fails_credential_writes_safely() {
    let fs = Tmpfs::mount("256k");
    let store = Arc::new(FileStore::in_state_dir(fs.path()));
    let identity = openclaw_node::credentials::load_or_create_identity(store.as_ref()).unwrap();
    let key = TokenKey {
        gateway: "ws://old.example:18789".into(),
        device_id: identity.device_id(),
        role: "node".into(),
    };
    let old = StoredToken {
        token: "old-device-token".into(),
        scopes: vec![],
        issued_at_ms: Some(1),
    };
    store.save_token(&key, &old).unwrap();
    let before = names_in(fs.path());
    let store_file = std::fs::read(store.location()).unwrap();
    let filler = fs.fill();

    let fresh = StoredToken {
        token: "x".repeat(64 * 1024), // larger than what is left
        ..old.clone()
    };
    let err = store.save_token(&key, &fresh).unwrap_err().to_string();
    assert!(err.contains("No space left"), "{err}");
    assert_eq!(store.load_token(&key).unwrap().unwrap().token, old.token);
    assert_eq!(std::fs::read(store.location()).unwrap(), store_file);
    let mut expected = before.clone();
    expected.push("filler".into());
    expected.sort();
    assert_eq!(names_in(fs.path()), expected, "a temporary file was left");

    // A node on the full disk: the gateway's device token cannot be stored, the node
    // says so and serves anyway.
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::builder(&gw.url).state(tmp, store.clone()).start();
    assert_eq!(node.node_id, identity.device_id());
    pair(&gw, &mut node, &op).await;
    let reply = op
        .node_invoke(&node.node_id, "test.echo", json!({"value": 1}), Some(5000))
        .await
        .unwrap();
    assert_eq!(reply.payload["value"], 1);
    assert_eq!(std::fs::read(store.location()).unwrap(), store_file);
    // With space again, the store is as it was and takes writes.
    std::fs::remove_file(filler).unwrap();
    store.save_token(&key, &fresh).unwrap();
    assert_eq!(store.load_token(&key).unwrap().unwrap().token, fresh.token);
    drop(node);
}

/// A read-only state directory (paired before it became read-only): the node starts with
/// its identity, says the status socket is unavailable, connects and serves; writes that
/// need the directory fail with a clear error instead of a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root to mount a tmpfs: scripts/test as root"]
async fn a_read_only_state_dir_still_serves() {
    let fs = Tmpfs::mount("4m");
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let scratch = tempfile::tempdir().unwrap();
    let config = full_exec_config(scratch.path());
    let state = fs.path().join("state");
    let log = scratch.path().join("first.log");
    let mut first = spawn_node(&gw.url, &state, &config, &log);
    let node_id = connected_node_with(&op, "system.run").await;
    sigterm(&first);
    let status = within("the first run to exit", first.wait()).await.unwrap();
    assert_eq!(status.code(), Some(143));
    eventually("the gateway to see the node leave", || async {
        let list = op.node_list().await.ok()?;
        (!list
            .nodes
            .iter()
            .any(|n| n.node_id == node_id && n.connected))
        .then_some(())
    })
    .await;

    fs.remount_read_only();
    let log = scratch.path().join("second.log");
    let mut second = spawn_node(&gw.url, &state, &config, &log);
    assert_eq!(
        connected_node_with(&op, "system.run").await,
        node_id,
        "a different identity"
    );
    let reply = op
        .node_invoke(
            &node_id,
            "system.run",
            json!({"command": ["echo", "still here"]}),
            Some(10000),
        )
        .await
        .unwrap();
    assert_eq!(reply.payload["stdout"], "still here\n");
    // A write through the node: changing the approvals file.
    let set = op
        .node_invoke(
            &node_id,
            "system.execApprovals.set",
            json!({"file": {"version": 1}}),
            Some(10000),
        )
        .await;
    let text = format!("{set:?}");
    assert!(set.is_err(), "{text}");
    assert!(text.contains("Read-only file system"), "{text}");
    // And from the command line.
    let out = std::process::Command::new(BIN)
        .args(["--state-dir", state.to_str().unwrap()])
        .args(["approvals", "allow", "/bin/true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    sigterm(&second);
    let status = within("the second run to exit", second.wait())
        .await
        .unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(143), "log:\n{log_text}");
    assert!(log_text.contains("status socket unavailable"), "{log_text}");
}

/// Issue 17: a command that leaves a `setsid`'ed daemon holding its output, with
/// `timeoutMs: 800`, through the real node binary (a child subreaper, as `run` makes it)
/// and the gateway. In pipe and in PTY mode the operator gets the timed-out result in a few
/// seconds (it used to get the gateway's `TIMEOUT` after the invoke's own timeout), and no
/// `sleep` of the call is left, nor a zombie under the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_daemon_neither_holds_up_the_deadline_nor_outlives_the_call() {
    const DETACHED: &str = "trap '' TERM HUP; (setsid sh -c 'sleep 300' &); sleep 300";
    let gw = TestGateway::start_auto_approve().await;
    let op = gw.operator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = full_exec_config(dir.path());
    let log = dir.path().join("node.log");
    let node = spawn_node(&gw.url, &dir.path().join("state"), &config, &log);
    let node_pid = node.id().expect("running");
    let node_id = connected_node_with(&op, "system.run").await;
    let sleepers = || processes_with("sleep\u{0}300");
    for pty in [false, true] {
        let before = sleepers();
        let started = std::time::Instant::now();
        let reply = op
            .node_invoke(
                &node_id,
                "system.run",
                json!({"command": ["sh", "-c", DETACHED], "timeoutMs": 800, "pty": pty}),
                Some(15_000),
            )
            .await
            .unwrap_or_else(|e| panic!("pty {pty}: no result: {e:?}"));
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(8),
            "pty {pty}: the result took {took:?}"
        );
        let r = &reply.payload;
        assert_eq!(
            (&r["exitCode"], &r["timedOut"], &r["success"]),
            (&json!(124), &json!(true), &json!(false)),
            "pty {pty}: {r}"
        );
        eventually("the call's sleeps to be gone", || async {
            sleepers().iter().all(|p| before.contains(p)).then_some(())
        })
        .await;
        eventually("no zombie under the node", || async {
            let zombies: Vec<u32> = std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
                    stat.is_ok_and(|s| {
                        let f: Vec<&str> = s[s.rfind(')').unwrap() + 2..].split(' ').collect();
                        f[0] == "Z" && f[1] == node_pid.to_string()
                    })
                })
                .collect();
            zombies.is_empty().then_some(())
        })
        .await;
    }
}
