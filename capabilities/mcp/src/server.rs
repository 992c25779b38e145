//! One supervised MCP server: a stdio child (its own process group, the node's scrubbed
//! environment plus its own `env`) or a streamable-HTTP endpoint (`url`, `headers`);
//! `initialize` within the connect timeout, list its tools (paginated, bounded), publish
//! them through the catalog (`catalog::Servers`), list again on each
//! `notifications/tools/list_changed` (refreshes coalesced and serialised), and when the
//! connection ends withdraw them and connect again after a capped backoff (250 ms,
//! doubling, at most 60 s). On stop a child's group gets SIGTERM, a grace, then SIGKILL.
//! Failures are logged and kept for `status` with secrets removed ([`crate::redact`]).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, PaginatedRequestParams};
use rmcp::service::{NotificationContext, RunningServiceCancellationToken};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, Peer, RoleClient, ServiceExt as _};
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use openclaw_capability_api::NODE_SECRET_ENV;

use crate::catalog::Servers;
use crate::redact::redact_error;
use crate::settings::{ServerSettings, Transport};

/// The node's environment without its gateway credentials ([`NODE_SECRET_ENV`]): what
/// every MCP server starts from, before its own `env`.
pub fn scrubbed(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.filter(|(k, _)| !NODE_SECRET_ENV.contains(&k.as_str()))
        .collect()
}

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
/// How often an HTTP server is pinged: rmcp's HTTP client never reports a server that
/// went away (it retries its event stream), so a failed ping is what ends the connection
/// and withdraws the server's tools, as the reference does when its stream retries run out.
pub const HTTP_PING_INTERVAL: Duration = Duration::from_secs(10);
/// The longest an HTTP ping may take.
pub const HTTP_PING_TIMEOUT: Duration = Duration::from_secs(10);

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

impl Launch {
    /// `text` (an error about this server) without its secrets: its env and header
    /// values, URL credentials, secret query values.
    pub(crate) fn redact(&self, text: &str) -> String {
        redact_error(text, secrets(&self.settings))
    }
}

/// The values of a server's `env` and `headers`: never logged, never in `status`.
pub(crate) fn secrets(settings: &ServerSettings) -> impl Iterator<Item = &str> {
    settings
        .env
        .values()
        .chain(settings.headers.iter().flat_map(|h| h.values()))
        .map(String::as_str)
}

/// The MCP client role: our identity, and `list_changed` turned into a wake-up.
struct Client {
    /// `initialize`'s client info.
    info: ClientConfig,
    /// Woken by `notifications/tools/list_changed`; a wake-up while one is pending is
    /// merged into it (coalesced).
    tools_changed: Arc<Notify>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }
}

/// Runs `launch` until `stop`: connect, serve, withdraw on exit, back off, again.
pub(crate) async fn supervise(launch: Launch, servers: Arc<Servers>, stop: CancellationToken) {
    let name = launch.name.as_str();
    let mut delay = RETRY_INITIAL;
    let mut first = true;
    loop {
        servers.set_starting(name, !first);
        let started = tokio::select! {
            started = start(&launch) => started,
            // A child still initialising dies with the future (kill on drop).
            _ = stop.cancelled() => return,
        };
        let error = match started {
            Ok(mut running) => {
                let outcome = serve(&mut running, &launch, &servers, &stop, &mut delay).await;
                running.stop().await;
                outcome.err()
            }
            Err(e) => Some(e),
        };
        if stop.is_cancelled() {
            servers.set_down(name, None);
            return;
        }
        let error = error.map(|e| launch.redact(&e));
        if let Some(e) = &error {
            if first {
                tracing::warn!("node host MCP server \"{name}\" failed: {e}");
            } else {
                tracing::warn!("node host MCP server \"{name}\" reconnect failed: {e}");
            }
        }
        servers.set_down(name, error);
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return,
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}

/// Lists, publishes and keeps the catalog current until the connection ends (`Ok`) or a
/// listing fails (`Err`).
async fn serve(
    running: &mut Running,
    launch: &Launch,
    servers: &Servers,
    stop: &CancellationToken,
    delay: &mut Duration,
) -> Result<(), String> {
    let name = launch.name.as_str();
    let tools = list_tools(&running.peer, &launch.settings).await?;
    let count = tools.len();
    servers.set_up(name, running.peer.clone(), tools);
    *delay = RETRY_INITIAL;
    tracing::info!(server = %name, tools = count, "node host MCP server connected");
    let tools_changed = running.tools_changed.clone();
    let pings = running.child.is_none();
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + HTTP_PING_INTERVAL,
        HTTP_PING_INTERVAL,
    );
    loop {
        tokio::select! {
            how = running.ended() => {
                tracing::warn!(server = %name, how = %how, "node host MCP server connection ended; its tools are withdrawn");
                return Ok(());
            }
            _ = tools_changed.notified() => {
                // One refresh at a time, here; notifications during it wake the next.
                match list_tools(&running.peer, &launch.settings).await {
                    Ok(tools) => {
                        tracing::info!(server = %name, tools = tools.len(), "node host MCP server tools changed");
                        servers.set_tools(name, tools);
                    }
                    Err(e) => {
                        tracing::warn!("node host MCP server \"{name}\" tool refresh failed: {}", launch.redact(&e));
                        return Err(e);
                    }
                }
            }
            _ = ping.tick(), if pings => {
                let request = rmcp::model::PingRequest::default().into();
                match tokio::time::timeout(HTTP_PING_TIMEOUT, running.peer.send_request(request)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(format!("ping failed: {e}")),
                    Err(_) => return Err("ping timed out".into()),
                }
            }
            _ = stop.cancelled() => return Ok(()),
        }
    }
}

/// A connected server.
struct Running {
    /// The stdio child and its process group (none for HTTP).
    child: Option<(tokio::process::Child, Option<i32>)>,
    /// Talks to the server.
    peer: Peer<RoleClient>,
    /// Ends the MCP session.
    cancel: Option<RunningServiceCancellationToken>,
    /// The MCP session task; finishes when the connection ends.
    session: tokio::task::JoinHandle<()>,
    /// Woken by `list_changed`.
    tools_changed: Arc<Notify>,
}

impl Running {
    /// Waits until the child exits or the session ends; says which.
    async fn ended(&mut self) -> String {
        let session = &mut self.session;
        match self.child.as_mut() {
            Some((child, _)) => tokio::select! {
                status = child.wait() => format!("exited ({})", status.map_or_else(|e| e.to_string(), |s| s.to_string())),
                _ = session => "session closed".into(),
            },
            None => {
                let _ = session.await;
                "session closed".into()
            }
        }
    }

    /// Ends the session; a child's group gets SIGTERM, a grace, then SIGKILL, and is reaped.
    async fn stop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel.cancel();
        }
        let Some((child, Some(pgid))) = self.child.as_mut() else {
            return;
        };
        let pgid = Pid::from_raw(*pgid);
        let _ = killpg(pgid, Signal::SIGTERM);
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            let _ = killpg(pgid, Signal::SIGKILL);
            let _ = child.wait().await;
        }
        // Whatever else the server left in its group goes too.
        let _ = killpg(pgid, Signal::SIGKILL);
    }
}

/// Connects (a child or HTTP) and runs `initialize` within the connect timeout.
async fn start(launch: &Launch) -> Result<Running, String> {
    let settings = &launch.settings;
    let tools_changed = Arc::new(Notify::new());
    let client = Client {
        info: ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("openclaw-node-host", launch.version.clone()),
        ),
        tools_changed: tools_changed.clone(),
    };
    let timeout = settings.connect_timeout();
    let timed_out = || format!("initialize timed out after {} ms", timeout.as_millis());
    let (child, service) = match settings.transport_kind()? {
        Transport::Stdio => {
            let (mut child, pgid) = spawn(launch)?;
            let stdin = child.stdin.take().ok_or("no stdin")?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let service = match tokio::time::timeout(timeout, client.serve((stdout, stdin))).await {
                Ok(Ok(service)) => service,
                Ok(Err(e)) => {
                    kill_group(pgid);
                    return Err(format!("initialize failed: {e}"));
                }
                Err(_) => {
                    kill_group(pgid);
                    return Err(timed_out());
                }
            };
            (Some((child, pgid)), service)
        }
        Transport::StreamableHttp => {
            let transport = StreamableHttpClientTransport::from_config(http_config(settings)?);
            let service = tokio::time::timeout(timeout, client.serve(transport))
                .await
                .map_err(|_| timed_out())?
                .map_err(|e| format!("initialize failed: {e}"))?;
            (None, service)
        }
    };
    let peer = service.peer().clone();
    let cancel = service.cancellation_token();
    let session = tokio::spawn(async move {
        let _ = service.waiting().await;
    });
    Ok(Running {
        child,
        peer,
        cancel: Some(cancel),
        session,
        tools_changed,
    })
}

/// The streamable-HTTP client's config: the URL, the headers (an invalid name or value
/// is an error naming the header, never its value).
fn http_config(settings: &ServerSettings) -> Result<StreamableHttpClientTransportConfig, String> {
    let url = settings.url.as_deref().unwrap_or_default().trim();
    let mut headers = HashMap::new();
    for (name, value) in settings.headers.iter().flatten() {
        let header = http::HeaderName::try_from(name.as_str())
            .map_err(|_| format!("header {name:?} is not a valid header name"))?;
        let value = http::HeaderValue::try_from(value.as_str())
            .map_err(|_| format!("header {name:?} has a value that is not valid in HTTP"))?;
        headers.insert(header, value);
    }
    Ok(StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers))
}

/// Spawns the stdio child in its own process group; its stderr goes to the log at debug.
fn spawn(launch: &Launch) -> Result<(tokio::process::Child, Option<i32>), String> {
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
    if let Some(stderr) = child.stderr.take() {
        let launch = launch.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(server = %launch.name, "{}", launch.redact(&line));
            }
        });
    }
    Ok((child, pgid))
}

fn kill_group(pgid: Option<i32>) {
    if let Some(pgid) = pgid {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// Connects to one server, lists its tools (filtered, publishable) and disconnects: what
/// `doctor` shows. The error has its secrets removed.
pub async fn probe(
    name: &str,
    settings: &ServerSettings,
    version: &str,
) -> Result<Vec<String>, String> {
    let launch = Launch {
        name: name.to_string(),
        settings: settings.clone(),
        base_env: scrubbed(std::env::vars()),
        version: version.to_string(),
    };
    let mut running = start(&launch).await.map_err(|e| launch.redact(&e))?;
    let listed = list_tools(&running.peer, settings).await;
    running.stop().await;
    let tools = listed.map_err(|e| launch.redact(&e))?;
    Ok(tools
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .map(|n| n.trim().to_string())
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_never_get_the_gateway_credentials() {
        let vars = [
            ("PATH", "/bin"),
            ("OPENCLAW_GATEWAY_TOKEN", "t"),
            ("OPENCLAW_GATEWAY_PASSWORD", "p"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            scrubbed(vars.into_iter()),
            [("PATH".to_string(), "/bin".to_string())]
        );
    }
}
