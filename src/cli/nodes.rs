//! `openclaw-node nodes` (placeholder until its owner lands it).

use std::process::ExitCode;

use super::GlobalArgs;

/// Flags of `nodes`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nodes`.
pub async fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nodes` is not built yet")
}
