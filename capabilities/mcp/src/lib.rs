//! Node-hosted MCP servers (issue 18; parity §3): each `[mcp.servers.<name>]` runs as a
//! supervised stdio child ([`server`]), its tools become the published catalog
//! ([`catalog`], [`descriptors`]) sent to the gateway with `node.pluginTools.update` on
//! every connection ([`publish`]), and agents call them back through `mcp.tools.call.v1`
//! ([`call`], answers bounded by [`result`]).
//!
//! The servers start with the first gateway connection (or [`McpCapability::start`]), not
//! when the node is assembled, so `doctor` and `status` start nothing; they stop with the
//! node ([`Capability::shutdown`]). The command and the cap `mcp` are always advertised,
//! even with no server, and the catalog is published after every hello-ok even as
//! `{tools: []}` (parity §2.5, §3.1); the node-local command policy (`[commands] deny =
//! ["mcp.*"]`) withholds the command, and then no server is started either
//! ([`McpCapability::command_allowed`]).

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use openclaw_capability_api::{BackgroundContext, BoxFuture, Capability, Handler, erase};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub mod call;
pub mod catalog;
pub mod descriptors;
pub mod publish;
pub mod redact;
pub mod result;
pub mod server;
pub mod settings;
pub mod status;

pub use catalog::Catalog;
pub use server::scrubbed;
pub use settings::{McpSettings, ServerSettings, Transport};
pub use status::{ServerState, ServerStatus};

use catalog::Servers;

/// The MCP capability.
pub struct McpCapability {
    /// The `[mcp]` section.
    settings: Arc<McpSettings>,
    /// The `clientInfo.version` sent in `initialize`.
    version: String,
    /// What the servers have now, and the catalog.
    servers: Arc<Servers>,
    /// Whether the supervisors were started (or must never be: the command is denied).
    started: Mutex<bool>,
    /// Stops the supervisors (which kill their children).
    stop: CancellationToken,
    /// The supervisors.
    tasks: TaskTracker,
}

impl McpCapability {
    /// The capability for `settings` (validated); `version` is the node's.
    pub fn new(settings: McpSettings, version: impl Into<String>) -> Self {
        Self {
            servers: Arc::new(Servers::new(&settings)),
            settings: Arc::new(settings),
            version: version.into(),
            started: Mutex::new(false),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// Whether any server is configured and enabled.
    pub fn is_configured(&self) -> bool {
        self.settings.enabled().next().is_some()
    }

    /// Tells the capability whether the node-local command policy lets
    /// `mcp.tools.call.v1` through; when it does not, no server is ever started and the
    /// catalog stays empty (the reference starts no manager in allowlist mode).
    pub fn command_allowed(self, allowed: bool) -> Self {
        if !allowed {
            *self.started.lock().unwrap_or_else(|p| p.into_inner()) = true;
            // Every server shows as disabled in `status`, and the catalog is ready, empty.
            let mut off = (*self.settings).clone();
            for server in off.servers.values_mut() {
                server.enabled = Some(false);
            }
            return Self {
                servers: Arc::new(Servers::new(&off)),
                ..self
            };
        }
        self
    }

    /// Starts the supervisors once (inside a Tokio runtime); later calls do nothing.
    pub fn start(&self) {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        if *started || self.stop.is_cancelled() {
            return;
        }
        *started = true;
        let base_env = scrubbed(std::env::vars());
        for (name, settings) in self.settings.enabled() {
            if settings.skips_oauth() {
                let why =
                    format!("node host MCP server \"{name}\" skipped: OAuth is not supported");
                tracing::warn!("{why}");
                self.servers.set_disabled(name, why);
                continue;
            }
            let launch = server::Launch {
                name: name.clone(),
                settings: settings.clone(),
                base_env: base_env.clone(),
                version: self.version.clone(),
            };
            self.tasks.spawn(server::supervise(
                launch,
                self.servers.clone(),
                self.stop.clone(),
            ));
        }
    }

    /// Every configured server as ops see it, in name order (before [`Self::start`]:
    /// `starting`, or `disabled`).
    pub fn status(&self) -> Vec<ServerStatus> {
        self.servers.status()
    }

    /// Connects to one server, lists its tools (after the filters) and disconnects: for
    /// `doctor`. The error has its secrets removed.
    pub async fn probe(
        name: &str,
        settings: &ServerSettings,
        version: &str,
    ) -> Result<Vec<String>, String> {
        server::probe(name, settings, version).await
    }

    /// Follows the published catalog.
    pub fn catalog(&self) -> watch::Receiver<Arc<Catalog>> {
        self.servers.subscribe()
    }
}

impl Capability for McpCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["mcp"]
    }

    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![erase(call::ToolsCall {
            settings: self.settings.clone(),
            servers: self.servers.clone(),
        })]
    }

    fn background(&self, ctx: BackgroundContext) -> Option<BoxFuture<()>> {
        self.start();
        Some(Box::pin(publish::run(self.servers.subscribe(), ctx)))
    }

    fn shutdown(&self) -> BoxFuture<()> {
        self.stop.cancel();
        self.tasks.close();
        let tasks = self.tasks.clone();
        Box::pin(async move { tasks.wait().await })
    }
}
