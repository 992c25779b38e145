//! The composition root: a validated [`Config`] in, a node ready to run out. This is the
//! one place that decides how a node is put together, in this order (spec §12.1: the
//! transport rules come before any credential is touched):
//!
//! 1. [`transport_path`]: the plaintext rule for the (already normalised) gateway URL;
//! 2. [`tls_config`]: the TLS client configuration, pinned when the config has a pin;
//! 3. [`open_store`] and [`open_identity`]: the credential store and the device key in it;
//! 4. [`build_registry`]: every capability built in, behind the node-local policy; the
//!    node's [`Metrics`] count calls by the names of those capabilities' commands.
//!
//! [`Node::prepare`] runs the steps for `run`, `pair` and `demo`; `doctor` calls them one by
//! one and records a check per step; [`session_options`] turns the result into the
//! session's [`NodeOptions`]. The CLI only parses flags and prints; the session only runs
//! what it is given and reads no environment.

use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::credentials::{
    CredentialError, CredentialStore, MemoryStore, StoreChoice, load_or_create_identity,
};
use crate::identity::DeviceIdentity;
use crate::policy::CommandPolicy;
use crate::session::{NodeOptions, Registry};
use crate::status::Metrics;
use crate::transport::path::{PlaintextRefused, TransportPath, check_plaintext};

/// Why a node could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The settings do not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Plaintext `ws://` to a host where the network is not private.
    #[error(transparent)]
    Plaintext(#[from] PlaintextRefused),
    /// A TLS pin with a `ws://` URL: nothing to pin.
    #[error("gateway tls fingerprint requires a wss:// gateway url")]
    PinNeedsWss,
    /// The credential store cannot be opened, read or written.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The blocking task that reads the credential store died.
    #[error("credential store task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// Where the device key and tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreSource {
    /// The store `--credential-store` selects, in the config's state directory.
    Chosen(StoreChoice),
    /// In memory only (`run --ephemeral`, CI runners): a new device every run.
    Ephemeral,
}

/// A node ready to hand to [`crate::session::run_node`].
pub struct Node {
    /// The settings it was built from.
    pub config: Config,
    /// The network path to the gateway (shown by `status`).
    pub path: TransportPath,
    /// TLS for `wss://` (`None` = the platform's native roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Where its credentials live.
    pub store: Arc<dyn CredentialStore>,
    /// Its device key.
    pub identity: DeviceIdentity,
    /// The capabilities it serves.
    pub registry: Arc<Registry>,
    /// Its counters: calls are counted by command name for the commands built into the
    /// registry, every other name the gateway sends as one `other` (issue 17).
    pub metrics: Arc<Metrics>,
    /// Its MCP servers (also in `registry`), for `status` and the metrics.
    pub mcp: Arc<openclaw_capability_mcp::McpCapability>,
}

impl Node {
    /// Runs every step in order. `via_ssh`: the node dials the local end of an SSH tunnel
    /// it supervises, so the plaintext rule does not apply to the gateway URL.
    pub async fn prepare(
        config: Config,
        store: StoreSource,
        via_ssh: bool,
    ) -> Result<Node, NodeError> {
        let path = transport_path(&config, via_ssh)?;
        let tls = tls_config(&config)?;
        let store = open_store(&config, store)?;
        let identity = open_identity(store.clone()).await?;
        // Before any capability writes into it (approvals, browser profiles): 0700 when
        // this creates it (an ephemeral node may be the first), a warning when the user's
        // own is open to others. An ephemeral node that cannot create it goes on.
        if let Err(e) = crate::credentials::ensure_state_dir(&config.state_dir) {
            tracing::warn!(dir = %config.state_dir.display(), error = %e, "cannot create the state directory");
        }
        // This process serves calls: orphans of their commands come back to it (Linux) and
        // die with their call (`system.run`'s process tree; nothing on macOS).
        openclaw_capability_system::run::adopt_orphans();
        let mcp = Arc::new(mcp_capability(&config));
        let capabilities = capabilities(&config, Some(&identity.device_id()), mcp.clone());
        let metrics = Arc::new(Metrics::new(
            capabilities
                .iter()
                .flat_map(|c| c.handlers())
                .map(|h| h.name().to_string()),
        ));
        let registry = Arc::new(Registry::new(capabilities, &command_policy(&config)));
        Ok(Node {
            config,
            path,
            tls,
            store,
            identity,
            registry,
            metrics,
            mcp,
        })
    }

    /// The session's options for this node (with its metrics).
    pub fn session_options(&self) -> NodeOptions {
        let mut opts = session_options(&self.config, self.tls.clone());
        opts.metrics = self.metrics.clone();
        opts
    }
}

/// Step 1: the path to the gateway, refusing plaintext where the network is not private.
pub fn transport_path(config: &Config, via_ssh: bool) -> Result<TransportPath, NodeError> {
    if via_ssh {
        return Ok(TransportPath::SshTunnel);
    }
    Ok(check_plaintext(
        &config.gateway_url,
        config.allow_insecure_private_ws,
    )?)
}

/// Step 2: the TLS client configuration: pinned when the config has a pin (which needs a
/// `wss://` URL), else `None` for the native roots.
pub fn tls_config(config: &Config) -> Result<Option<Arc<rustls::ClientConfig>>, NodeError> {
    match config.tls_pin {
        None => Ok(None),
        Some(_) if config.gateway_url.scheme() != "wss" => Err(NodeError::PinNeedsWss),
        Some(pin) => Ok(Some(crate::transport::tls::pinned_client_config(pin))),
    }
}

/// Step 3a: the credential store.
pub fn open_store(
    config: &Config,
    source: StoreSource,
) -> Result<Arc<dyn CredentialStore>, NodeError> {
    Ok(match source {
        StoreSource::Ephemeral => Arc::new(MemoryStore::new()),
        StoreSource::Chosen(choice) => crate::credentials::open_store(choice, &config.state_dir)?,
    })
}

/// Step 3b: the device key in `store`, created on first use (off the async threads: a
/// keychain may block).
pub async fn open_identity(store: Arc<dyn CredentialStore>) -> Result<DeviceIdentity, NodeError> {
    Ok(tokio::task::spawn_blocking(move || load_or_create_identity(store.as_ref())).await??)
}

/// Step 4: the capability registry: every capability built in, behind the node-local
/// allowlist.
pub fn build_registry(config: &Config) -> Registry {
    let mcp = Arc::new(mcp_capability(config));
    Registry::new(capabilities(config, None, mcp), &command_policy(config))
}

/// The node-local command allowlist of a config.
fn command_policy(config: &Config) -> CommandPolicy {
    CommandPolicy::new(config.command_allow.clone(), config.command_deny.clone())
}

/// Every capability built in, configured. `node_id` (the device id) makes the `node://`
/// skill locators of `system.run` resolvable; without it (`doctor`) they stay unresolved.
fn capabilities(
    config: &Config,
    node_id: Option<&str>,
    mcp: Arc<openclaw_capability_mcp::McpCapability>,
) -> Vec<Arc<dyn openclaw_capability_api::Capability>> {
    let mut run = run_config(config);
    let skills_dir = config.skills.dir.clone().unwrap_or_default();
    if let Some(node_id) = node_id {
        run.cwd_locators = skill_locators(skills_dir.clone(), node_id.to_string());
    }
    let system = openclaw_capability_system::SystemCapability::new(run);
    let mut device = openclaw_capability_device::DeviceCapability::new(
        openclaw_capability_device::DeviceConfig {
            enabled: config.device.commands,
            state_dir: config.state_dir.clone(),
            app_version: crate::VERSION.into(),
        },
    );
    if config.device.host_stats {
        device = device.with_host_stats(openclaw_capability_device::HOST_STATS_INTERVAL);
    }
    let mut capabilities: Vec<Arc<dyn openclaw_capability_api::Capability>> =
        vec![Arc::new(system), Arc::new(device)];
    #[cfg(feature = "browser")]
    capabilities.push(Arc::new(
        openclaw_capability_browser::BrowserCapability::new(
            config.browser.clone(),
            &config.state_dir.join("browser"),
        ),
    ));
    #[cfg(feature = "screen")]
    capabilities.push(Arc::new(openclaw_capability_screen::ScreenCapability::new(
        config.screen.clone(),
    )));
    #[cfg(feature = "camera")]
    capabilities.push(Arc::new(openclaw_capability_camera::CameraCapability::new(
        config.camera.clone(),
    )));
    capabilities.push(mcp);
    capabilities.push(Arc::new(openclaw_capability_skills::SkillsCapability::new(
        &skills_dir,
        config.skills.enabled,
    )));
    capabilities
}

/// `system.run`'s `cwd` locators for this node's skills (parity §4), resolved whether or
/// not publication is on, as the reference does.
pub fn skill_locators(
    skills_dir: std::path::PathBuf,
    node_id: String,
) -> openclaw_capability_system::run::cwd::CwdLocators {
    openclaw_capability_system::run::cwd::CwdLocators::new(move |cwd| {
        Ok(openclaw_capability_skills::locator::resolve(
            cwd,
            &node_id,
            &skills_dir,
        )?)
    })
}

/// The MCP capability of a config; the policy decides whether its servers are started at
/// all (`[commands] deny`).
fn mcp_capability(config: &Config) -> openclaw_capability_mcp::McpCapability {
    let allowed =
        command_policy(config).permits(openclaw_capability_mcp::descriptors::CALL_COMMAND);
    openclaw_capability_mcp::McpCapability::new(config.mcp.clone(), crate::VERSION)
        .command_allowed(allowed)
}

/// The execution settings of `system.run` for a config.
pub fn run_config(config: &Config) -> openclaw_capability_system::run::RunConfig {
    let mut run = openclaw_capability_system::run::RunConfig::new(
        openclaw_capability_system::node_path(),
        config.state_dir.clone(),
    );
    run.security = config.exec.security;
    run.ask = config.exec.ask;
    run.strict_inline_eval = config.exec.strict_inline_eval;
    run.force_pty = config.exec.pty;
    run
}

/// The session's options for a config and its TLS configuration ([`tls_config`]): the
/// gateway, the shared credentials, what `connect` declares and the plaintext rule (host
/// stats are the device capability's, see [`build_registry`]). The caller adds what is not a setting (an SSH tunnel's local URL, one-shot
/// limits, metrics: [`Node::session_options`] adds the node's).
pub fn session_options(config: &Config, tls: Option<Arc<rustls::ClientConfig>>) -> NodeOptions {
    let mut opts = NodeOptions::new(config.gateway_url.to_string(), config.display_name.clone());
    opts.token = config.token.clone();
    opts.password = config.password.clone();
    opts.instance_id = config.instance_id.clone();
    opts.model_identifier = Some(openclaw_capability_device::model_identifier());
    opts.path_env = Some(openclaw_capability_system::node_path());
    opts.tls = tls;
    opts.allow_insecure_private_ws = config.allow_insecure_private_ws;
    opts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, RawConfig};

    fn config(text: &str, env: &[(&str, &str)]) -> Config {
        let env: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let raw: RawConfig = toml::from_str(text).unwrap();
        Config::from_raw(
            raw,
            &Overrides::default(),
            &|k| env.get(k).cloned(),
            "/nonexistent".into(),
        )
        .unwrap()
    }

    #[test]
    fn the_plaintext_rule_follows_the_config() {
        let url = "[gateway]\nurl = \"ws://gateway.internal.example:18789\"\n";
        let err = transport_path(&config(url, &[]), false).unwrap_err();
        assert!(matches!(err, NodeError::Plaintext(_)), "{err}");
        let allowed = config(url, &[("OPENCLAW_ALLOW_INSECURE_PRIVATE_WS", "1")]);
        assert_eq!(
            transport_path(&allowed, false).unwrap(),
            TransportPath::Public
        );
        assert!(session_options(&allowed, None).allow_insecure_private_ws);
        assert_eq!(
            transport_path(&config(url, &[]), true).unwrap(),
            TransportPath::SshTunnel
        );
    }

    #[test]
    fn a_pin_needs_wss() {
        let pin = "tls_fingerprint = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n";
        let ws = config(
            &format!("[gateway]\nurl = \"ws://127.0.0.1:1\"\n{pin}"),
            &[],
        );
        assert!(matches!(tls_config(&ws), Err(NodeError::PinNeedsWss)));
        let wss = config(
            &format!("[gateway]\nurl = \"wss://gw.example\"\n{pin}"),
            &[],
        );
        assert!(tls_config(&wss).unwrap().is_some());
        assert!(tls_config(&config("", &[])).unwrap().is_none());
    }

    #[test]
    fn exec_settings_reach_system_run() {
        let c = config(
            "[exec]\nsecurity = \"deny\"\nask = \"off\"\npty = true\n",
            &[],
        );
        let run = run_config(&c);
        assert_eq!(
            run.security,
            openclaw_capability_system::approvals::Security::Deny
        );
        assert_eq!(run.ask, openclaw_capability_system::approvals::Ask::Off);
        assert!(run.force_pty);
    }
}
