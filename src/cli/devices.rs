//! `openclaw-node devices` (placeholder until its owner lands it).

use std::process::ExitCode;

use super::GlobalArgs;

/// Flags of `devices`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `devices`.
pub async fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`devices` is not built yet")
}
