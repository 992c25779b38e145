//! The `openclaw-node` binary: parse the command line, set up logging, run one subcommand,
//! map the outcome to an exit code ([`openclaw_node::exit::code_for`]). Everything else
//! lives in the library.

use std::process::ExitCode;

use clap::Parser as _;
use openclaw_node::exit;

fn main() -> ExitCode {
    let cli = openclaw_node::cli::Cli::parse();
    // Logging reads RUST_LOG through the same lookup as every other setting, so an
    // `--env-file` (what launchd gives the node) counts.
    let logging = cli
        .global
        .env_lookup()
        .map_err(anyhow::Error::from)
        .and_then(|env| {
            openclaw_node::cli::init_logging_at(&cli.global, cli.command.default_log_level(), &env)
        });
    if let Err(e) = logging {
        eprintln!("openclaw-node: {e:#}");
        return ExitCode::from(exit::USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("openclaw-node: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(openclaw_node::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("openclaw-node: {e:#}");
            ExitCode::from(exit::code_for(&e))
        }
    }
}
