//! `openclaw-node run` (placeholder until its owner lands it).

use std::process::ExitCode;

use super::GlobalArgs;

/// Flags of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `run`.
pub async fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`run` is not built yet")
}
