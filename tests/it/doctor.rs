//! `doctor` against: no gateway listening, a wrong token, an unapproved device, plaintext to
//! a public host, and a working setup; each layer's verdict asserted.

use openclaw_node::cli::doctor::{Args, Check, Verdict, diagnose};
use openclaw_node::cli::{GlobalArgs, LogFormat};
use openclaw_node::credentials::{StoreChoice, load_or_create_identity, open_store};

use crate::helpers::*;

/// A node state dir with an identity and an env file holding `token`.
fn node_dir(token: &str) -> (tempfile::TempDir, GlobalArgs) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(StoreChoice::File, dir.path()).unwrap();
    load_or_create_identity(store.as_ref()).unwrap();
    let env_file = dir.path().join("env");
    std::fs::write(&env_file, format!("OPENCLAW_GATEWAY_TOKEN={token}\n")).unwrap();
    let global = GlobalArgs {
        verbose: 0,
        log_format: LogFormat::Text,
        state_dir: Some(dir.path().to_path_buf()),
        config: None,
        env_file: Some(env_file),
        credential_store: StoreChoice::File,
    };
    (dir, global)
}

fn verdict<'a>(checks: &'a [Check], layer: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.layer == layer)
        .unwrap_or_else(|| panic!("no {layer} check in {checks:?}"))
}

async fn run(url: &str, global: &GlobalArgs) -> Vec<Check> {
    within(
        "doctor",
        diagnose(
            &Args {
                json: true,
                url: Some(url.into()),
            },
            global,
        ),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn no_gateway_listening_fails_at_tcp() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_d, g) = node_dir(TOKEN);
    let checks = run(&format!("ws://127.0.0.1:{port}"), &g).await;
    assert_eq!(verdict(&checks, "path").verdict, Verdict::Ok);
    let tcp = verdict(&checks, "tcp");
    assert_eq!(tcp.verdict, Verdict::Fail);
    assert!(tcp.fix.is_some());
    assert!(
        checks.iter().all(|c| c.layer != "auth"),
        "stopped at the failing layer"
    );
}

#[tokio::test]
async fn plaintext_to_a_public_host_fails_at_path() {
    let (_d, g) = node_dir(TOKEN);
    let checks = run("ws://gateway.example.com:18789", &g).await;
    let path = verdict(&checks, "path");
    assert_eq!(path.verdict, Verdict::Fail);
    assert!(path.detail.contains("refusing plaintext"), "{path:?}");
}

#[tokio::test]
async fn a_wrong_token_fails_at_auth() {
    let gw = TestGateway::start_auto_approve().await;
    let (_d, g) = node_dir("not-the-token");
    let checks = run(&gw.url, &g).await;
    assert_eq!(verdict(&checks, "tcp").verdict, Verdict::Ok);
    let auth = verdict(&checks, "auth");
    assert_eq!(auth.verdict, Verdict::Fail);
    assert!(auth.detail.contains("AUTH_TOKEN_MISMATCH"), "{auth:?}");
    assert!(
        !format!("{checks:?}").contains("not-the-token"),
        "doctor leaked the token"
    );
}

#[tokio::test]
async fn an_unapproved_device_fails_at_paired_with_the_request_id() {
    let gw = TestGateway::start().await;
    let (_d, g) = node_dir(TOKEN);
    let checks = run(&gw.url, &g).await;
    assert_eq!(verdict(&checks, "auth").verdict, Verdict::Ok);
    let paired = verdict(&checks, "paired");
    assert_eq!(paired.verdict, Verdict::Fail);
    assert!(
        paired
            .fix
            .as_deref()
            .unwrap()
            .contains("devices approve r-"),
        "{paired:?}"
    );
    assert_eq!(verdict(&checks, "clock").verdict, Verdict::Ok);
}

#[tokio::test]
async fn a_working_setup_passes_every_network_layer() {
    let gw = TestGateway::start_auto_approve().await;
    let (_d, g) = node_dir(TOKEN);
    let checks = run(&gw.url, &g).await;
    for layer in [
        "config",
        "credentials",
        "path",
        "dns",
        "tcp",
        "clock",
        "auth",
        "paired",
    ] {
        assert_eq!(
            verdict(&checks, layer).verdict,
            Verdict::Ok,
            "{layer}: {checks:?}"
        );
    }
    assert!(
        verdict(&checks, "capabilities")
            .detail
            .contains("system.which")
    );
}

/// Issue 17: a state directory or a config file with a token that group or others can
/// read gets a warning naming the exact `chmod`; a 0700 directory and 0600 files do not.
#[tokio::test]
async fn doctor_warns_about_a_state_dir_or_a_token_file_open_to_others() {
    use std::os::unix::fs::PermissionsExt as _;
    let chmod = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let (dir, g) = node_dir(TOKEN);
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("[gateway]\ntoken = \"{TOKEN}\"\n")).unwrap();
    let env_file = g.env_file.clone().unwrap();
    chmod(dir.path(), 0o755);
    chmod(&config, 0o644);
    chmod(&env_file, 0o644);
    let checks = run(&url, &g).await;
    let perms = verdict(&checks, "permissions");
    assert_eq!(perms.verdict, Verdict::Warn, "{perms:?}");
    let fix = perms.fix.as_deref().unwrap_or_default();
    for want in [
        format!("chmod 700 {}", dir.path().display()),
        format!("chmod 600 {}", config.display()),
        format!("chmod 600 {}", env_file.display()),
    ] {
        assert!(fix.contains(&want), "no {want:?} in {perms:?}");
    }
    assert!(!perms.detail.contains(TOKEN), "{perms:?}");

    chmod(dir.path(), 0o700);
    chmod(&config, 0o600);
    chmod(&env_file, 0o600);
    let checks = run(&url, &g).await;
    let perms = verdict(&checks, "permissions");
    assert_eq!(perms.verdict, Verdict::Ok, "{perms:?}");
    assert!(perms.fix.is_none(), "{perms:?}");

    // A world-readable config file without a secret is nobody's business.
    std::fs::write(&config, "[gateway]\n").unwrap();
    chmod(&config, 0o644);
    let checks = run(&url, &g).await;
    assert_eq!(verdict(&checks, "permissions").verdict, Verdict::Ok);
}
