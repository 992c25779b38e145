//! One supervised stdio MCP server: spawn the child in its own process group with the
//! node's scrubbed environment plus its own `env`, `initialize` within the connect
//! timeout, list its tools (paginated, bounded), publish them through the catalog (`catalog::Servers`), and when
//! the child exits withdraw them and start it again after a capped backoff (250 ms,
//! doubling, at most 60 s). On stop the group gets SIGTERM, a grace, then SIGKILL.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, PaginatedRequestParams};
use rmcp::{Peer, RoleClient, ServiceExt as _};
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;
use tokio_util::sync::CancellationToken;

use crate::catalog::Servers;
use crate::settings::ServerSettings;

/// First restart delay.
pub const RETRY_INITIAL: Duration = Duration::from_millis(250);
/// Longest restart delay.
pub const RETRY_MAX: Duration = Duration::from_secs(60);
/// Most `tools/list` pages read.
pub const MAX_LIST_PAGES: usize = 128;
/// Most tools read from one server.
pub const MAX_LISTED_TOOLS: usize = 16384;
/// How long a stopped server gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What a server needs to run, besides its settings.
#[derive(Clone)]
pub(crate) struct Launch {
    /// The config name.
    pub name: String,
    /// Its table.
    pub settings: ServerSettings,
    /// The node's environment without its secrets.
    pub base_env: Vec<(String, String)>,
    /// The `clientInfo.version` sent in `initialize`.
    pub version: String,
}

/// Runs `launch` until `stop`: connect, serve, withdraw on exit, back off, again.
pub(crate) async fn supervise(launch: Launch, servers: Arc<Servers>, stop: CancellationToken) {
    let mut delay = RETRY_INITIAL;
    loop {
        let started = tokio::select! {
            started = start(&launch) => started,
            // A child still initialising dies with the future (kill on drop).
            _ = stop.cancelled() => return,
        };
        match started {
            Ok(mut running) => {
                match list_tools(&running.peer, &launch.settings).await {
                    Ok(tools) => {
                        let count = tools.len();
                        servers.set_up(&launch.name, running.peer.clone(), tools);
                        delay = RETRY_INITIAL;
                        tracing::info!(server = %launch.name, tools = count, "node host MCP server connected");
                        tokio::select! {
                            status = running.child.wait() => {
                                tracing::warn!(server = %launch.name, status = ?status.ok(), "node host MCP server exited; its tools are withdrawn");
                            }
                            _ = stop.cancelled() => {}
                        }
                    }
                    Err(e) => {
                        tracing::warn!("node host MCP server \"{}\" failed: {e}", launch.name);
                    }
                }
                servers.set_down(&launch.name);
                running.kill().await;
            }
            Err(e) => {
                tracing::warn!("node host MCP server \"{}\" failed: {e}", launch.name);
                servers.set_down(&launch.name);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return,
        }
        if stop.is_cancelled() {
            return;
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}

/// A started server: its child and the MCP service over its stdio.
struct Running {
    child: tokio::process::Child,
    pgid: Option<i32>,
    peer: Peer<RoleClient>,
    /// Keeps the MCP service running (dropping it ends the session).
    _service: rmcp::service::RunningService<RoleClient, ClientConfig>,
}

impl Running {
    /// SIGTERM to the group, a grace, then SIGKILL; reaps the child.
    async fn kill(&mut self) {
        let Some(pgid) = self.pgid else { return };
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            let _ = self.child.wait().await;
        }
        // Whatever else the server left in its group goes too.
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// Spawns the child and runs `initialize` within the connect timeout.
async fn start(launch: &Launch) -> Result<Running, String> {
    let settings = &launch.settings;
    let program = settings.command.as_deref().unwrap_or_default();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&settings.args)
        .env_clear()
        .envs(launch.base_env.iter().map(|(k, v)| (k, v)))
        .envs(&settings.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &settings.cwd {
        cmd.current_dir(cwd);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let pgid = child.id().map(|p| p as i32);
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    if let Some(stderr) = child.stderr.take() {
        let name = launch.name.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(server = %name, "{line}");
            }
        });
    }
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("openclaw-node-host", launch.version.clone()),
    );
    let service =
        match tokio::time::timeout(settings.connect_timeout(), client.serve((stdout, stdin))).await
        {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => {
                kill_group(pgid);
                return Err(format!("initialize failed: {e}"));
            }
            Err(_) => {
                kill_group(pgid);
                return Err(format!(
                    "initialize timed out after {} ms",
                    settings.connect_timeout().as_millis()
                ));
            }
        };
    Ok(Running {
        child,
        pgid,
        peer: service.peer().clone(),
        _service: service,
    })
}

fn kill_group(pgid: Option<i32>) {
    if let Some(pgid) = pgid {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// Paginated `tools/list` (at most 128 pages, 16384 tools), then the filter and the
/// publishability rules.
async fn list_tools(
    peer: &Peer<RoleClient>,
    settings: &ServerSettings,
) -> Result<Vec<Value>, String> {
    let mut tools = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_LIST_PAGES {
        let params = cursor
            .take()
            .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let page = tokio::time::timeout(settings.list_timeout(), peer.list_tools(params))
            .await
            .map_err(|_| "tools/list timed out".to_string())?
            .map_err(|e| format!("tools/list failed: {e}"))?;
        for tool in page.tools {
            tools.push(serde_json::to_value(tool).map_err(|e| e.to_string())?);
        }
        if tools.len() >= MAX_LISTED_TOOLS {
            tools.truncate(MAX_LISTED_TOOLS);
            break;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let admitted = tools
        .into_iter()
        .filter(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| settings.admits(n.trim()))
        })
        .collect();
    Ok(crate::descriptors::publishable(admitted))
}
