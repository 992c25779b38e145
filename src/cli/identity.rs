//! `openclaw-node identity`: prints this node's device id and public key (creating the
//! identity on first use), in text or `--json`. The private key is never printed.

use std::process::ExitCode;

use super::global::GlobalArgs;
use crate::config::{Config, Overrides};
use crate::credentials::load_or_create_identity;

/// Flags of `identity`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (`{deviceId, publicKey, store, location}`).
    #[arg(long)]
    pub json: bool,
}

/// Runs `identity`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config_file: global.config.clone(),
        state_dir: global.state_dir.clone(),
        ..Default::default()
    };
    let env = global.env_lookup()?;
    let config = Config::load(&overrides, &env)?;
    let store = global.open_store(&config.state_dir)?;
    let identity = load_or_create_identity(store.as_ref())?;
    if args.json {
        let v = serde_json::json!({
            "deviceId": identity.device_id(),
            "publicKey": identity.public_key(),
            "store": store.kind(),
            "location": store.location(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("device id:  {}", identity.device_id());
        println!("public key: {}", identity.public_key());
        println!("stored in:  {} ({})", store.location(), store.kind());
    }
    Ok(ExitCode::SUCCESS)
}
