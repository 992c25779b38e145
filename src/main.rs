//! The `openclaw-node` binary: parse the command line, set up logging, run one subcommand,
//! map the outcome to an exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = openclaw_node::cli::Cli::parse();
    if let Err(e) =
        openclaw_node::cli::init_logging_at(&cli.global, cli.command.default_log_level())
    {
        eprintln!("openclaw-node: {e:#}");
        return ExitCode::from(openclaw_node::cli::exit::USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("openclaw-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(openclaw_node::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("openclaw-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}
