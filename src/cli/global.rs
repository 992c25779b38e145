//! What every subcommand shares: the global flags, the environment lookup they define
//! (the process environment, then `--env-file`), and logging set up through that lookup.
//! The subcommands import these from here, never from `cli/mod.rs`.

use std::path::PathBuf;

use clap::ValueEnum;

/// Log output format.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for CI runners and log shippers).
    Json,
}

/// Flags every subcommand accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// State directory (credentials, approvals, status socket) [env: OPENCLAW_NODE_HOME].
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Config file [default: config.toml in the state directory].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Read OPENCLAW_* settings from this file (KEY=VALUE lines, e.g. the 0600 file that
    /// `install` writes) where the environment does not set them.
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Where the device key and tokens live: `auto` (the keychain if usable, else a 0600
    /// file; a node keeps the store it started with), `keychain` or `file`.
    #[arg(long, global = true, value_name = "STORE", default_value = "auto")]
    pub credential_store: crate::credentials::StoreChoice,
}

impl GlobalArgs {
    /// Opens the credential store these flags select, for the node in `state_dir`.
    pub fn open_store(
        &self,
        state_dir: &std::path::Path,
    ) -> anyhow::Result<std::sync::Arc<dyn crate::credentials::CredentialStore>> {
        Ok(crate::credentials::open_store(
            self.credential_store,
            state_dir,
        )?)
    }

    /// A lookup for settings from the environment: the process environment first, then
    /// `--env-file`.
    pub fn env_lookup(
        &self,
    ) -> Result<impl Fn(&str) -> Option<String> + use<>, crate::config::ConfigError> {
        let file = match &self.env_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    crate::config::ConfigError::EnvFile {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    }
                })?;
                parse_env_file(&text)
            }
            None => Default::default(),
        };
        Ok(move |key: &str| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| file.get(key).cloned())
        })
    }
}

/// Parses `KEY=VALUE` lines (blank lines and `#` comments ignored, optional quotes
/// around the value).
pub fn parse_env_file(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// Sets up `tracing` on stderr: `RUST_LOG` (looked up through `getenv`, so an
/// `--env-file` counts) if set and valid, else the `-v` level, else `quiet`.
///
/// Whatever `RUST_LOG` or `-vvv` ask for, the WebSocket crates never log below `debug`:
/// at `trace` tungstenite prints every frame it sends and receives, and those carry the
/// shared token and password (`connect`), the bootstrap token and the device token
/// (`hello-ok`). See the secrets audit in `tests/it/secrets.rs`.
pub fn init_logging_at(
    global: &GlobalArgs,
    quiet: &str,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = match global.verbose {
        0 => quiet,
        1 => "info,openclaw_node=debug",
        2 => "debug",
        _ => "trace",
    };
    let filter = getenv(EnvFilter::DEFAULT_ENV)
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(level));
    let no_frame_dumps = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("tungstenite", LevelFilter::DEBUG)
        .with_target("tokio_tungstenite", LevelFilter::DEBUG);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match global.log_format {
        LogFormat::Text => builder.finish().with(no_frame_dumps).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with(no_frame_dumps)
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
