//! The command line: one file per subcommand, each with its `Args` and an async `run`.
//! This module owns the top-level parser, global flags, the environment lookup (process
//! environment, then `--env-file`) and logging setup. Exit codes live in [`crate::exit`];
//! the node is put together in [`crate::node`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod approvals;
pub mod bench;
mod config_secrets;
pub mod demo;
pub mod devices;
pub mod doctor;
mod doctor_mcp;
pub mod gateway;
mod global;
pub mod identity;
mod json5;
pub mod mcp;
pub mod nodes;
pub mod pair;
pub mod reset;
pub mod run;
pub mod service;
pub mod status;

pub use global::{GlobalArgs, LogFormat, init_logging_at, parse_env_file};

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
    /// Node-hosted MCP servers: `mcp import` copies the reference node host's servers into
    /// this node's config.
    Mcp(mcp::Args),
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
        Command::Mcp(args) => mcp::run(args, &cli.global).await,
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
