//! Node-hosted MCP servers (issue 18; parity §3): each `[mcp.servers.<name>]` runs as a
//! supervised stdio child ([`server`]), its tools become the published catalog
//! ([`catalog`], [`descriptors`]) sent to the gateway with `node.pluginTools.update` on
//! every connection ([`publish`]), and agents call them back through `mcp.tools.call.v1`
//! ([`call`], answers bounded by [`result`]).
//!
//! The servers start with the first gateway connection (or [`McpCapability::start`]), not
//! when the node is assembled, so `doctor` and `status` start nothing; they stop with the
//! node ([`Capability::shutdown`]). The command and the cap `mcp` are advertised only when
//! at least one server is configured and enabled.

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use openclaw_capability_api::{
    BackgroundContext, BoxFuture, Capability, Handler, NODE_SECRET_ENV, erase,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub mod call;
pub mod catalog;
pub mod collate;
pub mod descriptors;
pub mod publish;
pub mod result;
pub mod server;
pub mod settings;

pub use catalog::Catalog;
pub use settings::{McpSettings, ServerSettings};

use catalog::Servers;

/// The MCP capability.
pub struct McpCapability {
    /// The `[mcp]` section.
    settings: Arc<McpSettings>,
    /// The `clientInfo.version` sent in `initialize`.
    version: String,
    /// What the servers have now, and the catalog.
    servers: Arc<Servers>,
    /// Whether the supervisors were started.
    started: Mutex<bool>,
    /// Stops the supervisors (which kill their children).
    stop: CancellationToken,
    /// The supervisors.
    tasks: TaskTracker,
}

impl McpCapability {
    /// The capability for `settings` (validated); `version` is the node's.
    pub fn new(settings: McpSettings, version: impl Into<String>) -> Self {
        let expected = settings.enabled().count();
        Self {
            settings: Arc::new(settings),
            version: version.into(),
            servers: Arc::new(Servers::new(expected)),
            started: Mutex::new(false),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// Whether any server is configured and enabled (the command is served only then).
    pub fn is_configured(&self) -> bool {
        self.settings.enabled().next().is_some()
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

    /// Follows the published catalog.
    pub fn catalog(&self) -> watch::Receiver<Arc<Catalog>> {
        self.servers.subscribe()
    }
}

/// The node's environment without its gateway credentials ([`NODE_SECRET_ENV`]): what
/// every MCP server starts from, before its own `env`.
pub fn scrubbed(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.filter(|(k, _)| !NODE_SECRET_ENV.contains(&k.as_str()))
        .collect()
}

impl Capability for McpCapability {
    fn caps(&self) -> Vec<&'static str> {
        if self.is_configured() {
            vec!["mcp"]
        } else {
            Vec::new()
        }
    }

    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        if !self.is_configured() {
            return Vec::new();
        }
        vec![erase(call::ToolsCall {
            settings: self.settings.clone(),
            servers: self.servers.clone(),
        })]
    }

    fn background(&self, ctx: BackgroundContext) -> Option<BoxFuture<()>> {
        if !self.is_configured() {
            return None;
        }
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
