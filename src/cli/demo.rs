//! `openclaw-node demo` (placeholder until its owner lands it).

use std::process::ExitCode;

use super::GlobalArgs;

/// Flags of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `demo`.
pub async fn run(_args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`demo` is not built yet")
}
