//! `openclaw-node gateway` (placeholder until its owner lands it).

use std::process::ExitCode;

use super::GlobalArgs;

/// Flags of `gateway`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `gateway`.
pub async fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`gateway` is not built yet")
}
