//! Node configuration: a TOML file read into raw serde types (unknown keys refused), then
//! validated into [`Config`] with defaults filled in. Precedence is flags > environment >
//! file > defaults; the environment names are OpenClaw's (`OPENCLAW_GATEWAY_URL`,
//! `OPENCLAW_GATEWAY_TOKEN`, `OPENCLAW_GATEWAY_PASSWORD`, `OPENCLAW_GATEWAY_PORT`) plus
//! `OPENCLAW_NODE_HOME` for the state directory.
//!
//! Every value is typed here, once: the gateway URL is a normalised [`Url`], the TLS pin a
//! [`Pin`], the exec modes enums, each capability's section its settings type, and
//! `OPENCLAW_ALLOW_INSECURE_PRIVATE_WS` a flag read through the same environment lookup as
//! the rest (so an `--env-file` counts). Nothing downstream parses a setting again.
//!
//! This module decides *what* the settings are; it does not dial, sign or store anything
//! ([`crate::node`] turns a `Config` into a running node).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use openclaw_capability_system::approvals::{Ask, Security};
use url::Url;

use crate::protocol::DEFAULT_GATEWAY_PORT;
use crate::secret::Secret;
use crate::transport::tls::Pin;

/// Environment variable names.
#[allow(
    missing_docs,
    reason = "each name spells its variable, shown by rustdoc"
)]
pub mod env {
    pub const GATEWAY_URL: &str = "OPENCLAW_GATEWAY_URL";
    pub const GATEWAY_TOKEN: &str = "OPENCLAW_GATEWAY_TOKEN";
    pub const GATEWAY_PASSWORD: &str = "OPENCLAW_GATEWAY_PASSWORD";
    pub const GATEWAY_PORT: &str = "OPENCLAW_GATEWAY_PORT";
    pub const ALLOW_INSECURE_PRIVATE_WS: &str = "OPENCLAW_ALLOW_INSECURE_PRIVATE_WS";
    pub const NODE_HOME: &str = "OPENCLAW_NODE_HOME";
}

/// The config file as written (`config.toml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[gateway]`
    #[serde(default)]
    pub gateway: RawGateway,
    /// `[node]`
    #[serde(default)]
    pub node: RawNode,
    /// `[commands]`
    #[serde(default)]
    pub commands: RawCommands,
    /// `[device]`
    #[serde(default)]
    pub device: RawDevice,
    /// `[exec]`
    #[serde(default)]
    pub exec: RawExec,
    /// `[browser]` (checked against the browser capability's schema when it is built in).
    #[serde(default)]
    pub browser: toml::Table,
    /// `[screen]` (checked against the screen capability's schema when it is built in).
    #[serde(default)]
    pub screen: toml::Table,
    /// `[camera]` (checked against the camera capability's schema when it is built in).
    #[serde(default)]
    pub camera: toml::Table,
    /// `[mcp]`: node-hosted MCP servers (`[mcp.servers.<name>]`).
    #[serde(default)]
    pub mcp: toml::Table,
    /// `[skills]`: the node's skills (`enabled`, `dir`).
    #[serde(default)]
    pub skills: toml::Table,
}

/// `[exec]`: the node's own policy for `system.run` before the exec-approvals document
/// (`openclaw-node approvals`) tightens it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RawExec {
    /// `deny`, `allowlist` (default) or `full`.
    pub security: Option<String>,
    /// `off`, `on-miss` (default) or `always`.
    pub ask: Option<String>,
    /// Refuse inline programs (`python -c` …) without explicit approval.
    #[serde(default)]
    pub strict_inline_eval: bool,
    /// Run every command on a pseudo-terminal.
    #[serde(default)]
    pub pty: bool,
}

/// `[device]`: the `device.info` / `device.status` commands and host stats.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    /// Serve `device.info` and `device.status` (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Publish `node.host.stats` after each connect and every minute (default true).
    pub host_stats: Option<bool>,
}

/// `[gateway]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// `ws://` or `wss://` URL.
    pub url: Option<String>,
    /// Shared token (prefer the environment or the keychain).
    pub token: Option<Secret>,
    /// Shared password.
    pub password: Option<Secret>,
    /// SHA-256 pin of the gateway's leaf certificate.
    pub tls_fingerprint: Option<String>,
}

/// `[node]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    /// Name shown in `nodes list` (default: the host name).
    pub display_name: Option<String>,
    /// Local instance id sent as `client.instanceId`.
    pub instance_id: Option<String>,
}

/// `[commands]`: the node-local allowlist, checked before any capability.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommands {
    /// Commands this node will ever advertise and serve (default: every command built in).
    pub allow: Option<Vec<String>>,
    /// Commands never advertised or served (wins over `allow`).
    #[serde(default)]
    pub deny: Vec<String>,
}

/// Settings given on the command line; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config`
    pub config_file: Option<PathBuf>,
    /// `--state-dir`
    pub state_dir: Option<PathBuf>,
    /// `--url`
    pub url: Option<String>,
    /// `--display-name`
    pub display_name: Option<String>,
    /// `--tls-fingerprint`
    pub tls_fingerprint: Option<String>,
}

/// Validated configuration: every value typed and checked at load, so nothing downstream
/// parses again or falls back.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where state lives (credentials, approvals, status socket).
    pub state_dir: PathBuf,
    /// The gateway URL, normalised (`http(s)://` became `ws(s)://`; no credentials in it).
    pub gateway_url: Url,
    /// Shared token.
    pub token: Option<Secret>,
    /// Shared password.
    pub password: Option<Secret>,
    /// Certificate pin (`--tls-fingerprint`, `[gateway] tls_fingerprint`, a setup code).
    pub tls_pin: Option<Pin>,
    /// `OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1`: plaintext `ws://` to any DNS name.
    pub allow_insecure_private_ws: bool,
    /// Display name.
    pub display_name: String,
    /// Instance id.
    pub instance_id: Option<String>,
    /// Node-local allowlist (`None` = everything built in).
    pub command_allow: Option<Vec<String>>,
    /// Node-local denylist.
    pub command_deny: Vec<String>,
    /// `[device]`.
    pub device: DeviceSettings,
    /// `[exec]`.
    pub exec: ExecSettings,
    /// `[browser]`.
    #[cfg(feature = "browser")]
    pub browser: openclaw_capability_browser::BrowserSettings,
    /// `[screen]`.
    #[cfg(feature = "screen")]
    pub screen: openclaw_capability_screen::ScreenSettings,
    /// `[camera]`.
    #[cfg(feature = "camera")]
    pub camera: openclaw_capability_camera::CameraSettings,
    /// `[mcp]`.
    pub mcp: openclaw_capability_mcp::McpSettings,
    /// `[skills]`, its `dir` filled in (`<state dir>/skills` by default).
    pub skills: openclaw_capability_skills::SkillsSettings,
}

/// `[device]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSettings {
    /// Serve `device.info` / `device.status`.
    pub commands: bool,
    /// Publish `node.host.stats`.
    pub host_stats: bool,
}

/// `[exec]`, validated: the node's own policy for `system.run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecSettings {
    /// `security`.
    pub security: Security,
    /// `ask`.
    pub ask: Ask,
    /// `strict_inline_eval`.
    pub strict_inline_eval: bool,
    /// `pty`.
    pub pty: bool,
}

/// A configuration problem, with the file it came from when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `--env-file` cannot be read.
    #[error("cannot read --env-file {path}: {reason}")]
    EnvFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The TLS pin does not parse (the message names the pin's expected form).
    #[error("{0}")]
    Pin(String),
    /// A value is out of range.
    #[error("invalid setting {key}: {reason}")]
    Invalid {
        /// The setting.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The default state directory: `$OPENCLAW_NODE_HOME`, else the platform data directory.
pub fn default_state_dir(getenv: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(home) = getenv(env::NODE_HOME).filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    directories::ProjectDirs::from("ai", "openclaw", "openclaw-node")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".openclaw-node"))
}

/// Reads the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl RawConfig {
    /// Reads a config file; a missing file is an empty config.
    pub fn read(path: &Path) -> Result<RawConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => RawConfig::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RawConfig::default()),
            Err(e) => Err(ConfigError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Parses the text of the config file at `path`. The error says where and what, but
    /// never quotes the file: the offending line may be `token = "…"`.
    pub fn parse(text: &str, path: &Path) -> Result<RawConfig, ConfigError> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let at = e.span().map(|span| {
                let before = text.get(..span.start).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                format!("line {line}, column {column}: ")
            });
            ConfigError::Parse {
                path: path.display().to_string(),
                reason: format!("{}{}", at.unwrap_or_default(), without_values(e.message())),
            }
        })
    }
}

/// A deserialisation message without the value it quotes: serde's "invalid type: string
/// `hunter2`, expected …" names the value in backticks, and the value may be a secret.
/// Other messages (an unknown field, say) quote only names and are kept as they are.
fn without_values(message: &str) -> String {
    if !(message.starts_with("invalid type") || message.starts_with("invalid value")) {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '`' {
            quoted = !quoted;
            if !quoted {
                out.push_str("(value not shown)");
            }
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

impl Config {
    /// Loads the configuration: flags, then environment, then file, then defaults.
    pub fn load(
        overrides: &Overrides,
        getenv: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let state_dir = overrides
            .state_dir
            .clone()
            .unwrap_or_else(|| default_state_dir(getenv));
        let file = overrides
            .config_file
            .clone()
            .unwrap_or_else(|| state_dir.join("config.toml"));
        let raw = RawConfig::read(&file)?;
        Self::from_raw(raw, overrides, getenv, state_dir)
    }

    /// Validates a raw config against overrides and environment.
    pub fn from_raw(
        raw: RawConfig,
        overrides: &Overrides,
        getenv: &dyn Fn(&str) -> Option<String>,
        state_dir: PathBuf,
    ) -> Result<Config, ConfigError> {
        let env_nonempty = |name: &str| getenv(name).filter(|v| !v.trim().is_empty());
        let gateway_url = match overrides
            .url
            .clone()
            .or_else(|| env_nonempty(env::GATEWAY_URL))
            .or(raw.gateway.url)
        {
            Some(url) => url,
            None => {
                let port = match env_nonempty(env::GATEWAY_PORT) {
                    Some(p) => p.trim().parse::<u16>().map_err(|_| ConfigError::Invalid {
                        key: env::GATEWAY_PORT.into(),
                        reason: format!("{p:?} is not a port number"),
                    })?,
                    None => DEFAULT_GATEWAY_PORT,
                };
                format!("ws://127.0.0.1:{port}")
            }
        };
        let gateway_url =
            crate::transport::normalize_url(&gateway_url).map_err(|e| ConfigError::Invalid {
                key: "gateway.url".into(),
                reason: e.to_string(),
            })?;
        let tls_pin = overrides
            .tls_fingerprint
            .clone()
            .or(raw.gateway.tls_fingerprint)
            .map(|pin| crate::transport::tls::parse_pin(&pin).map_err(ConfigError::Pin))
            .transpose()?;
        let token = env_nonempty(env::GATEWAY_TOKEN)
            .map(Secret::new)
            .or(raw.gateway.token);
        let password = env_nonempty(env::GATEWAY_PASSWORD)
            .map(Secret::new)
            .or(raw.gateway.password);
        let display_name = overrides
            .display_name
            .clone()
            .or(raw.node.display_name)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(default_display_name);
        let known = |list: &[String], key: &str| -> Result<(), ConfigError> {
            match list.iter().find(|c| c.trim().is_empty()) {
                Some(_) => Err(ConfigError::Invalid {
                    key: key.into(),
                    reason: "command names cannot be empty".into(),
                }),
                None => Ok(()),
            }
        };
        let security = match raw.exec.security.as_deref() {
            None => Security::Allowlist,
            Some(text) => Security::parse(text).ok_or_else(|| ConfigError::Invalid {
                key: "exec.security".into(),
                reason: format!("{text:?} is not deny, allowlist or full"),
            })?,
        };
        let ask = match raw.exec.ask.as_deref() {
            None => Ask::OnMiss,
            Some(text) => Ask::parse(text).ok_or_else(|| ConfigError::Invalid {
                key: "exec.ask".into(),
                reason: format!("{text:?} is not off, on-miss or always"),
            })?,
        };
        if let Some(allow) = &raw.commands.allow {
            known(allow, "commands.allow")?;
        }
        known(&raw.commands.deny, "commands.deny")?;
        let skills = skills_settings(&raw.skills, &state_dir)?;
        Ok(Config {
            state_dir,
            gateway_url,
            token,
            password,
            tls_pin,
            allow_insecure_private_ws: getenv(env::ALLOW_INSECURE_PRIVATE_WS)
                .is_some_and(|v| v == "1"),
            display_name,
            instance_id: raw.node.instance_id,
            command_allow: raw.commands.allow,
            command_deny: raw.commands.deny,
            device: DeviceSettings {
                commands: raw.device.enabled,
                host_stats: raw.device.host_stats.unwrap_or(true),
            },
            exec: ExecSettings {
                security,
                ask,
                strict_inline_eval: raw.exec.strict_inline_eval,
                pty: raw.exec.pty,
            },
            #[cfg(feature = "browser")]
            browser: browser_settings(&raw.browser)?,
            #[cfg(feature = "screen")]
            screen: section(&raw.screen, "screen")?,
            #[cfg(feature = "camera")]
            camera: section(&raw.camera, "camera")?,
            mcp: mcp_settings(&raw.mcp)?,
            skills,
        })
    }
}

/// The host name, or `openclaw-node` when the OS does not say.
pub fn default_display_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "openclaw-node".into())
}

/// Parses and checks `[mcp]`.
fn mcp_settings(table: &toml::Table) -> Result<openclaw_capability_mcp::McpSettings, ConfigError> {
    // A server's `env` holds API keys: the error must not quote the value it trips on.
    let settings: openclaw_capability_mcp::McpSettings =
        section(table, "mcp").map_err(|e| match e {
            ConfigError::Invalid { key, reason } => ConfigError::Invalid {
                key,
                reason: without_values(&reason),
            },
            other => other,
        })?;
    settings
        .validate()
        .map_err(|(key, reason)| ConfigError::Invalid { key, reason })?;
    Ok(settings)
}

/// Parses `[skills]`; the directory defaults to `<state dir>/skills` (parity §4).
fn skills_settings(
    table: &toml::Table,
    state_dir: &std::path::Path,
) -> Result<openclaw_capability_skills::SkillsSettings, ConfigError> {
    let mut settings: openclaw_capability_skills::SkillsSettings = section(table, "skills")?;
    settings.dir.get_or_insert_with(|| state_dir.join("skills"));
    Ok(settings)
}

/// Parses a capability's section (`[screen]`, `[camera]`, `[mcp]`) into its settings type.
fn section<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
    key: &str,
) -> Result<T, ConfigError> {
    table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid {
            key: key.into(),
            reason: e.message().to_string(),
        })
}

/// Parses and checks `[browser]`.
#[cfg(feature = "browser")]
fn browser_settings(
    table: &toml::Table,
) -> Result<openclaw_capability_browser::BrowserSettings, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        key: "browser".into(),
        reason,
    };
    let settings: openclaw_capability_browser::BrowserSettings = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| invalid(e.message().to_string()))?;
    settings.validate().map_err(invalid)?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn load(toml_text: &str, o: &Overrides, e: &dyn Fn(&str) -> Option<String>) -> Config {
        let raw: RawConfig = toml::from_str(toml_text).unwrap();
        Config::from_raw(raw, o, e, PathBuf::from("/tmp/x")).unwrap()
    }

    fn load_err(toml_text: &str) -> ConfigError {
        let raw: RawConfig = toml::from_str(toml_text).unwrap();
        Config::from_raw(
            raw,
            &Overrides::default(),
            &env_of(&[]),
            PathBuf::from("/tmp/x"),
        )
        .unwrap_err()
    }

    #[test]
    fn skills_default_to_the_state_dir_and_unknown_keys_are_refused() {
        let c = load("", &Overrides::default(), &env_of(&[]));
        assert!(c.skills.enabled);
        assert_eq!(c.skills.dir, Some(PathBuf::from("/tmp/x/skills")));
        let c = load(
            "[skills]\nenabled = false\ndir = \"/srv/skills\"\n",
            &Overrides::default(),
            &env_of(&[]),
        );
        assert!(!c.skills.enabled);
        assert_eq!(c.skills.dir, Some(PathBuf::from("/srv/skills")));
        let err = load_err("[skills]\nwatch = true\n").to_string();
        assert!(err.starts_with("invalid setting skills:"), "{err}");
    }

    #[test]
    fn mcp_servers_are_read_checked_and_their_secrets_never_quoted() {
        let c = load(
            "[mcp.servers.fx]\ncommand = \"srv\"\nargs = [\"-v\"]\nenv = { API_KEY = \"k\" }\nexclude = [\"rm*\"]\nrequest_timeout_ms = 500\n",
            &Overrides::default(),
            &env_of(&[]),
        );
        let fx = &c.mcp.servers["fx"];
        assert_eq!(fx.command.as_deref(), Some("srv"));
        assert!(!fx.admits("rm_rf") && fx.admits("echo"));
        assert_eq!(fx.call_timeout(), std::time::Duration::from_millis(500));
        let err = load_err("[mcp.servers.fx]\ncommand = \"srv\"\nbogus = 1\n").to_string();
        assert!(
            err.starts_with("invalid setting mcp:") && err.contains("bogus"),
            "{err}"
        );
        let err = load_err("[mcp.servers.fx]\nurl = \"https://mcp.example\"\n").to_string();
        assert!(
            err.contains("mcp.servers.fx") && err.contains("not supported yet"),
            "{err}"
        );
        let err = load_err("[mcp.servers.fx]\ncommand = \"srv\"\nenv = { API_KEY = 123456789 }\n")
            .to_string();
        assert!(!err.contains("123456789"), "{err}");
        assert!(
            load("", &Overrides::default(), &env_of(&[]))
                .mcp
                .servers
                .is_empty()
        );
    }

    #[test]
    fn defaults_point_at_local_gateway() {
        let c = load("", &Overrides::default(), &env_of(&[]));
        assert_eq!(c.gateway_url.as_str(), "ws://127.0.0.1:18789/");
        assert!(c.token.is_none());
        assert!(!c.display_name.is_empty());
        let c = load(
            "",
            &Overrides::default(),
            &env_of(&[(env::GATEWAY_PORT, "2000")]),
        );
        assert_eq!(c.gateway_url.as_str(), "ws://127.0.0.1:2000/");
    }

    #[test]
    fn precedence_is_flags_env_file() {
        let file = "[gateway]\nurl = \"ws://file:1\"\ntoken = \"file-token\"\n";
        let e = env_of(&[
            (env::GATEWAY_URL, "ws://env:2"),
            (env::GATEWAY_TOKEN, "env-token"),
        ]);
        let c = load(file, &Overrides::default(), &e);
        assert_eq!(c.gateway_url.as_str(), "ws://env:2/");
        assert_eq!(c.token.unwrap().expose(), "env-token");
        let o = Overrides {
            url: Some("ws://flag:3".into()),
            ..Default::default()
        };
        assert_eq!(load(file, &o, &e).gateway_url.as_str(), "ws://flag:3/");
        let c = load(file, &Overrides::default(), &env_of(&[]));
        assert_eq!(c.gateway_url.as_str(), "ws://file:1/");
        assert_eq!(c.token.unwrap().expose(), "file-token");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<RawConfig>("[gateway]\nbogus = 1\n").is_err());
        let raw: RawConfig = toml::from_str("[gateway]\nurl = \"ftp://x\"\n").unwrap();
        let err =
            Config::from_raw(raw, &Overrides::default(), &env_of(&[]), "/x".into()).unwrap_err();
        assert!(err.to_string().contains("gateway.url"), "{err}");
        let raw = RawConfig::default();
        let err = Config::from_raw(
            raw,
            &Overrides::default(),
            &env_of(&[(env::GATEWAY_PORT, "http")]),
            "/x".into(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("OPENCLAW_GATEWAY_PORT"), "{err}");
    }

    #[test]
    fn values_are_typed_at_load() {
        let file = "[gateway]\nurl = \"https://gw.example.com\"\ntls_fingerprint = \"spki:sha256:ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\"\n[exec]\nsecurity = \"full\"\nask = \"always\"\n[device]\nenabled = true\nhost_stats = false\n";
        let c = load(file, &Overrides::default(), &env_of(&[]));
        assert_eq!(c.gateway_url.as_str(), "wss://gw.example.com/");
        assert_eq!(c.tls_pin, Some(Pin::PublicKey([0xab; 32])));
        assert_eq!(c.exec.security, Security::Full);
        assert_eq!(c.exec.ask, Ask::Always);
        assert_eq!(
            c.device,
            DeviceSettings {
                commands: true,
                host_stats: false
            }
        );
        assert!(!c.allow_insecure_private_ws);
        let c = load(
            "",
            &Overrides::default(),
            &env_of(&[(env::ALLOW_INSECURE_PRIVATE_WS, "1")]),
        );
        assert!(c.allow_insecure_private_ws);
    }

    #[test]
    fn a_bad_pin_or_exec_mode_is_refused_at_load() {
        let check = |text: &str, expect: &str| {
            let raw: RawConfig = toml::from_str(text).unwrap();
            let err = Config::from_raw(raw, &Overrides::default(), &env_of(&[]), "/x".into())
                .unwrap_err();
            assert!(err.to_string().contains(expect), "{err}");
        };
        check(
            "[gateway]\ntls_fingerprint = \"abc\"\n",
            "invalid TLS fingerprint",
        );
        check("[exec]\nsecurity = \"most\"\n", "exec.security");
        check("[exec]\nask = \"sometimes\"\n", "exec.ask");
    }

    #[test]
    fn missing_file_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let raw = RawConfig::read(&dir.path().join("none.toml")).unwrap();
        assert!(raw.gateway.url.is_none());
    }

    #[test]
    fn a_parse_error_says_where_but_never_quotes_the_line() {
        let path = Path::new("/x/config.toml");
        let err = RawConfig::parse("[gateway]\ntoken = \"very-secret\" oops\n", path).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 2, column 23"), "{text}");
        assert!(!text.contains("very-secret"), "{text}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_not_quoted_but_field_names_are() {
        let path = Path::new("/x/config.toml");
        let err = RawConfig::parse("[gateway]\ntoken = 918273645\n", path).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("918273645"), "{text}");
        assert!(text.contains("invalid type"), "{text}");
        let err = RawConfig::parse("[gateway]\nbogus_key = 1\n", path).unwrap_err();
        assert!(err.to_string().contains("bogus_key"), "{err}");
    }

    #[test]
    fn config_debug_hides_token() {
        let c = load(
            "",
            &Overrides::default(),
            &env_of(&[(env::GATEWAY_TOKEN, "very-secret")]),
        );
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
