//! The managed SSH tunnel (`--ssh user@host[:port]`): the node runs `ssh -N -L` itself,
//! waits until the forwarded local port accepts connections, watches the ssh process, and
//! restarts it with capped backoff when it dies, on the same local port when it can, so
//! the session keeps dialing one address. The tunnel never outlives the node: the ssh
//! child is killed on shutdown and on drop.
//!
//! ssh runs with `BatchMode=yes` (never prompts), `ExitOnForwardFailure=yes` (a tunnel
//! that cannot forward is a failure, not a silent success) and `ServerAliveInterval` (a
//! dead path is noticed and the tunnel restarted).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long ssh may take to bring the forward up.
pub const TUNNEL_READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Restart backoff: first delay.
const RESTART_INITIAL: Duration = Duration::from_millis(500);
/// Restart backoff: cap.
const RESTART_MAX: Duration = Duration::from_secs(30);
/// A tunnel up this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// Where the tunnel goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTunnelSpec {
    /// `user@host` or `host`.
    pub destination: String,
    /// SSH port, if not 22 / the ssh config's.
    pub ssh_port: Option<u16>,
    /// The gateway's host as seen from the SSH server (usually `127.0.0.1`).
    pub remote_host: String,
    /// The gateway's port as seen from the SSH server.
    pub remote_port: u16,
    /// `-i` identity file.
    pub identity: Option<PathBuf>,
    /// Extra `ssh` arguments (e.g. `-F`, `-o UserKnownHostsFile=…` in tests).
    pub extra_args: Vec<String>,
}

/// Parses `user@host[:port]` (an IPv6 host in brackets: `user@[::1]:2222`).
pub fn parse_ssh_target(text: &str) -> Result<(String, Option<u16>), String> {
    let text = text.trim();
    let bad = || format!("invalid --ssh target {text:?}: expected user@host[:port]");
    if text.is_empty() || text.starts_with('-') || text.contains(char::is_whitespace) {
        return Err(bad());
    }
    let (user, hostport) = match text.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u), h),
        Some(_) => return Err(bad()),
        None => (None, text),
    };
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        (host.to_string(), port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().map_err(|_| bad())?)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() || host.starts_with('-') {
        return Err(bad());
    }
    let dest = match user {
        Some(u) => format!("{u}@{host}"),
        None => host,
    };
    Ok((dest, port))
}

/// The tunnel's state, for `status` and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelState {
    /// ssh is starting or restarting.
    Connecting {
        /// Attempts so far.
        attempt: u32,
    },
    /// The forward accepts connections.
    Up {
        /// ssh's process id.
        pid: u32,
    },
    /// ssh died; restarting after a delay.
    Down {
        /// Why.
        reason: String,
        /// When the next attempt starts.
        retry_in: Duration,
    },
    /// Stopped for good.
    Stopped,
}

/// A running tunnel supervisor.
#[derive(Debug)]
pub struct SshTunnel {
    /// The local end (`127.0.0.1:<port>`): dial this instead of the gateway.
    pub local_addr: SocketAddr,
    /// State changes.
    pub state: watch::Receiver<TunnelState>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SshTunnel {
    /// Starts the supervisor; returns at once (watch `state` for `Up`).
    pub async fn start(spec: SshTunnelSpec) -> std::io::Result<SshTunnel> {
        let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let local_addr = probe.local_addr()?;
        drop(probe);
        let (tx, rx) = watch::channel(TunnelState::Connecting { attempt: 0 });
        let stop = CancellationToken::new();
        let task = tokio::spawn(supervise(spec, local_addr, tx, stop.clone()));
        Ok(SshTunnel {
            local_addr,
            state: rx,
            stop,
            task: Some(task),
        })
    }

    /// Waits until the tunnel is up (or `timeout` passes).
    pub async fn wait_up(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(
            timeout,
            self.state.wait_for(|s| matches!(s, TunnelState::Up { .. })),
        )
        .await
        .is_ok_and(|r| r.is_ok())
    }

    /// Stops the tunnel and waits for ssh to be gone.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SshTunnel {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn ssh_command(spec: &SshTunnelSpec, local: SocketAddr) -> Command {
    let mut cmd = Command::new("ssh");
    for var in openclaw_capability_api::NODE_SECRET_ENV {
        cmd.env_remove(var);
    }
    cmd.arg("-N")
        .arg("-L")
        .arg(format!(
            "127.0.0.1:{}:{}:{}",
            local.port(),
            spec.remote_host,
            spec.remote_port
        ))
        .args(["-o", "BatchMode=yes"])
        .args(["-o", "ExitOnForwardFailure=yes"])
        .args(["-o", "ServerAliveInterval=15"])
        .args(["-o", "ServerAliveCountMax=3"])
        .args(["-o", "ConnectTimeout=10"]);
    if let Some(port) = spec.ssh_port {
        cmd.arg("-p").arg(port.to_string());
    }
    if let Some(identity) = &spec.identity {
        cmd.arg("-i").arg(identity);
    }
    cmd.args(&spec.extra_args)
        .arg("--")
        .arg(&spec.destination)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn wait_forward(child: &mut Child, local: SocketAddr) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + TUNNEL_READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("ssh exited with {status}"));
        }
        if tokio::net::TcpStream::connect(local).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "the forward did not come up within {}s",
                TUNNEL_READY_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stderr_tail(child: &mut Child) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), err.read(&mut buf)).await
        {
            text = String::from_utf8_lossy(&buf[..n]).trim().to_string();
        }
    }
    text.lines().last().unwrap_or_default().to_string()
}

async fn supervise(
    spec: SshTunnelSpec,
    local: SocketAddr,
    state: watch::Sender<TunnelState>,
    stop: CancellationToken,
) {
    let mut attempt: u32 = 0;
    let mut delay = RESTART_INITIAL;
    loop {
        attempt += 1;
        state.send_replace(TunnelState::Connecting { attempt });
        let reason = match ssh_command(&spec, local).spawn() {
            Err(e) => format!("cannot run ssh: {e}"),
            Ok(mut child) => {
                let ready = tokio::select! {
                    r = wait_forward(&mut child, local) => r,
                    _ = stop.cancelled() => Err("stopping".into()),
                };
                match ready {
                    Ok(()) => {
                        let pid = child.id().unwrap_or(0);
                        tracing::info!(target = %spec.destination, %local, pid, "ssh tunnel up");
                        state.send_replace(TunnelState::Up { pid });
                        let up_since = tokio::time::Instant::now();
                        let exit = tokio::select! {
                            status = child.wait() => Some(status),
                            _ = stop.cancelled() => None,
                        };
                        if up_since.elapsed() >= HEALTHY_AFTER {
                            delay = RESTART_INITIAL;
                        }
                        match exit {
                            Some(status) => {
                                let tail = stderr_tail(&mut child).await;
                                format!(
                                    "ssh exited ({}){}",
                                    status.map(|s| s.to_string()).unwrap_or_default(),
                                    if tail.is_empty() {
                                        String::new()
                                    } else {
                                        format!(": {tail}")
                                    }
                                )
                            }
                            None => {
                                let _ = child.kill().await;
                                state.send_replace(TunnelState::Stopped);
                                return;
                            }
                        }
                    }
                    Err(why) => {
                        let _ = child.start_kill();
                        let tail = stderr_tail(&mut child).await;
                        let _ = child.wait().await;
                        if stop.is_cancelled() {
                            state.send_replace(TunnelState::Stopped);
                            return;
                        }
                        if tail.is_empty() {
                            why
                        } else {
                            format!("{why}: {tail}")
                        }
                    }
                }
            }
        };
        tracing::warn!(target = %spec.destination, %reason, retry_in = ?delay, "ssh tunnel down; restarting");
        state.send_replace(TunnelState::Down {
            reason,
            retry_in: delay,
        });
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => {
                state.send_replace(TunnelState::Stopped);
                return;
            }
        }
        delay = (delay * 2).min(RESTART_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(parse_ssh_target("ada@gw"), Ok(("ada@gw".into(), None)));
        assert_eq!(
            parse_ssh_target("ada@gw:2222"),
            Ok(("ada@gw".into(), Some(2222)))
        );
        assert_eq!(
            parse_ssh_target("gw.example"),
            Ok(("gw.example".into(), None))
        );
        assert_eq!(
            parse_ssh_target("ada@[::1]:22"),
            Ok(("ada@::1".into(), Some(22)))
        );
        for bad in [
            "",
            "-oProxyCommand=x",
            "ada@",
            "@gw",
            "ada@gw:port",
            "a b@c",
            "ada@-x",
        ] {
            assert!(parse_ssh_target(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ssh_gets_no_gateway_credentials_in_its_environment() {
        let spec = SshTunnelSpec {
            destination: "ada@gw".into(),
            ssh_port: None,
            remote_host: "127.0.0.1".into(),
            remote_port: 18789,
            identity: None,
            extra_args: vec![],
        };
        let cmd = ssh_command(&spec, "127.0.0.1:4000".parse().unwrap());
        let removed: Vec<_> = cmd
            .as_std()
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for var in openclaw_capability_api::NODE_SECRET_ENV {
            assert!(removed.iter().any(|r| r == var), "{var} is passed to ssh");
        }
    }
}
