//! The managed SSH tunnel against a real sshd on loopback (Debian's openssh-server, started
//! by the test with its own host key, client key and config): it carries raw traffic and a
//! whole node session, and when the ssh process is killed the tunnel comes back and the
//! node reconnects through it. `#[ignore]`d in a plain `cargo test`; `scripts/test` installs
//! sshd and runs them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use openclaw_node::session::SessionState;
use openclaw_node::transport::ssh::{SshTunnel, SshTunnelSpec, TunnelState};
use serde_json::json;

use crate::helpers::*;

/// A real sshd on 127.0.0.1 with its own keys and config; killed on drop.
struct TestSshd {
    child: std::process::Child,
    port: u16,
    client_key: PathBuf,
    dir: tempfile::TempDir,
}

impl TestSshd {
    fn start() -> TestSshd {
        let sshd = PathBuf::from("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "this test needs a real sshd at /usr/sbin/sshd: run scripts/test, which installs openssh-server"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        for (key, comment) in [("host_key", "host"), ("client_key", "client")] {
            let ok = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(p(key))
                .status()
                .unwrap()
                .success();
            assert!(ok, "ssh-keygen failed");
        }
        std::fs::copy(p("client_key.pub"), p("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\nAllowTcpForwarding yes\nLogLevel ERROR\n",
            p("host_key").display(),
            p("authorized_keys").display(),
            p("sshd.pid").display()
        );
        std::fs::write(p("sshd_config"), config).unwrap();
        // sshd wants its privilege-separation directory when started as root.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = std::process::Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(p("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        TestSshd {
            child,
            port,
            client_key: p("client_key"),
            dir,
        }
    }

    fn spec(&self, remote_port: u16) -> SshTunnelSpec {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        SshTunnelSpec {
            destination: format!("{user}@127.0.0.1"),
            ssh_port: Some(self.port),
            remote_host: "127.0.0.1".into(),
            remote_port,
            identity: Some(self.client_key.clone()),
            extra_args: vec![
                "-F".into(),
                "/dev/null".into(),
                "-o".into(),
                "StrictHostKeyChecking=no".into(),
                "-o".into(),
                format!(
                    "UserKnownHostsFile={}",
                    self.dir.path().join("known_hosts").display()
                ),
                "-o".into(),
                "LogLevel=ERROR".into(),
            ],
        }
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn echo_server() -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

async fn round_trip(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

fn ssh_pid(t: &SshTunnel) -> u32 {
    match *t.state.borrow() {
        TunnelState::Up { pid } => pid,
        ref other => panic!("tunnel not up: {other:?}"),
    }
}

fn kill9(pid: u32) {
    std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap();
}

async fn wait_restored(t: &mut SshTunnel, old: u32) {
    within(
        "the tunnel to be restored",
        t.state
            .wait_for(|s| matches!(s, TunnelState::Up { pid } if *pid != old)),
    )
    .await
    .unwrap();
}

#[tokio::test]
#[ignore = "needs sshd: scripts/test"]
async fn a_real_sshd_carries_the_tunnel_and_a_killed_ssh_is_restored() {
    let sshd = TestSshd::start();
    let target = echo_server().await;
    let mut tunnel = SshTunnel::start(sshd.spec(target)).await.unwrap();
    assert!(tunnel.wait_up(WAIT).await, "{:?}", *tunnel.state.borrow());
    assert_eq!(round_trip(tunnel.local_addr).await, "ping");
    let pid = ssh_pid(&tunnel);
    kill9(pid);
    wait_restored(&mut tunnel, pid).await;
    assert_eq!(round_trip(tunnel.local_addr).await, "ping");
    let addr = tunnel.local_addr;
    tunnel.stop().await;
    // ssh is gone with the tunnel: nothing listens on the local end any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
#[ignore = "needs sshd: scripts/test"]
async fn a_node_session_runs_through_the_tunnel_and_survives_a_killed_ssh() {
    let sshd = TestSshd::start();
    let gw = TestGateway::start_auto_approve().await;
    let gw_port = gw.handle().local_addr().port();
    let mut tunnel = SshTunnel::start(sshd.spec(gw_port)).await.unwrap();
    assert!(tunnel.wait_up(WAIT).await, "{:?}", *tunnel.state.borrow());
    let dial = format!("ws://{}", tunnel.local_addr);
    let mut node = TestNode::builder(&gw.url)
        .options(|o| o.dial_url = Some(dial.clone()))
        .start();
    node.wait_ready().await;
    let op = gw.operator().await;
    let listed = op.node_list().await.unwrap();
    // The gateway sees the node arrive from the tunnel (the sshd's side of the forward).
    assert!(
        listed
            .nodes
            .iter()
            .any(|n| n.node_id == node.node_id && n.connected)
    );
    let reply = op
        .node_invoke(
            &node.node_id,
            "system.which",
            json!({"bins": ["sh"]}),
            Some(5000),
        )
        .await
        .unwrap();
    assert!(reply.payload["bins"]["sh"].is_string());

    let pid = ssh_pid(&tunnel);
    kill9(pid);
    node.wait_for("the node to lose the session", |s| {
        !matches!(s, SessionState::Ready { .. })
    })
    .await;
    wait_restored(&mut tunnel, pid).await;
    node.wait_ready().await;
    let reply = op
        .node_invoke(
            &node.node_id,
            "system.which",
            json!({"bins": ["sh"]}),
            Some(5000),
        )
        .await
        .unwrap();
    assert!(reply.payload["bins"]["sh"].is_string());
    tunnel.stop().await;
}

#[tokio::test]
#[ignore = "needs sshd: scripts/test"]
async fn a_refused_login_reports_down_with_the_reason() {
    let sshd = TestSshd::start();
    let mut spec = sshd.spec(1);
    spec.identity = None;
    spec.extra_args.extend([
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        "IdentityFile=/dev/null".into(),
    ]);
    let mut tunnel = SshTunnel::start(spec).await.unwrap();
    let state = within(
        "a Down state",
        tunnel
            .state
            .wait_for(|s| matches!(s, TunnelState::Down { .. })),
    )
    .await
    .unwrap()
    .clone();
    let TunnelState::Down { reason, .. } = state else {
        unreachable!()
    };
    assert!(reason.contains("ssh"), "{reason}");
    tunnel.stop().await;
}
