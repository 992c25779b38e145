//! How the real binary takes its settings: a bad config file is a usage error (exit 2, so
//! a supervisor stops restarting it), and an `--env-file` (what launchd gives the node)
//! counts for every setting, `OPENCLAW_ALLOW_INSECURE_PRIVATE_WS` and `RUST_LOG` included.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_openclaw-node");

/// The binary with a clean environment (nothing from the developer's shell) and its state
/// in `state`.
fn node(state: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", state)
        .arg("--state-dir")
        .arg(state)
        .args(["--credential-store", "file"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Reads the child's stderr until a line contains `needle`; panics (with what it read)
/// if the child exits first or nothing matches within [`WAIT`].
async fn wait_for_line(child: &mut tokio::process::Child, needle: &str) -> String {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains(needle) {
                return Some(line);
            }
            seen.push(line);
        }
        None
    })
    .await;
    match found {
        Ok(Some(line)) => line,
        Ok(None) => panic!(
            "the node exited ({:?}) before logging {needle:?}:\n{}",
            child.wait().await,
            seen.join("\n")
        ),
        Err(_) => panic!("no {needle:?} within {WAIT:?}:\n{}", seen.join("\n")),
    }
}

#[tokio::test]
async fn a_bad_config_file_exits_2_not_1() {
    for (what, text, said) in [
        (
            "a value of the wrong type",
            "[gateway]\nurl = 5\n",
            "invalid config file",
        ),
        (
            "an unknown section",
            "[nonsense]\nkey = 1\n",
            "invalid config file",
        ),
        (
            "a bad exec mode",
            "[exec]\nsecurity = \"most\"\n",
            "invalid setting exec.security",
        ),
    ] {
        let state = tempfile::tempdir().unwrap();
        let config = state.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        for command in [&["run"][..], &["pair", "--url", "ws://127.0.0.1:1"]] {
            let out = node(state.path())
                .arg("--config")
                .arg(&config)
                .args(command)
                .output()
                .await
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(openclaw_node::exit::USAGE as i32),
                "{what}, {command:?}: {stderr}"
            );
            assert!(stderr.contains(said), "{what}: {stderr}");
        }
    }
}

/// A ws:// URL with a private DNS name (`.invalid` never resolves, so the node dials and
/// backs off): refused without the escape hatch, accepted with it from the env file.
#[tokio::test]
async fn the_env_file_allows_plaintext_to_a_private_name() {
    let url = "ws://openclaw-it.invalid:18789";
    let state = tempfile::tempdir().unwrap();
    let out = node(state.path())
        .args(["run", "--ephemeral", "--url", url])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(openclaw_node::exit::USAGE as i32),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing plaintext"));

    let env_file = state.path().join("service.env");
    std::fs::write(&env_file, "OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1\n").unwrap();
    let mut child = node(state.path())
        .arg("--env-file")
        .arg(&env_file)
        .args(["run", "--ephemeral", "--url", url])
        .spawn()
        .unwrap();
    // The session itself got past the plaintext rule: it dialed and is backing off.
    let line = wait_for_line(&mut child, "reconnecting").await;
    assert!(line.contains("openclaw-it.invalid"), "{line}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn rust_log_in_the_env_file_takes_effect() {
    let gw = TestGateway::start_auto_approve().await;
    let state = tempfile::tempdir().unwrap();
    let env_file = state.path().join("service.env");
    std::fs::write(
        &env_file,
        format!(
            "OPENCLAW_GATEWAY_URL={}\nOPENCLAW_GATEWAY_TOKEN={TOKEN}\nRUST_LOG=openclaw_node=debug\n",
            gw.url
        ),
    )
    .unwrap();
    let mut child = node(state.path())
        .arg("--env-file")
        .arg(&env_file)
        .args(["run", "--ephemeral"])
        .spawn()
        .unwrap();
    // At every connect the node says at debug level which capability it does not serve
    // (`device` is off by default); at the default `info` that line never shows.
    let line = wait_for_line(&mut child, "capability not available here").await;
    assert!(line.contains("DEBUG"), "{line}");
    child.kill().await.unwrap();
}

/// Issue 17: `pair` made a new state directory with the umask's mode (0755 under 022)
/// where `run` made it 0700. Every command that creates it now makes it 0700.
#[tokio::test]
async fn pair_makes_a_fresh_state_dir_0700_under_umask_022() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let state = parent.path().join("fresh").join("state");
    let out = tokio::process::Command::new("sh")
        .args(["-c", "umask 022 && exec \"$0\" \"$@\"", BIN])
        .arg("--state-dir")
        .arg(&state)
        .args(["--credential-store", "file", "pair", "--json"])
        .args(["--url", "ws://127.0.0.1:1", "--timeout", "1s"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", parent.path())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mode = std::fs::metadata(&state)
        .unwrap_or_else(|e| panic!("no state dir ({e}): {stderr}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "{stderr}");
    // The key went in with it, and the umask did not widen it.
    let key = std::fs::metadata(state.join("credentials.json")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}
