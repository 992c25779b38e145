//! The command line: one file per subcommand, each with its `Args` and an async `run`.
//! This module owns the top-level parser, global flags, the environment lookup (process
//! environment, then `--env-file`) and logging setup. Exit codes live in [`crate::exit`];
//! the node is put together in [`crate::node`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub mod approvals;
pub mod bench;
pub mod demo;
pub mod devices;
pub mod doctor;
pub mod gateway;
pub mod identity;
pub mod nodes;
pub mod pair;
pub mod reset;
pub mod run;
pub mod service;
pub mod status;

/// A node host for the OpenClaw Gateway.
///
/// It dials a Gateway (never listens on the network), proves its identity with an Ed25519
/// device key, and serves the commands this machine allows: system.run, system.which, …
/// Start with `openclaw-node demo` to see a full round trip on this machine.
#[derive(Debug, Parser)]
#[command(name = "openclaw-node", version, about, long_about)]
pub struct Cli {
    /// Flags every subcommand accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

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
    /// Config file [default: <state dir>/config.toml].
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

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start an embedded gateway and a node on loopback, approve them, and show a real
    /// command round trip. Keeps running so you can invoke more from another terminal.
    Demo(demo::Args),
    /// Pair this node with a gateway (first run): a setup code, a join link, or a URL and
    /// the shared token; waits through both approvals and saves the gateway for `run`.
    Pair(pair::Args),
    /// Run the node: connect to the gateway and serve commands until stopped.
    Run(run::Args),
    /// Run the embedded minimal gateway (for trying the node and for tests).
    Gateway(gateway::Args),
    /// Operator: list, approve and reject device pairing requests on a gateway.
    Devices(devices::Args),
    /// Operator: list, describe, approve and invoke nodes on a gateway.
    Nodes(nodes::Args),
    /// Show this node's device id and public key.
    Identity(identity::Args),
    /// The local exec policy for system.run: show it, allow executables, set modes.
    Approvals(approvals::Args),
    /// Show what the running node is doing (state, approvals, gateway, commands, last
    /// error), or its metrics with --metrics / --prometheus.
    Status(status::Args),
    /// Check the node layer by layer (config, credentials, network path, TLS, auth,
    /// pairing, clock, capabilities, service) and say how to fix what is wrong.
    Doctor(doctor::Args),
    /// Measure the node: start-to-ready, memory, round trips, throughput, output capture
    /// (embedded gateway by default; --gateway for any gateway, e.g. the real one).
    Bench(bench::Args),
    /// Remove this node's device key and tokens (after confirmation); it will have to
    /// pair again as a new device.
    Reset(reset::Args),
    /// Install the node as a service (systemd user unit, `--system` unit, or a macOS
    /// LaunchAgent). `--dry-run` prints what would be written.
    Install(service::InstallArgs),
    /// Stop and remove the service installed by `install`.
    Uninstall(service::LifecycleArgs),
    /// Start the installed service.
    Start(service::LifecycleArgs),
    /// Stop the installed service.
    Stop(service::LifecycleArgs),
    /// Restart the installed service.
    Restart(service::LifecycleArgs),
}

impl Command {
    /// Whether this subcommand keeps running.
    pub fn is_long_running(&self) -> bool {
        matches!(self, Command::Run(_) | Command::Gateway(_))
    }

    /// The log level when no `-v` is given: `info` for long-running commands, `error` for
    /// the interactive ones that print their own progress, `warn` otherwise.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Run(_) | Command::Gateway(_) => "info",
            Command::Pair(_) | Command::Demo(_) => "error",
            _ => "warn",
        }
    }
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

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::run(args, &cli.global).await,
        Command::Pair(args) => pair::run(args, &cli.global).await,
        Command::Run(args) => run::run(args, &cli.global).await,
        Command::Gateway(args) => gateway::run(args, &cli.global).await,
        Command::Devices(args) => devices::run(args, &cli.global).await,
        Command::Nodes(args) => nodes::run(args, &cli.global).await,
        Command::Identity(args) => identity::run(args, &cli.global).await,
        Command::Approvals(args) => approvals::run(args, &cli.global).await,
        Command::Status(args) => status::run(args, &cli.global).await,
        Command::Doctor(args) => doctor::run(args, &cli.global).await,
        Command::Bench(args) => bench::run(args, &cli.global).await,
        Command::Reset(args) => reset::run(args, &cli.global).await,
        Command::Install(args) => service::install(args, &cli.global).await,
        Command::Uninstall(args) => service::uninstall(args, &cli.global).await,
        Command::Start(args) => service::lifecycle("start", args).await,
        Command::Stop(args) => service::lifecycle("stop", args).await,
        Command::Restart(args) => service::lifecycle("restart", args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_lines_parse() {
        let m = parse_env_file("# c\n\nA=1\n B = \"two words\" \nbroken line\n");
        assert_eq!(m.get("A").map(String::as_str), Some("1"));
        assert_eq!(m.get("B").map(String::as_str), Some("two words"));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
