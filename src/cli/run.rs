//! `openclaw-node run`: the node's main job. Loads the config (flags > environment > file),
//! has [`crate::node`] put the node together (plaintext rule, pin, credential store,
//! identity, capabilities), optionally brings up a managed SSH tunnel, opens the local
//! status socket, and runs the session until
//! SIGINT/SIGTERM (exit 130/143 after a graceful drain), a one-shot limit, or a refusal
//! no retry can fix (exit 78).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::global::GlobalArgs;
use crate::config::{Config, Overrides};
use crate::exit;
use crate::node::{Node, StoreSource};
use crate::session::{NodeExit, Registry, SessionState, run_node};
use crate::status::{Metrics, MetricsSnapshot, StatusSource};
use crate::transport::path::TransportPath;
use crate::transport::ssh::{SshTunnel, SshTunnelSpec, parse_ssh_target};

/// Flags of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gateway URL (ws:// or wss://) [env: OPENCLAW_GATEWAY_URL; default ws://127.0.0.1:18789].
    #[arg(long)]
    pub url: Option<String>,
    /// Name shown in the gateway's node list [default: the host name].
    #[arg(long)]
    pub display_name: Option<String>,
    /// Pin the gateway's TLS certificate: SHA-256 of the certificate (hex, colons allowed),
    /// or `spki:<sha256>` of its public key (survives renewals). Requires wss://.
    #[arg(long, value_name = "SHA256")]
    pub tls_fingerprint: Option<String>,
    /// Reach the gateway through an SSH tunnel that the node runs and supervises:
    /// `ssh -N -L` to USER@HOST (or USER@HOST:PORT), forwarding to the gateway URL's host and port as
    /// seen from that machine (usually ws://127.0.0.1:18789).
    #[arg(long, value_name = "USER@HOST[:PORT]")]
    pub ssh: Option<String>,
    /// SSH identity file for --ssh.
    #[arg(long, value_name = "FILE", requires = "ssh")]
    pub ssh_identity: Option<PathBuf>,
    /// Throwaway identity kept in memory (CI runners): nothing is written to the keychain
    /// or the credential file, and the gateway sees a new device every run.
    #[arg(long)]
    pub ephemeral: bool,
    /// Exit 0 after serving this many invocations (one-shot runners).
    #[arg(long, value_name = "N")]
    pub max_invocations: Option<u64>,
    /// Exit 0 after this long without an invocation, e.g. `30s`, `10m` (one-shot runners).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub exit_after_idle: Option<Duration>,
}

/// Parses `500ms`, `30s`, `10m`, `2h` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (num, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| text.split_at(i))
        .unwrap_or((text, "s"));
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (examples: 500ms, 30s, 10m, 2h)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit in {text:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration {text:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// What `status` shows about a running node.
struct NodeStatus {
    state_dir: PathBuf,
    state: watch::Receiver<SessionState>,
    started: std::time::Instant,
    gateway: String,
    path: TransportPath,
    device_id: String,
    store_kind: &'static str,
    store_location: String,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    mcp: Arc<openclaw_capability_mcp::McpCapability>,
    mcp_settings: openclaw_capability_mcp::McpSettings,
    tunnel: Option<watch::Receiver<crate::transport::ssh::TunnelState>>,
}

impl StatusSource for NodeStatus {
    fn status(&self) -> serde_json::Value {
        let state = self.state.borrow().clone();
        let surface = self.registry.surface();
        let mut doc = json!({
            "running": true,
            "state": state.name(),
            "gateway": self.gateway,
            "path": self.path,
            "deviceId": self.device_id,
            "credentialStore": self.store_kind,
            "credentialLocation": self.store_location,
            "caps": surface.caps,
            "commands": surface.commands,
            "unavailable": surface.unavailable.iter().map(|(c, r)| format!("{c}: {r}")).collect::<Vec<_>>(),
            "uptimeSeconds": self.started.elapsed().as_secs(),
            "version": crate::VERSION,
            "pid": std::process::id(),
        });
        match state {
            SessionState::WaitingForApproval { request_id, what } => {
                doc["waitingFor"] = json!(what);
                doc["requestId"] = json!(request_id);
            }
            SessionState::Ready {
                conn_id,
                surface_approved,
                ..
            } => {
                doc["connId"] = json!(conn_id);
                doc["surfaceApprovedThisConnection"] = json!(surface_approved);
            }
            SessionState::BackingOff {
                retry_in,
                last_error,
                attempt,
            } => {
                doc["retryInSeconds"] = json!(retry_in.as_secs_f64());
                doc["lastError"] = json!(last_error);
                doc["attempt"] = json!(attempt);
            }
            SessionState::Connecting { attempt } => doc["attempt"] = json!(attempt),
            _ => {}
        }
        let mcp = crate::status::mcp::servers(&self.mcp, &self.mcp_settings);
        if !mcp.is_empty() {
            doc["mcpServers"] = json!(mcp);
        }
        if let Some(t) = &self.tunnel {
            doc["sshTunnel"] = json!(format!("{:?}", *t.borrow()));
        }
        // The same figures the gateway receives in node.host.stats.
        if let Ok(host) = openclaw_capability_device::sample_host_stats(&self.state_dir) {
            doc["hostStats"] = json!(host);
        }
        doc
    }

    fn metrics(&self) -> MetricsSnapshot {
        let mut snapshot = self.metrics.snapshot(crate::now_ms());
        snapshot.mcp_servers = crate::status::mcp::servers(&self.mcp, &self.mcp_settings);
        snapshot
    }
}

/// Runs `run`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config_file: global.config.clone(),
        state_dir: global.state_dir.clone(),
        url: args.url.clone(),
        display_name: args.display_name.clone(),
        tls_fingerprint: args.tls_fingerprint.clone(),
    };
    let env = global.env_lookup()?;
    let config = Config::load(&overrides, &env)?;
    super::config_secrets::warn_if_exposed(&config, global);
    let store = if args.ephemeral {
        StoreSource::Ephemeral
    } else {
        StoreSource::Chosen(global.credential_store)
    };
    let node = Node::prepare(config, store, args.ssh.is_some()).await?;
    let Node {
        config,
        path,
        store,
        identity,
        registry,
        ..
    } = &node;
    let device_id = identity.device_id();
    let url = &config.gateway_url;

    let shutdown = CancellationToken::new();
    let mut tunnel = None;
    let mut dial_url = None;
    if let Some(target) = &args.ssh {
        let (destination, ssh_port) = parse_ssh_target(target).map_err(anyhow::Error::msg)?;
        let spec = SshTunnelSpec {
            destination,
            ssh_port,
            remote_host: url
                .host_str()
                .unwrap_or("127.0.0.1")
                .trim_matches(['[', ']'])
                .to_string(),
            remote_port: url
                .port_or_known_default()
                .unwrap_or(crate::protocol::DEFAULT_GATEWAY_PORT),
            identity: args.ssh_identity.clone(),
            extra_args: Vec::new(),
        };
        let mut t = SshTunnel::start(spec).await?;
        tracing::info!(target = %target, local = %t.local_addr, "starting the SSH tunnel");
        if !t.wait_up(Duration::from_secs(20)).await {
            tracing::warn!(state = ?*t.state.borrow(), "the SSH tunnel is not up yet; the node keeps trying");
        }
        let mut local = url.clone();
        let _ = local.set_host(Some("127.0.0.1"));
        let _ = local.set_port(Some(t.local_addr.port()));
        dial_url = Some(local.to_string());
        tunnel = Some(t);
    }

    let metrics = node.metrics.clone();
    let (state_tx, state_rx) = watch::channel(SessionState::Starting);

    let status_task = if args.ephemeral {
        None
    } else {
        match crate::status::bind(&config.state_dir).await {
            Ok(listener) => {
                let source = NodeStatus {
                    state_dir: config.state_dir.clone(),
                    state: state_rx.clone(),
                    started: std::time::Instant::now(),
                    gateway: config.gateway_url.to_string(),
                    path: *path,
                    device_id: device_id.clone(),
                    store_kind: store.kind(),
                    store_location: store.location(),
                    registry: registry.clone(),
                    metrics: metrics.clone(),
                    mcp: node.mcp.clone(),
                    mcp_settings: config.mcp.clone(),
                    tunnel: tunnel.as_ref().map(|t: &SshTunnel| t.state.clone()),
                };
                Some(tokio::spawn(crate::status::serve(
                    listener,
                    Arc::new(source),
                    shutdown.clone(),
                )))
            }
            Err(e @ crate::status::StatusError::InUse(_)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "status socket unavailable; `openclaw-node status` will not see this node");
                None
            }
        }
    };

    let mut opts = node.session_options();
    opts.dial_url = dial_url;
    opts.max_invocations = args.max_invocations;
    opts.exit_after_idle = args.exit_after_idle;

    tracing::info!(
        gateway = %config.gateway_url,
        %path,
        device_id = %device_id,
        store = store.kind(),
        "starting node"
    );
    let signal = Arc::new(std::sync::atomic::AtomicU8::new(0));
    spawn_signal_handler(shutdown.clone(), signal.clone())?;
    let result = run_node(
        opts,
        identity.clone(),
        store.clone(),
        registry.clone(),
        state_tx,
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    if let Some(t) = tunnel {
        t.stop().await;
    }
    if let Some(task) = status_task {
        let _ = task.await;
    }
    if args.ephemeral {
        let _ = store.clear_all();
    }
    match result {
        Ok(NodeExit::Shutdown) => {
            let code = signal.load(std::sync::atomic::Ordering::SeqCst);
            Ok(ExitCode::from(if code == 0 { exit::OK } else { code }))
        }
        Ok(NodeExit::MaxInvocations) => {
            tracing::info!("served the requested number of invocations; exiting");
            Ok(ExitCode::SUCCESS)
        }
        Ok(NodeExit::Idle) => {
            tracing::info!("idle for the requested time; exiting");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("openclaw-node: {e}");
            Ok(ExitCode::from(exit::for_session(&e)))
        }
    }
}

/// SIGINT → exit 130, SIGTERM → exit 143, both after a graceful drain.
fn spawn_signal_handler(
    shutdown: CancellationToken,
    code: Arc<std::sync::atomic::AtomicU8>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        let which = tokio::select! {
            _ = term.recv() => exit::SIGTERM,
            _ = int.recv() => exit::SIGINT,
            _ = shutdown.cancelled() => return,
        };
        tracing::info!(
            signal = if which == exit::SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            },
            "stopping: finishing calls in flight"
        );
        code.store(which, std::sync::atomic::Ordering::SeqCst);
        shutdown.cancel();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
